//! Storage: the [`Store`] port that the pairing rules run on, and its adapters.
//!
//! Each adapter keeps its own types (SQL rows, DynamoDB attribute values) inside its
//! module; what crosses this boundary is [`TokenRecord`] and the types below.

pub mod dynamodb;
mod sqlite;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sdk::{EntityId, ShortCode, Token, TokenRecord, Ttl};

pub use dynamodb::DynamoStore;
pub use sqlite::{Durability, SqliteOptions, SqliteStore};

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

/// The tenant that owns a record; a tenant never sees another tenant's records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    /// The tenant of every request when the API runs without API keys.
    pub fn local() -> Self {
        Self("local".to_owned())
    }

    /// Accepts 1 to 64 characters from `[A-Za-z0-9_-]`.
    pub fn parse(name: &str) -> Result<Self, String> {
        let valid = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "tenant names are 1 to 64 of A-Z a-z 0-9 - _ (got {name:?})"
            ))
        }
    }

    /// The tenant's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record to insert, with what only the store needs to know.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The record as it reads right after creation. Its short code, if any, resolves
    /// until `record.expires_at` (the end of the pending window).
    pub record: TokenRecord,
    /// How long the pairing lives once made; `None`: until deleted.
    pub pair_ttl: Option<Ttl>,
    /// The `Idempotency-Key` the record was created with, if any.
    pub idempotency: Option<IdempotencyClaim>,
}

/// An `Idempotency-Key` and the request it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// The key the client chose.
    pub key: String,
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

/// A position in a newest-first listing: the last record of the previous page.
///
/// Clients see it as an opaque URL-safe string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last record returned.
    pub created_at: DateTime<Utc>,
    /// `token` of the last record returned (orders records created in the same millisecond).
    pub token: Token,
}

impl Cursor {
    /// The cursor that continues after `record`.
    pub fn after(record: &TokenRecord) -> Self {
        Self {
            created_at: record.created_at,
            token: record.token.clone(),
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = format!("{}.{}", self.created_at.timestamp_millis(), self.token);
        f.write_str(&URL_SAFE_NO_PAD.encode(plain))
    }
}

/// The cursor string is not one this API issued.
#[derive(Debug, thiserror::Error)]
#[error("cursor is not one this API issued")]
pub struct BadCursor;

impl FromStr for Cursor {
    type Err = BadCursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| BadCursor)?;
        let plain = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let (millis, token) = plain.split_once('.').ok_or(BadCursor)?;
        let millis: i64 = millis.parse().map_err(|_| BadCursor)?;
        Ok(Self {
            created_at: DateTime::from_timestamp_millis(millis).ok_or(BadCursor)?,
            token: Token::parse(token).map_err(|_| BadCursor)?,
        })
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Records, newest first.
    pub items: Vec<TokenRecord>,
    /// Where the next page starts, if there may be one.
    pub next: Option<Cursor>,
}

impl Page {
    /// The page of `limit` records from `items`, newest first, fetched with one extra so
    /// that a further page shows itself: if the extra is there, it is dropped and the page
    /// continues after its last record.
    pub fn from_overfetched(mut items: Vec<TokenRecord>, limit: usize) -> Self {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(Cursor::after)
        } else {
            None
        };
        Self { items, next }
    }
}

/// Where token records live. Every method sees only the given tenant's records, and
/// treats a record whose `expires_at` is at or before `now` as absent, whether or not
/// the backend has removed it yet.
#[async_trait]
pub trait Store: Send + Sync + 'static {
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

    /// The token that the short `code` stands for, while it resolves.
    async fn resolve_code(
        &self,
        tenant: &TenantId,
        code: &ShortCode,
        now: DateTime<Utc>,
    ) -> Result<Option<Token>, StoreError>;

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

    /// Up to `limit` live records where `entity` is entity A or entity B, newest first
    /// (by `created_at`, then `token`), starting after `after`.
    async fn list(
        &self,
        tenant: &TenantId,
        entity: &EntityId,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError>;

    /// The tenant's counts for `GET /v1/stats`.
    async fn stats(&self, tenant: &TenantId, now: DateTime<Utc>)
    -> Result<StatsCounts, StoreError>;

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
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_millis(1_764_000_000_123).unwrap(),
            token: Token::parse("abc_DEF-123").unwrap(),
        };
        let text = cursor.to_string();
        assert!(
            Token::parse(text.as_str()).is_ok(),
            "cursor must be URL-safe: {text}"
        );
        assert_eq!(text.parse::<Cursor>().unwrap(), cursor);
        for bad in ["", "!!", "bm9wZQ", "MTIzLg"] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad:?}");
        }
    }

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
