//! `portner sync enable|plan|run|status|retry|migrate|import-rights` (issue 6;
//! mitid-erhverv-idm-api.md §7).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_idm_sync::reconcile::{self, ReconcileReport};
use portner_idm_sync::worker::{Worker, WorkerSettings};
use portner_idm_sync::{catalogue, desired};
use portner_shared::domain::{Cvr, OutboxState, SyncAction, SyncMode, SyncOrganisation};
use serde_json::json;

use super::{CommandError, Environment};
use crate::cli::{ListArgs, SyncCommand, SyncEnableArgs, SyncPlanArgs, SyncRunArgs};

pub(super) async fn run(
    command: SyncCommand,
    environment: &Environment,
) -> Result<(), CommandError> {
    match command {
        SyncCommand::Enable(args) => enable(args, environment).await,
        SyncCommand::Plan(args) => plan(args, environment).await,
        SyncCommand::Run(args) => drain(args, environment).await,
        SyncCommand::Status(args) => status(args, environment).await,
        SyncCommand::Retry(args) => retry(args.id, environment).await,
        SyncCommand::Migrate(args) => super::sync_migrate::migrate(args, environment).await,
        SyncCommand::ImportRights(args) => import_rights(args, environment).await,
    }
}

/// Imports each synced organisation's role catalogue (or the one named) and prints what
/// changed; the rights themselves are listed by `/admin/rights` and `GET /api/v1/rights`.
async fn import_rights(args: SyncPlanArgs, environment: &Environment) -> Result<(), CommandError> {
    let worker = worker(environment, WorkerSettings::default());
    let context = AuditContext::cli();
    let mut imports = Vec::new();
    for settings in settings_for(environment, args.org.as_deref()).await? {
        let client = worker.client(&settings).map_err(failed)?;
        let now = environment.clock.now();
        let store = &environment.store;
        let import = catalogue::import(store, &client, &settings.org, now, &context)
            .await
            .map_err(failed)?;
        imports.push((settings.org, import));
    }
    if args.json {
        let value: Vec<_> = imports
            .iter()
            .map(|(org, import)| json!({"org": org, "import": import}))
            .collect();
        out!("{}", serde_json::Value::Array(value));
        return Ok(());
    }
    for (org, import) in imports {
        out!(
            "{org}: {} roles offered, {} added, {} renamed, {} skipped",
            import.offered,
            import.added,
            import.renamed,
            import.skipped
        );
    }
    Ok(())
}

/// Puts a failed action back in the queue, audited with the operator as actor.
async fn retry(id: i64, environment: &Environment) -> Result<(), CommandError> {
    use crate::sync_queue::{QueueError, Scope, requeue};
    let clock = environment.clock.as_ref();
    let context = AuditContext::cli();
    match requeue(&environment.store, clock, &context, id, Scope::All).await {
        Ok(_) => {
            out!("action {id} queued again");
            Ok(())
        }
        Err(QueueError::NotFound | QueueError::NotFailed) => {
            Err(CommandError::Failed(format!("no failed action {id}")))
        }
        Err(error) => Err(failed(error)),
    }
}

pub(super) fn failed(error: impl std::fmt::Display) -> CommandError {
    CommandError::Failed(error.to_string())
}

async fn enable(args: SyncEnableArgs, environment: &Environment) -> Result<(), CommandError> {
    let org: Cvr = args.org.parse()?;
    let mode: SyncMode = args.mode.parse()?;
    if !args.base_url.starts_with("https://") {
        return Err(failed("--base-url must be an https:// URL"));
    }
    let now = environment.clock.now();
    let mut tx = environment.store.begin().await?;
    if tx.organisation(&org).await?.is_none() {
        return Err(failed(format!("no organisation {org}")));
    }
    let scope_group = match &args.group {
        Some(name) => Some(
            tx.group_by_name(&org, name)
                .await?
                .ok_or_else(|| failed(format!("{org} has no group named {name:?}")))?
                .id,
        ),
        None => None,
    };
    let settings = SyncOrganisation {
        org: org.clone(),
        mode,
        base_url: args.base_url,
        client_cert_path: args.client_cert,
        client_key_path: args.client_key,
        trust_roots_path: args.trust_roots,
        default_email: None,
        scope_group,
    };
    tx.upsert_sync_organisation(&settings, now).await?;
    let (queued, suspended) = queue_initial_load(&mut tx, &settings, now).await?;
    let event = AuditEvent::SyncEnabled {
        org: org.clone(),
        mode: mode.as_str().to_owned(),
        scope_group,
        queued,
        suspended,
    };
    portner_audit::append(
        &mut tx,
        now,
        &AuditContext::cli(),
        &Subject::Organisation(org.clone()),
        &event,
    )
    .await?;
    tx.commit().await?;
    out!(
        "sync enabled for {org} ({}); {queued} users queued, {suspended} outside the group \
         queued for suspension",
        mode.as_str()
    );
    Ok(())
}

