//! The reconciler: a full read of the organisation's identities, compared with the desired
//! state, producing drift findings and the repairs to queue (mitid-erhverv-idm-api.md §7.5).
//!
//! [`plan`] only reads and reports; [`reconcile`] first imports the role catalogue
//! ([`crate::catalogue`]), then records findings and queues repairs in the outbox, where the
//! worker carries them out with its retry and audit machinery. It runs on the schedule of
//! `portner serve` ([`crate::worker::schedule`]) and on demand (`portner sync run
//! --reconcile`).
//!
//! Not built yet (written down where it would live): the E3 mirror table (§7.5 step 4; the
//! previous run's link count stands in for the previous snapshot in the safety guard),
//! per-finding auto-remedy switches (all repairs below are automatic except `UNASSOCIATED`,
//! which is reported for an administrator), and `STALE_LOCKED`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::domain::{
    Cvr, Organisation, SyncAction, SyncLink, SyncMode, SyncOrganisation, User, UserId,
};
use portner_shared::store::{Store, StoreError};
use serde::Serialize;

use crate::api::{AuthenticatorType, EmployeeList, EmployeeStatus, EmployeeSummary};
use crate::client::{ApiError, IdmClient};
use crate::desired;

/// Attempts per read (§7.5: E3 up to 3 attempts; per-item retries for C1/E2).
const READ_ATTEMPTS: u32 = 3;

/// One drift finding.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// `ACCOUNT_DELETED`, `ACCOUNT_DISABLED`, `SHOULD_BE_SUSPENDED`, `MISSING_CREATE`,
    /// `UNASSOCIATED`, `NAMEID_MISMATCH`, `SAFETY_GUARD`.
    pub kind: &'static str,
    /// The local user, if any.
    pub user_id: Option<UserId>,
    /// Their username, for people reading the plan.
    pub username: Option<String>,
    /// The remote identity, if any.
    pub employee_uuid: Option<String>,
    /// Detail without personal data.
    pub detail: String,
}

/// One repair the reconciler queues (or, in a plan, would queue).
#[derive(Clone, Debug, Serialize)]
pub struct Repair {
    /// The user.
    pub user_id: UserId,
    /// Their username.
    pub username: String,
    /// The outbox action.
    pub action: SyncAction,
    /// Why.
    pub reason: &'static str,
}

/// The result of a reconcile or plan.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReconcileReport {
    /// Identities listed by E3.
    pub listed: usize,
    /// Identities whose per-item reads failed after retries (skipped, not judged).
    pub stale: usize,
    /// Findings.
    pub findings: Vec<Finding>,
    /// Repairs.
    pub repairs: Vec<Repair>,
    /// Whether the safety guard suppressed create/unlink/delete repairs (§7.5 step 2).
    pub guarded: bool,
}

/// Why a reconcile stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Audit failed.
    #[error(transparent)]
    Audit(#[from] portner_audit::AuditError),
    /// The full read failed after its retries.
    #[error("full read failed: {0}")]
    Api(#[from] ApiError),
    /// The organisation is unknown.
    #[error("organisation {0} is not registered")]
    UnknownOrganisation(Cvr),
    /// The role catalogue could not be imported.
    #[error(transparent)]
    Catalogue(#[from] crate::catalogue::CatalogueError),
}

/// Calls `call` up to [`READ_ATTEMPTS`] times while it fails transiently.
pub(crate) async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(error) if error.is_transient() && attempt < READ_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
            }
            other => return other,
        }
    }
}

/// What one listed identity looks like after the per-item reads.
struct Remote {
    summary: EmployeeSummary,
    local_id: Option<String>,
}

