//! Keeps the write-ahead log bounded under any load, and empty when idle.
//!
//! SQLite's own automatic checkpoint is off: it is PASSIVE, so under steady writes and
//! reads it never catches up, the log never starts again from its beginning, and the
//! file grows without end. Instead the writer thread, which owns every write, checkpoints
//! between its batches:
//! - after a commit that leaves the log at [`Wal::restart_at`] or more, a `RESTART`
//!   checkpoint: it copies the log into the database, waits for the (short) reads still
//!   using the log, and makes the next write start the log from its beginning. Reads
//!   are single statements, so none can hold the log for long and starve it;
//! - if that could not finish and the log nears its bound, the writer retries until it
//!   does, taking no writes meanwhile (they queue, then get `503`), so the bound holds;
//! - after a second without writes, a `TRUNCATE` checkpoint, which empties the file.
//!
//! `journal_size_limit` cuts the file back to the bound whenever the log starts again.

use std::time::Duration;

use rusqlite::Connection;

/// The WAL's bound by default, in bytes.
pub const DEFAULT_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// The writer's checkpoint policy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wal {
    /// Log length, in pages, from which a commit is followed by a `RESTART` checkpoint.
    restart_at: u32,
    /// Log length, in pages, past which no batch may start until the log has restarted:
    /// the bound less what one batch can add.
    must_restart_at: u32,
}

/// The pages one write adds to the log at most, generously (a record, its indexes, the
/// idempotency key, and the b-tree pages a split touches).
const PAGES_PER_WRITE: u64 = 24;

impl Wal {
    /// The policy for a log of at most `limit_bytes`, on pages of `page_size` bytes.
    pub(super) fn new(limit_bytes: u64, page_size: u64, max_batch: usize) -> Self {
        let limit = limit_bytes / page_size;
        let one_batch = max_batch as u64 * PAGES_PER_WRITE;
        let must_restart_at = limit.saturating_sub(one_batch).max(1);
        let restart_at = (limit / 4).min(must_restart_at).max(1);
        Self {
            restart_at: u32::try_from(restart_at).unwrap_or(u32::MAX),
            must_restart_at: u32::try_from(must_restart_at).unwrap_or(u32::MAX),
        }
    }

    /// Called after each commit with the log's length in pages; returns whether the log
    /// will start again from its beginning.
    pub(super) fn after_commit(&self, conn: &Connection, pages: u32) -> bool {
        if pages < self.restart_at {
            return false;
        }
        let mut attempt = 0u64;
        loop {
            let failure = match checkpoint(conn, Checkpoint::Restart) {
                Ok(true) => return true,
                Ok(false) => "reads still hold it".to_owned(),
                Err(e) => e.to_string(),
            };
            if pages < self.must_restart_at {
                tracing::debug!(pages, failure, "the WAL could not restart yet");
                return false;
            }
            // Near the bound: no batch starts until the log has restarted. Said once a
            // second, not at every try.
            if attempt.is_multiple_of(100) {
                tracing::warn!(
                    pages,
                    failure,
                    "the WAL is near its bound: waiting for it to restart"
                );
            }
            attempt += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Called when no write came for a while; empties the log file. Returns whether it did.
    pub(super) fn when_idle(&self, conn: &Connection) -> bool {
        match checkpoint(conn, Checkpoint::Truncate) {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                false
            }
        }
    }
}

/// The checkpoints the writer runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Checkpoint {
    /// Copy the log, wait for reads to leave it, and have the next write start it again.
    Restart,
    /// As `Restart`, and empty the file.
    Truncate,
}

/// Runs the checkpoint; returns whether it completed (was not blocked by a read).
pub(super) fn checkpoint(conn: &Connection, mode: Checkpoint) -> rusqlite::Result<bool> {
    let sql = match mode {
        Checkpoint::Restart => "PRAGMA wal_checkpoint(RESTART)",
        Checkpoint::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    let busy: i64 = conn.query_row(sql, [], |row| row.get(0))?;
    Ok(busy == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_restarts_well_before_the_bound_and_leaves_room_for_a_batch() {
        let wal = Wal::new(DEFAULT_LIMIT_BYTES, 4096, 128);
        assert_eq!(wal.restart_at, 4096, "16 MiB of 4 KiB pages");
        assert_eq!(wal.must_restart_at, 16384 - 128 * 24);
        let tiny = Wal::new(64 * 4096, 4096, 128);
        assert!(tiny.restart_at >= 1 && tiny.restart_at <= tiny.must_restart_at);
    }
}
