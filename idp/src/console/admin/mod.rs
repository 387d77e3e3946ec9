//! The administration console (`/admin`, issue 5 item 4): an administrator manages the users
//! of the organisations where they hold the administrator role: creates them, disables and
//! re-enables them, and grants and revokes the staff roles. It also shows the policies in
//! force and their change history, read from the audit trail's configuration snapshots.
//!
//! Administrators also edit a user's name and e-mail, delete users (confirming the
//! username), add local rights to the catalogue and assign rights within a scope of the
//! user's organisation (the organisation, a P-unit or an SE number).
//!
//! Every change goes through [`crate::directory`], so it is written with its audit event in
//! one transaction and queued for the MitID Erhverv sync like a change from the CLI. The
//! operator is the event's actor.
//!
//! Guard rails beyond the access table:
//! - an administrator acts only on users of an organisation they administer
//!   (`WRONG_ORGANISATION`), and never on their own account (`SELF_SERVICE`): revoking one's
//!   own administrator role could leave an organisation without one, and granting oneself the
//!   auditor or helpdesk role would bypass the separation of duties the roles exist for;
//! - re-enabling a disabled account returns it to pending activation rather than active: the
//!   user then needs a helpdesk code, which rests on an identity verification (HD-1), so a
//!   console click never brings back an account nobody has verified since it was disabled.
//!
//! The sync page ([`sync`]) shows the MitID Erhverv outbox and drift of those organisations
//! and lets the administrator retry or dismiss a failed action.
//!
//! The organisations page part ([`organisations`]) changes the name, SE numbers and P-units
//! of the organisations the administrator administers.
//!
//! Policies are set in the configuration file (`docs/configuration.md`) and recorded at each
//! start that changes them (EV-7); the editable sign-in policies can be changed here too
//! ([`mod@policies`]), each change recorded in the trail with a new snapshot, so the history an
//! auditor reads stays complete. Service providers are registered and removed on their own page
//! ([`service_providers`]). Known gap, written down in `docs/limitations.md`: starting a role
//! catalogue import.

pub mod groups;
pub mod organisations;
pub mod pages;
pub mod policies;
pub mod service_providers;
pub mod sync;

#[cfg(test)]
mod http_tests;

use portner_audit::AuditContext;
use portner_audit::config_history::{self, Snapshot};
use portner_shared::domain::{
    Cvr, Email, NewUser, Organisation, RightId, RightScope, Role, RoleAssignment, User, UserId,
    UserStatus, Username,
};
use portner_shared::store::{StoreError, Tx};

use super::access::{Operator, Refusal};
use crate::app::AppState;
use crate::directory::{self, DirectoryError};
use crate::signin::SignInError;

/// Why an administration request was not carried out. Nothing was written in any case,
/// except the audit record of a refusal.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A field is missing, too long or malformed; names the field.
    #[error("BAD_INPUT: {0}")]
    BadInput(&'static str),
    /// No such user.
    #[error("NOT_FOUND")]
    NotFound,
    /// Refused for who is asking (own account, other organisation).
    #[error("REFUSED: {}", .0.code())]
    Refused(Refusal),
    /// The change conflicts with the current state (username taken, status not allowed).
    #[error("CONFLICT: {0}")]
    Conflict(&'static str),
    /// The store or audit trail failed.
    #[error(transparent)]
    Internal(#[from] SignInError),
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.into())
    }
}

impl From<DirectoryError> for AdminError {
    fn from(error: DirectoryError) -> Self {
        match error {
            DirectoryError::NotFound(_) => Self::NotFound,
            DirectoryError::Store(StoreError::Conflict { .. }) => Self::Conflict("USERNAME_TAKEN"),
            DirectoryError::InUse(_) => Self::Conflict("IN_USE"),
            DirectoryError::Store(error) => error.into(),
            DirectoryError::Audit(error) => Self::Internal(error.into()),
        }
    }
}

/// A status change an administrator may ask for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum StatusChange {
    /// Disable the account: sessions end, sign-in is refused, the sync suspends it.
    Disable,
    /// Re-enable a disabled account: back to pending activation (see the module docs).
    Enable,
}

impl StatusChange {
    /// Reads the form value.
    ///
    /// # Errors
    ///
    /// [`AdminError::BadInput`] for anything but `disable` and `enable`.
    pub fn parse(text: &str) -> Result<Self, AdminError> {
        match text {
            "disable" => Ok(Self::Disable),
            "enable" => Ok(Self::Enable),
            _ => Err(AdminError::BadInput("status")),
        }
    }

