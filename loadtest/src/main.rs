//! `tandem-loadtest`: the original project's load test, in Goose. Two scenarios, weighted
//! 50/50 — create → get → pair, and create → get → delete — with every response body checked.
//!
//! Goose's own flags apply (`--host`, `-u`, `-r`, `-t`, `--report-file`, …); without them
//! it runs 20 users for 30 s against <http://127.0.0.1:3000> and writes its HTML report to
//! `target/loadtest/report.html`. `TANDEM_API_KEY` is sent as a bearer key when set. The
//! process exits with status 1 if any request failed.

use std::path::PathBuf;
use std::sync::OnceLock;

use goose::goose::GooseResponse;
use goose::metrics::GooseMetrics;
use goose::prelude::*;
use serde_json::{Value, json};

/// Where Goose starts without flags: Tandem's defaults, not Goose's own.
const HOST: &str = "http://127.0.0.1:3000";
const USERS: usize = 20;
const INCREASE_RATE: &str = "20";
const RUN_TIME_SECONDS: usize = 30;
const REPORT_FILE: &str = "target/loadtest/report.html";

/// What one user carries from one transaction to the next.
#[derive(Debug, Clone, Default)]
struct Flow {
    /// How many tokens this user has created (makes entity names unique).
    created: u64,
    /// The token of the current flow.
    token: String,
    /// Entity A of the current flow.
    entity_a: String,
}

/// `TANDEM_API_KEY`, read once.
fn api_key() -> Option<&'static str> {
    static KEY: OnceLock<Option<String>> = OnceLock::new();
    KEY.get_or_init(|| {
        std::env::var("TANDEM_API_KEY")
            .ok()
            .filter(|k| !k.is_empty())
    })
    .as_deref()
}

/// Sends one request named `name` (so parameterised paths aggregate; Goose shows the method
/// before it), expecting `status`.
async fn send(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    status: u16,
    body: Option<Value>,
) -> Result<GooseResponse, Box<TransactionError>> {
    let mut builder = user.get_request_builder(&method, path)?;
    if let Some(key) = api_key() {
        builder = builder.bearer_auth(key);
    }
    if let Some(body) = &body {
        builder = builder.json(body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .expect_status_code(status)
        .set_request_builder(builder)
        .build();
    user.request(request).await
}

/// Reads a JSON body and checks it with `check`; marks the request failed, with `what`, if
/// the body is not JSON or the check fails.
async fn check_body(
    user: &mut GooseUser,
    mut goose: GooseResponse,
    what: &str,
    check: impl FnOnce(&Value) -> bool,
) -> Result<Option<Value>, Box<TransactionError>> {
    let body = match goose.response {
        Ok(response) => response.json::<Value>().await.ok(),
        Err(_) => None,
    };
    match body {
        Some(body) if check(&body) => Ok(Some(body)),
        Some(body) => {
            user.set_failure(what, &mut goose.request, None, Some(&body.to_string()))?;
            Ok(None)
        }
        None => {
            user.set_failure(what, &mut goose.request, None, None)?;
            Ok(None)
        }
    }
}

/// `POST /v1/tokens`: the body names the entity that asked.
async fn create_token(user: &mut GooseUser) -> TransactionResult {
    let mut flow = user.get_session_data::<Flow>().cloned().unwrap_or_default();
    flow.created += 1;
    let entity = format!("lt-{}-{}", user.weighted_users_index, flow.created);
    let goose = send(
        user,
        GooseMethod::Post,
        "/v1/tokens",
        "/v1/tokens",
        201,
        Some(json!({ "entity": entity })),
    )
    .await?;
    let body = check_body(
        user,
        goose,
        "created record does not name its entity",
        |b| b["entity_a"] == entity.as_str() && b["status"] == "pending" && b["token"].is_string(),
    )
    .await?;
    flow.token = body
        .and_then(|b| b["token"].as_str().map(str::to_owned))
        .unwrap_or_default();
    flow.entity_a = entity;
    user.set_session_data(flow);
    Ok(())
}

/// The current flow, or `None` when its create failed (the rest of it is skipped).
fn current(user: &GooseUser) -> Option<Flow> {
    user.get_session_data::<Flow>()
        .filter(|f| !f.token.is_empty())
        .cloned()
}

/// `GET /v1/tokens/{token}`: the token read back is the one created.
async fn get_token(user: &mut GooseUser) -> TransactionResult {
    let Some(flow) = current(user) else {
        return Ok(());
    };
    let path = format!("/v1/tokens/{}", flow.token);
    let goose = send(
        user,
        GooseMethod::Get,
        &path,
        "/v1/tokens/{token}",
        200,
        None,
    )
    .await?;
    check_body(user, goose, "read back another token", |b| {
        b["token"] == flow.token.as_str() && b["entity_a"] == flow.entity_a.as_str()
    })
    .await?;
    Ok(())
}

/// `POST /v1/tokens/{token}/pair`: the answer names both entities.
async fn pair_token(user: &mut GooseUser) -> TransactionResult {
    let Some(flow) = current(user) else {
        return Ok(());
    };
    let path = format!("/v1/tokens/{}/pair", flow.token);
    let entity_b = format!("{}-b", flow.entity_a);
    let body = json!({ "entity": entity_b });
    let goose = send(
        user,
        GooseMethod::Post,
        &path,
        "/v1/tokens/{token}/pair",
        200,
        Some(body),
    )
    .await?;
    check_body(user, goose, "pairing does not name both entities", |b| {
        b["entity_a"] == flow.entity_a.as_str()
            && b["entity_b"] == entity_b.as_str()
            && b["status"] == "paired"
    })
    .await?;
    Ok(())
}

/// `DELETE /v1/tokens/{token}`, then a read that must find it gone.
async fn delete_token(user: &mut GooseUser) -> TransactionResult {
    let Some(flow) = current(user) else {
        return Ok(());
    };
    let path = format!("/v1/tokens/{}", flow.token);
    send(
        user,
        GooseMethod::Delete,
        &path,
        "/v1/tokens/{token}",
        204,
        None,
    )
    .await?;
    let gone = send(
        user,
        GooseMethod::Get,
        &path,
        "/v1/tokens/{token} (deleted)",
        404,
        None,
    )
    .await?;
    check_body(user, gone, "deleted token still readable", |b| {
        b["error"]["code"] == "not_found"
    })
    .await?;
    Ok(())
}

/// The reports Goose will write: each `--report-file` given, else [`REPORT_FILE`].
fn report_files(args: &[String]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if let Some(file) = arg.strip_prefix("--report-file=") {
            files.push(file.into());
        } else if arg == "--report-file"
            && let Some(file) = args.next()
        {
            files.push(file.into());
        }
    }
    if files.is_empty() {
        files.push(REPORT_FILE.into());
    }
    files
}

#[tokio::main]
#[allow(clippy::print_stdout)]
async fn main() -> Result<(), GooseError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        // Goose's help below states Goose's defaults; these replace some of them.
        println!(
            "tandem-loadtest: the load-test mix (create → get → pair, create → get → delete), every \
             response checked.\n\nDefaults here, where Goose's list below says otherwise: \
             --host {HOST}, --users {USERS}, --increase-rate {INCREASE_RATE}, \
             --run-time {RUN_TIME_SECONDS}s, --report-file {REPORT_FILE} (its folder is created).\n"
        );
    } else {
        // Goose fails at the end of a run whose report has nowhere to go: make room first.
        for file in report_files(&args) {
            let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) else {
                continue;
            };
            if let Err(e) = std::fs::create_dir_all(folder) {
                eprintln!(
                    "cannot create {}, the folder of the report {}: {e}",
                    folder.display(),
                    file.display()
                );
                std::process::exit(2);
            }
        }
    }
    let metrics = GooseAttack::initialize()?
        .register_scenario(
            scenario!("CreateGetPair")
                .set_weight(1)?
                .register_transaction(transaction!(create_token).set_name("create"))
                .register_transaction(transaction!(get_token).set_name("get"))
                .register_transaction(transaction!(pair_token).set_name("pair")),
        )
        .register_scenario(
            scenario!("CreateGetDelete")
                .set_weight(1)?
                .register_transaction(transaction!(create_token).set_name("create"))
                .register_transaction(transaction!(get_token).set_name("get"))
                .register_transaction(transaction!(delete_token).set_name("delete")),
        )
        .set_default(GooseDefault::Host, HOST)?
        .set_default(GooseDefault::Users, USERS)?
        .set_default(GooseDefault::IncreaseRate, INCREASE_RATE)?
        .set_default(GooseDefault::RunTime, RUN_TIME_SECONDS)?
        .set_default(GooseDefault::ReportFile, REPORT_FILE)?
        .execute()
        .await?;
    let failures = summarize(&metrics);
    if failures > 0 {
        eprintln!("{failures} request(s) failed");
        std::process::exit(1);
    }
    Ok(())
}

