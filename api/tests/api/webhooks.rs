//! Webhooks end to end on the real binary and SQLite: every delivery is verified by a
//! receiver built on the official `standardwebhooks` package (not Tandem's code).

use std::sync::Arc;
use std::time::Duration;

use api::clock::Clock;
use api::webhooks::WebhookPolicy;
use api::webhooks::delivery::Worker;
use sdk::webhooks::{CreateWebhook, DeliveryStatus, EventType, UpdateWebhook, WebhookWithSecret};
use sdk::{CreateToken, EntityId, Token};
use serde_json::{Value, json};
use test_support::RunningBinary;
use test_support::webhooks::WebhookReceiver;

use crate::helpers::{Backend, spawn_app_on, start_binary};

/// How long a test waits for deliveries that should come at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// Flags for a server that may deliver to the receiver on 127.0.0.1, retrying fast.
const LOCAL: [&str; 4] = [
    "--webhook-allow-http-loopback",
    "--webhook-allow-private-addresses",
    "--webhook-retry-seconds",
    "0.2,0.2,0.2",
];

/// A `tandem-api` on a fresh SQLite file with `flags`, and its directory.
async fn server(flags: &[&str]) -> (tempfile::TempDir, String, RunningBinary) {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("t.db").display());
    let binary = start_binary(&store, flags).await;
    (dir, store, binary)
}

fn entity(name: &str) -> EntityId {
    EntityId::parse(name).unwrap()
}

/// Registers `receiver` with `client` for `events` (every `token.*` when `None`) and has
/// the receiver trust the secret.
async fn register(
    client: &sdk::Client,
    receiver: &WebhookReceiver,
    events: Option<Vec<EventType>>,
) -> WebhookWithSecret {
    let created = client
        .create_webhook(&CreateWebhook {
            events,
            ..CreateWebhook::new(receiver.url())
        })
        .await
        .unwrap();
    receiver.trust(&created.secret).await;
    created
}

/// The event bodies received, parsed.
fn events(received: &[Value]) -> Vec<Value> {
    received
        .iter()
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect()
}

/// The endpoint's latest deliveries once `count` are there and none is pending any more (the
/// receiver sees a delivery a moment before the server records how it went).
async fn settled(client: &sdk::Client, id: &str, count: usize) -> Vec<sdk::webhooks::Delivery> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let items = client.webhook_deliveries(id).await.unwrap().items;
        let done =
            items.len() >= count && items.iter().all(|d| d.status != DeliveryStatus::Pending);
        if done || tokio::time::Instant::now() >= deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pairs a new token of alice with bob; the token.
