//! `portner serve`: the HTTP server, until SIGTERM or SIGINT.

use std::sync::Arc;

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
    out!("Portner is listening on http://{address}");
    out!("Data folder: {}", environment.data.root.display());
    let signin = crate::signin::SignIn::new(
        environment.store.clone(),
        environment.clock.clone(),
        config.signin,
        &config.public_url,
    )
    .map_err(|error| CommandError::Failed(format!("sign-in: {error}")))?;
    // The administrators' policy overrides are in force from the first request, and the
    // snapshot below records the policy as it is served.
    let policy = signin.refresh_policy().await?;
    record_configuration(environment, &policy).await?;
    out!("Sign in at: {}/login", config.public_url);
    tracing::info!(%address, backend = ?config.backend, "server started");
    let policy_refresh = tokio::spawn(policy_refresh_task(
        Arc::clone(&signin.policy),
        environment.store.clone(),
    ));
    let checkpoints = tokio::spawn(checkpoint_task(
        environment.store.clone(),
        environment.clock.clone(),
        super::audit::signer(environment)?,
        environment.config.audit.clone(),
    ));
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
    // The allowance of audited refusals of untrusted SAML messages per source and minute;
    // the sweep writes the summaries of ended windows (saml::refusal_limit).
    let per_minute = u32::try_from(config.audit.saml_refusals_per_minute)
        .unwrap_or(crate::saml::refusal_limit::DEFAULT_PER_MINUTE);
    let saml_refusals = crate::saml::refusal_limit::RefusalLimit::new(per_minute);
    let saml_sweep = tokio::spawn(saml_sweep_task(
        environment.store.clone(),
        environment.clock.clone(),
        saml_refusals.clone(),
    ));
    let reconcile_every = match config.sync_reconcile_interval_hours {
        0 => None,
        hours => Some(chrono::Duration::hours(i64::from(hours))),
    };
    let sync_task = tokio::spawn(portner_idm_sync::worker::run_forever(
        worker,
        SYNC_ROUND,
        reconcile_every,
    ));
    let mailer = mailer(config)?;
    let notices = tokio::spawn(notify_task(
        environment.store.clone(),
        environment.clock.clone(),
        mailer.clone(),
    ));

    let state = AppState {
        store: environment.store.clone(),
        clock: environment.clock.clone(),
        identity: Arc::new(environment.identity()),
        signin,
        audit: Some(Arc::new(crate::console::audit::AuditDesk::new(
            super::audit::signer(environment)?,
            config.audit.clone(),
            crate::policy::settings(config),
            environment.data.root.clone(),
        ))),
        saml_refusals: saml_refusals.clone(),
        mailer,
    };
    // Connection info gives handlers the client address for throttling and the audit trail.
    let service = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|error| CommandError::Failed(format!("server failed: {error}")))?;

    checkpoints.abort();
    policy_refresh.abort();
    saml_sweep.abort();
    sync_task.abort();
    notices.abort();
    // Requests have finished: the counts of windows still open are written now, so stopping
    // the server loses none (saml::refusal_limit).
    let open_windows = saml_refusals.take_all();
    let store = &environment.store;
    let now = environment.clock.now();
    if let Err(error) =
        crate::saml::refusal_limit::write_closed(store, &saml_refusals, open_windows, now).await
    {
        tracing::error!(%error, "writing the suppressed SAML refusal counts failed");
    }
    tracing::info!("server stopped");
    Ok(())
}

/// Records the settings in force as a `CONFIGURATION_APPLIED` snapshot when they differ from
/// the newest one (EV-7), before any request is served, so the trail says which policy every
/// later event ran under. It runs after the listening lines (scripts wait for the first) but
/// before `axum::serve`, so connections made meanwhile wait for it. A store that cannot record
/// it stops the start: running under a policy the trail does not show would leave the
/// evidence incomplete.
async fn record_configuration(
    environment: &Environment,
    policy: &portner_shared::config::SignInSettings,
) -> Result<(), CommandError> {
    let recorded = crate::policy::record_configuration(
        &environment.store,
        environment.clock.now(),
        &environment.config,
        policy,
    )
    .await?;
    match recorded {
        portner_audit::config_history::Applied::Recorded(snapshot) => {
            out!(
                "Configuration recorded in the audit trail: record {}, {} setting(s) changed",
                snapshot.seq,
                snapshot.changed.len()
            );
            tracing::info!(
                seq = snapshot.seq,
                changed = %snapshot.changed.join(","),
                "configuration snapshot recorded"
            );
        }
        portner_audit::config_history::Applied::Unchanged(snapshot) => {
            out!(
                "Configuration unchanged since audit record {}",
                snapshot.seq
            );
        }
    }
    Ok(())
}

