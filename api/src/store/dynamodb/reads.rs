//! The reads that `operations` builds on: one consistent `GetItem`, the listing `Query` of
//! one side, and the paged `Query`s of every shard of both listing indexes that the stats
//! count.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use chrono::{DateTime, Utc};
use sdk::{EntityId, Token, TokenRecord};

use super::item::{
    CreatedEntry, Item, PairedEntry, TokenItem, entity_hash, from_item, millis, n, s, shard_key,
    shard_keys,
};
use super::schema::PARTITION_KEY;
use super::{DynamoStore, Side};
use crate::domain::{TenantId, joined_at};
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

    /// Up to `wanted` live records where `entity` is on `side`, newest first by when it
    /// joined them, whose [`sort_key`] is below `before`: one entity's range of its shard,
    /// read page by page until enough are found. Entity A's index holds only what never
    /// changes, so its entries are read whole from the table (one `BatchGetItem` a page).
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
        let hash = entity_hash(entity);
        let high = format!("{hash}#{before}");
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(side.index())
            .key_condition_expression("#pk = :key AND #sk BETWEEN :low AND :high")
            .expression_attribute_names("#pk", side.key_attribute())
            .expression_attribute_names("#sk", side.sort_attribute())
            .expression_attribute_names("#entity", side.entity_attribute())
            .expression_attribute_values(":key", s(shard_key(tenant, entity)))
            .expression_attribute_values(":low", s(format!("{hash}#")))
            .expression_attribute_values(":high", s(high.clone()))
            .expression_attribute_values(":entity", s(entity.as_str()))
            // The entity is checked too: two entities may share a hash.
            .filter_expression(match side {
                Side::A => "#entity = :entity AND attribute_not_exists(deleted_at)",
                Side::B => "#entity = :entity AND expires_at > :now",
            })
            .scan_index_forward(false)
            .limit(i32::try_from(wanted).unwrap_or(i32::MAX));
        let query = match side {
            Side::A => query,
            Side::B => query.expression_attribute_values(":now", n(millis(now))),
        };
        let mut pages = query.into_paginator().send();
        let mut records = Vec::new();
        // Expired records are filtered out after the limit applies, so a page can come back
        // short: read on until there are enough (dropping the stream asks for no more pages).
        while records.len() < wanted
            && let Some(output) = pages.next().await
        {
            let output =
                output.map_err(|e| StoreError::backend(context, e.into_service_error()))?;
            // BETWEEN takes in the cursor's own record, which was on the page before.
            let items: Vec<Item> = output
                .items
                .unwrap_or_default()
                .into_iter()
                .filter(|item| {
                    item.get(side.sort_attribute()).and_then(|v| v.as_s().ok()) != Some(&high)
                })
                .collect();
            let items = match side {
                Side::A => self.read_whole(items, context).await?,
                Side::B => items,
            };
            for item in items {
                if let Some(record) = from_item::<TokenItem>(item)?.live_record(tenant, now)? {
                    records.push(record);
                }
            }
        }
        records.sort_by_key(|r| std::cmp::Reverse((joined_at(r, entity), r.token.clone())));
        records.truncate(wanted);
        Ok(records)
    }

    /// The table's items of index `entries`: consistent `BatchGetItem`s of up to 100 keys,
    /// asked again for any keys DynamoDB leaves unprocessed.
    async fn read_whole(
        &self,
        entries: Vec<Item>,
        context: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::with_capacity(entries.len());
        for chunk in entries.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .filter_map(|entry| entry.get(PARTITION_KEY))
                .map(|token| Item::from([(PARTITION_KEY.to_owned(), token.clone())]))
                .collect();
            let mut wanted = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::backend(context, e))?;
            loop {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, wanted)
                    .send()
                    .await
                    .map_err(|e| StoreError::backend(context, e.into_service_error()))?;
                if let Some(mut found) = output.responses {
                    items.extend(found.remove(&self.table).unwrap_or_default());
                }
                match output
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(&self.table))
                    .filter(|left| !left.keys().is_empty())
                {
                    Some(left) => wanted = left,
                    None => break,
                }
            }
        }
        Ok(items)
    }

    /// Reads the tenant's stats: every record as created, from all the shards of
    /// [`super::INDEX_ENTITY_A`], and every paired one as it is, from all the shards of
    /// [`super::INDEX_ENTITY_B`] (one paged `Query` each, all sent together), counted here.
    pub(super) async fn count(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<StatsCounts, StoreError> {
        let created =
            shard_keys(tenant).map(|shard| self.read_shard::<CreatedEntry>(Side::A, shard));
        let paired = shard_keys(tenant).map(|shard| self.read_shard::<PairedEntry>(Side::B, shard));
        let (created, paired) = tokio::try_join!(
            futures::future::try_join_all(created),
            futures::future::try_join_all(paired)
        )?;
        let paired: HashMap<Token, PairedEntry> = paired
            .into_iter()
            .flatten()
            .map(|entry| (entry.token.clone(), entry))
            .collect();
        let (now_ms, since_ms) = (millis(now), millis(now - STATS_WINDOW));
        let within = |at: i64| at > since_ms && at <= now_ms;
        let mut counts = StatsCounts::default();
        for record in created.into_iter().flatten() {
            match paired.get(&record.token) {
                Some(pairing) => {
                    match pairing.deleted_at.or(record.deleted_at) {
                        Some(at) if within(at) => counts.deleted += 1,
                        Some(_) => {}
                        None if pairing.expires_at > now_ms => counts.paired += 1,
                        None => {}
                    }
                    if within(pairing.paired_at) {
                        counts
                            .pair_latencies_ms
                            .push((pairing.paired_at - record.created_at).max(0) as u64);
                    }
                }
                None => match (record.deleted_at, record.pending_until) {
                    (Some(at), _) if within(at) => counts.deleted += 1,
                    (Some(_), _) => {}
                    (None, Some(until)) if until > now_ms => counts.pending += 1,
                    (None, Some(until)) if within(until) => counts.expired += 1,
                    (None, _) => {}
                },
            }
        }
        Ok(counts)
    }

    /// Every entry in one shard of `side`'s index, as `T`.
    async fn read_shard<T: serde::de::DeserializeOwned>(
        &self,
        side: Side,
        shard: String,
    ) -> Result<Vec<T>, StoreError> {
        let context = "counting tokens";
        let mut entries = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(side.index())
            .key_condition_expression("#pk = :shard")
            .expression_attribute_names("#pk", side.key_attribute())
            .expression_attribute_values(":shard", s(shard))
            .into_paginator()
            .send();
        while let Some(output) = pages.next().await {
            let output =
                output.map_err(|e| StoreError::backend(context, e.into_service_error()))?;
            for item in output.items.unwrap_or_default() {
                entries.push(from_item::<T>(item)?);
            }
        }
        Ok(entries)
    }
}
