//! Identity-proofing records in the store.

use chrono::{DateTime, Utc};

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{IdentityProofing, NsisLevel, ProofingMethod, UserId};

const ENTITY: &str = "identity proofing";

impl Tx {
    /// Records an identity verification and returns it with its assigned ID.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the user does not exist.
    pub async fn insert_identity_proofing(
        &mut self,
        user_id: UserId,
        method: ProofingMethod,
        reference: &str,
        level: NsisLevel,
        verified_by: &str,
        now: DateTime<Utc>,
    ) -> Result<IdentityProofing, StoreError> {
        let row = sqlx::query(
            "INSERT INTO identity_proofings (user_id, method, reference, level, verified_by, \
             verified_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user_id.to_string())
        .bind(method.as_str())
        .bind(reference)
        .bind(level.as_str())
        .bind(verified_by)
        .bind(millis(now))
        .fetch_one(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        Ok(IdentityProofing {
            id: column(&row, "id", ENTITY)?,
            user_id,
            method,
            reference: reference.to_owned(),
            level,
            verified_by: verified_by.to_owned(),
            verified_at: crate::clock::from_millis(millis(now)),
        })
    }

    /// A user's identity verifications, oldest first.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn identity_proofings(
        &mut self,
        user_id: UserId,
    ) -> Result<Vec<IdentityProofing>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, method, reference, level, verified_by, verified_at \
             FROM identity_proofings WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id.to_string())
        .fetch_all(self.connection())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(IdentityProofing {
                    id: column(row, "id", ENTITY)?,
                    user_id: parsed(row, "user_id", ENTITY)?,
                    method: parsed(row, "method", ENTITY)?,
                    reference: column(row, "reference", ENTITY)?,
                    level: parsed(row, "level", ENTITY)?,
                    verified_by: column(row, "verified_by", ENTITY)?,
                    verified_at: time(row, "verified_at", ENTITY)?,
                })
            })
            .collect()
    }
}
