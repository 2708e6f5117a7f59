//! The HTTP routes, one module per resource; [`crate::app`] merges them.

pub mod codes;
pub mod dashboard;
pub mod health;
pub mod seed;
pub mod stats;
pub mod tokens;
pub mod webhooks;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// The OpenAPI document's fixed parts; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tandem",
        description = "Pairing as a service: a token created for entity A, presented by entity B, pairs the two.",
        license(name = "GPL-3.0-or-later")
    ),
    tags(
        (name = "tokens", description = "HTTP API v1: create, read, pair, list and delete tokens"),
        (name = "webhooks", description = "Signed events pushed to the tenant's endpoints (Standard Webhooks)"),
        (name = "seed", description = "The original project's routes, kept for its clients"),
        (name = "operations", description = "Health")
    )
)]
pub struct ApiDoc;

/// Every documented route, with the OpenAPI document they make.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(tokens::router())
        .merge(codes::router())
        .merge(stats::router())
        .merge(webhooks::router())
        .merge(seed::router())
        .merge(health::router())
}
