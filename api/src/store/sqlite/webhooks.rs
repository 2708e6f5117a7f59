//! Webhooks as SQL: the endpoints, and the outbox of deliveries that a pairing or a
//! deletion writes in its own transaction (so an acknowledged change always has its event,
//! even after `kill -9`), which the delivery worker claims and finishes.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sdk::TokenRecord;
use sdk::webhooks::{Delivery, DeliveryStatus, EventType, Webhook};
use tokio::sync::Notify;

use super::SqliteStore;
use super::rows::{columns, millis, record_from_row, time};
use crate::domain::TenantId;
use crate::store::StoreError;
use crate::store::webhooks::{
    DueDelivery, Finished, NextStep, OutboundEvent, StoredWebhook, WebhookChange, WebhookStore,
};

/// The columns [`webhook_from_row`] reads, in order. (Macros, so that each statement's SQL
/// is one string fixed at compile time, not formatted again at every call.)
macro_rules! webhook_columns {
    () => {
        "id, url, events, description, enabled, disabled_reason, created_at, \
         previous_secret_until, secret, previous_secret"
    };
}

/// The condition that the endpoint `webhooks` row gets events of type `?2`.
macro_rules! subscribed {
    () => {
        "instr(' ' || events || ' ', ' ' || ?2 || ' ') > 0"
    };
}

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<StoredWebhook> {
    let events: String = row.get(2)?;
    Ok(StoredWebhook {
        webhook: Webhook {
            id: row.get(0)?,
            url: row.get(1)?,
            events: events.split(' ').filter_map(EventType::parse).collect(),
            description: row.get(3)?,
            enabled: row.get(4)?,
            disabled_reason: row.get(5)?,
            created_at: time(row, 6)?.unwrap_or_default(),
            previous_secret_until: time(row, 7)?,
        },
        secret: row.get(8)?,
        previous_secret: row.get(9)?,
    })
}

fn event_names(events: &[EventType]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn create(
    conn: &Connection,
    tenant: &str,
    stored: &StoredWebhook,
) -> rusqlite::Result<()> {
    let w = &stored.webhook;
    conn.prepare_cached(
        "INSERT INTO webhooks (id, tenant, url, events, description, enabled, secret, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        w.id,
        tenant,
        w.url,
        event_names(&w.events),
        w.description,
        w.enabled,
        stored.secret,
        millis(w.created_at)
    ])?;
    Ok(())
}

pub(super) fn list(conn: &Connection, tenant: &str) -> rusqlite::Result<Vec<StoredWebhook>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        webhook_columns!(),
        " FROM webhooks WHERE tenant = ?1 ORDER BY created_at, id"
    ))?
    .query_map(params![tenant], webhook_from_row)?
    .collect()
}

pub(super) fn get(
    conn: &Connection,
    tenant: &str,
    id: &str,
) -> rusqlite::Result<Option<StoredWebhook>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        webhook_columns!(),
        " FROM webhooks WHERE id = ?1 AND tenant = ?2"
    ))?
    .query_row(params![id, tenant], webhook_from_row)
    .optional()
}

pub(super) fn update(
    conn: &Connection,
    tenant: &str,
    id: &str,
    change: &WebhookChange,
) -> rusqlite::Result<Option<StoredWebhook>> {
    if get(conn, tenant, id)?.is_none() {
        return Ok(None);
    }
    if let Some(enabled) = change.enabled {
        conn.prepare_cached(
            "UPDATE webhooks SET enabled = ?3,
                 disabled_reason = CASE WHEN ?3 THEN NULL ELSE disabled_reason END,
                 failing_since = CASE WHEN ?3 THEN NULL ELSE failing_since END
             WHERE id = ?1 AND tenant = ?2",
        )?
        .execute(params![id, tenant, enabled])?;
    }
    if let Some(events) = &change.events {
        conn.prepare_cached("UPDATE webhooks SET events = ?3 WHERE id = ?1 AND tenant = ?2")?
            .execute(params![id, tenant, event_names(events)])?;
    }
    if let Some(description) = &change.description {
        conn.prepare_cached("UPDATE webhooks SET description = ?3 WHERE id = ?1 AND tenant = ?2")?
            .execute(params![id, tenant, description])?;
    }
    if let Some((secret, until)) = &change.rotate {
        conn.prepare_cached(
            "UPDATE webhooks SET previous_secret = secret, previous_secret_until = ?4, secret = ?3
             WHERE id = ?1 AND tenant = ?2",
        )?
        .execute(params![id, tenant, secret, millis(*until)])?;
    }
    get(conn, tenant, id)
}

