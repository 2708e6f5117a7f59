//! The Webhooks page: add an endpoint and see its secret once, send a test event and see its
//! delivery, disable, rotate and delete. The endpoint names `localhost`, which the server
//! refuses to deliver to (a loopback address): the delivery shows why, and nothing is sent.

use crate::helpers::{Api, Browser};

#[tokio::test]
async fn an_endpoint_is_added_tested_disabled_rotated_and_deleted_from_the_dashboard() {
    let api = Api::start().await;
    let browser = Browser::start(1280, 1000).await;
    browser.open(&api.url("/")).await;
    browser.click("#tab-webhooks").await;

    browser
        .fill("#webhook-url", "https://localhost:9/hooks/tandem")
        .await;
    browser.fill("#webhook-description", "orders").await;
    browser.click("#webhook-create").await;
    let secret = browser.text("#webhook-secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let row = browser.wait_for("li.webhook[data-enabled='enabled']").await;
    let id = row
        .attr("data-id")
        .await
        .unwrap()
        .expect("the row names its endpoint");
    let listed = api.sdk().list_webhooks().await.unwrap().items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].description.as_deref(), Some("orders"));

    // A test event: its delivery was tried, and refused before anything was sent.
    browser.click("li.webhook .webhook-test").await;
    let attempted = "li.webhook tr.delivery[data-status='pending']";
    let mut answer = String::new();
    for _ in 0..40 {
        browser.click("li.webhook .webhook-deliveries").await;
        browser
            .wait_for("li.webhook table.deliveries, li.webhook .deliveries")
            .await;
        let found = browser
            .eval(&format!(
                "const r = document.querySelector(\"{attempted} .answer\"); return r ? r.textContent : ''"
            ))
            .await;
        answer = found.as_str().unwrap_or_default().to_owned();
        if answer.contains("loopback") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        answer.contains("loopback"),
        "the delivery's answer: {answer:?}"
    );

    browser.click("li.webhook .webhook-toggle").await;
    browser
        .wait_for("li.webhook[data-enabled='disabled']")
        .await;
    assert!(!api.sdk().get_webhook(&id).await.unwrap().enabled);

    browser.click("li.webhook .webhook-rotate").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while browser.text("#webhook-secret").await == secret {
        assert!(
            std::time::Instant::now() < deadline,
            "the secret was not rotated"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let rotated = api.sdk().get_webhook(&id).await.unwrap();
    assert!(rotated.previous_secret_until.is_some());

    browser.click("li.webhook .webhook-delete").await;
    browser.wait_until_gone("li.webhook").await;
    assert!(api.sdk().list_webhooks().await.unwrap().items.is_empty());
    browser.close().await;
}