/// Prints average and p50/p95/p99 per request and overall, requests/s and failures;
/// returns the failures.
#[allow(clippy::print_stdout)]
fn summarize(metrics: &GooseMetrics) -> usize {
    let seconds = metrics.duration.max(1) as f64;
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "\n{:<36} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "request", "requests", "failed", "req/s", "avg ms", "p50 ms", "p95 ms", "p99 ms"
    );
    let mut names: Vec<&String> = metrics.requests.keys().collect();
    names.sort();
    let (mut total, mut failed, mut total_us) = (0usize, 0usize, 0u64);
    let mut all: Vec<(u64, usize)> = Vec::new();
    for name in names {
        let request = &metrics.requests[name];
        let data = &request.raw_data;
        let count = request.success_count + request.fail_count;
        total += count;
        failed += request.fail_count;
        total_us += data.total_time_us;
        all.extend(data.times_us.iter().map(|(&us, &n)| (us, n)));
        println!(
            "{:<36} {:>9} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            name,
            count,
            request.fail_count,
            count as f64 / seconds,
            ms(data.total_time_us / data.counter.max(1) as u64),
            ms(data.percentile_us(0.50)),
            ms(data.percentile_us(0.95)),
            ms(data.percentile_us(0.99)),
        );
    }
    all.sort_unstable();
    let samples: usize = all.iter().map(|(_, n)| n).sum();
    let overall = |p: f64| {
        let rank = ((samples as f64 * p).ceil() as usize).max(1);
        let mut seen = 0;
        all.iter()
            .find(|(_, n)| {
                seen += n;
                seen >= rank
            })
            .map_or(0, |(us, _)| *us)
    };
    println!(
        "{:<36} {:>9} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        "overall",
        total,
        failed,
        total as f64 / seconds,
        ms(total_us / total.max(1) as u64),
        ms(overall(0.50)),
        ms(overall(0.95)),
        ms(overall(0.99)),
    );
    failed
}
