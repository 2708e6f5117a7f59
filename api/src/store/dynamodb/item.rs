//! The items the table holds, as Rust types that `serde_dynamo` turns into DynamoDB
//! attribute values and back; `AttributeValue` never leaves the store.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use sdk::{EntityId, Label, ShortCode, Token, TokenRecord};
use serde::{Deserialize, Serialize};

use super::schema::{FOREVER_SECONDS, SHARDS};
use crate::domain::TenantId;
use crate::store::{IdempotencyClaim, Inserted, NewToken, StoreError};

/// A DynamoDB item.
pub(super) type Item = HashMap<String, AttributeValue>;

/// A token's item (see the table in the module's documentation of [`super`]).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct TokenItem {
    pub token: Token,
    pub tenant: String,
    pub entity_a: EntityId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_b: Option<EntityId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ShortCode>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired_at: Option<i64>,
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_ttl_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_ttl_seconds: Option<i64>,
    pub expires_at_epoch: i64,
    /// The end of the pending window, as created (`expires_at` moves when paired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_a_shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_a_sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_b_shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_b_sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
}

impl TokenItem {
    /// The item of a record about to be inserted for `tenant`.
    pub fn new(tenant: &TenantId, new: &NewToken) -> Self {
        let r = &new.record;
        let expires_at = r
            .expires_at
            .map(millis)
            .unwrap_or_else(|| millis(r.created_at) + FOREVER_SECONDS * 1000);
        let pair_ttl_seconds = new.pair_ttl.map(|ttl| ttl.seconds() as i64);
        Self {
            token: r.token.clone(),
            tenant: tenant.as_str().to_owned(),
            entity_a: r.entity_a.clone(),
            entity_b: None,
            label: r.label.clone(),
            code: r.code.clone(),
            created_at: millis(r.created_at),
            paired_at: None,
            expires_at,
            pair_ttl_ms: pair_ttl_seconds.map(|s| s * 1000),
            pair_ttl_seconds,
            expires_at_epoch: epoch_seconds_ceil(expires_at),
            pending_until: Some(expires_at),
            entity_a_shard: Some(shard_key(tenant, &r.entity_a)),
            entity_a_sort: Some(listing_sort_key(&r.entity_a, r.created_at, &r.token)),
            entity_b_shard: None,
            entity_b_sort: None,
            deleted_at: None,
        }
    }

    /// The record this item holds, as every tenant would see it.
    pub fn record(self) -> Result<TokenRecord, StoreError> {
        let bad = |name| StoreError::backend("reading an item", BadItem(name));
        // A pairing without pair TTL lives until deleted; its stored expiry is only the
        // "forever" the pair update wrote.
        let expires_at = if self.entity_b.is_some() && self.pair_ttl_ms.is_none() {
            None
        } else {
            Some(time(self.expires_at).ok_or_else(|| bad("expires_at"))?)
        };
        let paired_at = self
            .paired_at
            .map(|ms| time(ms).ok_or_else(|| bad("paired_at")))
            .transpose()?;
        Ok(TokenRecord {
            token: self.token,
            code: self.code,
            entity_a: self.entity_a,
            entity_b: self.entity_b,
            label: self.label,
            created_at: time(self.created_at).ok_or_else(|| bad("created_at"))?,
            paired_at,
            expires_at,
        })
    }

    /// The record, as `tenant` sees it at `now`: `None` when it is another tenant's or
    /// has expired.
    pub fn live_record(
        self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        if self.tenant != tenant.as_str() || self.expires_at <= millis(now) {
            return Ok(None);
        }
        self.record().map(Some)
    }
}

/// What `stats` counts with, of a record's entry in [`super::INDEX_ENTITY_A`]: every
/// record, as created (and deleted).
#[derive(Debug, Deserialize)]
pub(super) struct CreatedEntry {
    pub token: Token,
    pub created_at: i64,
    pub pending_until: Option<i64>,
    pub deleted_at: Option<i64>,
}

