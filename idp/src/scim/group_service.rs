//! The SCIM operations on groups, between the handlers and [`crate::directory`]: each runs in
//! one transaction, confined to the client's organisation, with the `If-Match` check inside it
//! (RFC 7644 §3.14). Members must be users of the same organisation; naming any other ID
//! refuses the whole request, and the transaction is dropped.
//!
//! Lists are rendered and filtered in memory over the organisation's groups, as users are
//! (`docs/limitations.md`).

use std::collections::HashMap;

use portner_shared::domain::{Group, GroupId, GroupMember};
use portner_shared::store::{StoreError, Tx};
use serde_json::Value;

use super::auth::ScimClient;
use super::error::ScimError;
use super::group_resource::{self, GroupInput};
use super::list::ListRequest;
use super::patch::{GROUP_RULES, Operation};
use super::resource::invalid;
use super::service::{Versioned, base_url, check_tag};
use crate::app::AppState;
use crate::directory::{self, DirectoryError, GroupChange};

/// Creates a group with its members (§3.3).
///
/// # Errors
///
/// 400 `invalidValue` for a refused value or a member that is not a user of the organisation;
/// 409 `uniqueness` if the organisation has a group of that name.
pub async fn create(
    state: &AppState,
    client: &ScimClient,
    document: &Value,
) -> Result<Versioned, ScimError> {
    let input = group_resource::read(document)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let org = &client.organisation.cvr;
    let group = directory::create_group_in(&mut tx, now, &client.context, org, &change(input))
        .await
        .map_err(from_directory)?;
    let members = tx.group_members(group.id).await?;

    tx.commit().await?;
    tracing::info!(group_id = %group.id, scim_client = %client.token.id, "SCIM created a group");
    Ok(versioned(state, &group, &members))
}

/// One group of the client's organisation (§3.4.1).
///
/// # Errors
///
/// 404 if there is no such group in the organisation.
pub async fn read(
    state: &AppState,
    client: &ScimClient,
    id: GroupId,
) -> Result<Versioned, ScimError> {
    let mut tx = state.store.read().await?;
    let group = load(&mut tx, client, id).await?;
    let members = tx.group_members(group.id).await?;
    tx.rollback().await?;
    Ok(versioned(state, &group, &members))
}

/// The organisation's groups, filtered, sorted and paged (§3.4.2).
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

/// Every group of the organisation, rendered with its members.
///
/// # Errors
///
/// The store failed.
pub async fn resources(state: &AppState, client: &ScimClient) -> Result<Vec<Value>, ScimError> {
    let org = &client.organisation.cvr;
    let mut tx = state.store.read().await?;
    let groups = tx.groups(org).await?;
    let memberships = tx.group_memberships(org).await?;
    tx.rollback().await?;

    let mut members: HashMap<GroupId, Vec<GroupMember>> = HashMap::new();
    for (group, member) in memberships {
        members.entry(group).or_default().push(member);
    }
    let base = base_url(state);
    Ok(groups
        .iter()
        .map(|group| {
            let listed = members.get(&group.id).map_or(&[][..], Vec::as_slice);
            group_resource::render(group, listed, &base)
        })
        .collect())
}

/// Replaces a group with a PUT body (§3.5.1): name, external ID and the whole member list.
///
/// # Errors
///
/// 404, 412 on an `If-Match` mismatch, and the errors of [`create`].
pub async fn replace(
    state: &AppState,
    client: &ScimClient,
    id: GroupId,
    if_match: Option<&str>,
    document: &Value,
) -> Result<Versioned, ScimError> {
    update(state, client, id, if_match, |_current| Ok(document.clone())).await
}

/// Applies PATCH operations to a group (§3.5.2), to its rendered form, read back as a PUT
/// body would be.
///
/// # Errors
///
/// As [`replace`], and the PATCH errors of [`super::patch::apply`].
pub async fn patch(
    state: &AppState,
    client: &ScimClient,
    id: GroupId,
    if_match: Option<&str>,
    operations: &[Operation],
) -> Result<Versioned, ScimError> {
    update(state, client, id, if_match, |mut current| {
        super::patch::apply(&mut current, operations, &GROUP_RULES)?;
        Ok(current)
    })
    .await
}

/// Deletes a group (§3.6); its members stay users. The group a MitID Erhverv sync is scoped
/// to is refused with 409, since deleting it would suspend every member's identity.
///
/// # Errors
///
/// 404, 412 on an `If-Match` mismatch, 409 for the sync's scope group.
pub async fn delete(
    state: &AppState,
    client: &ScimClient,
    id: GroupId,
    if_match: Option<&str>,
) -> Result<(), ScimError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let group = load(&mut tx, client, id).await?;
    check_tag(&group_resource::etag(&group), if_match)?;
    if tx.group_scopes_sync(group.id).await? {
        return Err(ScimError::group_scopes_sync());
    }
    directory::delete_group_in(&mut tx, now, &client.context, &group)
        .await
        .map_err(from_directory)?;
    tx.commit().await?;
    tracing::info!(group_id = %group.id, scim_client = %client.token.id, "SCIM deleted a group");
    Ok(())
}

/// Reads, checks the version, computes the new document with `change`, checks its members
/// and writes it, all in one transaction.
async fn update(
    state: &AppState,
    client: &ScimClient,
    id: GroupId,
    if_match: Option<&str>,
    change_document: impl FnOnce(Value) -> Result<Value, ScimError>,
) -> Result<Versioned, ScimError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let group = load(&mut tx, client, id).await?;
    check_tag(&group_resource::etag(&group), if_match)?;

    let members = tx.group_members(group.id).await?;
    let current = group_resource::render(&group, &members, &base_url(state));
    let input = group_resource::read(&change_document(current)?)?;
    let group = directory::change_group_in(&mut tx, now, &client.context, group, &change(input))
        .await
        .map_err(from_directory)?;
    let members = tx.group_members(group.id).await?;

    tx.commit().await?;
    Ok(versioned(state, &group, &members))
}

fn change(input: GroupInput) -> GroupChange {
    GroupChange {
        name: input.name,
        external_id: input.external_id,
        members: input.members,
    }
}

/// A name taken is a group's name here, not a userName; a member who is no user of the
/// organisation is a bad value, said without telling whether the ID is a user elsewhere.
fn from_directory(error: DirectoryError) -> ScimError {
    match error {
        DirectoryError::Store(StoreError::Conflict { .. }) => ScimError::group_name_taken(),
        DirectoryError::NotFound("user") => {
            invalid("Each member must be a user of the organisation.")
        }
        other => other.into(),
    }
}

/// The group, if it belongs to the client's organisation; any other group is as unknown.
async fn load(tx: &mut Tx, client: &ScimClient, id: GroupId) -> Result<Group, ScimError> {
    tx.group(id)
        .await?
        .filter(|group| group.org == client.organisation.cvr)
        .ok_or_else(ScimError::not_found)
}

fn versioned(state: &AppState, group: &Group, members: &[GroupMember]) -> Versioned {
    let base = base_url(state);
    Versioned {
        resource: group_resource::render(group, members, &base),
        etag: group_resource::etag(group),
        location: group_resource::location(&base, group),
    }
}
