//! `POST /v1/codes/{code}/pair`: pairing by short code, with a limit on guesses.

use axum::extract::State;
use axum::http::HeaderMap;
use sdk::{END_USER_HEADER, EndUser, ErrorBody, PairRequest, TokenRecord};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::ClientIp;
use crate::domain::{Guesser, TenantId};
use crate::error::ApiError;
use crate::extract::{AppJson, CodeParam};

/// The short-code routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pair_by_code))
}

/// Pairs entity B with the creator of the token that a short code stands for.
///
/// The code is accepted in any case, with or without its dash. Only failed attempts (a
/// wrong, malformed or dead code) count: per hour, each end user (named by the
/// `Tandem-End-User` header; without it, each client address, an IPv6 address by its /64)
/// may fail `TANDEM_CODE_FAILURES_PER_HOUR` times (20) and the tenant as a whole
/// `TANDEM_TENANT_CODE_FAILURES_PER_HOUR` times (1000). Past either, every attempt gets
/// `429` with `Retry-After` until the hour ends. The counts live in the store, so they
/// hold across every process and Lambda instance.
#[utoipa::path(
    post, path = "/v1/codes/{code}/pair", tag = "tokens",
    params(
        ("code" = String, Path, description = "The short code, XXXX-XXXX"),
        ("Tandem-End-User" = Option<String>, Header,
            description = "The application's user who typed the code (1 to 255 visible ASCII characters): failed attempts count per user instead of per address"),
    ),
    request_body = PairRequest,
    responses(
        (status = 200, description = "Paired (or already paired with this entity)", body = TokenRecord),
        (status = 404, description = "No live token has this code", body = ErrorBody),
        (status = 409, description = "Already paired with another entity", body = ErrorBody),
        (status = 422, description = "Invalid entity, or the same entity as A", body = ErrorBody),
        (status = 429, description = "Too many failed attempts this hour, by this user or address or by the tenant", body = ErrorBody),
        (status = 503, description = "Too many writes are waiting; retry after Retry-After", body = ErrorBody),
    )
)]
#[tracing::instrument(level = "debug", skip_all)]
async fn pair_by_code(
    State(state): State<AppState>,
    tenant: TenantId,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    code: Result<CodeParam, ApiError>,
    AppJson(request): AppJson<PairRequest>,
) -> Result<AppJson<TokenRecord>, ApiError> {
    let guesser = Guesser::of(end_user(&headers)?, client);
    // A malformed code fails (and counts) like a wrong one.
    let code = code.ok().map(|CodeParam(code)| code);
    let record = state
        .pairings
        .pair_by_code(&tenant, code.as_ref(), &request.entity, &guesser)
        .await?;
    Ok(AppJson(record))
}

/// The `Tandem-End-User` the request names, if any.
fn end_user(headers: &HeaderMap) -> Result<Option<EndUser>, ApiError> {
    let Some(value) = headers.get(END_USER_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::invalid(
            END_USER_HEADER,
            format!("{END_USER_HEADER} must be 1 to 255 visible ASCII characters"),
        )
    })?;
    Ok(Some(EndUser::parse(text).map_err(|e| {
        ApiError::invalid(END_USER_HEADER, e.to_string())
    })?))
}
