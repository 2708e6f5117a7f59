//! `tandem-webhook-bench`: how fast a `tandem-api` delivers its webhooks, and what a hanging
//! endpoint does to the API.
//!
//! Starts a receiver on 127.0.0.1, registers it as an endpoint (and, with `--hanging`, a
//! second endpoint of the same tenant that never answers), then creates and pairs tokens
//! with `--concurrency` workers for `--duration` and waits until every `token.paired` event
//! has reached the receiver. Prints a summary and one `result key=value …` line for
//! scripts: the API's p50/p99 (create and pair calls), events delivered per second, and the
//! latency from each pairing (the event's timestamp) to its arrival at the receiver.
//! Run it on its own core (`taskset`), like `tandem-mix`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::{DateTime, Utc};
use clap::Parser;
use hdrhistogram::Histogram;
use loadtest::mix::latency_histogram;
use sdk::webhooks::{CreateWebhook, Event, EventData, EventType};
use sdk::{CreateToken, EntityId};

/// Creates and pairs tokens against `--host` and measures the `token.paired` deliveries.
#[derive(Debug, Parser)]
#[command(name = "tandem-webhook-bench", version, about)]
struct Args {
    /// The server, `http://127.0.0.1:PORT`; it must allow plain-HTTP loopback endpoints
    /// (`--webhook-allow-http-loopback --webhook-allow-private-addresses`).
    #[arg(long)]
    host: String,
    /// Workers at once, each creating then pairing a token in a loop.
    #[arg(long, short = 'c', default_value_t = 16)]
    concurrency: usize,
    /// How long to create and pair (`20s`).
    #[arg(long, short = 't', default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Pairings per second in all (spread over the workers); as fast as the server answers
    /// when left out. Below the delivery rate, the latency is that of an idle queue.
    #[arg(long)]
    rate: Option<f64>,
    /// Also register an endpoint that accepts the connection and never answers.
    #[arg(long)]
    hanging: bool,
    /// How long to wait for the last deliveries once the pairing stops.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    patience: Duration,
}

/// What the receiver saw: for each paired token, when its event arrived.
#[derive(Default)]
struct Arrivals {
    /// Token → (the event's timestamp, the arrival).
    paired: HashMap<String, (DateTime<Utc>, DateTime<Utc>)>,
    /// Deliveries of an event already received (at-least-once allows them).
    duplicates: u64,
}

type Shared = Arc<Mutex<Arrivals>>;

/// The healthy endpoint: records each `token.paired` event and answers `204`.
async fn hook(State(arrivals): State<Shared>, body: String) -> StatusCode {
    let arrived = Utc::now();
    let Ok(event) = serde_json::from_str::<Event>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if let (EventType::TokenPaired, EventData::Token(record)) = (event.event_type, event.data) {
        let mut arrivals = arrivals.lock().expect("not poisoned");
        let key = record.token.as_str().to_owned();
        match arrivals.paired.entry(key) {
            Entry::Occupied(_) => arrivals.duplicates += 1,
            Entry::Vacant(first) => {
                first.insert((event.timestamp, arrived));
            }
        }
    }
    StatusCode::NO_CONTENT
}

/// The hanging endpoint: reads the request and never answers (the server's timeout ends it).
async fn hang() -> StatusCode {
    std::future::pending::<()>().await;
    StatusCode::NO_CONTENT
}

/// What the workers measured.
struct Calls {
    /// Create and pair latencies, in microseconds.
    latency_us: Histogram<u64>,
    pairings: u64,
    /// When the first call was sent and the last answered.
    span: Duration,
}

