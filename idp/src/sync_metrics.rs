//! `GET /metrics/sync`: the MitID Erhverv sync's queue depth, links, open drift findings and
//! outcome counters in the Prometheus text format (issue 6 "Audit and metrics").
//!
//! The counters are counts of the sync's audit events, so they survive restarts and agree
//! across replicas. The figures hold no personal data; the route needs no sign-in, like the
//! health probes, and should be reachable only from the monitoring network.

use std::fmt::Write;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portner_shared::store::StoreError;

use crate::app::AppState;

/// The metrics route.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics/sync", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> Response {
    match render(&state).await {
        Ok(text) => {
            let content_type = "text/plain; version=0.0.4; charset=utf-8";
            ([(header::CONTENT_TYPE, content_type)], text).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "sync metrics unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "sync metrics unavailable\n",
            )
                .into_response()
        }
    }
}

async fn render(state: &AppState) -> Result<String, StoreError> {
    let now = state.clock.now();
    let mut tx = state.store.read().await?;
    let summary = tx.outbox_summary().await?;
    let counts = tx.sync_event_counts().await?;
    let mut organisations = Vec::new();
    for settings in tx.sync_organisations().await? {
        let linked = tx.sync_links(&settings.org).await?.len();
        let findings = tx.open_sync_findings(&settings.org).await?.len();
        organisations.push((settings.org, linked, findings));
    }
    tx.rollback().await?;

    // Writing to a String cannot fail; the results are ignored for that reason.
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# HELP portner_sync_outbox_actions Outbox actions by state."
    );
    let _ = writeln!(text, "# TYPE portner_sync_outbox_actions gauge");
    for state in ["pending", "running", "succeeded", "failed"] {
        let count = summary
            .by_state
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n);
        let _ = writeln!(
            text,
            "portner_sync_outbox_actions{{state=\"{state}\"}} {count}"
        );
    }
    let age = summary
        .oldest_pending
        .map_or(0, |oldest| (now - oldest).num_seconds().max(0));
    let _ = writeln!(
        text,
        "# HELP portner_sync_oldest_pending_seconds Age of the oldest pending action."
    );
    let _ = writeln!(text, "# TYPE portner_sync_oldest_pending_seconds gauge");
    let _ = writeln!(text, "portner_sync_oldest_pending_seconds {age}");
    let _ = writeln!(
        text,
        "# HELP portner_sync_events_total Sync audit events by kind."
    );
    let _ = writeln!(text, "# TYPE portner_sync_events_total counter");
    for (kind, count) in counts {
        let _ = writeln!(text, "portner_sync_events_total{{kind=\"{kind}\"}} {count}");
    }
    let _ = writeln!(
        text,
        "# HELP portner_sync_linked_users Users linked to a MitID Erhverv identity."
    );
    let _ = writeln!(text, "# TYPE portner_sync_linked_users gauge");
    for (org, linked, _) in &organisations {
        let _ = writeln!(text, "portner_sync_linked_users{{org=\"{org}\"}} {linked}");
    }
    let _ = writeln!(
        text,
        "# HELP portner_sync_open_findings Open drift findings."
    );
    let _ = writeln!(text, "# TYPE portner_sync_open_findings gauge");
    for (org, _, findings) in &organisations {
        let _ = writeln!(
            text,
            "portner_sync_open_findings{{org=\"{org}\"}} {findings}"
        );
    }
    Ok(text)
}
