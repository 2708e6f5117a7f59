//! HTTP API v1: `/v1/tokens`.

use axum::extract::State;
use axum::http::header::{ETAG, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sdk::{CreateToken, EntityId, ErrorBody, PairRequest, Status, TokenPage, TokenRecord};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{AppJson, AppQuery, TokenParam};
use crate::store::{Cursor, TenantId};

/// Page size of a listing when the request names none.
const DEFAULT_PAGE: u32 = 20;
/// Largest page size of a listing.
const MAX_PAGE: u32 = 100;

/// The `/v1/tokens` routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(get_token, delete_token))
        .routes(routes!(pair_token))
}

/// Creates a token for entity A.
#[utoipa::path(
    post, path = "/v1/tokens", tag = "tokens",
    request_body = CreateToken,
    responses(
        (status = 201, description = "The new token", body = TokenRecord,
            headers(("Location" = String, description = "The new token's URL"))),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 413, description = "The body is over 16 KiB", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn create_token(
    State(state): State<AppState>,
    tenant: TenantId,
    AppJson(request): AppJson<CreateToken>,
) -> Result<impl IntoResponse, ApiError> {
    let record = state.pairings.create(&tenant, request).await?;
    let location = format!("/v1/tokens/{}", record.token);
    Ok((StatusCode::CREATED, [(LOCATION, location)], AppJson(record)))
}

/// Reads a token and its pairing.
///
/// The `ETag` changes when the token is paired; send it back in `If-None-Match` to get
/// `304 Not Modified` while nothing changed.
#[utoipa::path(
    get, path = "/v1/tokens/{token}", tag = "tokens",
    params(
        ("token" = String, Path, description = "The token"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier read"),
    ),
    responses(
        (status = 200, description = "The token", body = TokenRecord,
            headers(("ETag" = String, description = "The version of the record"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "Unknown, expired or deleted", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(token = %token.0))]
async fn get_token(
    State(state): State<AppState>,
    tenant: TenantId,
    token: TokenParam,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = state.pairings.get(&tenant, &token.0).await?;
    let etag = etag_of(&record);
    if if_none_match(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response());
    }
    Ok(([(ETAG, etag)], AppJson(record)).into_response())
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
    )
)]
#[tracing::instrument(skip_all, fields(token = %token.0))]
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
    )
)]
#[tracing::instrument(skip_all, fields(token = %token.0))]
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
    entity: String,
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Lists the live tokens and pairings where an entity is either side, newest first.
#[utoipa::path(
    get, path = "/v1/tokens", tag = "tokens",
    params(ListParams),
    responses(
        (status = 200, description = "One page, newest first", body = TokenPage),
        (status = 422, description = "Missing or invalid entity, limit or cursor", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
async fn list_tokens(
    State(state): State<AppState>,
    tenant: TenantId,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<AppJson<TokenPage>, ApiError> {
    let entity = EntityId::parse(params.entity)?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidField(format!(
            "limit must be between 1 and {MAX_PAGE} (got {limit})"
        )));
    }
    let cursor = params
        .cursor
        .map(|c| c.parse::<Cursor>())
        .transpose()
        .map_err(|e| ApiError::InvalidField(e.to_string()))?;
    let page = state
        .pairings
        .list(&tenant, &entity, limit as usize, cursor.as_ref())
        .await?;
    Ok(AppJson(page))
}

/// The ETag of a record: its representation changes only when it is paired.
fn etag_of(record: &TokenRecord) -> HeaderValue {
    HeaderValue::from_static(match record.status {
        Status::Pending => "\"pending\"",
        Status::Paired => "\"paired\"",
    })
}

/// Whether `If-None-Match` names `etag` (weakly compared, as RFC 9110 asks) or `*`.
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let etag = etag.to_str().unwrap_or_default();
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}