/// Creates and pairs tokens with `concurrency` workers until `duration` has passed, at
/// `rate` pairings per second in all if given.
async fn create_and_pair(
    client: &sdk::Client,
    concurrency: usize,
    duration: Duration,
    rate: Option<f64>,
) -> anyhow::Result<Calls> {
    let start = Instant::now();
    let deadline = start + duration;
    let entity_a = EntityId::parse("bench-a")?;
    let entity_b = EntityId::parse("bench-b")?;
    let workers = (0..concurrency).map(|_| {
        let (client, entity_a, entity_b) = (client.clone(), entity_a.clone(), entity_b.clone());
        tokio::spawn(async move {
            let mut latency_us = latency_histogram();
            let mut pairings = 0;
            let mut pace = rate.map(|rate| {
                let mut pace =
                    tokio::time::interval(Duration::from_secs_f64(concurrency as f64 / rate));
                pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                pace
            });
            while Instant::now() < deadline {
                if let Some(pace) = &mut pace {
                    pace.tick().await;
                }
                let sent = Instant::now();
                let record = client.create_token(&CreateToken::new(&entity_a)).await?;
                let created = Instant::now();
                client.pair(&record.token, &entity_b).await?;
                latency_us.saturating_record(micros(created - sent));
                latency_us.saturating_record(micros(created.elapsed()));
                pairings += 1;
            }
            anyhow::Ok((latency_us, pairings))
        })
    });
    let mut calls = Calls {
        latency_us: latency_histogram(),
        pairings: 0,
        span: Duration::ZERO,
    };
    for worker in futures::future::join_all(workers).await {
        let (latency_us, pairings) = worker.context("a worker panicked")??;
        calls.latency_us.add(&latency_us)?;
        calls.pairings += pairings;
    }
    calls.span = start.elapsed();
    Ok(calls)
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let arrivals = Shared::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/hang", post(hang))
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = sdk::Client::new(args.host.trim_end_matches('/'));
    let paired_only = |path: &str| CreateWebhook {
        events: Some(vec![EventType::TokenPaired]),
        description: Some("tandem-webhook-bench".to_owned()),
        ..CreateWebhook::new(format!("{receiver}{path}"))
    };
    client
        .create_webhook(&paired_only("/hook"))
        .await
        .context("registering the receiver (does the server allow loopback endpoints?)")?;
    if args.hanging {
        client.create_webhook(&paired_only("/hang")).await?;
    }

    let calls = create_and_pair(&client, args.concurrency, args.duration, args.rate).await?;
    let waited = Instant::now();
    while arrivals.lock().expect("not poisoned").paired.len() < calls.pairings as usize {
        if waited.elapsed() > args.patience {
            let got = arrivals.lock().expect("not poisoned").paired.len();
            bail!(
                "{got} of {} token.paired events arrived within {:?}",
                calls.pairings,
                args.patience
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let arrivals = arrivals.lock().expect("not poisoned");
    let mut delivery_us = latency_histogram();
    for (happened, arrived) in arrivals.paired.values() {
        let micros = (*arrived - *happened).num_microseconds().unwrap_or(0);
        delivery_us.saturating_record(u64::try_from(micros).unwrap_or(0));
    }
    let delivery_ms = |q: f64| delivery_us.value_at_quantile(q) as f64 / 1e3;
    let first = arrivals
        .paired
        .values()
        .map(|(happened, _)| *happened)
        .min();
    let last = arrivals.paired.values().map(|(_, arrived)| *arrived).max();
    let delivery_seconds = match (first, last) {
        (Some(first), Some(last)) => (last - first).num_milliseconds() as f64 / 1e3,
        _ => 0.0,
    };
    let api_ms = |q: f64| calls.latency_us.value_at_quantile(q) as f64 / 1e3;
    let fields = [
        ("pairings", calls.pairings.to_string()),
        (
            "pairings_per_s",
            format!("{:.0}", calls.pairings as f64 / calls.span.as_secs_f64()),
        ),
        ("api_p50_ms", format!("{:.3}", api_ms(0.50))),
        ("api_p99_ms", format!("{:.3}", api_ms(0.99))),
        ("delivered", arrivals.paired.len().to_string()),
        ("duplicates", arrivals.duplicates.to_string()),
        (
            "delivered_per_s",
            format!(
                "{:.0}",
                arrivals.paired.len() as f64 / delivery_seconds.max(1e-3)
            ),
        ),
        ("latency_p50_ms", format!("{:.1}", delivery_ms(0.50))),
        ("latency_p99_ms", format!("{:.1}", delivery_ms(0.99))),
        ("latency_max_ms", format!("{:.1}", delivery_ms(1.0))),
    ];
    let shown: Vec<String> = fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!("{}", shown.join(", "));
    let result: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    #[allow(clippy::print_stdout)]
    {
        println!("result {}", result.join(" "));
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}
