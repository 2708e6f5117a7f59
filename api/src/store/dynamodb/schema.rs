//! The table's schema: its keys and indexes, the attributes they name, and
//! [`DynamoStore::create_table`].

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

use super::DynamoStore;
use crate::store::StoreError;

/// The partition key.
pub const PARTITION_KEY: &str = "token";
/// The GSI that lists by entity A; with [`INDEX_ENTITY_B`], what `stats` reads whole. It
/// spreads each tenant over [`SHARDS`] partitions by entity A, so that no tenant's writes
/// meet in one partition, and projects only what never changes when a token is paired
/// ([`ENTITY_A_ATTRIBUTES`]), so that a pairing does not write to it.
pub const INDEX_ENTITY_A: &str = "by_entity_a";
/// The GSI that lists by entity B (sparse: only paired items), spread like
/// [`INDEX_ENTITY_A`] by entity B, with every attribute.
pub const INDEX_ENTITY_B: &str = "by_entity_b";
/// Partition key of [`INDEX_ENTITY_A`]: `tenant#NN`, `NN` entity A's shard (`00` to `15`).
pub const ENTITY_A_KEY: &str = "entity_a_shard";
/// Sort key of [`INDEX_ENTITY_A`]: entity A's hash (16 hexadecimal digits), `#`, the
/// creation time (15 digits of Unix milliseconds), `#`, the token: an entity's records lie
/// together, newest last.
pub const ENTITY_A_SORT_KEY: &str = "entity_a_sort";
/// Partition key of [`INDEX_ENTITY_B`]: `tenant#NN`, by entity B.
pub const ENTITY_B_KEY: &str = "entity_b_shard";
/// Sort key of [`INDEX_ENTITY_B`]: entity B's hash, `#`, the pairing time, `#`, the token.
pub const ENTITY_B_SORT_KEY: &str = "entity_b_sort";
/// The attributes [`INDEX_ENTITY_A`] projects besides its keys: set at creation (and
/// `deleted_at` at deletion), never by a pairing.
pub const ENTITY_A_ATTRIBUTES: [&str; 4] =
    ["entity_a", "created_at", "pending_until", "deleted_at"];
/// How many partitions each listing index spreads a tenant over.
pub const SHARDS: u32 = 16;
/// DynamoDB's TTL attribute (Unix seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at_epoch";

/// What the table's stream carries of each change (the delivery function reads both images).
pub const STREAM_VIEW_TYPE: &str = "NEW_AND_OLD_IMAGES";

/// How far in the future "never" lies, for a pairing that lives until deleted: the
/// pair update adds this to its time when the item has no pair TTL (see
/// [`crate::store::Store::pair`]).
pub(super) const FOREVER_SECONDS: i64 = 100 * 365 * 24 * 60 * 60;

impl DynamoStore {
    /// Creates `table` with the schema this store expects (on-demand, both GSIs, TTL on
    /// [`TTL_ATTRIBUTE`], a stream of new and old images for the webhooks). Does nothing to a table that exists already; returns whether
    /// it created one.
    pub async fn create_table(client: &Client, table: &str) -> Result<bool, StoreError> {
        let context = "creating the DynamoDB table";
        let attribute = |name: &str, kind: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .map_err(|e| StoreError::backend(context, e))
        };
        let string_attribute = |name: &str| attribute(name, ScalarAttributeType::S);
        let key = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| StoreError::backend(context, e))
        };
        let index = |name: &str, partition: &str, sort: &str, projection: Projection| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(partition, KeyType::Hash)?)
                .key_schema(key(sort, KeyType::Range)?)
                .projection(projection)
                .build()
                .map_err(|e| StoreError::backend(context, e))
        };
        let all = || {
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build()
        };
        let immutable = Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(
                ENTITY_A_ATTRIBUTES.iter().map(|a| a.to_string()).collect(),
            ))
            .build();
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attribute(PARTITION_KEY)?)
            .attribute_definitions(string_attribute(ENTITY_A_KEY)?)
            .attribute_definitions(string_attribute(ENTITY_A_SORT_KEY)?)
            .attribute_definitions(string_attribute(ENTITY_B_KEY)?)
            .attribute_definitions(string_attribute(ENTITY_B_SORT_KEY)?)
            .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
            .global_secondary_indexes(index(
                INDEX_ENTITY_A,
                ENTITY_A_KEY,
                ENTITY_A_SORT_KEY,
                immutable,
            )?)
            .global_secondary_indexes(index(
                INDEX_ENTITY_B,
                ENTITY_B_KEY,
                ENTITY_B_SORT_KEY,
                all(),
            )?)
            // What the webhook delivery function reads (see `stream`).
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(STREAM_VIEW_TYPE))
                    .build()
                    .map_err(|e| StoreError::backend(context, e))?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(StoreError::backend(context, e.into_service_error())),
        }
        client
            .wait_until_table_exists()
            .table_name(table)
            .wait(std::time::Duration::from_secs(120))
            .await
            .map_err(|e| StoreError::backend(context, e))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(|e| StoreError::backend(context, e))?,
            )
            .send()
            .await
            .map_err(|e| StoreError::backend(context, e.into_service_error()))?;
        Ok(true)
    }
}
