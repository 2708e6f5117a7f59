//! A program started for a test and killed by PID when dropped (on failure too), and where
//! the workspace's binaries are.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// How long a program may take to say where it listens.
const STARTUP_PATIENCE: Duration = Duration::from_secs(30);

/// How long a program may take to exit after `SIGTERM`.
const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(10);

/// A program running as a child process of the test; killed with `SIGKILL` when dropped,
/// so also when the test panics.
pub struct RunningBinary {
    child: Child,
    /// What to call it in failure messages.
    name: String,
    /// Whether it leads a process group of its own, which is killed whole.
    group: bool,
    address: Option<String>,
    startup_log: Vec<String>,
}

impl RunningBinary {
    /// Starts `command` with stdin closed; stdout and stderr go where `command` says
    /// (by default to the test's).
    pub fn start(command: Command) -> Self {
        Self::spawn(command, false)
    }

    /// Starts `command` as the leader of a process group of its own, and kills the whole
    /// group: for programs that start programs of their own (chromedriver its Chromium,
    /// `cargo lambda watch` the function).
    pub fn start_group(mut command: Command) -> Self {
        command.process_group(0);
        Self::spawn(command, true)
    }

    /// Starts `command` and waits (up to 30 s) for the line of its log, on stderr, that
    /// says `listening on http://…`; [`RunningBinary::address`] is then that URL. Its
    /// stdout is discarded, and its stderr read to the end so that it never blocks on it.
    pub async fn start_listening(command: Command) -> Self {
        Self::listening(command, false).await
    }

    /// As [`RunningBinary::start_listening`], for a program (such as a shell running a
    /// script) that starts the server as a child of its own: it leads a process group,
    /// which is killed whole.
    pub async fn start_group_listening(mut command: Command) -> Self {
        command.process_group(0);
        Self::listening(command, true).await
    }

    async fn listening(mut command: Command, group: bool) -> Self {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut running = Self::spawn(command, group);
        let name = running.name.clone();
        let stderr = running.child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let mut log = Vec::new();
        let address = tokio::time::timeout(STARTUP_PATIENCE, async {
            while let Some(line) = lines.next_line().await.expect("read its stderr") {
                log.push(line.clone());
                if let Some(rest) = line.split("listening on ").nth(1) {
                    return rest.split_whitespace().next().map(str::to_owned);
                }
            }
            None
        })
        .await
        .unwrap_or_else(|_| panic!("{name} did not listen within 30 s: {log:#?}"))
        .unwrap_or_else(|| panic!("{name} exited before it listened: {log:#?}"));
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        running.address = Some(address);
        running.startup_log = log;
        running
    }

    fn spawn(mut command: Command, group: bool) -> Self {
        let name = Path::new(command.as_std().get_program())
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let child = command
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self {
            child,
            name,
            group,
            address: None,
            startup_log: Vec::new(),
        }
    }

    /// The URL it said it listens on, such as `http://127.0.0.1:PORT`.
    ///
    /// # Panics
    ///
    /// When it was not started with [`RunningBinary::start_listening`].
    pub fn address(&self) -> &str {
        self.address
            .as_deref()
            .expect("only start_listening knows where the program listens")
    }

    /// What it logged up to and including the line that says where it listens (empty
    /// unless started with [`RunningBinary::start_listening`]).
    pub fn startup_log(&self) -> &[String] {
        &self.startup_log
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("ask whether it exited")
    }

    /// Sends `SIGKILL` (to its group, if it has one) and waits for it to be gone.
    pub async fn kill_9(mut self) {
        self.kill_group();
        let name = self.name.clone();
        self.child
            .kill()
            .await
            .unwrap_or_else(|e| panic!("kill -9 {name}: {e}"));
    }

    /// Sends `SIGTERM` and waits (up to 10 s) for it to exit; returns its exit status.
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().expect("it is still running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        tokio::time::timeout(SHUTDOWN_PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit within 10 s of SIGTERM", self.name))
            .expect("wait for it")
    }

    /// Kills its process group, if it leads one and has not been reaped.
    fn kill_group(&self) {
        if let (true, Some(pid)) = (self.group, self.child.id()) {
            // A negative PID names the process group.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        self.kill_group();
        // Tokio reaps it in the background (`kill_on_drop`).
        let _ = self.child.start_kill();
    }
}

/// The workspace binary `name` (such as `tandem-api`) next to the running test binary,
/// in `target/<profile>/`: for tests of packages other than the binary's own, which
/// `CARGO_BIN_EXE_<name>` does not reach.
///
/// # Panics
///
/// When it has not been built.
pub fn workspace_binary(name: &str) -> PathBuf {
    let binary = profile_dir().join(name);
    assert!(
        binary.is_file(),
        "{} is missing: build it first (`cargo build --workspace`, or `just test`, which does)",
        binary.display()
    );
    binary
}

/// Where cargo put this workspace's outputs (`target/`, or `CARGO_TARGET_DIR`): the folder
/// above `target/<profile>/` of the running test binary.
pub fn target_dir() -> PathBuf {
    profile_dir()
        .parent()
        .expect("the profile's folder is in the target folder")
        .to_owned()
}

/// `<target>/<profile>/`, where the running test binary's `deps/` folder is.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // <target>/<profile>/deps/TEST-HASH → <target>/<profile>
    exe.ancestors()
        .nth(2)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_owned()
}

/// A command for the `tandem-api` at `binary` as a local server on a free port of
/// 127.0.0.1, logging at `info` (so that [`RunningBinary::start_listening`] sees where it
/// listens), and not under Lambda or with keys from the test's environment. Add `--store`.
pub fn tandem_api_command(binary: impl AsRef<OsStr>) -> Command {
    local_server(Command::new(binary))
}

/// As [`tandem_api_command`], pinned to one core (`taskset -c 0`, as `just bench` runs it),
/// where it serves on tokio's single-threaded scheduler.
pub fn tandem_api_command_on_one_core(binary: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("taskset");
    command.args(["-c", "0"]).arg(binary);
    local_server(command)
}

/// `command` (`tandem-api`, or what starts it) with the arguments and environment of
/// [`tandem_api_command`].
fn local_server(mut command: Command) -> Command {
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("TANDEM_API_KEYS");
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the process `pid` is alive (a zombie is not).
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| Some(stat.rsplit_once(") ")?.1.starts_with('Z')))
            .is_some_and(|zombie| !zombie)
    }

    #[tokio::test]
    async fn a_dropped_group_is_killed_whole() {
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 60 & echo $!; wait"])
            .stdout(Stdio::piped());
        let mut running = RunningBinary::start_group(command);
        let stdout = running.child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let grandchild: u32 = lines.next_line().await.unwrap().unwrap().parse().unwrap();
        assert!(alive(grandchild));

        drop(running);

        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while alive(grandchild) {
            assert!(tokio::time::Instant::now() < deadline, "sleep survived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
