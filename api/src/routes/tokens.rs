//! HTTP API v1: `/v1/tokens`.

use axum::extract::State;
use axum::http::header::{ETAG, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sdk::{
    CreateToken, EntityId, ErrorBody, IdempotencyKey, PageCursor, PageLimit, PairRequest,
    TokenPage, TokenRecord, WaitSeconds,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::domain::{Cursor, TenantId};
use crate::error::ApiError;
use crate::extract::{AppJson, AppQuery, TokenParam};
use crate::pairing::{Change, Created};

/// The `/v1/tokens` routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(get_token, delete_token))
        .routes(routes!(pair_token))
}

/// Creates a token for entity A, with a short code if `code` is true.
///
/// With an `Idempotency-Key` header, a retry of the same request in the next 24 hours
/// gets the same record (and `Idempotent-Replayed: true`) instead of a second token;
/// the same key with another body is `422`.
#[utoipa::path(
    post, path = "/v1/tokens", tag = "tokens",
    request_body = CreateToken,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes retries safe: 1 to 255 visible ASCII characters")),
    responses(
        (status = 201, description = "The new token", body = TokenRecord,
            headers(("Location" = String, description = "The new token's URL"))),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 429, description = "Over the key's rate limit", body = ErrorBody),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 413, description = "The body is over 16 KiB", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
        (status = 503, description = "Too many writes are waiting; retry after Retry-After", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all)]
