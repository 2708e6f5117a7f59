//! `/v1/webhooks`: a tenant's endpoints, their secrets, a test event and recent deliveries.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use sdk::webhooks::{
    CreateWebhook, DeliveryList, Event, EventData, EventType, UpdateWebhook, Webhook, WebhookList,
    WebhookWithSecret,
};
use sdk::{ErrorBody, PageLimit};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::domain::TenantId;
use crate::error::ApiError;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::pairing::PairingError;
use crate::store::StoreError;
use crate::store::webhooks::{OutboundEvent, StoredWebhook, WebhookChange};
use crate::webhooks::{self, MAX_DESCRIPTION_CHARS, MAX_WEBHOOKS_PER_TENANT, ROTATION_OVERLAP};

/// The `/v1/webhooks` routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(list_deliveries))
}

/// The events to send: the ones asked for (at least one, no test event), or every
/// `token.*` event.
fn subscribed(events: Option<Vec<EventType>>) -> Result<Vec<EventType>, ApiError> {
    let Some(mut events) = events else {
        return Ok(EventType::SUBSCRIBABLE.to_vec());
    };
    if events.is_empty() {
        return Err(ApiError::invalid(
            "events",
            "events must name at least one event type (token.paired, token.deleted, token.expired)",
        ));
    }
    if events.contains(&EventType::WebhookTest) {
        return Err(ApiError::invalid(
            "events",
            "events cannot include webhook.test: POST /v1/webhooks/{id}/test sends it",
        ));
    }
    events.sort();
    events.dedup();
    Ok(events)
}

fn description(text: Option<String>) -> Result<Option<String>, ApiError> {
    match text {
        Some(text) if text.chars().count() > MAX_DESCRIPTION_CHARS => Err(ApiError::invalid(
            "description",
            format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
        )),
        Some(text) if text.chars().any(char::is_control) => Err(ApiError::invalid(
            "description",
            "description must not contain control characters",
        )),
        other => Ok(other.filter(|t| !t.trim().is_empty())),
    }
}

/// Registers an endpoint for the tenant's events.
///
/// The answer holds the endpoint's signing secret, which is shown only here (and on a
/// rotation). Deliveries are signed as Standard Webhooks says.
#[utoipa::path(
    post, path = "/v1/webhooks", tag = "webhooks",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "The endpoint and its signing secret", body = WebhookWithSecret,
            headers(("Location" = String, description = "The endpoint's URL"))),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 422, description = "The URL, events or description are not acceptable, or the tenant has 20 endpoints", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all)]
async fn create_webhook(
    State(state): State<AppState>,
    tenant: TenantId,
    AppJson(request): AppJson<CreateWebhook>,
) -> Result<Response, ApiError> {
    let url = state
        .webhooks
        .check_url(&request.url)
        .map_err(|message| ApiError::invalid("url", message))?;
    let events = subscribed(request.events)?;
    let description = description(request.description)?;
    let store = state.pairings.store();
    let existing = store.webhooks(&tenant).await.map_err(PairingError::from)?;
    if existing.len() >= MAX_WEBHOOKS_PER_TENANT {
        return Err(ApiError::unacceptable(format!(
            "a tenant may register at most {MAX_WEBHOOKS_PER_TENANT} webhook endpoints; delete one first"
        )));
    }
    let stored = StoredWebhook {
        webhook: Webhook {
            id: webhooks::new_id(),
            url: url.to_string(),
            events,
            description,
            enabled: true,
            disabled_reason: None,
            created_at: state.pairings.now(),
            previous_secret_until: None,
        },
        secret: webhooks::new_secret(),
        previous_secret: None,
    };
    store
        .create_webhook(&tenant, &stored)
        .await
        .map_err(PairingError::from)?;
    let location = format!("/v1/webhooks/{}", stored.webhook.id);
    let body = WebhookWithSecret {
        webhook: stored.webhook,
        secret: stored.secret,
    };
    Ok((StatusCode::CREATED, [(LOCATION, location)], AppJson(body)).into_response())
}

/// The tenant's endpoints, oldest first (without their secrets).
#[utoipa::path(
    get, path = "/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "The tenant's endpoints", body = WebhookList),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
    )
)]
async fn list_webhooks(
    State(state): State<AppState>,
    tenant: TenantId,
) -> Result<AppJson<WebhookList>, ApiError> {
    let stored = state
        .pairings
        .store()
        .webhooks(&tenant)
        .await
        .map_err(PairingError::from)?;
    Ok(AppJson(WebhookList {
        items: stored.into_iter().map(|s| s.webhook).collect(),
    }))
}

