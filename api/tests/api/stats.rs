//! `GET /v1/stats`: the tenant's counts and time-to-pair.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn stats_count_pending_paired_deleted_and_expired_and_time_to_pair() {
    let app = spawn_app().await;
    let empty: Value = app.get_path("/v1/stats").await.json().await.unwrap();
    assert_eq!(
        empty,
        json!({ "pending": 0, "paired": 0, "deleted": 0, "expired": 0,
                "time_to_pair_p50_ms": null, "time_to_pair_p95_ms": null,
                "code_failures": 0, "code_failures_left": 1000 })
    );

    let expiring = app
        .create(json!({ "entity": "a", "ttl_seconds": 60 }))
        .await;
    assert_eq!(expiring.status(), 201);
    let pending = app.create_for("b").await;
    let fast = app.create_for("c").await;
    let slow = app.create_for("d").await;
    let deleted = app.create_for("e").await;
    app.clock.advance(Duration::seconds(2));
    assert_eq!(app.pair(&fast, "x").await.status(), 200);
    app.clock.advance(Duration::seconds(58));
    assert_eq!(app.pair(&slow, "y").await.status(), 200);
    assert_eq!(app.delete(&deleted).await.status(), 204);

    let stats: Value = app.get_path("/v1/stats").await.json().await.unwrap();

    assert_eq!(stats["pending"], 1, "{stats} ({pending} is pending)");
    assert_eq!(stats["paired"], 2, "{stats}");
    assert_eq!(stats["deleted"], 1, "{stats}");
    assert_eq!(stats["expired"], 1, "{stats}");
    assert_eq!(stats["time_to_pair_p50_ms"], 2_000, "{stats}");
    assert_eq!(stats["time_to_pair_p95_ms"], 60_000, "{stats}");

    // A day later the windowed counts have moved on; the live ones have not.
    app.clock.advance(Duration::hours(25));
    let later: Value = app.get_path("/v1/stats").await.json().await.unwrap();
    assert_eq!(later["paired"], 2, "{later}");
    assert_eq!(later["deleted"], 0, "{later}");
    assert_eq!(
        later["expired"], 1,
        "the pending token's day ran out: {later}"
    );
    assert_eq!(later["time_to_pair_p50_ms"], Value::Null, "{later}");
}
