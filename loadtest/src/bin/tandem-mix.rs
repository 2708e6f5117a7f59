//! `tandem-mix`: the load-test mix on a lean client, for benchmarks and soaks.
//!
//! Runs on one thread (pin it to its own core with `taskset`), prints a summary and one
//! `result key=value …` line for scripts, and can write per-second samples as CSV and a
//! PNG chart. Exits with status 1 if a request failed, the WAL passed its bound, or (with
//! `--soak`) the server's RSS kept growing.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use loadtest::mix::MixConfig;
use loadtest::probe::Process;
use loadtest::soak::{self, SoakConfig};

/// The load-test mix (create → get → pair, create → get → delete → get) on keep-alive
/// connections, as fast as the server answers.
#[derive(Debug, Parser)]
#[command(name = "tandem-mix", version, about)]
struct Args {
    /// The server, `http://127.0.0.1:PORT`.
    #[arg(long, required_unless_present = "redraw")]
    host: Option<String>,
    /// Users at once, each on its own connection.
    #[arg(long, short = 'u', default_value_t = 16)]
    users: usize,
    /// How long to run (`20s`, `10m`).
    #[arg(long, short = 't', default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// The server's PID, to sample its RSS and CPU time.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The server's SQLite file, to sample its size and its WAL's.
    #[arg(long)]
    db: Option<PathBuf>,
    /// The WAL's bound in MiB: the run fails if the WAL ever exceeds it (with `--db`).
    #[arg(long, default_value_t = 64.0)]
    wal_bound_mib: f64,
    /// Write the per-second samples here, as CSV.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Draw the per-second samples here, as PNG.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// Also fail if the server's RSS kept growing (needs a run of a minute or more).
    #[arg(long)]
    soak: bool,
    /// Run nothing: draw `--chart` again from the samples of an earlier run's CSV.
    #[arg(long, value_name = "CSV", requires = "chart")]
    redraw: Option<PathBuf>,
    /// Sent as a bearer key.
    #[arg(long, env = "TANDEM_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let (Some(csv), Some(chart)) = (&args.redraw, &args.chart) {
        let samples = soak::read_csv(csv)?;
        let seconds = samples.last().map_or(0.0, |s| s.second);
        let title = format!("tandem-mix: {} users for {seconds:.0} s", args.users);
        return loadtest::chart::draw(chart, &title, &samples, args.wal_bound_mib);
    }
    let host = args.host.as_deref().context("--host is required")?;
    let authority = host
        .strip_prefix("http://")
        .context("--host must be http://HOST:PORT")?
        .trim_end_matches('/')
        .to_owned();
    let config = SoakConfig {
        mix: MixConfig {
            authority,
            users: args.users,
            api_key: args.api_key.clone().filter(|k| !k.is_empty()),
        },
        duration: args.duration,
        server: args.server_pid.map(Process),
        database: args.db.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(tokio::task::LocalSet::new().run_until(soak::run(&config)))?;

    if let Some(path) = &args.csv {
        report.write_csv(path)?;
    }
    if let Some(path) = &args.chart {
        let title = format!(
            "tandem-mix: {} users for {}",
            args.users,
            humantime::format_duration(args.duration)
        );
        loadtest::chart::draw(path, &title, &report.samples, args.wal_bound_mib)?;
    }

    let mut problems = Vec::new();
    if report.total.failed > 0 {
        problems.push(format!(
            "{} request(s) failed, first: {:?}",
            report.total.failed, report.total.failure_notes
        ));
    }
    if args.db.is_some() && report.wal_max_mib > args.wal_bound_mib {
        problems.push(format!(
            "the WAL reached {:.1} MiB, over its bound of {} MiB",
            report.wal_max_mib, args.wal_bound_mib
        ));
    }
    if args.soak && report.rss_kept_growing() {
        problems.push("the server's RSS kept growing over the run".to_owned());
    }

    let fields = summary(&report);
    let shown: Vec<String> = fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!("{}", shown.join(", "));
    let result: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    #[allow(clippy::print_stdout)]
    {
        println!("result {}", result.join(" "));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        for problem in &problems {
            eprintln!("FAILED: {problem}");
        }
        std::process::exit(1);
    }
}

/// The run's figures, by name (the names are the `result` line's keys).
fn summary(report: &soak::Report) -> Vec<(&'static str, String)> {
    let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    vec![
        ("requests", report.total.requests().to_string()),
        ("failed", report.total.failed.to_string()),
        ("rps", format!("{:.0}", report.requests_per_second())),
        ("p50_ms", format!("{:.3}", report.latency_ms(0.50))),
        ("p99_ms", format!("{:.3}", report.latency_ms(0.99))),
        (
            "generator_cpu_pct",
            format!("{:.0}", report.generator_cpu * 100.0),
        ),
        ("server_cpu_pct", opt(report.server_cpu.map(|c| c * 100.0))),
        ("peak_rss_mib", opt(report.server_peak_rss_mib)),
        ("wal_max_mib", format!("{:.1}", report.wal_max_mib)),
        ("db_mib", format!("{:.1}", report.db_end_mib)),
    ]
}
