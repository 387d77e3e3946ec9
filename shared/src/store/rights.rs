//! The rights catalogue and right assignments in the store.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{Right, RightAssignment, RightId, RightScope, UserId};

const ENTITY: &str = "right";

impl Tx {
    /// Adds a catalogue entry, or renames it if it exists.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn upsert_right(&mut self, right: &Right) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rights (id, name, source) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, source = excluded.source",
        )
        .bind(right.id.as_str())
        .bind(&right.name)
        .bind(right.source.as_str())
        .execute(self.connection())
        .await?;
        Ok(())
    }

    /// The whole catalogue, ordered by key.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn rights(&mut self) -> Result<Vec<Right>, StoreError> {
        let rows = sqlx::query("SELECT id, name, source FROM rights ORDER BY id")
            .fetch_all(self.connection())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Right {
                    id: parsed(row, "id", ENTITY)?,
                    name: column(row, "name", ENTITY)?,
                    source: parsed(row, "source", ENTITY)?,
                })
            })
            .collect()
    }

    /// Grants a right within a scope. Granting the same assignment twice is a conflict.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if already granted; [`StoreError::MissingReference`] if the
    /// user or the right does not exist.
    pub async fn assign_right(&mut self, assignment: &RightAssignment) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO right_assignments \
             (user_id, right_id, scope_kind, scope_value, granted_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(assignment.user_id.to_string())
        .bind(assignment.right.as_str())
        .bind(assignment.scope.kind())
        .bind(assignment.scope.value())
        .bind(millis(assignment.granted_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database("right assignment", error))?;
        Ok(())
    }

    /// Withdraws one assignment. Returns `false` if it was not held.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn revoke_right(
        &mut self,
        user_id: UserId,
        right: &RightId,
        scope: &RightScope,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "DELETE FROM right_assignments \
             WHERE user_id = $1 AND right_id = $2 AND scope_kind = $3 AND scope_value = $4",
        )
        .bind(user_id.to_string())
        .bind(right.as_str())
        .bind(scope.kind())
        .bind(scope.value())
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Every assignment held by a user of `org`, for a list of its users.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn organisation_right_assignments(
        &mut self,
        org: &crate::domain::Cvr,
    ) -> Result<Vec<RightAssignment>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.user_id, a.right_id, a.scope_kind, a.scope_value, a.granted_at \
             FROM right_assignments a JOIN users u ON u.id = a.user_id WHERE u.org_cvr = $1 \
             ORDER BY a.right_id, a.scope_kind, a.scope_value",
        )
        .bind(org.as_str())
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(assignment_from_row).collect()
    }

    /// How many assignments, of any user, are held within `scope`: a P-unit or SE number
    /// that assignments still name cannot be taken from its organisation.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn scope_assignment_count(&mut self, scope: &RightScope) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM right_assignments \
             WHERE scope_kind = $1 AND scope_value = $2",
        )
        .bind(scope.kind())
        .bind(scope.value())
        .fetch_one(self.connection())
        .await?;
        column(&row, "n", ENTITY)
    }

    /// A user's assignments, ordered by right and scope.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn right_assignments(
        &mut self,
        user_id: UserId,
    ) -> Result<Vec<RightAssignment>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, right_id, scope_kind, scope_value, granted_at FROM right_assignments \
             WHERE user_id = $1 ORDER BY right_id, scope_kind, scope_value",
        )
        .bind(user_id.to_string())
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(assignment_from_row).collect()
    }
}

fn assignment_from_row(row: &AnyRow) -> Result<RightAssignment, StoreError> {
    let kind: String = column(row, "scope_kind", ENTITY)?;
    let value: String = column(row, "scope_value", ENTITY)?;
    let scope = RightScope::from_parts(&kind, &value)
        .map_err(|error| StoreError::corrupt(ENTITY, error))?;
    let granted_at: DateTime<Utc> = time(row, "granted_at", ENTITY)?;
    Ok(RightAssignment {
        user_id: parsed(row, "user_id", ENTITY)?,
        right: parsed(row, "right_id", ENTITY)?,
        scope,
        granted_at,
    })
}
