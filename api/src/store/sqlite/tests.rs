//! The SQLite store's own behaviour: batches, the bounded queue, the WAL, the purge.

use chrono::Duration as Span;
use sdk::EntityId;

use super::*;

fn record(token: &str, created_at: DateTime<Utc>, ttl: Span) -> NewToken {
    NewToken {
        record: TokenRecord {
            token: Token::parse(token).unwrap(),
            code: None,
            entity_a: EntityId::parse("a").unwrap(),
            entity_b: None,
            label: None,
            created_at,
            paired_at: None,
            expires_at: Some(created_at + ttl),
        },
        code_expires_at: None,
        pair_ttl: None,
        idempotency: None,
    }
}

fn count(path: &Path, sql: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

/// Has the writer sleep in its current batch, so that what is sent next queues up.
fn hold_the_writer(store: &SqliteStore, for_ms: u64) -> tokio::task::JoinHandle<()> {
    let writer = store.writer.clone();
    tokio::spawn(async move {
        writer
            .run("holding the writer", move |_| {
                std::thread::sleep(std::time::Duration::from_millis(for_ms));
                Ok(())
            })
            .await
            .unwrap();
    })
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_log_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let now = Utc::now();

    store
        .insert(&TenantId::local(), &record("t1", now, Span::hours(1)), now)
        .await
        .unwrap();

    for file in ["t.db", "t.db-wal", "t.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} has mode {:o}", mode & 0o777);
    }
}

#[tokio::test]
async fn a_failing_write_undoes_only_itself_and_the_rest_of_its_batch_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let held = hold_the_writer(&store, 200);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    // Both queue behind the held batch, so they share the next one.
    let write = |sql: &'static str| {
        let writer = store.writer.clone();
        tokio::spawn(async move {
            writer
                .run("a test write", move |conn| {
                    conn.execute_batch(sql)?;
                    // The second statement fails for the failing write only.
                    conn.execute_batch(if sql.contains("bad") {
                        "INSERT INTO no_such_table VALUES (1)"
                    } else {
                        "SELECT 1"
                    })?;
                    Ok(())
                })
                .await
        })
    };
    let good = write("INSERT INTO idempotency VALUES ('t', 'good', 'h', 'r', 9e15)");
    let bad = write("INSERT INTO idempotency VALUES ('t', 'bad', 'h', 'r', 9e15)");
    held.await.unwrap();

    assert!(good.await.unwrap().is_ok());
    assert!(bad.await.unwrap().is_err());
    assert_eq!(
        count(&path, "SELECT COUNT(*) FROM idempotency WHERE key = 'good'"),
        1
    );
    assert_eq!(
        count(&path, "SELECT COUNT(*) FROM idempotency WHERE key = 'bad'"),
        0
    );
}

#[tokio::test]
async fn writes_past_a_full_queue_are_refused_as_overloaded_and_the_queued_ones_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let options = SqliteOptions {
        queue_capacity: 2,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, options).await.unwrap();
    let held = hold_the_writer(&store, 300);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let tenant = TenantId::local();
    let now = Utc::now();
    let queued: Vec<_> = ["queued-1", "queued-2"]
        .into_iter()
        .map(|token| {
            let (store, tenant) = (store.clone(), tenant.clone());
            tokio::spawn(async move {
                store
                    .insert(&tenant, &record(token, now, Span::hours(1)), now)
                    .await
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let refused = store
        .insert(&tenant, &record("refused", now, Span::hours(1)), now)
        .await;

    assert!(
        matches!(refused, Err(StoreError::Overloaded)),
        "{refused:?}"
    );
    held.await.unwrap();
    for insert in queued {
        assert_eq!(insert.await.unwrap().unwrap(), Inserted::Created);
    }
    assert_eq!(count(&path, "SELECT COUNT(*) FROM tokens"), 2);
}

#[tokio::test]
async fn the_wal_is_emptied_once_writes_stop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let now = Utc::now();
    for i in 0..50 {
        let token = format!("token-{i}");
        store
            .insert(
                &TenantId::local(),
                &record(&token, now, Span::hours(1)),
                now,
            )
            .await
            .unwrap();
    }
    let wal = dir.path().join("t.db-wal");
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "the writes are in the WAL"
    );

    let mut emptied = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0 {
            emptied = true;
            break;
        }
    }

    assert!(
        emptied,
        "the WAL is still {} bytes after 5 s idle",
        std::fs::metadata(&wal).unwrap().len()
    );
    assert_eq!(count(&path, "SELECT COUNT(*) FROM tokens"), 50);
}

