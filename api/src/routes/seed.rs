//! The original project's routes: entity ids in the URL, the record in the JSON.
//!
//! They answer `200` with the same record as v1 (delete returns the deleted record),
//! as the original's functions did, and run the same code as v1.

use axum::extract::State;
use sdk::{CreateToken, EntityId, ErrorBody, TokenRecord};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::domain::TenantId;
use crate::error::ApiError;
use crate::extract::{AppJson, AppPath, TokenParam, parse_token};
use crate::pairing::Created;

/// The seed-compatible routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(get))
        .routes(routes!(update))
        .routes(routes!(delete))
}

/// Creates a token for the entity in the path (as `POST /v1/tokens`).
#[utoipa::path(
    post, path = "/create/{entity}", tag = "seed",
    params(("entity" = String, Path, description = "Entity A")),
    responses(
        (status = 200, description = "The new token", body = TokenRecord),
        (status = 422, description = "Invalid entity", body = ErrorBody),
        (status = 503, description = "Too many writes are waiting; retry after Retry-After", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all)]
async fn create(
    State(state): State<AppState>,
    tenant: TenantId,
    AppPath(entity): AppPath<String>,
) -> Result<AppJson<TokenRecord>, ApiError> {
    let entity = EntityId::parse(entity)?;
    let record = match state
        .pairings
        .create(&tenant, CreateToken::new(&entity), None)
        .await?
    {
        Created::New(record) | Created::Replayed(record) => record,
    };
    Ok(AppJson(record))
}

/// Reads a token (as `GET /v1/tokens/{token}`).
#[utoipa::path(
    get, path = "/get/{token}", tag = "seed",
    params(("token" = String, Path, description = "The token")),
    responses(
        (status = 200, description = "The token", body = TokenRecord),
        (status = 404, description = "Unknown, expired or deleted", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all, fields(token = %token.0))]
async fn get(
    State(state): State<AppState>,
    tenant: TenantId,
    token: TokenParam,
) -> Result<AppJson<TokenRecord>, ApiError> {
    Ok(AppJson(state.pairings.get(&tenant, &token.0).await?))
}

/// Pairs the entity in the path with the token's creator (as `POST /v1/tokens/{token}/pair`).
#[utoipa::path(
    put, path = "/update/{token}/{entity}", tag = "seed",
    params(
        ("token" = String, Path, description = "The token"),
        ("entity" = String, Path, description = "Entity B"),
    ),
    responses(
        (status = 200, description = "Paired", body = TokenRecord),
        (status = 404, description = "Unknown, expired or deleted", body = ErrorBody),
        (status = 409, description = "Already paired with another entity", body = ErrorBody),
        (status = 422, description = "Invalid entity, or the same entity as A", body = ErrorBody),
        (status = 503, description = "Too many writes are waiting; retry after Retry-After", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all)]
async fn update(
    State(state): State<AppState>,
    tenant: TenantId,
    AppPath((token, entity)): AppPath<(String, String)>,
) -> Result<AppJson<TokenRecord>, ApiError> {
    let token = parse_token(token)?;
    let entity = EntityId::parse(entity)?;
    Ok(AppJson(
        state.pairings.pair(&tenant, &token, &entity).await?,
    ))
}

/// Deletes a token and returns what was deleted (as `DELETE /v1/tokens/{token}`).
#[utoipa::path(
    delete, path = "/delete/{token}", tag = "seed",
    params(("token" = String, Path, description = "The token")),
    responses(
        (status = 200, description = "The deleted record", body = TokenRecord),
        (status = 404, description = "Unknown, expired or deleted", body = ErrorBody),
        (status = 503, description = "Too many writes are waiting; retry after Retry-After", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all, fields(token = %token.0))]
async fn delete(
    State(state): State<AppState>,
    tenant: TenantId,
    token: TokenParam,
) -> Result<AppJson<TokenRecord>, ApiError> {
    Ok(AppJson(state.pairings.delete(&tenant, &token.0).await?))
}
