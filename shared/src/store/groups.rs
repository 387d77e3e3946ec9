//! Groups and their members in the store.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{Cvr, Group, GroupId, GroupMember, UserId};

const ENTITY: &str = "group";
const MEMBER: &str = "group member";

impl Tx {
    /// Adds a group without members.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if the organisation has a group of that name already (case
    /// aside); [`StoreError::MissingReference`] for an unknown organisation.
    pub async fn insert_group(&mut self, group: &Group) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_groups (id, org_cvr, display_name, name_key, external_id, version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(group.id.to_string())
        .bind(group.org.as_str())
        .bind(group.name.as_str())
        .bind(group.name.key())
        .bind(group.external_id.as_deref())
        .bind(group.version)
        .bind(millis(group.created_at))
        .bind(millis(group.updated_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        Ok(())
    }

    /// Writes a group's name, external ID, version and change time.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if the new name is another group's.
    pub async fn update_group(&mut self, group: &Group) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE user_groups SET display_name = $2, name_key = $3, external_id = $4, \
             version = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(group.id.to_string())
        .bind(group.name.as_str())
        .bind(group.name.key())
        .bind(group.external_id.as_deref())
        .bind(group.version)
        .bind(millis(group.updated_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        Ok(())
    }

    /// Removes a group and its memberships. Returns `false` if there was none.
    ///
    /// # Errors
    ///
    /// The database failed (a group that scopes a sync is refused by its foreign key).
    pub async fn delete_group(&mut self, id: GroupId) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM user_groups WHERE id = $1")
            .bind(id.to_string())
            .execute(self.connection())
            .await
            .map_err(|error| StoreError::from_database(ENTITY, error))?;
        Ok(result.rows_affected() == 1)
    }

    /// One group.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn group(&mut self, id: GroupId) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(
            "SELECT id, org_cvr, display_name, external_id, version, created_at, updated_at \
             FROM user_groups WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    /// The organisation's group of that name, case aside.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn group_by_name(
        &mut self,
        org: &Cvr,
        name: &str,
    ) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(
            "SELECT id, org_cvr, display_name, external_id, version, created_at, updated_at \
             FROM user_groups WHERE org_cvr = $1 AND name_key = $2",
        )
        .bind(org.as_str())
        .bind(name.trim().to_lowercase())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    /// The organisation's groups, by name.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn groups(&mut self, org: &Cvr) -> Result<Vec<Group>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, org_cvr, display_name, external_id, version, created_at, updated_at \
             FROM user_groups WHERE org_cvr = $1 ORDER BY name_key",
        )
        .bind(org.as_str())
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(group_from_row).collect()
    }

    /// A group's members, by username.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn group_members(&mut self, id: GroupId) -> Result<Vec<GroupMember>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.group_id, m.user_id, u.username FROM user_group_members m \
             JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY u.username",
        )
        .bind(id.to_string())
        .fetch_all(self.connection())
        .await?;
        rows.iter()
            .map(|row| member_from_row(row).map(|(_, member)| member))
            .collect()
    }

    /// The members of every group of an organisation, as (group, member) pairs, for a list.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn group_memberships(
        &mut self,
        org: &Cvr,
    ) -> Result<Vec<(GroupId, GroupMember)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.group_id, m.user_id, u.username FROM user_group_members m \
             JOIN user_groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id \
             WHERE g.org_cvr = $1 ORDER BY u.username",
        )
        .bind(org.as_str())
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(member_from_row).collect()
    }

    /// The users in a group, as a set, for the sync's desired state.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn group_member_ids(&mut self, id: GroupId) -> Result<HashSet<UserId>, StoreError> {
        Ok(self
            .group_members(id)
            .await?
            .into_iter()
            .map(|member| member.user_id)
            .collect())
    }

    /// Whether a user is in a group.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn is_group_member(
        &mut self,
        group: GroupId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS found FROM user_group_members WHERE group_id = $1 AND user_id = $2",
        )
        .bind(group.to_string())
        .bind(user.to_string())
        .fetch_optional(self.connection())
        .await?;
        Ok(row.is_some())
    }

    /// Puts a user in a group. Returns `false` if they were in it already.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] for an unknown group or user.
    pub async fn add_group_member(
        &mut self,
        group: GroupId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self.is_group_member(group, user).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO user_group_members (group_id, user_id, added_at) VALUES ($1, $2, $3)",
        )
        .bind(group.to_string())
        .bind(user.to_string())
        .bind(millis(now))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(MEMBER, error))?;
        Ok(true)
    }

    /// Takes a user out of a group. Returns `false` if they were not in it.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn remove_group_member(
        &mut self,
        group: GroupId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("DELETE FROM user_group_members WHERE group_id = $1 AND user_id = $2")
                .bind(group.to_string())
                .bind(user.to_string())
                .execute(self.connection())
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Whether a group is the sync scope of its organisation (and so may not be deleted).
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn group_scopes_sync(&mut self, group: GroupId) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT 1 AS found FROM sync_organisations WHERE scope_group_id = $1")
                .bind(group.to_string())
                .fetch_optional(self.connection())
                .await?;
        Ok(row.is_some())
    }
}

fn group_from_row(row: &AnyRow) -> Result<Group, StoreError> {
    Ok(Group {
        id: parsed(row, "id", ENTITY)?,
        org: parsed(row, "org_cvr", ENTITY)?,
        name: parsed(row, "display_name", ENTITY)?,
        external_id: column(row, "external_id", ENTITY)?,
        version: column(row, "version", ENTITY)?,
        created_at: time(row, "created_at", ENTITY)?,
        updated_at: time(row, "updated_at", ENTITY)?,
    })
}

fn member_from_row(row: &AnyRow) -> Result<(GroupId, GroupMember), StoreError> {
    Ok((
        parsed(row, "group_id", MEMBER)?,
        GroupMember {
            user_id: parsed(row, "user_id", MEMBER)?,
            username: column(row, "username", MEMBER)?,
        },
    ))
}
