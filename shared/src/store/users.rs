//! Users in the store. CPR numbers are written encrypted, with a keyed lookup hash beside them,
//! and are read back only through [`Tx::user_cpr`].

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{Cpr, Cvr, NewUser, NsisLevel, Rid, User, UserId, UserStatus, Username};

const ENTITY: &str = "user";

macro_rules! columns {
    () => {
        "id, org_cvr, username, display_name, email, \
         CAST(CASE WHEN cpr_encrypted IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_cpr, \
         status, identity_level, created_at, updated_at"
    };
}

impl Tx {
    /// Creates a user in `pending_activation` with identity level `none`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if the username is taken; [`StoreError::MissingReference`] if
    /// the organisation does not exist.
    pub async fn insert_user(
        &mut self,
        new: &NewUser,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let (cpr_encrypted, cpr_lookup) = match &new.cpr {
            Some(cpr) => (
                Some(self.cipher.encrypt(cpr.expose())?),
                Some(self.cipher.lookup_hash(cpr.expose())?),
            ),
            None => (None, None),
        };
        let user = User {
            id: UserId::random(),
            org: new.org.clone(),
            username: new.username.clone(),
            display_name: new.display_name.clone(),
            email: new.email.clone(),
            has_cpr: new.cpr.is_some(),
            status: UserStatus::PendingActivation,
            identity_level: NsisLevel::None,
            created_at: crate::clock::from_millis(millis(now)),
            updated_at: crate::clock::from_millis(millis(now)),
        };

        sqlx::query(
            "INSERT INTO users (id, org_cvr, username, display_name, email, cpr_encrypted, \
             cpr_lookup, status, identity_level, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(user.id.to_string())
        .bind(user.org.as_str())
        .bind(user.username.as_str())
        .bind(&user.display_name)
        .bind(user.email.as_str())
        .bind(cpr_encrypted)
        .bind(cpr_lookup)
        .bind(user.status.as_str())
        .bind(user.identity_level.as_str())
        .bind(millis(now))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        if let Some(rid) = &new.rid {
            self.set_user_rid(user.id, Some(rid)).await?;
        }
        Ok(user)
    }

    /// Sets or clears a user's NemID RID.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] (entity `rid`) if another user holds the RID.
    pub async fn set_user_rid(&mut self, id: UserId, rid: Option<&Rid>) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM user_rids WHERE user_id = $1")
            .bind(id.to_string())
            .execute(self.connection())
            .await?;
        if let Some(rid) = rid {
            sqlx::query("INSERT INTO user_rids (user_id, rid) VALUES ($1, $2)")
                .bind(id.to_string())
                .bind(rid.as_str())
                .execute(self.connection())
                .await
                .map_err(|error| StoreError::from_database("rid", error))?;
        }
        Ok(())
    }

