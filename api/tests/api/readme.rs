//! README.md's shell examples of the API, taken from the README itself and run with
//! `bash` against the real binary on a free port, so that what a newcomer pastes works as
//! the README says; the DynamoDB example on moto; the load test of another deployment
//! against a server with a key; the quick start's `just run`, as the script the recipe runs
//! once it has built. (The Lambda build's and the deployment's blocks build arm64 release
//! binaries or need AWS: the deploy rehearsal runs the script behind them.)

use std::time::Duration;

use sdk::{CreateToken, EntityId};
use serde_json::Value;
use test_support::RunningBinary;
use test_support::readme::{quick_start_run, remote_load_test_after, shell_block_after};
use test_support::webhooks::WebhookReceiver;

use crate::helpers::start_binary;

/// What running a block printed: its output, and the lines that are HTTP statuses.
struct Ran {
    stdout: String,
    statuses: Vec<String>,
}

/// Runs `script` with `bash -euo pipefail` in the workspace's folder (where a newcomer
/// pastes it), `API` set to `server`'s address and `vars` set too; fails the test if it
/// fails.
async fn run(script: &str, server: &RunningBinary, vars: &[(&str, &str)]) -> Ran {
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("API", server.address())
        .envs(vars.iter().copied())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let statuses = stdout
        .lines()
        .filter(|line| line.len() == 3 && line.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    Ran { stdout, statuses }
}

async fn server(dir: &tempfile::TempDir, flags: &[&str]) -> RunningBinary {
    start_binary(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        flags,
    )
    .await
}

#[tokio::test]
async fn the_api_walkthrough_runs_as_pasted_and_answers_as_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir, &[]).await;
    let block = shell_block_after("## Using the API");
    // It sets API itself, to `just run`'s address: here the server's free port instead.
    let script = block.replace("API=http://127.0.0.1:3000\n", "");
    assert_ne!(
        script, block,
        "the walkthrough sets API to the default address"
    );

    let ran = run(&script, &server, &[]).await;

    // Pair, the conditional read, delete, the read after it, /healthz: as the comments say.
    assert_eq!(
        ran.statuses,
        ["200", "304", "204", "404", "200"],
        "{}",
        ran.stdout
    );
    for shown in [
        r#""status":"pending""#,
        r#""status":"paired""#,
        r#"etag: "paired""#,
        r#""next_cursor":null"#,
    ] {
        assert!(ran.stdout.contains(shown), "{shown} in {}", ran.stdout);
    }
    server.kill_9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_long_poll_example_answers_with_the_pairing_as_it_happens() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir, &[]).await;
    let client = sdk::Client::new(server.address());
    let record = client
        .create_token(&CreateToken::new(&EntityId::parse("chat:1001").unwrap()))
        .await
        .unwrap();
    let pairer = {
        let (client, token) = (client.clone(), record.token.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            client
                .pair(&token, &EntityId::parse("chat:2002").unwrap())
                .await
                .unwrap();
        })
    };

    let block = shell_block_after("### Waiting for the pairing");
    let ran = run(&block, &server, &[("TOKEN", record.token.as_str())]).await;
    pairer.await.unwrap();

    assert_eq!(ran.statuses, ["200"], "{}", ran.stdout);
    assert!(
        ran.stdout.contains(r#""entity_b":"chat:2002""#),
        "{}",
        ran.stdout
    );
    server.kill_9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_examples_manage_an_endpoint_and_its_test_event_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start().await;
    let allow_local = [
        "--webhook-allow-http-loopback",
        "--webhook-allow-private-addresses",
    ];
    let server = server(&dir, &allow_local).await;
    let block = shell_block_after("### Webhooks");
    // The one change: the endpoint, a receiver on this machine instead of example.com.
    let script = block.replace("https://example.com/hooks/tandem", &receiver.url());
    assert_ne!(script, block, "the example registers example.com");

    let ran = run(&script, &server, &[]).await;
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;

    // The test event, then the deletion.
    assert_eq!(ran.statuses, ["202", "204"], "{}", ran.stdout);
    assert_eq!(
        ran.stdout.matches("whsec_").count(),
        2,
        "create and rotate: {}",
        ran.stdout
    );
    assert_eq!(received.len(), 1, "{received:#?}");
    let event: Value = serde_json::from_str(received[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["type"], "webhook.test");
    server.kill_9().await;
}

#[tokio::test]
async fn the_original_projects_routes_run_as_shown() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir, &[]).await;
    let block = shell_block_after("### The original project's routes");

    let ran = run(&block, &server, &[]).await;
    let records: Vec<Value> = ran
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();

    // Read, paired, deleted: each answers the record as it is then.
    let statuses: Vec<&str> = records
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending", "paired", "paired"], "{}", ran.stdout);
    assert_eq!(records[1]["entity_b"], "chat-2");
    assert_eq!(
        reqwest::get(format!(
            "{}/v1/tokens/{}",
            server.address(),
            records[0]["token"].as_str().unwrap()
        ))
        .await
        .unwrap()
        .status(),
        404
    );
    server.kill_9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_test_line_loads_another_deployment_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = "readme-load-test-key-0123456789";
    // With the per-key rate limit lifted for the run, as the README says.
    let keys = format!("readme:{key}");
    let server = server(&dir, &["--api-keys", &keys, "--rate-limit", "0"]).await;
    let report = dir.path().join("report.html");
    // `PROFILE=debug`: the build `just test` made stands in for the recipe's release build.
    let script = remote_load_test_after("## Load test and benchmarks");

    let ran = run(
        &script,
        &server,
        &[
            ("PROFILE", "debug"),
            ("TANDEM_KEY", key),
            ("REPORT", report.to_str().unwrap()),
        ],
    )
    .await;

    assert!(
        report.is_file(),
        "no report at {}: {}",
        report.display(),
        ran.stdout
    );
    // The load went to the key's tenant: the pairings it made are counted there.
    let stats = sdk::Client::new(server.address())
        .with_api_key(key)
        .stats()
        .await
        .unwrap();
    assert!(stats.paired > 0, "{stats:?}");
    server.kill_9().await;
}

