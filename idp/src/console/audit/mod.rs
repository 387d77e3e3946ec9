//! The auditor console, `/audit` (issue 7, items 2 and 6): the chain's status, the periods
//! that can be exported, and evidence packs made on request.
//!
//! Auditors read, never change: the only write this console causes is the one an export makes
//! by its nature, the `EVIDENCE_EXPORTED` event (LG-8) naming the auditor as actor, and the
//! checkpoint an export writes when none covers the chain's head yet. The chain check is the
//! one `portner audit verify` runs ([`portner_audit::verify_with_checkpoints`], with the
//! external checkpoint file when one is configured); the pack is the one `portner audit
//! export` writes ([`portner_audit::evidence::export`]).
//!
//! The export writes file by file with blocking I/O, and the chain walk hashes every record,
//! so both run on tokio's blocking pool (`on_blocking_thread`) rather than on a worker
//! thread that serves requests. One export runs at a time per server process: a second one
//! asked for meanwhile is refused with "try again" ([`ExportError::Busy`]) rather than
//! queued, because a queued request would hold the auditor's browser for the whole length of
//! the export before it. Replicas each allow one.
//!
//! Known shortcomings: the chain is walked on every view of `/audit`, which takes at least as
//! long as reading the records kept (retention bounds them; `docs/benchmarks.md` measures the
//! plain read, not the walk); an export whose browser goes away still completes and is
//! recorded; a server that dies mid-export leaves a `.audit-export-*` folder with a
//! `.partial` file in the data folder, which nothing reads and which may be deleted.

pub mod pages;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use portner_audit::evidence::{ExportRequest, PeriodProblem};
use portner_audit::retention::RetentionPolicy;
use portner_audit::{AuditError, AuditSigner, Checkpoint, Head, Verification};
use portner_shared::config::AuditSettings;
use tokio::sync::Semaphore;

use super::access::Operator;
use crate::app::AppState;

/// Largest external checkpoint file read, as `portner audit verify` reads it.
const MAX_SINK_BYTES: u64 = 64 * 1024 * 1024;

/// What the auditor console needs beyond the store: the audit key, the checkpoint and
/// retention settings, the values the control matrix shows, and a folder for exports.
#[derive(Clone)]
pub struct AuditDesk {
    signer: AuditSigner,
    settings: AuditSettings,
    matrix: Vec<(String, String)>,
    work_dir: PathBuf,
    exporting: Arc<Semaphore>,
}

impl AuditDesk {
    /// The console's set-up: the data folder's audit key, the audit settings, the non-secret
    /// settings the control matrix shows (as `portner audit export` passes them), and the
    /// folder temporary packs are written in (the data folder).
    pub fn new(
        signer: AuditSigner,
        settings: AuditSettings,
        matrix: Vec<(String, String)>,
        work_dir: PathBuf,
    ) -> Self {
        Self {
            signer,
            settings,
            matrix,
            work_dir,
            exporting: Arc::new(Semaphore::new(1)),
        }
    }

    /// The retention policy configured.
    pub fn retention(&self) -> RetentionPolicy {
        RetentionPolicy {
            lifecycle_days: self.settings.retention_lifecycle_days,
            saml_days: self.settings.retention_saml_days,
        }
    }

    /// The audit certificate's SHA-256 fingerprint.
    pub fn fingerprint(&self) -> String {
        self.signer.fingerprint()
    }

    /// Fingerprints of the retired audit certificates still trusted for older checkpoints.
    pub fn retired_fingerprints(&self) -> Vec<String> {
        self.signer
            .retired()
            .iter()
            .map(portner_audit::checkpoint::certificate_fingerprint)
            .collect()
    }
}

impl std::fmt::Debug for AuditDesk {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AuditDesk")
            .field("signer", &self.signer)
            .field("work_dir", &self.work_dir)
            .finish_non_exhaustive()
    }
}

/// Why the console could not show the status or make a pack.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The period is unusable; nothing was written.
    #[error("{0}")]
    Period(PeriodProblem),
    /// Another export is running in this process; nothing was written.
    #[error("another export is running")]
    Busy,
    /// The store, the key or the file system failed.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The blocking task failed or a temporary file could not be handled.
    #[error("{0}")]
    Internal(String),
}

/// The chain's state as `portner audit verify` reports it, with what the page shows beside.
#[derive(Debug)]
pub struct ChainStatus {
    /// Chain walk and checkpoint checks.
    pub verification: Verification,
    /// Where the chain starts (sequence 0 until the first prune).
    pub anchor: Head,
    /// The newest checkpoint, if any.
    pub newest: Option<Checkpoint>,
    /// Whether the external checkpoint file took part.
    pub external_file: bool,
}

