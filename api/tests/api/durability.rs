//! The real binary: acknowledged writes survive `kill -9`, and SIGTERM stops it cleanly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{start_binary, start_binary_on_one_core};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_token_survives_kill_9_with_full_sync() {
    every_acknowledged_token_survives_kill_9("full", Cores::All).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_token_survives_kill_9_with_normal_sync() {
    every_acknowledged_token_survives_kill_9("normal", Cores::All).await;
}

/// On one core the binary serves on tokio's single-threaded scheduler, with the SQLite
/// writer beside it as a batch thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_token_survives_kill_9_on_one_core() {
    every_acknowledged_token_survives_kill_9("full", Cores::One).await;
}

/// Where the killed server runs.
enum Cores {
    All,
    One,
}

async fn every_acknowledged_token_survives_kill_9(sync: &str, cores: Cores) {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("data/tandem.db").display());
    let flags = ["--sqlite-sync", sync];
    let server = match cores {
        Cores::All => start_binary(&store, &flags).await,
        Cores::One => start_binary_on_one_core(&store, &flags).await,
    };
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let http = reqwest::Client::new();

    // Arrange: four writers create tokens as fast as they can.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (http, address, acknowledged) = (
                http.clone(),
                server.address().to_owned(),
                acknowledged.clone(),
            );
            tokio::spawn(async move {
                for i in 0.. {
                    let response = http
                        .post(format!("{address}/v1/tokens"))
                        .json(&json!({ "entity": format!("writer-{w}-{i}") }))
                        .send()
                        .await;
                    let Ok(response) = response else { break };
                    if response.status() != 201 {
                        break;
                    }
                    let Ok(body) = response.json::<Value>().await else {
                        break;
                    };
                    let token = body["token"].as_str().unwrap().to_owned();
                    acknowledged.lock().unwrap().push(token);
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Act: kill the server mid-stream, then start it again on the same file.
    server.kill_9().await;
    for writer in writers {
        writer.await.unwrap();
    }
    let restarted = start_binary(&store, &[]).await;

    // Assert: every token that got a 201 is there.
    let tokens = acknowledged.lock().unwrap().clone();
    assert!(tokens.len() >= 200);
    for token in &tokens {
        let response = http
            .get(format!("{}/v1/tokens/{token}", restarted.address()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "token {token} was acknowledged, then lost"
        );
    }
    restarted.kill_9().await;
}

#[tokio::test]
async fn sigterm_stops_the_binary_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("tandem.db").display());
    let server = start_binary(&store, &[]).await;
    let health = reqwest::get(format!("{}/healthz", server.address()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let status = server.terminate().await;

    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn healthz_looks_at_the_database_file_and_is_503_once_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let server = start_binary(&format!("sqlite://{}", path.display()), &[]).await;
    let health = || async {
        let response = reqwest::get(format!("{}/healthz", server.address()))
            .await
            .unwrap();
        let status = response.status();
        (status, response.json::<Value>().await.unwrap())
    };
    let before = health().await;

    // The open connections would go on answering from the deleted file.
    std::fs::remove_file(&path).unwrap();
    let gone = health().await;
    // Something that is not a database in its place is no better.
    std::fs::write(&path, "not a database at all").unwrap();
    let replaced = health().await;

    assert_eq!(before.0, 200, "{}", before.1);
    assert_eq!(gone.0, 503, "{}", gone.1);
    assert_eq!(gone.1["status"], "unavailable");
    assert_eq!(replaced.0, 503, "{}", replaced.1);
    server.kill_9().await;
}

#[tokio::test]
async fn a_bad_store_url_stops_the_binary_with_a_clear_message() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem-api"))
        .args(["--listen", "127.0.0.1:0", "--store", "postgres://nowhere"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sqlite://PATH"), "{stderr}");
}
