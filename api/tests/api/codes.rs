//! Short codes: issued on request, paired case-insensitively, guesses limited.

use std::net::{IpAddr, Ipv4Addr};

use api::clock::Clock as _;
use api::store::GuessWindow;
use chrono::Duration;
use sdk::ShortCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

async fn create_with_code(app: &crate::helpers::TestApp, entity: &str, ttl: u64) -> Value {
    let response = app
        .create(json!({ "entity": entity, "code": true, "ttl_seconds": ttl }))
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// A well-formed code other than `code`.
fn another_code(code: &str) -> &'static str {
    if code == "BCDF-GHJK" {
        "BCDF-GHJL"
    } else {
        "BCDF-GHJK"
    }
}

#[tokio::test]
async fn a_code_is_issued_only_on_request_in_the_shown_form() {
    let app = spawn_app().await;
    let with = create_with_code(&app, "tv", 600).await;
    let code = with["code"].as_str().unwrap();
    assert_eq!(code.len(), 9);
    assert_eq!(&code[4..5], "-");
    assert!(
        code.bytes()
            .filter(|b| *b != b'-')
            .all(|b| ShortCode::ALPHABET.contains(&b)),
        "{code}"
    );
    let without: Value = app
        .create(json!({ "entity": "tv" }))
        .await
        .json()
        .await
        .unwrap();
    assert!(without.get("code").is_none(), "{without}");
    let read: Value = app
        .get(with["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["code"], code);
}

#[tokio::test]
async fn pairing_by_code_accepts_any_case_with_or_without_the_dash() {
    let app = spawn_app().await;
    let created = create_with_code(&app, "tv", 600).await;
    let code = created["code"].as_str().unwrap();
    let typed = code.replace('-', "").to_lowercase();

    let response = app.pair_code(&typed, "phone").await;

    assert_eq!(response.status(), 200);
    let paired: Value = response.json().await.unwrap();
    assert_eq!(paired["token"], created["token"]);
    assert_eq!(paired["entity_b"], "phone");
    // A retry by the entity that paired gets its pairing again.
    assert_eq!(app.pair_code(code, "phone").await.status(), 200);
}

#[tokio::test]
async fn a_used_or_deleted_code_answers_exactly_as_one_that_never_existed() {
    let app = spawn_app().await;
    let used = create_with_code(&app, "tv", 600).await;
    let deleted = create_with_code(&app, "radio", 600).await;
    let (used_code, deleted_code) = (
        used["code"].as_str().unwrap(),
        deleted["code"].as_str().unwrap(),
    );
    let never = another_code(used_code);
    let never = if never == deleted_code {
        another_code(deleted_code)
    } else {
        never
    };
    assert_eq!(app.pair_code(used_code, "phone").await.status(), 200);
    let token = deleted["token"].as_str().unwrap();
    let deletion = app
        .http
        .delete(app.url(&format!("/v1/tokens/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deletion.status(), 204);

    let unknown = assert_error(app.pair_code(never, "intruder").await, 404, "not_found").await;
    let after_use =
        assert_error(app.pair_code(used_code, "intruder").await, 404, "not_found").await;
    let after_delete = assert_error(
        app.pair_code(deleted_code, "intruder").await,
        404,
        "not_found",
    )
    .await;

    assert_eq!(after_use, unknown);
    assert_eq!(after_delete, unknown);
    // By token, the pairing rules still say why.
    let by_token = app.pair(used["token"].as_str().unwrap(), "intruder").await;
    assert_error(by_token, 409, "already_paired").await;
}

#[tokio::test]
async fn a_code_lives_fifteen_minutes_unless_asked_otherwise_and_never_past_its_token() {
    let app = spawn_app().await;
    let short = create_with_code(&app, "tv", 86_400).await;
    let long = app
        .create(json!({ "entity": "radio", "code": true, "ttl_seconds": 86_400, "code_ttl_seconds": 3_600 }))
        .await;
    assert_eq!(long.status(), 201);
    let long: Value = long.json().await.unwrap();
    let outliving = app
        .create(
            json!({ "entity": "tv", "code": true, "ttl_seconds": 600, "code_ttl_seconds": 601 }),
        )
        .await;
    let too_short = app
        .create(json!({ "entity": "tv", "code": true, "code_ttl_seconds": 30 }))
        .await;

    app.clock.advance(Duration::minutes(15));

    let message = assert_error(outliving, 422, "invalid_field").await;
    assert!(message.contains("code_ttl_seconds"), "{message}");
    let message = assert_error(too_short, 422, "invalid_field").await;
    assert!(message.contains("code_ttl_seconds"), "{message}");
    let expired = app
        .pair_code(short["code"].as_str().unwrap(), "phone")
        .await;
    assert_error(expired, 404, "not_found").await;
    let token: Value = app
        .get(short["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(token["status"], "pending", "the token outlives its code");
    assert_eq!(
        app.pair_code(long["code"].as_str().unwrap(), "phone")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn each_code_pairs_its_own_token_and_not_oneself() {
    let app = spawn_app().await;
    let first = create_with_code(&app, "tv-1", 600).await;
    let second = create_with_code(&app, "tv-2", 600).await;
    assert_ne!(first["code"], second["code"]);

    assert_error(
        app.pair_code(second["code"].as_str().unwrap(), "tv-2")
            .await,
        422,
        "same_entity",
    )
    .await;
    let paired: Value = app
        .pair_code(second["code"].as_str().unwrap(), "phone")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paired["token"], second["token"]);
    let first_now: Value = app
        .get(first["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first_now["status"], "pending");
}

#[tokio::test]
async fn unknown_malformed_and_expired_codes_are_404() {
    let app = spawn_app().await;
    let created = create_with_code(&app, "tv", 60).await;
    let code = created["code"].as_str().unwrap().to_owned();
    for bad in ["BCDF-GHJK", "nope", "AAAA-AAAA", "BCDF-GHJK-L"] {
        if bad != code {
            assert_error(app.pair_code(bad, "phone").await, 404, "not_found").await;
        }
    }

    app.clock.advance(Duration::seconds(60));

    assert_error(app.pair_code(&code, "phone").await, 404, "not_found").await;
}

/// `POST /v1/codes/{code}/pair` for `entity`, naming `end_user` when given.
async fn pair_code_as(
    app: &crate::helpers::TestApp,
    code: &str,
    entity: &str,
    end_user: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url(&format!("/v1/codes/{code}/pair")))
        .json(&json!({ "entity": entity }));
    if let Some(user) = end_user {
        request = request.header("Tandem-End-User", user);
    }
    request.send().await.unwrap()
}

/// Moves the app's clock to five minutes before the end of its guess window, and returns
/// how many seconds are left of it.
fn near_the_end_of_the_hour(app: &crate::helpers::TestApp) -> i64 {
    let now = app.clock.now();
    let end = GuessWindow::containing(now).end();
    let left = Duration::minutes(5);
    if end - now > left {
        app.clock.advance(end - now - left);
    }
    (GuessWindow::containing(app.clock.now()).end() - app.clock.now()).num_seconds()
}

#[tokio::test]
async fn after_twenty_failures_in_the_hour_every_attempt_is_429_until_the_hour_ends() {
    let app = spawn_app().await;
    let left = near_the_end_of_the_hour(&app);
    let created = create_with_code(&app, "tv", 3600).await;
    let code = created["code"].as_str().unwrap();
    let wrong = another_code(code);
    for _ in 0..20 {
        assert_error(app.pair_code(wrong, "phone").await, 404, "not_found").await;
    }

    let limited = app.pair_code(code, "phone").await;

    let retry_after: i64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (left..=left + 1).contains(&retry_after),
        "Retry-After {retry_after}, {left} s left of the hour"
    );
    assert_error(limited, 429, "rate_limited").await;
    let read: Value = app
        .get(created["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        read["status"], "pending",
        "the refused attempt changed nothing"
    );

    app.clock.advance(Duration::seconds(retry_after));

    assert_eq!(
        app.pair_code(code, "phone").await.status(),
        200,
        "a new hour"
    );
}

#[tokio::test]
async fn only_failures_count_and_a_malformed_code_is_one() {
    let app = spawn_app().await;
    near_the_end_of_the_hour(&app);
    let target = create_with_code(&app, "tv", 3600).await;
    let code = target["code"].as_str().unwrap();
    for _ in 0..19 {
        assert_error(app.pair_code("nope", "phone").await, 404, "not_found").await;
    }
    // Twenty successes, and a presenter's retries, in the middle count nothing.
    for i in 0..20 {
        let other = create_with_code(&app, &format!("radio-{i}"), 3600).await;
        let other_code = other["code"].as_str().unwrap();
        assert_eq!(app.pair_code(other_code, "phone").await.status(), 200);
        assert_eq!(app.pair_code(other_code, "phone").await.status(), 200);
    }
    // Entity A presenting its own code is refused, and is no guess.
    assert_error(app.pair_code(code, "tv").await, 422, "same_entity").await;

    assert_error(
        app.pair_code(another_code(code), "phone").await,
        404,
        "not_found",
    )
    .await;
    assert_error(app.pair_code(code, "phone").await, 429, "rate_limited").await;
}

#[tokio::test]
async fn failures_count_per_end_user_when_named_else_per_address() {
    let app = spawn_app().await;
    near_the_end_of_the_hour(&app);
    let created = create_with_code(&app, "tv", 3600).await;
    let code = created["code"].as_str().unwrap();
    let wrong = another_code(code);
    for _ in 0..20 {
        let failed = pair_code_as(&app, wrong, "phone", Some("user-1")).await;
        assert_error(failed, 404, "not_found").await;
    }
    let user_1 = pair_code_as(&app, code, "phone", Some("user-1")).await;
    assert_error(user_1, 429, "rate_limited").await;
    // Nobody else behind the same address is locked out: not another user, not requests
    // that name none.
    assert_eq!(
        pair_code_as(&app, code, "phone", Some("user-2"))
            .await
            .status(),
        200
    );

    let second = create_with_code(&app, "tv", 3600).await;
    let second_code = second["code"].as_str().unwrap();
    for _ in 0..20 {
        assert_error(
            app.pair_code(another_code(second_code), "phone").await,
            404,
            "not_found",
        )
        .await;
    }
    assert_error(
        app.pair_code(second_code, "phone").await,
        429,
        "rate_limited",
    )
    .await;
    // The same tenant from another address of the loopback network, 127.0.0.2.
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap();
    let paired = elsewhere
        .post(app.url(&format!("/v1/codes/{second_code}/pair")))
        .json(&json!({ "entity": "phone" }))
        .send()
        .await
        .unwrap();
    assert_eq!(paired.status(), 200, "127.0.0.2 has failures left");
}

#[tokio::test]
async fn a_malformed_end_user_is_422_and_counts_nothing() {
    let app = spawn_app().await;
    let created = create_with_code(&app, "tv", 600).await;
    let code = created["code"].as_str().unwrap();
    for bad in [String::new(), "two words".to_owned(), "u".repeat(256)] {
        let refused = pair_code_as(&app, code, "phone", Some(&bad)).await;
        assert_error(refused, 422, "invalid_field").await;
    }
    let stats: Value = app.get_path("/v1/stats").await.json().await.unwrap();
    assert_eq!(stats["code_failures"], 0);
}

#[tokio::test]
async fn stats_show_the_tenants_failures_and_the_budget_left() {
    let app = spawn_app().await;
    near_the_end_of_the_hour(&app);
    for user in ["a", "b", "c"] {
        let failed = pair_code_as(&app, "BCDF-GHJK", "phone", Some(user)).await;
        assert_error(failed, 404, "not_found").await;
    }

    let stats: Value = app.get_path("/v1/stats").await.json().await.unwrap();

    assert_eq!(stats["code_failures"], 3, "{stats}");
    assert_eq!(stats["code_failures_left"], 997, "{stats}");
    app.clock.advance(Duration::minutes(5));
    let next_hour: Value = app.get_path("/v1/stats").await.json().await.unwrap();
    assert_eq!(next_hour["code_failures"], 0, "{next_hour}");
    assert_eq!(next_hour["code_failures_left"], 1000, "{next_hour}");
}
