//! `portner audit verify|checkpoint|export|verify-pack|prune|key [rotate]`.
//!
//! The auditor console (`/audit`, `crate::console::audit`) runs the same verification and
//! export for signed-in auditors; `serve` hands it [`signer`] and [`settings`].

use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use portner_audit::evidence::{ExportRequest, PackLimits};
use portner_audit::retention::RetentionPolicy;
use portner_audit::{AuditContext, AuditSigner, ChainVerdict};

use super::{CommandError, Environment};
use crate::cli::{
    AuditCommand, AuditExportArgs, AuditKeyArgs, AuditKeyCommand, AuditPruneArgs, AuditVerifyArgs,
    AuditVerifyPackArgs,
};

/// Largest external checkpoint file read (about 200 bytes a line, years of hourly lines).
const MAX_SINK_BYTES: u64 = 64 * 1024 * 1024;

pub(super) async fn run(
    command: AuditCommand,
    environment: &Environment,
) -> Result<(), CommandError> {
    match command {
        AuditCommand::Verify(args) => verify(&args, environment).await,
        AuditCommand::Checkpoint => checkpoint(environment).await,
        AuditCommand::Export(args) => export(&args, environment).await,
        AuditCommand::VerifyPack(args) => verify_pack(&args),
        AuditCommand::Prune(args) => prune(&args, environment).await,
        AuditCommand::Key(AuditKeyArgs { action: None }) => {
            out!("{}", environment.data.audit.fingerprint());
            Ok(())
        }
        AuditCommand::Key(AuditKeyArgs {
            action: Some(AuditKeyCommand::Rotate),
        }) => rotate_key(environment).await,
    }
}

/// The data folder's audit key as the audit crate's signer, trusting the retired audit
/// certificates for the checkpoints they signed.
pub(crate) fn signer(environment: &Environment) -> Result<AuditSigner, CommandError> {
    let pair = &environment.data.audit;
    let signer = AuditSigner::new(pair.private_key.clone(), pair.certificate.clone())?;
    Ok(signer.with_retired(environment.data.audit_retired.clone()))
}

/// `portner audit key rotate`: seal the chain with the outgoing key, swap the key files
/// (keeping the old certificate), record the rotation, and sign it with the new key.
///
/// The file swap cannot share a transaction with the event; the event follows it at once, and
/// should recording fail, the message says so and `portner audit checkpoint` still signs the
/// chain with the new key (the rotation then shows only as a change of key fingerprint
/// between checkpoints).
async fn rotate_key(environment: &Environment) -> Result<(), CommandError> {
    let settings = &environment.config.audit;
    let sink = settings.checkpoint_file.as_deref();
    let store = &environment.store;
    let outgoing = signer(environment)?;
    if let Some(checkpoint) =
        portner_audit::checkpoint::write_checkpoint(store, environment.clock.now(), &outgoing, sink)
            .await?
    {
        out!(
            "checkpoint written at record {} with the outgoing key",
            checkpoint.seq
        );
        send_to_syslog(settings, &checkpoint);
    }

    let root = &environment.data.root;
    let next = crate::datadir::rotation::rotate(root, &environment.data.audit)
        .map_err(|error| CommandError::Failed(format!("audit key not rotated: {error}")))?;
    let mut retired = environment.data.audit_retired.clone();
    retired.push(environment.data.audit.certificate.clone());
    let incoming =
        AuditSigner::new(next.private_key.clone(), next.certificate.clone())?.with_retired(retired);

    let recorded = record_rotation(environment, &outgoing, &incoming, sink).await;
    if let Err(error) = recorded {
        return Err(CommandError::Failed(format!(
            "the audit key was rotated (new certificate SHA-256 {}), but recording it failed: \
             {error}; run `portner audit checkpoint` once the store is reachable",
            incoming.fingerprint()
        )));
    }
    out!("audit key rotated");
    out!("new audit certificate SHA-256: {}", incoming.fingerprint());
    out!(
        "retired certificate SHA-256: {} (kept in {})",
        outgoing.fingerprint(),
        crate::datadir::rotation::retired_folder(root).display()
    );
    out!(
        "give auditors the new fingerprint out of band, and restart `portner serve` (copy \
         audit.key, audit.crt and audit-retired/ to every replica first)"
    );
    Ok(())
}

