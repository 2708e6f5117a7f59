//! Runs the [`crate::mix`] for a while and samples, every second, what a user would look
//! at: requests/s, p50/p99, the WAL's and the database's size (their largest in the
//! second, looked at every 100 ms) and the server's RSS. Judges the run at the end.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::mix::{self, MixConfig, Tally};
use crate::probe::{Database, Process, mib};

/// How often the soak takes a sample.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// How many times per sample the WAL's size is looked at (its largest size is sampled).
const TICKS_PER_SAMPLE: u32 = 10;

/// What to run and what to watch.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// The mix to run.
    pub mix: MixConfig,
    /// How long to run it.
    pub duration: Duration,
    /// The server's process, for its RSS and CPU time.
    pub server: Option<Process>,
    /// The server's SQLite file, for its size and its WAL's.
    pub database: Option<PathBuf>,
}

/// One second of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Seconds since the start, at the end of this sample.
    pub second: f64,
    /// Requests answered or failed in the sample, per second.
    pub requests_per_second: f64,
    /// Median latency in the sample, in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency in the sample, in milliseconds.
    pub p99_ms: f64,
    /// Requests that failed in the sample.
    pub failed: u64,
    /// The WAL's largest size in the sample, in MiB.
    pub wal_mib: f64,
    /// The database file's size at the end of the sample, in MiB.
    pub db_mib: f64,
    /// The server's resident memory at the end of the sample, in MiB.
    pub rss_mib: f64,
}

/// The whole run.
#[derive(Debug)]
pub struct Report {
    /// Every request of the run.
    pub total: Tally,
    /// Wall-clock length of the run.
    pub elapsed: Duration,
    /// One sample per second.
    pub samples: Vec<Sample>,
    /// The generator's CPU time over the run, as a share of one core (1.0 = 100 %).
    pub generator_cpu: f64,
    /// The server's CPU time over the run, as a share of one core.
    pub server_cpu: Option<f64>,
    /// The server's peak RSS at the end, in MiB.
    pub server_peak_rss_mib: Option<f64>,
    /// The WAL's largest size seen, in MiB.
    pub wal_max_mib: f64,
    /// The database's size at the end, in MiB.
    pub db_end_mib: f64,
}

impl Report {
    /// Requests per second over the whole run.
    pub fn requests_per_second(&self) -> f64 {
        self.total.requests() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0..=1) over the whole run, in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        self.total.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// Whether the server's RSS kept growing: its highest in the last third of the run is
    /// more than 10 % (and 4 MiB) above its highest in the middle third. Needs a minute.
    pub fn rss_kept_growing(&self) -> bool {
        let n = self.samples.len();
        if n < 60 {
            return false;
        }
        let max = |s: &[Sample]| s.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
        let middle = max(&self.samples[n / 3..2 * n / 3]);
        let last = max(&self.samples[2 * n / 3..]);
        last > middle * 1.10 && last - middle > 4.0
    }

    /// Writes the samples as CSV with a header line.
    pub fn write_csv(&self, path: &Path) -> anyhow::Result<()> {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        writeln!(
            out,
            "second,requests_per_second,p50_ms,p99_ms,failed,wal_mib,db_mib,rss_mib"
        )?;
        for s in &self.samples {
            writeln!(
                out,
                "{:.1},{:.0},{:.3},{:.3},{},{:.2},{:.2},{:.2}",
                s.second,
                s.requests_per_second,
                s.p50_ms,
                s.p99_ms,
                s.failed,
                s.wal_mib,
                s.db_mib,
                s.rss_mib
            )?;
        }
        out.flush()?;
        Ok(())
    }
}

/// Reads samples back from a CSV that [`Report::write_csv`] wrote.
pub fn read_csv(path: &Path) -> anyhow::Result<Vec<Sample>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<f64> = line
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .with_context(|| format!("a line of {} is not numbers: {line}", path.display()))?;
            anyhow::ensure!(
                f.len() == 8,
                "a line of {} has {} fields, not 8",
                path.display(),
                f.len()
            );
            Ok(Sample {
                second: f[0],
                requests_per_second: f[1],
                p50_ms: f[2],
                p99_ms: f[3],
                failed: f[4] as u64,
                wal_mib: f[5],
                db_mib: f[6],
                rss_mib: f[7],
            })
        })
        .collect()
}

/// Runs the mix for `config.duration`, sampling as it goes.
pub async fn run(config: &SoakConfig) -> anyhow::Result<Report> {
    let tally = mix::tally();
    let database = config.database.as_deref().map(Database::new);
    let generator = Process::current();
    let generator_cpu_start = generator.cpu_time().unwrap_or_default();
    let server_cpu_start = config.server.and_then(Process::cpu_time);
    let start = Instant::now();
    let until = start + config.duration;

    let sampler = {
        let tally = tally.clone();
        let database = database.clone();
        let server = config.server;
        tokio::task::spawn_local(async move {
            let mut samples = Vec::new();
            let mut total = Tally::default();
            // The WAL is looked at every tick, a sample taken every `TICKS_PER_SAMPLE`th:
            // the interval keeps its ticks on a fixed schedule (a late tick is caught up,
            // not pushed back), so samples come every second on average over any run.
            let mut tick = tokio::time::interval(SAMPLE_EVERY / TICKS_PER_SAMPLE);
            // (The first tick is at once.)
            tick.tick().await;
            let mut ticks = 0u32;
            let mut wal_max = 0u64;
            let mut second_began = Instant::now();
            loop {
                tick.tick().await;
                ticks += 1;
                if let Some(db) = &database {
                    wal_max = wal_max.max(db.wal_bytes());
                }
                let now = Instant::now();
                let done = now >= until;
                if !ticks.is_multiple_of(TICKS_PER_SAMPLE) && !done {
                    continue;
                }
                let span = now.duration_since(second_began).as_secs_f64();
                second_began = now;
                let part = tally.borrow_mut().take();
                samples.push(Sample {
                    second: now.duration_since(start).as_secs_f64(),
                    requests_per_second: part.requests() as f64 / span,
                    p50_ms: part.latency_us.value_at_quantile(0.50) as f64 / 1000.0,
                    p99_ms: part.latency_us.value_at_quantile(0.99) as f64 / 1000.0,
                    failed: part.failed,
                    wal_mib: mib(wal_max),
                    db_mib: database.as_ref().map_or(0.0, |db| mib(db.db_bytes())),
                    rss_mib: server.and_then(Process::rss_bytes).map_or(0.0, mib),
                });
                wal_max = 0;
                total.add(&part);
                if done {
                    return (samples, total);
                }
            }
        })
    };

    mix::run(&config.mix, &tally, until).await?;
    let (samples, mut total) = sampler.await?;
    let elapsed = start.elapsed();
    // The requests that were still in flight at the last sample.
    total.add(&tally.borrow_mut().take());

    let share = |used: Duration| used.as_secs_f64() / elapsed.as_secs_f64();
    Ok(Report {
        generator_cpu: share(generator.cpu_time().unwrap_or_default() - generator_cpu_start),
        server_cpu: config
            .server
            .and_then(Process::cpu_time)
            .zip(server_cpu_start)
            .map(|(end, begin)| share(end - begin)),
        server_peak_rss_mib: config.server.and_then(Process::peak_rss_bytes).map(mib),
        wal_max_mib: samples.iter().map(|s| s.wal_mib).fold(0.0, f64::max),
        db_end_mib: database.as_ref().map_or(0.0, |db| mib(db.db_bytes())),
        total,
        elapsed,
        samples,
    })
}
