//! The sync outbox in the store. The claiming worker (with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL) belongs to the IdM sync; this module queues, lists and settles actions.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{Cvr, OutboxAction, OutboxState, SyncAction};

const ENTITY: &str = "outbox action";

macro_rules! columns {
    () => {
        "id, org_cvr, action_json, state, attempts, not_before, last_error, created_at"
    };
}

impl Tx {
    /// Queues an action for MitID Erhverv; call it in the transaction of the change that
    /// causes it. Returns the action's ID.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the organisation does not exist.
    pub async fn enqueue_sync_action(
        &mut self,
        org: &Cvr,
        action: &SyncAction,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let action_json =
            serde_json::to_string(action).map_err(|error| StoreError::corrupt(ENTITY, error))?;
        let row = sqlx::query(
            "INSERT INTO sync_outbox (org_cvr, action_json, state, attempts, not_before, \
             created_at) VALUES ($1, $2, 'pending', 0, $3, $3) RETURNING id",
        )
        .bind(org.as_str())
        .bind(action_json)
        .bind(millis(now))
        .fetch_one(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        column(&row, "id", ENTITY)
    }

    /// Actions in a state, oldest first, at most `limit`.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn outbox_actions(
        &mut self,
        state: OutboxState,
        limit: i64,
    ) -> Result<Vec<OutboxAction>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM sync_outbox WHERE state = $1 ORDER BY id LIMIT $2"
        ))
        .bind(state.as_str())
        .bind(limit)
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// One action by ID, whatever its state.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn outbox_action(&mut self, id: i64) -> Result<Option<OutboxAction>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM sync_outbox WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Failed actions of `org` that nobody has dismissed, oldest first, at most `limit`.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn open_failures_of(
        &mut self,
        org: &Cvr,
        limit: i64,
    ) -> Result<Vec<OutboxAction>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM sync_outbox WHERE org_cvr = $1 AND state = 'failed' \
             AND dismissed_at IS NULL ORDER BY id LIMIT $2"
        ))
        .bind(org.as_str())
        .bind(limit)
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Queue depth of `org` by state, with dismissed failures counted as `dismissed`.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn outbox_counts_of(&mut self, org: &Cvr) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT CASE WHEN dismissed_at IS NULL THEN state ELSE 'dismissed' END AS shown, \
             COUNT(*) AS n FROM sync_outbox WHERE org_cvr = $1 GROUP BY shown ORDER BY shown",
        )
        .bind(org.as_str())
        .fetch_all(self.connection())
        .await?;
        let mut counts = Vec::with_capacity(rows.len());
        for row in &rows {
            counts.push((column(row, "shown", ENTITY)?, column(row, "n", ENTITY)?));
        }
        Ok(counts)
    }

    /// Marks a failed, undismissed action as dismissed by `by`. Returns whether it was.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn dismiss_sync_action(
        &mut self,
        id: i64,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE sync_outbox SET dismissed_at = $2, dismissed_by = $3, updated_at = $2 \
             WHERE id = $1 AND state = 'failed' AND dismissed_at IS NULL",
        )
        .bind(id)
        .bind(millis(now))
        .bind(by)
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records the outcome of an attempt: the new state, the attempt count, the earliest next
    /// try and the error code if it failed.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn settle_outbox_action(
        &mut self,
        id: i64,
        state: OutboxState,
        not_before: DateTime<Utc>,
        last_error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE sync_outbox SET state = $2, attempts = attempts + 1, not_before = $3, \
             last_error = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(millis(not_before))
        .bind(last_error)
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }
}

fn from_row(row: &AnyRow) -> Result<OutboxAction, StoreError> {
    let action_json: String = column(row, "action_json", ENTITY)?;
    let action = serde_json::from_str(&action_json)
        .map_err(|error| StoreError::corrupt(ENTITY, format!("action_json: {error}")))?;
    Ok(OutboxAction {
        id: column(row, "id", ENTITY)?,
        org: parsed(row, "org_cvr", ENTITY)?,
        action,
        state: parsed(row, "state", ENTITY)?,
        attempts: column(row, "attempts", ENTITY)?,
        not_before: time(row, "not_before", ENTITY)?,
        last_error: column(row, "last_error", ENTITY)?,
        created_at: time(row, "created_at", ENTITY)?,
    })
}
