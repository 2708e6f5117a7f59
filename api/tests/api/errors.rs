//! Bad requests get the JSON error shape and the right status, never a 500.

use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for body in [
        "{",
        "not json",
        "",
        "{\"entity\" \"a\"}",
        "{\"entity\": \"a\",}",
    ] {
        let response = app
            .http
            .post(app.url("/v1/tokens"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "bad_request").await;
    }
    let token = app.create_for("alice").await;
    let response = app
        .http
        .post(app.url(&format!("/v1/tokens/{token}/pair")))
        .header("content-type", "application/json")
        .body("{\"entity\":")
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "bad_request").await;
}

#[tokio::test]
async fn json_that_is_not_an_object_of_the_right_fields_is_422() {
    let app = spawn_app().await;
    for body in [
        json!([]),
        json!("alice"),
        json!(null),
        json!({ "entity": ["a"] }),
    ] {
        assert_error(app.create(body).await, 422, "invalid_field").await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_422_saying_what_it_is_and_changes_nothing() {
    let app = spawn_app().await;
    for (body, sent) in [
        (json!("alice"), "a string"),
        (json!([]), "an array"),
        (json!(["a", 60]), "an array"),
        // Every field in order: serde alone would read this as a token to create.
        (json!(["a", 60, null, null, null, null]), "an array"),
        (json!(7), "a number"),
        (json!(-1.5), "a number"),
        (json!(true), "a boolean"),
        (json!(null), "null"),
    ] {
        let message = assert_error(app.create(body.clone()).await, 422, "invalid_field").await;
        assert_eq!(
            message,
            format!("the body must be a JSON object, not {sent}"),
            "{body}"
        );
    }
    // An array of a pairing's one field is not a pairing either.
    let token = app.create_for("alice").await;
    let response = app
        .http
        .post(app.url(&format!("/v1/tokens/{token}/pair")))
        .json(&json!(["bob"]))
        .send()
        .await
        .unwrap();
    assert_error(response, 422, "invalid_field").await;
    let record: Value = app.get(&token).await.json().await.unwrap();
    assert_eq!(record["status"], "pending", "{record}");
}

#[tokio::test]
async fn a_bad_field_is_told_in_the_apis_words_naming_it_without_the_json_librarys() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "entity": "a", "pair_ttl_seconds": 5 }),
            "pair_ttl_seconds must be between 60 and 2592000 seconds (got 5)",
            Some("pair_ttl_seconds"),
        ),
        (
            json!({ "entity": "a", "ttl_seconds": 3_000_000 }),
            "ttl_seconds must be between 60 and 2592000 seconds (got 3000000)",
            Some("ttl_seconds"),
        ),
        (
            json!({ "entity": "" }),
            "entity must be 1 to 256 characters long (got 0)",
            Some("entity"),
        ),
        (
            json!({ "entity": "a", "ttl_seconds": "long" }),
            "ttl_seconds: invalid type",
            Some("ttl_seconds"),
        ),
        (
            json!({ "entity": "a", "colour": "red" }),
            "unknown field `colour`",
            Some("colour"),
        ),
        (json!("alice"), "the body must be a JSON object", None),
    ];
    for (body, expected, field) in cases {
        let response = app.create(body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        let answer: Value = response.json().await.unwrap();
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(expected), "{body}: {message}");
        assert!(!message.contains("deserialize"), "{body}: {message}");
        assert!(!message.contains("line 1"), "{body}: {message}");
        assert_eq!(
            answer["error"].get("field").and_then(Value::as_str),
            field,
            "{answer}"
        );
    }
}

/// The `error` member of `response`'s body.
async fn error_of(response: reqwest::Response) -> Value {
    let mut body: Value = response.json().await.unwrap();
    body["error"].take()
}

