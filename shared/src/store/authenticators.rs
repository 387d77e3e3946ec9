//! Passwords and WebAuthn credentials in the store.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{PasswordCredential, UserId, WebAuthnCredential};

const PASSWORD: &str = "password";
const WEBAUTHN: &str = "webauthn credential";

macro_rules! webauthn_columns {
    () => {
        "credential_id, user_id, name, credential_json, level, registered_at, last_used_at"
    };
}

impl Tx {
    /// Sets (or replaces) a user's password hash.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the user does not exist.
    pub async fn set_password(
        &mut self,
        credential: &PasswordCredential,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO password_credentials (user_id, phc_hash, set_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET phc_hash = excluded.phc_hash, \
             set_at = excluded.set_at",
        )
        .bind(credential.user_id.to_string())
        .bind(&credential.phc_hash)
        .bind(millis(credential.set_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(PASSWORD, error))?;
        Ok(())
    }

    /// A user's password hash, if one is set.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn password(
        &mut self,
        user_id: UserId,
    ) -> Result<Option<PasswordCredential>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, phc_hash, set_at FROM password_credentials WHERE user_id = $1",
        )
        .bind(user_id.to_string())
        .fetch_optional(self.connection())
        .await?;
        row.map(|row| {
            Ok(PasswordCredential {
                user_id: parsed(&row, "user_id", PASSWORD)?,
                phc_hash: column(&row, "phc_hash", PASSWORD)?,
                set_at: time(&row, "set_at", PASSWORD)?,
            })
        })
        .transpose()
    }

    /// Registers a WebAuthn credential.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if the credential ID is already registered, to anyone (W8).
    pub async fn insert_webauthn_credential(
        &mut self,
        credential: &WebAuthnCredential,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webauthn_credentials (credential_id, user_id, name, credential_json, \
             level, registered_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(credential.credential_id.clone())
        .bind(credential.user_id.to_string())
        .bind(&credential.name)
        .bind(&credential.credential_json)
        .bind(credential.level.as_str())
        .bind(millis(credential.registered_at))
        .bind(credential.last_used_at.map(millis))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(WEBAUTHN, error))?;
        Ok(())
    }

    /// A user's WebAuthn credentials, oldest first.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn webauthn_credentials(
        &mut self,
        user_id: UserId,
    ) -> Result<Vec<WebAuthnCredential>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            webauthn_columns!(),
            " FROM webauthn_credentials WHERE user_id = $1 ORDER BY registered_at, credential_id"
        ))
        .bind(user_id.to_string())
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(webauthn_from_row).collect()
    }

    /// Records a credential's state after a successful use (new counter, last use).
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn record_webauthn_use(
        &mut self,
        credential_id: &[u8],
        credential_json: &str,
        used_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE webauthn_credentials SET credential_json = $2, last_used_at = $3 \
             WHERE credential_id = $1",
        )
        .bind(credential_id.to_vec())
        .bind(credential_json)
        .bind(millis(used_at))
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Removes a credential. Returns `false` if it did not exist.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_webauthn_credential(
        &mut self,
        credential_id: &[u8],
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM webauthn_credentials WHERE credential_id = $1")
            .bind(credential_id.to_vec())
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected() == 1)
    }
}

fn webauthn_from_row(row: &AnyRow) -> Result<WebAuthnCredential, StoreError> {
    let last_used: Option<i64> = column(row, "last_used_at", WEBAUTHN)?;
    Ok(WebAuthnCredential {
        credential_id: column(row, "credential_id", WEBAUTHN)?,
        user_id: parsed(row, "user_id", WEBAUTHN)?,
        name: column(row, "name", WEBAUTHN)?,
        credential_json: column(row, "credential_json", WEBAUTHN)?,
        level: parsed(row, "level", WEBAUTHN)?,
        registered_at: time(row, "registered_at", WEBAUTHN)?,
        last_used_at: last_used.map(crate::clock::from_millis),
    })
}