    /// The status the account moves to from `current`, if the change applies.
    const fn target(self, current: UserStatus) -> Option<UserStatus> {
        match (self, current) {
            (Self::Disable, UserStatus::Disabled) => None,
            (Self::Disable, _) => Some(UserStatus::Disabled),
            (Self::Enable, UserStatus::Disabled) => Some(UserStatus::PendingActivation),
            (Self::Enable, _) => None,
        }
    }
}

/// A role change an administrator may ask for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RoleChange {
    /// Grant the role.
    Grant(Role),
    /// Revoke the role.
    Revoke(Role),
}

impl RoleChange {
    /// Reads the form values `role` and `change` (`grant` or `revoke`).
    ///
    /// # Errors
    ///
    /// [`AdminError::BadInput`] naming the field that is not understood.
    pub fn parse(role: &str, change: &str) -> Result<Self, AdminError> {
        let role: Role = role.parse().map_err(|_| AdminError::BadInput("role"))?;
        match change {
            "grant" => Ok(Self::Grant(role)),
            "revoke" => Ok(Self::Revoke(role)),
            _ => Err(AdminError::BadInput("change")),
        }
    }
}

/// The fields of a new user as the administrator enters them.
#[derive(Clone, Debug)]
pub struct NewUserFields<'a> {
    /// The organisation's CVR.
    pub org: &'a str,
    /// The username.
    pub username: &'a str,
    /// The display name.
    pub display_name: &'a str,
    /// The e-mail address.
    pub email: &'a str,
}

pub(super) fn context(operator: &Operator) -> AuditContext {
    operator.origin.audit(Some(operator.user.id))
}

/// The user `id`, if the operator administers the user's organisation.
///
/// # Errors
///
/// [`AdminError::NotFound`] for an unknown or malformed ID, [`AdminError::Refused`] for a
/// user of another organisation.
pub async fn target(tx: &mut Tx, operator: &Operator, id: &str) -> Result<User, AdminError> {
    let id: UserId = id.parse().map_err(|_| AdminError::NotFound)?;
    let user = tx.user(id).await?.ok_or(AdminError::NotFound)?;
    if !operator.holds(Role::Administrator, &user.org) {
        return Err(AdminError::Refused(Refusal::WrongOrganisation));
    }
    Ok(user)
}

/// How many configuration snapshots the history shows, newest first.
pub const HISTORY_SHOWN: i64 = 20;

/// The roles of each of `users`, in the same order (for the API's listing; the console's
/// overview shows none).
///
/// # Errors
///
/// The store failed.
pub async fn with_roles(
    state: &AppState,
    users: Vec<User>,
) -> Result<Vec<(User, Vec<RoleAssignment>)>, StoreError> {
    let mut tx = state.store.read().await?;
    let mut listed = Vec::with_capacity(users.len());
    for user in users {
        let roles = tx.roles_of(user.id).await?;
        listed.push((user, roles));
    }
    tx.rollback().await?;
    Ok(listed)
}

/// The user `id` with their roles, if the operator administers the user's organisation.
///
/// # Errors
///
/// As [`target`].
pub async fn load_user(
    state: &AppState,
    operator: &Operator,
    id: &str,
) -> Result<(User, Vec<RoleAssignment>), AdminError> {
    let mut tx = state.store.read().await?;
    let user = target(&mut tx, operator, id).await?;
    let roles = tx.roles_of(user.id).await?;
    tx.rollback().await?;
    Ok((user, roles))
}

/// The configuration snapshot in force and the last [`HISTORY_SHOWN`] applied ones, newest
/// first (EV-7).
///
/// # Errors
///
/// The store failed or a snapshot is unreadable.
pub async fn policies(state: &AppState) -> Result<(Option<Snapshot>, Vec<Snapshot>), SignInError> {
    let mut tx = state.store.read().await?;
    let in_force = config_history::in_force(&mut tx, i64::MAX, i64::MAX).await?;
    let history = config_history::newest_applied(&mut tx, HISTORY_SHOWN).await?;
    tx.rollback().await?;
    Ok((in_force, history))
}

/// Loads the target and refuses the operator's own account.
async fn other_user(state: &AppState, operator: &Operator, id: &str) -> Result<User, AdminError> {
    let mut tx = state.store.read().await?;
    let user = target(&mut tx, operator, id).await;
    tx.rollback().await?;
    not_own(operator, user?)
}

/// `user`, unless it is the operator's own account (`SELF_SERVICE`, see the module docs).
fn not_own(operator: &Operator, user: User) -> Result<User, AdminError> {
    if user.id == operator.user.id {
        return Err(AdminError::Refused(Refusal::SelfService));
    }
    Ok(user)
}

