//! The long-polls of one process: each waits at most [`LongPolls::max_wait`], and a
//! tenant (the keys of one tenant together) holds at most its `per_tenant` at
//! once; one more is `429` with `Retry-After`. A wait holds a connection here, and under
//! Lambda a whole instance billed for every second of it (see the README).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::TenantId;
use crate::error::ApiError;

/// The longest wait by default; under Lambda, where a wait is billed, [`MAX_WAIT_ON_LAMBDA`].
pub const MAX_WAIT: Duration = Duration::from_secs(25);

/// The longest wait by default under Lambda.
pub const MAX_WAIT_ON_LAMBDA: Duration = Duration::from_secs(10);

/// How many long-polls one tenant may hold at once by default.
pub const PER_TENANT: usize = 16;

/// The process's long-polls.
#[derive(Debug)]
pub struct LongPolls {
    max_wait: Duration,
    per_tenant: usize,
    waiting: Mutex<HashMap<TenantId, usize>>,
}

impl Default for LongPolls {
    fn default() -> Self {
        Self::new(MAX_WAIT, PER_TENANT)
    }
}

impl LongPolls {
    /// Waits of at most `max_wait`, at most `per_tenant` at once for one tenant.
    pub fn new(max_wait: Duration, per_tenant: usize) -> Self {
        Self {
            max_wait,
            per_tenant: per_tenant.max(1),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// The longest a wait lasts; a request for longer waits this long.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// Counts one more wait of `tenant` until the returned guard drops; `429` when the
    /// tenant holds its limit already.
    pub fn begin(&self, tenant: &TenantId) -> Result<Waiting<'_>, ApiError> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let held = waiting.entry(tenant.clone()).or_default();
        if *held >= self.per_tenant {
            return Err(ApiError::RateLimited {
                retry_after: Duration::from_secs(1),
            });
        }
        *held += 1;
        Ok(Waiting {
            polls: self,
            tenant: tenant.clone(),
        })
    }
}

/// One wait in progress; it ends when this drops.
pub struct Waiting<'a> {
    polls: &'a LongPolls,
    tenant: TenantId,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waiting = self.polls.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = waiting.get_mut(&self.tenant) {
            *held -= 1;
            if *held == 0 {
                waiting.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_holds_at_most_its_limit_and_a_finished_wait_frees_its_place() {
        let polls = LongPolls::new(MAX_WAIT, 2);
        let (acme, other) = (TenantId::local(), TenantId::parse("other").unwrap());

        let first = polls.begin(&acme).unwrap();
        let _second = polls.begin(&acme).unwrap();
        let third = polls.begin(&acme);
        let elsewhere = polls.begin(&other);
        drop(first);
        let after = polls.begin(&acme);

        assert!(matches!(third, Err(ApiError::RateLimited { .. })));
        assert!(elsewhere.is_ok(), "another tenant has its own limit");
        assert!(after.is_ok());
    }
}
