//! Staff roles and helpdesk records in the store: role assignments, password-change
//! requirements and the user search the helpdesk console runs (issue 5).

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{Cvr, Role, RoleAssignment, User, UserId};

const ROLE: &str = "role assignment";
const REQUIREMENT: &str = "password change requirement";

/// Most users a search returns; the console asks the operator to narrow the search beyond it.
pub const SEARCH_LIMIT: i64 = 50;

impl Tx {
    /// Grants a role. Returns `false` when the user already held it in that organisation
    /// (then nothing changes).
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the user or organisation does not exist.
    pub async fn grant_role(&mut self, assignment: &RoleAssignment) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO role_assignments (user_id, org_cvr, role, granted_by, granted_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, org_cvr, role) DO NOTHING",
        )
        .bind(assignment.user_id.to_string())
        .bind(assignment.org.as_str())
        .bind(assignment.role.as_str())
        .bind(&assignment.granted_by)
        .bind(millis(assignment.granted_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ROLE, error))?;
        Ok(result.rows_affected() == 1)
    }

    /// Revokes a role. Returns `false` when the user did not hold it in that organisation.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn revoke_role(
        &mut self,
        user_id: UserId,
        org: &Cvr,
        role: Role,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "DELETE FROM role_assignments WHERE user_id = $1 AND org_cvr = $2 AND role = $3",
        )
        .bind(user_id.to_string())
        .bind(org.as_str())
        .bind(role.as_str())
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Every role a user holds, by organisation and role.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn roles_of(&mut self, user_id: UserId) -> Result<Vec<RoleAssignment>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, org_cvr, role, granted_by, granted_at FROM role_assignments \
             WHERE user_id = $1 ORDER BY org_cvr, role",
        )
        .bind(user_id.to_string())
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(role_from_row).collect()
    }

    /// Records that the user must choose a new password; returns `false` if that was
    /// already required (the first requirement stands).
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the user does not exist.
    pub async fn require_password_change(
        &mut self,
        user_id: UserId,
        required_by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO password_change_requirements (user_id, required_by, required_at) \
             VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id.to_string())
        .bind(required_by)
        .bind(millis(now))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(REQUIREMENT, error))?;
        Ok(result.rows_affected() == 1)
    }

    /// When a password change was required of the user, if it still is.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn password_change_required(
        &mut self,
        user_id: UserId,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row =
            sqlx::query("SELECT required_at FROM password_change_requirements WHERE user_id = $1")
                .bind(user_id.to_string())
                .fetch_optional(self.connection())
                .await?;
        row.map(|row| time(&row, "required_at", REQUIREMENT))
            .transpose()
    }

    /// Drops the requirement once the user has chosen a new password; returns whether one
    /// was pending.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn clear_password_change_requirement(
        &mut self,
        user_id: UserId,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM password_change_requirements WHERE user_id = $1")
            .bind(user_id.to_string())
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Users of `org` whose username, display name or e-mail address contains `text`
    /// (case-insensitive for ASCII letters), by username, at most [`SEARCH_LIMIT`].
    ///
    /// `%`, `_` and `\` in `text` match themselves: they are escaped, so a search cannot turn
    /// into a pattern that matches everyone.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn search_users(&mut self, org: &Cvr, text: &str) -> Result<Vec<User>, StoreError> {
        let escaped = text
            .to_ascii_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let ids = sqlx::query(
            "SELECT id FROM users WHERE org_cvr = $1 AND (LOWER(username) LIKE $2 ESCAPE '\\' \
             OR LOWER(display_name) LIKE $2 ESCAPE '\\' OR LOWER(email) LIKE $2 ESCAPE '\\') \
             ORDER BY username LIMIT $3",
        )
        .bind(org.as_str())
        .bind(pattern)
        .bind(SEARCH_LIMIT)
        .fetch_all(self.connection())
        .await?;
        let mut users = Vec::with_capacity(ids.len());
        for row in &ids {
            let id: UserId = parsed(row, "id", "user")?;
            if let Some(user) = self.user(id).await? {
                users.push(user);
            }
        }
        Ok(users)
    }
}

fn role_from_row(row: &AnyRow) -> Result<RoleAssignment, StoreError> {
    Ok(RoleAssignment {
        user_id: parsed(row, "user_id", ROLE)?,
        org: parsed(row, "org_cvr", ROLE)?,
        role: parsed(row, "role", ROLE)?,
        granted_by: column(row, "granted_by", ROLE)?,
        granted_at: time(row, "granted_at", ROLE)?,
    })
}
