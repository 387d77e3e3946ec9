//! The SAML replay cache: request IDs already accepted, shared by every replica.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, millis};

impl Tx {
    /// Records that `issuer` sent a request with `request_id`, remembered until `expires_at`.
    /// Returns `false` if that pair is already remembered: a replay (A6).
    ///
    /// `ON CONFLICT DO NOTHING` keeps a replay from aborting the transaction on PostgreSQL,
    /// and two replicas racing on the same request both run the same insert: exactly one of
    /// them sees a new row.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn remember_request_id(
        &mut self,
        issuer: &str,
        request_id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO saml_request_ids (issuer, request_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (issuer, request_id) DO NOTHING",
        )
        .bind(issuer)
        .bind(request_id)
        .bind(millis(expires_at))
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Forgets request IDs whose window has passed; returns how many.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn forget_expired_request_ids(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM saml_request_ids WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected())
    }
}
