//! `portner serve`: the HTTP server, until SIGTERM or SIGINT.

use tokio::net::TcpListener;

use super::{CommandError, Environment};

/// How often the in-server sync worker drains the outbox. Changes reach MitID Erhverv within
/// this delay plus the queue ahead of them.
const SYNC_ROUND: std::time::Duration = std::time::Duration::from_secs(15);
use crate::app::{AppState, app};

pub(super) async fn run(environment: &Environment) -> Result<(), CommandError> {
    let config = &environment.config;
    let listener = TcpListener::bind(config.listen).await.map_err(|error| {
        CommandError::Failed(format!("cannot listen on {}: {error}", config.listen))
    })?;
    let address = listener.local_addr().map_err(|error| {
        CommandError::Failed(format!("cannot read the listening address: {error}"))
    })?;

    // Scripts and tests read this line to learn the port when `listen` asks for port 0.
    println!("Portner is listening on http://{address}");
    println!("Data folder: {}", environment.data.root.display());
    tracing::info!(%address, backend = ?config.backend, "server started");

    // The MitID Erhverv sync worker runs in the server (issue 6): one replica at a time on
    // PostgreSQL (advisory lock), in this process on SQLite. Stopping the server may cut an
    // action short; the next worker recovers it (see idm-sync/src/worker.rs).
    let settings = portner_idm_sync::worker::WorkerSettings {
        pkcs12_password: config.sync_pkcs12_password.clone(),
        ..portner_idm_sync::worker::WorkerSettings::default()
    };
    let worker = std::sync::Arc::new(portner_idm_sync::worker::Worker::new(
        environment.store.clone(),
        environment.clock.clone(),
        settings,
    ));
    let sync_task = tokio::spawn(portner_idm_sync::worker::run_forever(worker, SYNC_ROUND));

    let state = AppState {
        store: environment.store.clone(),
        clock: environment.clock.clone(),
    };
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|error| CommandError::Failed(format!("server failed: {error}")))?;

    sync_task.abort();
    tracing::info!("server stopped");
    Ok(())
}

/// Resolves on SIGTERM (what systemd and Kubernetes send) or SIGINT (Ctrl-C). Requests in
/// flight finish before the server returns.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM; stop with SIGINT");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
    }
}
