//! Tandem as many instances: two `tandem-api` processes on one store share its limits on
//! failed short-code guesses and each API key's rate, on one SQLite file and on one
//! DynamoDB table.

use std::time::Duration;

use api::store::{DynamoStore, GuessWindow};
use serde_json::{Value, json};
use test_support::RunningBinary;

use crate::helpers::{local_dynamodb_client, start_binary};

/// Failures allowed per end user or address, and per tenant, in these tests.
const PER_GUESSER: u32 = 6;
const PER_TENANT: u32 = 15;

/// Two API processes on `store_url` with `flags`, started at once.
async fn two_started(store_url: &str, flags: &[&str]) -> [RunningBinary; 2] {
    let (one, two) = tokio::join!(
        start_binary(store_url, flags),
        start_binary(store_url, flags)
    );
    [one, two]
}

/// Two API processes on `store_url`, with the test's guess limits.
async fn two_instances(store_url: &str) -> [RunningBinary; 2] {
    let flags = [
        "--code-failures-per-hour",
        &PER_GUESSER.to_string(),
        "--tenant-code-failures-per-hour",
        &PER_TENANT.to_string(),
    ];
    two_started(store_url, &flags).await
}

/// A fresh SQLite file for processes to share: its directory (removed when dropped) and
/// its store URL.
fn shared_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    (dir, url)
}

/// A fresh table on the local DynamoDB server for processes to share: its store URL.
async fn shared_table() -> String {
    let (client, _) = local_dynamodb_client().await;
    let table = format!("tandem-test-{}", uuid::Uuid::new_v4().simple());
    DynamoStore::create_table(&client, &table).await.unwrap();
    format!("dynamodb://{table}")
}

/// Waits out the end of the clock hour if it is near, so that the test's failures all
/// fall into one window.
async fn not_at_the_end_of_an_hour() {
    let now = chrono::Utc::now();
    let left = GuessWindow::containing(now).end() - now;
    if left < chrono::Duration::seconds(30) {
        tokio::time::sleep(left.to_std().unwrap_or_default() + Duration::from_secs(1)).await;
    }
}