/// Verifies chain and checkpoints (with the external file when configured and present) and
/// reads the anchor and newest checkpoint.
///
/// # Errors
///
/// The store, the certificate or the external file could not be read.
pub async fn chain_status(state: &AppState, desk: &AuditDesk) -> Result<ChainStatus, ExportError> {
    let verifier = desk.signer.verifier()?;
    let sink = desk.settings.checkpoint_file.clone();
    let store = state.store.clone();
    let checked = on_blocking_thread(move || async move {
        let external = match &sink {
            Some(path) if path.exists() => {
                portner_audit::checkpoint::read_sink(path, MAX_SINK_BYTES)?
            }
            _ => Vec::new(),
        };
        let verification =
            portner_audit::verify_with_checkpoints(&store, &verifier, &external).await?;
        Ok::<_, AuditError>((verification, !external.is_empty()))
    })
    .await?;
    let (verification, external_file) = checked?;

    let mut tx = state.store.read().await.map_err(AuditError::from)?;
    let anchor = portner_audit::anchor(&mut tx).await?;
    let newest = portner_audit::checkpoint::last_checkpoint(&mut tx).await?;
    tx.rollback().await.map_err(AuditError::from)?;
    Ok(ChainStatus {
        verification,
        anchor,
        newest,
        external_file,
    })
}

/// A finished pack, ready to send: its file is already unlinked from the data folder, so it
/// disappears when the response has been sent (or the client went away).
#[derive(Debug)]
pub struct Pack {
    /// The open pack.
    pub file: tokio::fs::File,
    /// Its size in bytes.
    pub size: u64,
    /// The name to offer the browser.
    pub name: String,
}

/// Writes the evidence pack for `[from, to)` as the operator, then opens it for sending.
///
/// The period is checked first (the same check the export makes), so a bad period neither
/// waits for nor takes the export slot and writes nothing. The pack goes to a fresh folder in
/// the data folder; the export writes `<name>.partial` there and renames it when complete.
///
/// # Errors
///
/// [`ExportError::Period`] for an unusable period, [`ExportError::Busy`] while another export
/// runs; otherwise the export failed, and its temporary folder is gone.
pub async fn export(
    state: &AppState,
    desk: &AuditDesk,
    operator: &Operator,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Pack, ExportError> {
    let now = state.clock.now();
    portner_audit::evidence::check_period_at(from, to, desk.retention(), now)
        .map_err(ExportError::Period)?;
    let permit = Arc::clone(&desk.exporting)
        .try_acquire_owned()
        .map_err(|_| ExportError::Busy)?;
    let folder = tempfile::Builder::new()
        .prefix(".audit-export-")
        .tempdir_in(&desk.work_dir)
        .map_err(|error| io_error(&desk.work_dir, error))?;
    let name = format!(
        "portner-evidence-{}-{}.zip",
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d")
    );
    let request = ExportRequest {
        from,
        to,
        out: folder.path().join(&name),
        retention: desk.retention(),
        // The file's values as recorded at start, with the sign-in policy in force now.
        settings: crate::policy::with_policy(desk.matrix.clone(), &state.signin.settings()),
    };
    let store = state.store.clone();
    let signer = desk.signer.clone();
    // The export's own event names the auditor (LG-8), not the installation.
    let context = operator.origin.audit(Some(operator.user.id));

    // The folder travels with the task and comes back with the result, so it is removed
    // whether the pack is sent or the request is dropped while the export runs.
    let (folder, written) = on_blocking_thread(move || async move {
        let _slot = permit;
        let mut progress = |_done: u64, _total: u64| {};
        let written = portner_audit::evidence::export(
            &store,
            now,
            &context,
            &signer,
            &request,
            &mut progress,
        )
        .await;
        (folder, written)
    })
    .await?;
    let summary = written?;
    if let Some(checkpoint) = &summary.new_checkpoint {
        send_to_sinks(&desk.settings, checkpoint);
    }

    let file = tokio::fs::File::open(&summary.path)
        .await
        .map_err(|error| io_error(&summary.path, error))?;
    let size = file
        .metadata()
        .await
        .map_err(|error| io_error(&summary.path, error))?
        .len();
    // Unlinks the pack; the open handle keeps its bytes readable until the response is done.
    drop(folder);
    tracing::info!(
        user_id = %operator.user.id,
        events = summary.events,
        first_seq = summary.first_seq,
        last_seq = summary.last_seq,
        "evidence pack exported from the console"
    );
    Ok(Pack { file, size, name })
}

/// Sends a checkpoint the export wrote to the external file and syslog, as the CLI does. A
/// failure is logged: the checkpoint is committed, and the pack is already complete.
fn send_to_sinks(settings: &AuditSettings, checkpoint: &Checkpoint) {
    if let Some(path) = &settings.checkpoint_file
        && let Err(error) = portner_audit::checkpoint::append_to_file(path, checkpoint)
    {
        tracing::error!(%error, code = error.code(), "checkpoint not appended to the file");
    }
    if let Some(socket) = &settings.checkpoint_syslog
        && let Err(error) = portner_audit::checkpoint::send_to_syslog(socket, checkpoint)
    {
        tracing::error!(%error, code = error.code(), "checkpoint not sent to syslog");
    }
}

/// Runs the future `make` builds on tokio's blocking pool, driven by the current runtime, so
/// its blocking file I/O and hashing never hold a worker thread that serves requests.
async fn on_blocking_thread<F, Fut, T>(make: F) -> Result<T, ExportError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(make()))
        .await
        .map_err(|error| ExportError::Internal(format!("audit task failed: {error}")))
}

fn io_error(path: &std::path::Path, source: std::io::Error) -> ExportError {
    ExportError::Audit(AuditError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod http_tests;
