//! SCIM 2.0 in the store (issue 5, item 5): client tokens, found by the SHA-256 of the token,
//! and the `externalId` a client gave each user (RFC 7643 §3.1).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{Cvr, ScimToken, UserId};

const TOKEN: &str = "SCIM token";
const EXTERNAL_ID: &str = "SCIM external ID";

macro_rules! token_columns {
    () => {
        "id, org_cvr, name, created_by, created_at, expires_at, revoked_at"
    };
}

impl Tx {
    /// Stores a new token under the SHA-256 of its secret.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if the organisation already has a token of that name;
    /// [`StoreError::MissingReference`] if the organisation does not exist.
    pub async fn insert_scim_token(
        &mut self,
        token: &ScimToken,
        token_hash: &[u8; 32],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO scim_tokens (id, org_cvr, name, token_hash, created_by, created_at, \
             expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(token.id.to_string())
        .bind(token.org.as_str())
        .bind(&token.name)
        .bind(token_hash.to_vec())
        .bind(&token.created_by)
        .bind(millis(token.created_at))
        .bind(millis(token.expires_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(TOKEN, error))?;
        Ok(())
    }

    /// The token whose secret hashes to `token_hash`, usable or not. The lookup is by the
    /// hash, so the database compares digests, never secrets; the caller checks expiry and
    /// revocation.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn scim_token_by_hash(
        &mut self,
        token_hash: &[u8; 32],
    ) -> Result<Option<ScimToken>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM scim_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash.to_vec())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// Every token, optionally of one organisation, by organisation and name.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn scim_tokens(&mut self, org: Option<&Cvr>) -> Result<Vec<ScimToken>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM scim_tokens WHERE org_cvr = COALESCE($1, org_cvr) ORDER BY org_cvr, name"
        ))
        .bind(org.map(Cvr::as_str))
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes the organisation's token of that name. Returns the token as it was before, or
    /// `None` if there is none; revoking a revoked token changes nothing.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn revoke_scim_token(
        &mut self,
        org: &Cvr,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ScimToken>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM scim_tokens WHERE org_cvr = $1 AND name = $2"
        ))
        .bind(org.as_str())
        .bind(name)
        .fetch_optional(self.connection())
        .await?;
        let Some(token) = row.as_ref().map(token_from_row).transpose()? else {
            return Ok(None);
        };
        sqlx::query("UPDATE scim_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(token.id.to_string())
            .bind(millis(now))
            .execute(self.connection())
            .await?;
        Ok(Some(token))
    }

    /// The `externalId` a SCIM client gave the user, if any.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn scim_external_id(&mut self, user: UserId) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT external_id FROM scim_external_ids WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_optional(self.connection())
            .await?;
        row.as_ref()
            .map(|row| column(row, "external_id", EXTERNAL_ID))
            .transpose()
    }

    /// The `externalId` of every user of `org` that has one.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn scim_external_ids(
        &mut self,
        org: &Cvr,
    ) -> Result<HashMap<UserId, String>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.user_id, e.external_id FROM scim_external_ids e \
             JOIN users u ON u.id = e.user_id WHERE u.org_cvr = $1",
        )
        .bind(org.as_str())
        .fetch_all(self.connection())
        .await?;
        rows.iter()
            .map(|row| {
                let user: UserId = parsed(row, "user_id", EXTERNAL_ID)?;
                Ok((user, column(row, "external_id", EXTERNAL_ID)?))
            })
            .collect()
    }

    /// Sets or, with `None`, clears the user's `externalId`.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the user does not exist.
    pub async fn set_scim_external_id(
        &mut self,
        user: UserId,
        external_id: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM scim_external_ids WHERE user_id = $1")
            .bind(user.to_string())
            .execute(self.connection())
            .await?;
        if let Some(external_id) = external_id {
            sqlx::query("INSERT INTO scim_external_ids (user_id, external_id) VALUES ($1, $2)")
                .bind(user.to_string())
                .bind(external_id)
                .execute(self.connection())
                .await
                .map_err(|error| StoreError::from_database(EXTERNAL_ID, error))?;
        }
        Ok(())
    }
}

fn token_from_row(row: &AnyRow) -> Result<ScimToken, StoreError> {
    let revoked_at: Option<i64> = column(row, "revoked_at", TOKEN)?;
    Ok(ScimToken {
        id: parsed(row, "id", TOKEN)?,
        org: parsed(row, "org_cvr", TOKEN)?,
        name: column(row, "name", TOKEN)?,
        created_by: column(row, "created_by", TOKEN)?,
        created_at: time(row, "created_at", TOKEN)?,
        expires_at: time(row, "expires_at", TOKEN)?,
        revoked_at: revoked_at.map(crate::clock::from_millis),
    })
}
