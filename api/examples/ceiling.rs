//! The HTTP ceiling for `just bench`: a minimal axum app that answers the load test's
//! requests correctly with no store — it echoes what the requests carry and remembers
//! only which tokens were deleted — so the load test passes its checks against it.
//!
//! Usage: `ceiling 127.0.0.1:0` (prints the address it listens on).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

type Deleted = Arc<Mutex<HashSet<String>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let app = Router::new()
        .route("/v1/tokens", post(create))
        .route("/v1/tokens/{token}", get(read).delete(delete))
        .route("/v1/tokens/{token}/pair", post(pair))
        .with_state(Deleted::default());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    eprintln!("ceiling listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn create(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let entity = body["entity"].clone();
    let record = json!({ "token": entity, "entity_a": entity, "status": "pending" });
    (StatusCode::CREATED, Json(record))
}

async fn read(
    State(deleted): State<Deleted>,
    Path(token): Path<String>,
) -> (StatusCode, Json<Value>) {
    if deleted
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&token)
    {
        let error = json!({ "error": { "code": "not_found", "message": "deleted" } });
        return (StatusCode::NOT_FOUND, Json(error));
    }
    (
        StatusCode::OK,
        Json(json!({ "token": token, "entity_a": token, "status": "pending" })),
    )
}

async fn pair(Path(token): Path<String>, Json(body): Json<Value>) -> Json<Value> {
    Json(
        json!({ "token": token, "entity_a": token, "entity_b": body["entity"], "status": "paired" }),
    )
}

async fn delete(State(deleted): State<Deleted>, Path(token): Path<String>) -> StatusCode {
    deleted
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token);
    StatusCode::NO_CONTENT
}
