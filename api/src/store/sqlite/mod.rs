//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a single connection on a thread of its own ([`writer`]), which commits
//! what is queued as one transaction (group commit) and answers each write only once it is
//! committed; with `synchronous = FULL` (the default, [`Durability`]) that means it is on disk
//! and survives a power cut. Point reads run on a pooled connection right where they are
//! asked (they take microseconds and, thanks to WAL, never wait on a write); listings and
//! stats, which may read many rows, run on the blocking thread pool. The writer keeps the
//! WAL bounded and empties it when idle ([`wal`]), and purges long-expired records.
//!
//! The SQL lives in [`reads`] and [`writes`]; the schema and connection settings in
//! [`schema`], rows to records in [`rows`].

mod rows;
mod schema;
mod wal;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use sdk::{EntityId, Token, TokenRecord};
use tokio::sync::Notify;

use self::rows::millis;
pub use self::schema::Durability;
pub use self::wal::DEFAULT_LIMIT_BYTES as DEFAULT_WAL_LIMIT_BYTES;
use self::writer::{Housekeeping, Writer};
use super::{
    CodeAttempt, CodeOutcome, Inserted, NewToken, PairOutcome, RateLease, StatsCounts, Store,
    StoreError,
};
use crate::domain::{Cursor, Page, TenantId};

/// How long an expired or deleted record is kept: past the stats window, so stats still
/// count it.
const KEEP_EXPIRED: chrono::Duration = chrono::Duration::hours(25);

/// The most records one purge statement deletes; the purge repeats until one comes back short.
const PURGE_BATCH: usize = 1000;

/// The writer connection's page cache, in KiB.
const WRITER_CACHE_KIB: i64 = 8 * 1024;

/// How many connections serve reads.
const READERS: u32 = 4;

/// The condition of a live record at `:now`.
macro_rules! live {
    () => {
        "(expires_at IS NULL OR expires_at > :now)"
    };
}

mod reads;
mod webhooks;
mod writes;

/// How the SQLite store writes.
#[derive(Debug, Clone, Copy)]
pub struct SqliteOptions {
    /// How each commit reaches the disk.
    pub durability: Durability,
    /// The bound on the write-ahead log's size, in bytes.
    pub wal_limit_bytes: u64,
    /// How many writes may wait for the writer before more are refused.
    pub queue_capacity: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            wal_limit_bytes: DEFAULT_WAL_LIMIT_BYTES,
            queue_capacity: writer::QUEUE_CAPACITY,
        }
    }
}

/// The SQLite adapter of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: Pool<SqliteConnectionManager>,
    /// Told when a write may have queued webhook deliveries.
    outbox: Arc<Notify>,
    /// The database file, which `/healthz` looks at.
    path: Arc<Path>,
}

impl SqliteStore {
    /// Opens (or creates, with its directory) the database at `path` with the default
    /// options, and creates or migrates the schema.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the database at `path` with `options`.
    pub async fn open_with(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path, options))
            .await
            .map_err(|e| StoreError::backend("opening the SQLite store", e))?
    }

    fn open_blocking(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        let context = "opening the SQLite store";
        let failed = |e: rusqlite::Error| StoreError::backend(context, e);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::backend(context, e))?;
        }
        create_private(path).map_err(|e| StoreError::backend(context, e))?;
        let mut conn = Connection::open(path).map_err(failed)?;
        schema::configure(&conn, options.durability).map_err(failed)?;
        when_free(|| conn.pragma_update(None, "journal_mode", "WAL")).map_err(failed)?;
        // The writer checkpoints instead (see `wal`), and the file is cut back to the
        // bound whenever the log starts again.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(failed)?;
        conn.pragma_update(None, "journal_size_limit", options.wal_limit_bytes as i64)
            .map_err(failed)?;
        // The writer touches the indexes' hot pages on every batch: keep them in memory.
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(failed)?;
        when_free(|| schema::migrate(&mut conn)).map_err(failed)?;
        when_free(|| writes::purge_all(&conn)).map_err(failed)?;
        // A log left by an earlier run (or an older version) is folded in and emptied.
        when_free(|| wal::checkpoint(&conn, wal::Checkpoint::Truncate)).map_err(failed)?;
        let page_size: i64 = conn
            .pragma_query_value(None, "page_size", |row| row.get(0))
            .map_err(failed)?;
        let housekeeping = Housekeeping {
            wal: wal::Wal::new(
                options.wal_limit_bytes,
                page_size.max(512) as u64,
                writer::MAX_BATCH,
            ),
            purge: writes::purge,
        };
        let writer = Writer::start(conn, options.queue_capacity, housekeeping)
            .map_err(|e| StoreError::backend(context, e))?;
        let durability = options.durability;
        let readers = Pool::builder()
            .max_size(READERS)
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(SqliteConnectionManager::file(path).with_init(move |c| {
                schema::configure(c, durability)?;
                c.pragma_update(None, "query_only", true)
            }))
            .map_err(|e| StoreError::backend(context, e))?;
        Ok(Self {
            writer,
            readers,
            outbox: Arc::default(),
            path: path.into(),
        })
    }

    /// The outcome of a committed write; wakes the delivery worker when the write queued
    /// webhook deliveries.
    fn delivered<T>(&self, done: writes::Announced<T>) -> T {
        if done.queued {
            self.outbox.notify_one();
        }
        done.outcome
    }

    /// Runs a short read (one row by key) right here when a reader is free, else on the
    /// blocking thread pool; either way it never waits for the writer.
    async fn read<R, F>(&self, context: &'static str, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        match self.readers.try_get() {
            Some(conn) => f(&conn).map_err(|e| StoreError::backend(context, e)),
            None => self.scan(context, f).await,
        }
    }

    /// Runs a read that may touch many rows on the blocking thread pool.
    async fn scan<R, F>(&self, context: &'static str, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn: PooledConnection<_> =
                pool.get().map_err(|e| StoreError::backend(context, e))?;
            f(&conn).map_err(|e| StoreError::backend(context, e))
        })
        .await
        .map_err(|e| StoreError::backend(context, e))?
    }
}

