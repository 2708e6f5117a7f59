//! `tandem-loadtest` as a user runs it: its help and where its report goes.

use test_support::{RunningBinary, tandem_api_command, workspace_binary};

#[tokio::test]
async fn help_states_tandems_defaults_not_gooses() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem-loadtest"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);

    assert!(help.contains("--users 20"), "{help}");
    assert!(help.contains("--run-time 30s"), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_from_another_folder_it_creates_the_reports_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut api = tandem_api_command(workspace_binary("tandem-api"));
    api.arg("--store")
        .arg(format!("sqlite://{}", dir.path().join("t.db").display()));
    let api = RunningBinary::start_listening(api).await;

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem-loadtest"))
        .current_dir(dir.path())
        .args(["--host", api.address(), "-u", "2", "-r", "2", "-t", "1s"])
        .args(["--report-file", "reports/nested/report.html"])
        .output()
        .await
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("reports/nested/report.html").is_file());
    api.kill_9().await;
}
