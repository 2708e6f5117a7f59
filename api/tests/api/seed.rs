//! The original project's routes and its flow.

use serde_json::Value;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn the_seed_flow_create_get_update_get_delete_get_works() {
    let app = spawn_app().await;

    let created = app
        .http
        .post(app.url("/create/chat-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(created["entity_a"], "chat-1");
    assert_eq!(created["status"], "pending");

    let got: Value = app
        .get_path(&format!("/get/{token}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, created);

    let updated = app
        .http
        .put(app.url(&format!("/update/{token}/chat-2")))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["entity_b"], "chat-2");
    assert_eq!(updated["status"], "paired");

    let got: Value = app
        .get_path(&format!("/get/{token}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, updated);

    let deleted = app
        .http
        .delete(app.url(&format!("/delete/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(deleted.json::<Value>().await.unwrap(), updated);

    assert_error(
        app.get_path(&format!("/get/{token}")).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn seed_routes_share_records_and_rules_with_v1() {
    let app = spawn_app().await;
    let token = app.create_for("alice").await;

    let self_pair = app
        .http
        .put(app.url(&format!("/update/{token}/alice")))
        .send()
        .await
        .unwrap();
    assert_error(self_pair, 422, "same_entity").await;
    assert_eq!(app.pair(&token, "bob").await.status(), 200);
    let conflict = app
        .http
        .put(app.url(&format!("/update/{token}/carol")))
        .send()
        .await
        .unwrap();
    assert_error(conflict, 409, "already_paired").await;
    let v1: Value = app.get(&token).await.json().await.unwrap();
    let seed: Value = app
        .get_path(&format!("/get/{token}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v1, seed);
}

#[tokio::test]
async fn seed_routes_reject_bad_input_with_the_json_shape() {
    let app = spawn_app().await;
    let long = "e".repeat(257);
    let response = app
        .http
        .post(app.url(&format!("/create/{long}")))
        .send()
        .await
        .unwrap();
    assert_error(response, 422, "invalid_field").await;
    let response = app
        .http
        .post(app.url("/create/a%0Ab"))
        .send()
        .await
        .unwrap();
    assert_error(response, 422, "invalid_field").await;
    assert_error(app.get_path("/get/nope").await, 404, "not_found").await;
    let response = app
        .http
        .put(app.url("/update/nope/bob"))
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "not_found").await;
    let response = app
        .http
        .delete(app.url("/delete/nope"))
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "not_found").await;
}
