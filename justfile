# Tandem's tasks. `just` alone lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Serve the API on 127.0.0.1:3000 with the embedded SQLite store under ./data/ (flags pass through, see --help).
run *args:
    cargo run --release --locked -p api --bin tandem-api -- {{ args }}

# Run every check and test: formatting, clippy, unit and black-box API tests, the SDK's wasm32 build.
test: lint wasm-target
    cargo test --workspace --locked
    cargo check --locked -p sdk --target wasm32-unknown-unknown

# Format the code.
fmt:
    cargo fmt --all

# Check formatting and run clippy with warnings as errors.
lint:
    cargo fmt --all -- --check || { echo "hint: run 'just fmt' and commit the result"; exit 1; }
    cargo clippy --locked --workspace --all-targets -- -D warnings || { echo "hint: fix the findings above ('cargo clippy --fix' applies the mechanical ones)"; exit 1; }

# Install the wasm32 target the SDK and the dashboard build for (does nothing when present).
wasm-target:
    rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
