//! Storage: the [`Store`] port that the pairing rules run on, and its adapters.
//!
//! Each adapter keeps its own types (SQL rows, DynamoDB attribute values) inside its
//! module; what crosses this boundary is [`TokenRecord`] and the types below.

pub mod dynamodb;
mod sqlite;
pub mod webhooks;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sdk::{EntityId, IdempotencyKey, ShortCode, Token, TokenRecord, Ttl};

pub use crate::domain::{Cursor, Page, TenantId};
pub use dynamodb::DynamoStore;
pub use sqlite::{Durability, SqliteOptions, SqliteStore};
pub use webhooks::WebhookStore;

/// Boxed error source of a store backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record with this token exists already (tokens are random, so this is rare).
    #[error("a record with this token exists already")]
    Duplicate,
    /// A live record holds this short code already.
    #[error("a live record holds this short code already")]
    DuplicateCode,
    /// The `Idempotency-Key` was used before with another request; nothing was created.
    #[error("this Idempotency-Key was used with a different request")]
    KeyReused,
    /// The store has more work queued than it takes; retry shortly.
    #[error("the store is overloaded: too many writes are waiting")]
    Overloaded,
    /// The backend failed or could not be reached.
    #[error("{context}")]
    Backend {
        /// What the store was doing.
        context: &'static str,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// Wraps a backend error with what the store was doing.
    pub fn backend(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            context,
            source: source.into(),
        }
    }
}

/// A record to insert, with what only the store needs to know.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The record as it reads right after creation.
    pub record: TokenRecord,
    /// Until when its short code, if any, resolves (at most `record.expires_at`, and only
    /// while the record is pending).
    pub code_expires_at: Option<DateTime<Utc>>,
    /// How long the pairing lives once made; `None`: until deleted.
    pub pair_ttl: Option<Ttl>,
    /// The `Idempotency-Key` the record was created with, if any.
    pub idempotency: Option<IdempotencyClaim>,
}

/// An `Idempotency-Key` and the request it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// The key the client chose.
    pub key: IdempotencyKey,
    /// A digest of the request body: a replay must match it.
    pub request_hash: String,
    /// Until when the key is remembered.
    pub expires_at: DateTime<Utc>,
}

/// The result of [`Store::insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The record was created.
    Created,
    /// The idempotency key was used before with the same request: the record as that
    /// request created it; nothing new was created. (Used with another request, the
    /// insert fails with [`StoreError::KeyReused`].)
    Replayed(TokenRecord),
}

/// Counts for `GET /v1/stats`, as a store sees them at `now`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsCounts {
    /// Live, unpaired records.
    pub pending: u64,
    /// Live, paired records.
    pub paired: u64,
    /// Records deleted in the last 24 hours.
    pub deleted: u64,
    /// Records whose pending window ended unpaired in the last 24 hours.
    pub expired: u64,
    /// Creation-to-pairing times of the pairings of the last 24 hours, in milliseconds.
    pub pair_latencies_ms: Vec<u64>,
    /// Failed short-code attempts of the tenant in the current [`GuessWindow`].
    pub code_failures: u64,
}

/// How far back the windowed counts of [`StatsCounts`] reach.
pub const STATS_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// The result of [`Store::pair`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairOutcome {
    /// The record was pending and is now paired with the given entity.
    Paired(TokenRecord),
    /// The record is live but was not changed: it is paired already, or the entity
    /// is entity A. Holds the record as it is.
    Unchanged(TokenRecord),
    /// No live record has this token for this tenant.
    Missing,
}

/// The limits on failed short-code attempts, which every process on one store shares:
/// each guesser (an end user, or an address) and the tenant as a whole may fail so many
/// times per [`GuessWindow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuessLimits {
    /// Failures allowed per guesser and window.
    pub per_guesser: u32,
    /// Failures allowed per tenant and window, all guessers together.
    pub per_tenant: u32,
}

impl Default for GuessLimits {
    fn default() -> Self {
        Self {
            per_guesser: 20,
            per_tenant: 1000,
        }
    }
}

/// The fixed window that failed guesses count in: the clock hour (UTC). A guesser at its
/// limit waits until the hour ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuessWindow {
    /// When the window began, in Unix milliseconds.
    pub start_ms: i64,
}

impl GuessWindow {
    /// How long a window lasts.
    pub const LENGTH: chrono::Duration = chrono::Duration::hours(1);