#[tokio::test]
async fn records_that_expired_over_a_day_ago_are_purged_and_recent_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let now = Utc::now();
    let store = SqliteStore::open(&path).await.unwrap();
    let tenant = TenantId::local();
    for (token, created, ttl) in [
        ("long-gone", now - Span::days(3), Span::minutes(1)),
        ("just-expired", now - Span::hours(2), Span::minutes(1)),
        ("live", now, Span::hours(1)),
    ] {
        store
            .insert(&tenant, &record(token, created, ttl), created)
            .await
            .unwrap();
    }
    drop(store);

    // Opening purges too (and a running store does it once a minute).
    let _reopened = SqliteStore::open(&path).await.unwrap();

    let conn = Connection::open(&path).unwrap();
    let mut left: Vec<String> = conn
        .prepare("SELECT token FROM tokens")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    left.sort();
    assert_eq!(left, ["just-expired", "live"]);
}

fn endpoint(id: &str, now: DateTime<Utc>) -> crate::store::webhooks::StoredWebhook {
    crate::store::webhooks::StoredWebhook {
        webhook: sdk::webhooks::Webhook {
            id: id.to_owned(),
            url: format!("https://{id}.example/hook"),
            events: vec![sdk::webhooks::EventType::TokenPaired],
            description: None,
            enabled: true,
            disabled_reason: None,
            created_at: now,
            previous_secret_until: None,
        },
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        previous_secret: None,
    }
}

#[tokio::test]
async fn a_claim_takes_each_endpoints_oldest_within_its_room_and_holds_them() {
    use crate::store::webhooks::{OutboundEvent, WebhookStore as _};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
    let tenant = TenantId::local();
    let start = Utc::now() - Span::minutes(1);
    for id in ["wh_a", "wh_b"] {
        store
            .create_webhook(&tenant, &endpoint(id, start))
            .await
            .unwrap();
    }
    // A backlog of five for a, queued before b's two.
    for (n, id) in ["wh_a"; 5].into_iter().chain(["wh_b"; 2]).enumerate() {
        let event = OutboundEvent {
            id: format!("evt_{n}"),
            event_type: sdk::webhooks::EventType::WebhookTest,
            at: start + Span::seconds(n as i64),
            body: "{}".to_owned(),
        };
        assert!(store.enqueue_for(&tenant, id, &event).await.unwrap());
    }
    let now = Utc::now();
    let events = |claimed: &[crate::store::webhooks::DueDelivery]| {
        let mut ids: Vec<String> = claimed.iter().map(|d| d.event.id.clone()).collect();
        ids.sort();
        ids
    };

    // a has one send in flight, so room for one more; b has room for two.
    let in_flight = std::collections::HashMap::from([("wh_a".to_owned(), 1)]);
    let first = store
        .claim_deliveries(now, Span::seconds(15), 10, 2, &in_flight)
        .await
        .unwrap();
    // What a claim holds is not taken again; a's next two are.
    let second = store
        .claim_deliveries(now, Span::seconds(15), 10, 2, &Default::default())
        .await
        .unwrap();
    // Past the hold, the deliveries that were never finished are taken again.
    let after_hold = store
        .claim_deliveries(
            now + Span::seconds(16),
            Span::seconds(15),
            10,
            5,
            &Default::default(),
        )
        .await
        .unwrap();

    assert_eq!(events(&first), ["evt_0", "evt_5", "evt_6"]);
    assert_eq!(events(&second), ["evt_1", "evt_2"]);
    assert_eq!(
        events(&after_hold),
        [
            "evt_0", "evt_1", "evt_2", "evt_3", "evt_4", "evt_5", "evt_6"
        ]
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_writer_is_a_batch_thread_so_that_a_write_does_not_preempt_the_requests() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();

    // Read from the writer thread itself, in a write of its own.
    let stat = store
        .writer
        .run("reading the writer's scheduling policy", |_| {
            Ok(std::fs::read_to_string("/proc/thread-self/stat"))
        })
        .await
        .unwrap()
        .unwrap();

    // proc(5): `policy` is field 41; the fields after the name in parentheses start at 3.
    let after_name = stat.rsplit_once(") ").unwrap().1;
    let policy: u32 = after_name
        .split_whitespace()
        .nth(41 - 3)
        .unwrap()
        .parse()
        .unwrap();
    const SCHED_BATCH: u32 = 3;
    assert_eq!(policy, SCHED_BATCH, "{stat}");
}
