//! Webhooks on DynamoDB. Three more kinds of item, absent from every GSI:
//! - `webhooks#TENANT` → `owner`, `endpoints` (the tenant's endpoints with their secrets, as
//!   JSON: a tenant has at most 20), `version` (each change is a conditional `PutItem` on it);
//! - `whtest#EVENT` → `owner`, `webhook_id`, `body`, and a TTL of an hour: a test event,
//!   which reaches the delivery function through the table's stream like every other event;
//! - `whlog#WEBHOOK` → `owner`, `deliveries` (JSON, the 50 most recent, newest first), as the
//!   delivery function last recorded them, and `version` (each write is conditional on it).
//!
//! A token's events need no write of their own: the delivery function reads them from the
//! stream of the table's changes (see [`crate::webhooks::stream`]). So the API has no outbox
//! here ([`WebhookStore::outbox`] is `None`), and the claim calls of the SQLite worker do not
//! apply.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sdk::webhooks::{Delivery, Webhook};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::DynamoStore;
use super::item::{Item, from_item, millis, n, to_item};
use crate::domain::TenantId;
use crate::store::StoreError;
use crate::store::webhooks::{
    DueDelivery, Finished, NextStep, OutboundEvent, StoredWebhook, WebhookChange, WebhookStore,
};

/// How many deliveries `whlog#WEBHOOK` keeps.
const LOG_LENGTH: usize = 50;

/// How many times a change retries when another changed the endpoints meanwhile.
const CHANGE_RETRIES: usize = 5;

/// One endpoint as `endpoints` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EndpointEntry {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
    pub previous_secret: Option<String>,
    /// Since when every attempt has failed, if the last one did.
    pub failing_since: Option<DateTime<Utc>>,
}

impl EndpointEntry {
    fn stored(&self) -> StoredWebhook {
        StoredWebhook {
            webhook: self.webhook.clone(),
            secret: self.secret.clone(),
            previous_secret: self.previous_secret.clone(),
        }
    }
}

/// `webhooks#TENANT`.
#[derive(Debug, Serialize, Deserialize)]
struct EndpointsItem {
    token: String,
    owner: String,
    endpoints: String,
    version: i64,
}

/// `whtest#EVENT`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TestEventItem {
    pub token: String,
    pub owner: String,
    pub webhook_id: String,
    pub body: String,
    pub expires_at_epoch: i64,
}

/// `whlog#WEBHOOK`.
#[derive(Debug, Serialize, Deserialize)]
struct LogItem {
    token: String,
    owner: String,
    deliveries: String,
    /// Each write is a conditional `PutItem` on it (a log written before it counts as 0).
    #[serde(default)]
    version: i64,
}

fn endpoints_key(tenant: &TenantId) -> String {
    format!("webhooks#{}", tenant.as_str())
}

fn log_key(webhook_id: &str) -> String {
    format!("whlog#{webhook_id}")
}

/// The key prefix of test-event items, which the delivery function recognises.
pub(crate) const TEST_EVENT_PREFIX: &str = "whtest#";

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::backend("reading webhook endpoints", e)
}

impl DynamoStore {
    /// The tenant's endpoints and the version they were read at (0: none yet).
    pub(crate) async fn endpoints(
        &self,
        tenant: &TenantId,
    ) -> Result<(Vec<EndpointEntry>, i64), StoreError> {
        let Some(item) = self
            .read_item(endpoints_key(tenant), "reading webhook endpoints")
            .await?
        else {
            return Ok((Vec::new(), 0));
        };
        let item: EndpointsItem = from_item(item)?;
        let entries = serde_json::from_str(&item.endpoints).map_err(json_error)?;
        Ok((entries, item.version))
    }