/// Reads the administrators' policy overrides every `REFRESH_EVERY`, so a change made on
/// another replica is in force here within that interval. A failed read keeps the policy in
/// force and is logged.
async fn policy_refresh_task(
    policy: Arc<crate::signin::live_policy::LivePolicy>,
    store: portner_shared::store::Store,
) {
    // The first read was made at start; the next is due one interval later.
    let every = crate::signin::live_policy::REFRESH_EVERY;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        if let Err(error) = policy.refresh(&store).await {
            tracing::warn!(%error, "reading the sign-in policy overrides failed");
        }
    }
}

/// How often the checkpoint task looks at the chain; the configured interval and event count
/// decide whether it writes (LG-5). A minute keeps the hourly schedule within a minute's slack.
const CHECKPOINT_POLL: std::time::Duration = std::time::Duration::from_secs(60);

/// Writes a signed checkpoint whenever one is due, until the server stops. With several
/// replicas each runs this task; two writing at once is harmless, because the chain head's
/// lock serialises them and the second finds nothing new.
async fn checkpoint_task(
    store: portner_shared::store::Store,
    clock: std::sync::Arc<dyn portner_shared::Clock>,
    signer: portner_audit::AuditSigner,
    settings: portner_shared::config::AuditSettings,
) {
    let schedule = portner_audit::CheckpointSchedule {
        interval_secs: settings.checkpoint_interval_secs,
        every_events: settings.checkpoint_events,
    };
    let mut ticks = tokio::time::interval(CHECKPOINT_POLL);
    loop {
        ticks.tick().await;
        let now = clock.now();
        let due = portner_audit::checkpoint::checkpoint_due(&store, now, schedule).await;
        let written = match due {
            Ok(true) => {
                let sink = settings.checkpoint_file.as_deref();
                portner_audit::checkpoint::write_checkpoint(&store, now, &signer, sink).await
            }
            Ok(false) => Ok(None),
            Err(error) => Err(error),
        };
        match written {
            Ok(Some(checkpoint)) => {
                tracing::info!(seq = checkpoint.seq, "audit checkpoint written");
                super::audit::send_to_syslog(&settings, &checkpoint);
            }
            Ok(None) => {}
            Err(error) => tracing::error!(%error, code = error.code(), "audit checkpoint failed"),
        }
    }
}

/// How often expired SAML state (request IDs, pending requests, session participants,
/// logouts in progress) is forgotten. Expired rows are never read as valid, so the interval
/// only bounds how long they take up space.
const SAML_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Forgets expired SAML state every [`SAML_SWEEP`], off the request path, and writes the
/// summaries of this replica's ended refusal windows (so a window's count is written at most
/// about two minutes after it began). With several replicas each runs it; the deletes are
/// idempotent and each replica writes only its own counts.
async fn saml_sweep_task(
    store: portner_shared::store::Store,
    clock: std::sync::Arc<dyn portner_shared::Clock>,
    refusals: crate::saml::refusal_limit::RefusalLimit,
) {
    let mut ticks = tokio::time::interval(SAML_SWEEP);
    loop {
        ticks.tick().await;
        let now = clock.now();
        match crate::saml::sso::sweep_expired(&store, now).await {
            Ok(removed) if removed > 0 => tracing::debug!(removed, "expired SAML state removed"),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "sweeping expired SAML state failed"),
        }
        let closed = refusals.take_closed(now);
        match crate::saml::refusal_limit::write_closed(&store, &refusals, closed, now).await {
            Ok(written) if written > 0 => tracing::info!(written, "suppressed refusals summarised"),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "summarising suppressed SAML refusals failed"),
        }
    }
}

/// The SMTP relay for notices to users, if configured (HD-5).
fn mailer(
    config: &portner_shared::config::Config,
) -> Result<Option<crate::notify::Mailer>, CommandError> {
    let (Some(url), Some(from)) = (&config.smtp_url, &config.smtp_from) else {
        tracing::warn!(
            "smtp_url is not set: notices to users about sign-in changes are queued and given \
             up after a day (HD-5)"
        );
        return Ok(None);
    };
    crate::notify::Mailer::new(url.expose(), from)
        .map(Some)
        .map_err(CommandError::Failed)
}

/// Sends queued notices every [`crate::notify::ROUND`]. With several replicas each runs it;
/// the claim's lease keeps two from sending the same notice.
async fn notify_task(
    store: portner_shared::store::Store,
    clock: std::sync::Arc<dyn portner_shared::Clock>,
    mailer: Option<crate::notify::Mailer>,
) {
    let mut ticks = tokio::time::interval(crate::notify::ROUND);
    loop {
        ticks.tick().await;
        match crate::notify::deliver_due(&store, &clock, mailer.as_ref()).await {
            Ok(report) if report.sent + report.retried + report.given_up > 0 => {
                tracing::info!(?report, "notices to users processed");
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "sending notices failed"),
        }
    }
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
