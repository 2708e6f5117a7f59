//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a single connection owned by a thread of its own: they queue on a
//! channel rather than contend for a lock, and each is one short transaction. Reads use a
//! small pool of their own and, thanks to WAL, never wait on a write. Every commit reaches the WAL
//! file before it is acknowledged (`synchronous = NORMAL`), so a `kill -9` of the
//! process loses nothing that was acknowledged; a power cut may lose the last few.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, named_params, params};
use sdk::{EntityId, Label, ShortCode, Token, TokenRecord, ValidationError};

use super::{
    Cursor, IdempotencyClaim, Inserted, NewToken, Page, PairOutcome, STATS_WINDOW, StatsCounts,
    Store, StoreError, TenantId,
};

/// The schema's migrations, in order; `PRAGMA user_version` counts those applied. Times
/// are Unix milliseconds; a `NULL` `expires_at` never expires. `tenant` scopes every query.
const MIGRATIONS: [&str; 3] = [
    // (IF NOT EXISTS: databases made before migrations were counted have this already.)
    "CREATE TABLE IF NOT EXISTS tokens (
        token            TEXT    NOT NULL PRIMARY KEY,
        tenant           TEXT    NOT NULL,
        entity_a         TEXT    NOT NULL,
        entity_b         TEXT,
        label            TEXT,
        created_at       INTEGER NOT NULL,
        paired_at        INTEGER,
        expires_at       INTEGER,
        pair_ttl_seconds INTEGER
    ) STRICT;
    CREATE INDEX IF NOT EXISTS tokens_by_entity_a ON tokens (tenant, entity_a, created_at DESC, token DESC);
    CREATE INDEX IF NOT EXISTS tokens_by_entity_b ON tokens (tenant, entity_b, created_at DESC, token DESC);",
    // Short codes, idempotency keys, and the events that stats count.
    "ALTER TABLE tokens ADD COLUMN code TEXT;
    ALTER TABLE tokens ADD COLUMN code_expires_at INTEGER;
    CREATE UNIQUE INDEX tokens_by_code ON tokens (code) WHERE code IS NOT NULL;
    CREATE TABLE idempotency (
        tenant       TEXT    NOT NULL,
        key          TEXT    NOT NULL,
        request_hash TEXT    NOT NULL,
        response     TEXT    NOT NULL,
        expires_at   INTEGER NOT NULL,
        PRIMARY KEY (tenant, key)
    ) STRICT;
    CREATE TABLE events (
        tenant     TEXT    NOT NULL,
        kind       TEXT    NOT NULL CHECK (kind IN ('paired', 'deleted')),
        at         INTEGER NOT NULL,
        latency_ms INTEGER
    ) STRICT;
    CREATE INDEX events_by_tenant ON events (tenant, kind, at);",
    // What the purge of long-expired records reads.
    "CREATE INDEX tokens_by_expiry ON tokens (expires_at) WHERE expires_at IS NOT NULL;
    CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);",
];

/// The columns [`record_from_row`] reads, in order.
const COLUMNS: &str = "token, entity_a, entity_b, label, created_at, paired_at, expires_at, code";

/// The condition of a live record at `?now` (named parameter `:now`).
const LIVE: &str = "(expires_at IS NULL OR expires_at > :now)";

/// Settings of every connection.
const PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;";

/// How often the background checkpointer moves the write-ahead log into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// How often records that expired long ago are deleted, in checkpoints (one minute).
const PURGE_EVERY_CHECKPOINTS: u32 = 120;

/// How long an expired record is kept: past the stats window, so stats still count it.
const KEEP_EXPIRED: chrono::Duration = chrono::Duration::hours(25);

/// The most records one purge deletes, so that it never holds the write lock for long.
const PURGE_BATCH: i64 = 1000;

/// How many connections serve reads.
const READERS: u32 = 4;

/// The SQLite adapter of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: Pool<SqliteConnectionManager>,
    _checkpointer: Arc<Checkpointer>,
}

