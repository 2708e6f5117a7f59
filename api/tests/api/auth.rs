//! API keys and tenants, and the per-key rate limit.

use api::auth::{Access, ApiKeys};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app_with, start_binary};

const ACME: &str = "acme-key-0123456789";
const GLOBEX: &str = "globex-key-0123456789";

async fn app_with_two_tenants(rate_limit: u32) -> TestApp {
    let keys = ApiKeys::parse(&format!("acme:{ACME},globex:{GLOBEX}")).unwrap();
    spawn_app_with(Access::new(Some(keys), rate_limit)).await
}

async fn create_as(app: &TestApp, key: &str, entity: &str) -> Value {
    let response = app
        .http
        .post(app.url("/v1/tokens"))
        .bearer_auth(key)
        .json(&json!({ "entity": entity, "code": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_401_with_a_bearer_challenge() {
    let app = app_with_two_tenants(0).await;

    let missing = app.create(json!({ "entity": "alice" })).await;
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"tandem\""
    );
    assert_error(missing, 401, "unauthorized").await;

    for header in [
        "Bearer wrong-key-0123456789".to_owned(),
        format!("Basic {ACME}"),
        format!("Bearer {ACME}x"),
        "Bearer".to_owned(),
    ] {
        let response = app
            .http
            .get(app.url("/v1/tokens?entity=alice"))
            .header("authorization", header.as_str())
            .send()
            .await
            .unwrap();
        assert_error(response, 401, "unauthorized").await;
    }
    let seed = app
        .http
        .post(app.url("/create/alice"))
        .send()
        .await
        .unwrap();
    assert_error(seed, 401, "unauthorized").await;

    // The right key works, the scheme in any case; health and the document need none.
    let ok = app
        .http
        .get(app.url("/v1/tokens?entity=alice"))
        .header("authorization", format!("bearer {ACME}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(app.get_path("/healthz").await.status(), 200);
    assert_eq!(app.get_path("/openapi.json").await.status(), 200);
}

#[tokio::test]
async fn a_tenant_never_sees_another_tenants_tokens() {
    let app = app_with_two_tenants(0).await;
    let acme = create_as(&app, ACME, "alice").await;
    let token = acme["token"].as_str().unwrap();
    let code = acme["code"].as_str().unwrap();
    let as_globex = |builder: reqwest::RequestBuilder| builder.bearer_auth(GLOBEX).send();

    let get = as_globex(app.http.get(app.url(&format!("/v1/tokens/{token}"))))
        .await
        .unwrap();
    assert_error(get, 404, "not_found").await;
    let pair = as_globex(
        app.http
            .post(app.url(&format!("/v1/tokens/{token}/pair")))
            .json(&json!({ "entity": "mallory" })),
    )
    .await
    .unwrap();
    assert_error(pair, 404, "not_found").await;
    let by_code = as_globex(
        app.http
            .post(app.url(&format!("/v1/codes/{code}/pair")))
            .json(&json!({ "entity": "mallory" })),
    )
    .await
    .unwrap();
    assert_error(by_code, 404, "not_found").await;
    let seed_get = as_globex(app.http.get(app.url(&format!("/get/{token}"))))
        .await
        .unwrap();
    assert_error(seed_get, 404, "not_found").await;
    let seed_update = as_globex(app.http.put(app.url(&format!("/update/{token}/mallory"))))
        .await
        .unwrap();
    assert_error(seed_update, 404, "not_found").await;
    let delete = as_globex(app.http.delete(app.url(&format!("/v1/tokens/{token}"))))
        .await
        .unwrap();
    assert_error(delete, 404, "not_found").await;
    let list: Value = as_globex(app.http.get(app.url("/v1/tokens?entity=alice")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));

    // Acme's token is untouched and still Acme's.
    let read: Value = app
        .http
        .get(app.url(&format!("/v1/tokens/{token}")))
        .bearer_auth(ACME)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, acme);
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not() {
    let app = app_with_two_tenants(3).await;
    let list = |key: &'static str| {
        app.http
            .get(app.url("/v1/tokens?entity=alice"))
            .bearer_auth(key)
            .send()
    };
    // The test's clock stands still: every request falls into one clock second.
    for _ in 0..3 {
        assert_eq!(list(ACME).await.unwrap().status(), 200);
    }

    let limited = list(ACME).await.unwrap();

    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1, "the rest of the second, rounded up");
    assert_error(limited, 429, "rate_limited").await;
    assert_eq!(list(GLOBEX).await.unwrap().status(), 200);
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(list(ACME).await.unwrap().status(), 200, "a new second");
}

#[tokio::test]
async fn wrong_keys_are_limited_per_address_and_never_block_the_right_one() {
    let app = app_with_two_tenants(100).await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let response = app
            .http
            .get(app.url("/v1/tokens?entity=alice"))
            .bearer_auth("not-a-key-of-anyone")
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }

    assert!(statuses[..10].iter().all(|&s| s == 401), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let right = app
        .http
        .get(app.url("/v1/tokens?entity=alice"))
        .bearer_auth(ACME)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn without_keys_the_binary_warns_loudly_that_auth_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("t.db").display());
    let server = start_binary(&store, &[]).await;
    assert!(
        server
            .startup_log()
            .iter()
            .any(|l| l.contains("AUTHENTICATION IS OFF")),
        "{:#?}",
        server.startup_log()
    );
    server.kill_9().await;
}

#[tokio::test]
async fn under_lambda_the_binary_refuses_to_start_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem-api"))
        .args([
            "--store",
            &format!("sqlite://{}", dir.path().join("t.db").display()),
        ])
        // Nothing listens there: the binary must stop before it asks.
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env_remove("TANDEM_API_KEYS")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TANDEM_API_KEYS"), "{stderr}");
}

/// Starts the binary with `keys` as `TANDEM_API_KEYS`, which it must refuse: its stderr.
async fn refused_keys(keys: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tandem-api"))
        .args(["--listen", "127.0.0.1:0"])
        .args([
            "--store",
            &format!("sqlite://{}", dir.path().join("t.db").display()),
        ])
        .env("TANDEM_API_KEYS", keys)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "{keys:?} was accepted");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn the_binary_takes_keys_from_the_environment_and_rejects_weak_ones() {
    let stderr = refused_keys("acme:short").await;

    assert!(stderr.contains("shorter than 16"), "{stderr}");
    assert!(
        !stderr.contains("acme:short"),
        "the key must not be echoed: {stderr}"
    );
}

#[tokio::test]
async fn the_binary_refuses_one_key_listed_under_two_tenants() {
    let stderr = refused_keys("acme:shared-key-0123456789,globex:shared-key-0123456789").await;

    assert!(stderr.contains("tenants acme and globex"), "{stderr}");
    assert!(
        !stderr.contains("shared-key"),
        "the key must not be echoed: {stderr}"
    );
}
