//! The per-key rate limit, held for the whole deployment: at most `TANDEM_RATE_LIMIT`
//! requests per API key in any clock second, whichever processes or Lambda instances serve
//! them.
//!
//! Each process leases slices of a key's budget for the current second from the store and
//! serves requests from its slice, so the store sees one write per slice, not one per
//! request. A slice is a tenth of the budget (at least one request); once the store says
//! that less is left, the next slices shrink toward one request, so that what one process
//! leased and did not use leaves the others little short. The tolerance, then: a key never
//! gets more than its budget in a clock second, and may get fewer by what the processes that
//! served it that second leased and left unused, under a slice each (a tenth of the budget).
//! Once a second's budget is spent, this process answers `429` for the rest of that second
//! without asking the store again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::pairing::PairingError;
use crate::store::Store;

/// What this process holds of one key's budget.
#[derive(Debug, Clone, Copy, Default)]
struct Slice {
    /// The clock second it is for (Unix milliseconds of its start).
    second_ms: i64,
    /// Requests left in it.
    left: u32,
    /// How many to ask for next in the same second.
    next: u32,
    /// Whether the store said the second's budget is spent.
    spent: bool,
}

/// The per-key limit, shared through the store.
///
/// Each key's slice sits behind its own async lock, held while a lease is in flight: the
/// requests of one key that arrive meanwhile wait for that lease and use what it brought,
/// instead of each leasing a slice of its own and leaving unused what arrives too late.
#[derive(Debug)]
pub struct SharedRateLimit {
    per_second: u32,
    slices: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slice>>>>,
}

impl SharedRateLimit {
    /// At most `per_second` requests per key and clock second, deployment-wide.
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            slices: Mutex::default(),
        }
    }

    /// The most one lease asks for: a tenth of the budget, at least one request.
    fn full_slice(&self) -> u32 {
        (self.per_second / 10).max(1)
    }

    /// Counts one request of `key` at `now`: `Ok` if the key's budget for this second has
    /// room (leasing more from `store` when this process's slice is used up), else `429`
    /// until the second ends.
    pub async fn check(
        &self,
        store: &dyn Store,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let now_ms = now.timestamp_millis();
        let second_ms = now_ms.div_euclid(1000) * 1000;
        let limited = || ApiError::RateLimited {
            retry_after: Duration::from_millis((second_ms + 1000 - now_ms).unsigned_abs()),
        };
        let held = {
            let mut slices = self.slices.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(slices.entry(key.to_owned()).or_default())
        };
        let mut slice = held.lock().await;
        if slice.second_ms != second_ms {
            *slice = Slice {
                second_ms,
                left: 0,
                next: self.full_slice(),
                spent: false,
            };
        }
        if slice.left > 0 {
            slice.left -= 1;
            return Ok(());
        }
        if slice.spent {
            return Err(limited());
        }
        let lease = store
            .lease_requests(key, second_ms, self.per_second, slice.next)
            .await
            .map_err(PairingError::from)?;
        let remaining = self.per_second.saturating_sub(lease.used);
        slice.next = (remaining / 4).clamp(1, self.full_slice());
        slice.spent = lease.granted == 0 || remaining == 0;
        if lease.granted == 0 {
            return Err(limited());
        }
        slice.left = lease.granted - 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    /// Concurrent requests of one key in one process share its leases: a burst of twice the
    /// budget gets exactly the budget, none lost to a lease that arrived too late to be used.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_in_one_process_gets_exactly_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let limit = SharedRateLimit::new(20);
        let now = Utc::now();

        let checks = (0..40).map(|_| limit.check(&store, "acme-key", now));
        let passed = futures::future::join_all(checks)
            .await
            .into_iter()
            .filter(Result::is_ok)
            .count();

        assert_eq!(passed, 20);
    }
}
