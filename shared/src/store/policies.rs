//! Sign-in policy overrides in the store: the values an administrator set at run time over
//! the configuration file's (`migrations/*/0016_policy_overrides.sql`).

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, column, millis};

const ENTITY: &str = "policy override";

impl Tx {
    /// Every override, as (key, value), by key.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn policy_overrides(&mut self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT key, value FROM policy_overrides ORDER BY key")
            .fetch_all(self.connection())
            .await?;
        rows.iter()
            .map(|row| Ok((column(row, "key", ENTITY)?, column(row, "value", ENTITY)?)))
            .collect()
    }

    /// Sets the override of `key`, replacing any earlier one.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn set_policy_override(
        &mut self,
        key: &str,
        value: i64,
        now: DateTime<Utc>,
        changed_by: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO policy_overrides (key, value, changed_at, changed_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             changed_at = excluded.changed_at, changed_by = excluded.changed_by",
        )
        .bind(key)
        .bind(value)
        .bind(millis(now))
        .bind(changed_by)
        .execute(self.connection())
        .await?;
        Ok(())
    }

    /// Removes the override of `key`, so the file's value applies again. Returns `false` if
    /// there was none.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_policy_override(&mut self, key: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM policy_overrides WHERE key = $1")
            .bind(key)
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected() == 1)
    }
}
