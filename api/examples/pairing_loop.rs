//! A quick HTTP benchmark: concurrent users each loop create → get → pair → delete against a
//! Tandem API and the run prints requests/s and latency percentiles.
//!
//! `--serve-minimal ADDR` instead serves a minimal axum app that answers the same four
//! requests with fixed bodies: run the loop against it for the HTTP ceiling of the machine.
//!
//! ```sh
//! cargo run --release -p api --example pairing_loop -- --serve-minimal 127.0.0.1:4000 &
//! cargo run --release -p api --example pairing_loop -- --url http://127.0.0.1:4000
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::Parser;
use serde_json::{Value, json};

/// Loop create → get → pair → delete against a Tandem API, or serve the minimal ceiling app.
#[derive(Debug, Parser)]
struct Args {
    /// Base URL of the API under test.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Concurrent users.
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Serve the minimal app on this address instead of generating load.
    #[arg(long)]
    serve_minimal: Option<std::net::SocketAddr>,
}

const STEPS: [&str; 4] = ["create", "get", "pair", "delete"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(addr) = args.serve_minimal {
        return serve_minimal(addr).await;
    }
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.users)
        .map(|user| tokio::spawn(user_loop(http.clone(), args.url.clone(), user, deadline)))
        .collect();
    let mut samples: [Vec<Duration>; 4] = Default::default();
    for worker in workers {
        let worker_samples = worker.await??;
        for (all, mine) in samples.iter_mut().zip(worker_samples) {
            all.extend(mine);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut everything: Vec<Duration> = samples.iter().flatten().copied().collect();
    report("all", &mut everything, elapsed);
    for (name, step) in STEPS.iter().zip(samples.iter_mut()) {
        report(name, step, elapsed);
    }
    Ok(())
}

/// One user's loop; returns the latency of every request, per step.
async fn user_loop(
    http: reqwest::Client,
    url: String,
    user: usize,
    deadline: Instant,
) -> anyhow::Result<[Vec<Duration>; 4]> {
    let mut samples: [Vec<Duration>; 4] = Default::default();
    let mut i = 0u64;
    while Instant::now() < deadline {
        i += 1;
        let t = Instant::now();
        let created = http
            .post(format!("{url}/v1/tokens"))
            .json(&json!({ "entity": format!("a-{user}-{i}") }))
            .send()
            .await?;
        ensure!(
            created.status() == StatusCode::CREATED,
            "create: {}",
            created.status()
        );
        let body: Value = created.json().await?;
        samples[0].push(t.elapsed());
        let token = body["token"].as_str().context("token in body")?.to_owned();

        let t = Instant::now();
        let got = http.get(format!("{url}/v1/tokens/{token}")).send().await?;
        ensure!(got.status() == StatusCode::OK, "get: {}", got.status());
        got.bytes().await?;
        samples[1].push(t.elapsed());

        let t = Instant::now();
        let paired = http
            .post(format!("{url}/v1/tokens/{token}/pair"))
            .json(&json!({ "entity": format!("b-{user}-{i}") }))
            .send()
            .await?;
        ensure!(
            paired.status() == StatusCode::OK,
            "pair: {}",
            paired.status()
        );
        paired.bytes().await?;
        samples[2].push(t.elapsed());

        let t = Instant::now();
        let deleted = http
            .delete(format!("{url}/v1/tokens/{token}"))
            .send()
            .await?;
        if deleted.status() != StatusCode::NO_CONTENT {
            bail!("delete: {}", deleted.status());
        }
        samples[3].push(t.elapsed());
    }
    Ok(samples)
}

#[allow(clippy::print_stdout)]
fn report(name: &str, samples: &mut [Duration], elapsed: f64) {
    samples.sort_unstable();
    let pct = |p: f64| {
        let idx = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[idx].as_secs_f64() * 1000.0
    };
    if samples.is_empty() {
        println!("{name:>7}: no requests");
        return;
    }
    println!(
        "{name:>7}: {:>7} requests {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        samples.len(),
        samples.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
    );
}

/// The ceiling: the same four routes answered with fixed bodies, no store.
async fn serve_minimal(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    const RECORD: &str = r#"{"token":"0123456789abcdef0123456789abcdef","entity_a":"a","entity_b":null,"status":"pending","created_at":"2026-01-01T00:00:00Z","paired_at":null,"expires_at":"2026-01-02T00:00:00Z"}"#;
    let json = || [(axum::http::header::CONTENT_TYPE, "application/json")];
    let app = Router::new()
        .route(
            "/v1/tokens",
            post(move || async move { (StatusCode::CREATED, json(), RECORD) }),
        )
        .route(
            "/v1/tokens/{token}",
            get(move || async move { (json(), RECORD) })
                .delete(|| async { StatusCode::NO_CONTENT }),
        )
        .route(
            "/v1/tokens/{token}/pair",
            post(move || async move { (json(), RECORD) }),
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing_subscriber::fmt().init();
    tracing::info!("minimal app listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
