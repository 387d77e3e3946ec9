//! Changes to organisations, users and groups, each written with its audit event in one
//! transaction.
//!
//! These are the only functions that change the directory; the CLI, the consoles and SCIM call
//! them, so no path can change a user without leaving a record. Callers that must read and
//! check a user before changing it in the same transaction (SCIM's `If-Match`, RFC 7644 §3.14)
//! use the `*_in` functions on their own [`Tx`].

use chrono::{DateTime, Utc};
use portner_audit::{AuditContext, AuditError, AuditEvent, Subject};
use portner_shared::Clock;
use portner_shared::domain::{
    Cvr, Email, NewOrganisation, NewUser, Organisation, Right, RightAssignment, RightId,
    RightScope, RightSource, Role, RoleAssignment, SyncAction, User, UserStatus, Username,
};
use portner_shared::store::{Store, StoreError, Tx};

mod groups;
mod organisations;

pub use groups::{GroupChange, change_group_in, create_group_in, delete_group_in};
pub use organisations::{OrganisationChange, change_organisation_in};

/// Why a directory change was not made. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The user or organisation named does not exist.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The store refused or failed (for example, a username already taken).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit event could not be written, so the change was not made either.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Something still refers to what the change would remove (names what).
    #[error("{0} is still in use")]
    InUse(&'static str),
}

/// Registers an organisation.
///
/// # Errors
///
/// [`StoreError::Conflict`] inside [`DirectoryError::Store`] if the CVR is registered already.
pub async fn create_organisation(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    new: &NewOrganisation,
) -> Result<Organisation, DirectoryError> {
    let now = clock.now();
    let mut tx = store.begin().await?;

    let organisation = tx.insert_organisation(new, now).await?;
    let event = AuditEvent::OrganisationCreated {
        cvr: organisation.cvr.clone(),
        name: organisation.name.clone(),
        suffix: organisation.suffix.to_string(),
    };
    let subject = Subject::Organisation(organisation.cvr.clone());
    portner_audit::append(&mut tx, now, context, &subject, &event).await?;

    tx.commit().await?;
    Ok(organisation)
}

/// Creates a user, pending activation.
///
/// # Errors
///
/// [`DirectoryError::NotFound`] if the organisation does not exist; a conflict if the username
/// is taken.
pub async fn create_user(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    new: &NewUser,
) -> Result<User, DirectoryError> {
    let now = clock.now();
    let mut tx = store.begin().await?;

    if tx.organisation(&new.org).await?.is_none() {
        return Err(DirectoryError::NotFound("organisation"));
    }
    let user = insert_user(&mut tx, now, context, new).await?;

    tx.commit().await?;
    Ok(user)
}

/// Creates many users, pending activation, in one transaction: all of them or none (issue 5,
/// item 6). `progress` is told how many are done after each.
///
/// # Errors
///
/// As [`create_user`] for any one of them; then nothing is written.
pub async fn create_users(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    users: &[NewUser],
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<usize, DirectoryError> {
    let now = clock.now();
    let mut tx = store.begin().await?;

    let mut known_organisations = std::collections::HashSet::new();
    for (done, new) in users.iter().enumerate() {
        if !known_organisations.contains(&new.org) {
            if tx.organisation(&new.org).await?.is_none() {
                return Err(DirectoryError::NotFound("organisation"));
            }
            known_organisations.insert(new.org.clone());
        }
        insert_user(&mut tx, now, context, new).await?;
        progress(done + 1);
    }

    tx.commit().await?;
    Ok(users.len())
}

/// The user row, its sync action and its audit event, on `tx`.
async fn insert_user(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    new: &NewUser,
) -> Result<User, DirectoryError> {
    let user = tx.insert_user(new, now).await?;
    // Same transaction: a user is never created without the sync action (issue 6, §7.2).
    portner_idm_sync::enqueue::user_created(tx, &user, now).await?;
    let event = AuditEvent::UserCreated {
        user_id: user.id,
        org: user.org.clone(),
        username: user.username.clone(),
        with_cpr: user.has_cpr,
    };
    portner_audit::append(tx, now, context, &Subject::User(user.id), &event).await?;
    Ok(user)
}

/// Moves a user to `status`; disabling also ends all their sessions. Setting the status a user
/// already has changes nothing and records nothing.
///
/// # Errors
///
/// [`DirectoryError::NotFound`] if there is no such user.
pub async fn set_user_status(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    username: &Username,
    status: UserStatus,
) -> Result<User, DirectoryError> {
    let now = clock.now();
    let mut tx = store.begin().await?;

    let user = tx
        .user_by_username(username)
        .await?
        .ok_or(DirectoryError::NotFound("user"))?;
    let user = set_status_in(&mut tx, now, context, user, status).await?;

    tx.commit().await?;
    Ok(user)
}

/// Creates a user on the caller's transaction, which must have checked that the organisation
/// exists; as [`create_user`] otherwise.
///
/// # Errors
///
/// A conflict if the username is taken.
pub async fn create_user_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    new: &NewUser,
) -> Result<User, DirectoryError> {
    insert_user(tx, now, context, new).await
}

