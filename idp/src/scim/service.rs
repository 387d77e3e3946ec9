//! The SCIM operations on users, between the handlers and [`crate::directory`]: each opens one
//! transaction, confines itself to the client's organisation, checks `If-Match` inside the
//! transaction (RFC 7644 §3.14), and writes through the directory so that audit events and
//! sync actions come with every change.
//!
//! Lists are filtered, sorted and paged in memory over the organisation's users: simple and
//! exact, at a cost linear in the organisation's size per request. That is a known limit for
//! very large organisations (`docs/limitations.md`).

use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;

use portner_shared::domain::{NewUser, RightAssignment, User, UserId, UserStatus};
use portner_shared::store::Tx;
use serde_json::Value;

use super::auth::ScimClient;
use super::error::{ScimError, ScimType};
use super::list::ListRequest;
use super::patch::Operation;
use super::resource::{self, RenderContext, UserInput};
use crate::app::AppState;
use crate::directory::{self, ProfileChange};

/// A rendered resource with its version and location, for the response headers.
#[derive(Debug)]
pub struct Versioned {
    /// The SCIM resource.
    pub resource: Value,
    /// Its weak ETag.
    pub etag: String,
    /// Its absolute URL.
    pub location: String,
}

/// Creates a user, pending activation, from a POST body (§3.3).
///
/// # Errors
///
/// 400 `invalidValue` for a value the domain refuses; 409 `uniqueness` if the userName is
/// taken anywhere in the installation (usernames are global, being the first half of the
/// MitID Erhverv `subjectNameId`).
pub async fn create(
    state: &AppState,
    client: &ScimClient,
    document: &Value,
) -> Result<Versioned, ScimError> {
    let input = resource::read(document)?;
    let org = client.organisation.cvr.clone();
    let new = NewUser::new(
        org,
        input.username,
        &input.display_name,
        input.email,
        input.cpr,
    )
    .map_err(|_| invalid_value("The displayName must be 1-200 printable characters."))?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;

    let mut user = directory::create_user_in(&mut tx, now, &client.context, &new).await?;
    if let Some(external_id) = &input.external_id {
        tx.set_scim_external_id(user.id, Some(external_id)).await?;
    }
    if input.active == Some(false) {
        user = directory::set_status_in(&mut tx, now, &client.context, user, UserStatus::Disabled)
            .await?;
    }

    tx.commit().await?;
    tracing::info!(user_id = %user.id, scim_client = %client.token.id, "SCIM created a user");
    // A new user holds no rights.
    Ok(versioned(
        state,
        client,
        &user,
        input.external_id.as_deref(),
        &[],
    ))
}

/// One user of the client's organisation (§3.4.1).
///
/// # Errors
///
/// 404 if there is no such user in the organisation.
pub async fn read(
    state: &AppState,
    client: &ScimClient,
    id: UserId,
) -> Result<Versioned, ScimError> {
    let mut tx = state.store.read().await?;
    let user = load(&mut tx, client, id).await?;
    let external_id = tx.scim_external_id(user.id).await?;
    let rights = tx.right_assignments(user.id).await?;
    tx.rollback().await?;
    Ok(versioned(
        state,
        client,
        &user,
        external_id.as_deref(),
        &rights,
    ))
}

/// The organisation's users, filtered, sorted and paged (§3.4.2).
///
/// # Errors
///
/// The store failed.
pub async fn list(
    state: &AppState,
    client: &ScimClient,
    request: &ListRequest,
) -> Result<Value, ScimError> {
    Ok(request.page(resources(state, client).await?))
}

