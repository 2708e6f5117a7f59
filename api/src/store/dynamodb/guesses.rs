//! Short codes on DynamoDB: resolving one, and the counts of failed attempts.
//!
//! Failures are counted in one item per tenant, guesser and hourly window,
//! `guess#WINDOW#TENANT#GUESSER` → `owner`, `failures`, and `expires_at_epoch` an hour after
//! the window ends (DynamoDB's TTL removes it). An attempt first *reserves* a failure on the
//! guesser's counter and then on the tenant's ([`WHOLE_TENANT`]): conditional `UpdateItem`s,
//! each adding one only while the counter is below its limit. Only then is
//! the code tried; an attempt that finds what it looked for gives both back. So every Lambda
//! instance sees the same counts, and no number of concurrent attempts gets past a limit.
//!
//! What an attempt costs in DynamoDB requests: a failed one 3 (two reservations, the code's
//! `GetItem`), a successful one 6 (those, the pairing's `UpdateItem`, two give-backs), one
//! refused at the limit 1 (the guesser's reservation) or 3 (both, and giving back the guesser's).

use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};
use sdk::{ShortCode, Token};

use super::DynamoStore;
use super::item::{CodeItem, code_key, epoch_seconds_ceil, from_item, millis, n, s};
use super::schema::PARTITION_KEY;
use crate::domain::TenantId;
use crate::store::{CodeAttempt, CodeOutcome, GuessWindow, StoreError, WHOLE_TENANT};

impl DynamoStore {
    /// Runs `attempt` (see [`crate::store::Store::pair_by_code`]).
    pub(super) async fn attempt_code(
        &self,
        tenant: &TenantId,
        attempt: &CodeAttempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<CodeOutcome, StoreError> {
        let window = GuessWindow::containing(now);
        let guesser = guess_key(tenant, attempt.guesser, window);
        let whole = guess_key(tenant, WHOLE_TENANT, window);
        // The guesser's first: the tenant's counter then holds reservations only of attempts
        // within their own limit, so refused attempts never crowd out others there.
        if !self
            .reserve_failure(&guesser, tenant, attempt.limits.per_guesser, window)
            .await?
        {
            return Ok(CodeOutcome::Limited {
                until: window.end(),
            });
        }
        let by_tenant = self
            .reserve_failure(&whole, tenant, attempt.limits.per_tenant, window)
            .await;
        if !matches!(by_tenant, Ok(true)) {
            // Refused (or failed): give back the guesser's reservation.
            self.give_back_failure(&guesser).await;
            by_tenant?;
            return Ok(CodeOutcome::Limited {
                until: window.end(),
            });
        }
        let found = self.try_code(tenant, attempt, now).await;
        if !matches!(found, Ok(None)) {
            // Found, or the store failed, which is no guess either.
            tokio::join!(
                self.give_back_failure(&guesser),
                self.give_back_failure(&whole)
            );
        }
        Ok(found?.map_or(CodeOutcome::Failed, CodeOutcome::Found))
    }

    /// Resolves the attempt's code and pairs its token: what that found, if it found what
    /// it looked for ([`CodeOutcome::found`]).
    async fn try_code(
        &self,
        tenant: &TenantId,
        attempt: &CodeAttempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::store::PairOutcome>, StoreError> {
        use crate::store::Store as _;
        let Some(code) = attempt.code else {
            return Ok(None);
        };
        let Some(token) = self.resolve_code(tenant, code, now).await? else {
            return Ok(None);
        };
        let outcome = self.pair(tenant, &token, attempt.presenter, now).await?;
        Ok(CodeOutcome::found(outcome, attempt.presenter))
    }

    /// The token that `code` stands for, while the code's own item is live. Whether that
    /// token is still pending, the pairing that follows finds out.
    async fn resolve_code(
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

    /// Adds one failure to the counter `key` if it is below `limit`; whether it did.
    async fn reserve_failure(
        &self,
        key: &str,
        tenant: &TenantId,
        limit: u32,
        window: GuessWindow,
    ) -> Result<bool, StoreError> {
        let expires = window.end_ms() + GuessWindow::LENGTH.num_milliseconds();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(key))
            .update_expression("SET #owner = :owner, expires_at_epoch = :ttl ADD failures :one")
            .condition_expression("attribute_not_exists(failures) OR failures < :limit")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(tenant.as_str()))
            .expression_attribute_values(":ttl", n(epoch_seconds_ceil(expires)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .return_values(ReturnValue::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::backend(
                "counting a short-code attempt",
                e.into_service_error(),
            )),
        }
    }

    /// Takes back a failure that [`Self::reserve_failure`] added. If that fails, the
    /// guesser is charged one failure it did not make: logged, not fatal.
    async fn give_back_failure(&self, key: &str) {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(key))
            .update_expression("ADD failures :minus_one")
            .expression_attribute_values(":minus_one", n(-1))
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e.into_service_error(), "could not give back a reserved code failure");
        }
    }

    /// How often the tenant as a whole failed a short code in the window of `now`.
    pub(super) async fn code_failures(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let key = guess_key(tenant, WHOLE_TENANT, GuessWindow::containing(now));
        let Some(item) = self.read_item(key, "reading code failures").await? else {
            return Ok(0);
        };
        let counter: FailureCounter = from_item(item)?;
        Ok(counter.failures.max(0).unsigned_abs())
    }
}

/// What a failure counter item holds that is read back.
#[derive(Debug, serde::Deserialize)]
struct FailureCounter {
    #[serde(default)]
    failures: i64,
}

/// The partition key of the failure counter of `guesser` of `tenant` in `window`.
fn guess_key(tenant: &TenantId, guesser: &str, window: GuessWindow) -> String {
    format!("guess#{}#{}#{guesser}", window.start_ms, tenant.as_str())
}