/// A unit of work for the writer thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The one connection that writes, on a thread of its own; stops when the last clone of
/// the store is dropped (its queue closes).
#[derive(Debug, Clone)]
struct Writer {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Writer {
    fn start(mut conn: Connection) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                for job in queue {
                    // A panicking job must not take every later write down with it.
                    let run = std::panic::AssertUnwindSafe(|| job(&mut conn));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::error!("a SQLite write panicked");
                    }
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the writer thread and waits for its result.
    async fn run<R, F>(&self, context: &'static str, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller may have gone; then nobody needs the answer.
            let _ = reply.send(f(conn));
        });
        let stopped = || StoreError::backend(context, "the SQLite writer thread has stopped");
        self.jobs.send(job).map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(|e| StoreError::backend(context, e))
    }
}

/// Checkpoints the write-ahead log from a thread of its own, so that writes never pay for
/// it (SQLite's automatic checkpoint runs inside the commit that crosses its threshold),
/// and once a minute has the writer purge records that expired long ago. Stops when the
/// last clone of the store is dropped.
#[derive(Debug)]
struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Checkpointer {
    fn start(path: &Path, writer: Writer) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(PRAGMAS)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut ticks = 0u32;
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    ticks += 1;
                    if ticks.is_multiple_of(PURGE_EVERY_CHECKPOINTS) {
                        let job: Job = Box::new(|conn| {
                            if let Err(e) = purge(conn, chrono::Utc::now()) {
                                tracing::warn!(error = %e, "purging expired records failed");
                            }
                        });
                        // The writer is gone only when the store is; then so are we.
                        let _ = writer.jobs.send(job);
                    }
                    // PASSIVE never waits for readers or writers; what it cannot copy now
                    // it copies next time.
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        Ok(Self { stop })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl SqliteStore {
    /// Opens (or creates, with its directory) the database at `path`, in WAL mode,
    /// and creates the schema if missing.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path))
            .await
            .map_err(|e| StoreError::backend("opening the SQLite store", e))?
    }

    fn open_blocking(path: &Path) -> Result<Self, StoreError> {
        let context = "opening the SQLite store";
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::backend(context, e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| StoreError::backend(context, e))?;
        let setup = |c: &mut Connection| {
            c.execute_batch(PRAGMAS)?;
            c.pragma_update(None, "journal_mode", "WAL")?;
            // The checkpointer thread does this instead (see `Checkpointer`).
            c.pragma_update(None, "wal_autocheckpoint", 0)?;
            migrate(c)
        };
        setup(&mut conn).map_err(|e| StoreError::backend(context, e))?;
        purge(&conn, chrono::Utc::now()).map_err(|e| StoreError::backend(context, e))?;
        let writer = Writer::start(conn).map_err(|e| StoreError::backend(context, e))?;
        let readers = pool(
            SqliteConnectionManager::file(path).with_init(|c| {
                c.execute_batch(PRAGMAS)?;
                c.pragma_update(None, "query_only", true)
            }),
            READERS,
        )
        .map_err(|e| StoreError::backend(context, e))?;
        let checkpointer = Checkpointer::start(path, writer.clone())
            .map_err(|e| StoreError::backend(context, e))?;
        Ok(Self {
            writer,
            readers,
            _checkpointer: Arc::new(checkpointer),
        })
    }

    /// Runs `f` on a connection of `pool` on the blocking thread pool.
    async fn run<R, F>(
        pool: &Pool<SqliteConnectionManager>,
        context: &'static str,
        f: F,
    ) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let pool = pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| StoreError::backend(context, e))?;
            f(&mut conn).map_err(|e| StoreError::backend(context, e))
        })
        .await
        .map_err(|e| StoreError::backend(context, e))?
    }
}

/// Deletes up to a batch of records that expired more than [`KEEP_EXPIRED`] before `now`,
/// and the idempotency keys that have expired; returns how many records went.
fn purge(conn: &Connection, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    let cutoff = millis(now - KEEP_EXPIRED);
    let purged = conn
        .prepare_cached(
            "DELETE FROM tokens WHERE rowid IN
                 (SELECT rowid FROM tokens WHERE expires_at <= ?1 LIMIT ?2)",
        )?
        .execute(params![cutoff, PURGE_BATCH])?;
    conn.prepare_cached("DELETE FROM idempotency WHERE expires_at <= ?1")?
        .execute(params![millis(now)])?;
    Ok(purged)
}

/// Applies the migrations not applied yet, in one transaction.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for migration in MIGRATIONS.iter().skip(applied.max(0) as usize) {
        tx.execute_batch(migration)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    tx.commit()
}

