//! `portner serve`: the HTTP server, until SIGTERM or SIGINT.

use std::sync::Arc;

use tokio::net::TcpListener;

use super::{CommandError, Environment};
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
    out!("Portner is listening on http://{address}");
    out!("Data folder: {}", environment.data.root.display());
    tracing::info!(%address, backend = ?config.backend, "server started");

    let signin = crate::signin::SignIn::new(
        environment.store.clone(),
        environment.clock.clone(),
        config.signin,
        &config.public_url,
    )
    .map_err(|error| CommandError::Failed(format!("sign-in: {error}")))?;
    let state = AppState {
        store: environment.store.clone(),
        clock: environment.clock.clone(),
        identity: Arc::new(environment.identity()),
        signin,
    };
    // Connection info gives handlers the client address for throttling and the audit trail.
    let service = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|error| CommandError::Failed(format!("server failed: {error}")))?;

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