/// Creates a user, pending activation, in an organisation the operator administers.
///
/// # Errors
///
/// [`AdminError::BadInput`] naming a malformed field, [`AdminError::Refused`] for another
/// organisation, [`AdminError::Conflict`] when the username is taken.
pub async fn create_user(
    state: &AppState,
    operator: &Operator,
    fields: &NewUserFields<'_>,
) -> Result<User, AdminError> {
    let org: Cvr = fields
        .org
        .trim()
        .parse()
        .map_err(|_| AdminError::BadInput("org"))?;
    if !operator.holds(Role::Administrator, &org) {
        return Err(AdminError::Refused(Refusal::WrongOrganisation));
    }
    let username: Username = fields
        .username
        .trim()
        .parse()
        .map_err(|_| AdminError::BadInput("username"))?;
    let email: Email = fields
        .email
        .trim()
        .parse()
        .map_err(|_| AdminError::BadInput("email"))?;
    let new = NewUser::new(org, username, fields.display_name.trim(), email, None)
        .map_err(|_| AdminError::BadInput("display_name"))?;

    let clock = state.clock.as_ref();
    Ok(directory::create_user(&state.store, clock, &context(operator), &new).await?)
}

/// Disables or re-enables a user of the operator's organisation.
///
/// # Errors
///
/// [`AdminError::Refused`] for the operator's own account or another organisation's user,
/// [`AdminError::Conflict`] when the account is not in a state the change applies to.
pub async fn change_status(
    state: &AppState,
    operator: &Operator,
    id: &str,
    change: StatusChange,
) -> Result<User, AdminError> {
    let user = other_user(state, operator, id).await?;
    let status = change
        .target(user.status)
        .ok_or(AdminError::Conflict("STATUS"))?;

    let clock = state.clock.as_ref();
    let context = context(operator);
    let username = &user.username;
    Ok(directory::set_user_status(&state.store, clock, &context, username, status).await?)
}

/// The new profile of a user as the administrator enters it.
#[derive(Clone, Copy, Debug)]
pub struct ProfileFields<'a> {
    /// The display name.
    pub display_name: &'a str,
    /// The e-mail address.
    pub email: &'a str,
}

/// Changes the display name and e-mail address of a user of the operator's organisation, in
/// one transaction with `USER_PROFILE_CHANGED` (naming the fields, not the values) and the
/// profile sync; a provisioning client's external identifier is kept.
///
/// # Errors
///
/// [`AdminError::BadInput`] naming a malformed field, [`AdminError::Refused`] for the
/// operator's own account or another organisation's user.
pub async fn change_profile(
    state: &AppState,
    operator: &Operator,
    id: &str,
    fields: ProfileFields<'_>,
) -> Result<User, AdminError> {
    let display_name = portner_shared::domain::parse_display_name(fields.display_name)
        .map_err(|_| AdminError::BadInput("display_name"))?;
    let email: Email = fields
        .email
        .trim()
        .parse()
        .map_err(|_| AdminError::BadInput("email"))?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let user = not_own(operator, target(&mut tx, operator, id).await?)?;
    let external_id = tx.scim_external_id(user.id).await?;
    let change = directory::ProfileChange {
        display_name,
        email,
        external_id,
    };
    let user =
        directory::change_profile_in(&mut tx, now, &context(operator), user, &change).await?;
    tx.commit().await?;
    Ok(user)
}

/// Deletes a user of the operator's organisation with their credentials, sessions and rights
/// (`USER_DELETED`; a synced identity's deletion is queued). `confirm` must repeat the
/// username, so that a stray click or a replayed form for another user deletes nothing.
///
/// # Errors
///
/// [`AdminError::BadInput`] when the confirmation does not match, [`AdminError::Refused`]
/// for the operator's own account or another organisation's user.
pub async fn delete_user(
    state: &AppState,
    operator: &Operator,
    id: &str,
    confirm: &str,
) -> Result<(), AdminError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let user = not_own(operator, target(&mut tx, operator, id).await?)?;
    if confirm.trim() != user.username.as_str() {
        return Err(AdminError::BadInput("confirm"));
    }
    directory::delete_user_in(&mut tx, now, &context(operator), &user).await?;
    tx.commit().await?;
    Ok(())
}

/// A right change an administrator asks for, as the form or API sends it.
#[derive(Clone, Copy, Debug)]
pub struct RightFields<'a> {
    /// The right's catalogue key.
    pub right: &'a str,
    /// The scope as `kind:value`: `cvr:CVR`, `pu:P-NUMBER` or `se:SE-NUMBER`.
    pub scope: &'a str,
    /// `assign` or `revoke`.
    pub change: &'a str,
}

