//! Pairing is exactly-once under concurrency.

use futures::future::join_all;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_fifty_concurrent_pairings_exactly_one_wins() {
    let app = spawn_app().await;
    let token = app.create_for("alice").await;

    let attempts = (0..50).map(|i| {
        let app = &app;
        let token = token.clone();
        async move {
            (
                i,
                app.pair(&token, &format!("bob-{i}"))
                    .await
                    .status()
                    .as_u16(),
            )
        }
    });
    let results = join_all(attempts).await;

    let winners: Vec<_> = results.iter().filter(|(_, s)| *s == 200).collect();
    let conflicts = results.iter().filter(|(_, s)| *s == 409).count();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(conflicts, 49, "{results:?}");
    let winner = format!("bob-{}", winners[0].0);
    let record: serde_json::Value = app.get(&token).await.json().await.unwrap();
    assert_eq!(record["entity_b"], winner.as_str());
    // The winner's retry is idempotent; a loser's is still a conflict.
    assert_eq!(app.pair(&token, &winner).await.status(), 200);
    let loser = if winners[0].0 == 0 { "bob-1" } else { "bob-0" };
    assert_eq!(app.pair(&token, loser).await.status(), 409);
}