/// The rotation's event, then the new key's first checkpoint, which covers it.
async fn record_rotation(
    environment: &Environment,
    outgoing: &AuditSigner,
    incoming: &AuditSigner,
    sink: Option<&std::path::Path>,
) -> Result<(), CommandError> {
    let store = &environment.store;
    let now = environment.clock.now();
    let mut tx = store.begin().await?;
    let event = portner_audit::AuditEvent::AuditKeyRotated {
        retired_fingerprint: outgoing.fingerprint(),
        new_fingerprint: incoming.fingerprint(),
    };
    let context = AuditContext::cli();
    let subject = portner_audit::Subject::Installation;
    portner_audit::append(&mut tx, now, &context, &subject, &event).await?;
    tx.commit().await?;
    if let Some(checkpoint) =
        portner_audit::checkpoint::write_checkpoint(store, now, incoming, sink).await?
    {
        out!(
            "checkpoint written at record {} with the new key",
            checkpoint.seq
        );
        send_to_syslog(&environment.config.audit, &checkpoint);
    }
    Ok(())
}

/// The retention policy configured.
pub(crate) fn retention(environment: &Environment) -> RetentionPolicy {
    RetentionPolicy {
        lifecycle_days: environment.config.audit.retention_lifecycle_days,
        saml_days: environment.config.audit.retention_saml_days,
    }
}

async fn verify(args: &AuditVerifyArgs, environment: &Environment) -> Result<(), CommandError> {
    let verifier = signer(environment)?.verifier()?;
    let sink = args
        .checkpoint_file
        .clone()
        .or_else(|| environment.config.audit.checkpoint_file.clone());
    let external = match &sink {
        Some(path) if path.exists() => portner_audit::checkpoint::read_sink(path, MAX_SINK_BYTES)?,
        _ => Vec::new(),
    };
    let verification =
        portner_audit::verify_with_checkpoints(&environment.store, &verifier, &external).await?;

    match verification.chain {
        ChainVerdict::Intact { count } => out!("audit chain OK: {count} records"),
        ChainVerdict::Broken { seq, problem } => {
            out!("audit chain BROKEN at record {seq}: {problem}");
        }
    }
    for found in &verification.checkpoint_problems {
        out!("checkpoint {} FAILED: {}", found.seq, found.problem);
    }
    out!(
        "checkpoints checked: {}, failed: {}",
        verification.checkpoints_checked,
        verification.checkpoint_problems.len()
    );
    if verification.is_intact() {
        Ok(())
    } else {
        Err(CommandError::Failed(
            "audit trail verification failed".to_owned(),
        ))
    }
}

async fn checkpoint(environment: &Environment) -> Result<(), CommandError> {
    let signer = signer(environment)?;
    let sink = environment.config.audit.checkpoint_file.as_deref();
    let now = environment.clock.now();
    match portner_audit::checkpoint::write_checkpoint(&environment.store, now, &signer, sink)
        .await?
    {
        Some(checkpoint) => {
            out!("checkpoint written at record {}", checkpoint.seq);
            send_to_syslog(&environment.config.audit, &checkpoint);
        }
        None => out!("no new records since the last checkpoint; nothing written"),
    }
    Ok(())
}

