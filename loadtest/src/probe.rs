//! What a user would look at on the server's machine while it runs: a process's CPU time
//! and resident memory (from `/proc`), and the size of the SQLite file and its WAL.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A process to watch, by PID.
#[derive(Debug, Clone, Copy)]
pub struct Process(pub u32);

impl Process {
    /// This process.
    pub fn current() -> Self {
        Self(std::process::id())
    }

    /// CPU time the process has used so far (all its threads), from `/proc/PID/schedstat`
    /// for the main thread and the per-thread files for the rest.
    pub fn cpu_time(self) -> Option<Duration> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.0)).ok()?;
        let mut total = 0u64;
        for task in tasks.flatten() {
            let text = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += text
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
        Some(Duration::from_nanos(total))
    }

    /// Resident memory now, in bytes (`VmRSS`).
    pub fn rss_bytes(self) -> Option<u64> {
        self.status_kb("VmRSS:").map(|kb| kb * 1024)
    }

    /// The most resident memory so far, in bytes (`VmHWM`).
    pub fn peak_rss_bytes(self) -> Option<u64> {
        self.status_kb("VmHWM:").map(|kb| kb * 1024)
    }

    fn status_kb(self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0)).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
    }
}

/// An SQLite database file and its write-ahead log.
#[derive(Debug, Clone)]
pub struct Database {
    path: PathBuf,
    wal: PathBuf,
}

impl Database {
    /// The database at `path` (its WAL is `path` + `-wal`).
    pub fn new(path: &Path) -> Self {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Self {
            path: path.to_owned(),
            wal: wal.into(),
        }
    }

    /// The database file's size in bytes (0 when missing).
    pub fn db_bytes(&self) -> u64 {
        size(&self.path)
    }

    /// The WAL's size in bytes (0 when missing).
    pub fn wal_bytes(&self) -> u64 {
        size(&self.wal)
    }
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Bytes in MiB (2²⁰ bytes), as the WAL bound is stated.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}