/// Queues a creation for every user who belongs in MitID Erhverv and is not linked yet, and a
/// suspension for every linked, remotely active user who no longer belongs because the sync
/// is now scoped to a group they are not in. Returns both counts.
async fn queue_initial_load(
    tx: &mut portner_shared::store::Tx,
    settings: &SyncOrganisation,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(u64, u64), CommandError> {
    let members = match settings.scope_group {
        Some(group) => Some(tx.group_member_ids(group).await?),
        None => None,
    };
    let (mut queued, mut suspended) = (0, 0);
    for user in tx.users(Some(&settings.org)).await? {
        let in_scope = members.as_ref().is_none_or(|set| set.contains(&user.id));
        let link = tx.sync_link(user.id).await?;
        let belongs = desired::belongs(&user, in_scope);
        let action = match &link {
            None if belongs => SyncAction::UpsertUser { user_id: user.id },
            Some(link) if !belongs && !in_scope && link.remote_status == "Active" => {
                SyncAction::SuspendUser { user_id: user.id }
            }
            _ => continue,
        };
        if tx
            .enqueue_sync(&settings.org, &action, now)
            .await?
            .is_some()
        {
            match action {
                SyncAction::SuspendUser { .. } => suspended += 1,
                _ => queued += 1,
            }
        }
    }
    Ok((queued, suspended))
}

pub(super) async fn settings_for(
    environment: &Environment,
    org: Option<&str>,
) -> Result<Vec<SyncOrganisation>, CommandError> {
    let mut tx = environment.store.read().await?;
    let all = tx.sync_organisations().await?;
    tx.rollback().await?;
    match org {
        None => Ok(all),
        Some(text) => {
            let cvr: Cvr = text.parse()?;
            let chosen: Vec<_> = all.into_iter().filter(|s| s.org == cvr).collect();
            if chosen.is_empty() {
                return Err(failed(format!("sync is not enabled for {cvr}")));
            }
            Ok(chosen)
        }
    }
}

pub(super) fn worker(environment: &Environment, mut settings: WorkerSettings) -> Arc<Worker> {
    settings.pkcs12_password = environment.config.sync_pkcs12_password.clone();
    Arc::new(Worker::new(
        environment.store.clone(),
        Arc::clone(&environment.clock),
        settings,
    ))
}

async fn plan(args: SyncPlanArgs, environment: &Environment) -> Result<(), CommandError> {
    let worker = worker(environment, WorkerSettings::default());
    let mut tx = environment.store.read().await?;
    let queued = tx.outbox_actions(OutboxState::Pending, 10_000).await?;
    tx.rollback().await?;
    let mut reports: Vec<(Cvr, ReconcileReport)> = Vec::new();
    for settings in settings_for(environment, args.org.as_deref()).await? {
        let client = worker.client(&settings).map_err(failed)?;
        let report = reconcile::plan(&environment.store, &client, &settings)
            .await
            .map_err(failed)?;
        reports.push((settings.org.clone(), report));
    }
    if args.json {
        let value = json!({
            "queued": queued.iter().map(|a| json!({
                "id": a.id, "org": a.org, "action": a.action, "attempts": a.attempts,
            })).collect::<Vec<_>>(),
            "organisations": reports.iter().map(|(org, report)| json!({
                "org": org, "report": report,
            })).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&value).map_err(failed)?;
        out!("{text}");
        return Ok(());
    }
    out!(
        "{:<8} {:<10} {:<14} {:<38} WHY",
        "ID",
        "ORG",
        "ACTION",
        "USER"
    );
    for action in &queued {
        let user = action.action.user_id().to_string();
        let name = action.action.name();
        out!(
            "{:<8} {:<10} {name:<14} {user:<38} queued",
            action.id,
            action.org
        );
    }
    for (org, report) in &reports {
        for repair in &report.repairs {
            let name = repair.action.name();
            out!(
                "{:<8} {:<10} {name:<14} {:<38} {}",
                "-",
                org,
                repair.username,
                repair.reason
            );
        }
        out!(
            "{org}: {} identities listed, {} stale, {} findings{}",
            report.listed,
            report.stale,
            report.findings.len(),
            if report.guarded {
                " (SAFETY GUARD: no create/unlink/delete)"
            } else {
                ""
            }
        );
        for finding in &report.findings {
            let who = finding.username.as_deref().unwrap_or("-");
            out!("  {:<20} {who:<24} {}", finding.kind, finding.detail);
        }
    }
    Ok(())
}

/// Draws `[#####.....] done/total rate/s` on standard error, at most every 100 ms.
struct ProgressBar {
    started: Instant,
    last: std::sync::Mutex<Instant>,
    quiet: bool,
}

impl ProgressBar {
    fn draw(&self, done: u64, total: u64) {
        if self.quiet {
            return;
        }
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.elapsed() < Duration::from_millis(100) && done < total {
            return;
        }
        *last = Instant::now();
        let width: u64 = 30;
        let filled = (done.min(total) * width)
            .checked_div(total)
            .unwrap_or(width);
        let bar: String = (0..width)
            .map(|i| if i < filled { '#' } else { '.' })
            .collect();
        // Display only: the precision lost converting a count to f64 is irrelevant here.
        #[allow(clippy::cast_precision_loss)]
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        eprint!("\r[{bar}] {done}/{total} {rate:.0}/s ");
        let _ = std::io::stderr().flush();
    }
}

async fn drain(args: SyncRunArgs, environment: &Environment) -> Result<(), CommandError> {
    let settings = WorkerSettings {
        concurrency: args.concurrency.max(1),
        rate_per_second: args.rate,
        max_attempts: args.max_attempts.max(1),
        backoff_base: Duration::from_millis(args.backoff_ms),
        wait_for_retries: args.wait,
        ..WorkerSettings::default()
    };
    let worker = worker(environment, settings);
    if args.reconcile {
        for settings in settings_for(environment, None).await? {
            let client = worker.client(&settings).map_err(failed)?;
            let report = reconcile::reconcile(
                &environment.store,
                &client,
                &settings,
                environment.clock.now(),
            )
            .await
            .map_err(failed)?;
            out!(
                "{}: reconcile queued {} repairs",
                settings.org,
                report.repairs.len()
            );
        }
    }
    let bar = ProgressBar {
        started: Instant::now(),
        last: std::sync::Mutex::new(Instant::now()),
        quiet: args.quiet,
    };
    let started = environment.clock.now();
    let report = worker
        .drain(&|done, total| bar.draw(done, total))
        .await
        .map_err(failed)?;
    if !args.quiet {
        eprintln!();
    }
    let summary = serde_json::to_string(&report).map_err(failed)?;
    let mut tx = environment.store.begin().await?;
    for settings in settings_for(environment, None).await? {
        tx.record_sync_run(
            &settings.org,
            "drain",
            started,
            environment.clock.now(),
            &summary,
        )
        .await?;
    }
    tx.commit().await?;
    out!(
        "sync run: {} succeeded, {} retried later, {} failed, {} recovered",
        report.succeeded,
        report.retried,
        report.failed,
        report.recovered
    );
    Ok(())
}

async fn status(args: ListArgs, environment: &Environment) -> Result<(), CommandError> {
    let mut tx = environment.store.read().await?;
    let summary = tx.outbox_summary().await?;
    let failures = tx.outbox_actions(OutboxState::Failed, 100).await?;
    let mut organisations = Vec::new();
    for settings in tx.sync_organisations().await? {
        let last = tx.last_sync_run(&settings.org, "reconcile").await?;
        let findings = tx.open_sync_findings(&settings.org).await?;
        let links = tx.sync_links(&settings.org).await?.len();
        organisations.push((settings, last, findings, links));
    }
    tx.rollback().await?;
    if args.json {
        let value = json!({
            "queue": summary
                .by_state
                .iter()
                .map(|(state, count)| json!({"state": state, "count": count}))
                .collect::<Vec<_>>(),
            "oldest_pending": summary.oldest_pending,
            "failed": failures.iter().map(|a| json!({
                "id": a.id, "action": a.action, "attempts": a.attempts, "reason": a.last_error,
            })).collect::<Vec<_>>(),
            "organisations": organisations.iter().map(|(s, last, findings, links)| json!({
                "org": s.org, "mode": s.mode, "linked": links,
                "last_reconcile": last
                    .as_ref()
                    .map(|(at, summary)| json!({"at": at, "summary": summary})),
                "open_findings": findings,
            })).collect::<Vec<_>>(),
        });
        out!("{}", serde_json::to_string_pretty(&value).map_err(failed)?);
        return Ok(());
    }
    out!("queue:");
    for (state, count) in &summary.by_state {
        out!("  {state:<10} {count}");
    }
    match summary.oldest_pending {
        Some(at) => out!("oldest pending: {}", at.to_rfc3339()),
        None => out!("oldest pending: none"),
    }
    out!("failed actions: {}", failures.len());
    for action in &failures {
        let reason = action.last_error.as_deref().unwrap_or("-");
        out!(
            "  #{:<6} {:<12} {} after {} attempts: {reason}",
            action.id,
            action.action.name(),
            action.action.user_id(),
            action.attempts
        );
    }
    for (settings, last, findings, links) in &organisations {
        out!(
            "{} ({}): {links} linked users",
            settings.org,
            settings.mode.as_str()
        );
        match last {
            Some((at, summary)) => out!("  last reconcile: {} {summary}", at.to_rfc3339()),
            None => out!("  last reconcile: never"),
        }
        out!("  open drift findings: {}", findings.len());
        for finding in findings {
            out!("    {:<20} {}", finding.kind, finding.detail);
        }
    }
    Ok(())
}