/// What `stats` counts with, of a record's entry in [`super::INDEX_ENTITY_B`]: every
/// paired record, as it is.
#[derive(Debug, Deserialize)]
pub(super) struct PairedEntry {
    pub token: Token,
    pub paired_at: i64,
    pub expires_at: i64,
    pub deleted_at: Option<i64>,
}

/// The item of a short code: `code#LETTERS`, pointing at its token until `expires_at`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CodeItem {
    /// `code#LETTERS`, in the partition key.
    pub token: String,
    pub target: Token,
    pub owner: String,
    pub expires_at: i64,
    pub expires_at_epoch: i64,
}

impl CodeItem {
    /// The item that claims `code` for `tenant`'s record `token` until `expires_at`.
    pub fn new(
        tenant: &TenantId,
        code: &ShortCode,
        token: &Token,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        let expires_at = expires_at.map(millis).unwrap_or_default();
        Self {
            token: code_key(code),
            target: token.clone(),
            owner: tenant.as_str().to_owned(),
            expires_at,
            expires_at_epoch: epoch_seconds_ceil(expires_at),
        }
    }
}

/// The item of an `Idempotency-Key`: `idem#TENANT#KEY`, with the request it stood for and
/// the record that request created.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ClaimItem {
    /// `idem#TENANT#KEY`, in the partition key.
    pub token: String,
    pub owner: String,
    pub request_hash: String,
    /// The record as created, as JSON.
    pub response: String,
    pub expires_at: i64,
    pub expires_at_epoch: i64,
}

impl ClaimItem {
    /// The item that claims `claim` for `tenant`, answering replays with `record`.
    pub fn new(
        tenant: &TenantId,
        claim: &IdempotencyClaim,
        record: &TokenRecord,
    ) -> Result<Self, serde_json::Error> {
        let expires_at = millis(claim.expires_at);
        Ok(Self {
            token: Self::key_of(tenant, claim),
            owner: tenant.as_str().to_owned(),
            request_hash: claim.request_hash.clone(),
            response: serde_json::to_string(record)?,
            expires_at,
            expires_at_epoch: epoch_seconds_ceil(expires_at),
        })
    }

    /// The partition key of the item that holds `claim`.
    pub fn key_of(tenant: &TenantId, claim: &IdempotencyClaim) -> String {
        format!("idem#{}#{}", tenant.as_str(), claim.key)
    }

    /// What an insert claiming this key again gets: the record the key created, if the
    /// request is the same; [`StoreError::KeyReused`] if it is another.
    pub fn replay(self, claim: &IdempotencyClaim) -> Result<Inserted, StoreError> {
        if self.request_hash != claim.request_hash {
            return Err(StoreError::KeyReused);
        }
        serde_json::from_str(&self.response)
            .map(Inserted::Replayed)
            .map_err(|e| StoreError::backend("reading an idempotency key", e))
    }
}

/// `item` as an attribute map.
pub(super) fn to_item(item: &impl Serialize) -> Result<Item, StoreError> {
    serde_dynamo::to_item(item).map_err(|e| StoreError::backend("writing an item", e))
}

/// An attribute map as a `T`.
pub(super) fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::backend("reading an item", e))
}

/// A string attribute value.
pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute value.
pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Unix milliseconds, as the items store times.
pub(super) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn time(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// Unix seconds, rounded up, so DynamoDB's TTL never removes an item early.
pub(super) fn epoch_seconds_ceil(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

/// An entity's hash: the first 8 bytes of the SHA-256 of its id, in hexadecimal. (Two
/// entities with one hash would share a listing range; the listing checks the entity too.)
pub(super) fn entity_hash(entity: &EntityId) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(entity.as_str().as_bytes())[..8])
}

/// The partition of a listing index that holds `entity`'s records of `tenant`: `tenant#NN`,
/// `NN` its shard.
pub(super) fn shard_key(tenant: &TenantId, entity: &EntityId) -> String {
    use sha2::Digest as _;
    let first = sha2::Sha256::digest(entity.as_str().as_bytes())[0];
    format!("{}#{:02}", tenant.as_str(), u32::from(first) % SHARDS)
}

