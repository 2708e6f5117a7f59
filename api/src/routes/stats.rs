//! `GET /v1/stats`: the calling tenant's counts and time-to-pair.

use axum::extract::State;
use sdk::Stats;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::domain::TenantId;
use crate::error::ApiError;
use crate::extract::AppJson;

/// The stats route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stats))
}

/// Live pending and paired tokens, deletions and expiries of the last 24 hours, and
/// time-to-pair percentiles over the pairings of the last 24 hours.
#[utoipa::path(
    get, path = "/v1/stats", tag = "tokens",
    responses(
        (status = 200, description = "The tenant's statistics", body = Stats),
    )
)]
#[tracing::instrument(level = "debug", skip_all)]
async fn stats(
    State(state): State<AppState>,
    tenant: TenantId,
) -> Result<AppJson<Stats>, ApiError> {
    Ok(AppJson(state.pairings.stats(&tenant).await?))
}
