//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a single connection, so each is one short transaction that never
//! waits on a lock held by another writer of this process; reads use a small pool of
//! their own and, thanks to WAL, never wait on a write. Every commit reaches the WAL
//! file before it is acknowledged (`synchronous = NORMAL`), so a `kill -9` of the
//! process loses nothing that was acknowledged; a power cut may lose the last few.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use sdk::{EntityId, Label, Token, TokenRecord, ValidationError};

use super::{Cursor, NewToken, Page, PairOutcome, Store, StoreError, TenantId};

/// The schema, created on open. Times are Unix milliseconds; a `NULL` `expires_at`
/// never expires. `tenant` scopes every query.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tokens (
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
CREATE INDEX IF NOT EXISTS tokens_by_entity_b ON tokens (tenant, entity_b, created_at DESC, token DESC);
";

/// The columns [`record_from_row`] reads, in order.
const COLUMNS: &str = "token, entity_a, entity_b, label, created_at, paired_at, expires_at";

/// Settings of every connection.
const PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;";

/// How many connections serve reads.
const READERS: u32 = 4;

/// The SQLite adapter of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Pool<SqliteConnectionManager>,
    readers: Pool<SqliteConnectionManager>,
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
        let writer = pool(
            SqliteConnectionManager::file(path).with_init(|c| {
                c.execute_batch(PRAGMAS)?;
                c.pragma_update(None, "journal_mode", "WAL")
            }),
            1,
        )
        .map_err(|e| StoreError::backend(context, e))?;
        writer
            .get()
            .map_err(|e| StoreError::backend(context, e))?
            .execute_batch(SCHEMA)
            .map_err(|e| StoreError::backend(context, e))?;
        let readers = pool(
            SqliteConnectionManager::file(path).with_init(|c| {
                c.execute_batch(PRAGMAS)?;
                c.pragma_update(None, "query_only", true)
            }),
            READERS,
        )
        .map_err(|e| StoreError::backend(context, e))?;
        Ok(Self { writer, readers })
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
    })
}

fn select_live(
    conn: &Connection,
    tenant: &str,
    token: &str,
    now: i64,
) -> rusqlite::Result<Option<TokenRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tokens
         WHERE token = ?1 AND tenant = ?2 AND (expires_at IS NULL OR expires_at > ?3)"
    ))?
    .query_row(params![token, tenant, now], record_from_row)
    .optional()
}

#[async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn insert(&self, tenant: &TenantId, new: &NewToken) -> Result<(), StoreError> {
        let tenant = tenant.as_str().to_owned();
        let new = new.clone();
        let inserted = Self::run(&self.writer, "inserting a token", move |conn| {
            let r = &new.record;
            conn.prepare_cached(
                "INSERT INTO tokens (token, tenant, entity_a, entity_b, label, created_at,
                                     paired_at, expires_at, pair_ttl_seconds)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
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
            ])
        })
        .await?;
        if inserted == 1 {
            Ok(())
        } else {
            Err(StoreError::Duplicate)
        }
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
        Self::run(&self.writer, "pairing a token", move |conn| {
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
                Some(record) => PairOutcome::Paired(record),
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
        Self::run(&self.writer, "deleting a token", move |conn| {
            conn.prepare_cached(&format!(
                "DELETE FROM tokens
                 WHERE token = ?1 AND tenant = ?2 AND (expires_at IS NULL OR expires_at > ?3)
                 RETURNING {COLUMNS}"
            ))?
            .query_row(params![token, tenant, millis(now)], record_from_row)
            .optional()
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
        let mut items = Self::run(&self.readers, "listing tokens", move |conn| {
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
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(Cursor::after)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Self::run(&self.readers, "checking the SQLite store", |conn| {
            conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
        })
        .await
        .map(drop)
    }
}
