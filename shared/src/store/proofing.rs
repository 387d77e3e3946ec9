//! Identity-proofing records in the store.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{IdDocument, IdentityProofing, NsisLevel, ProofingMethod, UserId};

const ENTITY: &str = "identity proofing";

macro_rules! columns {
    () => {
        "id, user_id, method, reference, level, verified_by, verified_at, document_type"
    };
}

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
        let record = IdentityProofing {
            id: 0,
            user_id,
            method,
            reference: reference.to_owned(),
            level,
            verified_by: verified_by.to_owned(),
            verified_at: now,
            document_type: None,
        };
        self.insert_identity_verification(&record).await
    }

    /// Records an identity verification with everything a helpdesk operator gives, the
    /// checked document included (HD-1); `record.id` is ignored and the assigned ID returned.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the user does not exist.
    pub async fn insert_identity_verification(
        &mut self,
        record: &IdentityProofing,
    ) -> Result<IdentityProofing, StoreError> {
        let row = sqlx::query(
            "INSERT INTO identity_proofings (user_id, method, reference, level, verified_by, \
             verified_at, document_type) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(record.user_id.to_string())
        .bind(record.method.as_str())
        .bind(&record.reference)
        .bind(record.level.as_str())
        .bind(&record.verified_by)
        .bind(millis(record.verified_at))
        .bind(record.document_type.map(IdDocument::as_str))
        .fetch_one(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        Ok(IdentityProofing {
            id: column(&row, "id", ENTITY)?,
            verified_at: crate::clock::from_millis(millis(record.verified_at)),
            ..record.clone()
        })
    }

    /// One identity verification by its ID.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn identity_proofing(
        &mut self,
        id: i64,
    ) -> Result<Option<IdentityProofing>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM identity_proofings WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(from_row).transpose()
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
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM identity_proofings WHERE user_id = $1 ORDER BY id"
        ))
        .bind(user_id.to_string())
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(from_row).collect()
    }
}

fn from_row(row: &AnyRow) -> Result<IdentityProofing, StoreError> {
    let document: Option<String> = column(row, "document_type", ENTITY)?;
    let document_type = document
        .map(|text| text.parse())
        .transpose()
        .map_err(|error| StoreError::corrupt(ENTITY, format!("document_type: {error}")))?;
    Ok(IdentityProofing {
        id: column(row, "id", ENTITY)?,
        user_id: parsed(row, "user_id", ENTITY)?,
        method: parsed(row, "method", ENTITY)?,
        reference: column(row, "reference", ENTITY)?,
        level: parsed(row, "level", ENTITY)?,
        verified_by: column(row, "verified_by", ENTITY)?,
        verified_at: time(row, "verified_at", ENTITY)?,
        document_type,
    })
}