/// Reads and compares without writing anything: the `portner sync plan` view.
///
/// # Errors
///
/// The store failed, or E3 failed after its retries.
pub async fn plan(
    store: &Store,
    client: &IdmClient,
    settings: &SyncOrganisation,
) -> Result<ReconcileReport, ReconcileError> {
    let mut tx = store.read().await?;
    let org = tx
        .organisation(&settings.org)
        .await?
        .ok_or_else(|| ReconcileError::UnknownOrganisation(settings.org.clone()))?;
    let users = tx.users(Some(&settings.org)).await?;
    let links = tx.sync_links(&settings.org).await?;
    let mut cprs = HashMap::new();
    let linked_users: HashSet<UserId> = links.iter().map(|link| link.user_id).collect();
    for user in users.iter().filter(|user| !linked_users.contains(&user.id)) {
        if let Some(cpr) = tx.user_cpr(user.id).await? {
            cprs.insert(user.id, cpr.expose().to_owned());
        }
    }
    let pending = pending_upserts(&mut tx).await?;
    let in_scope = match settings.scope_group {
        Some(group) => Some(tx.group_member_ids(group).await?),
        None => None,
    };
    tx.rollback().await?;
    let belonging: HashSet<UserId> = users
        .iter()
        .filter(|user| {
            let member = in_scope.as_ref().is_none_or(|set| set.contains(&user.id));
            desired::belongs(user, member)
        })
        .map(|user| user.id)
        .collect();

    // §2.5: refresh the token before a long run.
    client.forget_token().await;
    let listed: EmployeeList = with_retries(|| client.search()).await?;
    let mut report = ReconcileReport {
        listed: listed.employees.len(),
        ..ReconcileReport::default()
    };
    // §7.5 step 2: an empty or shrunken listing while users are linked is not believed.
    let floor = links.len() - links.len() / 5;
    report.guarded = !links.is_empty() && listed.employees.len() < floor;
    if report.guarded {
        report.findings.push(Finding {
            kind: "SAFETY_GUARD",
            user_id: None,
            username: None,
            employee_uuid: None,
            detail: format!(
                "E3 listed {} identities while {} users are linked; no unlink, create or delete",
                listed.employees.len(),
                links.len()
            ),
        });
    }

    let linked_uuids: HashSet<&str> = links.iter().map(|l| l.employee_uuid.as_str()).collect();
    let mut remote = HashMap::new();
    for summary in listed.employees {
        if linked_uuids.contains(summary.uuid.as_str()) && settings.mode == SyncMode::LocalIdp {
            match with_retries(|| client.authenticators(&summary.uuid)).await {
                Ok(list) => {
                    let local_id = list
                        .authenticators
                        .into_iter()
                        .find(|auth| auth.kind == AuthenticatorType::LocalIdentityProvider)
                        .and_then(|auth| auth.id);
                    remote.insert(summary.uuid.clone(), Remote { summary, local_id });
                }
                // §7.5 step 3: a failed item is stale and skipped; the run continues.
                Err(_) => report.stale += 1,
            }
        } else {
            remote.insert(
                summary.uuid.clone(),
                Remote {
                    summary,
                    local_id: None,
                },
            );
        }
    }
    compare(
        &mut report,
        &org,
        settings,
        &users,
        &links,
        &remote,
        &cprs,
        &pending,
        &belonging,
    );
    Ok(report)
}

async fn pending_upserts(
    tx: &mut portner_shared::store::Tx,
) -> Result<HashSet<UserId>, StoreError> {
    let pending = tx
        .outbox_actions(portner_shared::domain::OutboxState::Pending, i64::MAX)
        .await?;
    Ok(pending
        .into_iter()
        .filter(|action| matches!(action.action, SyncAction::UpsertUser { .. }))
        .map(|action| action.action.user_id())
        .collect())
}

