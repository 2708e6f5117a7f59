//! `just web` as a developer runs it with `CARGO_TARGET_DIR` set (as many set one
//! globally): the recipe finds the wasm where cargo put it, not under `target/`.
//!
//! It runs in a copy of the workspace's sources that has no `target/` at all, so that a
//! hard-coded `target/` path fails; `CARGO_TARGET_DIR` names a copy of the dashboard's
//! build (which `just test` has made by then), so that cargo finds it fresh instead of
//! building it again.

use std::path::Path;
use std::process::Command;

/// Runs `script` with `bash -euo pipefail`; fails the test, showing its output, if it fails.
fn sh(script: &str, dir: &Path, env: &[(&str, &Path)]) -> String {
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env_remove("TANDEM_DASHBOARD_DIR")
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn just_web_builds_the_dashboard_where_cargo_target_dir_puts_it() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target = test_support::target_dir();
    let profile = "wasm32-unknown-unknown/wasm-release";
    assert!(
        target.join(profile).join("web.wasm").is_file(),
        "no dashboard build in {}: run `just web` first (`just test` does)",
        target.display()
    );
    let sources = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    sh(
        "tar --exclude=./target --exclude=./.git --exclude=./web/dist --exclude=./data -cf - . \
           | tar -xf - -C \"$SOURCES\"",
        workspace,
        &[("SOURCES", sources.path())],
    );
    // The wasm build and its host-side build scripts, as cargo laid them out.
    sh(
        "mkdir -p \"$ELSEWHERE/wasm32-unknown-unknown\"
         cp -a --reflink=auto wasm32-unknown-unknown/wasm-release \"$ELSEWHERE/wasm32-unknown-unknown/\"
         if [ -d wasm-release ]; then cp -a --reflink=auto wasm-release \"$ELSEWHERE/\"; fi",
        &target,
        &[("ELSEWHERE", elsewhere.path())],
    );

    let said = sh(
        "just web",
        sources.path(),
        &[("CARGO_TARGET_DIR", elsewhere.path())],
    );

    assert!(said.contains("web-build: dashboard in web/dist"), "{said}");
    let dist = sources.path().join("web/dist");
    for file in ["index.html", "assets/web_bg.wasm", "assets/web.js"] {
        assert!(dist.join(file).is_file(), "{file} in {}", dist.display());
    }
    assert!(
        !sources.path().join("target").exists(),
        "nothing went to target/ with CARGO_TARGET_DIR set"
    );
}
