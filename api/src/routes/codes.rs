//! `POST /v1/codes/{code}/pair`: pairing by short code, with a limit on guesses.

use axum::extract::State;
use sdk::{ErrorBody, PairRequest, TokenRecord};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::ClientIp;
use crate::domain::TenantId;
use crate::error::ApiError;
use crate::extract::{AppJson, CodeParam};

/// The short-code routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pair_by_code))
}

/// Pairs entity B with the creator of the token that a short code stands for.
///
/// The code is accepted in any case, with or without its dash. Attempts are limited to
/// 10 a minute per tenant and client address, then `429` with `Retry-After`.
#[utoipa::path(
    post, path = "/v1/codes/{code}/pair", tag = "tokens",
    params(("code" = String, Path, description = "The short code, XXXX-XXXX")),
    request_body = PairRequest,
    responses(
        (status = 200, description = "Paired (or already paired with this entity)", body = TokenRecord),
        (status = 404, description = "No live token has this code", body = ErrorBody),
        (status = 409, description = "Already paired with another entity", body = ErrorBody),
        (status = 422, description = "Invalid entity, or the same entity as A", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
        (status = 503, description = "Too many writes are waiting; retry after Retry-After", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all)]
async fn pair_by_code(
    State(state): State<AppState>,
    tenant: TenantId,
    ClientIp(client): ClientIp,
    code: Result<CodeParam, ApiError>,
    AppJson(request): AppJson<PairRequest>,
) -> Result<AppJson<TokenRecord>, ApiError> {
    // Every attempt counts, a malformed code too.
    state.access.count_code_attempt(&tenant, client)?;
    let CodeParam(code) = code?;
    let record = state
        .pairings
        .pair_by_code(&tenant, &code, &request.entity)
        .await?;
    Ok(AppJson(record))
}
