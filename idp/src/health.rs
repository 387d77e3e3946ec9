//! Liveness and readiness probes for load balancers and Kubernetes.
//!
//! `/healthz` says the process is up and serving; `/readyz` says it can also reach its
//! database, so a replica that lost PostgreSQL is taken out of rotation without being killed.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::app::AppState;

/// A readiness probe that waits longer than this is answered 503: the probe's caller has its
/// own timeout, and a slow database is not a ready one.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// The probe routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let ping = tokio::time::timeout(READINESS_TIMEOUT, state.store.ping()).await;
    match ping {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed: database error");
            unavailable()
        }
        Err(_) => {
            tracing::warn!("readiness check failed: database did not answer in time");
            unavailable()
        }
    }
}

fn unavailable() -> (StatusCode, Json<Value>) {
    let body = json!({ "status": "unavailable", "code": "DATABASE_UNAVAILABLE" });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body))
}
