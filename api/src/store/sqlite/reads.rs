//! The store's reads: a token or a short code (on a pooled reader, right where they are
//! asked), a listing and the stats (on the blocking pool).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, named_params, params};
use sdk::{EntityId, ShortCode, Token, TokenRecord};

use super::SqliteStore;
use super::rows::{columns, millis, parsed, record_from_row};
use crate::domain::{Cursor, Page, TenantId};
use crate::store::{STATS_WINDOW, StatsCounts, StoreError};

impl SqliteStore {
    /// [`crate::store::Store::resolve_code`].
    pub(super) async fn read_code(
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

    /// [`crate::store::Store::get`].
    pub(super) async fn read_token(
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

    /// [`crate::store::Store::list`].
    pub(super) async fn list_tokens(
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

    /// [`crate::store::Store::stats`]: one pass over the tenant's records.
    pub(super) async fn read_stats(
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
}

pub(super) fn select_live(
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