/// Moves `user` to `status` on the caller's transaction, with its sync action and audit event;
/// disabling ends all their sessions. The same status changes nothing.
///
/// # Errors
///
/// The store or the audit trail failed; the caller must drop the transaction.
pub async fn set_status_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    mut user: User,
    status: UserStatus,
) -> Result<User, DirectoryError> {
    if user.status == status {
        return Ok(user);
    }
    tx.set_user_status(user.id, status, now).await?;
    portner_idm_sync::enqueue::user_status_changed(tx, &user, user.status, status, now).await?;
    if status == UserStatus::Disabled {
        tx.delete_sessions_of(user.id).await?;
    }
    let event = AuditEvent::UserStatusChanged {
        user_id: user.id,
        from: user.status,
        to: status,
    };
    portner_audit::append(tx, now, context, &Subject::User(user.id), &event).await?;
    user.status = status;
    user.updated_at = now;
    Ok(user)
}

/// What a profile change sets. The display name must have passed
/// [`portner_shared::domain::parse_display_name`].
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ProfileChange {
    /// The new display name.
    pub display_name: String,
    /// The new work e-mail address.
    pub email: Email,
    /// The provisioning client's identifier for the user (SCIM `externalId`), or none.
    pub external_id: Option<String>,
}

/// Sets `user`'s display name, e-mail and external identifier on the caller's transaction.
/// Fields that do not change are not recorded; a change of name or e-mail queues the profile
/// sync (E6/E4). The audit event names the changed fields, never their values.
///
/// # Errors
///
/// The store or the audit trail failed; the caller must drop the transaction.
pub async fn change_profile_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    mut user: User,
    change: &ProfileChange,
) -> Result<User, DirectoryError> {
    let external_id = tx.scim_external_id(user.id).await?;
    let mut changed = Vec::new();
    if user.display_name != change.display_name {
        changed.push("display_name".to_owned());
    }
    if user.email != change.email {
        changed.push("email".to_owned());
    }
    let profile_changed = !changed.is_empty();
    if external_id != change.external_id {
        changed.push("external_id".to_owned());
        tx.set_scim_external_id(user.id, change.external_id.as_deref())
            .await?;
    }
    if changed.is_empty() {
        return Ok(user);
    }

    user.display_name.clone_from(&change.display_name);
    user.email = change.email.clone();
    // Also moves updated_at when only the external ID changed, so the SCIM ETag does.
    tx.update_user_profile(&user, now).await?;
    user.updated_at = now;
    if profile_changed {
        portner_idm_sync::enqueue::user_profile_changed(tx, &user, now).await?;
    }
    let event = AuditEvent::UserProfileChanged {
        user_id: user.id,
        changed,
    };
    portner_audit::append(tx, now, context, &Subject::User(user.id), &event).await?;
    Ok(user)
}

/// Deletes `user` with their credentials, sessions and rights on the caller's transaction.
/// If their organisation is synced, the deletion of their MitID Erhverv identity is queued
/// with the employee UUID snapshotted, since the local row is gone when the worker runs
/// (mitid-erhverv-idm-api.md §7.2).
///
/// # Errors
///
/// The store or the audit trail failed; the caller must drop the transaction.
pub async fn delete_user_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    user: &User,
) -> Result<(), DirectoryError> {
    if tx.sync_organisation(&user.org).await?.is_some() {
        let employee_uuid = tx.sync_link(user.id).await?.map(|link| link.employee_uuid);
        let action = SyncAction::DeleteUser {
            user_id: user.id,
            employee_uuid,
        };
        tx.enqueue_sync(&user.org, &action, now).await?;
    }
    if !tx.delete_user(user.id).await? {
        return Err(DirectoryError::NotFound("user"));
    }
    let event = AuditEvent::UserDeleted {
        user_id: user.id,
        org: user.org.clone(),
        username: user.username.clone(),
    };
    portner_audit::append(tx, now, context, &Subject::User(user.id), &event).await?;
    Ok(())
}