pub(super) fn delete(conn: &Connection, tenant: &str, id: &str) -> rusqlite::Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM webhooks WHERE id = ?1 AND tenant = ?2")?
        .execute(params![id, tenant])?;
    if deleted > 0 {
        conn.prepare_cached("DELETE FROM webhook_deliveries WHERE webhook_id = ?1")?
            .execute(params![id])?;
    }
    Ok(deleted > 0)
}

/// Queues `event` for every enabled endpoint of `tenant` that subscribes to its type.
/// Costs one indexed lookup when the tenant has no endpoints.
pub(super) fn enqueue(
    conn: &Connection,
    tenant: &str,
    event: &OutboundEvent,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(concat!(
        "INSERT INTO webhook_deliveries
             (webhook_id, event_id, event_type, body, created_at, status, next_at)
         SELECT id, ?3, ?2, ?4, ?5, 'pending', ?5 FROM webhooks
         WHERE tenant = ?1 AND enabled AND ",
        subscribed!()
    ))?
    .execute(params![
        tenant,
        event.event_type.as_str(),
        event.id,
        event.body,
        millis(event.at)
    ])
}

/// Whether `tenant` has an enabled endpoint for `event_type` (so that an event is worth
/// building at all).
pub(super) fn subscribed(
    conn: &Connection,
    tenant: &str,
    event_type: EventType,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(concat!(
        "SELECT EXISTS (SELECT 1 FROM webhooks WHERE tenant = ?1 AND enabled AND ",
        subscribed!(),
        ")"
    ))?
    .query_row(params![tenant, event_type.as_str()], |row| row.get(0))
}

/// Queues `event_type` about `record` for the tenant's subscribed endpoints, if it has any;
/// whether it queued a delivery (so that the delivery worker need be woken).
pub(super) fn announce(
    conn: &Connection,
    tenant: &str,
    event_type: EventType,
    record: &TokenRecord,
    now: i64,
) -> rusqlite::Result<bool> {
    if !subscribed(conn, tenant, event_type)? {
        return Ok(false);
    }
    let at = DateTime::from_timestamp_millis(now).unwrap_or_default();
    let queued = enqueue(
        conn,
        tenant,
        &OutboundEvent::about_token(event_type, record, at),
    )?;
    Ok(queued > 0)
}

/// Queues `event` for the endpoint `id` of `tenant` alone; whether it exists.
pub(super) fn enqueue_for(
    conn: &Connection,
    tenant: &str,
    id: &str,
    event: &OutboundEvent,
) -> rusqlite::Result<bool> {
    let queued = conn
        .prepare_cached(
            "INSERT INTO webhook_deliveries
                 (webhook_id, event_id, event_type, body, created_at, status, next_at)
             SELECT id, ?3, ?4, ?5, ?6, 'pending', ?6 FROM webhooks WHERE id = ?2 AND tenant = ?1",
        )?
        .execute(params![
            tenant,
            id,
            event.id,
            event.event_type.as_str(),
            event.body,
            millis(event.at)
        ])?;
    Ok(queued > 0)
}

pub(super) fn deliveries(
    conn: &Connection,
    tenant: &str,
    id: &str,
    limit: usize,
) -> rusqlite::Result<Vec<Delivery>> {
    conn.prepare_cached(
        "SELECT d.event_id, d.event_type, d.status, d.attempts, d.response_code, d.duration_ms,
                d.error, d.created_at, d.last_attempt_at, d.next_at
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.webhook_id = ?1 AND w.tenant = ?2
         ORDER BY d.id DESC LIMIT ?3",
    )?
    .query_map(params![id, tenant, limit as i64], |row| {
        let event_type: String = row.get(1)?;
        let status: String = row.get(2)?;
        let status = match status.as_str() {
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            "gone" => DeliveryStatus::Gone,
            _ => DeliveryStatus::Pending,
        };
        Ok(Delivery {
            event_id: row.get(0)?,
            event_type: EventType::parse(&event_type).unwrap_or(EventType::WebhookTest),
            status,
            attempts: row.get(3)?,
            response_code: row.get(4)?,
            duration_ms: row.get::<_, Option<i64>>(5)?.map(|ms| ms.max(0) as u64),
            error: row.get(6)?,
            created_at: time(row, 7)?.unwrap_or_default(),
            last_attempt_at: time(row, 8)?,
            next_attempt_at: time(row, 9)?.filter(|_| status == DeliveryStatus::Pending),
        })
    })?
    .collect()
}