async fn create_token(
    State(state): State<AppState>,
    tenant: TenantId,
    headers: HeaderMap,
    AppJson(request): AppJson<CreateToken>,
) -> Result<Response, ApiError> {
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|value| {
            value
                .to_str()
                .map_err(|_| {
                    ApiError::invalid("Idempotency-Key", "Idempotency-Key must be visible ASCII")
                })
                .and_then(|text| Ok(IdempotencyKey::parse(text)?))
        })
        .transpose()?;
    let (record, replayed) = match state
        .pairings
        .create(&tenant, request, idempotency_key)
        .await?
    {
        Created::New(record) => (record, false),
        Created::Replayed(record) => (record, true),
    };
    let location = format!("/v1/tokens/{}", record.token);
    let mut response =
        (StatusCode::CREATED, [(LOCATION, location)], AppJson(record)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The query of `GET /v1/tokens/{token}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct GetParams {
    /// With `If-None-Match`: wait up to this many seconds (at most 25; the server may cut
    /// it shorter, 10 by default under Lambda) for the record to change before answering
    /// `304`. A tenant holds at most 16 waits at once per server process (`429` past that).
    #[param(value_type = Option<u64>)]
    wait: Option<WaitSeconds>,
}

/// Reads a token and its pairing.
///
/// The `ETag` changes when the token is paired; send it back in `If-None-Match` to get
/// `304 Not Modified` while nothing changed, and add `?wait=N` to long-poll: the answer
/// comes as soon as the record changes, or after N seconds with `304`.
#[utoipa::path(
    get, path = "/v1/tokens/{token}", tag = "tokens",
    params(
        ("token" = String, Path, description = "The token"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier read"),
        GetParams,
    ),
    responses(
        (status = 200, description = "The token", body = TokenRecord,
            headers(("ETag" = String, description = "The version of the record"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "Unknown, expired or deleted", body = ErrorBody),
        (status = 422, description = "wait is over 25", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all, fields(token = %token.0))]
async fn get_token(
    State(state): State<AppState>,
    tenant: TenantId,
    token: TokenParam,
    AppQuery(params): AppQuery<GetParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let wait = params.wait.unwrap_or(WaitSeconds::NONE);
    let known = if_none_match(&headers);
    let change = if known.is_empty() {
        Change::Changed(state.pairings.get(&tenant, &token.0).await?)
    } else {
        // A wait takes one of the tenant's places; a conditional read without one does not.
        let _waiting = (wait != WaitSeconds::NONE)
            .then(|| state.long_polls.begin(&tenant))
            .transpose()?;
        let wait = wait.duration().min(state.long_polls.max_wait());
        state
            .pairings
            .wait_for_change(&tenant, &token.0, &known, wait)
            .await?
    };
    Ok(match change {
        Change::Changed(record) => {
            let etag = HeaderValue::from_static(record.etag());
            ([(ETAG, etag)], AppJson(record)).into_response()
        }
        // RFC 9110: a 304 carries the tag a 200 would have, whichever the client sent.
        Change::Unchanged(etag) => (
            StatusCode::NOT_MODIFIED,
            [(ETAG, HeaderValue::from_static(etag))],
        )
            .into_response(),
    })
}

/// Pairs entity B with the token's creator.
///
/// Exactly once: of concurrent requests one wins; a retry by the winning entity gets
/// `200` and the same record, any other entity `409`.
#[utoipa::path(
    post, path = "/v1/tokens/{token}/pair", tag = "tokens",
    params(("token" = String, Path, description = "The token")),
    request_body = PairRequest,
    responses(
        (status = 200, description = "Paired (or already paired with this entity)", body = TokenRecord),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 404, description = "Unknown, expired or deleted", body = ErrorBody),
        (status = 409, description = "Already paired with another entity", body = ErrorBody),
        (status = 422, description = "Invalid entity, or the same entity as A", body = ErrorBody),
        (status = 503, description = "Too many writes are waiting; retry after Retry-After", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all, fields(token = %token.0))]
async fn pair_token(
    State(state): State<AppState>,
    tenant: TenantId,
    token: TokenParam,
    AppJson(request): AppJson<PairRequest>,
) -> Result<AppJson<TokenRecord>, ApiError> {
    let record = state
        .pairings
        .pair(&tenant, &token.0, &request.entity)
        .await?;
    Ok(AppJson(record))
}

/// Deletes a token and its pairing; either side may.
#[utoipa::path(
    delete, path = "/v1/tokens/{token}", tag = "tokens",
    params(("token" = String, Path, description = "The token")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "Unknown, expired or deleted", body = ErrorBody),
        (status = 503, description = "Too many writes are waiting; retry after Retry-After", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all, fields(token = %token.0))]
async fn delete_token(
    State(state): State<AppState>,
    tenant: TenantId,
    token: TokenParam,
) -> Result<StatusCode, ApiError> {
    state.pairings.delete(&tenant, &token.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The query of `GET /v1/tokens`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// The entity whose pairings to list, as entity A or entity B.
    #[param(value_type = String)]
    entity: EntityId,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>)]
    limit: Option<PageLimit>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<String>)]
    cursor: Option<PageCursor>,
}

/// Lists the live tokens and pairings where an entity is either side, newest first by when
/// the entity joined each: when it created the token (entity A) or paired with it (entity B).
#[utoipa::path(
    get, path = "/v1/tokens", tag = "tokens",
    params(ListParams),
    responses(
        (status = 200, description = "One page, newest first", body = TokenPage),
        (status = 422, description = "Missing or invalid entity, limit or cursor", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all)]
async fn list_tokens(
    State(state): State<AppState>,
    tenant: TenantId,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<AppJson<TokenPage>, ApiError> {
    let limit = params.limit.unwrap_or(PageLimit::DEFAULT);
    let cursor = params
        .cursor
        .as_ref()
        .map(Cursor::try_from)
        .transpose()
        .map_err(|e| ApiError::invalid("cursor", e.to_string()))?;
    let page = state
        .pairings
        .list(&tenant, &params.entity, limit, cursor.as_ref())
        .await?;
    Ok(AppJson(page))
}

/// The entity tags of `If-None-Match`, weak ones compared as strong (RFC 9110's weak
/// comparison); `*` matches any record, so it stands for both of ours.
fn if_none_match(headers: &HeaderMap) -> Vec<String> {
    let mut known = Vec::new();
    for tag in headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
    {
        if tag == "*" {
            known.extend(["\"pending\"".to_owned(), "\"paired\"".to_owned()]);
        } else {
            known.push(tag.trim_start_matches("W/").to_owned());
        }
    }
    known
}
