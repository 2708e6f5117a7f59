//! Create, read, pair and delete through `/v1/tokens`, and the rules of SPEC §3.

use chrono::{DateTime, Duration, Utc};
use sdk::{CreateToken, EntityId, ErrorCode, IdempotencyKey, Label, Status, Token, Ttl};
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn creating_a_token_returns_201_a_location_and_a_pending_record() {
    let app = spawn_app().await;

    let response = app
        .create(json!({ "entity": "alice", "label": "TV" }))
        .await;

    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert_eq!(location, format!("/v1/tokens/{token}"));
    assert!(Token::parse(token).is_ok());
    assert_eq!(body["entity_a"], "alice");
    assert_eq!(body["entity_b"], Value::Null);
    assert_eq!(body["status"], "pending");
    assert_eq!(body["label"], "TV");
    assert_eq!(body["paired_at"], Value::Null);
    let created = time(&body["created_at"]);
    assert_eq!(time(&body["expires_at"]) - created, Duration::hours(24));
    // The token: its creation time (Unix milliseconds, 12 hexadecimal digits), then a
    // random UUIDv4.
    assert_eq!(token.len(), 44, "{token}");
    assert_eq!(
        i64::from_str_radix(&token[..12], 16).ok(),
        Some(created.timestamp_millis()),
        "{token} starts with its creation time"
    );
    let random = uuid::Uuid::parse_str(&token[12..]).expect("a UUID after the time");
    assert_eq!(random.get_version_num(), 4, "{token}");
}

#[tokio::test]
async fn tokens_are_unique() {
    let app = spawn_app().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        assert!(seen.insert(app.create_for("alice").await));
    }
}

#[tokio::test]
async fn the_ttl_sets_expiry_within_its_bounds() {
    let app = spawn_app().await;

    for ttl in [60, 2_592_000] {
        let response = app
            .create(json!({ "entity": "a", "ttl_seconds": ttl }))
            .await;
        assert_eq!(response.status(), 201, "ttl {ttl}");
        let body: Value = response.json().await.unwrap();
        let lifetime = time(&body["expires_at"]) - time(&body["created_at"]);
        assert_eq!(lifetime, Duration::seconds(ttl));
    }
    for ttl in [0, 59, 2_592_001] {
        let response = app
            .create(json!({ "entity": "a", "ttl_seconds": ttl }))
            .await;
        let message = assert_error(response, 422, "invalid_field").await;
        assert!(message.contains("ttl_seconds must be"), "{message}");
    }
    let response = app
        .create(json!({ "entity": "a", "pair_ttl_seconds": 30 }))
        .await;
    let message = assert_error(response, 422, "invalid_field").await;
    assert!(
        message.contains("pair_ttl_seconds must be between"),
        "the error names the field that was wrong: {message}"
    );
}

#[tokio::test]
async fn invalid_entities_and_labels_are_422_and_name_the_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({ "entity": "" }), "entity"),
        (json!({ "entity": "x".repeat(257) }), "entity"),
        (json!({ "entity": "a\u{0}b" }), "entity"),
        (json!({ "entity": "line\nbreak" }), "entity"),
        (json!({ "entity": 42 }), "entity"),
        (json!({}), "entity"),
        (json!({ "entity": "a", "label": "x".repeat(201) }), "label"),
        (json!({ "entity": "a", "label": "" }), "label"),
        (json!({ "entity": "a", "colour": "red" }), "colour"),
    ];
    for (body, field) in cases {
        let message = assert_error(app.create(body.clone()).await, 422, "invalid_field").await;
        assert!(message.contains(field), "{body}: {message}");
    }
    // The limits themselves are fine, non-ASCII included.
    let ok = app
        .create(json!({ "entity": "é".repeat(256), "label": "ü".repeat(200) }))
        .await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn reading_a_token_returns_it_with_an_etag_that_changes_when_paired() {
    let app = spawn_app().await;
    let token = app.create_for("alice").await;

    let response = app.get(&token).await;
    assert_eq!(response.status(), 200);
    let pending_etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token"], token.as_str());
    assert_eq!(body["status"], "pending");

    let unchanged = app
        .http
        .get(app.url(&format!("/v1/tokens/{token}")))
        .header("if-none-match", &pending_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.text().await.unwrap(), "");

    assert_eq!(app.pair(&token, "bob").await.status(), 200);

    let changed = app
        .http
        .get(app.url(&format!("/v1/tokens/{token}")))
        .header("if-none-match", &pending_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), pending_etag);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["status"], "paired");
}