    /// Applies `change` to the tenant's endpoints, again on a fresh read when another
    /// change came first; returns what `change` returned.
    pub(crate) async fn change_endpoints<R>(
        &self,
        tenant: &TenantId,
        mut change: impl FnMut(&mut Vec<EndpointEntry>) -> Option<R>,
    ) -> Result<Option<R>, StoreError> {
        let context = "changing webhook endpoints";
        for _ in 0..CHANGE_RETRIES {
            let (mut entries, version) = self.endpoints(tenant).await?;
            let Some(result) = change(&mut entries) else {
                return Ok(None);
            };
            let item = to_item(&EndpointsItem {
                token: endpoints_key(tenant),
                owner: tenant.as_str().to_owned(),
                endpoints: serde_json::to_string(&entries).map_err(json_error)?,
                version: version + 1,
            })?;
            if self.put_at_version(item, version, context).await? {
                return Ok(Some(result));
            }
        }
        Err(StoreError::backend(
            context,
            "the endpoints kept changing meanwhile; try again",
        ))
    }

    /// Puts `item` if the stored one is still at `version` (or has none: not written yet, or
    /// before versions); returns whether it did, `false` when another write came first.
    async fn put_at_version(
        &self,
        item: Item,
        version: i64,
        context: &'static str,
    ) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(version) OR version = :read")
            .expression_attribute_values(":read", n(version))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(false)
                } else {
                    Err(StoreError::backend(context, e))
                }
            }
        }
    }

    /// Records `deliveries` (oldest first) as the latest of the endpoint's log: a write
    /// conditional on the version read, so that two writers never drop each other's
    /// entries; again on a fresh read when another wrote first.
    pub(crate) async fn log_deliveries(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
        deliveries: &[Delivery],
    ) -> Result<(), StoreError> {
        let context = "recording webhook deliveries";
        for _ in 0..CHANGE_RETRIES {
            let (mut log, version) = self.delivery_log(tenant, webhook_id).await?;
            for delivery in deliveries {
                log.retain(|d| d.event_id != delivery.event_id);
                log.insert(0, delivery.clone());
            }
            log.truncate(LOG_LENGTH);
            let item = to_item(&LogItem {
                token: log_key(webhook_id),
                owner: tenant.as_str().to_owned(),
                deliveries: serde_json::to_string(&log).map_err(json_error)?,
                version: version + 1,
            })?;
            if self.put_at_version(item, version, context).await? {
                return Ok(());
            }
        }
        Err(StoreError::backend(
            context,
            "the log kept changing meanwhile; try again",
        ))
    }

    /// Keeps the endpoint's run of failures after an attempt: a success ends it, a failure
    /// starts it or, once it has lasted past `finished.disable_if_failing_since`, disables
    /// the endpoint with the reason. Writes only when that changes something.
    pub(crate) async fn note_attempt(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
        finished: &Finished,
    ) -> Result<(), StoreError> {
        let succeeded = finished.next == NextStep::Delivered;
        let limit = finished.disable_if_failing_since;
        let changes = |entry: &EndpointEntry| match entry.failing_since {
            Some(_) if succeeded => true,
            None => !succeeded,
            Some(since) => entry.webhook.enabled && since <= limit,
        };
        let (entries, _) = self.endpoints(tenant).await?;
        if !entries
            .iter()
            .any(|e| e.webhook.id == webhook_id && changes(e))
        {
            return Ok(());
        }
        let at = finished.attempt.at;
        let error = finished.attempt.error.as_deref().unwrap_or("failed");
        self.change_endpoints(tenant, |entries| {
            let entry = entries.iter_mut().find(|e| e.webhook.id == webhook_id)?;
            if succeeded {
                entry.failing_since = None;
                return Some(());
            }
            let since = *entry.failing_since.get_or_insert(at);
            if since <= limit && entry.webhook.enabled {
                entry.webhook.enabled = false;
                entry.webhook.disabled_reason = Some(format!(
                    "every delivery failed from {} to {} (last: {error})",
                    since.format("%Y-%m-%dT%H:%M:%SZ"),
                    at.format("%Y-%m-%dT%H:%M:%SZ"),
                ));
            }
            Some(())
        })
        .await
        .map(drop)
    }

    /// The endpoint's log and the version it was read at (0: none yet).
    async fn delivery_log(
        &self,
        tenant: &TenantId,
        webhook_id: &str,
    ) -> Result<(Vec<Delivery>, i64), StoreError> {
        let Some(item) = self
            .read_item(log_key(webhook_id), "reading webhook deliveries")
            .await?
        else {
            return Ok((Vec::new(), 0));
        };
        let item: LogItem = from_item(item)?;
        if item.owner != tenant.as_str() {
            return Ok((Vec::new(), item.version));
        }
        let log = serde_json::from_str(&item.deliveries).map_err(json_error)?;
        Ok((log, item.version))
    }
}

