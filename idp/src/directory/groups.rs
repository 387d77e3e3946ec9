//! Changes to groups and their members, each with its audit event and, where the group scopes
//! its organisation's MitID Erhverv sync, the members' sync actions, on the caller's
//! transaction (issue 5 item 5; issue 6 item 2).
//!
//! A member named who is not a user of the group's organisation is refused with
//! [`DirectoryError::NotFound`] (`user`); the caller drops the transaction, so nothing of the
//! change is written.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::domain::{Cvr, Group, GroupId, GroupName, User, UserId};
use portner_shared::store::Tx;

use super::DirectoryError;

/// What a group should be: its name, the client's ID for it and its members.
#[derive(Clone, Debug)]
pub struct GroupChange {
    /// The name, unique within the organisation.
    pub name: GroupName,
    /// The provisioning client's own identifier, if any.
    pub external_id: Option<String>,
    /// Every member, users of the group's organisation.
    pub members: BTreeSet<UserId>,
}

/// Creates a group in `org` with its members (`GROUP_CREATED`, then `GROUP_MEMBER_ADDED` for
/// each).
///
/// # Errors
///
/// A conflict inside [`DirectoryError::Store`] if the organisation has a group of that name.
pub async fn create_group_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    org: &Cvr,
    change: &GroupChange,
) -> Result<Group, DirectoryError> {
    let group = Group {
        id: GroupId::random(),
        org: org.clone(),
        name: change.name.clone(),
        external_id: change.external_id.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    tx.insert_group(&group).await?;
    let event = AuditEvent::GroupCreated {
        group_id: group.id,
        org: org.clone(),
        name: group.name.as_str().to_owned(),
    };
    portner_audit::append(
        tx,
        now,
        context,
        &Subject::Organisation(org.clone()),
        &event,
    )
    .await?;

    // A new group scopes no sync yet.
    for user_id in &change.members {
        set_membership(tx, now, context, &group, *user_id, true, false).await?;
    }
    Ok(group)
}

/// Makes `group` what `change` says: renames it (`GROUP_CHANGED`) and adds and removes members
/// one by one. Returns the group with its version moved on, or unchanged if nothing differed.
///
/// # Errors
///
/// A conflict inside [`DirectoryError::Store`] if the new name is another group's.
pub async fn change_group_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    mut group: Group,
    change: &GroupChange,
) -> Result<Group, DirectoryError> {
    let current: BTreeSet<UserId> = tx.group_member_ids(group.id).await?.into_iter().collect();
    let renamed = group.name != change.name || group.external_id != change.external_id;
    let joining: Vec<UserId> = change.members.difference(&current).copied().collect();
    let leaving: Vec<UserId> = current.difference(&change.members).copied().collect();
    if !renamed && joining.is_empty() && leaving.is_empty() {
        return Ok(group);
    }

    group.name = change.name.clone();
    group.external_id = change.external_id.clone();
    group.version += 1;
    group.updated_at = now;
    tx.update_group(&group).await?;
    if renamed {
        let event = AuditEvent::GroupChanged {
            group_id: group.id,
            org: group.org.clone(),
            name: group.name.as_str().to_owned(),
        };
        let subject = Subject::Organisation(group.org.clone());
        portner_audit::append(tx, now, context, &subject, &event).await?;
    }

    let scopes_sync = tx.group_scopes_sync(group.id).await?;
    for user_id in joining {
        set_membership(tx, now, context, &group, user_id, true, scopes_sync).await?;
    }
    for user_id in leaving {
        set_membership(tx, now, context, &group, user_id, false, scopes_sync).await?;
    }
    Ok(group)
}

/// Deletes a group: its members leave it one by one, each audited (and, for a scope group,
/// queued for suspension), then `GROUP_DELETED`. The caller refuses to delete the group a
/// sync is scoped to, so that one deletion cannot suspend a whole organisation.
///
/// # Errors
///
/// The store or the audit trail failed.
pub async fn delete_group_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    group: &Group,
) -> Result<(), DirectoryError> {
    let scopes_sync = tx.group_scopes_sync(group.id).await?;
    for user_id in tx.group_member_ids(group.id).await? {
        set_membership(tx, now, context, group, user_id, false, scopes_sync).await?;
    }
    tx.delete_group(group.id).await?;
    let event = AuditEvent::GroupDeleted {
        group_id: group.id,
        org: group.org.clone(),
        name: group.name.as_str().to_owned(),
    };
    let subject = Subject::Organisation(group.org.clone());
    portner_audit::append(tx, now, context, &subject, &event).await?;
    Ok(())
}

/// Puts the user in the group (`joined`) or takes them out; where that changed anything, the
/// change is audited on the user and, for the sync's scope group (`scopes_sync`), the sync
/// hears of it.
async fn set_membership(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    group: &Group,
    user_id: UserId,
    joined: bool,
    scopes_sync: bool,
) -> Result<(), DirectoryError> {
    let user = member(tx, group, user_id).await?;
    let changed = if joined {
        tx.add_group_member(group.id, user_id, now).await?
    } else {
        tx.remove_group_member(group.id, user_id).await?
    };
    if !changed {
        return Ok(());
    }

    if scopes_sync {
        portner_idm_sync::enqueue::scope_membership_changed(tx, &user, joined, now).await?;
    }
    let group_id = group.id;
    let event = if joined {
        AuditEvent::GroupMemberAdded { group_id, user_id }
    } else {
        AuditEvent::GroupMemberRemoved { group_id, user_id }
    };
    portner_audit::append(tx, now, context, &Subject::User(user_id), &event).await?;
    Ok(())
}

/// The user, who must be of the group's organisation.
async fn member(tx: &mut Tx, group: &Group, user_id: UserId) -> Result<User, DirectoryError> {
    tx.user(user_id)
        .await?
        .filter(|user| user.org == group.org)
        .ok_or(DirectoryError::NotFound("user"))
}
