//! The writes that `operations` builds on: the create, as a conditional `PutItem` or one
//! `TransactWriteItems` that also claims the short code and the idempotency key (a failed
//! condition says which claim was taken); and the start of a token's `UpdateItem`.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use chrono::{DateTime, Utc};
use sdk::Token;

use super::DynamoStore;
use super::item::{ClaimItem, CodeItem, TokenItem, from_item, millis, n, s, to_item};
use super::schema::PARTITION_KEY;
use crate::domain::TenantId;
use crate::store::{Inserted, NewToken, StoreError};

impl DynamoStore {
    /// An `UpdateItem` of the token's item, for pairing and deleting to complete.
    pub(super) fn update_token(&self, token: &Token) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(token.as_str()))
    }

    /// The plain create: one conditional `PutItem`.
    pub(super) async fn put_token(
        &self,
        tenant: &TenantId,
        new: &NewToken,
    ) -> Result<(), StoreError> {
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
    pub(super) async fn insert_with_claims(
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
                let item = to_item(&CodeItem::new(tenant, code, &r.token, new.code_expires_at))?;
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
}