#[async_trait]
impl WebhookStore for DynamoStore {
    fn outbox(&self) -> Option<Arc<Notify>> {
        None
    }

    async fn create_webhook(
        &self,
        tenant: &TenantId,
        webhook: &StoredWebhook,
    ) -> Result<(), StoreError> {
        let entry = EndpointEntry {
            webhook: webhook.webhook.clone(),
            secret: webhook.secret.clone(),
            previous_secret: webhook.previous_secret.clone(),
            failing_since: None,
        };
        self.change_endpoints(tenant, |entries| {
            entries.push(entry.clone());
            Some(())
        })
        .await
        .map(drop)
    }

    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<StoredWebhook>, StoreError> {
        let (entries, _) = self.endpoints(tenant).await?;
        Ok(entries.iter().map(EndpointEntry::stored).collect())
    }

    async fn webhook(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<StoredWebhook>, StoreError> {
        let (entries, _) = self.endpoints(tenant).await?;
        Ok(entries
            .iter()
            .find(|e| e.webhook.id == id)
            .map(EndpointEntry::stored))
    }

    async fn update_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        change: &WebhookChange,
    ) -> Result<Option<StoredWebhook>, StoreError> {
        self.change_endpoints(tenant, |entries| {
            let entry = entries.iter_mut().find(|e| e.webhook.id == id)?;
            if let Some(enabled) = change.enabled {
                entry.webhook.enabled = enabled;
                if enabled {
                    entry.webhook.disabled_reason = None;
                    entry.failing_since = None;
                }
            }
            if let Some(events) = &change.events {
                entry.webhook.events.clone_from(events);
            }
            if let Some(description) = &change.description {
                entry.webhook.description.clone_from(description);
            }
            if let Some((secret, until)) = &change.rotate {
                entry.previous_secret = Some(std::mem::replace(&mut entry.secret, secret.clone()));
                entry.webhook.previous_secret_until = Some(*until);
            }
            Some(entry.stored())
        })
        .await
    }

    async fn delete_webhook(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
        // Deliveries on their way (stream records and retries) find the endpoint gone and stop.
        let deleted = self
            .change_endpoints(tenant, |entries| {
                let before = entries.len();
                entries.retain(|e| e.webhook.id != id);
                (entries.len() < before).then_some(())
            })
            .await?;
        Ok(deleted.is_some())
    }

    async fn enqueue_for(
        &self,
        tenant: &TenantId,
        id: &str,
        event: &OutboundEvent,
    ) -> Result<bool, StoreError> {
        if self.webhook(tenant, id).await?.is_none() {
            return Ok(false);
        }
        let item = to_item(&TestEventItem {
            token: format!("{TEST_EVENT_PREFIX}{}", event.id),
            owner: tenant.as_str().to_owned(),
            webhook_id: id.to_owned(),
            body: event.body.clone(),
            expires_at_epoch: millis(event.at) / 1000 + 3600,
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::backend("queueing a test event", e.into_service_error()))?;
        Ok(true)
    }

    async fn deliveries(
        &self,
        tenant: &TenantId,
        id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (mut log, _) = self.delivery_log(tenant, id).await?;
        log.truncate(limit);
        Ok(log)
    }

    async fn claim_deliveries(
        &self,
        _now: DateTime<Utc>,
        _lease: chrono::Duration,
        _limit: usize,
        _per_endpoint: usize,
        _in_flight: &HashMap<String, usize>,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        Ok(Vec::new())
    }

    async fn finish_delivery(&self, _id: i64, _finished: &Finished) -> Result<(), StoreError> {
        Ok(())
    }

    async fn announce_expired(&self, _now: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(0)
    }
}
