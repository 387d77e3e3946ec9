//! The notification outbox (HD-5): notices to users about changes to their sign-in, queued in
//! the transaction of the change and sent later by the server's notification task.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, column, millis, parsed};
use crate::domain::UserId;

const NOTIFICATION: &str = "notification";

/// A notification waiting to be sent.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PendingNotification {
    /// Its row.
    pub id: i64,
    /// The user to notify.
    pub user_id: UserId,
    /// What happened, as the notifier's stable code.
    pub kind: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Sending attempts so far.
    pub attempts: i64,
}

impl Tx {
    /// Queues a notification for `user_id`, due at once.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the user does not exist.
    pub async fn enqueue_notification(
        &mut self,
        user_id: UserId,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO notifications (user_id, kind, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $3)",
        )
        .bind(user_id.to_string())
        .bind(kind)
        .bind(millis(now))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(NOTIFICATION, error))?;
        Ok(())
    }

    /// Claims up to `limit` due notifications: each is pushed `lease` into the future, so a
    /// second sender (another replica) skips it until this one settles it.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn claim_notifications(
        &mut self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, kind, created_at, attempts FROM notifications \
             WHERE sent_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(millis(now))
        .bind(limit)
        .fetch_all(self.connection())
        .await?;
        let mut claimed = Vec::new();
        for row in &rows {
            let id: i64 = column(row, "id", NOTIFICATION)?;
            let taken = sqlx::query(
                "UPDATE notifications SET next_attempt_at = $1 \
                 WHERE id = $2 AND next_attempt_at <= $3 AND sent_at IS NULL",
            )
            .bind(millis(now + lease))
            .bind(id)
            .bind(millis(now))
            .execute(self.connection())
            .await?;
            if taken.rows_affected() == 1 {
                claimed.push(PendingNotification {
                    id,
                    user_id: parsed(row, "user_id", NOTIFICATION)?,
                    kind: column(row, "kind", NOTIFICATION)?,
                    created_at: super::time(row, "created_at", NOTIFICATION)?,
                    attempts: column(row, "attempts", NOTIFICATION)?,
                });
            }
        }
        Ok(claimed)
    }

    /// Records a notification as sent.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn notification_sent(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE notifications SET sent_at = $1, attempts = attempts + 1 WHERE id = $2")
            .bind(millis(now))
            .bind(id)
            .execute(self.connection())
            .await?;
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at`, or given up when `None`.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn notification_failed(
        &mut self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (next, given_up) = match retry_at {
            Some(at) => (millis(at), None),
            None => (millis(now), Some(millis(now))),
        };
        sqlx::query(
            "UPDATE notifications SET attempts = attempts + 1, last_error = $1, \
             next_attempt_at = $2, given_up_at = $3 WHERE id = $4",
        )
        .bind(error)
        .bind(next)
        .bind(given_up)
        .bind(id)
        .execute(self.connection())
        .await?;
        Ok(())
    }
}
