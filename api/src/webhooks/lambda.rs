//! The webhook delivery function on AWS Lambda (`tandem-api` with `TANDEM_FUNCTION=webhooks`).
//!
//! It is invoked with batches of the table's stream (see [`crate::store::dynamodb::stream`]
//! for which changes are events) and of the retry queue. Each event goes to each subscribed
//! endpoint with the same signing, timeout and schedule as on SQLite
//! ([`super::delivery::send`]). A failed attempt becomes a message on the retry queue (SQS),
//! delayed until its retry is due: SQS delays a message at most 15 minutes, so a longer
//! wait is a message that comes back and is sent on again until its time. A batch the
//! function cannot handle (the store or the queue failing) fails whole, and Lambda retries
//! it; messages that keep failing end in the dead-letter queue. Every attempt is recorded in
//! the endpoint's delivery log, and an endpoint that failed every attempt for the policy's
//! time is disabled, as on SQLite; a batch's attempts are sent at once, but recorded item by
//! item, so that none overwrites another's record.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use aws_lambda_events::event::dynamodb::Event as StreamBatch;
use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use sdk::webhooks::{Delivery, DeliveryStatus, EventType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::WebhookPolicy;
use super::delivery::{client, send};
use crate::clock::SystemClock;
use crate::domain::TenantId;
use crate::store::DynamoStore;
use crate::store::dynamodb::stream::{Recipients, event_of};
use crate::store::webhooks::{DueDelivery, Finished, NextStep, OutboundEvent};

/// The longest delay SQS gives a message, in seconds.
const MAX_QUEUE_DELAY_SECONDS: i64 = 900;

/// A delivery waiting on the retry queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// Whose event.
    pub tenant: String,
    /// The endpoint.
    pub webhook_id: String,
    /// The event's id.
    pub event_id: String,
    /// Its type.
    pub event_type: EventType,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Its JSON body.
    pub body: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// When the next attempt is due.
    pub not_before: DateTime<Utc>,
}

impl Retry {
    fn event(&self) -> OutboundEvent {
        OutboundEvent {
            id: self.event_id.clone(),
            event_type: self.event_type,
            at: self.at,
            body: self.body.clone(),
        }
    }
}

/// The delivery function's state, shared by its invocations.
pub struct DeliveryFunction {
    store: DynamoStore,
    queue: aws_sdk_sqs::Client,
    queue_url: String,
    policy: WebhookPolicy,
    http: reqwest::Client,
}

impl DeliveryFunction {
    /// The function on `store`, retrying through the queue at `queue_url`.
    pub fn new(
        store: DynamoStore,
        queue: aws_sdk_sqs::Client,
        queue_url: String,
        policy: WebhookPolicy,
    ) -> Self {
        let http = client(&policy);
        Self {
            store,
            queue,
            queue_url,
            policy,
            http,
        }
    }

    /// Handles one invocation: a batch of stream records or of queue messages.
    pub async fn handle(&self, payload: Value) -> anyhow::Result<Value> {
        let source = payload["Records"][0]["eventSource"].as_str().unwrap_or("");
        let delivered = match source {
            "aws:dynamodb" => {
                let batch: StreamBatch =
                    serde_json::from_value(payload).context("reading a stream batch")?;
                self.on_stream(&batch).await?
            }
            "aws:sqs" => {
                let batch: SqsEvent =
                    serde_json::from_value(payload).context("reading a queue batch")?;
                self.on_queue(&batch).await?
            }
            "" => 0,
            other => anyhow::bail!("the webhook function does not handle {other} events"),
        };
        Ok(serde_json::json!({ "attempts": delivered }))
    }

    async fn on_stream(&self, batch: &StreamBatch) -> anyhow::Result<usize> {
        let mut attempts = Vec::new();
        for record in &batch.records {
            let Some(found) = event_of(record)? else {
                continue;
            };
            let (entries, _) = self.store.endpoints(&found.tenant).await?;
            for entry in entries.into_iter().filter(|e| e.webhook.enabled) {
                let wanted = match &found.recipients {
                    Recipients::Subscribed => {
                        entry.webhook.events.contains(&found.event.event_type)
                    }
                    Recipients::Only(id) => *id == entry.webhook.id,
                };
                if wanted {
                    let retry = Retry {
                        tenant: found.tenant.as_str().to_owned(),
                        webhook_id: entry.webhook.id.clone(),
                        event_id: found.event.id.clone(),
                        event_type: found.event.event_type,
                        at: found.event.at,
                        body: found.event.body.clone(),
                        attempts: 0,
                        not_before: Utc::now(),
                    };
                    attempts.push(retry);
                }
            }
        }
        let count = attempts.len();
        self.attempt_all(&attempts).await?;
        Ok(count)
    }

    async fn on_queue(&self, batch: &SqsEvent) -> anyhow::Result<usize> {
        let mut count = 0;
        let mut pending = Vec::new();
        for message in &batch.records {
            let body = message.body.as_deref().unwrap_or("");
            let retry: Retry = serde_json::from_str(body).context("reading a retry message")?;
            if retry.not_before > Utc::now() + chrono::Duration::seconds(1) {
                // Not due yet: back on the queue for as long as SQS allows.
                self.enqueue(&retry).await?;
            } else {
                count += 1;
                pending.push(retry);
            }
        }
        self.attempt_all(&pending).await?;
        Ok(count)
    }

