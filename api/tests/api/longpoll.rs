//! Long-poll: `GET /v1/tokens/{token}?wait=N` with `If-None-Match`.

use std::time::{Duration, Instant};

use api::AppState;
use api::clock::SystemClock;
use serde_json::Value;

use crate::helpers::{Backend, assert_error, spawn_app, spawn_app_on, start_binary};

async fn long_poll(
    app: &crate::helpers::TestApp,
    token: &str,
    etag: &str,
    wait: u64,
) -> reqwest::Response {
    app.http
        .get(app.url(&format!("/v1/tokens/{token}?wait={wait}")))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_long_poll_answers_when_the_token_is_paired() {
    let app = spawn_app().await;
    let token = app.create_for("tv").await;
    let started = Instant::now();

    let (polled, paired) = tokio::join!(long_poll(&app, &token, "\"pending\"", 20), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.pair(&token, "phone").await
    });

    assert_eq!(paired.status(), 200);
    assert_eq!(polled.status(), 200);
    // Woken by the pairing, long before the 20 s were up.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(polled.headers()["etag"], "\"paired\"");
    let body: Value = polled.json().await.unwrap();
    assert_eq!(body["entity_b"], "phone");
}

#[tokio::test]
async fn a_long_poll_with_nothing_changing_ends_in_304() {
    let app = spawn_app().await;
    let token = app.create_for("tv").await;
    let started = Instant::now();

    let polled = long_poll(&app, &token, "\"pending\"", 1).await;

    assert_eq!(polled.status(), 304);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(polled.headers()["etag"], "\"pending\"");
}

#[tokio::test]
async fn a_long_poll_with_a_stale_etag_answers_at_once() {
    let app = spawn_app().await;
    let token = app.create_for("tv").await;
    assert_eq!(app.pair(&token, "phone").await.status(), 200);
    let started = Instant::now();

    let polled = long_poll(&app, &token, "\"pending\"", 25).await;

    // Well before the 25 s the poll would wait if it did not see the change.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(polled.status(), 200);
    assert_eq!(polled.json::<Value>().await.unwrap()["status"], "paired");
}

#[tokio::test]
async fn a_token_deleted_during_a_long_poll_is_404() {
    let app = spawn_app().await;
    let token = app.create_for("tv").await;

    let (polled, deleted) = tokio::join!(long_poll(&app, &token, "\"pending\"", 20), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.delete(&token).await
    });

    assert_eq!(deleted.status(), 204);
    assert_error(polled, 404, "not_found").await;
}

#[tokio::test]
async fn wait_over_25_seconds_is_422() {
    let app = spawn_app().await;
    let token = app.create_for("tv").await;
    assert_error(
        long_poll(&app, &token, "\"pending\"", 26).await,
        422,
        "invalid_field",
    )
    .await;
    let garbage = app.get_path(&format!("/v1/tokens/{token}?wait=soon")).await;
    assert_error(garbage, 422, "invalid_field").await;
}

#[tokio::test]
#[ignore = "needs a local DynamoDB server (moto); `just test` runs it"]
async fn on_dynamodb_a_long_poll_sees_a_pairing_made_by_another_instance() {
    let app = spawn_app_on(Backend::DynamoDb).await;
    let token = app.create_for("tv").await;
    // A second API instance on the same table, as another Lambda instance would be:
    // its writes do not reach this instance's notifier.
    let other = AppState::new(app.store.clone(), std::sync::Arc::new(SystemClock));
    let entity = sdk::EntityId::parse("phone").unwrap();
    let tenant = api::store::TenantId::local();
    let token_value = sdk::Token::parse(token.as_str()).unwrap();

    let (polled, paired) = tokio::join!(long_poll(&app, &token, "\"pending\"", 20), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        other.pairings.pair(&tenant, &token_value, &entity).await
    });

    paired.unwrap();
    assert_eq!(polled.status(), 200);
    assert_eq!(polled.json::<Value>().await.unwrap()["entity_b"], "phone");
}

#[tokio::test]
async fn a_tenant_holds_a_limited_number_of_waits_and_each_is_cut_to_the_longest() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("t.db").display());
    let api = start_binary(
        &store,
        &["--waits-per-tenant", "1", "--max-wait-seconds", "2"],
    )
    .await;
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/v1/tokens", api.address()))
        .json(&serde_json::json!({ "entity": "tv" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{}/v1/tokens/{}",
        api.address(),
        created["token"].as_str().unwrap()
    );
    let poll = |wait: u64| {
        http.get(format!("{url}?wait={wait}"))
            .header("if-none-match", "\"pending\"")
            .send()
    };
    let started = Instant::now();

    let (first, second) = tokio::join!(poll(20), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let second = poll(20).await.unwrap();
        let plain = http.get(&url).send().await.unwrap();
        (second, plain)
    });
    let (second, plain) = second;

    assert_eq!(first.unwrap().status(), 304);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "a wait of 20 s was not cut to 2 s: {:?}",
        started.elapsed()
    );
    assert_error(second, 429, "rate_limited").await;
    assert_eq!(
        plain.status(),
        200,
        "a read that does not wait is not limited"
    );
    assert_eq!(
        poll(1).await.unwrap().status(),
        304,
        "the place is free again"
    );
}
