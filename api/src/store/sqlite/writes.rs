//! The store's writes as SQL on the write connection, each run by the writer thread inside
//! its batch's transaction: insert (with the short code and idempotency key), pair, pair by
//! code (with the count of failed guesses), delete, and the purge. A pairing and a deletion
//! queue their webhook event in the same transaction ([`super::webhooks`]).

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, named_params, params};
use sdk::webhooks::EventType;
use sdk::{EntityId, Label, ShortCode, TokenRecord};

use super::reads::{self, select_live};
use super::rows::millis;
use super::webhooks;
use super::writer::WriteError;
use super::{KEEP_EXPIRED, PURGE_BATCH};
use crate::store::{
    CodeOutcome, GuessLimits, GuessWindow, IdempotencyClaim, Inserted, NewToken, PairOutcome,
    RateLease, StoreError, WHOLE_TENANT,
};

/// What a write did, and whether it queued webhook deliveries: the delivery worker is woken
/// (once the write has committed) only then.
pub(super) struct Announced<T> {
    pub outcome: T,
    pub queued: bool,
}

impl<T> Announced<T> {
    /// An outcome that queued no delivery.
    fn quiet(outcome: T) -> Self {
        Self {
            outcome,
            queued: false,
        }
    }
}

/// Pairs `entity_b` with the live, pending record `token`: one `UPDATE`, then the record
/// read back, as paired or, when the update changed nothing, as it is, which says why.
/// (Not `UPDATE … RETURNING`, which SQLite runs as a trigger program: the read costs less;
/// README, "Load test and benchmarks".)
pub(super) fn pair(
    conn: &Connection,
    tenant: &str,
    token: &str,
    entity_b: &str,
    now: i64,
) -> rusqlite::Result<Announced<PairOutcome>> {
    let changed = conn
        .prepare_cached(
            "UPDATE tokens
             SET entity_b = ?3, paired_at = ?4,
                 expires_at = CASE WHEN pair_ttl_seconds IS NULL THEN NULL
                                   ELSE ?4 + pair_ttl_seconds * 1000 END
             WHERE token = ?1 AND tenant = ?2 AND entity_b IS NULL AND entity_a <> ?3
               AND (expires_at IS NULL OR expires_at > ?4)",
        )?
        .execute(params![token, tenant, entity_b, now])?;
    // A record just paired is live: a pairing's TTL is at least a minute.
    let Some(record) = select_live(conn, tenant, token, now)? else {
        return Ok(Announced::quiet(PairOutcome::Missing));
    };
    if changed == 0 {
        return Ok(Announced::quiet(PairOutcome::Unchanged(record)));
    }
    let queued = webhooks::announce(conn, tenant, EventType::TokenPaired, &record, now)?;
    Ok(Announced {
        outcome: PairOutcome::Paired(record),
        queued,
    })
}

/// A pair-by-code attempt, as the writer runs it: all of it in the batch's transaction,
/// so that the limit check, the pairing and the failure count are one atomic step for
/// every process on the file.
pub(super) struct CodeAttemptRow {
    pub tenant: String,
    /// The code's letters; `None` for a malformed code.
    pub code: Option<String>,
    pub presenter: EntityId,
    pub guesser: String,
    pub limits: GuessLimits,
}

/// Runs `attempt` (see [`crate::store::Store::pair_by_code`]): refuses when the guesser or
/// the tenant is at its limit in this window; else resolves and pairs, and counts a
/// failure when that did not find what it looked for.
pub(super) fn pair_by_code(
    conn: &Connection,
    attempt: &CodeAttemptRow,
    now: i64,
) -> rusqlite::Result<Announced<CodeOutcome>> {
    let tenant = attempt.tenant.as_str();
    let window = GuessWindow::containing_ms(now);
    let limited = reads::code_failures(conn, tenant, &attempt.guesser, now)?
        >= u64::from(attempt.limits.per_guesser)
        || reads::code_failures(conn, tenant, WHOLE_TENANT, now)?
            >= u64::from(attempt.limits.per_tenant);
    if limited {
        return Ok(Announced::quiet(CodeOutcome::Limited {
            until: window.end(),
        }));
    }
    let presenter = attempt.presenter.as_str();
    let token = match &attempt.code {
        Some(code) => reads::code(conn, tenant, code, presenter, now)?,
        None => None,
    };
    if let Some(token) = token {
        let Announced { outcome, queued } = pair(conn, tenant, token.as_str(), presenter, now)?;
        if let Some(found) = CodeOutcome::found(outcome, &attempt.presenter) {
            return Ok(Announced {
                outcome: CodeOutcome::Found(found),
                queued,
            });
        }
    }
    let mut count = conn.prepare_cached(
        "INSERT INTO code_failures (tenant, guesser, window_start, failures)
         VALUES (?1, ?2, ?3, 1)
         ON CONFLICT (tenant, guesser, window_start) DO UPDATE SET failures = failures + 1",
    )?;
    for guesser in [attempt.guesser.as_str(), WHOLE_TENANT] {
        count.execute(params![tenant, guesser, window.start_ms])?;
    }
    Ok(Announced::quiet(CodeOutcome::Failed))
}

