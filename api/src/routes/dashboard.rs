//! The dashboard (`web/`, built by `just web`): `index.html` at `/`, its files under
//! `/assets/`, from the same origin as the API. When it is not built, `/` says how.

use std::path::Path;

use axum::Router;
use axum::extract::State;
use axum::handler::HandlerWithoutStateExt as _;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;
use crate::error::ApiError;

/// What the dashboard's page may load and run: its own scripts and WebAssembly, and
/// requests to this origin only.
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// `/` and `/assets/…`, serving the dashboard built into `dir` (if any).
pub fn router(dir: Option<&Path>) -> Router<AppState> {
    let assets = match dir {
        Some(dir) => Router::new().fallback_service(
            ServeDir::new(dir.join("assets"))
                .fallback(asset_not_found.into_service())
                .call_fallback_on_method_not_allowed(true),
        ),
        // Nothing to serve: every asset is missing.
        None => Router::new().fallback(asset_not_found),
    };
    let assets = assets.layer(SetResponseHeaderLayer::overriding(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    ));
    Router::new()
        .route("/", get(index))
        .nest("/assets", assets)
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// `GET /`: the dashboard's page, or a page saying how to build it.
async fn index(State(state): State<AppState>) -> Response {
    // Read on each request, as ServeDir reads the assets: a `just web` while the server runs
    // shows at the next reload, and the page is a few hundred bytes.
    let page = match &state.dashboard_dir {
        Some(dir) => tokio::fs::read(dir.join("index.html")).await.ok(),
        None => None,
    };
    let headers = [
        (CONTENT_TYPE, "text/html; charset=utf-8"),
        (CACHE_CONTROL, "no-cache"),
        (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
    ];
    match page {
        Some(page) => (headers, page).into_response(),
        None => (StatusCode::NOT_FOUND, headers, NOT_BUILT_PAGE).into_response(),
    }
}

async fn asset_not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound(format!("/assets{}", uri.path()))
}

/// Shown at `/` when the dashboard has not been built.
const NOT_BUILT_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tandem: the dashboard is not built</title></head>
<body>
<h1>The dashboard is not built yet</h1>
<p>The API is running; only the dashboard's files are missing. Build them with</p>
<pre><code>just web</code></pre>
<p>(or start the server with <code>just run</code>, which builds them first), then reload this page.
A server started by hand looks for them in the directory that <code>TANDEM_DASHBOARD_DIR</code> names
(default <code>./web/dist</code>, relative to where it runs).</p>
<p>The API itself answers under <code>/v1/</code>; it is described at <a href="/openapi.json">/openapi.json</a>.</p>
</body>
</html>
"#;