#[tokio::test]
async fn the_quick_starts_run_serves_the_api_and_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tandem.db");
    let workspace = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut bash = tokio::process::Command::new("bash");
    // The changes: the debug build `just test` made for the recipe's release build, a free
    // port for 3000 and a file of this test for ./data/tandem.db (the defaults themselves
    // are checked in `config`'s tests).
    bash.args(["-euo", "pipefail", "-c", &quick_start_run()])
        .current_dir(workspace)
        .env("PROFILE", "debug")
        .env("TANDEM_LISTEN", "127.0.0.1:0")
        .env("TANDEM_STORE", format!("sqlite://{}", db.display()))
        .env("RUST_LOG", "info")
        .env_remove("TANDEM_API_KEYS")
        .env_remove("TANDEM_DASHBOARD_DIR")
        .env_remove("AWS_LAMBDA_RUNTIME_API");

    // The script execs the server in its process group: it goes when the test ends.
    let server = RunningBinary::start_group_listening(bash).await;

    let http = reqwest::Client::new();
    let page = http.get(server.address()).send().await.unwrap();
    let status = page.status();
    let page = page.text().await.unwrap();
    // `just run` builds web/dist first, as `just test` does; a bare `cargo test` may run
    // without it, and then `/` says how to build it.
    match std::fs::read_to_string(workspace.join("web/dist/index.html")) {
        Ok(built) => assert_eq!((status.as_u16(), page), (200, built), "/ is the dashboard"),
        Err(_) => assert!(
            status == 404 && page.contains("just web"),
            "{status} {page}"
        ),
    }
    let client = sdk::Client::new(server.address());
    let record = client
        .create_token(&CreateToken::new(&EntityId::parse("chat:1001").unwrap()))
        .await
        .unwrap();
    assert_eq!(
        client.get_token(&record.token).await.unwrap().token,
        record.token
    );
    assert!(db.is_file(), "the records are in {}", db.display());
    server.kill_9().await;
}

#[tokio::test]
#[ignore = "needs a local DynamoDB server (moto); `just test` runs it"]
async fn the_dynamodb_example_creates_the_table_and_serves_on_it() {
    let block = shell_block_after("## Run on DynamoDB / Lambda");
    // The one change: a fresh table of this run instead of `tandem`.
    let table = format!("tandem-readme-{}", uuid::Uuid::new_v4().simple());
    let script = block.replace("dynamodb://tandem ", &format!("dynamodb://{table} "));
    assert_eq!(
        script.matches(&table).count(),
        2,
        "the example creates the table and serves on it: {block}"
    );
    // `tandem-api` as a user has it on PATH: the one cargo built. The endpoint and the
    // credentials come from moto's environment, as the example says.
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_tandem-api"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bash = tokio::process::Command::new("bash");
    bash.args(["-euo", "pipefail", "-c", &script])
        .env("PATH", path)
        .env("TANDEM_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env_remove("TANDEM_STORE")
        .env_remove("TANDEM_API_KEYS")
        .env_remove("AWS_LAMBDA_RUNTIME_API");

    // The shell runs the server as its child: both go when the test ends.
    let server = RunningBinary::start_group_listening(bash).await;

    let (dynamodb, _) = crate::helpers::local_dynamodb_client().await;
    let described = dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the example created the table");
    let indexes: Vec<&str> = described
        .table()
        .and_then(|t| t.global_secondary_indexes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|index| index.index_name())
        .collect();
    assert_eq!(indexes, ["by_entity_a", "by_entity_b"], "{described:?}");
    let client = sdk::Client::new(server.address());
    let record = client
        .create_token(&CreateToken::new(&EntityId::parse("chat:1001").unwrap()))
        .await
        .unwrap();
    let paired = client
        .pair(&record.token, &EntityId::parse("chat:2002").unwrap())
        .await
        .unwrap();
    assert_eq!(paired.entity_b.unwrap().as_str(), "chat:2002");
    let items = dynamodb.scan().table_name(&table).send().await.unwrap();
    assert!(
        items.count() >= 1,
        "the server wrote to the example's table: {items:?}"
    );
    server.kill_9().await;
}
