//! JSON API client tokens in the store (issue 5, item 4), found by the SHA-256 of the token.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{ApiToken, UserId};

const TOKEN: &str = "API token";

macro_rules! columns {
    () => {
        "id, user_id, name, scope, created_by, created_at, expires_at, revoked_at"
    };
}

impl Tx {
    /// Stores a new token under the SHA-256 of its secret.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if the user already has a token of that name;
    /// [`StoreError::MissingReference`] if the user does not exist.
    pub async fn insert_api_token(
        &mut self,
        token: &ApiToken,
        token_hash: &[u8; 32],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, scope, token_hash, created_by, \
             created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        )
        .bind(token.id.to_string())
        .bind(token.user_id.to_string())
        .bind(&token.name)
        .bind(token.scope.as_str())
        .bind(token_hash.to_vec())
        .bind(&token.created_by)
        .bind(millis(token.created_at))
        .bind(millis(token.expires_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(TOKEN, error))?;
        Ok(())
    }

    /// The token whose secret hashes to `token_hash`, usable or not (the database compares
    /// digests, never secrets; the caller checks expiry and revocation).
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn api_token_by_hash(
        &mut self,
        token_hash: &[u8; 32],
    ) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM api_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash.to_vec())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every token of `user_id`, by name.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn api_tokens_of(&mut self, user_id: UserId) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM api_tokens WHERE user_id = $1 ORDER BY name"
        ))
        .bind(user_id.to_string())
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Revokes `user_id`'s token called `name` and returns it as it was before, or `None` if
    /// there is no such token. A token revoked already keeps its first revocation time.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn revoke_api_token(
        &mut self,
        user_id: UserId,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM api_tokens WHERE user_id = $1 AND name = $2"
        ))
        .bind(user_id.to_string())
        .bind(name)
        .fetch_optional(self.connection())
        .await?;
        let Some(token) = row.as_ref().map(from_row).transpose()? else {
            return Ok(None);
        };
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(millis(now))
            .bind(token.id.to_string())
            .execute(self.connection())
            .await?;
        Ok(Some(token))
    }
}

fn from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    let revoked: Option<i64> = column(row, "revoked_at", TOKEN)?;
    Ok(ApiToken {
        id: parsed(row, "id", TOKEN)?,
        user_id: parsed(row, "user_id", TOKEN)?,
        name: column(row, "name", TOKEN)?,
        scope: parsed(row, "scope", TOKEN)?,
        created_by: column(row, "created_by", TOKEN)?,
        created_at: time(row, "created_at", TOKEN)?,
        expires_at: time(row, "expires_at", TOKEN)?,
        revoked_at: revoked.map(crate::clock::from_millis),
    })
}
