//! Changes to a registered organisation: its name, SE numbers and P-units (issue 5 item 4),
//! on the caller's transaction with `ORGANISATION_CHANGED`.
//!
//! The CVR number is the organisation's identity and the `subjectNameId` suffix is bound in
//! MitID Erhverv to every synced user's identity, so neither changes here. An SE number or
//! P-unit that a right assignment still uses as its scope cannot be removed: the assignment
//! would name a scope of no organisation, and the MitID Erhverv rights sync would keep
//! sending it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::domain::{Organisation, PNumber, RightScope, SeNumber};
use portner_shared::store::Tx;

use super::DirectoryError;

/// What an organisation should be called and which SE numbers and P-units it has.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OrganisationChange {
    /// The registered name, already checked as display text.
    pub name: String,
    /// Every SE number, without repeats.
    pub se_numbers: BTreeSet<SeNumber>,
    /// Every P-unit, without repeats.
    pub p_units: BTreeSet<PNumber>,
}

/// Makes `organisation` what `change` says. Returns it unchanged, writing nothing, when
/// nothing differs.
///
/// # Errors
///
/// [`DirectoryError::InUse`] naming `se_number` or `p_unit` when a removed one is still the
/// scope of a right assignment; the store or the audit trail failed.
pub async fn change_organisation_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    mut organisation: Organisation,
    change: &OrganisationChange,
) -> Result<Organisation, DirectoryError> {
    let se_numbers: Vec<SeNumber> = change.se_numbers.iter().cloned().collect();
    let p_units: Vec<PNumber> = change.p_units.iter().cloned().collect();
    let unchanged = organisation.name == change.name
        && sorted(&organisation.se_numbers) == se_numbers
        && sorted(&organisation.p_units) == p_units;
    if unchanged {
        return Ok(organisation);
    }

    let removed_se = organisation
        .se_numbers
        .iter()
        .filter(|se| !change.se_numbers.contains(*se));
    for se in removed_se {
        refuse_if_in_use(tx, &RightScope::Se(se.clone()), "se_number").await?;
    }
    let removed_p = organisation
        .p_units
        .iter()
        .filter(|p| !change.p_units.contains(*p));
    for p in removed_p {
        refuse_if_in_use(tx, &RightScope::PUnit(p.clone()), "p_unit").await?;
    }

    organisation.name.clone_from(&change.name);
    organisation.se_numbers = se_numbers;
    organisation.p_units = p_units;
    if !tx.update_organisation(&organisation).await? {
        return Err(DirectoryError::NotFound("organisation"));
    }
    let event = AuditEvent::OrganisationChanged {
        cvr: organisation.cvr.clone(),
        name: organisation.name.clone(),
        se_numbers: strings(&organisation.se_numbers, SeNumber::as_str),
        p_units: strings(&organisation.p_units, PNumber::as_str),
    };
    let subject = Subject::Organisation(organisation.cvr.clone());
    portner_audit::append(tx, now, context, &subject, &event).await?;
    Ok(organisation)
}

async fn refuse_if_in_use(
    tx: &mut Tx,
    scope: &RightScope,
    what: &'static str,
) -> Result<(), DirectoryError> {
    if tx.scope_assignment_count(scope).await? > 0 {
        return Err(DirectoryError::InUse(what));
    }
    Ok(())
}

fn sorted<T: Clone + Ord>(values: &[T]) -> Vec<T> {
    let set: BTreeSet<T> = values.iter().cloned().collect();
    set.into_iter().collect()
}

fn strings<T>(values: &[T], text: fn(&T) -> &str) -> Vec<String> {
    values.iter().map(|value| text(value).to_owned()).collect()
}