/// One endpoint (without its secret).
#[utoipa::path(
    get, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = Webhook),
        (status = 404, description = "The tenant has no endpoint with this id", body = ErrorBody),
    )
)]
async fn get_webhook(
    State(state): State<AppState>,
    tenant: TenantId,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<Webhook>, ApiError> {
    let stored = found(state.pairings.store().webhook(&tenant, &id).await)?;
    Ok(AppJson(stored.webhook))
}

/// Enables or disables an endpoint, or changes its events or description.
///
/// Enabling it again clears why Tandem disabled it; its waiting deliveries go out.
#[utoipa::path(
    patch, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id")),
    request_body = UpdateWebhook,
    responses(
        (status = 200, description = "The endpoint as it is now", body = Webhook),
        (status = 404, description = "The tenant has no endpoint with this id", body = ErrorBody),
        (status = 422, description = "The events or description are not acceptable", body = ErrorBody),
    )
)]
async fn update_webhook(
    State(state): State<AppState>,
    tenant: TenantId,
    AppPath(id): AppPath<String>,
    AppJson(request): AppJson<UpdateWebhook>,
) -> Result<AppJson<Webhook>, ApiError> {
    let change = WebhookChange {
        enabled: request.enabled,
        events: request.events.map(Some).map(subscribed).transpose()?,
        description: request
            .description
            .map(|d| description(Some(d)))
            .transpose()?,
        rotate: None,
    };
    let store = state.pairings.store();
    let stored = found(store.update_webhook(&tenant, &id, &change).await)?;
    Ok(AppJson(stored.webhook))
}

/// Deletes an endpoint; its deliveries stop, pending ones included.
#[utoipa::path(
    delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "The tenant has no endpoint with this id", body = ErrorBody),
    )
)]
async fn delete_webhook(
    State(state): State<AppState>,
    tenant: TenantId,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let deleted = state
        .pairings
        .store()
        .delete_webhook(&tenant, &id)
        .await
        .map_err(PairingError::from)?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::WebhookNotFound)
    }
}

/// Gives the endpoint a new signing secret; the old one keeps signing beside it (a second
/// `v1,` signature) for 24 hours, so receivers can switch without losing an event.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint and its new secret", body = WebhookWithSecret),
        (status = 404, description = "The tenant has no endpoint with this id", body = ErrorBody),
    )
)]
async fn rotate_secret(
    State(state): State<AppState>,
    tenant: TenantId,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<WebhookWithSecret>, ApiError> {
    let secret = webhooks::new_secret();
    let change = WebhookChange {
        rotate: Some((secret.clone(), state.pairings.now() + ROTATION_OVERLAP)),
        ..WebhookChange::default()
    };
    let store = state.pairings.store();
    let stored = found(store.update_webhook(&tenant, &id, &change).await)?;
    Ok(AppJson(WebhookWithSecret {
        webhook: stored.webhook,
        secret,
    }))
}

/// Sends a `webhook.test` event to the endpoint (also when it is disabled for other
/// events, once it is enabled again); see its delivery under `/deliveries`.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/test", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 202, description = "The event, queued for delivery", body = Event),
        (status = 404, description = "The tenant has no endpoint with this id", body = ErrorBody),
    )
)]
async fn send_test(
    State(state): State<AppState>,
    tenant: TenantId,
    AppPath(id): AppPath<String>,
) -> Result<Response, ApiError> {
    let data = EventData::Test {
        webhook_id: id.clone(),
    };
    let event = OutboundEvent::new(EventType::WebhookTest, data.clone(), state.pairings.now());
    let queued = state
        .pairings
        .store()
        .enqueue_for(&tenant, &id, &event)
        .await
        .map_err(PairingError::from)?;
    if !queued {
        return Err(ApiError::WebhookNotFound);
    }
    let body = Event {
        id: event.id,
        event_type: event.event_type,
        timestamp: event.at,
        data,
    };
    Ok((StatusCode::ACCEPTED, AppJson(body)).into_response())
}

/// The query of `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// How many, newest first (1 ..= 100; default 50).
    #[param(value_type = Option<u32>)]
    limit: Option<PageLimit>,
}

/// The endpoint's recent deliveries (of the last 7 days), newest first: the event, where it
/// stands, its attempts, the last answer and when the next attempt is due.
#[utoipa::path(
    get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id"), DeliveriesQuery),
    responses(
        (status = 200, description = "Recent deliveries", body = DeliveryList),
        (status = 404, description = "The tenant has no endpoint with this id", body = ErrorBody),
    )
)]
async fn list_deliveries(
    State(state): State<AppState>,
    tenant: TenantId,
    AppPath(id): AppPath<String>,
    AppQuery(query): AppQuery<DeliveriesQuery>,
) -> Result<AppJson<DeliveryList>, ApiError> {
    let store = state.pairings.store();
    found(store.webhook(&tenant, &id).await)?;
    let limit = query.limit.map_or(50, PageLimit::get);
    let items = store
        .deliveries(&tenant, &id, limit)
        .await
        .map_err(PairingError::from)?;
    Ok(AppJson(DeliveryList { items }))
}

/// What the store answered about one endpoint of the tenant: `404 webhook_not_found`
/// when it has none by that id.
fn found<T>(answer: Result<Option<T>, StoreError>) -> Result<T, ApiError> {
    answer
        .map_err(PairingError::from)?
        .ok_or(ApiError::WebhookNotFound)
}