    /// The window that `now` falls in.
    pub fn containing(now: DateTime<Utc>) -> Self {
        Self::containing_ms(now.timestamp_millis())
    }

    /// The window that `now_ms` (Unix milliseconds) falls in.
    pub fn containing_ms(now_ms: i64) -> Self {
        let length = Self::LENGTH.num_milliseconds();
        Self {
            start_ms: now_ms.div_euclid(length) * length,
        }
    }

    /// When the window ends (and the next begins), in Unix milliseconds.
    pub fn end_ms(self) -> i64 {
        self.start_ms + Self::LENGTH.num_milliseconds()
    }

    /// When the window ends.
    pub fn end(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.end_ms()).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The guesser key under which a store counts the tenant's failures as a whole; no
/// guesser's key (see [`crate::domain::Guesser::key`]) is ever this.
pub const WHOLE_TENANT: &str = "*";

/// One pair-by-code attempt, as [`Store::pair_by_code`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct CodeAttempt<'a> {
    /// The code as presented; `None` when it is not even well-formed (it then fails
    /// like any wrong code, without a lookup).
    pub code: Option<&'a ShortCode>,
    /// Entity B, who presents the code.
    pub presenter: &'a EntityId,
    /// Whose failures the attempt counts against (besides the tenant's).
    pub guesser: &'a str,
    /// The limits to hold it to.
    pub limits: GuessLimits,
}

/// What [`Store::pair_by_code`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeOutcome {
    /// The code resolved, and pairing its token gave this (see [`CodeOutcome::found`]).
    Found(PairOutcome),
    /// The code is wrong or dead; the failure was counted.
    Failed,
    /// The guesser or the tenant has no failures left in this window; nothing was tried.
    Limited {
        /// When the window ends.
        until: DateTime<Utc>,
    },
}

impl CodeOutcome {
    /// What pairing a code's token gave, if the attempt found what it looked for: a new
    /// pairing, the presenter's own pairing again, or the presenter's own code (entity A
    /// presenting it, which is refused but is no guess). Anything else (a token paired with
    /// someone else, or gone) is a failed attempt: the code is dead.
    pub fn found(outcome: PairOutcome, presenter: &EntityId) -> Option<PairOutcome> {
        let found = match &outcome {
            PairOutcome::Paired(_) => true,
            PairOutcome::Unchanged(record) => {
                record.entity_b.as_ref() == Some(presenter)
                    || (record.entity_b.is_none() && &record.entity_a == presenter)
            }
            PairOutcome::Missing => false,
        };
        found.then_some(outcome)
    }
}

/// A slice of an API key's request budget for one clock second, as
/// [`Store::lease_requests`] hands it to one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLease {
    /// How many requests the process may serve from this slice (0: the second's budget
    /// is spent).
    pub granted: u32,
    /// How many of the second's budget every process together has taken, this slice
    /// included.
    pub used: u32,
}