/// Every partition of a listing index that holds `tenant`'s records.
pub(super) fn shard_keys(tenant: &TenantId) -> impl Iterator<Item = String> + '_ {
    (0..SHARDS).map(move |shard| format!("{}#{shard:02}", tenant.as_str()))
}

/// The sort key of a record in a listing index: the entity's hash, `#`, then [`sort_key`]
/// of when the entity joined the record.
pub(super) fn listing_sort_key(entity: &EntityId, at: DateTime<Utc>, token: &Token) -> String {
    format!("{}#{}", entity_hash(entity), sort_key(at, token))
}

/// A time in 15 digits of Unix milliseconds, `#`, the token: the end of the listing
/// indexes' sort keys, in the order of time.
pub(super) fn sort_key(at: DateTime<Utc>, token: &Token) -> String {
    format!("{:015}#{}", millis(at), token.as_str())
}

/// The partition key of a short code's item.
pub(super) fn code_key(code: &ShortCode) -> String {
    format!("code#{}", code.letters())
}

/// An attribute of a stored item that is out of range.
#[derive(Debug, thiserror::Error)]
#[error("stored item has a malformed attribute `{0}`")]
struct BadItem(&'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_round_up() {
        assert_eq!(epoch_seconds_ceil(1_000), 1);
        assert_eq!(epoch_seconds_ceil(1_001), 2);
        assert_eq!(epoch_seconds_ceil(0), 0);
    }

    #[test]
    fn a_tenant_spreads_over_every_shard_and_an_entity_keeps_to_one() {
        let tenant = TenantId::local();
        let shards: std::collections::BTreeSet<String> = (0..1000)
            .map(|i| shard_key(&tenant, &EntityId::parse(format!("user-{i}")).unwrap()))
            .collect();
        let all: std::collections::BTreeSet<String> = shard_keys(&tenant).collect();
        assert_eq!(shards, all);
        let alice = EntityId::parse("alice").unwrap();
        assert_eq!(shard_key(&tenant, &alice), shard_key(&tenant, &alice));
    }

    #[test]
    fn sort_keys_order_like_creation_times() {
        let token = Token::parse("t").unwrap();
        let early = sort_key(DateTime::from_timestamp_millis(999).unwrap(), &token);
        let late = sort_key(DateTime::from_timestamp_millis(1_000).unwrap(), &token);
        assert!(early < late);
        assert!(late.as_str() < "~");
    }

    #[test]
    fn a_token_item_round_trips_without_null_attributes() {
        let tenant = TenantId::local();
        let now = DateTime::from_timestamp_millis(1_764_000_000_123).unwrap();
        let new = NewToken {
            record: TokenRecord {
                token: Token::parse("abc").unwrap(),
                code: None,
                entity_a: EntityId::parse("alice").unwrap(),
                entity_b: None,
                label: None,
                created_at: now,
                paired_at: None,
                expires_at: Some(now + chrono::Duration::hours(1)),
            },
            code_expires_at: None,
            pair_ttl: None,
            idempotency: None,
        };

        let item = to_item(&TokenItem::new(&tenant, &new)).unwrap();

        assert!(
            !item.values().any(|v| matches!(v, AttributeValue::Null(_))),
            "{item:?}"
        );
        assert_eq!(item["created_at"], n(1_764_000_000_123));
        assert_eq!(
            item["entity_a_shard"],
            s(shard_key(&tenant, &new.record.entity_a))
        );
        let sort = listing_sort_key(&new.record.entity_a, now, &new.record.token);
        assert_eq!(item["entity_a_sort"], s(sort.clone()));
        assert!(sort.starts_with(&format!("{}#", entity_hash(&new.record.entity_a))));
        let back: TokenItem = from_item(item).unwrap();
        assert_eq!(back.live_record(&tenant, now).unwrap(), Some(new.record));
    }
}