    /// A user's NemID RID, if one is on file.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn user_rid(&mut self, id: UserId) -> Result<Option<Rid>, StoreError> {
        let row = sqlx::query("SELECT rid FROM user_rids WHERE user_id = $1")
            .bind(id.to_string())
            .fetch_optional(self.connection())
            .await?;
        row.as_ref()
            .map(|row| parsed(row, "rid", "rid"))
            .transpose()
    }

    /// The user who holds `rid`, if any.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn rid_holder(&mut self, rid: &Rid) -> Result<Option<UserId>, StoreError> {
        let row = sqlx::query("SELECT user_id FROM user_rids WHERE rid = $1")
            .bind(rid.as_str())
            .fetch_optional(self.connection())
            .await?;
        row.as_ref()
            .map(|row| parsed(row, "user_id", "rid"))
            .transpose()
    }

    /// The RIDs on file for an organisation's users, RID to user.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn organisation_rids(
        &mut self,
        org: &Cvr,
    ) -> Result<std::collections::HashMap<String, UserId>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.rid, r.user_id FROM user_rids r JOIN users u ON u.id = r.user_id \
             WHERE u.org_cvr = $1",
        )
        .bind(org.as_str())
        .fetch_all(self.connection())
        .await?;
        rows.iter()
            .map(|row| Ok((column(row, "rid", "rid")?, parsed(row, "user_id", "rid")?)))
            .collect()
    }

    /// The user with this ID.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn user(&mut self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.connection())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The user with this username.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn user_by_username(
        &mut self,
        username: &Username,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE username = $1"
        ))
        .bind(username.as_str())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The user whose encrypted CPR number equals `cpr`, found through the lookup hash.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn user_by_cpr(&mut self, cpr: &Cpr) -> Result<Option<User>, StoreError> {
        let lookup = self.cipher.lookup_hash(cpr.expose())?;
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE cpr_lookup = $1"
        ))
        .bind(lookup)
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Users, optionally of one organisation, ordered by username.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn users(&mut self, org: Option<&Cvr>) -> Result<Vec<User>, StoreError> {
        let rows = match org {
            Some(cvr) => {
                sqlx::query(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM users WHERE org_cvr = $1 ORDER BY username"
                ))
                .bind(cvr.as_str())
                .fetch_all(self.connection())
                .await?
            }
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM users ORDER BY username"
                ))
                .fetch_all(self.connection())
                .await?
            }
        };
        rows.iter().map(from_row).collect()
    }

    /// Decrypts the user's CPR number. Callers audit the read where policy requires (LG-1,
    /// "CPR lookups").
    ///
    /// # Errors
    ///
    /// The database failed, or the stored value does not decrypt under the configured key.
    pub async fn user_cpr(&mut self, id: UserId) -> Result<Option<Cpr>, StoreError> {
        let row = sqlx::query("SELECT cpr_encrypted FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.connection())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let encrypted: Option<Vec<u8>> = column(&row, "cpr_encrypted", ENTITY)?;
        let Some(encrypted) = encrypted else {
            return Ok(None);
        };
        let digits = self.cipher.decrypt(&encrypted)?;
        digits
            .parse()
            .map(Some)
            .map_err(|error| StoreError::corrupt(ENTITY, error))
    }

    /// Sets a user's lifecycle state. Returns `false` if no such user exists.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn set_user_status(
        &mut self,
        id: UserId,
        status: UserStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE users SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id.to_string())
            .bind(status.as_str())
            .bind(millis(now))
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Replaces a user's display name and e-mail address. Returns `false` if no such user.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn update_user_profile(
        &mut self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE users SET display_name = $2, email = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(user.id.to_string())
        .bind(&user.display_name)
        .bind(user.email.as_str())
        .bind(millis(now))
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records the identity-assurance level the account's proofing supports.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn set_identity_level(
        &mut self,
        id: UserId,
        level: NsisLevel,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE users SET identity_level = $2, updated_at = $3 WHERE id = $1")
                .bind(id.to_string())
                .bind(level.as_str())
                .bind(millis(now))
                .execute(self.connection())
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Deletes a user and, by cascade, their credentials, sessions and rights.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_user(&mut self, id: UserId) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected() == 1)
    }
}

fn from_row(row: &AnyRow) -> Result<User, StoreError> {
    let has_cpr: i64 = column(row, "has_cpr", ENTITY)?;
    Ok(User {
        id: parsed(row, "id", ENTITY)?,
        org: parsed(row, "org_cvr", ENTITY)?,
        username: parsed(row, "username", ENTITY)?,
        display_name: column(row, "display_name", ENTITY)?,
        email: parsed(row, "email", ENTITY)?,
        has_cpr: has_cpr != 0,
        status: parsed(row, "status", ENTITY)?,
        identity_level: parsed(row, "identity_level", ENTITY)?,
        created_at: time(row, "created_at", ENTITY)?,
        updated_at: time(row, "updated_at", ENTITY)?,
    })
}
