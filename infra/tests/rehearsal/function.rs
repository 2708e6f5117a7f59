//! A deployed function, run here as Lambda would run it: its configuration (environment,
//! memory, architecture) as the emulator holds it, its code from the zip whose SHA-256 the
//! emulator recorded, unpacked into a task folder, and its bootstrap started against the
//! Lambda runtime API that `cargo lambda watch --only-lambda-apis` serves (under
//! `qemu-aarch64` for arm64). moto stores functions but cannot invoke them; this does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use test_support::{LambdaRuntime, RunningBinary};
use tokio::process::Command;

use crate::stage::{REGION, Stage};

/// How long a function may take to answer its first request (qemu is slow to start it).
const STARTUP_PATIENCE: Duration = Duration::from_secs(120);

/// A function's configuration, as `aws lambda get-function-configuration` gives it.
pub struct Deployed {
    pub name: String,
    pub environment: BTreeMap<String, String>,
    pub memory_mb: u64,
    pub architecture: String,
    /// The base64 SHA-256 of the zip that was uploaded.
    pub code_sha256: String,
}

impl Deployed {
    /// The configuration of the function `name`.
    pub async fn read(stage: &Stage, name: &str) -> Deployed {
        let config = stage
            .aws(&[
                "lambda",
                "get-function-configuration",
                "--function-name",
                name,
            ])
            .await;
        let environment = config["Environment"]["Variables"]
            .as_object()
            .expect("the function's environment")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_owned()))
            .collect();
        Deployed {
            name: name.to_owned(),
            environment,
            memory_mb: config["MemorySize"].as_u64().expect("MemorySize"),
            architecture: config["Architectures"][0]
                .as_str()
                .expect("an architecture")
                .to_owned(),
            code_sha256: config["CodeSha256"]
                .as_str()
                .expect("CodeSha256")
                .to_owned(),
        }
    }

    /// Runs the code of `zip`, which must be the zip that was deployed, with the function's
    /// environment, what the Lambda runtime itself provides, and `overrides` (the endpoints
    /// that point at this machine instead of AWS and Telegram).
    pub async fn run(&self, stage: &Stage, zip: &Path, overrides: &[(&str, &str)]) -> Running {
        let code = std::fs::read(zip).expect("read the zip");
        let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&code));
        assert_eq!(
            sha256,
            self.code_sha256,
            "{} is not the code that {} was deployed with",
            zip.display(),
            self.name
        );
        let task_root = stage.dir.join(format!("task-{}", self.name));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(code)).expect("the zip opens");
        archive.extract(&task_root).expect("unpack the zip");

        let runtime = LambdaRuntime::start().await;

        let bootstrap = task_root.join("bootstrap");
        let mut function = match self.architecture.as_str() {
            "arm64" => {
                let mut qemu = Command::new("qemu-aarch64-static");
                qemu.args(["-L", "/usr/aarch64-linux-gnu"]).arg(&bootstrap);
                qemu
            }
            _ => Command::new(&bootstrap),
        };
        let log = stage.dir.join(format!("{}.log", self.name));
        let log_file = std::fs::File::create(&log).expect("create the function's log");
        function
            .current_dir(&task_root)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(&self.environment)
            // What the Lambda runtime gives every function: where its runtime API is, who it
            // is, where its code is, its region and its role's credentials.
            .envs(runtime.function_env(&self.name, self.memory_mb))
            .env("LAMBDA_TASK_ROOT", &task_root)
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "rehearsal")
            .env("AWS_SECRET_ACCESS_KEY", "rehearsal")
            .envs(overrides.iter().copied())
            .stdout(log_file.try_clone().expect("the log, twice"))
            .stderr(log_file);
        let function = RunningBinary::start(function);
        Running {
            url: runtime.url(),
            log,
            function,
            runtime,
        }
    }
}

/// A function running here: its URL (the emulator's function URL, which passes every path to
/// it) and its log; stopped when dropped.
pub struct Running {
    pub url: String,
    log: PathBuf,
    function: RunningBinary,
    runtime: LambdaRuntime,
}

impl Running {
    /// Where an invocation's payload is posted (for a function that is not behind a URL).
    pub fn invocations(&self) -> String {
        self.runtime.invocations_url()
    }

    /// Waits until `ready` (a request to the function) is answered with `status`.
    pub async fn wait_until_answering(
        &mut self,
        ready: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        status: u16,
    ) {
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(exit) = self.function.try_wait() {
                panic!("the function exited ({exit}); its log:\n{}", self.log());
            }
            if let Ok(response) = ready(&http).send().await
                && response.status().as_u16() == status
            {
                return;
            }
            assert!(
                started.elapsed() < STARTUP_PATIENCE,
                "the function did not answer within {STARTUP_PATIENCE:?}; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// What the function has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
