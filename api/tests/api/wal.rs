//! The SQLite store's write-ahead log under a burst of the load-test mix: it stays under
//! its bound, and is emptied once the writes stop. Sizes, not timings, are asserted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::start_binary;

/// The bound the binary is given, in MiB (small, so that a short burst must restart the log
/// several times).
const LIMIT_MIB: u64 = 4;

/// The burst lasts until its writes, one page each at least, make three times the bound;
/// a slow or busy machine takes longer, up to this.
const LONGEST_BURST: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_the_mix_keeps_the_wal_under_its_bound_and_idle_empties_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tandem.db");
    let wal = dir.path().join("tandem.db-wal");
    let limit = LIMIT_MIB.to_string();
    let server = start_binary(
        &format!("sqlite://{}", db.display()),
        &["--sqlite-wal-limit-mb", &limit],
    )
    .await;
    let writes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let bound = LIMIT_MIB * 1024 * 1024;

    // Arrange: eight users run the mix as fast as they can; a sampler watches the WAL.
    let users: Vec<_> = (0..8)
        .map(|user| {
            let address = server.address().to_owned();
            let (writes, stop) = (writes.clone(), stop.clone());
            tokio::spawn(async move { run_mix(&address, user, &stop, &writes).await })
        })
        .collect();
    let sampler = {
        let (wal, stop) = (wal.clone(), stop.clone());
        tokio::spawn(async move {
            let mut largest = 0;
            while !stop.load(Ordering::Relaxed) {
                largest = largest.max(size(&wal));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            largest
        })
    };
    let started = Instant::now();
    while writes.load(Ordering::Relaxed) * 4096 <= 3 * bound && started.elapsed() < LONGEST_BURST {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for user in users {
        user.await.unwrap();
    }
    let largest = sampler.await.unwrap();

    // Assert: the burst wrote well past the bound, yet the log never passed it.
    let written = writes.load(Ordering::Relaxed);
    assert!(
        written * 4096 > 2 * bound,
        "only {written} writes in {LONGEST_BURST:?}: too few to test the bound"
    );
    assert!(largest > 0, "the sampler never saw the WAL");
    assert!(
        largest <= bound,
        "the WAL reached {largest} bytes, over its bound of {bound}"
    );

    // Once writes stop, the log is emptied within 10 s.
    let idle_since = Instant::now();
    while size(&wal) > 0 && idle_since.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(size(&wal), 0, "the WAL was not emptied within 10 s of idle");
    server.kill_9().await;
}

fn size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The load test's mix, checked: create → get → pair, or create → get → delete.
async fn run_mix(address: &str, user: usize, stop: &AtomicBool, writes: &AtomicU64) {
    let http = reqwest::Client::new();
    for flow in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let entity = format!("wal-{user}-{flow}");
        let created: Value = http
            .post(format!("{address}/v1/tokens"))
            .json(&json!({ "entity": entity }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = created["token"].as_str().expect("a token").to_owned();
        let url = format!("{address}/v1/tokens/{token}");
        assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
        let status = if flow % 2 == 0 {
            let pair = http
                .post(format!("{url}/pair"))
                .json(&json!({ "entity": format!("{entity}-b") }))
                .send()
                .await
                .unwrap();
            pair.status()
        } else {
            http.delete(&url).send().await.unwrap().status()
        };
        assert!(status.is_success(), "{status}");
        writes.fetch_add(2, Ordering::Relaxed);
    }
}