/// Every user of the organisation, rendered.
///
/// # Errors
///
/// The store failed.
pub async fn resources(state: &AppState, client: &ScimClient) -> Result<Vec<Value>, ScimError> {
    let org = &client.organisation.cvr;
    let mut tx = state.store.read().await?;
    let users = tx.users(Some(org)).await?;
    let external_ids = tx.scim_external_ids(org).await?;
    let assignments = tx.organisation_right_assignments(org).await?;
    tx.rollback().await?;

    let mut rights: HashMap<UserId, Vec<RightAssignment>> = HashMap::new();
    for assignment in assignments {
        rights
            .entry(assignment.user_id)
            .or_default()
            .push(assignment);
    }
    let base = base_url(state);
    let context = render_context(&base, client);
    Ok(users
        .iter()
        .map(|user| {
            let external_id = external_ids.get(&user.id).map(String::as_str);
            let held = rights.get(&user.id).map_or(&[][..], Vec::as_slice);
            resource::render(user, external_id, held, context)
        })
        .collect())
}

/// Replaces a user with a PUT body (§3.5.1). An absent `externalId` is cleared; an absent
/// `active` leaves the state as it is, since a Portner account always has one.
///
/// # Errors
///
/// 404, 412 on an `If-Match` mismatch, 400 `mutability` for a changed userName or CPR, 400
/// `invalidValue` for a refused value.
pub async fn replace(
    state: &AppState,
    client: &ScimClient,
    id: UserId,
    if_match: Option<&str>,
    document: &Value,
) -> Result<Versioned, ScimError> {
    update(state, client, id, if_match, |_current| Ok(document.clone())).await
}

/// Applies PATCH operations to a user (§3.5.2): to its rendered form, read back as a PUT body
/// would be, so the result must be a valid user or nothing is written.
///
/// # Errors
///
/// As [`replace`], and the PATCH errors of [`super::patch::apply`].
pub async fn patch(
    state: &AppState,
    client: &ScimClient,
    id: UserId,
    if_match: Option<&str>,
    operations: &[Operation],
) -> Result<Versioned, ScimError> {
    update(state, client, id, if_match, |mut current| {
        super::patch::apply(&mut current, operations, &super::patch::USER_RULES)?;
        Ok(current)
    })
    .await
}

/// Deletes a user with their credentials, sessions and rights (§3.6).
///
/// # Errors
///
/// 404, or 412 on an `If-Match` mismatch.
pub async fn delete(
    state: &AppState,
    client: &ScimClient,
    id: UserId,
    if_match: Option<&str>,
) -> Result<(), ScimError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let user = load(&mut tx, client, id).await?;
    check_version(&user, if_match)?;
    directory::delete_user_in(&mut tx, now, &client.context, &user).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, scim_client = %client.token.id, "SCIM deleted a user");
    Ok(())
}

/// Reads, checks the version, computes the new document with `change`, and writes it, all in
/// one transaction.
async fn update(
    state: &AppState,
    client: &ScimClient,
    id: UserId,
    if_match: Option<&str>,
    change: impl FnOnce(Value) -> Result<Value, ScimError>,
) -> Result<Versioned, ScimError> {
    let mut tx = state.store.begin().await?;
    let user = load(&mut tx, client, id).await?;
    check_version(&user, if_match)?;

    let external_id = tx.scim_external_id(user.id).await?;
    let rights = tx.right_assignments(user.id).await?;
    let base = base_url(state);
    let context = render_context(&base, client);
    let current = resource::render(&user, external_id.as_deref(), &rights, context);
    let input = resource::read(&change(current)?)?;
    let now = write_time(state.clock.now(), &user);
    let user = apply(&mut tx, now, client, user, &input).await?;

    tx.commit().await?;
    Ok(versioned(
        state,
        client,
        &user,
        input.external_id.as_deref(),
        &rights,
    ))
}

/// Writes the differences between `user` and `input` through the directory.
async fn apply(
    tx: &mut Tx,
    now: DateTime<Utc>,
    client: &ScimClient,
    user: User,
    input: &UserInput,
) -> Result<User, ScimError> {
    if input.username != user.username {
        return Err(mutability("The userName cannot be changed."));
    }
    if let Some(cpr) = &input.cpr {
        // Compared through the keyed lookup hash, so the stored number is not decrypted.
        let same = tx
            .user_by_cpr(cpr)
            .await?
            .is_some_and(|found| found.id == user.id);
        if !same {
            return Err(mutability(
                "The CPR number can only be given when the user is created.",
            ));
        }
    }
    let change = ProfileChange {
        display_name: input.display_name.clone(),
        email: input.email.clone(),
        external_id: input.external_id.clone(),
    };
    let mut user = directory::change_profile_in(tx, now, &client.context, user, &change).await?;
    if let Some(active) = input.active {
        let has_password = tx.password(user.id).await?.is_some();
        let status = status_for(user.status, active, has_password);
        user = directory::set_status_in(tx, now, &client.context, user, status).await?;
    }
    Ok(user)
}

