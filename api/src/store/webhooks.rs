//! What a store keeps for webhooks: each tenant's endpoints with their signing secrets, and
//! (where Tandem delivers itself, on SQLite) the outbox of deliveries.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sdk::TokenRecord;
use sdk::webhooks::{Delivery, Event, EventData, EventType, Webhook};
use tokio::sync::Notify;

use super::StoreError;
use crate::domain::TenantId;

/// An endpoint as the store keeps it: what the tenant sees, and the secrets that sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWebhook {
    /// The endpoint as the API shows it.
    pub webhook: Webhook,
    /// The current signing secret (`whsec_…`).
    pub secret: String,
    /// The secret before the last rotation, which signs too until
    /// `webhook.previous_secret_until`.
    pub previous_secret: Option<String>,
}

impl StoredWebhook {
    /// The secrets that sign a delivery at `now`: the current one, and the previous one
    /// while its grace period lasts.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let previous = self
            .previous_secret
            .as_deref()
            .filter(|_| self.webhook.previous_secret_until.is_some_and(|t| t > now));
        std::iter::once(self.secret.as_str())
            .chain(previous)
            .collect()
    }
}

/// A change to an endpoint: what is `None` stays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChange {
    /// Enable (clearing why it was disabled) or disable it.
    pub enabled: Option<bool>,
    /// The events it gets.
    pub events: Option<Vec<EventType>>,
    /// Its note (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// A new secret, with until when the current one keeps signing beside it.
    pub rotate: Option<(String, DateTime<Utc>)>,
}

/// An event as the outbox keeps it until it is delivered: its id, type and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundEvent {
    /// The event's id (`evt_…`), sent as `webhook-id`.
    pub id: String,
    /// What happened.
    pub event_type: EventType,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The JSON body of every delivery of it.
    pub body: String,
}

impl OutboundEvent {
    /// The event `event_type` about `record` at `at`, with a fresh id.
    pub fn about_token(event_type: EventType, record: &TokenRecord, at: DateTime<Utc>) -> Self {
        Self::new(event_type, EventData::about(record), at)
    }

    /// A new event with a fresh id.
    pub fn new(event_type: EventType, data: EventData, at: DateTime<Utc>) -> Self {
        let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        Self::identified(id, event_type, data, at)
    }

    /// The event `id`.
    pub fn identified(
        id: String,
        event_type: EventType,
        data: EventData,
        at: DateTime<Utc>,
    ) -> Self {
        let event = Event {
            id,
            event_type,
            timestamp: at,
            data,
        };
        let body = serde_json::to_string(&event).expect("an event serializes");
        Self {
            id: event.id,
            event_type,
            at,
            body,
        }
    }
}

/// A delivery that is due, as [`WebhookStore::claim_deliveries`] hands it to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// The outbox row.
    pub id: i64,
    /// The endpoint it goes to.
    pub webhook_id: String,
    /// Where to send it.
    pub url: String,
    /// The secrets to sign it with.
    pub secrets: Vec<String>,
    /// The event.
    pub event: OutboundEvent,
    /// How many attempts were made before this one.
    pub attempts: u32,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The endpoint's HTTP status, if it answered.
    pub response_code: Option<u16>,
    /// How long it took.
    pub duration_ms: u64,
    /// Why it failed, if it did (a non-2xx status, a timeout, a refused address).
    pub error: Option<String>,
}

/// What to do after an attempt, as the delivery policy decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// The endpoint took it.
    Delivered,
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Stop: every attempt failed.
    GiveUp,
    /// Stop for good: the endpoint answered `410 Gone`.
    Gone,
}

/// An attempt's outcome with what follows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// How the attempt went.
    pub attempt: Attempt,
    /// What happens next to the delivery.
    pub next: NextStep,
    /// Disable the endpoint if every attempt on it has failed since before this time (a
    /// success clears the record of failures).
    pub disable_if_failing_since: DateTime<Utc>,
}

/// Webhook endpoints and their deliveries. Every method sees only the given tenant's
/// endpoints, except the worker's ([`WebhookStore::claim_deliveries`],
/// [`WebhookStore::finish_delivery`], [`WebhookStore::announce_expired`]), which serve
/// every tenant.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// When Tandem's own delivery worker sends this store's events (SQLite's outbox): the
    /// signal that new ones were queued. `None` on DynamoDB, whose stream feeds the
    /// delivery function instead.
    fn outbox(&self) -> Option<Arc<Notify>>;

    /// Registers an endpoint.
    async fn create_webhook(
        &self,
        tenant: &TenantId,
        webhook: &StoredWebhook,
    ) -> Result<(), StoreError>;

    /// The tenant's endpoints, oldest first.
    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<StoredWebhook>, StoreError>;

    /// One endpoint of the tenant.
    async fn webhook(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<StoredWebhook>, StoreError>;

    /// Changes an endpoint and returns it as it is now.
    async fn update_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        change: &WebhookChange,
    ) -> Result<Option<StoredWebhook>, StoreError>;

    /// Removes an endpoint and its pending deliveries; whether it existed.
    async fn delete_webhook(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError>;

    /// Queues `event` for the one endpoint `id` (the test event); whether it exists.
    async fn enqueue_for(
        &self,
        tenant: &TenantId,
        id: &str,
        event: &OutboundEvent,
    ) -> Result<bool, StoreError>;

    /// The endpoint's most recent deliveries, newest first.
    async fn deliveries(
        &self,
        tenant: &TenantId,
        id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Takes up to `limit` deliveries that are due at `now` to enabled endpoints, oldest
    /// first, and holds them for `lease`: a worker that dies meanwhile leaves them to be
    /// taken again after it. An endpoint gets at most `per_endpoint` less the sends already
    /// `in_flight` to it (by endpoint id).
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: usize,
        per_endpoint: usize,
        in_flight: &HashMap<String, usize>,
    ) -> Result<Vec<DueDelivery>, StoreError>;

    /// Records an attempt on a claimed delivery and what follows.
    async fn finish_delivery(&self, id: i64, finished: &Finished) -> Result<(), StoreError>;

    /// Queues `token.expired` for every pending record whose window ended since the last
    /// call and up to `now`, to its tenant's subscribed endpoints; how many events.
    async fn announce_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError>;
}
