//! The store's writes: create (with its short code and idempotency key), pair, delete.
//! Each is one DynamoDB request; a failed condition says why in the same answer.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use sdk::{EntityId, Token, TokenRecord};

use super::DynamoStore;
use super::item::{
    ClaimItem, CodeItem, TokenItem, entity_key, epoch_seconds_ceil, from_item, millis, n, s,
    to_item,
};
use super::schema::{FOREVER_SECONDS, PARTITION_KEY};
use crate::domain::TenantId;
use crate::store::{Inserted, NewToken, PairOutcome, StoreError};

impl DynamoStore {
    /// [`crate::store::Store::insert`]: a conditional `PutItem`, or a `TransactWriteItems`
    /// when the record also claims a short code or an idempotency key.
    pub(super) async fn insert_token(
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

    /// The plain create: one conditional `PutItem`.
    async fn put_token(&self, tenant: &TenantId, new: &NewToken) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&TokenItem::new(tenant, new))?))
            .condition_expression("attribute_not_exists(#token)")
            .expression_attribute_names("#token", PARTITION_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Duplicate)
            }
            Err(e) => Err(StoreError::backend(
                "inserting a token",
                e.into_service_error(),
            )),
        }
    }

    /// A create with a short code or an idempotency key: one `TransactWriteItems` that puts
    /// the token and claims the code and the key, each only if free.
    async fn insert_with_claims(
        &self,
        tenant: &TenantId,
        new: &NewToken,
        now: DateTime<Utc>,
    ) -> Result<Inserted, StoreError> {
        let context = "inserting a token";
        let build = |e| StoreError::backend(context, e);
        let r = &new.record;
        let token = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&TokenItem::new(tenant, new))?))
            .condition_expression("attribute_not_exists(#token)")
            .expression_attribute_names("#token", PARTITION_KEY)
            .build()
            .map_err(build)?;
        let mut writes = vec![TransactWriteItem::builder().put(token).build()];
        // A code or key is free if nobody holds it or its holder's time is up.
        let claim = |item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#token) OR expires_at <= :now")
                .expression_attribute_names("#token", PARTITION_KEY)
                .expression_attribute_values(":now", n(millis(now)))
        };
        let code_index = match &r.code {
            Some(code) => {
                let item = to_item(&CodeItem::new(tenant, code, &r.token, r.expires_at))?;
                writes.push(
                    TransactWriteItem::builder()
                        .put(claim(item).build().map_err(build)?)
                        .build(),
                );
                Some(writes.len() - 1)
            }
            None => None,
        };
        let key_index = match &new.idempotency {
            Some(key) => {
                let item =
                    ClaimItem::new(tenant, key, r).map_err(|e| StoreError::backend(context, e))?;
                let put = claim(to_item(&item)?)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(build)?;
                writes.push(TransactWriteItem::builder().put(put).build());
                Some(writes.len() - 1)
            }
            None => None,
        };
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(Inserted::Created),
            Err(e) => e.into_service_error(),
        };
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = &error else {
            return Err(StoreError::backend(context, error));
        };
        let reasons = cancelled.cancellation_reasons();
        let failed = |index: usize| {
            reasons
                .get(index)
                .and_then(|r| r.code())
                .is_some_and(|code| code == "ConditionalCheckFailed")
        };
        if let (Some(index), Some(claim)) = (key_index.filter(|&i| failed(i)), &new.idempotency) {
            let earlier = match reasons[index].item() {
                Some(item) => item.clone(),
                // A server that does not return the item: read it.
                None => {
                    let key = ClaimItem::key_of(tenant, claim);
                    self.read_item(key, context).await?.ok_or_else(|| {
                        StoreError::backend(context, "the idempotency key's item went away")
                    })?
                }
            };
            return from_item::<ClaimItem>(earlier)?.replay(claim);
        }
        if code_index.is_some_and(failed) {
            return Err(StoreError::DuplicateCode);
        }
        if failed(0) {
            return Err(StoreError::Duplicate);
        }
        Err(StoreError::backend(context, error))
    }

    /// [`crate::store::Store::pair`]: one conditional `UpdateItem` that returns the new item,
    /// or, when its condition fails, the item as it was.
    pub(super) async fn pair_token(
        &self,
        tenant: &TenantId,
        token: &Token,
        entity_b: &EntityId,
        now: DateTime<Utc>,
    ) -> Result<PairOutcome, StoreError> {
        let context = "pairing a token";
        let now_ms = millis(now);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(token.as_str()))
            .update_expression(
                "SET entity_b = :b, entity_b_key = :b_key, paired_at = :now, \
                 expires_at = if_not_exists(pair_ttl_ms, :forever_ms) + :now, \
                 expires_at_epoch = if_not_exists(pair_ttl_seconds, :forever_s) + :now_s",
            )
            .condition_expression(
                "tenant = :tenant AND attribute_not_exists(entity_b) \
                 AND entity_a <> :b AND expires_at > :now",
            )
            .expression_attribute_values(":b", s(entity_b.as_str()))
            .expression_attribute_values(":b_key", s(entity_key(tenant, entity_b)))
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

    /// [`crate::store::Store::delete`]: one conditional `UpdateItem` that returns the item as
    /// it was and marks it deleted (see [`super`]).
    pub(super) async fn delete_token(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let now_ms = millis(now);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(token.as_str()))
            .update_expression(
                "SET deleted_at = :now, expires_at = :now, expires_at_epoch = :now_s \
                 REMOVE entity_a_key, entity_b_key",
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
}
