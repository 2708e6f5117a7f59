//! The reads that `operations` builds on: one consistent `GetItem`, the listing `Query` of
//! one side, and the paged `Query` of the tenant index that the stats count.

use chrono::{DateTime, Utc};
use sdk::{EntityId, TokenRecord};

use super::item::{CountedItem, Item, TokenItem, from_item, millis, n, s};
use super::schema::{EXPIRY_KEY, INDEX_TENANT, PARTITION_KEY, SORT_KEY, TENANT_KEY};
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
    /// key is below `before`.
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
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(side.index())
            .key_condition_expression("#pk = :key AND #sk < :before")
            .filter_expression("expires_at > :now")
            .expression_attribute_names("#pk", side.key_attribute())
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":key", s(super::item::entity_key(tenant, entity)))
            .expression_attribute_values(":before", s(before))
            .expression_attribute_values(":now", n(millis(now)))
            .scan_index_forward(false)
            .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
            .into_paginator()
            .send();
        // Expired records are filtered out after the limit applies, so a page can come back
        // short: read on until there are enough (dropping the stream asks for no more pages).
        while records.len() < wanted
            && let Some(output) = pages.next().await
        {
            let output =
                output.map_err(|e| StoreError::backend(context, e.into_service_error()))?;
            for item in output.items.unwrap_or_default() {
                if let Some(record) = from_item::<TokenItem>(item)?.live_record(tenant, now)? {
                    records.push(record);
                }
            }
        }
        records.truncate(wanted);
        Ok(records)
    }

    /// Reads the tenant's stats: one paged `Query` of [`INDEX_TENANT`] for the records
    /// that expire after the start of the window (the live ones, and those that expired
    /// or were deleted within it), counted here.
    pub(super) async fn count(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<StatsCounts, StoreError> {
        let context = "counting tokens";
        let (now_ms, since_ms) = (millis(now), millis(now - STATS_WINDOW));
        let mut counts = StatsCounts::default();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_TENANT)
            .key_condition_expression("#tenant = :tenant AND #expiry > :since")
            .expression_attribute_names("#tenant", TENANT_KEY)
            .expression_attribute_names("#expiry", EXPIRY_KEY)
            .expression_attribute_values(":tenant", s(tenant.as_str()))
            .expression_attribute_values(":since", n(since_ms))
            .into_paginator()
            .send();
        while let Some(output) = pages.next().await {
            let output =
                output.map_err(|e| StoreError::backend(context, e.into_service_error()))?;
            for item in output.items.unwrap_or_default() {
                let item: CountedItem = from_item(item)?;
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
        }
        Ok(counts)
    }
}
