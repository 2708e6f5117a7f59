//! The store's reads: a token or a short code (one consistent `GetItem`), a listing (one
//! `Query` per side), and the stats (a `Query` of the tenant index, cached briefly).

use chrono::{DateTime, Utc};
use sdk::{EntityId, ShortCode, Token, TokenRecord};

use super::item::{
    CodeItem, CountedItem, Item, TokenItem, code_key, from_item, millis, n, s, sort_key,
};
use super::schema::{EXPIRY_KEY, INDEX_TENANT, PARTITION_KEY, SORT_KEY, TENANT_KEY};
use super::{DynamoStore, STATS_CACHE, Side};
use crate::domain::{Cursor, Page, TenantId};
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

    /// [`crate::store::Store::get`].
    pub(super) async fn read_token(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        match self.read_item(token.as_str(), "reading a token").await? {
            Some(item) => from_item::<TokenItem>(item)?.live_record(tenant, now),
            None => Ok(None),
        }
    }

    /// [`crate::store::Store::resolve_code`].
    pub(super) async fn read_code(
        &self,
        tenant: &TenantId,
        code: &ShortCode,
        now: DateTime<Utc>,
    ) -> Result<Option<Token>, StoreError> {
        let Some(item) = self
            .read_item(code_key(code), "resolving a short code")
            .await?
        else {
            return Ok(None);
        };
        let code: CodeItem = from_item(item)?;
        let live = code.owner == tenant.as_str() && code.expires_at > millis(now);
        Ok(live.then_some(code.target))
    }

    /// [`crate::store::Store::list`]: both sides' indexes at once, merged newest first.
    pub(super) async fn list_tokens(
        &self,
        tenant: &TenantId,
        entity: &EntityId,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        let before = after
            .map(|c| sort_key(c.created_at, &c.token))
            // Above every digit: no upper bound.
            .unwrap_or_else(|| "~".to_owned());
        let query = |side| self.query_side(side, tenant, entity, &before, limit + 1, now);
        let (as_a, as_b) = tokio::try_join!(query(Side::A), query(Side::B))?;
        let mut items: Vec<TokenRecord> = as_a.into_iter().chain(as_b).collect();
        items.sort_by(|x, y| (y.created_at, &y.token).cmp(&(x.created_at, &x.token)));
        items.dedup_by(|x, y| x.token == y.token);
        Ok(Page::from_overfetched(items, limit))
    }

    /// Up to `wanted` live records where `entity` is on `side`, newest first, whose sort
    /// key is below `before`.
    async fn query_side(
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

    /// [`crate::store::Store::stats`]: read at most once per [`STATS_CACHE`] per tenant.
    pub(super) async fn read_stats(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<StatsCounts, StoreError> {
        let cached = self
            .stats_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .filter(|(at, _)| *at <= now && now < *at + STATS_CACHE)
            .map(|(_, counts)| counts.clone());
        if let Some(counts) = cached {
            return Ok(counts);
        }
        let counts = self.count(tenant, now).await?;
        self.stats_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.clone(), (now, counts.clone()));
        Ok(counts)
    }

    /// Reads the tenant's stats: one paged `Query` of [`INDEX_TENANT`] for the records
    /// that expire after the start of the window (the live ones, and those that expired
    /// or were deleted within it), counted here.
    async fn count(
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