/// Runs `step` again while another process holds the database in a way that the busy
/// timeout does not wait out (as when two processes open a new file at once and both set
/// it up); gives up after 10 s.
fn when_free<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Creates the database file, readable and writable by its owner only, when it does not
/// exist yet; SQLite gives its `-wal` and `-shm` files the same permissions. (The records
/// hold every tenant's tokens.) An existing file keeps the permissions it has.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn insert(
        &self,
        tenant: &TenantId,
        new: &NewToken,
        now: DateTime<Utc>,
    ) -> Result<Inserted, StoreError> {
        let (tenant, new) = (tenant.as_str().to_owned(), new.clone());
        self.writer
            .run("inserting a token", move |conn| {
                writes::insert(conn, &tenant, &new, millis(now))
            })
            .await
    }

    async fn pair_by_code(
        &self,
        tenant: &TenantId,
        attempt: &CodeAttempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<CodeOutcome, StoreError> {
        let row = writes::CodeAttemptRow {
            tenant: tenant.as_str().to_owned(),
            code: attempt.code.map(|code| code.letters().to_owned()),
            presenter: attempt.presenter.clone(),
            guesser: attempt.guesser.to_owned(),
            limits: attempt.limits,
        };
        let done = self
            .writer
            .run("pairing by short code", move |conn| {
                Ok(writes::pair_by_code(conn, &row, millis(now))?)
            })
            .await?;
        Ok(self.delivered(done))
    }

    async fn get(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let (tenant, token) = (tenant.as_str().to_owned(), token.as_str().to_owned());
        self.read("reading a token", move |conn| {
            reads::select_live(conn, &tenant, &token, millis(now))
        })
        .await
    }

    async fn pair(
        &self,
        tenant: &TenantId,
        token: &Token,
        entity_b: &EntityId,
        now: DateTime<Utc>,
    ) -> Result<PairOutcome, StoreError> {
        let (tenant, token) = (tenant.as_str().to_owned(), token.as_str().to_owned());
        let entity_b = entity_b.as_str().to_owned();
        let done = self
            .writer
            .run("pairing a token", move |conn| {
                Ok(writes::pair(conn, &tenant, &token, &entity_b, millis(now))?)
            })
            .await?;
        Ok(self.delivered(done))
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let (tenant, token) = (tenant.as_str().to_owned(), token.as_str().to_owned());
        let done = self
            .writer
            .run("deleting a token", move |conn| {
                Ok(writes::delete(conn, &tenant, &token, millis(now))?)
            })
            .await?;
        Ok(self.delivered(done))
    }

    async fn list(
        &self,
        tenant: &TenantId,
        entity: &EntityId,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        let listing = reads::Listing::new(tenant, entity, limit, after, millis(now));
        let items = self
            .scan("listing tokens", move |conn| reads::list(conn, &listing))
            .await?;
        Ok(Page::from_overfetched(items, limit, entity))
    }

    async fn stats(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<StatsCounts, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.scan("counting tokens", move |conn| {
            reads::stats(conn, &tenant, millis(now))
        })
        .await
    }

    async fn lease_requests(
        &self,
        key: &str,
        second_ms: i64,
        budget: u32,
        want: u32,
    ) -> Result<RateLease, StoreError> {
        let key = key.to_owned();
        self.writer
            .run("leasing a rate budget", move |conn| {
                Ok(writes::lease_requests(conn, &key, second_ms, budget, want)?)
            })
            .await
    }

    fn change_poll_interval(&self) -> Option<Duration> {
        // Another process may write to the same file; a re-read is one indexed row.
        Some(Duration::from_millis(500))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let context = "checking the SQLite store";
        let path = Arc::clone(&self.path);
        tokio::task::spawn_blocking(move || check_file(&path))
            .await
            .map_err(|e| StoreError::backend(context, e))?
            .map_err(|e| StoreError::backend(context, e))?;
        self.read(context, |conn| {
            conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
                row.get::<_, i64>(0)
            })
        })
        .await
        .map(drop)
    }
}

/// What `/healthz` checks of the database file itself, since an open connection goes on
/// answering from a file deleted under it: the file is there and reads as SQLite's, and
/// its disk has room for the next write.
fn check_file(path: &Path) -> std::io::Result<()> {
    use std::io::Read as _;
    let mut header = [0u8; 16];
    std::fs::File::open(path)?.read_exact(&mut header)?;
    if &header != b"SQLite format 3\0" {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not an SQLite database", path.display()),
        ));
    }
    #[cfg(unix)]
    if rustix::fs::statvfs(path)?.f_bavail == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!("the disk of {} is full", path.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
