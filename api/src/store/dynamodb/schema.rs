//! The table's schema: its keys and indexes, the attributes they name, and
//! [`DynamoStore::create_table`].

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::DynamoStore;
use crate::store::StoreError;

/// The partition key.
pub const PARTITION_KEY: &str = "token";
/// The GSI that lists by entity A.
pub const INDEX_ENTITY_A: &str = "by_entity_a";
/// The GSI that lists by entity B (sparse: only paired items).
pub const INDEX_ENTITY_B: &str = "by_entity_b";
/// Partition key of [`INDEX_ENTITY_A`].
pub const ENTITY_A_KEY: &str = "entity_a_key";
/// Partition key of [`INDEX_ENTITY_B`].
pub const ENTITY_B_KEY: &str = "entity_b_key";
/// Sort key of both GSIs.
pub const SORT_KEY: &str = "sort_key";
/// DynamoDB's TTL attribute (Unix seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at_epoch";
/// The GSI that `stats` reads: a tenant's records by expiry (token items only; code and
/// idempotency items name their tenant `owner`, which keeps them out).
pub const INDEX_TENANT: &str = "by_tenant";
/// Partition key of [`INDEX_TENANT`].
pub const TENANT_KEY: &str = "tenant";
/// Sort key of [`INDEX_TENANT`] (Unix milliseconds).
pub const EXPIRY_KEY: &str = "expires_at";
/// The attributes [`INDEX_TENANT`] projects besides its keys: what `stats` counts with.
pub const TENANT_INDEX_ATTRIBUTES: [&str; 4] =
    ["entity_b", "created_at", "paired_at", "deleted_at"];

/// How far in the future "never" lies, for a pairing that lives until deleted: the
/// pair update adds this to its time when the item has no pair TTL (see
/// [`crate::store::Store::pair`]).
pub(super) const FOREVER_SECONDS: i64 = 100 * 365 * 24 * 60 * 60;

impl DynamoStore {
    /// Creates `table` with the schema this store expects (on-demand, both GSIs, TTL on
    /// [`TTL_ATTRIBUTE`]). Does nothing to a table that exists already; returns whether
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
        let counted = Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(
                TENANT_INDEX_ATTRIBUTES
                    .iter()
                    .map(|a| a.to_string())
                    .collect(),
            ))
            .build();
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attribute(PARTITION_KEY)?)
            .attribute_definitions(string_attribute(ENTITY_A_KEY)?)
            .attribute_definitions(string_attribute(ENTITY_B_KEY)?)
            .attribute_definitions(string_attribute(SORT_KEY)?)
            .attribute_definitions(string_attribute(TENANT_KEY)?)
            .attribute_definitions(attribute(EXPIRY_KEY, ScalarAttributeType::N)?)
            .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
            .global_secondary_indexes(index(INDEX_ENTITY_A, ENTITY_A_KEY, SORT_KEY, all())?)
            .global_secondary_indexes(index(INDEX_ENTITY_B, ENTITY_B_KEY, SORT_KEY, all())?)
            .global_secondary_indexes(index(INDEX_TENANT, TENANT_KEY, EXPIRY_KEY, counted)?)
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
