# Tandem's tasks. `just` alone lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Python-packaged tools (moto, cargo-lambda) live in this virtualenv.
venv := "target/tools/venv"
export PATH := justfile_directory() / venv / "bin" + ":" + env_var("PATH")

# List the recipes.
default:
    @just --list

# Serve the API and the dashboard on http://127.0.0.1:3000 with the embedded SQLite store under ./data/ (flags pass through, see --help).
run *args: web
    cargo build --release --locked -p api --bin tandem-api
    scripts/run {{ args }}

# Build the dashboard into web/dist (installs the wasm-bindgen CLI of Cargo.lock's version when missing).
web: wasm-target
    scripts/web-build

# Serve the API on a local DynamoDB stand-in (moto) instead of SQLite; the data is gone when it stops.
run-dynamo *args: python-tools
    cargo build --release --locked -p api --bin tandem-api
    scripts/with-moto bash -c 'api=$(scripts/target-dir)/release/tandem-api; "$api" create-table --store dynamodb://tandem-local && exec "$api" --store dynamodb://tandem-local "$@"' run-dynamo {{ args }}

# Run the Telegram bot against the API of `just run` (needs TELOXIDE_TOKEN from BotFather; see README).
bot *args:
    cargo run --release --locked -p bot --bin tandem-bot -- {{ args }}

# Load-test a local tandem-api on a fresh SQLite file (or `--host URL` for another deployment); Goose flags pass through.
loadtest *args:
    cargo build --release --locked -p api -p loadtest
    scripts/loadtest {{ args }}

# Measure throughput, latency, peak RSS, WAL and DB size and start-up, server and generator on separate cores, against a minimal axum app (also driven by wrk, to check the ceiling is the server's, and syncing each write to disk: the durable ceiling) and on DynamoDB (moto); writes bench/results.md.
bench: python-tools wrk-tools
    cargo build --release --locked -p api -p loadtest --bins --examples
    scripts/with-moto scripts/bench

# Run the mix against tandem-api on SQLite for SOAK_DURATION (default 10m), charting req/s, p99, WAL/DB size and RSS into bench/soak.png and bench/soak.csv; fails if the WAL passes its bound, a request fails or RSS keeps growing (tandem-api flags pass through).
soak *args:
    cargo build --release --locked -p api -p loadtest --bins
    scripts/soak {{ args }}

# Count tandem-api's instructions per request under the mix on SQLite (callgrind, file in /dev/shm): a figure that repeats on a noisy machine, to compare two versions of the code (INSTRUCTIONS_SECONDS, default 20; tandem-api flags pass through).
instructions *args: valgrind-tools
    cargo build --release --locked -p api -p loadtest --bins
    scripts/instructions {{ args }}

# Show where tandem-api's time goes under the mix on SQLite: perf samples a build with frame pointers, server and generator pinned as in `just bench`, and prints the CPU by thread and function (PROFILE_SECONDS, default 10; tandem-api flags pass through).
profile *args: perf-tools
    cargo build --release --locked -p api -p loadtest --bins
    CARGO_TARGET_DIR="$(scripts/target-dir)/frame-pointers" RUSTFLAGS="-C force-frame-pointers=yes" CFLAGS="-fno-omit-frame-pointer" cargo build --release --locked -p api --bin tandem-api
    scripts/profile {{ args }}

# (Every cargo step of `test` selects the whole workspace, so that all of them share one build:
# selecting one package or one test target resolves features anew and rebuilds a hundred crates.)

# Run every check and test: formatting, clippy, the Terraform checks (fmt, validate, checkov, schema in step with the code), unit tests, the API suite on SQLite (with a burst that must keep the WAL under its bound) and on DynamoDB (moto) with the Lambda emulator, the bot against a Telegram emulator (and its secrets from SSM on moto), the deploy rehearsal on moto (native zips; the arm64 `just lambda-build` without the release optimizer), the dashboard in headless Chromium, a short load test, clippy on the SDK and the dashboard as wasm32.
test: lint web browser-tools python-tools infra-check
    cargo build --workspace --all-targets --locked
    cargo test --workspace --locked
    TANDEM_TEST_STORE=dynamodb scripts/with-moto cargo test --workspace --locked -- --include-ignored
    PROFILE=debug scripts/loadtest -u 4 -r 4 -t 3s --report-file target/loadtest/test-report.html
    cargo clippy --locked -p sdk -p web --target wasm32-unknown-unknown -- -D warnings