#[tokio::test]
async fn a_bad_header_or_query_parameter_is_named_as_the_field() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/v1/tokens"))
        .header("idempotency-key", "")
        .json(&json!({ "entity": "a" }))
        .send()
        .await
        .unwrap();
    let error = error_of(response).await;
    assert_eq!(error["field"], "Idempotency-Key", "{error}");

    let error = error_of(
        app.get_path("/v1/tokens?entity=a&cursor=not-a-cursor")
            .await,
    )
    .await;
    assert_eq!(error["code"], "invalid_field", "{error}");
    assert_eq!(error["field"], "cursor", "{error}");

    // A query parameter's check reads as a body field's does, without axum's framing.
    let error = error_of(app.get_path("/v1/tokens?entity=a&limit=0").await).await;
    assert_eq!(error["field"], "limit", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("limit "), "{error}");
    assert!(!message.contains("deserialize"), "{error}");

    // An error no field is to blame for has none.
    let error = error_of(app.get_path("/v1/tokens/0").await).await;
    assert!(error.get("field").is_none(), "{error}");
}

#[tokio::test]
async fn a_body_not_declared_as_json_is_415() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/v1/tokens"))
        .header("content-type", "text/plain")
        .body(r#"{"entity":"alice"}"#)
        .send()
        .await
        .unwrap();
    assert_error(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_body_over_16_kib_is_413_and_one_just_under_is_read() {
    let app = spawn_app().await;
    let padding = |n: usize| format!(r#"{{"entity":"alice","label":"{}"}}"#, "x".repeat(n));
    let overhead = padding(0).len();

    let at_limit = app
        .http
        .post(app.url("/v1/tokens"))
        .header("content-type", "application/json")
        .body(padding(16 * 1024 - overhead))
        .send()
        .await
        .unwrap();
    // Read, then rejected for the label's length: the body limit let it through.
    assert_error(at_limit, 422, "invalid_field").await;

    let over = app
        .http
        .post(app.url("/v1/tokens"))
        .header("content-type", "application/json")
        .body(padding(16 * 1024 - overhead + 1))
        .send()
        .await
        .unwrap();
    assert_error(over, 413, "payload_too_large").await;
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404_and_a_wrong_method_a_json_405() {
    let app = spawn_app().await;
    assert_error(app.get_path("/v2/tokens").await, 404, "not_found").await;
    let response = app.http.put(app.url("/v1/tokens")).send().await.unwrap();
    assert_error(response, 405, "method_not_allowed").await;
    let response = app.http.get(app.url("/create/alice")).send().await.unwrap();
    assert_error(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn a_path_that_is_not_utf8_is_400() {
    let app = spawn_app().await;
    assert_error(app.get_path("/v1/tokens/%F0%28").await, 400, "bad_request").await;
    assert_error(app.get_path("/get/%FF").await, 400, "bad_request").await;
}

#[tokio::test]
async fn healthz_reports_the_store() {
    let app = spawn_app().await;
    let response = app.get_path("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "status": "ok", "store": app.backend.kind() }));
}

#[tokio::test]
async fn invisible_characters_in_an_entity_or_label_are_422_naming_the_field() {
    let app = spawn_app().await;
    // A right-to-left override, a zero-width joiner, a line separator.
    for sneaky in ["admin\u{202E}nimda", "al\u{200D}ice", "a\u{2028}b"] {
        let entity = app.create(json!({ "entity": sneaky })).await;
        let message = assert_error(entity, 422, "invalid_field").await;
        assert!(message.contains("entity must not contain"), "{message}");

        let label = app
            .create(json!({ "entity": "user:alice", "label": sneaky }))
            .await;
        let message = assert_error(label, 422, "invalid_field").await;
        assert!(message.contains("label must not contain"), "{message}");
    }
}

/// A clock that fails by panicking, as a bug in a handler would.
struct PanickingClock;

impl api::clock::Clock for PanickingClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        panic!("the clock broke")
    }
}

#[tokio::test]
async fn a_handler_that_panics_is_a_json_500_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = api::store::SqliteStore::open(&dir.path().join("tandem.db"))
        .await
        .unwrap();
    let state = api::AppState::new(
        std::sync::Arc::new(store),
        std::sync::Arc::new(PanickingClock),
    );
    let server = test_support::ApiServer::start(state).await;
    let http = reqwest::Client::new();

    for _ in 0..2 {
        let created = http
            .post(format!("{}/v1/tokens", server.url))
            .json(&json!({ "entity": "alice" }))
            .send()
            .await
            .unwrap();
        assert_error(created, 500, "internal").await;
    }
    let health = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
