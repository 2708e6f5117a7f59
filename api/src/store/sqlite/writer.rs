//! The one connection that writes, on a thread of its own, with group commit.
//!
//! Writes queue on a bounded channel. The writer takes what is queued (up to
//! [`MAX_BATCH`]) and runs it in one transaction, each write in a savepoint of its own so
//! that one write's failure rolls back only that write; then it commits once (one WAL sync
//! for the whole batch under `synchronous = FULL`) and only then answers each write. A full
//! queue is refused at once ([`StoreError::Overloaded`]) instead of growing memory.
//!
//! Between batches it keeps the write-ahead log bounded (see [`super::wal`]) and, once a
//! minute, purges records that expired long ago.

use std::cell::Cell;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::wal::Wal;
use crate::store::StoreError;

/// The most writes one transaction commits.
pub(super) const MAX_BATCH: usize = 128;

/// The most writes waiting for the writer by default; past this, writes are refused with
/// [`StoreError::Overloaded`] (`503` with `Retry-After`).
pub(super) const QUEUE_CAPACITY: usize = 4096;

/// How long the writer waits for work before it counts as idle.
const IDLE_AFTER: Duration = Duration::from_secs(1);

/// How often records that expired long ago are purged.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// What the writer thread is asked to do: run SQL on the write connection inside the
/// batch's transaction, and say whether it succeeded and how to answer once the batch has
/// committed (or failed to).
type Job = Box<dyn FnOnce(&Connection) -> (bool, Answer) + Send>;

/// Sends a job's answer, given whether its batch committed.
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The handle to the writer thread; the thread stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: SyncSender<Job>,
}

/// What the writer does on its own: keep the WAL bounded and purge old records.
pub(super) struct Housekeeping {
    /// The write-ahead log's policy.
    pub wal: Wal,
    /// Deletes a batch of long-expired records; returns how many went.
    pub purge: fn(&Connection) -> rusqlite::Result<usize>,
}

impl Writer {
    /// Starts the writer thread on `conn`, with room for `capacity` waiting writes.
    pub(super) fn start(
        conn: Connection,
        capacity: usize,
        housekeeping: Housekeeping,
    ) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(capacity);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(&conn, &queue, &housekeeping))?;
        Ok(Self { jobs })
    }

    /// Runs `f` in the writer's next batch and waits until that batch has committed. What
    /// `f` changed is undone if it fails.
    pub(super) async fn run<R, F>(&self, context: &'static str, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, WriteError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let succeeded = result.is_ok();
            let answer: Answer = Box::new(move |committed| {
                let answer = match committed {
                    Ok(()) => result.map_err(|e| match e {
                        WriteError::Sql(e) => StoreError::backend(context, e),
                        WriteError::Refused(e) => e,
                    }),
                    Err(commit) => Err(StoreError::backend(context, commit)),
                };
                // The caller may have gone; then nobody needs the answer.
                let _ = reply.send(answer);
            });
            (succeeded, answer)
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(StoreError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(stopped(context)),
        }
        answer.await.map_err(|_| stopped(context))?
    }
}

/// Why a write did not happen: its SQL failed, or the store refused it (a duplicate).
#[derive(Debug)]
pub(super) enum WriteError {
    /// SQLite failed.
    Sql(rusqlite::Error),
    /// The write conflicts with what is stored; the caller gets this error as it is.
    Refused(StoreError),
}

impl From<rusqlite::Error> for WriteError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sql(error)
    }
}

impl From<StoreError> for WriteError {
    fn from(error: StoreError) -> Self {
        Self::Refused(error)
    }
}

fn stopped(context: &'static str) -> StoreError {
    StoreError::backend(
        context,
        "the SQLite writer could not run this write (it stopped, or the write panicked or \
         could not begin; see the log)",
    )
}

