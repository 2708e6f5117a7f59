//! The deployed webhook delivery function: the stream record of a pairing made through the
//! deployed API goes to the function, run from its zip with its environment, which delivers it
//! signed to a receiver that verifies with `standardwebhooks`.

use std::time::{Duration, Instant};

use sdk::webhooks::CreateWebhook;
use sdk::{CreateToken, EntityId};
use serde_json::{Value, json};
use test_support::webhooks::{WebhookReceiver, stream_batch};

use crate::function::Deployed;
use crate::stage::{NAME, Stage};

/// How long the function may take to answer its first batch (qemu is slow to start it).
const PATIENCE: Duration = Duration::from_secs(120);

/// The stream record of `token`'s pairing, as Lambda hands it to the function: the item
/// as it is in the table (the new image), and as it was before entity B came (the old).
async fn pairing_record(stage: &Stage, token: &str) -> Value {
    let table = stage
        .aws(&["dynamodb", "describe-table", "--table-name", NAME])
        .await;
    let arn = table["Table"]["LatestStreamArn"]
        .as_str()
        .expect("the table streams");
    let key = json!({ "token": { "S": token } }).to_string();
    let item = stage
        .aws(&["dynamodb", "get-item", "--table-name", NAME, "--key", &key])
        .await;
    let new = item["Item"].clone();
    let mut old = new.clone();
    for attribute in ["entity_b", "paired_at", "entity_b_shard", "entity_b_sort"] {
        old.as_object_mut().unwrap().remove(attribute);
    }
    let record = json!({
        "eventID": format!("rehearsal-{token}"),
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": crate::stage::REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": "2026-01-01T00:00:00Z",
            "Keys": { "token": { "S": token } },
            "NewImage": new,
            "OldImage": old,
            "SequenceNumber": "1",
            "SizeBytes": 1,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    });
    stream_batch(&[record], arn)
}

/// A pairing through the API at `api_url` is delivered by the deployed webhook function.
pub async fn the_webhook_function_delivers_a_pairing(stage: &Stage, api_url: &str) {
    let name = format!("{NAME}-webhooks");
    // The deploy maps the table's stream and the retry queue to the function. moto hands a
    // mapped function the stream's records by running it in Docker, which this machine lacks
    // (and then drops them), so the rehearsal invokes the function itself with the record of
    // a pairing, as Lambda's poller would.
    let all = stage.aws(&["lambda", "list-event-source-mappings"]).await;
    let function = format!(":function:{name}");
    let mappings: Vec<Value> = all["EventSourceMappings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["FunctionArn"]
                .as_str()
                .is_some_and(|f| f.contains(&function))
        })
        .cloned()
        .collect();
    let source = |m: &Value| m["EventSourceArn"].as_str().unwrap_or("").to_owned();
    assert!(
        mappings.iter().any(|m| source(m).contains("/stream/")),
        "the table's stream is mapped to {name}: {all:#?}"
    );
    assert!(
        mappings
            .iter()
            .any(|m| source(m).ends_with("webhook-retries")),
        "the retry queue is mapped to the function: {mappings:#?}"
    );
    let receiver = WebhookReceiver::start().await;
    let client = sdk::Client::new(api_url).with_api_key(stage.api_key());
    // By name: an address literal of loopback is refused when it is registered.
    let url = receiver.url().replace("127.0.0.1", "localhost");
    let endpoint = client
        .create_webhook(&CreateWebhook::new(url))
        .await
        .expect("register the receiver");
    receiver.trust(&endpoint.secret).await;
    let created = client
        .create_token(&CreateToken::new(&EntityId::parse("user:carol").unwrap()))
        .await
        .expect("create a token");
    client
        .pair(&created.token, &EntityId::parse("user:dave").unwrap())
        .await
        .expect("pair it");
    let batch = pairing_record(stage, created.token.as_str()).await;

    let deployed = Deployed::read(stage, &name).await;
    assert_eq!(deployed.environment["TANDEM_FUNCTION"], "webhooks");
    assert!(deployed.environment["TANDEM_WEBHOOK_QUEUE_URL"].contains("webhook-retries"));
    let zip = crate::deployed_zip(stage, "tandem-api");
    // The receiver listens on this machine's loopback, which deliveries may not reach by
    // default.
    let function = deployed
        .run(
            stage,
            &zip,
            &[
                ("AWS_ENDPOINT_URL", &stage.moto_url),
                ("TANDEM_WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true"),
            ],
        )
        .await;
    let invocations = function.invocations();
    let http = reqwest::Client::new();
    let started = Instant::now();
    // An empty batch until the function answers, then the stream's batch once.
    loop {
        let answer = http
            .post(&invocations)
            .json(&json!({ "Records": [] }))
            .send()
            .await;
        if answer.is_ok_and(|a| a.status().is_success()) {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the webhook function did not answer within {PATIENCE:?}; its log:\n{}",
            function.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let answer: Value = http
        .post(&invocations)
        .json(&batch)
        .send()
        .await
        .expect("invoke the webhook function")
        .json()
        .await
        .expect("its JSON answer");

    assert_eq!(
        answer["attempts"],
        1,
        "{answer}; its log:\n{}",
        function.log()
    );
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0]["verified_with"], 0, "{received:#?}");
    let event: Value = serde_json::from_str(received[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["type"], "token.paired");
    assert_eq!(event["data"]["token"], created.token.as_str());
}