async fn paired_token(client: &sdk::Client) -> Token {
    let created = client
        .create_token(&CreateToken::new(&entity("alice")))
        .await
        .unwrap();
    client.pair(&created.token, &entity("bob")).await.unwrap();
    created.token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_and_deleting_each_deliver_one_event_that_standard_webhooks_verifies() {
    let receiver = WebhookReceiver::start().await;
    let (_dir, _store, api) = server(&LOCAL).await;
    let client = sdk::Client::new(api.address());
    let endpoint = register(&client, &receiver, None).await;
    assert!(endpoint.secret.starts_with("whsec_"), "{}", endpoint.secret);

    let created = client
        .create_token(&CreateToken {
            code: true,
            ..CreateToken::new(&entity("alice"))
        })
        .await
        .unwrap();
    client.pair(&created.token, &entity("bob")).await.unwrap();
    client.delete_token(&created.token).await.unwrap();
    let received = receiver.wait_for(2, PATIENCE).await;

    let events = events(&received);
    assert_eq!(events.len(), 2, "{received:#?}");
    for delivery in &received {
        assert_eq!(delivery["verified_with"], 0, "{delivery:#?}");
        assert_eq!(delivery["headers"]["content-type"], "application/json");
    }
    // Sends to one endpoint run side by side, so the two may arrive in either order.
    let mut types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    assert_eq!(types, ["token.deleted", "token.paired"]);
    for (event, delivery) in events.iter().zip(&received) {
        assert_eq!(event["id"], delivery["headers"]["webhook-id"]);
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(event["data"]["token"], created.token.as_str());
        assert_eq!(event["data"]["entity_b"], "bob");
        assert_eq!(event["data"]["code"], Value::Null, "the code is never sent");
    }
    assert_ne!(events[0]["id"], events[1]["id"]);
    let deliveries = settled(&client, &endpoint.webhook.id, 2).await;
    assert_eq!(deliveries.len(), 2);
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered
                && d.attempts == 1
                && d.response_code == Some(204))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_whose_window_ends_unpaired_sends_token_expired() {
    let receiver = WebhookReceiver::start().await;
    let app = spawn_app_on(Backend::Sqlite).await;
    let policy = WebhookPolicy {
        allow_http_loopback: true,
        allow_private_addresses: true,
        ..WebhookPolicy::default()
    };
    let clock: Arc<dyn Clock> = app.clock.clone();
    let worker = Worker::new(Arc::clone(&app.store), policy, clock).expect("SQLite has an outbox");
    let worker = AbortOnDrop(tokio::spawn(worker.run()));
    // The in-process API takes https endpoints only: register the receiver in the store.
    let stored = api::store::webhooks::StoredWebhook {
        webhook: sdk::webhooks::Webhook {
            id: api::webhooks::new_id(),
            url: receiver.url(),
            events: vec![EventType::TokenExpired],
            description: None,
            enabled: true,
            disabled_reason: None,
            created_at: app.clock.now(),
            previous_secret_until: None,
        },
        secret: api::webhooks::new_secret(),
        previous_secret: None,
    };
    app.store
        .create_webhook(&api::domain::TenantId::local(), &stored)
        .await
        .unwrap();
    receiver.trust(&stored.secret).await;
    // Let the worker's first sweep mark where expiries start.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let pending = app
        .sdk
        .create_token(&CreateToken {
            ttl_seconds: Some(sdk::Ttl::parse(60).unwrap()),
            ..CreateToken::new(&entity("alice"))
        })
        .await
        .unwrap();
    let paired = paired_token(&app.sdk).await;
    app.clock.advance(chrono::Duration::days(2));
    let received = receiver.wait_for(1, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received_later = receiver.received().await;
    drop(worker);

    let events = events(&received_later);
    assert_eq!(
        events.len(),
        1,
        "one expiry, nothing for the pairing: {received:#?}"
    );
    assert_eq!(events[0]["type"], "token.expired");
    assert_eq!(events[0]["data"]["token"], pending.token.as_str());
    assert_ne!(events[0]["data"]["token"], paired.as_str());
    assert_eq!(received_later[0]["verified_with"], 0);
}

/// Aborts a task when dropped, so that a failing test stops it too.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_at_first_gets_the_event_on_a_retry_and_410_stops_retrying() {
    let receiver = WebhookReceiver::start().await;
    let (_dir, _store, api) = server(&LOCAL).await;
    let client = sdk::Client::new(api.address());
    let endpoint = register(&client, &receiver, Some(vec![EventType::TokenPaired])).await;
    receiver
        .configure(json!({ "mode": "fail", "fail_count": 2 }))
        .await;

    paired_token(&client).await;
    let received = receiver.wait_for(3, PATIENCE).await;

    assert_eq!(received.len(), 3, "{received:#?}");
    let answered: Vec<&Value> = received.iter().map(|r| &r["answered"]).collect();
    assert_eq!(answered, [&json!(503), &json!(503), &json!(204)]);
    let ids: Vec<&Value> = received
        .iter()
        .map(|r| &r["headers"]["webhook-id"])
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one event, one id: {ids:?}"
    );
    let delivery = &settled(&client, &endpoint.webhook.id, 1).await[0];
    assert_eq!(
        (delivery.status, delivery.attempts, delivery.response_code),
        (DeliveryStatus::Delivered, 3, Some(204))
    );

    receiver.configure(json!({ "mode": "gone" })).await;
    paired_token(&client).await;
    let received = receiver.wait_for(4, PATIENCE).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    assert_eq!(
        receiver.received().await.len(),
        4,
        "410 is never retried: {received:#?}"
    );
    let delivery = &client
        .webhook_deliveries(&endpoint.webhook.id)
        .await
        .unwrap()
        .items[0];
    assert_eq!(
        (delivery.status, delivery.attempts, delivery.next_attempt_at),
        (DeliveryStatus::Gone, 1, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_every_attempt_past_the_limit_is_disabled_and_says_why() {
    let receiver = WebhookReceiver::start().await;
    let flags = [&LOCAL[..], &["--webhook-disable-after-seconds", "0.3"]].concat();
    let (_dir, _store, api) = server(&flags).await;
    let client = sdk::Client::new(api.address());
    let endpoint = register(&client, &receiver, None).await;
    receiver
        .configure(json!({ "mode": "fail", "fail_count": 1000 }))
        .await;

    paired_token(&client).await;
    receiver.wait_for(3, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let disabled = client.get_webhook(&endpoint.webhook.id).await.unwrap();

    assert!(!disabled.enabled);
    let reason = disabled.disabled_reason.unwrap();
    assert!(reason.contains("every delivery failed"), "{reason}");
    assert!(reason.contains("HTTP 503"), "{reason}");

    // Enabled again, it is delivered to again.
    receiver.configure(json!({ "mode": "ok" })).await;
    let enabled = client
        .update_webhook(
            &endpoint.webhook.id,
            &UpdateWebhook {
                enabled: Some(true),
                ..UpdateWebhook::default()
            },
        )
        .await
        .unwrap();
    assert!(enabled.enabled && enabled.disabled_reason.is_none());
    client.test_webhook(&endpoint.webhook.id).await.unwrap();
    // The failed attempts are already in the list: wait for an answered one.
    let answered = |received: &[Value]| received.iter().any(|r| r["answered"] == 204);
    let received = receiver.wait_until(answered, PATIENCE).await;
    assert!(answered(&received), "{received:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rotation_both_secrets_verify_and_a_tampered_or_old_delivery_does_not() {
    let receiver = WebhookReceiver::start().await;
    let (_dir, _store, api) = server(&LOCAL).await;
    let client = sdk::Client::new(api.address());
    let endpoint = register(&client, &receiver, None).await;
    let old_secret = endpoint.secret;

    let rotated = client
        .rotate_webhook_secret(&endpoint.webhook.id)
        .await
        .unwrap();
    assert_ne!(rotated.secret, old_secret);
    assert!(rotated.webhook.previous_secret_until.is_some());
    // A receiver that knows only the new secret, then one that knows only the old.
    receiver.trust(&rotated.secret).await;
    client.test_webhook(&endpoint.webhook.id).await.unwrap();
    receiver.wait_for(1, PATIENCE).await;
    receiver.trust(&old_secret).await;
    client.test_webhook(&endpoint.webhook.id).await.unwrap();
    let received = receiver.wait_for(2, PATIENCE).await;

    assert_eq!(received.len(), 2, "{received:#?}");
    for delivery in &received {
        assert_eq!(delivery["verified_with"], 0, "{delivery:#?}");
        let signatures = delivery["headers"]["webhook-signature"].as_str().unwrap();
        assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    }
    let event: Value = serde_json::from_str(received[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["type"], "webhook.test");
    assert_eq!(event["data"]["webhook_id"], endpoint.webhook.id.as_str());

    // The official library refuses what was changed on the way, or replayed later.
    let headers = &received[0]["headers"];
    let body = received[0]["body"].as_str().unwrap();
    let (ok, _) = receiver.verifies(&rotated.secret, headers, body).await;
    assert!(ok, "the delivery as sent verifies");
    let tampered = body.replace("webhook.test", "token.paired");
    let (ok, error) = receiver.verifies(&rotated.secret, headers, &tampered).await;
    assert!(!ok, "a tampered body verified");
    assert!(
        error.as_str().unwrap().contains("No matching signature"),
        "{error}"
    );
    let mut old = headers.clone();
    let sent: i64 = headers["webhook-timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    old["webhook-timestamp"] = json!((sent - 600).to_string());
    let (ok, error) = receiver.verifies(&rotated.secret, &old, body).await;
    assert!(!ok, "a delivery 10 minutes old verified");
    assert!(error.as_str().unwrap().contains("too old"), "{error}");
    // And Tandem's own check agrees with it.
    let mut map = reqwest::header::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        map.insert(name, headers[name].as_str().unwrap().parse().unwrap());
    }
    let verified = sdk::webhooks::verify(&rotated.secret, &map, body.as_bytes()).unwrap();
    assert_eq!(verified.event_type, EventType::WebhookTest);
    assert!(sdk::webhooks::verify(&rotated.secret, &map, tampered.as_bytes()).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_in_flight_when_the_server_is_killed_is_delivered_after_restart() {
    let receiver = WebhookReceiver::start().await;
    let flags = [&LOCAL[..], &["--webhook-timeout-seconds", "1"]].concat();
    let (_dir, store, api) = server(&flags).await;
    let client = sdk::Client::new(api.address());
    register(&client, &receiver, Some(vec![EventType::TokenPaired])).await;
    receiver.configure(json!({ "mode": "hang" })).await;

    let token = paired_token(&client).await;
    let first = receiver.wait_for(1, PATIENCE).await;
    assert_eq!(first.len(), 1, "the first attempt is under way");
    api.kill_9().await;
    receiver.configure(json!({ "mode": "ok" })).await;
    let _restarted = start_binary(&store, &flags).await;
    // The killed attempt's hold on the delivery (its timeout and 5 s) runs out first.
    let received = receiver.wait_for(2, Duration::from_secs(20)).await;

    assert_eq!(received.len(), 2, "{received:#?}");
    assert_eq!(received[1]["answered"], 204);
    assert_eq!(received[1]["verified_with"], 0);
    assert_eq!(
        received[0]["headers"]["webhook-id"],
        received[1]["headers"]["webhook-id"]
    );
    let event = &events(&received)[1];
    assert_eq!(event["data"]["token"], token.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_does_not_hold_up_another_endpoints_events() {
    let hanging = WebhookReceiver::start().await;
    let healthy = WebhookReceiver::start().await;
    let (_dir, _store, api) = server(&LOCAL).await;
    let client = sdk::Client::new(api.address());
    register(&client, &hanging, None).await;
    register(&client, &healthy, None).await;
    hanging.configure(json!({ "mode": "hang" })).await;

    for _ in 0..20 {
        paired_token(&client).await;
    }
    let received = healthy.wait_for(20, PATIENCE).await;

    assert_eq!(received.len(), 20);
    assert!(received.iter().all(|r| r["verified_with"] == 0));
    let stuck = hanging.received().await.len();
    assert!(
        stuck <= api::webhooks::delivery::PER_ENDPOINT,
        "at most {} at once to one endpoint, got {stuck}",
        api::webhooks::delivery::PER_ENDPOINT
    );
}

#[tokio::test]
async fn endpoints_are_validated_and_addresses_that_are_not_public_get_nothing() {
    let receiver = WebhookReceiver::start().await;
    // http to loopback may be registered, but deliveries to private addresses are refused.
    let (_dir, _store, api) = server(&["--webhook-allow-http-loopback"]).await;
    let http = reqwest::Client::new();
    let create = |url: &str| {
        http.post(format!("{}/v1/webhooks", api.address()))
            .json(&json!({ "url": url }))
            .send()
    };
    for (url, says) in [
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.0.0.1/hook", "private"),
        ("http://hooks.example.com/", "https"),
        (
            "https://user:secret@hooks.example.com/",
            "user name or password",
        ),
        ("ftp://hooks.example.com/", "https"),
    ] {
        let response = create(url).await.unwrap();
        assert_eq!(response.status(), 422, "{url}");
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{url}: {message}");
    }
    let client = sdk::Client::new(api.address());
    let local_name = receiver.url().replace("127.0.0.1", "localhost");
    let endpoint = client
        .create_webhook(&CreateWebhook::new(local_name))
        .await
        .unwrap();
    receiver.trust(&endpoint.secret).await;

    paired_token(&client).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    assert!(
        receiver.received().await.is_empty(),
        "sent to a loopback address"
    );
    let delivery = &client
        .webhook_deliveries(&endpoint.webhook.id)
        .await
        .unwrap()
        .items[0];
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("loopback"), "{error}");
    assert_eq!(delivery.response_code, None);
}

#[tokio::test]
async fn a_tenant_manages_only_its_own_endpoints_and_deleting_one_stops_its_deliveries() {
    let receiver = WebhookReceiver::start().await;
    let keys = [
        "--api-keys",
        "acme:acme-key-0123456789,globex:globex-key-0123456789",
    ];
    let (_dir, _store, api) = server(&[&LOCAL[..], &keys[..]].concat()).await;
    let acme = sdk::Client::new(api.address()).with_api_key("acme-key-0123456789");
    let globex = sdk::Client::new(api.address()).with_api_key("globex-key-0123456789");

    let endpoint = register(&acme, &receiver, Some(vec![EventType::TokenDeleted])).await;
    let listed = acme.list_webhooks().await.unwrap().items;
    assert_eq!(listed, vec![endpoint.webhook.clone()]);
    assert!(globex.list_webhooks().await.unwrap().items.is_empty());
    assert!(
        globex
            .get_webhook(&endpoint.webhook.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        globex
            .delete_webhook(&endpoint.webhook.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        globex
            .test_webhook(&endpoint.webhook.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let changed = acme
        .update_webhook(
            &endpoint.webhook.id,
            &UpdateWebhook {
                events: Some(vec![EventType::TokenPaired, EventType::TokenPaired]),
                description: Some("orders".into()),
                ..UpdateWebhook::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.events, vec![EventType::TokenPaired]);
    assert_eq!(changed.description.as_deref(), Some("orders"));
    // Another tenant's pairing sends nothing to acme.
    paired_token(&globex).await;
    paired_token(&acme).await;
    assert_eq!(receiver.wait_for(1, PATIENCE).await.len(), 1);

    receiver
        .configure(json!({ "mode": "fail", "fail_count": 1000 }))
        .await;
    paired_token(&acme).await;
    receiver.wait_for(2, PATIENCE).await;
    acme.delete_webhook(&endpoint.webhook.id).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_delete = receiver.received().await.len();
    tokio::time::sleep(Duration::from_secs(1)).await;

    assert_eq!(
        receiver.received().await.len(),
        after_delete,
        "retries after delete"
    );
    assert!(acme.list_webhooks().await.unwrap().items.is_empty());
    assert!(
        acme.get_webhook(&endpoint.webhook.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// On the suite's store (SQLite, or DynamoDB under moto): endpoints are kept, changed,
/// rotated and deleted. (The in-process API runs no delivery worker: nothing is sent.)
#[tokio::test]
async fn either_store_keeps_an_endpoint_through_its_changes() {
    let app = crate::helpers::spawn_app().await;
    let client = &app.sdk;

    let created = client
        .create_webhook(&CreateWebhook {
            description: Some("orders".into()),
            ..CreateWebhook::new("https://hooks.example.com/tandem")
        })
        .await
        .unwrap();
    let id = created.webhook.id.clone();
    assert_eq!(created.webhook.events, EventType::SUBSCRIBABLE.to_vec());
    assert!(created.webhook.enabled);
    assert_eq!(client.get_webhook(&id).await.unwrap(), created.webhook);
    assert_eq!(
        client.list_webhooks().await.unwrap().items,
        vec![created.webhook.clone()]
    );

    let disabled = client
        .update_webhook(
            &id,
            &UpdateWebhook {
                enabled: Some(false),
                events: Some(vec![EventType::TokenExpired]),
                ..UpdateWebhook::default()
            },
        )
        .await
        .unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.events, vec![EventType::TokenExpired]);
    assert_eq!(disabled.description.as_deref(), Some("orders"));
    let rotated = client.rotate_webhook_secret(&id).await.unwrap();
    assert_ne!(rotated.secret, created.secret);
    let overlap = rotated.webhook.previous_secret_until.unwrap() - app.clock.now();
    assert_eq!(overlap.num_hours(), 24);
    let test = client.test_webhook(&id).await.unwrap();
    assert_eq!(test.event_type, EventType::WebhookTest);
    assert!(client.webhook_deliveries(&id).await.is_ok());
    let bad = client
        .update_webhook(
            &id,
            &UpdateWebhook {
                events: Some(vec![]),
                ..UpdateWebhook::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some(sdk::ErrorCode::InvalidField), "{bad}");

    client.delete_webhook(&id).await.unwrap();
    assert!(client.get_webhook(&id).await.unwrap_err().is_not_found());
    assert!(client.delete_webhook(&id).await.unwrap_err().is_not_found());
    assert!(client.list_webhooks().await.unwrap().items.is_empty());
}
