//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a single connection on a thread of its own ([`writer`]), which commits
//! what is queued as one transaction (group commit) and answers each write only once it is
//! committed; with `synchronous = FULL` (the default, [`Durability`]) that means it is on disk
//! and survives a power cut. Point reads run on a pooled connection right where they are
//! asked (they take microseconds and, thanks to WAL, never wait on a write); listings and
//! stats, which may read many rows, run on the blocking thread pool. The writer keeps the
//! WAL bounded and empties it when idle ([`wal`]), and purges long-expired records.

mod rows;
mod schema;
mod wal;
mod writer;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension, named_params, params};
use sdk::{EntityId, Label, ShortCode, Token, TokenRecord};

use self::rows::{columns, millis, parsed, record_from_row};
pub use self::schema::Durability;
pub use self::wal::DEFAULT_LIMIT_BYTES as DEFAULT_WAL_LIMIT_BYTES;
use self::writer::{Housekeeping, WriteError, Writer};
use super::{
    Cursor, IdempotencyClaim, Inserted, NewToken, Page, PairOutcome, STATS_WINDOW, StatsCounts,
    Store, StoreError, TenantId,
};

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
        let mut conn = Connection::open(path).map_err(failed)?;
        schema::configure(&conn, options.durability).map_err(failed)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(failed)?;
        // The writer checkpoints instead (see `wal`), and the file is cut back to the
        // bound whenever the log starts again.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(failed)?;
        conn.pragma_update(None, "journal_size_limit", options.wal_limit_bytes as i64)
            .map_err(failed)?;
        // The writer touches the indexes' hot pages on every batch: keep them in memory.
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(failed)?;
        schema::migrate(&mut conn).map_err(failed)?;
        purge_all(&conn).map_err(failed)?;
        // A log left by an earlier run (or an older version) is folded in and emptied.
        wal::checkpoint(&conn, wal::Checkpoint::Truncate).map_err(failed)?;
        let page_size: i64 = conn
            .pragma_query_value(None, "page_size", |row| row.get(0))
            .map_err(failed)?;
        let housekeeping = Housekeeping {
            wal: wal::Wal::new(
                options.wal_limit_bytes,
                page_size.max(512) as u64,
                writer::MAX_BATCH,
            ),
            purge,
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
        Ok(Self { writer, readers })
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

/// Deletes up to [`PURGE_BATCH`] records that expired (or were deleted) more than
/// [`KEEP_EXPIRED`] ago, and the idempotency keys that have expired; returns how many
/// records went.
fn purge(conn: &Connection) -> rusqlite::Result<usize> {
    let now = Utc::now();
    let cutoff = millis(now - KEEP_EXPIRED);
    let purged = conn
        .prepare_cached(
            "DELETE FROM tokens WHERE rowid IN
                 (SELECT rowid FROM tokens WHERE expires_at <= ?1 LIMIT ?2)",
        )?
        .execute(params![cutoff, PURGE_BATCH as i64])?;
    conn.prepare_cached(
        "DELETE FROM idempotency WHERE rowid IN
             (SELECT rowid FROM idempotency WHERE expires_at <= ?1 LIMIT ?2)",
    )?
    .execute(params![millis(now), PURGE_BATCH as i64])?;
    Ok(purged)
}

/// Purges until nothing is left to purge (at open, before anything else writes).
fn purge_all(conn: &Connection) -> rusqlite::Result<()> {
    while purge(conn)? >= PURGE_BATCH {}
    Ok(())
}

/// Inserts `new`, honouring its idempotency key and short code.
fn insert_in(
    tx: &Connection,
    tenant: &str,
    new: &NewToken,
    now: i64,
) -> Result<Inserted, WriteError> {
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
                return Err(StoreError::KeyReused.into());
            }
            return serde_json::from_str(&response)
                .map(Inserted::Replayed)
                .map_err(|e| StoreError::backend("replaying an idempotent create", e).into());
        }
    }
    let r = &new.record;
    if let Some(code) = &r.code {
        let held: bool = tx
            .prepare_cached(concat!(
                "SELECT EXISTS (SELECT 1 FROM tokens
                 WHERE code = :code AND code_expires_at > :now AND ",
                live!(),
                ")"
            ))?
            .query_row(
                named_params! { ":code": code.letters(), ":now": now },
                |row| row.get(0),
            )?;
        if held {
            return Err(StoreError::DuplicateCode.into());
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
        return Err(StoreError::Duplicate.into());
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
    Ok(Inserted::Created)
}

fn select_live(
    conn: &Connection,
    tenant: &str,
    token: &str,
    now: i64,
) -> rusqlite::Result<Option<TokenRecord>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        columns!(),
        " FROM tokens WHERE token = :token AND tenant = :tenant AND ",
        live!()
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
                insert_in(conn, &tenant, &new, millis(now))
            })
            .await
    }

    async fn resolve_code(
        &self,
        tenant: &TenantId,
        code: &ShortCode,
        now: DateTime<Utc>,
    ) -> Result<Option<Token>, StoreError> {
        let (tenant, code) = (tenant.as_str().to_owned(), code.letters().to_owned());
        self.read("resolving a short code", move |conn| {
            conn.prepare_cached(concat!(
                "SELECT token FROM tokens
                 WHERE code = :code AND tenant = :tenant AND code_expires_at > :now AND ",
                live!()
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
        self.scan("counting tokens", move |conn| {
            let now = millis(now);
            let since = now - STATS_WINDOW.num_milliseconds();
            let mut counts = StatsCounts::default();
            // One pass over the tenant's records, deleted and expired ones included: they
            // are kept past the stats window, so the window's events are all here.
            let mut statement = conn.prepare_cached(
                "SELECT entity_b IS NOT NULL, created_at, paired_at, expires_at, deleted_at
                 FROM tokens WHERE tenant = ?1",
            )?;
            let mut rows = statement.query(params![tenant])?;
            while let Some(row) = rows.next()? {
                let paired: bool = row.get(0)?;
                let created_at: i64 = row.get(1)?;
                let paired_at: Option<i64> = row.get(2)?;
                let expires_at: Option<i64> = row.get(3)?;
                let deleted_at: Option<i64> = row.get(4)?;
                let live = expires_at.is_none_or(|at| at > now);
                match (live, paired) {
                    (true, false) => counts.pending += 1,
                    (true, true) => counts.paired += 1,
                    (false, _) => {}
                }
                if deleted_at.is_some_and(|at| at > since && at <= now) {
                    counts.deleted += 1;
                } else if !paired
                    && deleted_at.is_none()
                    && expires_at.is_some_and(|at| at > since && at <= now)
                {
                    counts.expired += 1;
                }
                if let Some(at) = paired_at.filter(|&at| at > since && at <= now) {
                    counts
                        .pair_latencies_ms
                        .push((at - created_at).max(0).unsigned_abs());
                }
            }
            Ok(counts)
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
        self.read("reading a token", move |conn| {
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
                let now = millis(now);
                let paired = conn
                    .prepare_cached(concat!(
                        "UPDATE tokens
                         SET entity_b = ?3, paired_at = ?4,
                             expires_at = CASE WHEN pair_ttl_seconds IS NULL THEN NULL
                                               ELSE ?4 + pair_ttl_seconds * 1000 END
                         WHERE token = ?1 AND tenant = ?2 AND entity_b IS NULL AND entity_a <> ?3
                           AND (expires_at IS NULL OR expires_at > ?4)
                         RETURNING ",
                        columns!()
                    ))?
                    .query_row(params![token, tenant, entity_b, now], record_from_row)
                    .optional()?;
                Ok(match paired {
                    Some(record) => PairOutcome::Paired(record),
                    None => match select_live(conn, &tenant, &token, now)? {
                        Some(record) => PairOutcome::Unchanged(record),
                        None => PairOutcome::Missing,
                    },
                })
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
                // Marked, not removed: every read treats it as gone from now on, the stats
                // count it for a day, and the purge removes it after that. (Read first: the
                // answer is the record as it was.)
                let now = millis(now);
                let Some(record) = select_live(conn, &tenant, &token, now)? else {
                    return Ok(None);
                };
                conn.prepare_cached(
                    "UPDATE tokens SET deleted_at = ?3, expires_at = ?3
                     WHERE token = ?1 AND tenant = ?2",
                )?
                .execute(params![token, tenant, now])?;
                Ok(Some(record))
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
        let items = self
            .scan("listing tokens", move |conn| {
                conn.prepare_cached(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM tokens
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
        self.read("checking the SQLite store", |conn| {
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

    fn count(path: &Path, sql: &str) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row(sql, [], |row| row.get(0))
            .unwrap()
    }

    /// Has the writer sleep in its current batch, so that what is sent next queues up.
    fn hold_the_writer(store: &SqliteStore, for_ms: u64) -> tokio::task::JoinHandle<()> {
        let writer = store.writer.clone();
        tokio::spawn(async move {
            writer
                .run("holding the writer", move |_| {
                    std::thread::sleep(std::time::Duration::from_millis(for_ms));
                    Ok(())
                })
                .await
                .unwrap();
        })
    }

    #[tokio::test]
    async fn a_failing_write_undoes_only_itself_and_the_rest_of_its_batch_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let held = hold_the_writer(&store, 200);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;

        // Both queue behind the held batch, so they share the next one.
        let write = |sql: &'static str| {
            let writer = store.writer.clone();
            tokio::spawn(async move {
                writer
                    .run("a test write", move |conn| {
                        conn.execute_batch(sql)?;
                        // The second statement fails for the failing write only.
                        conn.execute_batch(if sql.contains("bad") {
                            "INSERT INTO no_such_table VALUES (1)"
                        } else {
                            "SELECT 1"
                        })?;
                        Ok(())
                    })
                    .await
            })
        };
        let good = write("INSERT INTO idempotency VALUES ('t', 'good', 'h', 'r', 9e15)");
        let bad = write("INSERT INTO idempotency VALUES ('t', 'bad', 'h', 'r', 9e15)");
        held.await.unwrap();

        assert!(good.await.unwrap().is_ok());
        assert!(bad.await.unwrap().is_err());
        assert_eq!(
            count(&path, "SELECT COUNT(*) FROM idempotency WHERE key = 'good'"),
            1
        );
        assert_eq!(
            count(&path, "SELECT COUNT(*) FROM idempotency WHERE key = 'bad'"),
            0
        );
    }

    #[tokio::test]
    async fn writes_past_a_full_queue_are_refused_as_overloaded_and_the_queued_ones_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let options = SqliteOptions {
            queue_capacity: 2,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open_with(&path, options).await.unwrap();
        let held = hold_the_writer(&store, 300);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;

        let tenant = TenantId::local();
        let now = Utc::now();
        let queued: Vec<_> = ["queued-1", "queued-2"]
            .into_iter()
            .map(|token| {
                let (store, tenant) = (store.clone(), tenant.clone());
                tokio::spawn(async move {
                    store
                        .insert(&tenant, &record(token, now, Span::hours(1)), now)
                        .await
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let refused = store
            .insert(&tenant, &record("refused", now, Span::hours(1)), now)
            .await;

        assert!(
            matches!(refused, Err(StoreError::Overloaded)),
            "{refused:?}"
        );
        held.await.unwrap();
        for insert in queued {
            assert_eq!(insert.await.unwrap().unwrap(), Inserted::Created);
        }
        assert_eq!(count(&path, "SELECT COUNT(*) FROM tokens"), 2);
    }

    #[tokio::test]
    async fn the_wal_is_emptied_once_writes_stop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let now = Utc::now();
        for i in 0..50 {
            let token = format!("token-{i}");
            store
                .insert(
                    &TenantId::local(),
                    &record(&token, now, Span::hours(1)),
                    now,
                )
                .await
                .unwrap();
        }
        let wal = dir.path().join("t.db-wal");
        assert!(
            std::fs::metadata(&wal).unwrap().len() > 0,
            "the writes are in the WAL"
        );

        let mut emptied = false;
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            if std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0 {
                emptied = true;
                break;
            }
        }

        assert!(
            emptied,
            "the WAL is still {} bytes after 5 s idle",
            std::fs::metadata(&wal).unwrap().len()
        );
        assert_eq!(count(&path, "SELECT COUNT(*) FROM tokens"), 50);
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