async fn export(args: &AuditExportArgs, environment: &Environment) -> Result<(), CommandError> {
    if args.out.exists() {
        return Err(CommandError::Failed(format!(
            "{} exists; choose another --out",
            args.out.display()
        )));
    }
    let request = ExportRequest {
        from: parse_date("--from", &args.from)?,
        to: parse_date("--to", &args.to)?,
        out: args.out.clone(),
        retention: retention(environment),
        settings: settings(environment).await?,
    };
    let signer = signer(environment)?;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };

    let now = environment.clock.now();
    let summary = portner_audit::evidence::export(
        &environment.store,
        now,
        &AuditContext::cli(),
        &signer,
        &request,
        &mut progress,
    )
    .await?;
    bar.finish_and_clear();
    if let Some(checkpoint) = &summary.new_checkpoint {
        send_to_sinks(&environment.config.audit, checkpoint)?;
    }
    out!(
        "evidence pack written: {} ({} events, records {}-{}, anchored at checkpoint {})",
        summary.path.display(),
        summary.events,
        summary.first_seq,
        summary.last_seq,
        summary.checkpoint_seq
    );
    out!("audit certificate SHA-256: {}", signer.fingerprint());
    Ok(())
}

/// Sends a checkpoint to the configured syslog socket, if any. A failure is logged, not fatal:
/// the checkpoint is committed already, and `portner audit verify` still has the database's
/// copy and the file sink's.
pub(crate) fn send_to_syslog(
    settings: &portner_shared::config::AuditSettings,
    checkpoint: &portner_audit::Checkpoint,
) {
    if let Some(socket) = &settings.checkpoint_syslog
        && let Err(error) = portner_audit::checkpoint::send_to_syslog(socket, checkpoint)
    {
        tracing::error!(%error, code = error.code(), "checkpoint not sent to syslog");
    }
}

/// Sends a checkpoint written outside `write_checkpoint` (by an export) to the file and syslog.
fn send_to_sinks(
    settings: &portner_shared::config::AuditSettings,
    checkpoint: &portner_audit::Checkpoint,
) -> Result<(), CommandError> {
    if let Some(path) = &settings.checkpoint_file {
        portner_audit::checkpoint::append_to_file(path, checkpoint)?;
    }
    send_to_syslog(settings, checkpoint);
    Ok(())
}

/// Runs without a database or data folder.
pub(super) fn verify_pack(args: &AuditVerifyPackArgs) -> Result<(), CommandError> {
    let verdict = portner_audit::evidence::verify_pack(
        &args.pack,
        args.expect_fingerprint.as_deref(),
        PackLimits::default(),
    )?;
    out!("{}", verdict.text());
    if args.expect_fingerprint.is_none() && verdict.is_verified() {
        out!(
            "note: compare the certificate fingerprint with the one the organisation gave you \
             (--expect-fingerprint), since a forger could replace the certificate as well"
        );
    }
    if verdict.is_verified() {
        Ok(())
    } else {
        Err(CommandError::Failed(
            "evidence pack failed verification".to_owned(),
        ))
    }
}

async fn prune(args: &AuditPruneArgs, environment: &Environment) -> Result<(), CommandError> {
    let verifier = signer(environment)?.verifier()?;
    let now = environment.clock.now();
    let outcome = portner_audit::retention::prune(
        &environment.store,
        now,
        &AuditContext::cli(),
        &verifier,
        retention(environment),
        args.through,
    )
    .await?;
    match outcome {
        Some(outcome) => out!(
            "pruned through checkpoint {}: {} lifecycle/admin and {} SAML records removed",
            outcome.anchor.seq,
            outcome.removed_lifecycle,
            outcome.removed_saml
        ),
        None => out!("nothing to prune: no checkpoint has a segment past retention"),
    }
    Ok(())
}

/// The non-secret settings the control matrix cites and `inventory/policy.json` lists, with
/// the sign-in policy as the administrators' overrides make it.
async fn settings(environment: &Environment) -> Result<Vec<(String, String)>, CommandError> {
    let file = environment.config.signin;
    let signin = crate::policy::effective_signin(&environment.store, file).await?;
    Ok(crate::policy::with_policy(
        crate::policy::settings(&environment.config),
        &signin,
    ))
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
fn parse_date(flag: &str, text: &str) -> Result<DateTime<Utc>, CommandError> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(midnight) = day.and_hms_opt(0, 0, 0)
    {
        return Ok(midnight.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|_| {
            CommandError::Usage(format!(
                "{flag}: {text:?} is not YYYY-MM-DD or an RFC 3339 time"
            ))
        })
}
