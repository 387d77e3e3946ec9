//! Registered service providers in the store.

use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::domain::ServiceProvider;

const ENTITY: &str = "service provider";

macro_rules! columns {
    () => {
        "entity_id, name, profile, metadata_xml, settings_json, created_at"
    };
}

impl Tx {
    /// Registers an SP.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if the entityID is already registered.
    pub async fn insert_service_provider(
        &mut self,
        sp: &ServiceProvider,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO service_providers (entity_id, name, profile, metadata_xml, \
             settings_json, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&sp.entity_id)
        .bind(&sp.name)
        .bind(sp.profile.as_str())
        .bind(&sp.metadata_xml)
        .bind(&sp.settings_json)
        .bind(millis(sp.created_at))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        Ok(())
    }

    /// Replaces an SP's name, profile, metadata and settings.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn update_service_provider(
        &mut self,
        sp: &ServiceProvider,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE service_providers SET name = $2, profile = $3, metadata_xml = $4, \
             settings_json = $5 WHERE entity_id = $1",
        )
        .bind(&sp.entity_id)
        .bind(&sp.name)
        .bind(sp.profile.as_str())
        .bind(&sp.metadata_xml)
        .bind(&sp.settings_json)
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The SP with this entityID.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn service_provider(
        &mut self,
        entity_id: &str,
    ) -> Result<Option<ServiceProvider>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM service_providers WHERE entity_id = $1"
        ))
        .bind(entity_id)
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every SP, ordered by entityID.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn service_providers(&mut self) -> Result<Vec<ServiceProvider>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM service_providers ORDER BY entity_id"
        ))
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Removes an SP. Returns `false` if it was not registered.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_service_provider(&mut self, entity_id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM service_providers WHERE entity_id = $1")
            .bind(entity_id)
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected() == 1)
    }
}

fn from_row(row: &AnyRow) -> Result<ServiceProvider, StoreError> {
    Ok(ServiceProvider {
        entity_id: column(row, "entity_id", ENTITY)?,
        name: column(row, "name", ENTITY)?,
        profile: parsed(row, "profile", ENTITY)?,
        metadata_xml: column(row, "metadata_xml", ENTITY)?,
        settings_json: column(row, "settings_json", ENTITY)?,
        created_at: time(row, "created_at", ENTITY)?,
    })
}
