//! The delivery worker: takes due deliveries from the store's outbox, sends each signed to
//! its endpoint with a timeout, and records what happened and what follows (done, a retry
//! later, given up, gone).
//!
//! Isolation: at most [`IN_FLIGHT`] sends at once, and at most [`PER_ENDPOINT`] of them to
//! one endpoint, so a slow or dead endpoint holds a few slots for its timeout while every
//! other endpoint's events go on. The API's requests never wait for a delivery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use tokio::sync::{Notify, Semaphore};

use super::WebhookPolicy;
use super::address::{self, Resolver};
use crate::clock::Clock;
use crate::store::Store;
use crate::store::webhooks::{Attempt, DueDelivery, Finished};

/// The most deliveries sent at once by one process.
pub const IN_FLIGHT: usize = 64;

/// The most deliveries sent at once to one endpoint.
pub const PER_ENDPOINT: usize = 4;

/// How much longer than an attempt's timeout a claimed delivery is held for this process:
/// past that (the process died mid-attempt), any worker takes it again.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// How often the outbox is looked at when nothing signals new events (other processes on
/// the same file, retries coming due).
const POLL: Duration = Duration::from_millis(250);

/// How often pending tokens whose window ended are looked for (`token.expired`).
const EXPIRY_SWEEP: Duration = Duration::from_secs(1);

/// The most of an endpoint's answer kept as the attempt's error text.
const ERROR_TEXT_CHARS: usize = 200;

/// The worker, on a store with an outbox.
pub struct Worker {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    signal: Arc<Notify>,
    policy: WebhookPolicy,
    http: reqwest::Client,
    slots: Arc<Semaphore>,
    /// Sends in flight per endpoint.
    busy: Arc<Mutex<HashMap<String, usize>>>,
}

impl Worker {
    /// A worker on `store`, or `None` when the store has no outbox (DynamoDB, whose stream
    /// feeds the delivery function instead).
    pub fn new(
        store: Arc<dyn Store>,
        policy: WebhookPolicy,
        clock: Arc<dyn Clock>,
    ) -> Option<Self> {
        let signal = store.outbox()?;
        let http = client(&policy);
        Some(Self {
            store,
            clock,
            signal,
            policy,
            http,
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
            busy: Arc::default(),
        })
    }

    /// Delivers until the process ends.
    pub async fn run(self) {
        let mut last_sweep = Instant::now();
        loop {
            if last_sweep.elapsed() >= EXPIRY_SWEEP {
                last_sweep = Instant::now();
                if let Err(e) = self.store.announce_expired(self.clock.now()).await {
                    tracing::warn!(error = %e, "could not look for expired tokens");
                }
            }
            let claimed = self.claim().await;
            if claimed == 0 {
                // Woken by a new event or a finished send, or after a while for retries
                // and other processes.
                let _ = tokio::time::timeout(POLL, self.signal.notified()).await;
            }
        }
    }

    /// Claims what is due (as many as there are free slots) and starts sending it; how
    /// many it started.
    async fn claim(&self) -> usize {
        let free = self.slots.available_permits();
        if free == 0 {
            return 0;
        }
        let in_flight = self.busy.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let lease = chrono::Duration::from_std(self.policy.timeout + LEASE_MARGIN)
            .unwrap_or(chrono::Duration::MAX);
        let due = match self
            .store
            .claim_deliveries(self.clock.now(), lease, free, PER_ENDPOINT, &in_flight)
            .await
        {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim webhook deliveries");
                tokio::time::sleep(POLL).await;
                return 0;
            }
        };
        let started = due.len();
        for delivery in due {
            let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
                break;
            };
            *self
                .busy
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(delivery.webhook_id.clone())
                .or_default() += 1;
            let (store, http, policy, busy, clock, signal) = (
                Arc::clone(&self.store),
                self.http.clone(),
                self.policy.clone(),
                Arc::clone(&self.busy),
                Arc::clone(&self.clock),
                Arc::clone(&self.signal),
            );
            tokio::spawn(async move {
                let finished = send(&http, &policy, &delivery, clock.as_ref()).await;
                // The endpoint is done with this one: it may get its next while this
                // outcome is recorded (the claim's hold keeps it from being sent again).
                {
                    let mut busy = busy.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(n) = busy.get_mut(&delivery.webhook_id) {
                        *n -= 1;
                        if *n == 0 {
                            busy.remove(&delivery.webhook_id);
                        }
                    }
                }
                signal.notify_one();
                if let Err(e) = store.finish_delivery(delivery.id, &finished).await {
                    // The hold runs out and the delivery is sent again: at least once.
                    tracing::warn!(error = %e, "could not record a webhook delivery");
                }
                drop(slot);
                signal.notify_one();
            });
        }
        started
    }
}

