//! The reads that `operations` builds on: one consistent `GetItem`, the listing `Query` of
//! one side, and the paged `Query`s of every shard of entity A's index that the stats count.

use chrono::{DateTime, Utc};
use sdk::{EntityId, TokenRecord};

use super::item::{
    CountedItem, Item, TokenItem, entity_hash, entity_key, from_item, millis, n, s, shard_key,
    shard_keys, sort_key,
};
use super::schema::{ENTITY_A_KEY, ENTITY_A_SORT_KEY, INDEX_ENTITY_A, PARTITION_KEY, SORT_KEY};
use super::{DynamoStore, Side};
use crate::domain::TenantId;
use crate::store::{STATS_WINDOW, StatsCounts, StoreError};

impl DynamoStore {
    /// The item with partition key `key`: one strongly consistent `GetItem`.
    pub(super) async fn read_item(
        &self,
        key: impl Into<String>,
        context: &'static str,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend(context, e.into_service_error()))?;
        Ok(output.item)
    }

    /// Up to `wanted` live records where `entity` is on `side`, newest first, whose sort
    /// key ([`super::item::sort_key`]) is below `before`.
    pub(super) async fn query_side(
        &self,
        side: Side,
        tenant: &TenantId,
        entity: &EntityId,
        before: &str,
        wanted: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let context = "listing tokens";
        let mut records = Vec::new();
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(side.index())
            .expression_attribute_names("#pk", side.key_attribute())
            .expression_attribute_names("#entity", side.entity_attribute())
            .expression_attribute_values(":entity", s(entity.as_str()))
            .expression_attribute_values(":now", n(millis(now)))
            // The entity is checked too: on side A, two entities may share a hash.
            .filter_expression("expires_at > :now AND #entity = :entity")
            .scan_index_forward(false)
            .limit(i32::try_from(wanted).unwrap_or(i32::MAX));
        let query = match side {
            // One entity's range of its shard: from its hash up to (not including) `before`.
            Side::A => {
                let hash = entity_hash(entity);
                query
                    .key_condition_expression("#pk = :key AND #sk BETWEEN :low AND :high")
                    .expression_attribute_names("#sk", ENTITY_A_SORT_KEY)
                    .expression_attribute_values(":key", s(shard_key(tenant, entity)))
                    .expression_attribute_values(":low", s(format!("{hash}#")))
                    .expression_attribute_values(":high", s(format!("{hash}#{before}")))
            }
            Side::B => query
                .key_condition_expression("#pk = :key AND #sk < :before")
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_values(":key", s(entity_key(tenant, entity)))
                .expression_attribute_values(":before", s(before)),
        };
        let mut pages = query.into_paginator().send();
        // Expired records are filtered out after the limit applies, so a page can come back
        // short: read on until there are enough (dropping the stream asks for no more pages).
        while records.len() < wanted
            && let Some(output) = pages.next().await
        {
            let output =
                output.map_err(|e| StoreError::backend(context, e.into_service_error()))?;
            for item in output.items.unwrap_or_default() {
                let Some(record) = from_item::<TokenItem>(item)?.live_record(tenant, now)? else {
                    continue;
                };
                // BETWEEN takes in the cursor's own record: it was on the page before.
                if sort_key(record.created_at, &record.token).as_str() < before {
                    records.push(record);
                }
            }
        }
        records.truncate(wanted);
        Ok(records)
    }

    /// Reads the tenant's stats: every record of the tenant, from all the shards of
    /// [`INDEX_ENTITY_A`] (one paged `Query` each, sent together), counted here.
    pub(super) async fn count(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<StatsCounts, StoreError> {
        let shards = shard_keys(tenant).map(|shard| self.read_shard(shard));
        let (now_ms, since_ms) = (millis(now), millis(now - STATS_WINDOW));
        let mut counts = StatsCounts::default();
        for item in futures::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
        {
            // Records that ended before the window are of no count (TTL removes them late).
            if item.expires_at <= since_ms {
                continue;
            }
            let live = item.expires_at > now_ms;
            match (item.deleted_at, item.paired_at) {
                (Some(at), _) if at > since_ms => counts.deleted += 1,
                (Some(_), _) => {}
                (None, Some(_)) if live => counts.paired += 1,
                (None, None) if live => counts.pending += 1,
                (None, None) => counts.expired += 1,
                (None, Some(_)) => {}
            }
            if let (Some(paired), Some(created)) = (item.paired_at, item.created_at)
                && paired > since_ms
            {
                counts
                    .pair_latencies_ms
                    .push((paired - created).max(0) as u64);
            }
        }
        Ok(counts)
    }

    /// What `stats` counts of every record in one shard of [`INDEX_ENTITY_A`].
    async fn read_shard(&self, shard: String) -> Result<Vec<CountedItem>, StoreError> {
        let context = "counting tokens";
        let mut items = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_ENTITY_A)
            .key_condition_expression("#pk = :shard")
            .projection_expression("expires_at, created_at, paired_at, deleted_at")
            .expression_attribute_names("#pk", ENTITY_A_KEY)
            .expression_attribute_values(":shard", s(shard))
            .into_paginator()
            .send();
        while let Some(output) = pages.next().await {
            let output =
                output.map_err(|e| StoreError::backend(context, e.into_service_error()))?;
            for item in output.items.unwrap_or_default() {
                items.push(from_item::<CountedItem>(item)?);
            }
        }
        Ok(items)
    }
}
