//! The pairing rules of SPEC §3, on top of any [`Store`].

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt as _;
use sdk::{
    CreateToken, EntityId, IdempotencyKey, PageCursor, PageLimit, ShortCode, Stats, Token,
    TokenPage, TokenRecord, Ttl,
};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::clock::Clock;
use crate::domain::{Cursor, Guesser, TenantId};
use crate::store::{
    CodeAttempt, CodeOutcome, GuessLimits, IdempotencyClaim, Inserted, NewToken, PairOutcome,
    Store, StoreError,
};

/// How long an `Idempotency-Key` is remembered.
const IDEMPOTENCY_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// How many fresh short codes to try before giving up (each collides with odds of live
/// codes ÷ 2.6 × 10¹⁰, so more than one try is already rare).
const CODE_ATTEMPTS: usize = 8;

/// The latest creation time a token can spell in its 12 hexadecimal digits (the year 10889).
const TOKEN_MILLIS_MAX: i64 = 0xffff_ffff_ffff;

/// Why a pairing operation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    /// No live token with this value for this tenant.
    #[error("no such token (it may have expired or been deleted)")]
    NotFound,
    /// The token is already paired with another entity.
    #[error("this token is already paired with another entity")]
    AlreadyPaired,
    /// Entity B is entity A.
    #[error("an entity cannot pair with itself: entity B must differ from entity A")]
    SameEntity,
    /// No live token of this tenant has this short code.
    #[error("no live token has this code")]
    CodeNotFound,
    /// The guesser, or the tenant as a whole, has used up its failed short-code attempts
    /// for this hour.
    #[error(
        "too many wrong codes this hour: retry in {} s",
        crate::auth::retry_after_seconds(*retry_after)
    )]
    TooManyGuesses {
        /// How long until the limit lifts.
        retry_after: Duration,
    },
    /// The idempotency key was used before with another request body.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// The short code was asked to outlive its token.
    #[error("code_ttl_seconds must be at most the token's ttl_seconds ({ttl} s; got {code_ttl} s)")]
    CodeOutlivesToken {
        /// The token's lifetime, in seconds.
        ttl: u64,
        /// The code's, in seconds.
        code_ttl: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`Pairings::create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// Created this record.
    New(TokenRecord),
    /// The idempotency key was seen before with the same request: the record it created.
    Replayed(TokenRecord),
}

/// What [`Pairings::wait_for_change`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The record differs from every tag the client has.
    Changed(TokenRecord),
    /// It matches one of them still; its current tag.
    Unchanged(&'static str),
}

/// Creates, pairs, reads, lists and deletes tokens.
#[derive(Clone)]
pub struct Pairings {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// The limits on failed short-code attempts.
    guess_limits: GuessLimits,
    /// Tokens that changed (paired or deleted), for long-polls in this process.
    changes: broadcast::Sender<Token>,
}

impl Pairings {
    /// The rules on `store`, telling time by `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            store,
            clock,
            guess_limits: GuessLimits::default(),
            changes,
        }
    }

    /// The same rules with these limits on failed short-code attempts.
    #[must_use]
    pub fn with_guess_limits(mut self, limits: GuessLimits) -> Self {
        self.guess_limits = limits;
        self
    }

    /// What time it is, by the rules' clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The store underneath.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The store underneath, to share.
    pub fn store_arc(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Creates a pending token for `request.entity`, with a short code if asked. With an
    /// idempotency key seen in the last 24 hours, creates nothing: the same request gets
    /// the record it created then, another request [`PairingError::IdempotencyKeyReused`].
    pub async fn create(
        &self,
        tenant: &TenantId,
        request: CreateToken,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<Created, PairingError> {
        let now = self.clock.now();
        let ttl = request.ttl_seconds.unwrap_or(Ttl::DEFAULT);
        let code_ttl = match request.code_ttl_seconds {
            Some(code_ttl) if code_ttl > ttl => {
                return Err(PairingError::CodeOutlivesToken {
                    ttl: ttl.seconds(),
                    code_ttl: code_ttl.seconds(),
                });
            }
            Some(code_ttl) => code_ttl,
            None => Ttl::CODE_DEFAULT.min(ttl),
        };
        let idempotency = idempotency_key.map(|key| IdempotencyClaim {
            key,
            request_hash: request_hash(&request),
            expires_at: now + IDEMPOTENCY_WINDOW,
        });
        let mut new = NewToken {
            record: TokenRecord {
                token: new_token(now),
                code: request.code.then(new_code),
                entity_a: request.entity,
                entity_b: None,
                label: request.label,
                created_at: now,
                paired_at: None,
                expires_at: Some(now + ttl.duration()),
            },
            code_expires_at: request.code.then(|| now + code_ttl.duration()),
            pair_ttl: request.pair_ttl_seconds,
            idempotency,
        };
        // 122 random bits make a token collision all but impossible and a code collision
        // rare; either way a fresh value is the right answer, not an error.
        let mut code_attempts = 1;
        loop {
            match self.store.insert(tenant, &new, now).await {
                Ok(Inserted::Created) => return Ok(Created::New(new.record)),
                Ok(Inserted::Replayed(record)) => return Ok(Created::Replayed(record)),
                Err(StoreError::KeyReused) => return Err(PairingError::IdempotencyKeyReused),
                Err(StoreError::Duplicate) => new.record.token = new_token(now),
                Err(StoreError::DuplicateCode) if code_attempts < CODE_ATTEMPTS => {
                    code_attempts += 1;
                    new.record.code = Some(new_code());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The live token `token`.
    pub async fn get(&self, tenant: &TenantId, token: &Token) -> Result<TokenRecord, PairingError> {
        self.store
            .get(tenant, token, self.clock.now())
            .await?
            .ok_or(PairingError::NotFound)
    }

    /// Pairs `entity` (entity B) with the creator of `token`, exactly once: a repeat by
    /// the same entity returns the same record; any other entity gets
    /// [`PairingError::AlreadyPaired`].
    pub async fn pair(
        &self,
        tenant: &TenantId,
        token: &Token,
        entity: &EntityId,
    ) -> Result<TokenRecord, PairingError> {
        let outcome = self
            .store
            .pair(tenant, token, entity, self.clock.now())
            .await?;
        self.settle(outcome, entity)
    }

    /// What pairing `entity` came to, as the API answers it; wakes this process's
    /// long-polls on a new pairing.
    fn settle(&self, outcome: PairOutcome, entity: &EntityId) -> Result<TokenRecord, PairingError> {
        match outcome {
            PairOutcome::Paired(record) => {
                // Nobody listening is fine.
                let _ = self.changes.send(record.token.clone());
                Ok(record)
            }
            PairOutcome::Missing => Err(PairingError::NotFound),
            PairOutcome::Unchanged(record) => match &record.entity_b {
                Some(b) if b == entity => Ok(record),
                Some(_) => Err(PairingError::AlreadyPaired),
                None if &record.entity_a == entity => Err(PairingError::SameEntity),
                // The store pairs any other live, pending record; reaching this is a
                // broken store, not a client mistake.
                None => Err(StoreError::backend(
                    "pairing a token",
                    "store left a pairable record unpaired",
                )
                .into()),
            },
        }
    }

    /// Pairs `entity` with the creator of the token that the short `code` stands for,
    /// with the same rules as [`Pairings::pair`]. A code is single-use: once its token is
    /// paired (with another entity) or deleted, or its own lifetime is over, it answers
    /// exactly as a code that never existed, [`PairingError::CodeNotFound`]; the entity
    /// that paired gets its pairing again. `code` is `None` when what was presented is not
    /// even a well-formed code, which fails the same way.
    ///
    /// Failed attempts count against `guesser` and against the tenant, in the store (so
    /// across every process): past either limit of this hour, every attempt is
    /// [`PairingError::TooManyGuesses`] until the hour ends, a right code too.
    pub async fn pair_by_code(
        &self,
        tenant: &TenantId,
        code: Option<&ShortCode>,
        entity: &EntityId,
        guesser: &Guesser,
    ) -> Result<TokenRecord, PairingError> {
        let guesser = guesser.key();
        let attempt = CodeAttempt {
            code,
            presenter: entity,
            guesser: &guesser,
            limits: self.guess_limits,
        };
        let now = self.clock.now();
        match self.store.pair_by_code(tenant, &attempt, now).await? {
            CodeOutcome::Found(outcome) => self.settle(outcome, entity),
            CodeOutcome::Failed => Err(PairingError::CodeNotFound),
            CodeOutcome::Limited { until } => Err(PairingError::TooManyGuesses {
                retry_after: (until - now).to_std().unwrap_or_default(),
            }),
        }
    }

    /// Deletes `token` and its pairing, returning what was deleted.
    pub async fn delete(
        &self,
        tenant: &TenantId,
        token: &Token,
    ) -> Result<TokenRecord, PairingError> {
        let deleted = self
            .store
            .delete(tenant, token, self.clock.now())
            .await?
            .ok_or(PairingError::NotFound)?;
        let _ = self.changes.send(deleted.token.clone());
        Ok(deleted)
    }

    /// Waits up to `wait` for `token` to differ from what the client has (its ETags in
    /// `known`): [`Change::Changed`] as soon as it does (or at once if it already does),
    /// [`Change::Unchanged`] with the record's current tag if nothing changed in time.
    /// Woken by this process's own writes; re-reads on the store's poll interval when
    /// other processes write too.
    pub async fn wait_for_change(
        &self,
        tenant: &TenantId,
        token: &Token,
        known: &[String],
        wait: Duration,
    ) -> Result<Change, PairingError> {
        let mut changes = self.changes.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        let poll = self.store.change_poll_interval();
        loop {
            let record = self.get(tenant, token).await?;
            if !known.iter().any(|etag| etag == record.etag()) {
                return Ok(Change::Changed(record));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Change::Unchanged(record.etag()));
            }
            let wake = poll.map_or(deadline, |p| deadline.min(now + p));
            tokio::select! {
                () = changed(&mut changes, token) => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// The tenant's counts and time-to-pair percentiles.
    pub async fn stats(&self, tenant: &TenantId) -> Result<Stats, PairingError> {
        let mut counts = self.store.stats(tenant, self.clock.now()).await?;
        counts.pair_latencies_ms.sort_unstable();
        let latencies = &counts.pair_latencies_ms;
        Ok(Stats {
            pending: counts.pending,
            paired: counts.paired,
            deleted: counts.deleted,
            expired: counts.expired,
            time_to_pair_p50_ms: percentile(latencies, 50),
            time_to_pair_p95_ms: percentile(latencies, 95),
            code_failures: counts.code_failures,
            code_failures_left: u64::from(self.guess_limits.per_tenant)
                .saturating_sub(counts.code_failures),
        })
    }

    /// One page of the live records where `entity` is either side, newest first.
    pub async fn list(
        &self,
        tenant: &TenantId,
        entity: &EntityId,
        limit: PageLimit,
        after: Option<&Cursor>,
    ) -> Result<TokenPage, PairingError> {
        let page = self
            .store
            .list(tenant, entity, limit.get(), after, self.clock.now())
            .await?;
        Ok(TokenPage {
            items: page.items,
            next_cursor: page.next.as_ref().map(PageCursor::from),
        })
    }
}

/// Resolves when `token` changes, or when changes were missed (the receiver lagged).
async fn changed(changes: &mut broadcast::Receiver<Token>, token: &Token) {
    loop {
        match changes.recv().await {
            Ok(changed) if &changed == token => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// The nearest-rank percentile `p` of sorted `values`.
fn percentile(values: &[u64], p: usize) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let rank = (values.len() * p).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

/// The digest an idempotent replay must match: SHA-256 of the request as JSON.
fn request_hash(request: &CreateToken) -> String {
    let json = serde_json::to_vec(request).expect("a CreateToken serializes");
    hex::encode(Sha256::digest(json))
}

/// A fresh short code: eight letters drawn uniformly from the code alphabet.
fn new_code() -> ShortCode {
    let mut rng = rand::rng();
    let letters: String = (0..ShortCode::LEN)
        .map(|_| char::from(ShortCode::ALPHABET[rng.random_range(0..ShortCode::ALPHABET.len())]))
        .collect();
    ShortCode::parse(letters).expect("letters of the alphabet make a valid code")
}

/// A fresh token for a record created at `now`: `now` in Unix milliseconds as 12
/// hexadecimal digits, then the 32 hexadecimal digits of a random UUIDv4, whose 122 random
/// bits alone make it unguessable. The time in front keeps tokens in creation order, so a
/// store's token index grows at its end: a new token lands on the page of those created
/// just before it, and the pairing or deletion that follows finds it there, in memory,
/// however large the index has grown (README, "The embedded store").
fn new_token(now: chrono::DateTime<chrono::Utc>) -> Token {
    let millis = now.timestamp_millis().clamp(0, TOKEN_MILLIS_MAX);
    let text = format!("{millis:012x}{}", uuid::Uuid::new_v4().simple());
    Token::parse(text).expect("hexadecimal digits make a valid token")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 95), Some(7));
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50), Some(50));
        assert_eq!(percentile(&values, 95), Some(95));
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
    }

    #[test]
    fn a_token_is_its_creation_time_then_a_random_uuid_v4() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T09:30:00.123Z")
            .unwrap()
            .to_utc();
        let token = new_token(at);
        let text = token.as_str();
        assert_eq!(text.len(), 44, "{text}");
        assert_eq!(&text[..12], "01a24fd6b23b", "{text}");
        let random = uuid::Uuid::parse_str(&text[12..]).expect("a UUID after the time");
        assert_eq!(random.get_version_num(), 4, "{text}");
        assert_ne!(new_token(at), token, "the random part differs");
        let later = new_token(at + chrono::Duration::milliseconds(1));
        assert!(later > token, "{later} sorts after {token}");
        assert!(
            new_token(chrono::DateTime::UNIX_EPOCH - chrono::Duration::days(1))
                .as_str()
                .starts_with("000000000000")
        );
    }

    #[test]
    fn new_codes_are_valid_and_vary() {
        let codes: std::collections::HashSet<_> = (0..100).map(|_| new_code()).collect();
        assert!(codes.len() > 95);
    }

    #[test]
    fn the_request_hash_tells_bodies_apart() {
        let a = CreateToken::new(&EntityId::parse("a").unwrap());
        let b = CreateToken::new(&EntityId::parse("b").unwrap());
        assert_eq!(request_hash(&a), request_hash(&a.clone()));
        assert_ne!(request_hash(&a), request_hash(&b));
        assert_ne!(request_hash(&a), request_hash(&a.clone().with_code()));
    }
}