/// Where token records live. Every method sees only the given tenant's records, and
/// treats a record whose `expires_at` is at or before `now` as absent, whether or not
/// the backend has removed it yet. A pairing or a deletion records its webhook event
/// with the change itself ([`WebhookStore`]).
#[async_trait]
pub trait Store: WebhookStore + Send + Sync + 'static {
    /// A short name of the backend, for logs and `/healthz` (`sqlite`, `dynamodb`).
    fn kind(&self) -> &'static str;

    /// Inserts a new record: [`StoreError::Duplicate`] if the token exists,
    /// [`StoreError::DuplicateCode`] if a live record holds its short code. With an
    /// idempotency key seen before, creates nothing: the same request is
    /// [`Inserted::Replayed`], another one [`StoreError::KeyReused`].
    async fn insert(
        &self,
        tenant: &TenantId,
        new: &NewToken,
        now: DateTime<Utc>,
    ) -> Result<Inserted, StoreError>;

    /// Pairs the presenter with the token that the short code stands for, under the guess
    /// limits: refuses at once ([`CodeOutcome::Limited`]) when the guesser or the tenant
    /// has no failures left in this [`GuessWindow`]; else resolves the code (before its own
    /// expiry, while its record is live and pending, or paired with the presenter) and
    /// pairs as [`Store::pair`] does. An attempt that does not find what it looked for
    /// ([`CodeOutcome::found`]) counts one failure against the guesser and the tenant;
    /// one that does counts nothing. Every process on the store sees the same counts, and
    /// no number of concurrent attempts gets past a limit.
    async fn pair_by_code(
        &self,
        tenant: &TenantId,
        attempt: &CodeAttempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<CodeOutcome, StoreError>;

    /// The live record with this token.
    async fn get(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError>;

    /// Atomically pairs `entity_b` with a live, pending record whose entity A is another
    /// entity: sets `entity_b`, `paired_at = now`, and `expires_at` to `now` plus the
    /// record's pair TTL, or to none when it has none. Of any number of concurrent calls
    /// on one record, at most one returns [`PairOutcome::Paired`].
    async fn pair(
        &self,
        tenant: &TenantId,
        token: &Token,
        entity_b: &EntityId,
        now: DateTime<Utc>,
    ) -> Result<PairOutcome, StoreError>;

    /// Deletes the live record with this token and returns it.
    async fn delete(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError>;

    /// Up to `limit` live records where `entity` is entity A or entity B, newest first by
    /// when it joined them ([`crate::domain::joined_at`], then `token`), starting after `after`.
    async fn list(
        &self,
        tenant: &TenantId,
        entity: &EntityId,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError>;

    /// The tenant's counts for `GET /v1/stats`, with its code failures of this window.
    async fn stats(&self, tenant: &TenantId, now: DateTime<Utc>)
    -> Result<StatsCounts, StoreError>;

    /// Takes up to `want` of the `budget` requests that the API key `key` may make in the
    /// clock second that starts at `second_ms` (Unix milliseconds), for every process on
    /// the store together: never more than `budget` in all.
    async fn lease_requests(
        &self,
        key: &str,
        second_ms: i64,
        budget: u32,
        want: u32,
    ) -> Result<RateLease, StoreError>;

    /// How often a long-poll must re-read a record: `None` when every change goes
    /// through this process (and so through its notifier), `Some` when other processes
    /// may write too.
    fn change_poll_interval(&self) -> Option<std::time::Duration>;

    /// Checks that the backend answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// How to reach a store: `sqlite://PATH` or `dynamodb://TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An SQLite database file (created with its directory if missing).
    Sqlite(std::path::PathBuf),
    /// A DynamoDB table, reached with the AWS SDK's own configuration
    /// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_DYNAMODB`).
    DynamoDb(String),
}

impl FromStr for StoreUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once("://") {
            Some(("sqlite", path)) if !path.is_empty() => Ok(Self::Sqlite(path.into())),
            Some(("dynamodb", table)) if is_table_name(table) => Ok(Self::DynamoDb(table.into())),
            _ => Err(format!(
                "unsupported store URL {s:?}: expected sqlite://PATH (for example \
                 sqlite://./data/tandem.db) or dynamodb://TABLE (3 to 255 of A-Z a-z 0-9 _ - .)"
            )),
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::DynamoDb(table) => write!(f, "dynamodb://{table}"),
        }
    }
}

/// Whether `name` is a valid DynamoDB table name.
fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Opens the store that `url` names; `sqlite` applies to an SQLite store.
pub async fn open(url: &StoreUrl, sqlite: SqliteOptions) -> Result<Arc<dyn Store>, StoreError> {
    match url {
        StoreUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open_with(path, sqlite).await?)),
        StoreUrl::DynamoDb(table) => {
            let client = DynamoStore::client_from_env().await;
            Ok(Arc::new(
                DynamoStore::connect(client, table.as_str()).await?,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_url_accepts_sqlite_and_dynamodb_and_explains_anything_else() {
        assert_eq!(
            "sqlite://./data/t.db".parse::<StoreUrl>().unwrap(),
            StoreUrl::Sqlite("./data/t.db".into())
        );
        assert_eq!(
            "dynamodb://tandem-prod".parse::<StoreUrl>().unwrap(),
            StoreUrl::DynamoDb("tandem-prod".into())
        );
        let err = "postgres://x".parse::<StoreUrl>().unwrap_err();
        assert!(err.contains("sqlite://PATH"), "{err}");
        assert!(err.contains("dynamodb://TABLE"), "{err}");
        assert!("sqlite://".parse::<StoreUrl>().is_err());
        assert!("dynamodb://ab".parse::<StoreUrl>().is_err());
        assert!("dynamodb://a/b/c".parse::<StoreUrl>().is_err());
    }
}
