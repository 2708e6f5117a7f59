//! `Idempotency-Key` on create: retries return the same token.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

async fn create_with_key(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url("/v1/tokens"))
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_returns_the_same_token() {
    let app = spawn_app().await;
    let body = json!({ "entity": "alice", "label": "order 42", "code": true });
    let first = create_with_key(&app, "order-42", body.clone()).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    let retry = create_with_key(&app, "order-42", body).await;

    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    let listed: Value = app
        .get_path("/v1/tokens?entity=alice")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "no second token"
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let app = spawn_app().await;
    assert_eq!(
        create_with_key(&app, "k-1", json!({ "entity": "alice" }))
            .await
            .status(),
        201
    );

    let other = create_with_key(&app, "k-1", json!({ "entity": "bob" })).await;

    assert_error(other, 422, "idempotency_key_reused").await;
    let listed: Value = app
        .get_path("/v1/tokens?entity=bob")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn a_key_is_remembered_for_24_hours() {
    let app = spawn_app().await;
    let body = json!({ "entity": "alice", "ttl_seconds": 2_592_000 });
    let first: Value = create_with_key(&app, "k", body.clone())
        .await
        .json()
        .await
        .unwrap();
    app.clock.advance(Duration::hours(23));
    let again: Value = create_with_key(&app, "k", body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["token"], first["token"]);

    app.clock.advance(Duration::hours(1));

    let later: Value = create_with_key(&app, "k", body).await.json().await.unwrap();
    assert_ne!(later["token"], first["token"]);
}

#[tokio::test]
async fn different_keys_make_different_tokens_and_bad_keys_are_422() {
    let app = spawn_app().await;
    let body = json!({ "entity": "alice" });
    let a: Value = create_with_key(&app, "a", body.clone())
        .await
        .json()
        .await
        .unwrap();
    let b: Value = create_with_key(&app, "b", body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(a["token"], b["token"]);
    let long = "k".repeat(256);
    for bad in ["", "with space", long.as_str()] {
        let response = create_with_key(&app, bad, body.clone()).await;
        let message = assert_error(response, 422, "invalid_field").await;
        assert!(message.contains("Idempotency-Key"), "{message}");
    }
}
