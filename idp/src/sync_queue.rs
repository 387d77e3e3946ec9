//! Operators' decisions about failed MitID Erhverv sync actions (issue 6, item 5): put one
//! back in the queue, or dismiss it. Both the CLI (`portner sync retry`) and the
//! administration console (`/admin/sync`) come here, so each decision is written with its
//! audit event (`SYNC_ACTION_REQUEUED`, `SYNC_ACTION_DISMISSED`) in one transaction and names
//! who made it.
//!
//! A dismissed action stays in the outbox as failed, with its reason: the record of what
//! MitID Erhverv never received is evidence too. Dismissing only stops it counting as an open
//! failure; retrying a dismissed action is allowed and clears the dismissal.

use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::Clock;
use portner_shared::domain::{Cvr, OutboxAction, OutboxState};
use portner_shared::store::{Store, StoreError, Tx};

/// Why a decision was not carried out. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No such action, or one of an organisation the caller may not act for (the same answer,
    /// so that IDs of other organisations' actions cannot be probed).
    #[error("no such failed action")]
    NotFound,
    /// The action is not failed (or already dismissed, for a dismissal).
    #[error("the action is not an open failure")]
    NotFailed,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit trail failed.
    #[error(transparent)]
    Audit(#[from] portner_audit::AuditError),
}

/// What the caller may act for: every organisation (the CLI, with database access) or a list.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// Any organisation.
    All,
    /// Only these.
    Organisations(&'a [Cvr]),
}

impl Scope<'_> {
    fn covers(self, org: &Cvr) -> bool {
        match self {
            Self::All => true,
            Self::Organisations(allowed) => allowed.contains(org),
        }
    }
}

/// The failed action `id`, if it exists and lies in `scope`.
async fn failed_action(tx: &mut Tx, id: i64, scope: Scope<'_>) -> Result<OutboxAction, QueueError> {
    let action = tx
        .outbox_action(id)
        .await?
        .filter(|action| scope.covers(&action.org))
        .ok_or(QueueError::NotFound)?;
    if action.state != OutboxState::Failed {
        return Err(QueueError::NotFailed);
    }
    Ok(action)
}

/// Puts the failed action `id` back in the queue, attempts counted from zero.
///
/// # Errors
///
/// [`QueueError::NotFound`] outside `scope`, [`QueueError::NotFailed`] for an action that is
/// pending, running or done.
pub async fn requeue(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    id: i64,
    scope: Scope<'_>,
) -> Result<OutboxAction, QueueError> {
    let now = clock.now();
    let mut tx = store.begin().await?;
    let action = failed_action(&mut tx, id, scope).await?;

    if !tx.retry_sync_action(id, now).await? {
        return Err(QueueError::NotFailed);
    }
    let user_id = action.action.user_id();
    let event = AuditEvent::SyncActionRequeued {
        action_id: id,
        org: action.org.clone(),
        action: action.action.name().to_owned(),
        user_id,
    };
    portner_audit::append(&mut tx, now, context, &Subject::User(user_id), &event).await?;
    tx.commit().await?;
    Ok(action)
}

/// Dismisses the failed action `id`.
///
/// # Errors
///
/// [`QueueError::NotFound`] outside `scope`, [`QueueError::NotFailed`] for an action that is
/// not failed or already dismissed.
pub async fn dismiss(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    id: i64,
    scope: Scope<'_>,
) -> Result<OutboxAction, QueueError> {
    let now = clock.now();
    let mut tx = store.begin().await?;
    let action = failed_action(&mut tx, id, scope).await?;

    let by = context.actor.to_string();
    if !tx.dismiss_sync_action(id, &by, now).await? {
        return Err(QueueError::NotFailed);
    }
    let user_id = action.action.user_id();
    let event = AuditEvent::SyncActionDismissed {
        action_id: id,
        org: action.org.clone(),
        action: action.action.name().to_owned(),
        user_id,
    };
    portner_audit::append(&mut tx, now, context, &Subject::User(user_id), &event).await?;
    tx.commit().await?;
    Ok(action)
}