# Build the arm64 Lambda bootstrap zip (target/lambda/tandem-api/bootstrap.zip) and print its size.
lambda-build: python-tools
    cargo lambda build --locked --profile lambda --arm64 --output-format zip -p api --bin tandem-api
    @ls -l "$(scripts/target-dir)/lambda/tandem-api/"
    @unzip -l "$(scripts/target-dir)/lambda/tandem-api/bootstrap.zip" | tail -n 3

# Retake the README's dashboard screenshot (docs/dashboard.png) with the browser tests' setup.
screenshot: web browser-tools
    cargo test --locked -p web --test browser -- a_token_created_in_the_dashboard
    cp target/screenshots/dashboard.png docs/dashboard.png

# Deploy to AWS: build both Lambdas (arm64) and the dashboard, terraform apply infra/, register the bot's webhook (README "Deploy to AWS"; terraform flags pass through, e.g. -auto-approve).
deploy *args: python-tools web
    scripts/deploy {{ args }}

# Rehearse `just deploy` end to end on moto (README "Deploy rehearsal"): the real arm64 zips from cargo-lambda, Terraform with the real AWS provider, the deployed bootstraps run under qemu-aarch64 and driven, then `just destroy`.
deploy-rehearsal: python-tools qemu-tools web
    cargo build --workspace --all-targets --locked
    TANDEM_REHEARSAL_ARCH=arm64 cargo test --workspace --locked --test rehearsal -- --include-ignored --nocapture

# Tear down what `just deploy` created (terraform destroy of infra/; flags pass through).
destroy *args:
    scripts/destroy {{ args }}

# Check the Terraform: terraform fmt, terraform validate (init from the provider mirror when there is one) and a checkov policy scan (installs checkov into target/tools/checkov-venv).
infra-check:
    scripts/infra-check

# Format the code.
fmt:
    cargo fmt --all

# Check formatting and run clippy with warnings as errors.
lint:
    cargo fmt --all -- --check || { echo "hint: run 'just fmt' and commit the result"; exit 1; }
    cargo clippy --locked --workspace --all-targets -- -D warnings || { echo "hint: fix the findings above ('cargo clippy --fix' applies the mechanical ones)"; exit 1; }
    RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps || { echo "hint: fix the documentation warnings above (broken or private links)"; exit 1; }

# Install moto, cargo-lambda and the AWS CLI from PyPI into target/tools/venv (does nothing when current).
python-tools:
    #!/usr/bin/env bash
    set -euo pipefail
    stamp="{{ venv }}/.installed-$(sha256sum scripts/python-tools.txt | cut -c1-16)"
    [ -f "$stamp" ] && exit 0
    python3 -m venv "{{ venv }}"
    "{{ venv }}/bin/pip" install --quiet --disable-pip-version-check -r scripts/python-tools.txt
    touch "$stamp"

# Install qemu's aarch64 user-mode emulator and the arm64 C library from Debian, to run the arm64 Lambda bootstrap here (does nothing when present).
qemu-tools:
    #!/usr/bin/env bash
    set -euo pipefail
    command -v qemu-aarch64-static >/dev/null && [ -d /usr/aarch64-linux-gnu/lib ] && exit 0
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq qemu-user-static libc6-arm64-cross

# Install Chromium and chromedriver from Debian for the browser tests (does nothing when present).
browser-tools:
    #!/usr/bin/env bash
    set -euo pipefail
    command -v chromium >/dev/null && command -v chromedriver >/dev/null && exit 0
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq chromium chromium-driver

# Install valgrind from Debian for `just instructions` (does nothing when present).
valgrind-tools:
    #!/usr/bin/env bash
    set -euo pipefail
    valgrind --version >/dev/null 2>&1 && exit 0
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq valgrind

# Install wrk from Debian for `just bench` (does nothing when present).
wrk-tools:
    #!/usr/bin/env bash
    set -euo pipefail
    command -v wrk >/dev/null 2>&1 && exit 0
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq wrk

# Install perf from Debian for `just profile` (does nothing when present).
perf-tools:
    #!/usr/bin/env bash
    set -euo pipefail
    perf --version >/dev/null 2>&1 && exit 0
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq linux-perf

# Install the wasm32 target the SDK and the dashboard build for (does nothing when present).
wasm-target:
    rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