/// The enabled endpoints that have a delivery due at `now`, with how many each may take
/// (`per_endpoint` less those `in_flight`), the longest-waiting first.
pub(super) fn due_endpoints(
    conn: &Connection,
    now: i64,
    per_endpoint: usize,
    in_flight: &HashMap<String, usize>,
) -> rusqlite::Result<Vec<(String, usize)>> {
    // One seek per endpoint into the due index: its first entry is its oldest.
    let mut due: Vec<(String, i64)> = conn
        .prepare_cached(
            "SELECT id, (SELECT min(next_at) FROM webhook_deliveries
                         WHERE webhook_id = webhooks.id AND status = 'pending') AS due
             FROM webhooks WHERE enabled",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get::<_, Option<i64>>(1)?)))?
        .filter_map(|row| match row {
            Ok((id, Some(due))) if due <= now => Some(Ok((id, due))),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<rusqlite::Result<_>>()?;
    due.sort_by_key(|(_, at)| *at);
    Ok(due
        .into_iter()
        .filter_map(|(id, _)| {
            let room = per_endpoint.saturating_sub(in_flight.get(&id).copied().unwrap_or(0));
            (room > 0).then_some((id, room))
        })
        .collect())
}

/// Takes the due deliveries of `endpoints` (each with how many it may take), at most
/// `limit` in all (see [`crate::store::WebhookStore::claim_deliveries`]).
pub(super) fn claim(
    conn: &Connection,
    now: i64,
    lease_ms: i64,
    limit: usize,
    endpoints: &[(String, usize)],
) -> rusqlite::Result<Vec<DueDelivery>> {
    let mut select = conn.prepare_cached(
        "SELECT d.id, d.webhook_id, w.url, w.secret, w.previous_secret, w.previous_secret_until,
                d.event_id, d.event_type, d.body, d.created_at, d.attempts
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.webhook_id = ?1 AND d.status = 'pending' AND d.next_at <= ?2 AND w.enabled
         ORDER BY d.next_at LIMIT ?3",
    )?;
    let mut hold =
        conn.prepare_cached("UPDATE webhook_deliveries SET next_at = ?2 WHERE id = ?1")?;
    let mut claimed = Vec::new();
    for (webhook_id, room) in endpoints {
        let room = (*room).min(limit - claimed.len());
        if room == 0 {
            break;
        }
        let due: Vec<(DueDelivery, Option<String>, Option<i64>)> = select
            .query_map(params![webhook_id, now, room as i64], |row| {
                let event_type: String = row.get(7)?;
                Ok((
                    DueDelivery {
                        id: row.get(0)?,
                        webhook_id: row.get(1)?,
                        url: row.get(2)?,
                        secrets: vec![row.get(3)?],
                        event: OutboundEvent {
                            id: row.get(6)?,
                            event_type: EventType::parse(&event_type)
                                .unwrap_or(EventType::WebhookTest),
                            at: time(row, 9)?.unwrap_or_default(),
                            body: row.get(8)?,
                        },
                        attempts: row.get(10)?,
                    },
                    row.get(4)?,
                    row.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (mut delivery, previous, until) in due {
            hold.execute(params![delivery.id, now + lease_ms])?;
            if let (Some(previous), Some(until)) = (previous, until)
                && until > now
            {
                delivery.secrets.push(previous);
            }
            claimed.push(delivery);
        }
    }
    Ok(claimed)
}

/// Records an attempt on delivery `id`, and its endpoint's run of failures.
pub(super) fn finish(conn: &Connection, id: i64, finished: &Finished) -> rusqlite::Result<()> {
    let (status, next_at) = match finished.next {
        NextStep::Delivered => ("delivered", None),
        NextStep::RetryAt(at) => ("pending", Some(millis(at))),
        NextStep::GiveUp => ("failed", None),
        NextStep::Gone => ("gone", None),
    };
    let a = &finished.attempt;
    let webhook_id: Option<String> = conn
        .prepare_cached(
            "UPDATE webhook_deliveries
             SET status = ?2, next_at = ?3, attempts = attempts + 1, last_attempt_at = ?4,
                 response_code = ?5, duration_ms = ?6, error = ?7
             WHERE id = ?1 RETURNING webhook_id",
        )?
        .query_row(
            params![
                id,
                status,
                next_at,
                millis(a.at),
                a.response_code,
                a.duration_ms as i64,
                a.error
            ],
            |row| row.get(0),
        )
        .optional()?;
    let Some(webhook_id) = webhook_id else {
        // The endpoint was deleted meanwhile, and its deliveries with it.
        return Ok(());
    };
    if finished.next == NextStep::Delivered {
        conn.prepare_cached("UPDATE webhooks SET failing_since = NULL WHERE id = ?1")?
            .execute(params![webhook_id])?;
        return Ok(());
    }
    conn.prepare_cached(
        "UPDATE webhooks SET failing_since = coalesce(failing_since, ?2) WHERE id = ?1",
    )?
    .execute(params![webhook_id, millis(a.at)])?;
    conn.prepare_cached(
        "UPDATE webhooks
         SET enabled = 0,
             disabled_reason = 'every delivery failed from ' ||
                 strftime('%Y-%m-%dT%H:%M:%SZ', failing_since / 1000, 'unixepoch') ||
                 ' to ' || strftime('%Y-%m-%dT%H:%M:%SZ', ?3 / 1000, 'unixepoch') ||
                 ' (last: ' || ?4 || ')'
         WHERE id = ?1 AND enabled AND failing_since <= ?2",
    )?
    .execute(params![
        webhook_id,
        millis(finished.disable_if_failing_since),
        millis(a.at),
        a.error.as_deref().unwrap_or("failed")
    ])?;
    Ok(())
}

/// Whether [`announce_expired`] has anything to do at `now`: a tenant has an enabled
/// endpoint, and the sweep has not started yet or a pending record's window ended since.
pub(super) fn expiry_due(conn: &Connection, now: i64) -> rusqlite::Result<bool> {
    let any: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM webhooks WHERE enabled)")?
        .query_row([], |row| row.get(0))?;
    if !any {
        return Ok(false);
    }
    let from: Option<i64> = conn
        .prepare_cached("SELECT expired_until FROM webhook_sweep WHERE id = 1")?
        .query_row([], |row| row.get(0))
        .optional()?;
    let Some(from) = from else {
        return Ok(true);
    };
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM tokens
             WHERE expires_at > ?1 AND expires_at <= ?2
               AND entity_b IS NULL AND deleted_at IS NULL
               AND tenant IN (SELECT tenant FROM webhooks WHERE enabled))",
    )?
    .query_row(params![from, now], |row| row.get(0))
}

/// Queues `token.expired` for the pending records whose window ended after the last sweep
/// and up to `now`, for tenants with a subscribed endpoint; returns how many.
pub(super) fn announce_expired(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    let from: Option<i64> = conn
        .prepare_cached("SELECT expired_until FROM webhook_sweep WHERE id = 1")?
        .query_row([], |row| row.get(0))
        .optional()?;
    conn.prepare_cached(
        "INSERT INTO webhook_sweep (id, expired_until) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET expired_until = ?1",
    )?
    .execute(params![now])?;
    // The first sweep of a file starts now: what expired before had nobody to tell.
    let Some(from) = from.filter(|&from| from < now) else {
        return Ok(0);
    };
    let expired: Vec<(String, TokenRecord)> = conn
        .prepare_cached(concat!(
            "SELECT ",
            columns!(),
            ", tenant FROM tokens
             WHERE expires_at > ?1 AND expires_at <= ?2
               AND entity_b IS NULL AND deleted_at IS NULL
               AND tenant IN (SELECT tenant FROM webhooks WHERE enabled)"
        ))?
        .query_map(params![from, now], |row| {
            Ok((row.get(8)?, record_from_row(row)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (tenant, record) in &expired {
        let at = record.expires_at.unwrap_or_default();
        if subscribed(conn, tenant, EventType::TokenExpired)? {
            enqueue(
                conn,
                tenant,
                &OutboundEvent::about_token(EventType::TokenExpired, record, at),
            )?;
        }
    }
    Ok(expired.len())
}

/// Deletes finished deliveries older than `before` (kept that long for the tenant to see).
pub(super) fn purge(conn: &Connection, before: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM webhook_deliveries WHERE rowid IN
             (SELECT rowid FROM webhook_deliveries
              WHERE created_at < ?1 AND status <> 'pending' LIMIT 1000)",
    )?
    .execute(params![before])
}

#[async_trait]
impl WebhookStore for SqliteStore {
    fn outbox(&self) -> Option<Arc<Notify>> {
        Some(Arc::clone(&self.outbox))
    }

    async fn create_webhook(
        &self,
        tenant: &TenantId,
        webhook: &StoredWebhook,
    ) -> Result<(), StoreError> {
        let (tenant, webhook) = (tenant.as_str().to_owned(), webhook.clone());
        self.writer
            .run("registering a webhook", move |conn| {
                Ok(create(conn, &tenant, &webhook)?)
            })
            .await
    }

    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<StoredWebhook>, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.scan("listing webhooks", move |conn| list(conn, &tenant))
            .await
    }

    async fn webhook(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<StoredWebhook>, StoreError> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        self.read("reading a webhook", move |conn| get(conn, &tenant, &id))
            .await
    }

    async fn update_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        change: &WebhookChange,
    ) -> Result<Option<StoredWebhook>, StoreError> {
        let (tenant, id, change) = (tenant.as_str().to_owned(), id.to_owned(), change.clone());
        let updated = self
            .writer
            .run("changing a webhook", move |conn| {
                Ok(update(conn, &tenant, &id, &change)?)
            })
            .await?;
        // Enabling an endpoint again may have made its waiting deliveries due.
        self.outbox.notify_one();
        Ok(updated)
    }

    async fn delete_webhook(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        self.writer
            .run("deleting a webhook", move |conn| {
                Ok(delete(conn, &tenant, &id)?)
            })
            .await
    }

    async fn enqueue_for(
        &self,
        tenant: &TenantId,
        id: &str,
        event: &OutboundEvent,
    ) -> Result<bool, StoreError> {
        let (tenant, id, event) = (tenant.as_str().to_owned(), id.to_owned(), event.clone());
        let queued = self
            .writer
            .run("queueing a webhook event", move |conn| {
                Ok(enqueue_for(conn, &tenant, &id, &event)?)
            })
            .await?;
        self.outbox.notify_one();
        Ok(queued)
    }

    async fn deliveries(
        &self,
        tenant: &TenantId,
        id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        self.scan("listing webhook deliveries", move |conn| {
            deliveries(conn, &tenant, &id, limit)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: usize,
        per_endpoint: usize,
        in_flight: &HashMap<String, usize>,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let now = millis(now);
        let in_flight = in_flight.clone();
        // Most polls find nothing due: a read answers those without the writer.
        let endpoints = self
            .read("looking for due webhook deliveries", move |conn| {
                due_endpoints(conn, now, per_endpoint, &in_flight)
            })
            .await?;
        if endpoints.is_empty() {
            return Ok(Vec::new());
        }
        self.writer
            .run("claiming webhook deliveries", move |conn| {
                Ok(claim(
                    conn,
                    now,
                    lease.num_milliseconds(),
                    limit,
                    &endpoints,
                )?)
            })
            .await
    }

    async fn finish_delivery(&self, id: i64, finished: &Finished) -> Result<(), StoreError> {
        let finished = finished.clone();
        self.writer
            .run("recording a webhook delivery", move |conn| {
                Ok(finish(conn, id, &finished)?)
            })
            .await
    }

    async fn announce_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        // Most sweeps find nothing: a read answers those, so that an idle store stays idle
        // (and its WAL is emptied).
        let now_ms = millis(now);
        let due = self
            .read("looking for expired tokens", move |conn| {
                expiry_due(conn, now_ms)
            })
            .await?;
        if !due {
            return Ok(0);
        }
        let announced = self
            .writer
            .run("announcing expired tokens", move |conn| {
                Ok(announce_expired(conn, millis(now))?)
            })
            .await?;
        if announced > 0 {
            self.outbox.notify_one();
        }
        Ok(announced)
    }
}