fn pool(
    manager: SqliteConnectionManager,
    size: u32,
) -> Result<Pool<SqliteConnectionManager>, r2d2::Error> {
    Pool::builder()
        .max_size(size)
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .build(manager)
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Reads column `idx` as text and validates it with `parse`.
fn parsed<T>(
    row: &Row<'_>,
    idx: usize,
    parse: fn(String) -> Result<T, ValidationError>,
) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse(text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
}

fn optional_parsed<T>(
    row: &Row<'_>,
    idx: usize,
    parse: fn(String) -> Result<T, ValidationError>,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| {
        parse(t).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
    })
    .transpose()
}

fn time(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let value: Option<i64> = row.get(idx)?;
    value
        .map(|ms| {
            DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(idx, ms))
        })
        .transpose()
}

/// Maps a row of [`COLUMNS`] to a record.
fn record_from_row(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let entity_b = optional_parsed(row, 2, EntityId::parse)?;
    Ok(TokenRecord {
        token: parsed(row, 0, Token::parse)?,
        entity_a: parsed(row, 1, EntityId::parse)?,
        status: TokenRecord::status_of(entity_b.as_ref()),
        entity_b,
        label: optional_parsed(row, 3, Label::parse)?,
        created_at: time(row, 4)?.ok_or(rusqlite::Error::InvalidColumnType(
            4,
            "created_at".into(),
            Type::Null,
        ))?,
        paired_at: time(row, 5)?,
        expires_at: time(row, 6)?,
        code: optional_parsed(row, 7, ShortCode::parse)?,
    })
}

/// Inserts `new` within `tx`, honouring its idempotency key and short code.
fn insert_in(
    tx: &Connection,
    tenant: &str,
    new: &NewToken,
    now: i64,
) -> rusqlite::Result<Result<Inserted, StoreError>> {
    if let Some(claim) = &new.idempotency {
        let earlier: Option<(String, String)> = tx
            .prepare_cached(
                "SELECT request_hash, response FROM idempotency
                 WHERE tenant = ?1 AND key = ?2 AND expires_at > ?3",
            )?
            .query_row(params![tenant, claim.key, now], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        if let Some((hash, response)) = earlier {
            if hash != claim.request_hash {
                return Ok(Ok(Inserted::KeyReused));
            }
            return Ok(serde_json::from_str(&response)
                .map(Inserted::Replayed)
                .map_err(|e| StoreError::backend("replaying an idempotent create", e)));
        }
    }
    let r = &new.record;
    if let Some(code) = &r.code {
        let held: bool = tx
            .prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM tokens
                 WHERE code = :code AND code_expires_at > :now AND {LIVE})"
            ))?
            .query_row(
                named_params! { ":code": code.letters(), ":now": now },
                |row| row.get(0),
            )?;
        if held {
            return Ok(Err(StoreError::DuplicateCode));
        }
        // A code no live record resolves may be given out again.
        tx.prepare_cached("UPDATE tokens SET code = NULL WHERE code = ?1")?
            .execute(params![code.letters()])?;
    }
    let inserted = tx
        .prepare_cached(
            "INSERT INTO tokens (token, tenant, entity_a, entity_b, label, created_at,
                                 paired_at, expires_at, pair_ttl_seconds, code, code_expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (token) DO NOTHING",
        )?
        .execute(params![
            r.token.as_str(),
            tenant,
            r.entity_a.as_str(),
            r.entity_b.as_ref().map(EntityId::as_str),
            r.label.as_ref().map(Label::as_str),
            millis(r.created_at),
            r.paired_at.map(millis),
            r.expires_at.map(millis),
            new.pair_ttl.map(|t| t.seconds() as i64),
            r.code.as_ref().map(ShortCode::letters),
            r.code.as_ref().and(r.expires_at.map(millis)),
        ])?;
    if inserted == 0 {
        return Ok(Err(StoreError::Duplicate));
    }
    if let Some(IdempotencyClaim {
        key,
        request_hash,
        expires_at,
    }) = &new.idempotency
    {
        let response = serde_json::to_string(r)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        tx.prepare_cached(
            "INSERT OR REPLACE INTO idempotency (tenant, key, request_hash, response, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            tenant,
            key,
            request_hash,
            response,
            millis(*expires_at)
        ])?;
    }
    Ok(Ok(Inserted::Created))
}

