//! Organisations in the store.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::{Cvr, NewOrganisation, Organisation};

const ENTITY: &str = "organisation";
/// The selected columns, as a macro so that queries stay `&'static str` literals.
macro_rules! columns {
    () => {
        "cvr, name, suffix, se_numbers, p_units, created_at"
    };
}

impl Tx {
    /// Adds an organisation.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if the CVR number is already registered.
    pub async fn insert_organisation(
        &mut self,
        new: &NewOrganisation,
        now: DateTime<Utc>,
    ) -> Result<Organisation, StoreError> {
        let organisation = Organisation {
            cvr: new.cvr.clone(),
            name: new.name.clone(),
            suffix: new.suffix.clone(),
            se_numbers: new.se_numbers.clone(),
            p_units: new.p_units.clone(),
            created_at: crate::clock::from_millis(millis(now)),
        };
        sqlx::query(
            "INSERT INTO organisations (cvr, name, suffix, se_numbers, p_units, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(organisation.cvr.as_str())
        .bind(&organisation.name)
        .bind(organisation.suffix.as_str())
        .bind(json(&organisation.se_numbers)?)
        .bind(json(&organisation.p_units)?)
        .bind(millis(now))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        Ok(organisation)
    }

    /// Replaces an organisation's name, suffix, SE numbers and P-units.
    ///
    /// # Errors
    ///
    /// The database failed. Returns `false` if no organisation has that CVR.
    pub async fn update_organisation(
        &mut self,
        organisation: &Organisation,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE organisations SET name = $2, suffix = $3, se_numbers = $4, p_units = $5 \
             WHERE cvr = $1",
        )
        .bind(organisation.cvr.as_str())
        .bind(&organisation.name)
        .bind(organisation.suffix.as_str())
        .bind(json(&organisation.se_numbers)?)
        .bind(json(&organisation.p_units)?)
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The organisation with this CVR number, if registered.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn organisation(&mut self, cvr: &Cvr) -> Result<Option<Organisation>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM organisations WHERE cvr = $1"
        ))
        .bind(cvr.as_str())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every organisation, ordered by CVR number.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn organisations(&mut self) -> Result<Vec<Organisation>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM organisations ORDER BY cvr"
        ))
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(from_row).collect()
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::corrupt(ENTITY, error))
}

fn from_row(row: &AnyRow) -> Result<Organisation, StoreError> {
    let list = |name: &str| -> Result<String, StoreError> { column(row, name, ENTITY) };
    let se_numbers = serde_json::from_str(&list("se_numbers")?)
        .map_err(|error| StoreError::corrupt(ENTITY, format!("se_numbers: {error}")))?;
    let p_units = serde_json::from_str(&list("p_units")?)
        .map_err(|error| StoreError::corrupt(ENTITY, format!("p_units: {error}")))?;
    Ok(Organisation {
        cvr: parsed(row, "cvr", ENTITY)?,
        name: column(row, "name", ENTITY)?,
        suffix: parsed(row, "suffix", ENTITY)?,
        se_numbers,
        p_units,
        created_at: time(row, "created_at", ENTITY)?,
    })
}
