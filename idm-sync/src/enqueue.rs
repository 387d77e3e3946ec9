//! The transactional outbox hooks (mitid-erhverv-idm-api.md §7.2): the directory calls these
//! inside the transaction of a user change, so the change and its sync actions commit or roll
//! back together.

use chrono::{DateTime, Utc};
use portner_shared::domain::{SyncAction, User, UserStatus};
use portner_shared::store::{StoreError, Tx};

/// Queues the creation of a new user's identity if their organisation is synced to all its
/// users. Where the sync is scoped to a group, a new user is in no group yet: joining it
/// queues the creation ([`scope_membership_changed`]).
///
/// # Errors
///
/// The store failed; the caller's transaction must then be dropped.
pub async fn user_created(tx: &mut Tx, user: &User, now: DateTime<Utc>) -> Result<(), StoreError> {
    let settings = tx.sync_organisation(&user.org).await?;
    if settings.is_some_and(|settings| settings.scope_group.is_none()) {
        let action = SyncAction::UpsertUser { user_id: user.id };
        tx.enqueue_sync(&user.org, &action, now).await?;
    }
    Ok(())
}

/// Queues a suspension when a user is disabled, and a reactivation (or creation) when a
/// disabled user comes back. Locking after wrong passwords is not propagated (see
/// [`crate::desired::should_be_active`]).
///
/// # Errors
///
/// The store failed; the caller's transaction must then be dropped.
pub async fn user_status_changed(
    tx: &mut Tx,
    user: &User,
    from: UserStatus,
    to: UserStatus,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let action = match (from, to) {
        (_, UserStatus::Disabled) => SyncAction::SuspendUser { user_id: user.id },
        (UserStatus::Disabled, _) => SyncAction::UpsertUser { user_id: user.id },
        _ => return Ok(()),
    };
    if tx.sync_organisation(&user.org).await?.is_some() {
        tx.enqueue_sync(&user.org, &action, now).await?;
    }
    Ok(())
}

/// Queues a profile update (E6 / E4) after a user's name or e-mail changed; the worker sends
/// only what differs from what it last sent.
///
/// # Errors
///
/// The store failed; the caller's transaction must then be dropped.
pub async fn user_profile_changed(
    tx: &mut Tx,
    user: &User,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if tx.sync_organisation(&user.org).await?.is_some() {
        let action = SyncAction::UpsertUser { user_id: user.id };
        tx.enqueue_sync(&user.org, &action, now).await?;
    }
    Ok(())
}

/// Queues a rights reconciliation for a user after their rights changed.
///
/// # Errors
///
/// The store failed; the caller's transaction must then be dropped.
pub async fn user_rights_changed(
    tx: &mut Tx,
    user: &User,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if tx.sync_organisation(&user.org).await?.is_some() {
        let action = SyncAction::SyncRights { user_id: user.id };
        tx.enqueue_sync(&user.org, &action, now).await?;
    }
    Ok(())
}

/// Queues a creation or reactivation when a user joins the group their organisation's sync is
/// scoped to, and a suspension when they leave it (issue 6, item 2). The caller calls this
/// only for that group (`Tx::group_scopes_sync`, read once per group change); other groups
/// are not the sync's concern.
///
/// # Errors
///
/// The store failed; the caller's transaction must then be dropped.
pub async fn scope_membership_changed(
    tx: &mut Tx,
    user: &User,
    joined: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let action = if joined {
        SyncAction::UpsertUser { user_id: user.id }
    } else {
        SyncAction::SuspendUser { user_id: user.id }
    };
    tx.enqueue_sync(&user.org, &action, now).await?;
    Ok(())
}
