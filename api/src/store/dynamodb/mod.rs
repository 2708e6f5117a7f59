//! The DynamoDB store: one table, partition key `token`, a GSI per entity side.
//!
//! Every call but pair-by-code, `list` and `stats` is exactly one DynamoDB request: create is a
//! conditional `PutItem` (a `TransactWriteItems` when it also claims a short code or an
//! idempotency key), get a `GetItem`, pair a conditional `UpdateItem` that returns the new
//! item (or, when its condition fails, the item as it was), delete a conditional
//! `UpdateItem` that returns the item as it was and marks it deleted: `deleted_at` set,
//! `expires_at` set to now (so every read treats it as gone) and out of the listing GSIs.
//! DynamoDB's TTL (`expires_at_epoch`) then removes it like any expired item, hours to
//! days later, so every read checks expiry itself. Keeping deleted items that long is
//! what lets `stats` count deletions without a request of its own on every delete.
//!
//! Item layout (the `item` module holds the items as types, `schema` the keys and indexes,
//! `operations` the `Store` calls):
//!
//! | attribute | type | meaning |
//! | --- | --- | --- |
//! | `token` | S | partition key |
//! | `tenant` | S | owner; every condition and read checks it |
//! | `entity_a`, `entity_b` | S | the sides; `entity_b` absent until paired |
//! | `label` | S | optional |
//! | `created_at`, `paired_at` | N | Unix milliseconds |
//! | `expires_at` | N | Unix milliseconds; far in the future for a pairing without pair TTL |
//! | `pair_ttl_ms`, `pair_ttl_seconds` | N | present only when the token has a pair TTL |
//! | `expires_at_epoch` | N | Unix seconds, DynamoDB's TTL attribute |
//! | `entity_a_key`, `entity_b_key` | S | `tenant#entity`, partition keys of the GSIs |
//! | `sort_key` | S | `created_at` (15 digits) `#token`: the GSIs' sort key, newest last |
//! | `code` | S | the short code as `XXXX-XXXX`, if any (items written before: its eight letters; both read back) |
//! | `deleted_at` | N | Unix milliseconds, once deleted |
//!
//! Pair-by-code resolves the code's item, pairs, and counts failed attempts in counter items
//! (see `guesses`, with what an attempt costs).
//!
//! Four more kinds of item share the table, keyed so that no token can collide with them
//! (tokens have no `#`) and absent from every GSI:
//! - `code#LETTERS` → `target` (the token), `owner` (tenant), `expires_at`: a short code, written
//!   in the same transaction as its token, and free again once `expires_at` passes;
//! - `idem#TENANT#KEY` → `owner`, `request_hash`, `response` (the record as created), `expires_at`:
//!   an `Idempotency-Key`, likewise;
//! - `guess#WINDOW#TENANT#GUESSER` → `owner`, `failures`: failed short-code attempts in an
//!   hourly window, removed by TTL an hour after it ends;
//! - `rate#KEY#SECOND` → `used`: what an API key's requests took of its budget in one clock
//!   second (see `leases`), removed by TTL a minute later.

mod guesses;
mod item;
mod leases;
mod operations;
mod reads;
mod schema;
pub mod stream;
mod webhooks;
mod writes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

pub use self::schema::{
    ENTITY_A_ATTRIBUTES, ENTITY_A_KEY, ENTITY_A_SORT_KEY, ENTITY_B_KEY, ENTITY_B_SORT_KEY,
    INDEX_ENTITY_A, INDEX_ENTITY_B, PARTITION_KEY, SHARDS, STREAM_VIEW_TYPE, TTL_ATTRIBUTE,
};
use super::{StatsCounts, StoreError};
use crate::domain::TenantId;

/// The IAM actions that serving needs: every request the store sends but `create_table`'s
/// (Terraform creates the table). A `TransactWriteItems` is authorised item by item, and
/// the store's transactions only put. The deployment's policy grants exactly these.
pub const IAM_ACTIONS: [&str; 6] = [
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
];

/// The IAM actions of the webhook delivery function (see [`crate::webhooks::lambda`]):
/// `DescribeTable` at start-up, `GetItem` and `PutItem` of the endpoints and the delivery
/// log on the table, and what its event source mapping reads of the stream.
pub const DELIVERY_IAM_ACTIONS: [&str; 3] = [
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
];

/// What the delivery function's event source mapping reads of the table's stream.
pub const STREAM_IAM_ACTIONS: [&str; 4] = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];

/// Write request units of a plain create (`PutItem` of an item under 1 KB): the table's
/// write and the item's entry in [`INDEX_ENTITY_A`].
pub const CREATE_WRITE_UNITS: u32 = 2;