/// The HTTP client of deliveries: the policy's timeout, no redirects (a `3xx` is a
/// failure: the endpoint is the URL registered), and the checking resolver.
pub fn client(policy: &WebhookPolicy) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Resolver {
            allow_private: policy.allow_private_addresses,
        }))
        .build()
        .expect("the delivery client builds")
}

/// Sends one delivery and says how it went and what follows.
pub async fn send(
    http: &reqwest::Client,
    policy: &WebhookPolicy,
    delivery: &DueDelivery,
    clock: &dyn Clock,
) -> Finished {
    let at = clock.now();
    let started = Instant::now();
    // The signature's timestamp is the real time: receivers check it against their clock.
    let result = attempt(http, policy, delivery, chrono::Utc::now().timestamp()).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let (response_code, error) = match result {
        Ok((status, _)) if (200..300).contains(&status) => (Some(status), None),
        Ok((status, body)) => (Some(status), Some(format!("HTTP {status}: {body}"))),
        Err(error) => (None, Some(error)),
    };
    let attempts = delivery.attempts + 1;
    let next = policy.next_step(attempts, response_code, at);
    tracing::debug!(
        event = %delivery.event.id, webhook = %delivery.webhook_id, ?response_code, ?next,
        "webhook attempt"
    );
    Finished {
        attempt: Attempt {
            at,
            response_code,
            duration_ms,
            error,
        },
        next,
        disable_if_failing_since: at
            - chrono::Duration::from_std(policy.disable_after).unwrap_or(chrono::Duration::MAX),
    }
}

/// One POST: the endpoint's status and the start of its answer, or why there was none.
async fn attempt(
    http: &reqwest::Client,
    policy: &WebhookPolicy,
    delivery: &DueDelivery,
    timestamp: i64,
) -> Result<(u16, String), String> {
    let url = policy.check_url_at_delivery(&delivery.url)?;
    let body = delivery.event.body.as_bytes();
    let mut signatures = Vec::with_capacity(delivery.secrets.len());
    for secret in &delivery.secrets {
        signatures.push(
            sdk::webhooks::sign(secret, &delivery.event.id, timestamp, body)
                .map_err(|e| e.to_string())?,
        );
    }
    let mut headers = HeaderMap::new();
    let value = |text: &str| HeaderValue::from_str(text).map_err(|e| e.to_string());
    headers.insert("webhook-id", value(&delivery.event.id)?);
    headers.insert("webhook-timestamp", timestamp.into());
    headers.insert("webhook-signature", value(&signatures.join(" "))?);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("Tandem-Webhooks/", env!("CARGO_PKG_VERSION"))),
    );
    let response = http
        .post(url)
        .headers(headers)
        .body(delivery.event.body.clone())
        .send()
        .await
        .map_err(describe)?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Ok((status, text.chars().take(ERROR_TEXT_CHARS).collect()))
}

impl WebhookPolicy {
    /// The registered URL, checked again as it is about to be used (an address literal
    /// against the address rules, which may have changed since registration).
    fn check_url_at_delivery(&self, raw: &str) -> Result<url::Url, String> {
        let url = url::Url::parse(raw).map_err(|e| e.to_string())?;
        if let Some(ip) = url.host().as_ref().and_then(address::literal) {
            address::check(ip, self.allow_private_addresses)?;
        }
        Ok(url)
    }
}

/// Why a send failed, in a line the tenant can act on.
fn describe(error: reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
