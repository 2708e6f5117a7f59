//! The store's reads as SQL on a reader connection: a token, a short code, a listing, the
//! stats. (Where each runs, a reader right here or the blocking pool, is [`super`]'s call.)

use rusqlite::{Connection, OptionalExtension, named_params, params};
use sdk::{EntityId, Token, TokenRecord};

use super::rows::{columns, millis, parsed, record_from_row};
use crate::domain::{Cursor, TenantId};
use crate::store::{GuessWindow, STATS_WINDOW, StatsCounts, WHOLE_TENANT};

/// The token that the short code `code` (its letters) stands for, while it resolves for
/// `presenter`: before its own expiry, on a live record that is pending or paired with
/// `presenter`. One indexed read whether the code is unknown, expired or used up.
pub(super) fn code(
    conn: &Connection,
    tenant: &str,
    code: &str,
    presenter: &str,
    now: i64,
) -> rusqlite::Result<Option<Token>> {
    conn.prepare_cached(concat!(
        "SELECT token FROM tokens
         WHERE code = :code AND tenant = :tenant AND code_expires_at > :now
           AND (entity_b IS NULL OR entity_b = :presenter) AND ",
        live!()
    ))?
    .query_row(
        named_params! { ":code": code, ":tenant": tenant, ":presenter": presenter, ":now": now },
        |row| parsed(row, 0, Token::parse),
    )
    .optional()
}

/// Where a listing reads: whose records, from where, how many.
pub(super) struct Listing {
    pub tenant: String,
    pub entity: String,
    /// The cursor's time and token, or past every record for the first page.
    pub before_ms: i64,
    pub before_token: String,
    /// How many records to read (one more than the page, so that a further page shows).
    pub wanted: usize,
    pub now: i64,
}

impl Listing {
    /// The listing of `entity`'s records after `after`, for a page of `limit`.
    pub fn new(
        tenant: &TenantId,
        entity: &EntityId,
        limit: usize,
        after: Option<&Cursor>,
        now: i64,
    ) -> Self {
        let (before_ms, before_token) = match after {
            Some(c) => (millis(c.at), c.token.as_str().to_owned()),
            None => (i64::MAX, String::new()),
        };
        Self {
            tenant: tenant.as_str().to_owned(),
            entity: entity.as_str().to_owned(),
            before_ms,
            before_token,
            wanted: limit + 1,
            now,
        }
    }
}

/// The live records of `listing`, newest first by when the entity joined them (see
/// [`crate::domain::joined_at`]): each side read along its own index.
pub(super) fn list(conn: &Connection, listing: &Listing) -> rusqlite::Result<Vec<TokenRecord>> {
    conn.prepare_cached(concat!(
        "SELECT * FROM (
           SELECT ",
        columns!(),
        ", created_at AS joined FROM tokens
           WHERE tenant = ?1 AND entity_a = ?2 AND (expires_at IS NULL OR expires_at > ?3)
             AND (created_at < ?4 OR (created_at = ?4 AND token < ?5))
           UNION ALL
           SELECT ",
        columns!(),
        ", paired_at AS joined FROM tokens
           WHERE tenant = ?1 AND entity_b = ?2 AND (expires_at IS NULL OR expires_at > ?3)
             AND (paired_at < ?4 OR (paired_at = ?4 AND token < ?5))
         )
         ORDER BY joined DESC, token DESC
         LIMIT ?6"
    ))?
    .query_map(
        params![
            listing.tenant,
            listing.entity,
            listing.now,
            listing.before_ms,
            listing.before_token,
            listing.wanted as i64
        ],
        record_from_row,
    )?
    .collect()
}

/// The tenant's counts: one pass over its records, deleted and expired ones included:
/// they are kept past the stats window, so the window's events are all here.
pub(super) fn stats(conn: &Connection, tenant: &str, now: i64) -> rusqlite::Result<StatsCounts> {
    let since = now - STATS_WINDOW.num_milliseconds();
    let mut counts = StatsCounts::default();
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
    counts.code_failures = code_failures(conn, tenant, WHOLE_TENANT, now)?;
    Ok(counts)
}

/// How often `guesser` of `tenant` failed a short code in the window of `now`.
pub(super) fn code_failures(
    conn: &Connection,
    tenant: &str,
    guesser: &str,
    now: i64,
) -> rusqlite::Result<u64> {
    let window = GuessWindow::containing_ms(now);
    let failures: Option<i64> = conn
        .prepare_cached(
            "SELECT failures FROM code_failures
             WHERE tenant = ?1 AND guesser = ?2 AND window_start = ?3",
        )?
        .query_row(params![tenant, guesser, window.start_ms], |row| row.get(0))
        .optional()?;
    Ok(failures.unwrap_or(0).max(0).unsigned_abs())
}

/// The live record `token`.
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
