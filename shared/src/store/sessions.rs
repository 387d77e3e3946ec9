//! Sign-in sessions in the store, keyed by the SHA-256 of the cookie value.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{Session, UserId};

const ENTITY: &str = "session";

macro_rules! columns {
    () => {
        "id_hash, user_id, level, factors_json, created_at, last_seen_at, expires_at"
    };
}

impl Tx {
    /// Stores a new session.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] on an identifier collision (never expected with 128-bit random
    /// identifiers); [`StoreError::MissingReference`] if the user does not exist.
    pub async fn insert_session(&mut self, session: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, level, factors_json, created_at, \
             last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session.id_hash.clone())
        .bind(session.user_id.to_string())
        .bind(session.level.as_str())
        .bind(&session.factors_json)
        .bind(millis(session.created_at))
        .bind(millis(session.last_seen_at))
        .bind(millis(session.expires_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        Ok(())
    }

    /// The session with this identifier hash, expired or not: the caller judges expiry
    /// against its clock and policy.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn session(&mut self, id_hash: &[u8]) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE id_hash = $1"
        ))
        .bind(id_hash.to_vec())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Replaces a session's level, factors and last-seen time.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn update_session(&mut self, session: &Session) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE sessions SET level = $2, factors_json = $3, last_seen_at = $4 \
             WHERE id_hash = $1",
        )
        .bind(session.id_hash.clone())
        .bind(session.level.as_str())
        .bind(&session.factors_json)
        .bind(millis(session.last_seen_at))
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// A user's sessions, newest first.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn sessions_of(&mut self, user_id: UserId) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE user_id = $1 ORDER BY created_at DESC"
        ))
        .bind(user_id.to_string())
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Ends one session. Returns `false` if it did not exist.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_session(&mut self, id_hash: &[u8]) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.to_vec())
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Ends every session of a user; returns how many there were.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_sessions_of(&mut self, user_id: UserId) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id.to_string())
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected())
    }

    /// Removes sessions whose absolute lifetime ended before `now`; returns how many.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_expired_sessions(&mut self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected())
    }
}

fn from_row(row: &AnyRow) -> Result<Session, StoreError> {
    Ok(Session {
        id_hash: column(row, "id_hash", ENTITY)?,
        user_id: parsed(row, "user_id", ENTITY)?,
        level: parsed(row, "level", ENTITY)?,
        factors_json: column(row, "factors_json", ENTITY)?,
        created_at: time(row, "created_at", ENTITY)?,
        last_seen_at: time(row, "last_seen_at", ENTITY)?,
        expires_at: time(row, "expires_at", ENTITY)?,
    })
}