/// Takes up to `want` of `key`'s `budget` for the second at `second_ms`.
pub(super) fn lease_requests(
    conn: &Connection,
    key: &str,
    second_ms: i64,
    budget: u32,
    want: u32,
) -> rusqlite::Result<RateLease> {
    let used: i64 = conn
        .prepare_cached("SELECT used FROM rate_leases WHERE key = ?1 AND second_start = ?2")?
        .query_row(params![key, second_ms], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let used = u32::try_from(used).unwrap_or(u32::MAX);
    let granted = want.min(budget.saturating_sub(used));
    if granted > 0 {
        conn.prepare_cached(
            "INSERT INTO rate_leases (key, second_start, used) VALUES (?1, ?2, ?3)
             ON CONFLICT (key, second_start) DO UPDATE SET used = used + ?3",
        )?
        .execute(params![key, second_ms, granted])?;
    }
    Ok(RateLease {
        granted,
        used: used + granted,
    })
}

/// Deletes the live record `token` and returns it as it was. Marked, not removed: every
/// read treats it as gone from now on, the stats count it for a day, and the purge
/// removes it after that.
pub(super) fn delete(
    conn: &Connection,
    tenant: &str,
    token: &str,
    now: i64,
) -> rusqlite::Result<Announced<Option<TokenRecord>>> {
    let Some(record) = select_live(conn, tenant, token, now)? else {
        return Ok(Announced::quiet(None));
    };
    conn.prepare_cached(
        "UPDATE tokens SET deleted_at = ?3, expires_at = ?3
         WHERE token = ?1 AND tenant = ?2",
    )?
    .execute(params![token, tenant, now])?;
    let queued = webhooks::announce(conn, tenant, EventType::TokenDeleted, &record, now)?;
    Ok(Announced {
        outcome: Some(record),
        queued,
    })
}

/// Deletes up to [`PURGE_BATCH`] records that expired (or were deleted) more than
/// [`KEEP_EXPIRED`] ago, and the idempotency keys that have expired; returns how many
/// records went.
pub(super) fn purge(conn: &Connection) -> rusqlite::Result<usize> {
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
    // Failure counts of windows that have ended (at most a few rows per guesser).
    conn.prepare_cached("DELETE FROM code_failures WHERE window_start < ?1")?
        .execute(params![GuessWindow::containing(now).start_ms])?;
    // Finished webhook deliveries past the week the tenant can see them.
    webhooks::purge(conn, millis(now - chrono::Duration::days(7)))?;
    // Rate leases of seconds long past.
    conn.prepare_cached("DELETE FROM rate_leases WHERE second_start < ?1")?
        .execute(params![millis(now) - 60_000])?;
    Ok(purged)
}

/// Purges until nothing is left to purge (at open, before anything else writes).
pub(super) fn purge_all(conn: &Connection) -> rusqlite::Result<()> {
    while purge(conn)? >= PURGE_BATCH {}
    Ok(())
}

/// Inserts `new`, honouring its idempotency key and short code.
pub(super) fn insert(
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
            .query_row(params![tenant, claim.key.as_str(), now], |row| {
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
                 WHERE code = :code AND code_expires_at > :now AND entity_b IS NULL AND ",
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
        // A code no live, pending record resolves may be given out again.
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
            r.code.as_ref().and(new.code_expires_at.map(millis)),
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
            key.as_str(),
            request_hash,
            response,
            millis(*expires_at)
        ])?;
    }
    Ok(Inserted::Created)
}