/// The writer thread: batches until the queue closes.
fn run(conn: &Connection, queue: &Receiver<Job>, housekeeping: &Housekeeping) {
    yield_to_requests();
    watch_wal(conn);
    // Whether anything was written since the log file was last emptied.
    let mut written = true;
    let mut last_purge = Instant::now();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        match queue.recv_timeout(IDLE_AFTER) {
            Ok(job) => {
                batch.push(job);
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let size = batch.len();
                commit(conn, &mut batch);
                written = true;
                tracing::trace!(size, wal_pages = wal_pages(), "committed a batch");
                if housekeeping.wal.after_commit(conn, wal_pages()) {
                    set_wal_pages(0);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if written && housekeeping.wal.when_idle(conn) {
                    written = false;
                    set_wal_pages(0);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_purge.elapsed() >= PURGE_EVERY {
            last_purge = Instant::now();
            written |= purge(conn, housekeeping);
        }
    }
    // The store is gone: leave no WAL behind.
    housekeeping.wal.when_idle(conn);
}

/// Has the scheduler treat this thread as a batch job (Linux's `SCHED_BATCH`): a write that
/// wakes it does not take the core from the request handlers at once, so that the writes
/// they are about to queue join the same batch, and one commit (and one sync) serves them
/// all. Measured on one core under the load-test mix: about a tenth more requests a second
/// and a lower p99 (README, "The embedded store"). Best effort: without it the writer
/// works as before.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        use thread_priority::{ThreadPriority, ThreadPriorityOsValue};
        // A normal policy's priority is its nice value: 0, the default.
        let nice = ThreadPriority::Os(ThreadPriorityOsValue::default());
        let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
        if let Err(e) = set_thread_priority_and_policy(thread_native_id(), nice, batch) {
            tracing::debug!(error = ?e, "the SQLite writer keeps the default scheduling policy");
        }
    }
}

/// Runs `batch` in one transaction, each job in a savepoint, then answers every job.
fn commit(conn: &Connection, batch: &mut Vec<Job>) {
    if let Err(e) = statement(conn, "BEGIN IMMEDIATE") {
        // Dropping the jobs unrun answers each with an error.
        tracing::error!(error = %e, "could not begin a write transaction");
        batch.clear();
        return;
    }
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        if let Err(e) = statement(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "could not open a savepoint; the write is refused");
            continue;
        }
        let run = std::panic::AssertUnwindSafe(|| job(conn));
        let undo = match std::panic::catch_unwind(run) {
            Ok((succeeded, answer)) => {
                answers.push(answer);
                !succeeded
            }
            Err(_) => {
                tracing::error!("a SQLite write panicked; its part of the batch is undone");
                true
            }
        };
        // A write that failed undoes its own part only; the rest of the batch stands.
        if undo {
            let _ = statement(conn, "ROLLBACK TO job");
        }
        let _ = statement(conn, "RELEASE job");
    }
    let committed = statement(conn, "COMMIT").map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        tracing::error!(error = %e, "a write batch failed to commit");
        e.to_string()
    });
    for answer in answers {
        answer(committed.clone());
    }
}

/// Runs one cached statement that returns no rows.
fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// Deletes long-expired records, batch by batch, until a batch comes back short; returns
/// whether it deleted any.
fn purge(conn: &Connection, housekeeping: &Housekeeping) -> bool {
    let mut deleted = 0;
    loop {
        match (housekeeping.purge)(conn) {
            Ok(n) => {
                deleted += n;
                if n < super::PURGE_BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "purging expired records failed");
                break;
            }
        }
    }
    deleted > 0
}

thread_local! {
    /// Pages in the WAL after the writer's last commit, as SQLite's WAL hook tells it.
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

fn wal_pages() -> u32 {
    WAL_PAGES.with(Cell::get).max(0).unsigned_abs()
}

fn set_wal_pages(pages: i32) {
    WAL_PAGES.with(|p| p.set(pages));
}

/// Has SQLite tell [`WAL_PAGES`] the WAL's length after each commit on `conn`.
fn watch_wal(conn: &Connection) {
    fn hook(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
        set_wal_pages(pages);
        Ok(())
    }
    conn.wal_hook(Some(hook));
}