/// Creates a token with a short code on `api`; its code.
async fn code_on(http: &reqwest::Client, api: &RunningBinary) -> String {
    let created: Value = http
        .post(format!("{}/v1/tokens", api.address()))
        .json(&json!({ "entity": "tv", "code": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["code"].as_str().unwrap().to_owned()
}

/// Presents `code` on `api` as `end_user` (none: as the client address); the status.
async fn present(
    http: &reqwest::Client,
    api: &RunningBinary,
    code: &str,
    end_user: Option<&str>,
) -> u16 {
    let mut request = http
        .post(format!("{}/v1/codes/{code}/pair", api.address()))
        .json(&json!({ "entity": "phone" }));
    if let Some(user) = end_user {
        request = request.header("Tandem-End-User", user);
    }
    request.send().await.unwrap().status().as_u16()
}

/// A well-formed code that no token has, other than `code`.
fn wrong(code: &str) -> &'static str {
    if code == "BCDF-GHJK" {
        "BCDF-GHJL"
    } else {
        "BCDF-GHJK"
    }
}

/// Failed guesses sent alternately to both instances stop at the shared limit; a
/// successful pairing in between counts nothing; the tenant's budget then stops guesses
/// spread over many end users and addresses; both instances' stats agree.
async fn guess_limits_are_shared_by(instances: &[RunningBinary; 2]) {
    not_at_the_end_of_an_hour().await;
    let http = reqwest::Client::new();
    let target = code_on(&http, &instances[0]).await;
    let on = |i: u32| &instances[(i % 2) as usize];

    for i in 0..PER_GUESSER - 1 {
        assert_eq!(
            present(&http, on(i), wrong(&target), Some("mallory")).await,
            404
        );
    }
    let other = code_on(&http, &instances[1]).await;
    assert_eq!(
        present(&http, &instances[0], &other, Some("mallory")).await,
        200,
        "a right code is paired"
    );
    assert_eq!(
        present(&http, on(1), wrong(&target), Some("mallory")).await,
        404
    );
    for api in instances {
        assert_eq!(
            present(&http, api, &target, Some("mallory")).await,
            429,
            "{PER_GUESSER} failures on two instances are the limit on both, a right code too"
        );
    }

    // The tenant's budget: many users, each under its own limit, together use it up.
    let mut failures = PER_GUESSER;
    let mut user = 0;
    while failures < PER_TENANT {
        user += 1;
        for _ in 0..(PER_GUESSER - 1).min(PER_TENANT - failures) {
            let status = present(
                &http,
                on(failures),
                wrong(&target),
                Some(&format!("u{user}")),
            )
            .await;
            assert_eq!(status, 404);
            failures += 1;
        }
    }
    for api in instances {
        assert_eq!(present(&http, api, &target, Some("newcomer")).await, 429);
        assert_eq!(
            present(&http, api, &target, None).await,
            429,
            "from an address"
        );
        let stats: Value = http
            .get(format!("{}/v1/stats", api.address()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(stats["code_failures"], PER_TENANT, "{stats}");
        assert_eq!(stats["code_failures_left"], 0, "{stats}");
    }
}

/// Many guesses at once, spread over both instances, get exactly the limit's worth of
/// answers: none slips past it while the others are in flight.
async fn concurrent_guesses_stop_exactly_at_the_limit(instances: &[RunningBinary; 2]) {
    not_at_the_end_of_an_hour().await;
    let http = reqwest::Client::new();
    let guesses = (0..30).map(|i| present(&http, &instances[i % 2], "BCDF-GHJK", Some("swarm")));

    let statuses = futures::future::join_all(guesses).await;

    let tried = statuses.iter().filter(|&&s| s == 404).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(
        (tried, refused),
        (PER_GUESSER as usize, 30 - PER_GUESSER as usize),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn two_processes_on_one_sqlite_file_share_the_guess_limits() {
    let (_dir, store) = shared_file();
    let instances = two_instances(&store).await;

    guess_limits_are_shared_by(&instances).await;
}

#[tokio::test]
async fn concurrent_guesses_on_two_processes_on_one_sqlite_file_stop_at_the_limit() {
    let (_dir, store) = shared_file();
    let instances = two_instances(&store).await;

    concurrent_guesses_stop_exactly_at_the_limit(&instances).await;
}

#[tokio::test]
#[ignore = "needs a local DynamoDB server (moto); `just test` runs it"]
async fn concurrent_guesses_on_two_processes_on_one_dynamodb_table_stop_at_the_limit() {
    let instances = two_instances(&shared_table().await).await;

    concurrent_guesses_stop_exactly_at_the_limit(&instances).await;
}

#[tokio::test]
#[ignore = "needs a local DynamoDB server (moto); `just test` runs it"]
async fn two_processes_on_one_dynamodb_table_share_the_guess_limits() {
    let instances = two_instances(&shared_table().await).await;

    guess_limits_are_shared_by(&instances).await;
}

/// The API key of the rate-limit tests, and its budget per second.
const KEY: &str = "acme-key-0123456789";
const RATE: u32 = 20;
/// Requests in each burst: twice the budget, few enough to fit a second on a busy machine.
const BURST: usize = 40;

/// Two API processes on `store_url` with one API key limited to [`RATE`] a second.
async fn two_keyed_instances(store_url: &str) -> [RunningBinary; 2] {
    let flags = [
        "--api-keys",
        &format!("acme:{KEY}"),
        "--rate-limit",
        &RATE.to_string(),
    ];
    two_started(store_url, &flags).await
}

/// A burst of requests with one key, spread over both instances within one clock second,
/// gets at most the key's budget, and at most a slice per instance (a tenth of it) fewer.
/// The requests read a token that does not exist (`404` once past the limit), so that the
/// burst costs the store little besides the leases and fits into a second on a busy machine.
async fn the_key_rate_holds_across(instances: &[RunningBinary; 2]) {
    let http = reqwest::Client::new();
    let slice = (RATE / 10).max(1);
    for _attempt in 0..10 {
        // Start just after a second begins; a burst that outlasts its second is sent again.
        let now = chrono::Utc::now();
        let into = now.timestamp_subsec_millis();
        tokio::time::sleep(Duration::from_millis(u64::from(1000 - into) + 20)).await;
        let second = chrono::Utc::now().timestamp();
        let burst = (0..BURST).map(|i| {
            http.get(format!(
                "{}/v1/tokens/0123456789abcdef0123456789abcdef",
                instances[i % 2].address()
            ))
            .bearer_auth(KEY)
            .send()
        });
        let statuses: Vec<u16> = futures::future::join_all(burst)
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
        if chrono::Utc::now().timestamp() != second {
            continue;
        }
        let ok = statuses.iter().filter(|&&s| s == 404).count() as u32;
        let limited = statuses.iter().filter(|&&s| s == 429).count() as u32;
        assert_eq!(ok + limited, BURST as u32, "{statuses:?}");
        assert!(
            (RATE - 2 * (slice - 1)..=RATE).contains(&ok),
            "{ok} requests passed in one second at {RATE} a second over two instances"
        );
        return;
    }
    panic!("no burst of {BURST} requests fit into one second");
}

#[tokio::test]
async fn the_key_rate_holds_across_two_processes_on_one_sqlite_file() {
    let (_dir, store) = shared_file();
    let instances = two_keyed_instances(&store).await;

    the_key_rate_holds_across(&instances).await;
}

#[tokio::test]
#[ignore = "needs a local DynamoDB server (moto); `just test` runs it"]
async fn the_key_rate_holds_across_two_processes_on_one_dynamodb_table() {
    let instances = two_keyed_instances(&shared_table().await).await;

    the_key_rate_holds_across(&instances).await;
}
