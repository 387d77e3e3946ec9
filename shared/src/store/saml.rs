//! SAML state shared by every replica: the replay cache of request IDs, verified requests
//! awaiting sign-in, pairwise persistent NameIDs, and the SPs of each sign-in session.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{PendingSamlRequest, SamlParticipant, UserId};

const PENDING: &str = "pending SAML request";
const NAME_ID: &str = "SAML NameID";
const PARTICIPANT: &str = "SAML session participant";
const LOGOUT: &str = "SAML logout in progress";

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

impl Tx {
    /// Stores a verified request awaiting sign-in.
    ///
    /// # Errors
    ///
    /// The database failed, or the handle collides (never expected with 128-bit handles).
    pub async fn insert_pending_saml_request(
        &mut self,
        pending: &PendingSamlRequest,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO saml_pending_requests (handle_hash, request_json, received_at, \
             expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(pending.handle_hash.clone())
        .bind(&pending.request_json)
        .bind(millis(pending.received_at))
        .bind(millis(pending.expires_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(PENDING, error))?;
        Ok(())
    }

    /// The pending request with this handle hash, expired or not (the caller judges expiry).
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn pending_saml_request(
        &mut self,
        handle_hash: &[u8],
    ) -> Result<Option<PendingSamlRequest>, StoreError> {
        let row = sqlx::query(
            "SELECT handle_hash, request_json, received_at, expires_at \
             FROM saml_pending_requests WHERE handle_hash = $1",
        )
        .bind(handle_hash.to_vec())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(pending_from_row).transpose()
    }

    /// Deletes a pending request; returns whether it was there. Answering a request deletes
    /// it in the answer's transaction, so a request is answered once even when two tabs race.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_pending_saml_request(
        &mut self,
        handle_hash: &[u8],
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM saml_pending_requests WHERE handle_hash = $1")
            .bind(handle_hash.to_vec())
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Forgets pending requests and session participants whose time has passed; returns how
    /// many rows went.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn forget_expired_saml_state(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut removed = 0;
        for statement in [
            "DELETE FROM saml_pending_requests WHERE expires_at <= $1",
            "DELETE FROM saml_session_participants WHERE expires_at <= $1",
            "DELETE FROM saml_logouts WHERE expires_at <= $1",
        ] {
            let result = sqlx::query(statement)
                .bind(millis(now))
                .execute(self.connection())
                .await?;
            removed += result.rows_affected();
        }
        Ok(removed)
    }

    /// The pairwise persistent NameID of a user at an SP, creating it with `candidate` on
    /// first use (NI-3). Once stored it never changes (NI-5).
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn persistent_name_id(
        &mut self,
        user_id: UserId,
        sp_entity_id: &str,
        candidate: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO saml_name_ids (user_id, sp_entity_id, name_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, sp_entity_id) DO NOTHING",
        )
        .bind(user_id.to_string())
        .bind(sp_entity_id)
        .bind(candidate)
        .bind(millis(now))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(NAME_ID, error))?;
        let row = sqlx::query(
            "SELECT name_id FROM saml_name_ids WHERE user_id = $1 AND sp_entity_id = $2",
        )
        .bind(user_id.to_string())
        .bind(sp_entity_id)
        .fetch_one(self.connection())
        .await?;
        column(&row, "name_id", NAME_ID)
    }

    /// The stored pairwise NameID of a user at an SP, if one was made.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn saml_name_id(
        &mut self,
        user_id: UserId,
        sp_entity_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT name_id FROM saml_name_ids WHERE user_id = $1 AND sp_entity_id = $2",
        )
        .bind(user_id.to_string())
        .bind(sp_entity_id)
        .fetch_optional(self.connection())
        .await?;
        row.as_ref()
            .map(|row| column(row, "name_id", NAME_ID))
            .transpose()
    }

    /// Records (or refreshes) that an SP received an assertion in a session.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn upsert_saml_participant(
        &mut self,
        participant: &SamlParticipant,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO saml_session_participants (correlation_id, sp_entity_id, user_id, \
             name_id, name_id_format, session_index, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (correlation_id, sp_entity_id) DO UPDATE SET \
             user_id = excluded.user_id, name_id = excluded.name_id, \
             name_id_format = excluded.name_id_format, session_index = excluded.session_index, \
             issued_at = excluded.issued_at, expires_at = excluded.expires_at",
        )
        .bind(&participant.correlation_id)
        .bind(&participant.sp_entity_id)
        .bind(participant.user_id.to_string())
        .bind(&participant.name_id)
        .bind(&participant.name_id_format)
        .bind(&participant.session_index)
        .bind(millis(participant.issued_at))
        .bind(millis(participant.expires_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(PARTICIPANT, error))?;
        Ok(())
    }

    /// The SPs of one sign-in session, in the order they joined.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn saml_participants(
        &mut self,
        correlation_id: &str,
    ) -> Result<Vec<SamlParticipant>, StoreError> {
        let rows = sqlx::query(
            "SELECT correlation_id, sp_entity_id, user_id, name_id, name_id_format, \
             session_index, issued_at, expires_at FROM saml_session_participants \
             WHERE correlation_id = $1 ORDER BY issued_at, sp_entity_id",
        )
        .bind(correlation_id)
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(participant_from_row).collect()
    }

    /// The participant row an SP's LogoutRequest names, by SP and SessionIndex (SL-1).
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn saml_participant_by_index(
        &mut self,
        sp_entity_id: &str,
        session_index: &str,
    ) -> Result<Option<SamlParticipant>, StoreError> {
        let row = sqlx::query(
            "SELECT correlation_id, sp_entity_id, user_id, name_id, name_id_format, \
             session_index, issued_at, expires_at FROM saml_session_participants \
             WHERE sp_entity_id = $1 AND session_index = $2",
        )
        .bind(sp_entity_id)
        .bind(session_index)
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(participant_from_row).transpose()
    }

    /// Forgets every participant of a session; returns how many.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_saml_participants(
        &mut self,
        correlation_id: &str,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM saml_session_participants WHERE correlation_id = $1")
            .bind(correlation_id)
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected())
    }
}

