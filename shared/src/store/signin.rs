//! Sign-in records in the store: activation codes, WebAuthn ceremony state, lockout counters,
//! password history and flagged credentials (issue 3).

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{ActivationCode, SignInFailures, UserId, WebAuthnCeremony};

const CODE: &str = "activation code";
const CEREMONY: &str = "webauthn ceremony";
const FAILURES: &str = "sign-in failures";

impl Tx {
    /// Stores a new activation code (its hash).
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the user does not exist.
    pub async fn insert_activation_code(
        &mut self,
        code: &ActivationCode,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO activation_codes (code_hash, user_id, proofing_id, level, created_at, \
             expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(code.code_hash.clone())
        .bind(code.user_id.to_string())
        .bind(code.proofing_id)
        .bind(code.level.as_str())
        .bind(millis(code.created_at))
        .bind(millis(code.expires_at))
        .bind(code.used_at.map(millis))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(CODE, error))?;
        Ok(())
    }

    /// The activation code with this hash, used or not.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn activation_code(
        &mut self,
        code_hash: &[u8],
    ) -> Result<Option<ActivationCode>, StoreError> {
        let row = sqlx::query(
            "SELECT code_hash, user_id, proofing_id, level, created_at, expires_at, used_at \
             FROM activation_codes WHERE code_hash = $1",
        )
        .bind(code_hash.to_vec())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    /// Marks a code used if it is still unused and unexpired at `now`. Returns `false` when it
    /// was not (already used, expired, revoked or unknown): the single-use guarantee rests on
    /// this one conditional update, so two racing activations cannot both succeed.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn consume_activation_code(
        &mut self,
        code_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE activation_codes SET used_at = $2 \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(code_hash.to_vec())
        .bind(millis(now))
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Ends every unused code of a user (a newer code replaces older ones, W10). Returns how
    /// many were ended.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn revoke_activation_codes_of(
        &mut self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE activation_codes SET expires_at = $2 \
             WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(user_id.to_string())
        .bind(millis(now))
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected())
    }

    /// Stores the state of a WebAuthn ceremony.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] on a handle collision (not expected with random handles).
    pub async fn insert_webauthn_ceremony(
        &mut self,
        ceremony: &WebAuthnCeremony,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (handle_hash, user_id, purpose, state_json, \
             context_json, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ceremony.handle_hash.clone())
        .bind(ceremony.user_id.to_string())
        .bind(&ceremony.purpose)
        .bind(&ceremony.state_json)
        .bind(&ceremony.context_json)
        .bind(millis(ceremony.expires_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(CEREMONY, error))?;
        Ok(())
    }

    /// Removes a ceremony's state and returns it, expired or not: take-and-remove, so a
    /// challenge can be answered at most once (W4). The caller judges expiry.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn take_webauthn_ceremony(
        &mut self,
        handle_hash: &[u8],
    ) -> Result<Option<WebAuthnCeremony>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE handle_hash = $1 RETURNING handle_hash, \
             user_id, purpose, state_json, context_json, expires_at",
        )
        .bind(handle_hash.to_vec())
        .fetch_optional(self.connection())
        .await?;
        row.map(|row| {
            Ok(WebAuthnCeremony {
                handle_hash: column(&row, "handle_hash", CEREMONY)?,
                user_id: parsed(&row, "user_id", CEREMONY)?,
                purpose: column(&row, "purpose", CEREMONY)?,
                state_json: column(&row, "state_json", CEREMONY)?,
                context_json: column(&row, "context_json", CEREMONY)?,
                expires_at: time(&row, "expires_at", CEREMONY)?,
            })
        })
        .transpose()
    }

    /// Removes ceremonies that expired before `now`; returns how many.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_expired_webauthn_ceremonies(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected())
    }

    /// A user's failed-attempt counter; zero failures when none are recorded.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn sign_in_failures(
        &mut self,
        user_id: UserId,
    ) -> Result<SignInFailures, StoreError> {
        let row =
            sqlx::query("SELECT failures, locked_until FROM sign_in_failures WHERE user_id = $1")
                .bind(user_id.to_string())
                .fetch_optional(self.connection())
                .await?;
        let Some(row) = row else {
            return Ok(SignInFailures {
                failures: 0,
                locked_until: None,
            });
        };
        let locked_until: Option<i64> = column(&row, "locked_until", FAILURES)?;
        Ok(SignInFailures {
            failures: column(&row, "failures", FAILURES)?,
            locked_until: locked_until.map(crate::clock::from_millis),
        })
    }

    /// Replaces a user's failed-attempt counter.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn set_sign_in_failures(
        &mut self,
        user_id: UserId,
        failures: SignInFailures,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sign_in_failures (user_id, failures, locked_until, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
             failures = excluded.failures, locked_until = excluded.locked_until, \
             updated_at = excluded.updated_at",
        )
        .bind(user_id.to_string())
        .bind(failures.failures)
        .bind(failures.locked_until.map(millis))
        .bind(millis(now))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(FAILURES, error))?;
        Ok(())
    }

    /// The user's last `limit` password hashes, newest first.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn password_history(
        &mut self,
        user_id: UserId,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT phc_hash FROM password_history WHERE user_id = $1 \
             ORDER BY set_at DESC LIMIT $2",
        )
        .bind(user_id.to_string())
        .bind(limit)
        .fetch_all(self.connection())
        .await?;
        rows.iter()
            .map(|row| column(row, "phc_hash", "password history"))
            .collect()
    }

    /// Adds a hash to the user's password history.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the user does not exist.
    pub async fn push_password_history(
        &mut self,
        user_id: UserId,
        phc_hash: &str,
        set_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO password_history (user_id, phc_hash, set_at) VALUES ($1, $2, $3)")
            .bind(user_id.to_string())
            .bind(phc_hash)
            .bind(millis(set_at))
            .execute(self.connection())
            .await
            .map_err(|error| StoreError::from_database("password history", error))?;
        Ok(())
    }

    /// Flags a credential as possibly cloned (W6); a flagged credential is refused at sign-in.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn flag_webauthn_credential(
        &mut self,
        credential_id: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE webauthn_credentials SET flagged_at = $2 WHERE credential_id = $1")
                .bind(credential_id.to_vec())
                .bind(millis(now))
                .execute(self.connection())
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The IDs of a user's flagged credentials.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn flagged_webauthn_credentials(
        &mut self,
        user_id: UserId,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows = sqlx::query(
            "SELECT credential_id FROM webauthn_credentials \
             WHERE user_id = $1 AND flagged_at IS NOT NULL",
        )
        .bind(user_id.to_string())
        .fetch_all(self.connection())
        .await?;
        rows.iter()
            .map(|row| column(row, "credential_id", "webauthn credential"))
            .collect()
    }

    /// Renames one of a user's credentials. Returns `false` if the user has no such credential.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn rename_webauthn_credential(
        &mut self,
        user_id: UserId,
        credential_id: &[u8],
        name: &str,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE webauthn_credentials SET name = $3 WHERE credential_id = $1 AND user_id = $2",
        )
        .bind(credential_id.to_vec())
        .bind(user_id.to_string())
        .bind(name)
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }
}

fn code_from_row(row: &AnyRow) -> Result<ActivationCode, StoreError> {
    let used_at: Option<i64> = column(row, "used_at", CODE)?;
    Ok(ActivationCode {
        code_hash: column(row, "code_hash", CODE)?,
        user_id: parsed(row, "user_id", CODE)?,
        proofing_id: column(row, "proofing_id", CODE)?,
        level: parsed(row, "level", CODE)?,
        created_at: time(row, "created_at", CODE)?,
        expires_at: time(row, "expires_at", CODE)?,
        used_at: used_at.map(crate::clock::from_millis),
    })
}