/// Notes a pairing or a deletion for `GET /v1/stats`, and forgets events older than the
/// stats window (cheap: the index is ordered by time).
fn record_event(
    tx: &Connection,
    tenant: &str,
    kind: &str,
    now: i64,
    latency_ms: Option<i64>,
) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO events (tenant, kind, at, latency_ms) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![tenant, kind, now, latency_ms])?;
    tx.prepare_cached("DELETE FROM events WHERE tenant = ?1 AND kind = ?2 AND at <= ?3")?
        .execute(params![tenant, kind, now - STATS_WINDOW.num_milliseconds()])?;
    Ok(())
}

fn select_live(
    conn: &Connection,
    tenant: &str,
    token: &str,
    now: i64,
) -> rusqlite::Result<Option<TokenRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tokens WHERE token = :token AND tenant = :tenant AND {LIVE}"
    ))?
    .query_row(
        named_params! { ":token": token, ":tenant": tenant, ":now": now },
        record_from_row,
    )
    .optional()
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
        let tenant = tenant.as_str().to_owned();
        let new = new.clone();
        self.writer
            .run("inserting a token", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let outcome = insert_in(&tx, &tenant, &new, millis(now))?;
                tx.commit()?;
                Ok(outcome)
            })
            .await?
    }

    async fn resolve_code(
        &self,
        tenant: &TenantId,
        code: &ShortCode,
        now: DateTime<Utc>,
    ) -> Result<Option<Token>, StoreError> {
        let (tenant, code) = (tenant.as_str().to_owned(), code.letters().to_owned());
        Self::run(&self.readers, "resolving a short code", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT token FROM tokens
                 WHERE code = :code AND tenant = :tenant AND code_expires_at > :now AND {LIVE}"
            ))?
            .query_row(
                named_params! { ":code": code, ":tenant": tenant, ":now": millis(now) },
                |row| parsed(row, 0, Token::parse),
            )
            .optional()
        })
        .await
    }

    async fn stats(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<StatsCounts, StoreError> {
        let tenant = tenant.as_str().to_owned();
        Self::run(&self.readers, "counting tokens", move |conn| {
            let now = millis(now);
            let since = now - STATS_WINDOW.num_milliseconds();
            let (pending, paired): (i64, i64) = conn
                .prepare_cached(&format!(
                    "SELECT COALESCE(SUM(entity_b IS NULL), 0), COALESCE(SUM(entity_b IS NOT NULL), 0)
                     FROM tokens WHERE tenant = :tenant AND {LIVE}"
                ))?
                .query_row(named_params! { ":tenant": tenant, ":now": now }, |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
            let expired: i64 = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM tokens WHERE tenant = ?1 AND entity_b IS NULL
                     AND expires_at <= ?2 AND expires_at > ?3",
                )?
                .query_row(params![tenant, now, since], |row| row.get(0))?;
            let deleted: i64 = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM events WHERE tenant = ?1 AND kind = 'deleted' AND at > ?2",
                )?
                .query_row(params![tenant, since], |row| row.get(0))?;
            let pair_latencies_ms = conn
                .prepare_cached(
                    "SELECT latency_ms FROM events WHERE tenant = ?1 AND kind = 'paired' AND at > ?2",
                )?
                .query_map(params![tenant, since], |row| row.get::<_, i64>(0))?
                .map(|ms| ms.map(|ms| ms.max(0) as u64))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(StatsCounts {
                pending: pending as u64,
                paired: paired as u64,
                deleted: deleted as u64,
                expired: expired as u64,
                pair_latencies_ms,
            })
        })
        .await
    }

    fn change_poll_interval(&self) -> Option<Duration> {
        // Every write to the file goes through this process's store.
        None
    }

    async fn get(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let (tenant, token) = (tenant.as_str().to_owned(), token.as_str().to_owned());
        Self::run(&self.readers, "reading a token", move |conn| {
            select_live(conn, &tenant, &token, millis(now))
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
        self.writer
            .run("pairing a token", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = millis(now);
                let paired = tx
                    .prepare_cached(&format!(
                        "UPDATE tokens
                     SET entity_b = ?3, paired_at = ?4,
                         expires_at = CASE WHEN pair_ttl_seconds IS NULL THEN NULL
                                           ELSE ?4 + pair_ttl_seconds * 1000 END
                     WHERE token = ?1 AND tenant = ?2 AND entity_b IS NULL AND entity_a <> ?3
                       AND (expires_at IS NULL OR expires_at > ?4)
                     RETURNING {COLUMNS}"
                    ))?
                    .query_row(params![token, tenant, entity_b, now], record_from_row)
                    .optional()?;
                let outcome = match paired {
                    Some(record) => {
                        let latency = (record.paired_at.unwrap_or(record.created_at)
                            - record.created_at)
                            .num_milliseconds();
                        record_event(&tx, &tenant, "paired", now, Some(latency))?;
                        PairOutcome::Paired(record)
                    }
                    None => match select_live(&tx, &tenant, &token, now)? {
                        Some(record) => PairOutcome::Unchanged(record),
                        None => PairOutcome::Missing,
                    },
                };
                tx.commit()?;
                Ok(outcome)
            })
            .await
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let (tenant, token) = (tenant.as_str().to_owned(), token.as_str().to_owned());
        self.writer
            .run("deleting a token", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = millis(now);
                let deleted = tx
                    .prepare_cached(&format!(
                        "DELETE FROM tokens WHERE token = :token AND tenant = :tenant AND {LIVE}
                     RETURNING {COLUMNS}"
                    ))?
                    .query_row(
                        named_params! { ":token": token, ":tenant": tenant, ":now": now },
                        record_from_row,
                    )
                    .optional()?;
                if deleted.is_some() {
                    record_event(&tx, &tenant, "deleted", now, None)?;
                }
                tx.commit()?;
                Ok(deleted)
            })
            .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        entity: &EntityId,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        let (tenant, entity) = (tenant.as_str().to_owned(), entity.as_str().to_owned());
        let (before_ms, before_token) = match after {
            Some(c) => (millis(c.created_at), c.token.as_str().to_owned()),
            None => (i64::MAX, String::new()),
        };
        let items = Self::run(&self.readers, "listing tokens", move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tokens
                 WHERE tenant = ?1 AND (entity_a = ?2 OR entity_b = ?2)
                   AND (expires_at IS NULL OR expires_at > ?3)
                   AND (created_at < ?4 OR (created_at = ?4 AND token < ?5))
                 ORDER BY created_at DESC, token DESC
                 LIMIT ?6"
            ))?
            .query_map(
                params![
                    tenant,
                    entity,
                    millis(now),
                    before_ms,
                    before_token,
                    limit as i64 + 1
                ],
                record_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
        Ok(Page::from_overfetched(items, limit))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Self::run(&self.readers, "checking the SQLite store", |conn| {
            conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
        })
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration as Span;
    use sdk::{EntityId, Status};

    use super::*;

    fn record(token: &str, created_at: DateTime<Utc>, ttl: Span) -> NewToken {
        NewToken {
            record: TokenRecord {
                token: Token::parse(token).unwrap(),
                code: None,
                entity_a: EntityId::parse("a").unwrap(),
                entity_b: None,
                status: Status::Pending,
                label: None,
                created_at,
                paired_at: None,
                expires_at: Some(created_at + ttl),
            },
            pair_ttl: None,
            idempotency: None,
        }
    }

    #[tokio::test]
    async fn records_that_expired_over_a_day_ago_are_purged_and_recent_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let now = Utc::now();
        let store = SqliteStore::open(&path).await.unwrap();
        let tenant = TenantId::local();
        for (token, created, ttl) in [
            ("long-gone", now - Span::days(3), Span::minutes(1)),
            ("just-expired", now - Span::hours(2), Span::minutes(1)),
            ("live", now, Span::hours(1)),
        ] {
            store
                .insert(&tenant, &record(token, created, ttl), created)
                .await
                .unwrap();
        }
        drop(store);

        // Opening purges too (and a running store does it once a minute).
        let _reopened = SqliteStore::open(&path).await.unwrap();

        let conn = Connection::open(&path).unwrap();
        let mut left: Vec<String> = conn
            .prepare("SELECT token FROM tokens")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        left.sort();
        assert_eq!(left, ["just-expired", "live"]);
    }
}
