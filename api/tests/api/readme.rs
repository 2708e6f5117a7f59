//! README.md's walkthrough of the API, taken from the README itself and run with `bash`
//! against the real binary, so that what a newcomer pastes works as it says.

use crate::helpers::start_binary;

/// The first `sh` block after `heading` in README.md.
fn shell_block_after(heading: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md reads");
    let section = &readme[readme.find(heading).expect("the heading is in README.md")..];
    let start = section.find("```sh\n").expect("a shell block follows") + "```sh\n".len();
    let end = start + section[start..].find("```").expect("the block ends");
    section[start..end].to_owned()
}

#[tokio::test]
async fn the_readmes_api_walkthrough_runs_as_pasted_and_answers_as_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_binary(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        &[],
    )
    .await;
    let block = shell_block_after("## Using the API");
    // The one change: the address, a free port here where the README says 3000.
    let script = block.replace(
        "API=http://127.0.0.1:3000",
        &format!("API={}", server.address()),
    );
    assert_ne!(
        script, block,
        "the walkthrough sets API to the default address"
    );

    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let statuses: Vec<&str> = stdout
        .lines()
        .filter(|line| line.len() == 3 && line.bytes().all(|b| b.is_ascii_digit()))
        .collect();

    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Pair, the conditional read, delete, the read after it, /healthz: as the comments say.
    assert_eq!(statuses, ["200", "304", "204", "404", "200"], "{stdout}");
    assert!(stdout.contains(r#""status":"pending""#), "{stdout}");
    assert!(stdout.contains(r#""status":"paired""#), "{stdout}");
    assert!(stdout.contains(r#"etag: "paired""#), "{stdout}");
    assert!(stdout.contains(r#""next_cursor":null"#), "{stdout}");
    server.kill_9().await;
}
