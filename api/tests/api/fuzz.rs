//! Property test: arbitrary path parameters and bodies never cause a 5xx, always get the
//! JSON error shape when refused, and never change what is already stored.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// Every route that takes a path parameter or a body, as (method, path template).
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/tokens"),
    ("GET", "/v1/tokens/{}"),
    ("DELETE", "/v1/tokens/{}"),
    ("POST", "/v1/tokens/{}/pair"),
    ("POST", "/v1/codes/{}/pair"),
    ("GET", "/v1/tokens?entity={}"),
    ("GET", "/v1/tokens?entity=alice&cursor={}"),
    ("GET", "/v1/tokens?entity=alice&limit={}"),
    ("GET", "/v1/tokens/{}?wait=1"),
    ("POST", "/create/{}"),
    ("GET", "/get/{}"),
    ("PUT", "/update/{}/{}"),
    ("DELETE", "/delete/{}"),
];

/// Percent-encodes everything but unreserved characters, so any string fits in a URL.
fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A body: raw bytes, or JSON objects with arbitrary values in the fields the API reads.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let field_value = prop_oneof![
        any::<String>().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        (
            prop_oneof![
                Just("entity"),
                Just("ttl_seconds"),
                Just("pair_ttl_seconds"),
                Just("label"),
                Just("code"),
                Just("other")
            ],
            field_value
        )
            .prop_map(|(field, value)| {
                serde_json::to_vec(&serde_json::json!({ field: value })).unwrap()
            }),
    ]
}

async fn send(app: &TestApp, method: &str, path: &str, body: Vec<u8>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    app.http
        .request(method, app.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[test]
fn arbitrary_input_never_causes_a_5xx_nor_changes_stored_records() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(spawn_app());
    // What is stored before: one pending and one paired token.
    let (pending, paired) = runtime.block_on(async {
        let pending = app.create_for("alice").await;
        let paired = app.create_for("alice").await;
        assert_eq!(app.pair(&paired, "bob").await.status(), 200);
        (pending, paired)
    });
    let snapshot = |token: &str| {
        runtime.block_on(async { app.get(token).await.json::<Value>().await.unwrap() })
    };
    let before = (snapshot(&pending), snapshot(&paired));

    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let input = (0..ROUTES.len(), any::<String>(), any::<String>(), body());
    runner
        .run(&input, |(route, first, second, body)| {
            let (method, template) = ROUTES[route];
            let path =
                template
                    .replacen("{}", &encode(&first), 1)
                    .replacen("{}", &encode(&second), 1);
            runtime.block_on(async {
                let response = send(&app, method, &path, body).await;
                let status = response.status();
                prop_assert!(status.as_u16() < 500, "{method} {path}: {status}");
                if status.is_client_error() {
                    let error: Value = response.json().await.map_err(|e| {
                        TestCaseError::fail(format!("{method} {path}: {status} body not JSON: {e}"))
                    })?;
                    prop_assert!(
                        error["error"]["code"].is_string(),
                        "{method} {path}: {error}"
                    );
                    prop_assert!(
                        error["error"]["message"].is_string(),
                        "{method} {path}: {error}"
                    );
                }
                Ok(())
            })
        })
        .unwrap();

    assert_eq!((snapshot(&pending), snapshot(&paired)), before);
}