#[tokio::test]
async fn a_304_carries_the_records_current_etag_whichever_tags_were_sent() {
    let app = spawn_app().await;
    let token = app.create_for("alice").await;
    assert_eq!(app.pair(&token, "bob").await.status(), 200);
    let current = app.get(&token).await.headers()["etag"].clone();
    let conditional = |tags: &'static str| {
        app.http
            .get(app.url(&format!("/v1/tokens/{token}")))
            .header("if-none-match", tags)
            .send()
    };

    // The paired tag listed second, after a stale one; and `*`, which any record matches.
    let listed = conditional(r#""pending", W/"paired""#).await.unwrap();
    let any = conditional("*").await.unwrap();

    assert_eq!(listed.status(), 304);
    assert_eq!(listed.headers()["etag"], current);
    assert_eq!(any.status(), 304);
    assert_eq!(any.headers()["etag"], current);
}

#[tokio::test]
async fn unknown_and_malformed_tokens_are_404() {
    let app = spawn_app().await;
    for token in [
        "0123456789abcdef0123456789abcdef",
        "no%20such",
        "x".repeat(65).as_str(),
        "%C3%A9",
    ] {
        assert_error(app.get(token).await, 404, "not_found").await;
        assert_error(app.delete(token).await, 404, "not_found").await;
        assert_error(app.pair(token, "bob").await, 404, "not_found").await;
    }
}

#[tokio::test]
async fn pairing_sets_entity_b_and_status_and_both_sides_see_it() {
    let app = spawn_app().await;
    let token = app.create_for("alice").await;

    let response = app.pair(&token, "bob").await;

    assert_eq!(response.status(), 200);
    let paired: Value = response.json().await.unwrap();
    assert_eq!(paired["entity_a"], "alice");
    assert_eq!(paired["entity_b"], "bob");
    assert_eq!(paired["status"], "paired");
    assert!(time(&paired["paired_at"]) >= time(&paired["created_at"]));
    assert_eq!(
        paired["expires_at"],
        Value::Null,
        "no pair TTL: lives until deleted"
    );
    let read: Value = app.get(&token).await.json().await.unwrap();
    assert_eq!(read, paired);
}

#[tokio::test]
async fn pairing_again_with_the_same_entity_is_idempotent() {
    let app = spawn_app().await;
    let token = app.create_for("alice").await;
    let first: Value = app.pair(&token, "bob").await.json().await.unwrap();

    let retry = app.pair(&token, "bob").await;

    assert_eq!(retry.status(), 200);
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
}

#[tokio::test]
async fn pairing_twice_with_another_entity_is_a_conflict() {
    let app = spawn_app().await;
    let token = app.create_for("alice").await;
    assert_eq!(app.pair(&token, "bob").await.status(), 200);

    assert_error(app.pair(&token, "carol").await, 409, "already_paired").await;

    let read: Value = app.get(&token).await.json().await.unwrap();
    assert_eq!(read["entity_b"], "bob", "the conflict changed nothing");
}

#[tokio::test]
async fn pairing_with_oneself_is_422_and_leaves_the_token_pending() {
    let app = spawn_app().await;
    let token = app.create_for("alice").await;

    assert_error(app.pair(&token, "alice").await, 422, "same_entity").await;

    let read: Value = app.get(&token).await.json().await.unwrap();
    assert_eq!(read["status"], "pending");
    assert_eq!(app.pair(&token, "bob").await.status(), 200);
}

#[tokio::test]
async fn pairing_with_an_invalid_entity_is_422() {
    let app = spawn_app().await;
    let token = app.create_for("alice").await;
    assert_error(app.pair(&token, "").await, 422, "invalid_field").await;
    assert_error(
        app.pair(&token, &"b".repeat(257)).await,
        422,
        "invalid_field",
    )
    .await;
}

#[tokio::test]
async fn an_expired_pending_token_is_absent_everywhere() {
    let app = spawn_app().await;
    let response = app
        .create(json!({ "entity": "alice", "ttl_seconds": 60 }))
        .await;
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(Duration::seconds(59));
    assert_eq!(
        app.get(&token).await.status(),
        200,
        "alive one second before expiry"
    );

    app.clock.advance(Duration::seconds(1));

    assert_error(app.get(&token).await, 404, "not_found").await;
    assert_error(app.pair(&token, "bob").await, 404, "not_found").await;
    assert_error(app.delete(&token).await, 404, "not_found").await;
    let page: Value = app
        .get_path("/v1/tokens?entity=alice")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn a_pairing_without_pair_ttl_outlives_the_token_ttl() {
    let app = spawn_app().await;
    let response = app
        .create(json!({ "entity": "alice", "ttl_seconds": 60 }))
        .await;
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.pair(&token, "bob").await.status(), 200);

    app.clock.advance(Duration::days(365));

    assert_eq!(app.get(&token).await.status(), 200);
}

