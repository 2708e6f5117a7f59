//! What an operator does in the dashboard, end to end.

use std::time::Instant;

use sdk::{CreateToken, EntityId, Token};

use crate::helpers::{Api, Browser, unique};

#[tokio::test]
async fn a_token_created_in_the_dashboard_turns_paired_live_and_can_be_listed_and_deleted() {
    let api = Api::start().await;
    // Tall enough for the README's screenshot to show the whole card.
    let browser = Browser::start(1280, 1120).await;
    let alice = unique("user:alice");
    browser.open(&api.url("/")).await;

    // Create: the token, its short code and QR code appear, pending.
    browser.fill("#create-entity", &alice).await;
    browser.fill("#create-label", "Living-room TV").await;
    browser.click("#create-submit").await;
    let card = browser.wait_for("#create-result .token-card").await;
    let token = card
        .attr("data-token")
        .await
        .unwrap()
        .expect("the card names its token");
    let token = Token::parse(token).expect("a well-formed token");
    assert_eq!(
        browser.text("#create-result .token").await,
        token.to_string()
    );
    assert_eq!(
        browser.text("#create-result .status").await.to_lowercase(),
        "pending"
    );
    assert_eq!(browser.text("#create-result h3").await, "Living-room TV");
    let code = browser.text("#create-result .code").await;
    assert!(sdk::ShortCode::parse(&code).is_ok(), "short code {code:?}");
    let qr = browser.wait_for("#create-result .qr-image svg").await;
    assert!(
        qr.html(false).await.unwrap().contains("<path"),
        "the QR code is drawn"
    );
    let link = browser
        .wait_for("#create-result .deep-link")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link, api.url(&format!("/#pair={token}")));
    let record = api.sdk().get_token(&token).await.expect("the API has it");
    assert_eq!(record.entity_a.to_string(), alice);
    assert_eq!(record.code.map(|c| c.to_string()), Some(code));

    // Pair through the API, elsewhere: the page turns paired by itself.
    let tv = EntityId::parse("device:tv-42").unwrap();
    let paired_at = Instant::now();
    api.sdk()
        .pair(&token, &tv)
        .await
        .expect("pair through the API");
    browser
        .wait_for("#create-result .token-card[data-status='paired']")
        .await;
    eprintln!(
        "the page showed the pairing {} ms after the pair request was sent",
        paired_at.elapsed().as_millis()
    );
    assert_eq!(
        browser.text("#create-result .status").await.to_lowercase(),
        "paired"
    );
    assert_eq!(
        browser.text("#create-result .entity-b").await,
        "device:tv-42"
    );
    browser.screenshot("dashboard").await;

    // List by entity: it is there, paired.
    browser.click("#tab-list").await;
    browser.fill("#list-entity", &alice).await;
    browser.click("#list-submit").await;
    let row = format!("#list-result .list-item[data-token='{token}']");
    browser
        .wait_for(&format!("{row}[data-status='paired']"))
        .await;
    assert!(browser.text(&row).await.contains("device:tv-42"));

    // Delete, confirming first: it leaves the list and the API.
    browser.click(&format!("{row} .ask-delete")).await;
    assert!(browser.text(&row).await.contains("cannot be undone"));
    browser.click(&format!("{row} .confirm-delete")).await;
    browser.wait_until_gone(&row).await;
    assert_eq!(
        browser.text("#list-result .empty").await,
        "No pairings for this entity."
    );
    let error = api.sdk().get_token(&token).await.expect_err("deleted");
    assert_eq!(error.status(), Some(404));
    // The card on the Create page learns it too.
    browser
        .wait_for("#create-result .token-card[data-status='gone']")
        .await;

    browser.close().await;
}

#[tokio::test]
async fn pairing_an_unknown_token_shows_the_apis_message() {
    let api = Api::start().await;
    let browser = Browser::start(1280, 900).await;
    let unknown = Token::parse(unique("nosuchtoken")).unwrap();
    let expected = api
        .sdk()
        .pair(&unknown, &EntityId::parse("device:tv").unwrap())
        .await
        .expect_err("the token does not exist");
    let sdk::Error::Api {
        status: 404,
        message,
        ..
    } = expected
    else {
        panic!("expected a 404 from the API, got {expected:?}");
    };
    browser.open(&api.url("/")).await;

    browser.click("#tab-pair").await;
    browser.fill("#pair-input", unknown.as_str()).await;
    browser.fill("#pair-entity", "device:tv").await;
    browser.click("#pair-submit").await;

    let shown = browser.text("#pair-result .error").await;
    assert!(
        shown.contains(&message),
        "{shown:?} should contain {message:?}"
    );
    assert!(
        browser
            .client
            .find_all(fantoccini::Locator::Css("#pair-result .token-card"))
            .await
            .unwrap()
            .is_empty()
    );
    browser.close().await;
}