    /// Makes the attempts of `retries` at once, then records them. An endpoint's log is one
    /// item, and so are a tenant's endpoints with their runs of failures: each is written by
    /// one task, with the batch's attempts in the order they were made, rather than by every
    /// attempt at once, which would conflict with one another over it.
    async fn attempt_all(&self, retries: &[Retry]) -> anyhow::Result<()> {
        let results = futures::future::join_all(retries.iter().map(|r| self.attempt(r))).await;
        let mut made = Vec::new();
        for result in results {
            made.extend(result?);
        }
        made.sort_by_key(|a| a.finished.attempt.at);
        let mut logs: BTreeMap<&str, (&TenantId, Vec<Delivery>)> = BTreeMap::new();
        let mut notes: BTreeMap<&str, Vec<&Attempted>> = BTreeMap::new();
        for attempted in &made {
            logs.entry(&attempted.webhook_id)
                .or_insert_with(|| (&attempted.tenant, Vec::new()))
                .1
                .push(attempted.delivery.clone());
            notes
                .entry(attempted.tenant.as_str())
                .or_default()
                .push(attempted);
        }
        let logs = futures::future::try_join_all(logs.into_iter().map(
            |(webhook_id, (tenant, deliveries))| async move {
                self.store
                    .log_deliveries(tenant, webhook_id, &deliveries)
                    .await
            },
        ));
        let notes = futures::future::try_join_all(notes.into_values().map(|attempts| async move {
            for attempted in attempts {
                self.store
                    .note_attempt(
                        &attempted.tenant,
                        &attempted.webhook_id,
                        &attempted.finished,
                    )
                    .await?;
            }
            Ok::<_, crate::store::StoreError>(())
        }));
        futures::future::try_join(logs, notes).await?;
        Ok(())
    }

    /// One attempt of `retry` to its endpoint, if it is still there and enabled; queues the
    /// next one when it failed. Returns what is to be recorded of it.
    async fn attempt(&self, retry: &Retry) -> anyhow::Result<Option<Attempted>> {
        let tenant = TenantId::parse(&retry.tenant).map_err(anyhow::Error::msg)?;
        let (entries, _) = self.store.endpoints(&tenant).await?;
        let Some(entry) = entries
            .into_iter()
            .find(|e| e.webhook.id == retry.webhook_id && e.webhook.enabled)
        else {
            // Deleted or disabled since: its deliveries stop.
            return Ok(None);
        };
        let now = Utc::now();
        let stored = crate::store::webhooks::StoredWebhook {
            webhook: entry.webhook.clone(),
            secret: entry.secret.clone(),
            previous_secret: entry.previous_secret.clone(),
        };
        let due = DueDelivery {
            id: 0,
            webhook_id: entry.webhook.id.clone(),
            url: entry.webhook.url.clone(),
            secrets: stored
                .signing_secrets(now)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            event: retry.event(),
            attempts: retry.attempts,
        };
        let finished = send(&self.http, &self.policy, &due, &SystemClock).await;
        let attempts = retry.attempts + 1;
        if let NextStep::RetryAt(at) = finished.next {
            self.enqueue(&Retry {
                attempts,
                not_before: at,
                ..retry.clone()
            })
            .await?;
        }
        Ok(Some(Attempted {
            tenant,
            delivery: logged(retry, attempts, &finished),
            webhook_id: due.webhook_id,
            finished,
        }))
    }

    /// Puts `retry` on the queue, delayed until it is due (or as long as SQS allows).
    async fn enqueue(&self, retry: &Retry) -> anyhow::Result<()> {
        let wait = (retry.not_before - Utc::now()).num_seconds();
        let delay = wait.clamp(0, MAX_QUEUE_DELAY_SECONDS) as i32;
        self.queue
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(serde_json::to_string(retry)?)
            .delay_seconds(delay)
            .send()
            .await
            .context("queueing a webhook retry")?;
        Ok(())
    }
}

/// An attempt made, as its endpoint's records take it.
struct Attempted {
    tenant: TenantId,
    webhook_id: String,
    /// Its entry in the endpoint's log.
    delivery: Delivery,
    /// How it went, for the endpoint's run of failures.
    finished: Finished,
}

/// The delivery log's entry after an attempt.
fn logged(retry: &Retry, attempts: u32, finished: &Finished) -> Delivery {
    let (status, next_attempt_at) = match finished.next {
        NextStep::Delivered => (DeliveryStatus::Delivered, None),
        NextStep::RetryAt(at) => (DeliveryStatus::Pending, Some(at)),
        NextStep::GiveUp => (DeliveryStatus::Failed, None),
        NextStep::Gone => (DeliveryStatus::Gone, None),
    };
    Delivery {
        event_id: retry.event_id.clone(),
        event_type: retry.event_type,
        status,
        attempts,
        response_code: finished.attempt.response_code,
        duration_ms: Some(finished.attempt.duration_ms),
        error: finished.attempt.error.clone(),
        created_at: retry.at,
        last_attempt_at: Some(finished.attempt.at),
        next_attempt_at,
    }
}

/// Runs the delivery function under the Lambda runtime, on the DynamoDB store that `store`
/// names and the retry queue at `queue_url`.
pub async fn run(
    store: DynamoStore,
    queue_url: String,
    policy: WebhookPolicy,
) -> anyhow::Result<()> {
    let config = aws_config::load_from_env().await;
    let function = Arc::new(DeliveryFunction::new(
        store,
        aws_sdk_sqs::Client::new(&config),
        queue_url,
        policy,
    ));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| {
            let function = Arc::clone(&function);
            async move {
                // Logged in full here; Lambda sees the message and retries the batch.
                function.handle(event.payload).await.map_err(|e| {
                    tracing::error!(error = format!("{e:#}"), "webhook batch failed");
                    lambda_runtime::Error::from(e)
                })
            }
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!(e))
    .context("Lambda runtime failed")
}
