//! Per-key rate budgets on DynamoDB: one counter item per API key and clock second,
//! `rate#KEY#SECOND` → `used`, removed by TTL a minute later. A lease is one conditional
//! `UpdateItem` that adds the slice only while it fits in the budget; when it does not, one
//! more asks for a single request.

use aws_sdk_dynamodb::types::ReturnValue;

use super::DynamoStore;
use super::item::{from_item, n, s};
use super::schema::PARTITION_KEY;
use crate::store::{RateLease, StoreError};

impl DynamoStore {
    /// Takes up to `want` of `key`'s `budget` for the second at `second_ms`.
    pub(super) async fn lease(
        &self,
        key: &str,
        second_ms: i64,
        budget: u32,
        want: u32,
    ) -> Result<RateLease, StoreError> {
        let item_key = format!("rate#{key}#{second_ms}");
        let mut want = want.min(budget);
        while want > 0 {
            if let Some(used) = self.take(&item_key, second_ms, budget, want).await? {
                return Ok(RateLease {
                    granted: want,
                    used,
                });
            }
            // Less than the slice is left: try for one request, then give up.
            want = if want > 1 { 1 } else { 0 };
        }
        Ok(RateLease {
            granted: 0,
            used: budget,
        })
    }

    /// Adds `want` to the counter if it stays within `budget`: the count after, or `None`.
    async fn take(
        &self,
        item_key: &str,
        second_ms: i64,
        budget: u32,
        want: u32,
    ) -> Result<Option<u32>, StoreError> {
        let context = "leasing a rate budget";
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(item_key))
            .update_expression("SET expires_at_epoch = :ttl ADD used :want")
            .condition_expression("attribute_not_exists(used) OR used <= :most")
            .expression_attribute_values(":ttl", n(second_ms / 1000 + 60))
            .expression_attribute_values(":want", n(i64::from(want)))
            .expression_attribute_values(":most", n(i64::from(budget - want)))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(output) => {
                let used = output
                    .attributes
                    .and_then(|item| from_item::<LeaseCounter>(item).ok())
                    .map_or(budget, |counter| counter.used);
                Ok(Some(used))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::backend(context, e.into_service_error())),
        }
    }
}

/// What a lease's `UpdateItem` returns of its counter.
#[derive(Debug, serde::Deserialize)]
struct LeaseCounter {
    used: u32,
}
