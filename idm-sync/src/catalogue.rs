//! The MitID Erhverv role catalogue (R1) imported into Portner's rights catalogue
//! (mitid-erhverv-idm-api.md §7.5 "rights"; issue 6 item 4, issue 5 item 4).
//!
//! An administrator can only assign a right that is in Portner's catalogue, and the worker
//! sends MitID Erhverv only rights whose source is `mitid_erhverv`, so the roles an
//! organisation may hand out must be imported first. Each role is keyed by its UUID and named
//! by its catalogue name. An import adds new roles and follows renames; it never removes a
//! role that is no longer offered (assignments may still name it, and the worker already
//! ignores roles outside the live catalogue), and it never turns a local right of the same key
//! into an imported one.

use chrono::{DateTime, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::domain::{Cvr, Right, RightId, RightSource};
use portner_shared::store::{Store, StoreError};
use serde::Serialize;

use crate::api::CatalogueRole;
use crate::client::{ApiError, IdmClient};

/// Longest role name kept, in characters.
const MAX_NAME_CHARS: usize = 200;

/// What an import did.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize)]
pub struct CatalogueImport {
    /// Roles the catalogue offers.
    pub offered: u64,
    /// Roles added to Portner's catalogue.
    pub added: u64,
    /// Roles whose name was updated.
    pub renamed: u64,
    /// Roles left out (a key Portner cannot use, or a local right's key).
    pub skipped: u64,
}

/// Why an import stopped. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// R1 failed.
    #[error("reading the role catalogue failed: {0}")]
    Api(#[from] ApiError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit event could not be written.
    #[error(transparent)]
    Audit(#[from] portner_audit::AuditError),
}

/// Reads the organisation's role catalogue and brings Portner's rights catalogue up to date,
/// in one transaction with `MITID_ERHVERV_CATALOGUE_IMPORTED` when anything changed.
///
/// # Errors
///
/// [`CatalogueError`]; nothing is written then.
pub async fn import(
    store: &Store,
    client: &IdmClient,
    org: &Cvr,
    now: DateTime<Utc>,
    context: &AuditContext,
) -> Result<CatalogueImport, CatalogueError> {
    let catalogue = crate::reconcile::with_retries(|| client.role_catalogue()).await?;
    let mut tx = store.begin().await?;
    let known = tx.rights().await?;
    let mut outcome = CatalogueImport {
        offered: u64::try_from(catalogue.roles.len()).unwrap_or(u64::MAX),
        ..CatalogueImport::default()
    };

    for role in &catalogue.roles {
        let Some(right) = as_right(role) else {
            outcome.skipped += 1;
            continue;
        };
        match known.iter().find(|held| held.id == right.id) {
            None => outcome.added += 1,
            Some(held) if held.source == RightSource::Local => {
                outcome.skipped += 1;
                continue;
            }
            Some(held) if held.name != right.name => outcome.renamed += 1,
            Some(_) => continue,
        }
        tx.upsert_right(&right).await?;
    }

    if outcome.added + outcome.renamed > 0 {
        let event = AuditEvent::MitIdErhvervCatalogueImported {
            org: org.clone(),
            offered: outcome.offered,
            added: outcome.added,
            renamed: outcome.renamed,
            skipped: outcome.skipped,
        };
        let subject = Subject::Organisation(org.clone());
        portner_audit::append(&mut tx, now, context, &subject, &event).await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// A catalogue role as a right: its UUID as the key, its name (or the UUID when it has none)
/// trimmed, without control characters and capped. `None` for a key Portner cannot store.
fn as_right(role: &CatalogueRole) -> Option<Right> {
    let id: RightId = role.uuid.trim().parse().ok()?;
    let name: String = role
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or(id.as_str())
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    Some(Right {
        id,
        name,
        source: RightSource::MitIdErhverv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(uuid: &str, name: Option<&str>) -> CatalogueRole {
        CatalogueRole {
            uuid: uuid.to_owned(),
            name: name.map(str::to_owned),
            description: None,
            is_basic_package: None,
        }
    }

    #[test]
    fn roles_become_rights_keyed_by_uuid_with_a_clean_name() {
        let uuid = "0f5c9c52-3c71-4d6e-9b5a-2f4c8d1e7a10";
        let right = as_right(&role(uuid, Some("  Skat\u{7} – læse  "))).unwrap();
        assert_eq!(right.id.as_str(), uuid);
        assert_eq!(right.name, "Skat – læse");
        assert_eq!(right.source, RightSource::MitIdErhverv);
        assert_eq!(as_right(&role(uuid, None)).unwrap().name, uuid);
        assert_eq!(
            as_right(&role(uuid, Some(&"x".repeat(300))))
                .unwrap()
                .name
                .len(),
            200
        );
        assert!(as_right(&role("not a key", Some("x"))).is_none());
    }
}
