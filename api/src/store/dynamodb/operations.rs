//! The [`Store`] port on DynamoDB. Every call but pair-by-code, `list` and `stats` is one request (see
//! [`super`]); the requests that need more building live in `reads` and `writes`.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use sdk::{EntityId, Token, TokenRecord};

use super::item::{
    TokenItem, epoch_seconds_ceil, from_item, listing_sort_key, millis, n, s, shard_key, sort_key,
};
use super::schema::FOREVER_SECONDS;
use super::{DynamoStore, STATS_CACHE, Side};
use crate::domain::{Cursor, Page, TenantId, joined_at};
use crate::store::{
    CodeAttempt, CodeOutcome, Inserted, NewToken, PairOutcome, RateLease, StatsCounts, Store,
    StoreError,
};

/// The pairing's update: entity B and its listing keys, the pairing time and the new
/// expiry. It touches nothing that [`super::INDEX_ENTITY_A`] holds, so that index is not
/// written (see [`super::PAIR_WRITE_UNITS`]).
pub(super) const PAIR_UPDATE: &str = "SET entity_b = :b, entity_b_shard = :b_shard, \
     entity_b_sort = :b_sort, paired_at = :now, \
     expires_at = if_not_exists(pair_ttl_ms, :forever_ms) + :now, \
     expires_at_epoch = if_not_exists(pair_ttl_seconds, :forever_s) + :now_s";

#[async_trait]
impl Store for DynamoStore {
    fn kind(&self) -> &'static str {
        "dynamodb"
    }

    async fn insert(
        &self,
        tenant: &TenantId,
        new: &NewToken,
        now: DateTime<Utc>,
    ) -> Result<Inserted, StoreError> {
        if new.record.code.is_none() && new.idempotency.is_none() {
            self.put_token(tenant, new).await?;
            return Ok(Inserted::Created);
        }
        self.insert_with_claims(tenant, new, now).await
    }

    async fn pair_by_code(
        &self,
        tenant: &TenantId,
        attempt: &CodeAttempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<CodeOutcome, StoreError> {
        self.attempt_code(tenant, attempt, now).await
    }

    async fn get(
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

    async fn pair(
        &self,
        tenant: &TenantId,
        token: &Token,
        entity_b: &EntityId,
        now: DateTime<Utc>,
    ) -> Result<PairOutcome, StoreError> {
        let context = "pairing a token";
        let now_ms = millis(now);
        let result = self
            .update_token(token)
            .update_expression(PAIR_UPDATE)
            .condition_expression(
                "tenant = :tenant AND attribute_not_exists(entity_b) \
                 AND entity_a <> :b AND expires_at > :now",
            )
            .expression_attribute_values(":b", s(entity_b.as_str()))
            .expression_attribute_values(":b_shard", s(shard_key(tenant, entity_b)))
            .expression_attribute_values(":b_sort", s(listing_sort_key(entity_b, now, token)))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":now_s", n(epoch_seconds_ceil(now_ms)))
            .expression_attribute_values(":forever_ms", n(FOREVER_SECONDS * 1000))
            .expression_attribute_values(":forever_s", n(FOREVER_SECONDS))
            .expression_attribute_values(":tenant", s(tenant.as_str()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let service = match result {
            Ok(output) => {
                let item = output.attributes.ok_or_else(|| {
                    StoreError::backend(context, "UpdateItem returned no attributes")
                })?;
                return Ok(PairOutcome::Paired(from_item::<TokenItem>(item)?.record()?));
            }
            Err(e) => e.into_service_error(),
        };
        let UpdateItemError::ConditionalCheckFailedException(failed) = service else {
            return Err(StoreError::backend(context, service));
        };
        // DynamoDB returns the item whose condition failed. Servers that do not implement
        // `ReturnValuesOnConditionCheckFailure` return none even when it exists: read it
        // then (only on this path; the success path stays one request).
        let current = match failed.item {
            Some(item) => Some(item),
            None => self.read_item(token.as_str(), context).await?,
        };
        let record = match current {
            Some(item) => from_item::<TokenItem>(item)?.live_record(tenant, now)?,
            None => None,
        };
        Ok(record.map_or(PairOutcome::Missing, PairOutcome::Unchanged))
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let now_ms = millis(now);
        let result = self
            .update_token(token)
            .update_expression(
                "SET deleted_at = :now, expires_at = :now, expires_at_epoch = :now_s",
            )
            .condition_expression("tenant = :tenant AND expires_at > :now")
            .expression_attribute_values(":tenant", s(tenant.as_str()))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":now_s", n(epoch_seconds_ceil(now_ms)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => output
                .attributes
                .map(|item| from_item::<TokenItem>(item)?.record())
                .transpose(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::backend(
                "deleting a token",
                e.into_service_error(),
            )),
        }
    }

    async fn list(
        &self,
        tenant: &TenantId,
        entity: &EntityId,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        let before = after
            .map(|c| sort_key(c.at, &c.token))
            // Above every digit: no upper bound.
            .unwrap_or_else(|| "~".to_owned());
        let query = |side| self.query_side(side, tenant, entity, &before, limit + 1, now);
        let (as_a, as_b) = tokio::try_join!(query(Side::A), query(Side::B))?;
        let mut items: Vec<TokenRecord> = as_a.into_iter().chain(as_b).collect();
        let order = |r: &TokenRecord| (joined_at(r, entity), r.token.clone());
        items.sort_by_key(|r| std::cmp::Reverse(order(r)));
        items.dedup_by(|x, y| x.token == y.token);
        Ok(Page::from_overfetched(items, limit, entity))
    }

    async fn stats(
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
        let mut counts = match cached {
            Some(counts) => counts,
            None => {
                let counts = self.count(tenant, now).await?;
                self.stats_cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(tenant.clone(), (now, counts.clone()));
                counts
            }
        };
        // One item, read fresh: what the guess budget has left matters now.
        counts.code_failures = self.code_failures(tenant, now).await?;
        Ok(counts)
    }

    async fn lease_requests(
        &self,
        key: &str,
        second_ms: i64,
        budget: u32,
        want: u32,
    ) -> Result<RateLease, StoreError> {
        self.lease(key, second_ms, budget, want).await
    }

    fn change_poll_interval(&self) -> Option<std::time::Duration> {
        // Other Lambda instances write too; a long-poll re-reads once a second.
        Some(std::time::Duration::from_secs(1))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // A data-plane read of a key that never exists: cheap, and not throttled like
        // the control plane's DescribeTable.
        self.read_item("-healthz-", "checking the DynamoDB store")
            .await
            .map(drop)
    }
}