#[allow(
    clippy::too_many_arguments,
    reason = "one comparison step over the local and remote views; a struct would only rename them"
)]
fn compare(
    report: &mut ReconcileReport,
    org: &Organisation,
    settings: &SyncOrganisation,
    users: &[User],
    links: &[SyncLink],
    remote: &HashMap<String, Remote>,
    cprs: &HashMap<UserId, String>,
    pending: &HashSet<UserId>,
    belonging: &HashSet<UserId>,
) {
    let by_user: HashMap<UserId, &SyncLink> = links.iter().map(|l| (l.user_id, l)).collect();
    let listed_uuids: HashSet<&str> = remote.keys().map(String::as_str).collect();
    let finding =
        |report: &mut ReconcileReport, kind, user: &User, uuid: Option<&str>, detail: &str| {
            report.findings.push(Finding {
                kind,
                user_id: Some(user.id),
                username: Some(user.username.as_str().to_owned()),
                employee_uuid: uuid.map(str::to_owned),
                detail: detail.to_owned(),
            });
        };
    for user in users {
        let active = belonging.contains(&user.id);
        let repair = |action: SyncAction, reason| Repair {
            user_id: user.id,
            username: user.username.as_str().to_owned(),
            action,
            reason,
        };
        let Some(link) = by_user.get(&user.id) else {
            if active && !pending.contains(&user.id) && !report.guarded {
                finding(
                    report,
                    "MISSING_CREATE",
                    user,
                    None,
                    "desired but not linked",
                );
                report.repairs.push(repair(
                    SyncAction::UpsertUser { user_id: user.id },
                    "MISSING_CREATE",
                ));
            }
            continue;
        };
        let uuid = link.employee_uuid.as_str();
        let Some(found) = remote.get(uuid) else {
            if !listed_uuids.contains(uuid) && active && !report.guarded {
                finding(
                    report,
                    "ACCOUNT_DELETED",
                    user,
                    Some(uuid),
                    "linked identity not listed",
                );
                report.repairs.push(repair(
                    SyncAction::UpsertUser { user_id: user.id },
                    "ACCOUNT_DELETED",
                ));
            }
            continue;
        };
        let status = found.summary.status.clone();
        if active && status == Some(EmployeeStatus::Suspended) {
            finding(
                report,
                "ACCOUNT_DISABLED",
                user,
                Some(uuid),
                "suspended remotely",
            );
            report.repairs.push(repair(
                SyncAction::UpsertUser { user_id: user.id },
                "ACCOUNT_DISABLED",
            ));
        } else if !active && status == Some(EmployeeStatus::Active) {
            finding(
                report,
                "SHOULD_BE_SUSPENDED",
                user,
                Some(uuid),
                "disabled locally or outside the sync group, active remotely",
            );
            report.repairs.push(repair(
                SyncAction::SuspendUser { user_id: user.id },
                "SHOULD_BE_SUSPENDED",
            ));
        }
        if settings.mode == SyncMode::LocalIdp && active {
            let expected = desired::subject_name_id(user, org);
            let bound = found
                .local_id
                .as_deref()
                .is_some_and(|id| id.eq_ignore_ascii_case(&expected));
            if !bound {
                finding(
                    report,
                    "NAMEID_MISMATCH",
                    user,
                    Some(uuid),
                    "local login not bound to the expected subjectNameId",
                );
                report.repairs.push(repair(
                    SyncAction::UpsertUser { user_id: user.id },
                    "NAMEID_MISMATCH",
                ));
            }
        }
    }
    // UNASSOCIATED: an unlinked identity matching exactly one unlinked local user by CPR and
    // e-mail; reported for an administrator to confirm, never adopted automatically.
    let linked: HashSet<&str> = links.iter().map(|l| l.employee_uuid.as_str()).collect();
    for found in remote
        .values()
        .filter(|r| !linked.contains(r.summary.uuid.as_str()))
    {
        let cpr = found
            .summary
            .profile
            .as_ref()
            .and_then(|p| p.cpr_number.as_deref());
        let email = found.summary.email_address.as_deref().unwrap_or_default();
        let matches: Vec<&User> = users
            .iter()
            .filter(|user| !by_user.contains_key(&user.id))
            .filter(|user| cprs.get(&user.id).map(String::as_str) == cpr && cpr.is_some())
            .filter(|user| user.email.as_str().eq_ignore_ascii_case(email.trim()))
            .collect();
        if let [user] = matches.as_slice() {
            let uuid = found.summary.uuid.as_str();
            finding(
                report,
                "UNASSOCIATED",
                user,
                Some(uuid),
                "unlinked identity matches CPR and e-mail; adopt after confirmation",
            );
        }
    }
}