/// Write request units of a pairing (`UpdateItem`): the table's write and the item's new
/// entry in [`INDEX_ENTITY_B`]. [`INDEX_ENTITY_A`] is not written: the pairing changes none
/// of its keys or [`ENTITY_A_ATTRIBUTES`].
pub const PAIR_WRITE_UNITS: u32 = 2;

/// Read request units of a get: one strongly consistent `GetItem` of an item under 4 KB.
pub const GET_READ_UNITS: u32 = 1;

/// How long an instance reuses a tenant's stats before reading them again.
const STATS_CACHE: chrono::Duration = chrono::Duration::seconds(30);

/// Each tenant's last stats, and when (by the caller's clock) they were read.
type StatsCache = HashMap<TenantId, (DateTime<Utc>, StatsCounts)>;

/// The DynamoDB adapter of [`Store`](crate::store::Store).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    stats_cache: Arc<Mutex<StatsCache>>,
}

/// One side of a pairing, as the listing indexes see it.
#[derive(Debug, Clone, Copy)]
enum Side {
    A,
    B,
}

impl Side {
    /// The index that lists the records of an entity on this side.
    fn index(self) -> &'static str {
        match self {
            Self::A => INDEX_ENTITY_A,
            Self::B => INDEX_ENTITY_B,
        }
    }

    /// The index's partition key attribute.
    fn key_attribute(self) -> &'static str {
        match self {
            Self::A => ENTITY_A_KEY,
            Self::B => ENTITY_B_KEY,
        }
    }

    /// The index's sort key attribute.
    fn sort_attribute(self) -> &'static str {
        match self {
            Self::A => ENTITY_A_SORT_KEY,
            Self::B => ENTITY_B_SORT_KEY,
        }
    }

    /// The attribute that names the entity on this side.
    fn entity_attribute(self) -> &'static str {
        match self {
            Self::A => "entity_a",
            Self::B => "entity_b",
        }
    }
}

impl DynamoStore {
    /// A store on `table` through `client`; checks that the table exists, which also
    /// opens the connection before the first request needs it.
    pub async fn connect(client: Client, table: impl Into<String>) -> Result<Self, StoreError> {
        let table = table.into();
        client
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .map_err(|e| {
                StoreError::backend(
                    "opening the DynamoDB store (does the table exist? `tandem-api create-table` creates it)",
                    e.into_service_error(),
                )
            })?;
        Ok(Self {
            client,
            table,
            stats_cache: Arc::default(),
        })
    }

    /// A client configured from the environment, as the AWS SDK reads it
    /// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_DYNAMODB`…).
    pub async fn client_from_env() -> Client {
        let config = aws_config::load_from_env().await;
        Client::new(&config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write units claimed above follow from what each write touches: a create puts
    /// the item with entity A's listing keys and without entity B's; a pairing sets entity
    /// B's key (a new entry there) and leaves entity A's keys alone (an entry rewritten in
    /// place, not moved, which would cost two).
    #[test]
    fn the_write_units_follow_from_the_keys_each_write_sets() {
        let new = crate::store::NewToken {
            record: sdk::TokenRecord {
                token: sdk::Token::parse("t").unwrap(),
                code: None,
                entity_a: sdk::EntityId::parse("alice").unwrap(),
                entity_b: None,
                label: None,
                created_at: Utc::now(),
                paired_at: None,
                expires_at: Some(Utc::now()),
            },
            code_expires_at: None,
            pair_ttl: None,
            idempotency: None,
        };
        let created = item::to_item(&item::TokenItem::new(&TenantId::local(), &new)).unwrap();
        assert!(created.contains_key(ENTITY_A_KEY) && created.contains_key(ENTITY_A_SORT_KEY));
        assert!(!created.contains_key(ENTITY_B_KEY));
        assert_eq!(CREATE_WRITE_UNITS, 1 + 1);

        let set = operations::PAIR_UPDATE;
        let untouched = [ENTITY_A_KEY, ENTITY_A_SORT_KEY]
            .into_iter()
            .chain(ENTITY_A_ATTRIBUTES);
        for attribute in untouched {
            assert!(
                !set.contains(&format!("{attribute} = ")),
                "{attribute} in {set}"
            );
        }
        assert!(set.contains(&format!("{ENTITY_B_KEY} = ")), "{set}");
        assert!(set.contains(&format!("{ENTITY_B_SORT_KEY} = ")), "{set}");
        assert_eq!(PAIR_WRITE_UNITS, 1 + 1);
    }
}