impl Tx {
    /// Stores or replaces the state of a logout in progress under `handle_hash`.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn put_saml_logout(
        &mut self,
        handle_hash: &[u8],
        state_json: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO saml_logouts (handle_hash, state_json, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (handle_hash) DO UPDATE SET state_json = excluded.state_json, \
             expires_at = excluded.expires_at",
        )
        .bind(handle_hash.to_vec())
        .bind(state_json)
        .bind(millis(expires_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(LOGOUT, error))?;
        Ok(())
    }

    /// Takes (reads and deletes) the state of a logout in progress that has not expired. Each
    /// step takes it and puts back the next state, so a replayed step finds nothing.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn take_saml_logout(
        &mut self,
        handle_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT state_json FROM saml_logouts WHERE handle_hash = $1 AND expires_at > $2",
        )
        .bind(handle_hash.to_vec())
        .bind(millis(now))
        .fetch_optional(self.connection())
        .await?;
        sqlx::query("DELETE FROM saml_logouts WHERE handle_hash = $1")
            .bind(handle_hash.to_vec())
            .execute(self.connection())
            .await?;
        row.as_ref()
            .map(|row| column(row, "state_json", LOGOUT))
            .transpose()
    }
}

fn pending_from_row(row: &AnyRow) -> Result<PendingSamlRequest, StoreError> {
    Ok(PendingSamlRequest {
        handle_hash: column(row, "handle_hash", PENDING)?,
        request_json: column(row, "request_json", PENDING)?,
        received_at: time(row, "received_at", PENDING)?,
        expires_at: time(row, "expires_at", PENDING)?,
    })
}

fn participant_from_row(row: &AnyRow) -> Result<SamlParticipant, StoreError> {
    Ok(SamlParticipant {
        correlation_id: column(row, "correlation_id", PARTICIPANT)?,
        sp_entity_id: column(row, "sp_entity_id", PARTICIPANT)?,
        user_id: parsed(row, "user_id", PARTICIPANT)?,
        name_id: column(row, "name_id", PARTICIPANT)?,
        name_id_format: column(row, "name_id_format", PARTICIPANT)?,
        session_index: column(row, "session_index", PARTICIPANT)?,
        issued_at: time(row, "issued_at", PARTICIPANT)?,
        expires_at: time(row, "expires_at", PARTICIPANT)?,
    })
}