/// SCIM's `active` in Portner's lifecycle: false disables; true re-enables a disabled account
/// as active if it has a password, or as pending activation if it never activated; true on an
/// account that is not disabled leaves it be (a lock ends by itself, activation is the user's).
fn status_for(current: UserStatus, active: bool, has_password: bool) -> UserStatus {
    match (active, current) {
        (false, _) => UserStatus::Disabled,
        (true, UserStatus::Disabled) if has_password => UserStatus::Active,
        (true, UserStatus::Disabled) => UserStatus::PendingActivation,
        (true, other) => other,
    }
}

/// The time a SCIM write records: now, but strictly after the user's last change, so that the
/// ETag, taken from that time in milliseconds, changes with every write.
fn write_time(now: DateTime<Utc>, user: &User) -> DateTime<Utc> {
    now.max(user.updated_at + TimeDelta::milliseconds(1))
}

/// The user, if it belongs to the client's organisation; any other user is as unknown.
async fn load(tx: &mut Tx, client: &ScimClient, id: UserId) -> Result<User, ScimError> {
    tx.user(id)
        .await?
        .filter(|user| user.org == client.organisation.cvr)
        .ok_or_else(ScimError::not_found)
}

/// RFC 7644 §3.14 with RFC 7232 §3.1 for a user.
fn check_version(user: &User, if_match: Option<&str>) -> Result<(), ScimError> {
    check_tag(&resource::etag(user), if_match)
}

/// RFC 7644 §3.14 with RFC 7232 §3.1: `*` matches any version; otherwise one of the listed
/// tags must be `current`. Tags are compared without their weak prefix, since every tag
/// Portner issues is weak.
///
/// # Errors
///
/// 412 if no listed tag matches.
pub(super) fn check_tag(current: &str, if_match: Option<&str>) -> Result<(), ScimError> {
    let Some(if_match) = if_match else {
        return Ok(());
    };
    let current = opaque(current);
    let matches = if_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == current);
    if matches {
        Ok(())
    } else {
        Err(ScimError::precondition_failed())
    }
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

fn versioned(
    state: &AppState,
    client: &ScimClient,
    user: &User,
    external_id: Option<&str>,
    rights: &[RightAssignment],
) -> Versioned {
    let base = base_url(state);
    Versioned {
        resource: resource::render(user, external_id, rights, render_context(&base, client)),
        etag: resource::etag(user),
        location: resource::location(&base, user),
    }
}

/// The absolute `/scim/v2` URL under the public base URL.
pub fn base_url(state: &AppState) -> String {
    format!("{}/scim/v2", state.identity.base_url.trim_end_matches('/'))
}

fn render_context<'a>(base: &'a str, client: &'a ScimClient) -> RenderContext<'a> {
    RenderContext {
        base,
        organisation_name: &client.organisation.name,
    }
}

fn invalid_value(detail: &'static str) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

fn mutability(detail: &'static str) -> ScimError {
    ScimError::bad_request(ScimType::Mutability, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_maps_onto_the_lifecycle_without_skipping_activation() {
        use UserStatus::{Active, Disabled, Locked, PendingActivation};
        assert_eq!(status_for(Active, false, true), Disabled);
        assert_eq!(status_for(PendingActivation, false, false), Disabled);
        assert_eq!(status_for(Disabled, true, true), Active);
        assert_eq!(status_for(Disabled, true, false), PendingActivation);
        assert_eq!(status_for(Locked, true, true), Locked);
        assert_eq!(
            status_for(PendingActivation, true, false),
            PendingActivation
        );
    }
}
