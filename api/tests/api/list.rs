//! `GET /v1/tokens?entity=…`: both sides, newest first, paged by an opaque cursor.

use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

async fn page(app: &crate::helpers::TestApp, query: &str) -> Value {
    let response = app.get_path(&format!("/v1/tokens?{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn tokens(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["token"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn listing_finds_an_entity_on_either_side_newest_first() {
    let app = spawn_app().await;
    let as_a = app.create_for("alice").await;
    app.clock.advance(chrono::Duration::seconds(1));
    let as_b = app.create_for("bob").await;
    assert_eq!(app.pair(&as_b, "alice").await.status(), 200);
    app.clock.advance(chrono::Duration::seconds(1));
    let unrelated = app.create_for("carol").await;

    let alice = page(&app, "entity=alice").await;

    assert_eq!(tokens(&alice), vec![as_b.clone(), as_a.clone()]);
    assert_eq!(alice["next_cursor"], Value::Null);
    assert_eq!(tokens(&page(&app, "entity=carol").await), vec![unrelated]);
    assert_eq!(
        tokens(&page(&app, "entity=nobody").await),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn an_entity_b_sees_its_pairings_newest_pairing_first() {
    let app = spawn_app().await;
    let older = app.create_for("bob").await;
    app.clock.advance(chrono::Duration::seconds(1));
    let newer = app.create_for("carol").await;
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(app.pair(&newer, "alice").await.status(), 200);
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(app.pair(&older, "alice").await.status(), 200);
    app.clock.advance(chrono::Duration::seconds(1));
    let own = app.create_for("alice").await;

    let first = page(&app, "entity=alice&limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = page(&app, &format!("entity=alice&limit=2&cursor={cursor}")).await;

    // By when alice joined each: created her own, then the pairings, latest first.
    assert_eq!(tokens(&first), vec![own, older]);
    assert_eq!(tokens(&second), vec![newer]);
    assert_eq!(second["next_cursor"], Value::Null);
}

#[tokio::test]
async fn paging_with_the_cursor_visits_every_record_once() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create_for("dana").await);
        // Every other record shares its millisecond with the previous one.
        if i % 2 == 1 {
            app.clock.advance(chrono::Duration::milliseconds(1));
        }
    }

    let mut seen = Vec::new();
    let mut query = "entity=dana&limit=3".to_owned();
    let mut pages = 0;
    loop {
        let body = page(&app, &query).await;
        pages += 1;
        let items = tokens(&body);
        assert!(items.len() <= 3);
        seen.extend(items);
        match body["next_cursor"].as_str() {
            Some(cursor) => query = format!("entity=dana&limit=3&cursor={cursor}"),
            None => break,
        }
    }

    assert_eq!(pages, 3);
    let mut expected = created.clone();
    expected.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, expected, "each record exactly once");
    // The last record is alone in the newest millisecond, so it comes first.
    assert_eq!(seen.first(), created.last());
}

#[tokio::test]
async fn deleted_records_leave_the_listing() {
    let app = spawn_app().await;
    let token = app.create_for("erin").await;
    assert_eq!(app.delete(&token).await.status(), 204);
    assert_eq!(page(&app, "entity=erin").await["items"], json!([]));
}

#[tokio::test]
async fn entity_in_the_query_is_percent_decoded() {
    let app = spawn_app().await;
    let token = app.create_for("chat:42 ü").await;
    let body = page(&app, "entity=chat%3A42%20%C3%BC").await;
    assert_eq!(tokens(&body), vec![token]);
}

#[tokio::test]
async fn bad_list_queries_are_422() {
    let app = spawn_app().await;
    for query in [
        "",
        "entity=",
        "entity=a&limit=0",
        "entity=a&limit=101",
        "entity=a&limit=ten",
        "entity=a&limit=-1",
        "entity=a&cursor=not-a-cursor",
        "entity=a&cursor=",
    ] {
        let response = app.get_path(&format!("/v1/tokens?{query}")).await;
        assert_error(response, 422, "invalid_field").await;
    }
    assert_eq!(
        app.get_path("/v1/tokens?entity=a&limit=100").await.status(),
        200
    );
}