/// Grants `role` in `org` (the user's own organisation when `None`). Granting a role the user
/// already holds changes nothing and records nothing; the result says whether it was new.
///
/// # Errors
///
/// [`DirectoryError::NotFound`] if the user or organisation does not exist.
pub async fn grant_role(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    username: &Username,
    role: Role,
    org: Option<&Cvr>,
) -> Result<(RoleAssignment, bool), DirectoryError> {
    let now = clock.now();
    let mut tx = store.begin().await?;

    let user = tx
        .user_by_username(username)
        .await?
        .ok_or(DirectoryError::NotFound("user"))?;
    let org = org.unwrap_or(&user.org).clone();
    if tx.organisation(&org).await?.is_none() {
        return Err(DirectoryError::NotFound("organisation"));
    }
    let assignment = RoleAssignment {
        user_id: user.id,
        org: org.clone(),
        role,
        granted_by: context.actor.to_string(),
        granted_at: now,
    };
    if !tx.grant_role(&assignment).await? {
        return Ok((assignment, false));
    }
    let event = AuditEvent::RoleGranted {
        user_id: user.id,
        org,
        role,
    };
    portner_audit::append(&mut tx, now, context, &Subject::User(user.id), &event).await?;

    tx.commit().await?;
    Ok((assignment, true))
}

/// Revokes `role` in `org` (the user's own organisation when `None`). Returns whether the
/// user held it; revoking a role not held records nothing.
///
/// # Errors
///
/// [`DirectoryError::NotFound`] if the user does not exist.
pub async fn revoke_role(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    username: &Username,
    role: Role,
    org: Option<&Cvr>,
) -> Result<bool, DirectoryError> {
    let now = clock.now();
    let mut tx = store.begin().await?;

    let user = tx
        .user_by_username(username)
        .await?
        .ok_or(DirectoryError::NotFound("user"))?;
    let org = org.unwrap_or(&user.org).clone();
    if !tx.revoke_role(user.id, &org, role).await? {
        return Ok(false);
    }
    let event = AuditEvent::RoleRevoked {
        user_id: user.id,
        org,
        role,
    };
    portner_audit::append(&mut tx, now, context, &Subject::User(user.id), &event).await?;

    tx.commit().await?;
    Ok(true)
}

/// Grants `right` within `scope` to `user` on the caller's transaction, with `RIGHT_ASSIGNED`
/// and, for a synced organisation, the user's rights queued for MitID Erhverv. Returns
/// `false`, writing nothing, if the user holds it in that scope already. The caller has
/// checked that the right is in the catalogue and the scope belongs to the user's
/// organisation.
///
/// # Errors
///
/// The store or the audit trail failed; the caller must drop the transaction.
pub async fn assign_right_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    user: &User,
    right: &RightId,
    scope: &RightScope,
) -> Result<bool, DirectoryError> {
    let held = tx.right_assignments(user.id).await?;
    if held
        .iter()
        .any(|held| &held.right == right && &held.scope == scope)
    {
        return Ok(false);
    }
    let assignment = RightAssignment {
        user_id: user.id,
        right: right.clone(),
        scope: scope.clone(),
        granted_at: now,
    };
    tx.assign_right(&assignment).await?;
    portner_idm_sync::enqueue::user_rights_changed(tx, user, now).await?;
    let event = AuditEvent::RightAssigned {
        user_id: user.id,
        right: right.as_str().to_owned(),
        scope_kind: scope.kind().to_owned(),
        scope_value: scope.value().to_owned(),
    };
    portner_audit::append(tx, now, context, &Subject::User(user.id), &event).await?;
    Ok(true)
}

/// Withdraws `right` within `scope` from `user` on the caller's transaction, with
/// `RIGHT_REVOKED` and the rights sync queued. Returns `false` if it was not held.
///
/// # Errors
///
/// The store or the audit trail failed; the caller must drop the transaction.
pub async fn revoke_right_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    user: &User,
    right: &RightId,
    scope: &RightScope,
) -> Result<bool, DirectoryError> {
    if !tx.revoke_right(user.id, right, scope).await? {
        return Ok(false);
    }
    portner_idm_sync::enqueue::user_rights_changed(tx, user, now).await?;
    let event = AuditEvent::RightRevoked {
        user_id: user.id,
        right: right.as_str().to_owned(),
        scope_kind: scope.kind().to_owned(),
        scope_value: scope.value().to_owned(),
    };
    portner_audit::append(tx, now, context, &Subject::User(user.id), &event).await?;
    Ok(true)
}

/// Adds a local right to the catalogue (`RIGHT_DEFINED`). Returns `false`, writing nothing,
/// if the key exists already: a local definition never renames an entry, and never turns one
/// imported from MitID Erhverv into a local one.
///
/// # Errors
///
/// The store or the audit trail failed.
pub async fn define_local_right(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    id: &RightId,
    name: &str,
) -> Result<bool, DirectoryError> {
    let now = clock.now();
    let mut tx = store.begin().await?;
    if tx.rights().await?.iter().any(|right| &right.id == id) {
        return Ok(false);
    }
    let right = Right {
        id: id.clone(),
        name: name.to_owned(),
        source: RightSource::Local,
    };
    tx.upsert_right(&right).await?;
    let event = AuditEvent::RightDefined {
        right: id.as_str().to_owned(),
        name: name.to_owned(),
    };
    portner_audit::append(&mut tx, now, context, &Subject::Installation, &event).await?;
    tx.commit().await?;
    Ok(true)
}