#[tokio::test]
async fn a_pairing_with_pair_ttl_expires_that_long_after_pairing() {
    let app = spawn_app().await;
    let response = app
        .create(json!({ "entity": "alice", "ttl_seconds": 600, "pair_ttl_seconds": 3600 }))
        .await;
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(Duration::seconds(300));

    let paired: Value = app.pair(&token, "bob").await.json().await.unwrap();

    assert_eq!(
        time(&paired["expires_at"]) - time(&paired["paired_at"]),
        Duration::seconds(3600)
    );
    app.clock.advance(Duration::seconds(3599));
    assert_eq!(app.get(&token).await.status(), 200);
    app.clock.advance(Duration::seconds(1));
    assert_error(app.get(&token).await, 404, "not_found").await;
}

#[tokio::test]
async fn deleting_a_token_removes_it_for_both_sides() {
    let app = spawn_app().await;
    let token = app.create_for("alice").await;
    assert_eq!(app.pair(&token, "bob").await.status(), 200);

    let response = app.delete(&token).await;

    assert_eq!(response.status(), 204);
    assert_eq!(response.text().await.unwrap(), "");
    assert_error(app.get(&token).await, 404, "not_found").await;
    assert_error(app.delete(&token).await, 404, "not_found").await;
    assert_error(app.pair(&token, "carol").await, 404, "not_found").await;
}

#[tokio::test]
async fn the_sdk_client_drives_the_whole_flow_and_reports_api_errors() {
    let app = spawn_app().await;
    let alice = EntityId::parse("alice").unwrap();
    let bob = EntityId::parse("bob").unwrap();
    let request = CreateToken::new(&alice)
        .ttl(Ttl::parse(600).unwrap())
        .label(Label::parse("den").unwrap());

    let created = app.sdk.create_token(&request).await.unwrap();
    assert_eq!(created.status(), Status::Pending);
    assert_eq!(created.label.as_ref().map(Label::as_str), Some("den"));
    assert_eq!(app.sdk.get_token(&created.token).await.unwrap(), created);

    let paired = app.sdk.pair(&created.token, &bob).await.unwrap();
    assert_eq!(paired.entity_b, Some(bob.clone()));
    let err = app
        .sdk
        .pair(&created.token, &EntityId::parse("carol").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::AlreadyPaired));
    assert!(err.is_already_paired() && !err.is_not_found(), "{err:?}");
    assert_eq!(err.status(), Some(409));
    let err = app.sdk.pair(&created.token, &alice).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::AlreadyPaired),
        "paired already, alice is not B"
    );

    let page = app.sdk.list_tokens(&bob, None, None).await.unwrap();
    assert_eq!(page.items, vec![paired]);
    assert_eq!(app.sdk.health().await.unwrap().store, app.backend.kind());

    app.sdk.delete_token(&created.token).await.unwrap();
    let err = app.sdk.get_token(&created.token).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound));
    let err = app.sdk.delete_token(&created.token).await.unwrap_err();
    assert!(err.is_not_found() && !err.is_already_paired(), "{err:?}");
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn the_sdk_client_retries_a_create_safely_with_an_idempotency_key() {
    let app = spawn_app().await;
    let request = CreateToken::new(&EntityId::parse("alice").unwrap());
    let key = IdempotencyKey::parse("retry-1").unwrap();

    let first = app
        .sdk
        .create_token_idempotent(&request, &key)
        .await
        .unwrap();
    let retry = app
        .sdk
        .create_token_idempotent(&request, &key)
        .await
        .unwrap();
    let other = CreateToken::new(&EntityId::parse("bob").unwrap());
    let reused = app
        .sdk
        .create_token_idempotent(&other, &key)
        .await
        .unwrap_err();

    assert_eq!(
        retry, first,
        "the retry gets the record the first attempt created"
    );
    assert_eq!(
        reused.code(),
        Some(ErrorCode::IdempotencyKeyReused),
        "{reused:?}"
    );
    let page = app
        .sdk
        .list_tokens(&EntityId::parse("alice").unwrap(), None, None)
        .await
        .unwrap();
    assert_eq!(page.items, vec![first], "one record, not two");
}
