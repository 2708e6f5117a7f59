//! `GET /healthz`: liveness and store reachability.

use axum::extract::State;
use axum::http::StatusCode;
use sdk::Health;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::AppJson;

/// The health route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

/// Answers `200` when the API and its store answer, `503` when the store does not.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The store does not answer", body = Health),
    )
)]
async fn healthz(State(state): State<AppState>) -> (StatusCode, AppJson<Health>) {
    let store = state.pairings.store();
    let (status, text) = match store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(error = %error, "health check: store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let body = Health {
        status: text.to_owned(),
        store: store.kind().to_owned(),
    };
    (status, AppJson(body))
}
