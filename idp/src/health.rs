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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::app::{app, test_support};

    #[tokio::test]
    async fn readiness_follows_the_database_while_liveness_does_not() {
        let (store, _folder) = test_support::store().await;
        let router = app(test_support::state(store.clone()));

        let ready = test_support::get(router.clone(), "/readyz").await;
        store.close().await;
        let unready = test_support::get(router.clone(), "/readyz").await;
        let alive = test_support::get(router, "/healthz").await;

        assert_eq!(ready.0, StatusCode::OK);
        assert_eq!(unready.0, StatusCode::SERVICE_UNAVAILABLE);
        assert!(unready.2.contains("DATABASE_UNAVAILABLE"));
        assert_eq!(alive.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn every_response_carries_the_security_headers() {
        let (store, _folder) = test_support::store().await;
        let router = app(test_support::state(store));

        let request = Request::get("/no-such-page").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();

        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let headers = response.headers();
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("frame-ancestors 'none'"));
    }
}
