//! The table's stream as webhook events: which changes of an item are events, and the event
//! each one is. The delivery function ([`crate::webhooks::lambda`]) reads them.
//!
//! - `MODIFY` of a token that gains entity B: `token.paired`, with the record after;
//! - `MODIFY` of a token that gains `deleted_at`: `token.deleted`, with the record before;
//! - `REMOVE` of a pending token by DynamoDB's TTL (the user identity is the DynamoDB service):
//!   `token.expired`, with the record before. TTL deletes within hours to days of expiry, so
//!   this event comes that late (on SQLite, within a second or two);
//! - `INSERT` of a `whtest#` item: `webhook.test`, for its one endpoint.
//!
//! Every other change (a creation, the code, idempotency, guess, rate and webhook items) is
//! none. An event's id derives from the stream record's, so a batch that Lambda retries
//! delivers the same `webhook-id` again, which receivers drop as a duplicate.

use aws_lambda_events::event::dynamodb::EventRecord;
use chrono::DateTime;
use sdk::webhooks::{EventData, EventType};
use sha2::{Digest as _, Sha256};

use super::item::{Item, TokenItem, from_item};
use super::schema::PARTITION_KEY;
use super::webhooks::{TEST_EVENT_PREFIX, TestEventItem};
use crate::domain::TenantId;
use crate::store::StoreError;
use crate::store::webhooks::OutboundEvent;

/// Who gets an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// The tenant's enabled endpoints that subscribe to its type.
    Subscribed,
    /// This endpoint only (a test event).
    Only(String),
}

/// An event read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    /// Whose event it is.
    pub tenant: TenantId,
    /// Who gets it.
    pub recipients: Recipients,
    /// The event.
    pub event: OutboundEvent,
}

/// The event that `record` stands for, if any.
pub fn event_of(record: &EventRecord) -> Result<Option<StreamEvent>, StoreError> {
    let keys: Item = record.change.keys.clone().into();
    let Some(key) = keys.get(PARTITION_KEY).and_then(|v| v.as_s().ok()) else {
        return Ok(None);
    };
    let id = event_id(&record.event_id);
    let at = record.change.approximate_creation_date_time;
    if let Some(test_id) = key.strip_prefix(TEST_EVENT_PREFIX) {
        if record.event_name != "INSERT" {
            return Ok(None);
        }
        let item: TestEventItem = from_item(record.change.new_image.clone().into())?;
        let event = OutboundEvent {
            id: test_id.to_owned(),
            event_type: EventType::WebhookTest,
            at,
            body: item.body,
        };
        return Ok(Some(StreamEvent {
            tenant: tenant(&item.owner)?,
            recipients: Recipients::Only(item.webhook_id),
            event,
        }));
    }
    if key.contains('#') {
        return Ok(None);
    }
    let image = |image: &serde_dynamo::Item| -> Result<Option<TokenItem>, StoreError> {
        let item: Item = image.clone().into();
        if item.is_empty() {
            Ok(None)
        } else {
            from_item(item).map(Some)
        }
    };
    let (old, new) = (
        image(&record.change.old_image)?,
        image(&record.change.new_image)?,
    );
    let (event_type, item, at) = match (record.event_name.as_str(), old, new) {
        ("MODIFY", Some(old), Some(new)) if old.entity_b.is_none() && new.entity_b.is_some() => {
            let at = new
                .paired_at
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or(at);
            (EventType::TokenPaired, new, at)
        }
        ("MODIFY", Some(old), Some(new))
            if old.deleted_at.is_none() && new.deleted_at.is_some() =>
        {
            let at = new
                .deleted_at
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or(at);
            (EventType::TokenDeleted, old, at)
        }
        ("REMOVE", Some(old), _)
            if by_ttl(record) && old.entity_b.is_none() && old.deleted_at.is_none() =>
        {
            let at = DateTime::from_timestamp_millis(old.expires_at).unwrap_or(at);
            (EventType::TokenExpired, old, at)
        }
        _ => return Ok(None),
    };
    let tenant = tenant(&item.tenant)?;
    let record = item.record()?;
    Ok(Some(StreamEvent {
        tenant,
        recipients: Recipients::Subscribed,
        event: OutboundEvent::identified(id, event_type, EventData::about(&record), at),
    }))
}

/// Whether DynamoDB's TTL made the change (not a client).
fn by_ttl(record: &EventRecord) -> bool {
    record
        .user_identity
        .as_ref()
        .is_some_and(|who| who.type_ == "Service" && who.principal_id == "dynamodb.amazonaws.com")
}

fn tenant(name: &str) -> Result<TenantId, StoreError> {
    TenantId::parse(name).map_err(|e| StoreError::backend("reading a stream record", e))
}

/// The event id of the stream record `record_id`: the same on every read of that record.
fn event_id(record_id: &str) -> String {
    let digest = Sha256::digest(record_id.as_bytes());
    format!("evt_{}", &hex::encode(digest)[..32])
}
