//! The HTTP application: shared state and the router that merges every feature's routes.
//!
//! Tests drive the whole stack through [`app`] with `tower::ServiceExt::oneshot`, without a
//! socket; `portner serve` hands the same router to a listener.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use portner_shared::Clock;
use portner_shared::store::Store;
use tower_http::trace::TraceLayer;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
}

/// The complete router with middleware.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .merge(crate::health::router())
        .merge(crate::sync_metrics::router())
        .with_state(state);
    for layer in crate::security_headers::layers() {
        router = router.layer(layer);
    }
    // One span per request, recording method and path only: never headers or bodies, which
    // carry cookies and credentials (STYLE.md 3.9).
    router.layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
        tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
    }))
}
