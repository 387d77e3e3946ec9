//! Reset approvals in the store (HD-3): a helpdesk operator's request to reset an account and
//! the second operator's approval of it.
//!
//! Approving and using are conditional updates that report whether they took effect, so two
//! operators racing on one request (two approvals, or two codes from one approval) cannot both
//! succeed on either backend: the second update finds the row already changed and touches
//! nothing. Who may approve is the helpdesk's decision; the store only refuses a requester
//! approving their own request, as the schema does.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{Cvr, ResetApproval, UserId};

const ENTITY: &str = "reset approval";

/// Most open requests listed for one organisation; more are a backlog nobody reads on a page.
pub const OPEN_APPROVALS_LIMIT: i64 = 50;

macro_rules! columns {
    () => {
        "reset_approvals.id, reset_approvals.user_id, proofing_id, requested_by, reason, \
         requested_at, expires_at, approved_by, approved_at, used_at"
    };
}

impl Tx {
    /// Records a reset request; `request.id` is ignored and the assigned ID returned.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the user or the verification does not exist.
    pub async fn insert_reset_approval(
        &mut self,
        request: &ResetApproval,
    ) -> Result<ResetApproval, StoreError> {
        let row = sqlx::query(
            "INSERT INTO reset_approvals (user_id, proofing_id, requested_by, reason, \
             requested_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(request.user_id.to_string())
        .bind(request.proofing_id)
        .bind(request.requested_by.to_string())
        .bind(&request.reason)
        .bind(millis(request.requested_at))
        .bind(millis(request.expires_at))
        .fetch_one(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        Ok(ResetApproval {
            id: column(&row, "id", ENTITY)?,
            requested_at: crate::clock::from_millis(millis(request.requested_at)),
            expires_at: crate::clock::from_millis(millis(request.expires_at)),
            approved_by: None,
            approved_at: None,
            used_at: None,
            ..request.clone()
        })
    }

    /// One reset request by its ID.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn reset_approval(&mut self, id: i64) -> Result<Option<ResetApproval>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM reset_approvals WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A user's reset requests that are neither used nor lapsed at `now`, oldest first.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn live_reset_approvals(
        &mut self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<ResetApproval>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM reset_approvals WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2 \
             ORDER BY id"
        ))
        .bind(user_id.to_string())
        .bind(millis(now))
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The requests about users of `org` still waiting for a second operator at `now`, oldest
    /// first, at most [`OPEN_APPROVALS_LIMIT`].
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn awaiting_reset_approvals(
        &mut self,
        org: &Cvr,
        now: DateTime<Utc>,
    ) -> Result<Vec<ResetApproval>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM reset_approvals JOIN users ON users.id = reset_approvals.user_id \
             WHERE users.org_cvr = $1 AND approved_by IS NULL AND used_at IS NULL \
             AND expires_at > $2 ORDER BY reset_approvals.id LIMIT $3"
        ))
        .bind(org.as_str())
        .bind(millis(now))
        .bind(OPEN_APPROVALS_LIMIT)
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Approves request `id` by `approver`, if it still waits at `now` and `approver` did not
    /// make it. Returns whether it was approved by this call.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn approve_reset(
        &mut self,
        id: i64,
        approver: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE reset_approvals SET approved_by = $2, approved_at = $3 \
             WHERE id = $1 AND approved_by IS NULL AND used_at IS NULL AND expires_at > $3 \
             AND requested_by <> $2",
        )
        .bind(id)
        .bind(approver.to_string())
        .bind(millis(now))
        .execute(self.connection())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks approved request `id` used at `now`, if it is approved, unused and not lapsed.
    /// Returns whether this call used it.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn use_reset_approval(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE reset_approvals SET used_at = $2 \
             WHERE id = $1 AND approved_by IS NOT NULL AND used_at IS NULL AND expires_at > $2",
        )
        .bind(id)
        .bind(millis(now))
        .execute(self.connection())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn from_row(row: &AnyRow) -> Result<ResetApproval, StoreError> {
    let approved_by: Option<String> = column(row, "approved_by", ENTITY)?;
    let approved_by = approved_by
        .map(|text| text.parse())
        .transpose()
        .map_err(|error| StoreError::corrupt(ENTITY, format!("approved_by: {error}")))?;
    let approved_at: Option<i64> = column(row, "approved_at", ENTITY)?;
    let used_at: Option<i64> = column(row, "used_at", ENTITY)?;
    Ok(ResetApproval {
        id: column(row, "id", ENTITY)?,
        user_id: parsed(row, "user_id", ENTITY)?,
        proofing_id: column(row, "proofing_id", ENTITY)?,
        requested_by: parsed(row, "requested_by", ENTITY)?,
        reason: column(row, "reason", ENTITY)?,
        requested_at: time(row, "requested_at", ENTITY)?,
        expires_at: time(row, "expires_at", ENTITY)?,
        approved_by,
        approved_at: approved_at.map(crate::clock::from_millis),
        used_at: used_at.map(crate::clock::from_millis),
    })
}