/// Runs a reconcile: [`plan`], then records findings (closing those not seen again), audits
/// each, applies the link corrections and queues the repairs.
///
/// # Errors
///
/// As [`plan`], plus store and audit failures.
pub async fn reconcile(
    store: &Store,
    client: &IdmClient,
    settings: &SyncOrganisation,
    now: DateTime<Utc>,
) -> Result<ReconcileReport, ReconcileError> {
    let timer = std::time::Instant::now();
    let context = AuditContext::system();
    // §7.5 rights: the catalogue first, so that roles added remotely can be assigned. A
    // catalogue that cannot be read is logged and tried again at the next reconcile: it must
    // not keep the drift of the identities themselves from being found.
    let catalogue =
        match crate::catalogue::import(store, client, &settings.org, now, &context).await {
            Ok(imported) => imported,
            Err(crate::catalogue::CatalogueError::Api(error)) => {
                tracing::warn!(org = %settings.org, %error, "the role catalogue could not be read");
                crate::catalogue::CatalogueImport::default()
            }
            Err(other) => return Err(other.into()),
        };
    let report = plan(store, client, settings).await?;
    let mut tx = store.begin().await?;
    for finding in &report.findings {
        tx.record_sync_finding(
            &settings.org,
            finding.kind,
            finding.user_id,
            finding.employee_uuid.as_deref(),
            &finding.detail,
            now,
        )
        .await?;
        let event = AuditEvent::SyncDriftFound {
            finding: finding.kind.to_owned(),
            user_id: finding.user_id,
            employee_uuid: finding.employee_uuid.clone(),
        };
        let subject = finding
            .user_id
            .map_or(Subject::Organisation(settings.org.clone()), Subject::User);
        portner_audit::append(&mut tx, now, &context, &subject, &event).await?;
    }
    tx.resolve_sync_findings(&settings.org, now, now).await?;
    for repair in &report.repairs {
        // Correct what Portner believes about the remote side, so the queued action does the
        // right call: re-create, reactivate, suspend or bind.
        match repair.reason {
            "ACCOUNT_DELETED" => {
                tx.delete_sync_link(repair.user_id).await?;
            }
            "ACCOUNT_DISABLED" => {
                tx.set_sync_link_status(repair.user_id, "Suspended", now)
                    .await?
            }
            "SHOULD_BE_SUSPENDED" => {
                tx.set_sync_link_status(repair.user_id, "Active", now)
                    .await?
            }
            "NAMEID_MISMATCH" => {
                if let Some(mut link) = tx.sync_link(repair.user_id).await? {
                    link.subject_name_id = String::new();
                    tx.set_sync_link(&link, now).await?;
                }
            }
            _ => {}
        }
        tx.enqueue_sync(&settings.org, &repair.action, now).await?;
    }
    let summary = serde_json::json!({
        "listed": report.listed,
        "stale": report.stale,
        "findings": report.findings.len(),
        "repairs": report.repairs.len(),
        "guarded": report.guarded,
        "catalogue_added": catalogue.added,
        "catalogue_renamed": catalogue.renamed,
    });
    // The finish is `now` plus the time the run took, so the recorded times stay on the
    // caller's clock (the schedule compares them with it) and still show the duration.
    let took = chrono::Duration::from_std(timer.elapsed()).unwrap_or_default();
    tx.record_sync_run(
        &settings.org,
        "reconcile",
        now,
        now + took,
        &summary.to_string(),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}
