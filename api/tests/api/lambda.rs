//! The Lambda path: the same Router, this build's `tandem-api`, polling the runtime API of
//! `cargo lambda watch --only-lambda-apis` (the Lambda runtime emulator, with function URLs),
//! on DynamoDB.

use std::process::Stdio;
use std::time::{Duration, Instant};

use api::store::DynamoStore;
use serde_json::{Value, json};
use test_support::{LambdaRuntime, RunningBinary};

use crate::helpers::local_dynamodb_client;

/// The key the function is configured with.
const API_KEY: &str = "lambda-test-key-0123456789";

#[tokio::test]
#[ignore = "needs cargo-lambda and a local DynamoDB server (moto); `just test` runs it"]
async fn the_api_answers_through_the_lambda_emulator_on_dynamodb() {
    let (client, _) = local_dynamodb_client().await;
    let table = format!("tandem-lambda-{}", uuid::Uuid::new_v4().simple());
    DynamoStore::create_table(&client, &table).await.unwrap();
    // The emulator serves the Lambda runtime API; the function is this build's tandem-api,
    // which runs under `lambda_http` because AWS_LAMBDA_RUNTIME_API is set.
    let runtime = LambdaRuntime::start().await;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem-api"));
    command
        .envs(runtime.function_env("tandem-api", 256))
        .env("TANDEM_STORE", format!("dynamodb://{table}"))
        // Under Lambda the API refuses to start without keys.
        .env("TANDEM_API_KEYS", format!("lambda-test:{API_KEY}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut function = RunningBinary::start(command);
    let base = runtime.url();
    // A request the emulator never answers must fail the test, not hang it.
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {API_KEY}").parse().unwrap(),
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .default_headers(auth)
        .build()
        .unwrap();

    let started = Instant::now();
    loop {
        if let Some(status) = function.try_wait() {
            panic!("the function exited ({status}) before it answered");
        }
        match http.get(format!("{base}/healthz")).send().await {
            Ok(r) if r.status() == 200 => break,
            _ if started.elapsed() > Duration::from_secs(60) => {
                panic!("the function did not answer through the emulator within 60 s")
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    let health: Value = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({ "status": "ok", "store": "dynamodb" }));

    let anonymous = reqwest::Client::new()
        .get(format!("{base}/v1/tokens?entity=lambda-a"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "keys are required under Lambda");

    let created = http
        .post(format!("{base}/v1/tokens"))
        .json(&json!({ "entity": "lambda-a", "label": "via Lambda" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(created["entity_a"], "lambda-a");
    assert_eq!(created["label"], "via Lambda");
    assert_eq!(created["status"], "pending");

    let read = http
        .get(format!("{base}/v1/tokens/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.json::<Value>().await.unwrap(), created);

    let paired = http
        .post(format!("{base}/v1/tokens/{token}/pair"))
        .json(&json!({ "entity": "lambda-b" }))
        .send()
        .await
        .unwrap();
    assert_eq!(paired.status(), 200);
    let paired: Value = paired.json().await.unwrap();
    assert_eq!(paired["entity_b"], "lambda-b");
    assert_eq!(paired["status"], "paired");

    let listed: Value = http
        .get(format!("{base}/v1/tokens?entity=lambda-b"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([paired]));

    let deleted = http
        .delete(format!("{base}/v1/tokens/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = http
        .get(format!("{base}/v1/tokens/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let gone: Value = gone.json().await.unwrap();
    assert_eq!(gone["error"]["code"], "not_found");
}