#[tokio::test]
async fn input_that_is_neither_token_nor_code_is_refused_before_anything_is_sent() {
    let api = Api::start().await;
    let browser = Browser::start(1280, 900).await;
    browser.open(&api.url("/")).await;

    browser.click("#tab-pair").await;
    browser.fill("#pair-input", "not a token!").await;
    browser.fill("#pair-entity", "device:tv").await;
    browser.click("#pair-submit").await;

    let shown = browser.text("#page-pair .error").await;
    assert!(
        shown.contains("neither a token nor a short code"),
        "{shown}"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_deep_link_opens_the_pair_page_and_a_typed_short_code_pairs() {
    let api = Api::start().await;
    let browser = Browser::start(1280, 900).await;
    let by_link = api
        .sdk()
        .create_token(&CreateToken::new(
            &EntityId::parse(unique("user:a")).unwrap(),
        ))
        .await
        .unwrap();
    let by_code = api
        .sdk()
        .create_token(&CreateToken::new(&EntityId::parse(unique("user:b")).unwrap()).with_code())
        .await
        .unwrap();

    // The QR code's link: the Pair page, filled with the token.
    browser
        .open(&api.url(&format!("/#pair={}", by_link.token)))
        .await;
    let input = browser.wait_for("#pair-input").await;
    assert_eq!(
        input.prop("value").await.unwrap().as_deref(),
        Some(by_link.token.as_str())
    );
    browser.fill("#pair-entity", "device:phone").await;
    browser.click("#pair-submit").await;
    browser
        .wait_for("#pair-result .token-card[data-status='paired']")
        .await;
    let paired = api.sdk().get_token(&by_link.token).await.unwrap();
    assert_eq!(paired.entity_b.unwrap().as_str(), "device:phone");

    // A short code typed in lower case without its dash.
    let code = by_code
        .code
        .expect("a code was asked for")
        .letters()
        .to_lowercase();
    browser.fill("#pair-input", &code).await;
    browser.fill("#pair-entity", "device:tv").await;
    browser.click("#pair-submit").await;
    browser
        .wait_for(&format!(
            "#pair-result .token-card[data-token='{}'][data-status='paired']",
            by_code.token
        ))
        .await;
    let paired = api.sdk().get_token(&by_code.token).await.unwrap();
    assert_eq!(paired.entity_b.unwrap().as_str(), "device:tv");

    // Another link followed in the open tab, on another page: only the fragment changes.
    let later = api
        .sdk()
        .create_token(&CreateToken::new(
            &EntityId::parse(unique("user:c")).unwrap(),
        ))
        .await
        .unwrap();
    browser.click("#tab-create").await;
    browser
        .eval(&format!("location.hash = 'pair={}'", later.token))
        .await;
    browser.wait_for("#tab-pair.active").await;
    let input = browser.wait_for("#pair-input").await;
    assert_eq!(
        input.prop("value").await.unwrap().as_deref(),
        Some(later.token.as_str())
    );
    browser.close().await;
}

#[tokio::test]
async fn the_api_key_is_asked_for_kept_in_the_browser_and_sent() {
    let key = "dashboard-test-key-0123456789";
    let api = Api::start_with_keys(Some(&format!("acme:{key}"))).await;
    let browser = Browser::start(1280, 900).await;
    browser.open(&api.url("/")).await;

    // Without the key: the API's 401, in words, with what to do.
    browser.fill("#create-entity", "user:keyed").await;
    browser.click("#create-submit").await;
    let shown = browser.text("#create-result .error").await;
    assert!(shown.contains("a valid API key is required"), "{shown}");
    assert!(shown.contains("API key"), "{shown}");

    // With it: created, for the key's tenant.
    browser.fill("#api-key", key).await;
    browser.click("#create-submit").await;
    let card = browser.wait_for("#create-result .token-card").await;
    let token = Token::parse(card.attr("data-token").await.unwrap().unwrap()).unwrap();
    let record = api.sdk().with_api_key(key).get_token(&token).await.unwrap();
    assert_eq!(record.entity_a.as_str(), "user:keyed");

    // Kept in this browser across visits.
    browser.client.refresh().await.unwrap();
    let field = browser.wait_for("#api-key").await;
    assert_eq!(field.prop("value").await.unwrap().as_deref(), Some(key));
    browser.close().await;
}

#[tokio::test]
async fn lookup_and_stats_show_what_the_api_holds() {
    let api = Api::start().await;
    let browser = Browser::start(1280, 900).await;
    let client = api.sdk();
    let entity = EntityId::parse(unique("user:s")).unwrap();
    let first = client
        .create_token(&CreateToken::new(&entity))
        .await
        .unwrap();
    client
        .create_token(&CreateToken::new(&entity))
        .await
        .unwrap();
    client
        .pair(&first.token, &EntityId::parse("device:x").unwrap())
        .await
        .unwrap();
    browser.open(&api.url("/")).await;

    browser.click("#tab-lookup").await;
    browser.fill("#lookup-input", first.token.as_str()).await;
    browser.click("#lookup-submit").await;
    browser
        .wait_for(&format!(
            "#lookup-result .token-card[data-token='{}'][data-status='paired']",
            first.token
        ))
        .await;

    browser.click("#tab-stats").await;
    browser
        .wait_for("#stats-result [data-stat='pending'] dd")
        .await;
    assert_eq!(
        browser.text("#stats-result [data-stat='pending'] dd").await,
        "1"
    );
    assert_eq!(
        browser.text("#stats-result [data-stat='paired'] dd").await,
        "1"
    );
    let p50 = browser.text("#stats-result [data-stat='p50'] dd").await;
    assert!(
        p50.ends_with(" ms") || p50.ends_with(" s"),
        "time to pair {p50:?}"
    );
    browser.close().await;
}

#[tokio::test]
async fn the_dashboard_fits_a_phone_screen() {
    let api = Api::start().await;
    let browser = Browser::phone().await;
    browser.open(&api.url("/")).await;
    assert_eq!(browser.eval("return window.innerWidth;").await, 375);
    browser.fill("#create-entity", &unique("user:phone")).await;
    browser.click("#create-submit").await;
    browser.wait_for("#create-result .token-card").await;

    let overflow = browser
        .eval("return document.documentElement.scrollWidth - window.innerWidth;")
        .await;
    assert!(
        overflow.as_i64().is_some_and(|px| px <= 0),
        "the page is {overflow} px wider than a 375 px screen"
    );
    browser.screenshot("dashboard-phone").await;
    browser.close().await;
}

#[tokio::test]
async fn a_long_list_pages_older_and_back() {
    let api = Api::start().await;
    let browser = Browser::start(1280, 900).await;
    let entity = EntityId::parse(unique("user:many")).unwrap();
    let mut created = Vec::new();
    for _ in 0..12 {
        created.push(
            api.sdk()
                .create_token(&CreateToken::new(&entity))
                .await
                .unwrap()
                .token,
        );
    }
    browser.open(&api.url("/")).await;

    browser.click("#tab-list").await;
    browser.fill("#list-entity", entity.as_str()).await;
    browser.click("#list-submit").await;
    browser.wait_for("#list-next").await;
    let first_page = tokens_listed(&browser).await;
    assert_eq!(first_page.len(), 10);
    assert!(
        browser
            .client
            .find_all(fantoccini::Locator::Css("#list-previous"))
            .await
            .unwrap()
            .is_empty()
    );

    browser.click("#list-next").await;
    browser.wait_for("#list-previous").await;
    let second_page = tokens_listed(&browser).await;
    assert_eq!(second_page.len(), 2);
    let mut everything: Vec<String> = first_page.iter().chain(&second_page).cloned().collect();
    everything.sort();
    let mut expected: Vec<String> = created.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(everything, expected, "the two pages hold every token once");

    browser.click("#list-previous").await;
    browser.wait_for("#list-next").await;
    assert_eq!(tokens_listed(&browser).await, first_page);
    browser.close().await;
}

/// The tokens the list shows, in order.
async fn tokens_listed(browser: &Browser) -> Vec<String> {
    let mut tokens = Vec::new();
    for row in browser
        .client
        .find_all(fantoccini::Locator::Css("#list-result .list-item"))
        .await
        .unwrap()
    {
        tokens.push(row.attr("data-token").await.unwrap().unwrap());
    }
    tokens
}
