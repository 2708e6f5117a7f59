//! The webhook delivery function on DynamoDB: a pairing made through the API, read from
//! moto's DynamoDB stream, is delivered by `tandem-api` as the webhook function, polling the
//! Lambda runtime emulator's runtime API; a failed attempt comes back through
//! moto's SQS queue and is delivered on the retry.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::AppState;
use api::clock::SystemClock;
use api::domain::TenantId;
use api::store::webhooks::StoredWebhook;
use api::store::{DynamoStore, Store, WebhookStore as _};
use sdk::webhooks::{DeliveryStatus, EventType, Webhook};
use sdk::{CreateToken, EntityId};
use serde_json::{Value, json};
use test_support::webhooks::{WebhookReceiver, stream_batch};
use test_support::{ApiServer, LambdaRuntime, RunningBinary};

use crate::helpers::local_dynamodb_client;

/// The AWS CLI of the project's virtualenv, pointed at moto, answering JSON.
fn aws(args: &[&str]) -> Value {
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("moto's URL");
    let output = std::process::Command::new(format!("{workspace}/target/tools/venv/bin/aws"))
        .args(args)
        .args(["--endpoint-url", &endpoint, "--output", "json"])
        .env(
            "AWS_DEFAULT_REGION",
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        )
        .output()
        .expect("run the AWS CLI (`just python-tools` installs it)");
    assert!(
        output.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

/// Every record of the table's stream so far, as Lambda hands a batch to a function.
fn stream_so_far(stream_arn: &str) -> Value {
    let stream = aws(&[
        "dynamodbstreams",
        "describe-stream",
        "--stream-arn",
        stream_arn,
    ]);
    let mut records = Vec::new();
    for shard in stream["StreamDescription"]["Shards"].as_array().unwrap() {
        let iterator = aws(&[
            "dynamodbstreams",
            "get-shard-iterator",
            "--stream-arn",
            stream_arn,
            "--shard-id",
            shard["ShardId"].as_str().unwrap(),
            "--shard-iterator-type",
            "TRIM_HORIZON",
        ]);
        let got = aws(&[
            "dynamodbstreams",
            "get-records",
            "--shard-iterator",
            iterator["ShardIterator"].as_str().unwrap(),
        ]);
        records.extend(got["Records"].as_array().unwrap().iter().cloned());
    }
    stream_batch(&records, stream_arn)
}

/// The retry queue's messages, as Lambda hands a batch to a function.
fn queue_batch(queue_url: &str) -> Value {
    let got = aws(&[
        "sqs",
        "receive-message",
        "--queue-url",
        queue_url,
        "--max-number-of-messages",
        "10",
        "--wait-time-seconds",
        "5",
    ]);
    let records: Vec<Value> = got["Messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            json!({
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "md5OfBody": m["MD5OfBody"],
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:retries",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
#[ignore = "needs cargo-lambda and a local AWS stand-in (moto); `just test` runs it"]
async fn the_delivery_function_delivers_a_pairing_from_the_stream_and_retries_through_sqs() {
    let setup = Setup::new().await;
    setup
        .receiver
        .configure(json!({ "mode": "fail", "fail_count": 1 }))
        .await;

    // A pairing through the API on that table.
    let alice = EntityId::parse("alice").unwrap();
    let created = setup
        .sdk
        .create_token(&CreateToken::new(&alice))
        .await
        .unwrap();
    setup
        .sdk
        .pair(&created.token, &EntityId::parse("bob").unwrap())
        .await
        .unwrap();

    let function = DeliveryFunction::start(&setup.table, &setup.queue_url).await;
    let first = function.invoke(&stream_so_far(&setup.stream_arn)).await;
    assert_eq!(first["attempts"], 1, "one event for one endpoint: {first}");
    let retry = queue_batch(&setup.queue_url);
    assert_eq!(retry["Records"].as_array().unwrap().len(), 1, "{retry}");
    let second = function.invoke(&retry).await;
    assert_eq!(second["attempts"], 1, "{second}");

    let received = setup.receiver.received().await;
    assert_eq!(received.len(), 2, "{received:#?}");
    assert_eq!(
        [&received[0]["answered"], &received[1]["answered"]],
        [&json!(503), &json!(204)]
    );
    for delivery in &received {
        assert_eq!(delivery["verified_with"], 0, "{delivery:#?}");
    }
    assert_eq!(
        received[0]["headers"]["webhook-id"],
        received[1]["headers"]["webhook-id"]
    );
    let event: Value = serde_json::from_str(received[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["type"], "token.paired");
    assert_eq!(event["data"]["token"], created.token.as_str());
    assert_eq!(event["data"]["entity_b"], "bob");
    let log = setup
        .store
        .deliveries(&setup.tenant, &setup.endpoint.webhook.id, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].status, log[0].attempts),
        (DeliveryStatus::Delivered, 2)
    );
}

#[tokio::test]
#[ignore = "needs cargo-lambda and a local AWS stand-in (moto); `just test` runs it"]
async fn every_attempt_of_a_batch_is_logged_and_noted_however_many_go_to_one_endpoint() {
    const PAIRINGS: usize = 12;
    let setup = Setup::new().await;
    // Every attempt fails, so that each one also adds to the endpoint's run of failures.
    setup
        .receiver
        .configure(json!({ "mode": "fail", "fail_count": 1000 }))
        .await;
    let (alice, bob) = (
        EntityId::parse("alice").unwrap(),
        EntityId::parse("bob").unwrap(),
    );
    for _ in 0..PAIRINGS {
        let created = setup
            .sdk
            .create_token(&CreateToken::new(&alice))
            .await
            .unwrap();
        setup.sdk.pair(&created.token, &bob).await.unwrap();
    }

    // One batch: its attempts to the one endpoint run at once.
    let function = DeliveryFunction::start(&setup.table, &setup.queue_url).await;
    let answer = function.invoke(&stream_so_far(&setup.stream_arn)).await;
    assert_eq!(answer["attempts"], PAIRINGS, "{answer}");
    // Once each: a batch that failed part way would be run again (here by `invoke`, on
    // Lambda by its retry of the batch), and every attempt sent again.
    assert_eq!(setup.receiver.received().await.len(), PAIRINGS);
    let log = setup
        .store
        .deliveries(&setup.tenant, &setup.endpoint.webhook.id, 50)
        .await
        .unwrap();
    let events: std::collections::HashSet<_> = log.iter().map(|d| &d.event_id).collect();
    assert_eq!(
        (log.len(), events.len()),
        (PAIRINGS, PAIRINGS),
        "every attempt is in the log, once: {log:#?}"
    );
    for delivery in &log {
        assert_eq!(
            (delivery.status, delivery.attempts),
            (DeliveryStatus::Pending, 1),
            "{delivery:?}"
        );
    }
}

/// A table with its stream, a retry queue, one endpoint of the local tenant (every event
/// type) at a receiver that trusts its secret, and the API on the table.
struct Setup {
    receiver: WebhookReceiver,
    store: Arc<dyn Store>,
    /// The API on the table, and a client of it.
    _api: ApiServer,
    sdk: sdk::Client,
    stream_arn: String,
    queue_url: String,
    table: String,
    tenant: TenantId,
    endpoint: StoredWebhook,
}

impl Setup {
    async fn new() -> Self {
        let receiver = WebhookReceiver::start().await;
        let (client, _) = local_dynamodb_client().await;
        let table = format!("tandem-webhooks-{}", uuid::Uuid::new_v4().simple());
        DynamoStore::create_table(&client, &table).await.unwrap();
        let described = client
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .unwrap();
        let stream_arn = described.table.unwrap().latest_stream_arn.unwrap();
        let queue = aws(&[
            "sqs",
            "create-queue",
            "--queue-name",
            &format!("{table}-retries"),
        ]);
        let queue_url = queue["QueueUrl"].as_str().unwrap().to_owned();
        let store = DynamoStore::connect(client, &table).await.unwrap();
        let tenant = TenantId::local();
        let endpoint = StoredWebhook {
            webhook: Webhook {
                id: api::webhooks::new_id(),
                url: receiver.url(),
                events: EventType::SUBSCRIBABLE.to_vec(),
                description: None,
                enabled: true,
                disabled_reason: None,
                created_at: chrono::Utc::now(),
                previous_secret_until: None,
            },
            secret: api::webhooks::new_secret(),
            previous_secret: None,
        };
        store.create_webhook(&tenant, &endpoint).await.unwrap();
        receiver.trust(&endpoint.secret).await;
        let store: Arc<dyn Store> = Arc::new(store);
        let api = ApiServer::start(AppState::new(Arc::clone(&store), Arc::new(SystemClock))).await;
        Self {
            receiver,
            store,
            sdk: sdk::Client::new(&api.url),
            _api: api,
            stream_arn,
            queue_url,
            table,
            tenant,
            endpoint,
        }
    }
}

/// This build's `tandem-api` as the webhook function, polling the runtime API of the Lambda
/// runtime emulator on a free port.
struct DeliveryFunction {
    _function: RunningBinary,
    _runtime: LambdaRuntime,
    invocations: String,
    http: reqwest::Client,
}

impl DeliveryFunction {
    async fn start(table: &str, queue_url: &str) -> Self {
        let runtime = LambdaRuntime::start().await;
        let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem-api"));
        command
            .envs(runtime.function_env("tandem-webhooks", 256))
            .env("TANDEM_FUNCTION", "webhooks")
            .env("TANDEM_STORE", format!("dynamodb://{table}"))
            .env("TANDEM_WEBHOOK_QUEUE_URL", queue_url)
            .env("AWS_ENDPOINT_URL_SQS", endpoint)
            .env("TANDEM_WEBHOOK_ALLOW_HTTP_LOOPBACK", "true")
            .env("TANDEM_WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true")
            .env("TANDEM_WEBHOOK_RETRY_SECONDS", "0.2")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let function = Self {
            _function: RunningBinary::start(command),
            invocations: runtime.invocations_url(),
            _runtime: runtime,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        };
        // An empty batch, sent until the function answers (a request sent before it polls
        // is still run once it does): only then the real batches, each sent once.
        function.invoke(&json!({ "Records": [] })).await;
        function
    }

    /// Invokes the function with `payload` until it answers; its answer.
    async fn invoke(&self, payload: &Value) -> Value {
        let started = Instant::now();
        loop {
            let last = match self.http.post(&self.invocations).json(payload).send().await {
                Ok(response) if response.status().is_success() => {
                    let answer: Value = response.json().await.unwrap();
                    assert!(
                        answer.get("errorMessage").is_none(),
                        "the function failed: {answer}"
                    );
                    return answer;
                }
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the function did not answer through the emulator within 120 s: {last}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
