//! `tandem-loadtest` as a user runs it: its help and where its report goes.

use test_support::{RunningBinary, tandem_api_command, workspace_binary};

/// Fails the test, showing stderr, unless the process succeeded.
fn succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

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

    succeeded(&output);
    assert!(dir.path().join("reports/nested/report.html").is_file());
    api.kill_9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_test_script_runs_the_binaries_where_cargo_target_dir_puts_them() {
    use std::os::unix::fs::PermissionsExt as _;
    let elsewhere = tempfile::tempdir().unwrap();
    let ran = elsewhere.path().join("ran.txt");
    // Stand-ins in <CARGO_TARGET_DIR>/debug/ that say they ran, then run the real binaries.
    std::fs::create_dir_all(elsewhere.path().join("debug")).unwrap();
    for (name, real) in [
        ("tandem-api", workspace_binary("tandem-api")),
        (
            "tandem-loadtest",
            env!("CARGO_BIN_EXE_tandem-loadtest").into(),
        ),
    ] {
        let stand_in = elsewhere.path().join("debug").join(name);
        std::fs::write(
            &stand_in,
            format!(
                "#!/bin/sh\necho {name} >> '{}'\nexec '{}' \"$@\"\n",
                ran.display(),
                real.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    let output = tokio::process::Command::new("scripts/loadtest")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("PROFILE", "debug")
        .env("CARGO_TARGET_DIR", elsewhere.path())
        .args(["-u", "2", "-r", "2", "-t", "1s", "--report-file"])
        .arg(elsewhere.path().join("report.html"))
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();

    succeeded(&output);
    let ran = std::fs::read_to_string(&ran).unwrap_or_default();
    assert!(ran.contains("tandem-api"), "{ran:?}");
    assert!(ran.contains("tandem-loadtest"), "{ran:?}");
}
