//! The Lambda runtime emulator, for a function that the test starts itself:
//! `cargo lambda watch --only-lambda-apis` (installed by `just python-tools`) on a free port
//! of 127.0.0.1. It serves the Lambda runtime API that the function polls, and the function
//! URL and the invocations endpoint that the test calls. It builds nothing, so a test runs
//! the binary it already has, as Lambda runs the bootstrap of a zip.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::{RunningBinary, free_port};

/// How long the emulator may take to listen.
const STARTUP_PATIENCE: Duration = Duration::from_secs(120);

/// `cargo lambda watch --only-lambda-apis`, running; stopped when dropped.
pub struct LambdaRuntime {
    port: u16,
    _emulator: RunningBinary,
}

impl LambdaRuntime {
    /// Starts the emulator on a free port and waits until it listens.
    ///
    /// # Panics
    ///
    /// When it exits or does not listen within two minutes.
    pub async fn start() -> Self {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace");
        let port = free_port();
        let mut watch = Command::new(workspace.join("target/tools/venv/bin/cargo-lambda"));
        watch
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            // It reads the workspace's Cargo.toml, though it builds nothing.
            .current_dir(workspace)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut emulator = RunningBinary::start_group(watch);
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Some(exit) = emulator.try_wait() {
                panic!("`cargo lambda watch` exited ({exit}) before it listened");
            }
            assert!(
                started.elapsed() < STARTUP_PATIENCE,
                "`cargo lambda watch` did not listen on {port} within {STARTUP_PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            port,
            _emulator: emulator,
        }
    }

    /// The function URL: every path under it reaches the function as an HTTP request.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where an invocation's payload is posted; the answer is the function's result.
    pub fn invocations_url(&self) -> String {
        // The runtime API at `/.rt` serves the emulator's default function, `_`.
        format!("{}/2015-03-31/functions/_/invocations", self.url())
    }

    /// What the Lambda service gives every function, for one named `name` with
    /// `memory_mb` of memory: where its runtime API is, and who it is.
    pub fn function_env(&self, name: &str, memory_mb: u64) -> [(&'static str, String); 4] {
        [
            ("AWS_LAMBDA_RUNTIME_API", format!("{}/.rt", self.url())),
            ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ]
    }
}