/// Assigns or revokes a right of the catalogue within a scope of the user's organisation
/// (the organisation itself, one of its P-units or SE numbers), audited, with the user's
/// rights queued for MitID Erhverv when the organisation syncs.
///
/// # Errors
///
/// [`AdminError::BadInput`] for an unknown right, a malformed scope or one outside the
/// user's organisation, or an unknown change; [`AdminError::Refused`] for the operator's own
/// account or another organisation's user; [`AdminError::Conflict`] when the assignment is
/// already held (assign) or not held (revoke).
pub async fn change_right(
    state: &AppState,
    operator: &Operator,
    id: &str,
    fields: RightFields<'_>,
) -> Result<(), AdminError> {
    let right: RightId = fields
        .right
        .parse()
        .map_err(|_| AdminError::BadInput("right"))?;
    let (kind, value) = fields
        .scope
        .split_once(':')
        .ok_or(AdminError::BadInput("scope"))?;
    let scope = RightScope::from_parts(kind, value).map_err(|_| AdminError::BadInput("scope"))?;
    let assign = match fields.change {
        "assign" => true,
        "revoke" => false,
        _ => return Err(AdminError::BadInput("change")),
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let user = not_own(operator, target(&mut tx, operator, id).await?)?;
    let organisation = tx
        .organisation(&user.org)
        .await?
        .ok_or(AdminError::NotFound)?;
    if !scope_belongs(&scope, &organisation) {
        return Err(AdminError::BadInput("scope"));
    }
    if !tx.rights().await?.iter().any(|known| known.id == right) {
        return Err(AdminError::BadInput("right"));
    }
    let context = context(operator);
    let changed = if assign {
        directory::assign_right_in(&mut tx, now, &context, &user, &right, &scope).await?
    } else {
        directory::revoke_right_in(&mut tx, now, &context, &user, &right, &scope).await?
    };
    if !changed {
        return Err(AdminError::Conflict("RIGHT"));
    }
    tx.commit().await?;
    Ok(())
}

/// Whether `scope` lies within `organisation`: its CVR, or one of its P-units or SE numbers.
fn scope_belongs(scope: &RightScope, organisation: &Organisation) -> bool {
    match scope {
        RightScope::Cvr(cvr) => cvr == &organisation.cvr,
        RightScope::PUnit(p_number) => organisation.p_units.contains(p_number),
        RightScope::Se(se_number) => organisation.se_numbers.contains(se_number),
    }
}

/// The scopes of `organisation` as the forms offer them, `kind:value`.
pub fn scopes_of(organisation: &Organisation) -> Vec<RightScope> {
    let mut scopes = vec![RightScope::Cvr(organisation.cvr.clone())];
    scopes.extend(organisation.p_units.iter().cloned().map(RightScope::PUnit));
    scopes.extend(organisation.se_numbers.iter().cloned().map(RightScope::Se));
    scopes
}

/// Adds a local right to the catalogue (`RIGHT_DEFINED`).
///
/// # Errors
///
/// [`AdminError::BadInput`] for a malformed key or name, [`AdminError::Conflict`] when the
/// key exists already.
pub async fn define_right(
    state: &AppState,
    operator: &Operator,
    id: &str,
    name: &str,
) -> Result<(), AdminError> {
    let id: RightId = id
        .trim()
        .parse()
        .map_err(|_| AdminError::BadInput("right"))?;
    let name = portner_shared::domain::parse_display_name(name)
        .map_err(|_| AdminError::BadInput("name"))?;
    let clock = state.clock.as_ref();
    let context = context(operator);
    if directory::define_local_right(&state.store, clock, &context, &id, &name).await? {
        Ok(())
    } else {
        Err(AdminError::Conflict("RIGHT"))
    }
}

/// Grants or revokes a staff role in the user's own organisation.
///
/// # Errors
///
/// [`AdminError::Refused`] for the operator's own account or another organisation's user,
/// [`AdminError::Conflict`] when the role is already held (grant) or not held (revoke).
pub async fn change_role(
    state: &AppState,
    operator: &Operator,
    id: &str,
    change: RoleChange,
) -> Result<(), AdminError> {
    let user = other_user(state, operator, id).await?;

    let (store, clock) = (&state.store, state.clock.as_ref());
    let context = context(operator);
    let (username, org) = (&user.username, Some(&user.org));
    let changed = match change {
        RoleChange::Grant(role) => {
            directory::grant_role(store, clock, &context, username, role, org)
                .await?
                .1
        }
        RoleChange::Revoke(role) => {
            directory::revoke_role(store, clock, &context, username, role, org).await?
        }
    };
    if changed {
        Ok(())
    } else {
        Err(AdminError::Conflict("ROLE"))
    }
}
