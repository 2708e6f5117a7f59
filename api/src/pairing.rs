//! The pairing rules of SPEC §3, on top of any [`Store`].

use std::sync::Arc;

use sdk::{CreateToken, EntityId, Token, TokenPage, TokenRecord, Ttl};

use crate::clock::Clock;
use crate::store::{Cursor, NewToken, PairOutcome, Store, StoreError, TenantId};

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
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates, pairs, reads, lists and deletes tokens.
#[derive(Clone)]
pub struct Pairings {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl Pairings {
    /// The rules on `store`, telling time by `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The store underneath.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Creates a pending token for `request.entity`.
    pub async fn create(
        &self,
        tenant: &TenantId,
        request: CreateToken,
    ) -> Result<TokenRecord, PairingError> {
        let now = self.clock.now();
        let ttl = request.ttl_seconds.unwrap_or(Ttl::DEFAULT);
        let mut new = NewToken {
            record: TokenRecord {
                token: new_token(),
                entity_a: request.entity,
                entity_b: None,
                status: TokenRecord::status_of(None),
                label: request.label,
                created_at: now,
                paired_at: None,
                expires_at: Some(now + ttl.duration()),
            },
            pair_ttl: request.pair_ttl_seconds,
        };
        // 122 random bits make a collision all but impossible; should one happen anyway,
        // a fresh token is the right answer, not an error.
        loop {
            match self.store.insert(tenant, &new).await {
                Ok(()) => return Ok(new.record),
                Err(StoreError::Duplicate) => new.record.token = new_token(),
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
        match self
            .store
            .pair(tenant, token, entity, self.clock.now())
            .await?
        {
            PairOutcome::Paired(record) => Ok(record),
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

    /// Deletes `token` and its pairing, returning what was deleted.
    pub async fn delete(
        &self,
        tenant: &TenantId,
        token: &Token,
    ) -> Result<TokenRecord, PairingError> {
        self.store
            .delete(tenant, token, self.clock.now())
            .await?
            .ok_or(PairingError::NotFound)
    }

    /// One page of the live records where `entity` is either side, newest first.
    pub async fn list(
        &self,
        tenant: &TenantId,
        entity: &EntityId,
        limit: usize,
        after: Option<&Cursor>,
    ) -> Result<TokenPage, PairingError> {
        let page = self
            .store
            .list(tenant, entity, limit, after, self.clock.now())
            .await?;
        Ok(TokenPage {
            items: page.items,
            next_cursor: page.next.map(|c| c.to_string()),
        })
    }
}

/// A fresh token: the 32 hexadecimal digits of a random UUIDv4 (122 random bits).
fn new_token() -> Token {
    let text = uuid::Uuid::new_v4().simple().to_string();
    Token::parse(text).expect("a simple UUID is a valid token")
}
