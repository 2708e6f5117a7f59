//! The stage a rehearsal plays on: its folder under `target/rehearsal/`, a fresh moto server
//! standing in for AWS, the Telegram emulator, and the environment the scripts get.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Instant;

use serde_json::Value;
use test_support::RunningBinary;
use test_support::telegram::Telegram;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The deployment's name (`TANDEM_DEPLOY_NAME`).
pub const NAME: &str = "rehearsal";

/// The region deployed to: the one README.md's deploy block exports.
pub const REGION: &str = "eu-west-1";

/// What the Lambdas are built for, and how they run here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Zips of the native debug build, run as they are (`just test`).
    Native,
    /// cargo-lambda's arm64 build, run under `qemu-aarch64` (`just deploy-rehearsal`).
    Arm64,
}

impl Arch {
    /// `TANDEM_REHEARSAL_ARCH`: `arm64`, or native when unset.
    pub fn from_env() -> Self {
        match std::env::var("TANDEM_REHEARSAL_ARCH").as_deref() {
            Ok("arm64") => Arch::Arm64,
            Ok("native") | Err(_) => Arch::Native,
            Ok(other) => panic!("TANDEM_REHEARSAL_ARCH must be arm64 or native, not {other:?}"),
        }
    }

    /// The architecture the functions are declared with (`TANDEM_LAMBDA_ARCH`).
    pub fn lambda(self) -> &'static str {
        match self {
            Arch::Native => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// Everything a rehearsal runs against; moto and the emulator stop when it is dropped.
pub struct Stage {
    pub arch: Arch,
    /// The workspace.
    pub root: PathBuf,
    /// `target/rehearsal/<arch>/`: the module copy and its state, zips, logs.
    pub dir: PathBuf,
    pub moto_url: String,
    pub telegram: Telegram,
    /// The keys the API is deployed with (`TANDEM_API_KEYS`, `tenant:key`): one made here
    /// for the refusals before the first deploy, then the one README.md's deploy block made.
    pub api_keys: String,
    /// The bot's token from "BotFather".
    pub bot_token: String,
    /// The zips deployed instead of cargo-lambda's, for the native build.
    pub prebuilt: Option<(PathBuf, PathBuf)>,
    _moto: RunningBinary,
}

impl Stage {
    /// A fresh folder, a fresh moto, a fresh emulator; infra/ copied in, so that its state
    /// and `.terraform` stay under `target/`.
    pub async fn set_up(arch: Arch) -> Stage {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace")
            .to_owned();
        let dir = root.join("target/rehearsal").join(arch.lambda());
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove the last rehearsal");
        }
        std::fs::create_dir_all(dir.join("infra")).expect("create the rehearsal's folder");
        for entry in std::fs::read_dir(root.join("infra")).expect("read infra/") {
            let path = entry.expect("an entry of infra/").path();
            if path.extension().is_some_and(|ext| ext == "tf") {
                let copy = dir
                    .join("infra")
                    .join(path.file_name().expect("a file name"));
                std::fs::copy(&path, copy).expect("copy a .tf file");
            }
        }
        let mut moto = Command::new(root.join("target/tools/venv/bin/python"));
        moto.arg(root.join("scripts/moto_server.py"));
        let moto = RunningBinary::start_listening(moto).await;
        let prebuilt = (arch == Arch::Native).then(|| crate::zips::native(&root, &dir));
        Stage {
            arch,
            moto_url: moto.address().to_owned(),
            telegram: Telegram::start().await,
            api_keys: format!("rehearsal:rehearsal-{}", uuid::Uuid::new_v4().simple()),
            bot_token: format!("123456789:{}", uuid::Uuid::new_v4().simple()),
            prebuilt,
            root,
            dir,
            _moto: moto,
        }
    }

    /// The key of [`Self::api_keys`].
    pub fn api_key(&self) -> &str {
        let (_tenant, key) = self.api_keys.split_once(':').expect("tenant:key");
        key
    }

    /// The environment of a user about to deploy: credentials and the endpoint of the
    /// emulator (and never a profile of the machine's), the deployment's keys and bot token,
    /// and Telegram at the emulator.
    pub fn user_env(&self) -> BTreeMap<String, String> {
        let venv_bin = self.root.join("target/tools/venv/bin");
        let path = format!(
            "{}:{}",
            venv_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let nowhere = self.dir.join("no-aws-config").display().to_string();
        let mut env: BTreeMap<String, String> = [
            ("PATH", path.as_str()),
            ("AWS_ENDPOINT_URL", &self.moto_url),
            ("AWS_ACCESS_KEY_ID", "rehearsal"),
            ("AWS_SECRET_ACCESS_KEY", "rehearsal"),
            ("AWS_REGION", REGION),
            ("AWS_CONFIG_FILE", &nowhere),
            ("AWS_SHARED_CREDENTIALS_FILE", &nowhere),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("TANDEM_DEPLOY_NAME", NAME),
            ("TANDEM_API_KEYS", &self.api_keys),
            ("TELOXIDE_TOKEN", &self.bot_token),
            ("TELEGRAM_API_URL", &self.telegram.api_url()),
            (
                "TANDEM_INFRA_DIR",
                &self.dir.join("infra").display().to_string(),
            ),
            ("TANDEM_LAMBDA_ARCH", self.arch.lambda()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if let Some((api_zip, bot_zip)) = &self.prebuilt {
            env.insert("TANDEM_API_ZIP".into(), api_zip.display().to_string());
            env.insert("TANDEM_BOT_ZIP".into(), bot_zip.display().to_string());
        }
        env
    }

    /// Runs `scripts/<script> args` with `env` (only: nothing of the test's own AWS, Tandem,
    /// Telegram or Terraform settings gets through), logging to `<dir>/<step>.log`.
    pub async fn script(
        &self,
        step: &str,
        script: &str,
        args: &[&str],
        env: &BTreeMap<String, String>,
    ) -> Run {
        let mut command = Command::new(self.root.join("scripts").join(script));
        command.args(args);
        let what = format!("{script} {}", args.join(" "));
        self.run(step, &what, command, env, "").await
    }

    /// Runs the shell `line` with `bash -euo pipefail`, as [`Self::script`] runs a script.
    pub async fn shell(&self, step: &str, line: &str, env: &BTreeMap<String, String>) -> Run {
        self.shell_answering(step, line, env, "").await
    }

    /// [`Self::shell`] with `answer` on its standard input, as a user types it when asked.
    pub async fn shell_answering(
        &self,
        step: &str,
        line: &str,
        env: &BTreeMap<String, String>,
        answer: &str,
    ) -> Run {
        let mut command = Command::new("bash");
        command.args(["-euo", "pipefail", "-c", line]);
        self.run(step, line, command, env, answer).await
    }

    /// Runs `command` in the workspace's folder with `env` only (see [`Self::script`]), with
    /// `answer` on its standard input.
    async fn run(
        &self,
        step: &str,
        what: &str,
        mut command: Command,
        env: &BTreeMap<String, String>,
        answer: &str,
    ) -> Run {
        command.current_dir(&self.root);
        for (name, _) in std::env::vars() {
            let foreign = ["AWS_", "TANDEM_", "TELOXIDE_", "TELEGRAM_", "TF_"]
                .iter()
                .any(|prefix| name.starts_with(prefix));
            if foreign {
                command.env_remove(name);
            }
        }
        command.envs(env);
        let started = Instant::now();
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("run a script");
        let mut stdin = child.stdin.take().expect("the script's stdin");
        // A script that never reads its input closes the pipe: that is not a failure.
        let _ = stdin.write_all(answer.as_bytes()).await;
        drop(stdin);
        let output = child.wait_with_output().await.expect("wait for a script");
        let run = Run::new(step, output);
        std::fs::write(self.dir.join(format!("{step}.log")), run.log()).expect("write a log");
        eprintln!(
            "rehearsal: {step}: {what} exited with {} after {:.1} s",
            run.code,
            started.elapsed().as_secs_f64()
        );
        run
    }

    /// `aws ARGS --output json` against the emulator, as the user.
    pub async fn aws(&self, args: &[&str]) -> Value {
        let output = Command::new(self.root.join("target/tools/venv/bin/aws"))
            .args(args)
            .args(["--output", "json"])
            .env_clear()
            .envs(self.user_env())
            .env("AWS_DEFAULT_REGION", REGION)
            .output()
            .await
            .expect("run the AWS CLI");
        assert!(
            output.status.success(),
            "aws {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.stdout.iter().all(u8::is_ascii_whitespace) {
            return Value::Null;
        }
        serde_json::from_slice(&output.stdout).expect("the AWS CLI's JSON")
    }

    /// The value of the SecureString parameter `name`.
    pub async fn parameter(&self, name: &str) -> String {
        let answer = self
            .aws(&["ssm", "get-parameter", "--with-decryption", "--name", name])
            .await;
        answer["Parameter"]["Value"]
            .as_str()
            .expect("a parameter's value")
            .to_owned()
    }

    /// The output `name` of the deployment's Terraform state.
    pub async fn output(&self, name: &str) -> String {
        let output = Command::new("terraform")
            .arg(format!("-chdir={}", self.dir.join("infra").display()))
            .args(["output", "-raw", name])
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .output()
            .await
            .expect("run terraform output");
        assert!(output.status.success(), "terraform output {name} failed");
        String::from_utf8(output.stdout).expect("an output in UTF-8")
    }
}

/// How a script ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    step: String,
}

impl Run {
    fn new(step: &str, output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            step: step.to_owned(),
        }
    }

    fn log(&self) -> String {
        format!(
            "exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Panics, with the end of the log, unless it exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        if self.code != code {
            let log = self.log();
            let tail: String = log
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            panic!(
                "{}: expected exit code {code}, got {}; the end of its log:\n{tail}",
                self.step, self.code
            );
        }
        self
    }

    /// Panics unless it failed with `hint` as its last line on stderr.
    pub fn expect_refusal(&self, hint: &str) {
        assert_ne!(self.code, 0, "{}: it should have stopped", self.step);
        let last = self.stderr.lines().last().unwrap_or_default();
        assert!(
            last.contains(hint),
            "{}: the last line should say {hint:?}; stderr was:\n{}",
            self.step,
            self.stderr
        );
    }
}
