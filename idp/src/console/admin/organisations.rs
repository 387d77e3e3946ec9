//! Organisations in the administration console and the JSON API (issue 5 item 4): an
//! administrator sees the organisations they administer and changes their name, SE numbers
//! and P-units through [`crate::directory::change_organisation_in`], audited as
//! `ORGANISATION_CHANGED`. The CVR number and the `subjectNameId` suffix are shown, never
//! changed (see that module for why).

use std::collections::BTreeSet;
use std::str::FromStr;

use axum::extract::{MatchedPath, Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portner_shared::domain::{Organisation, Role};
use portner_shared::store::StoreError;
use serde::Deserialize;

use super::{AdminError, context};
use crate::app::AppState;
use crate::console::access::{Operator, Refusal};
use crate::console::page::{self, ConsoleText, Lang, Text};
use crate::directory::{self, OrganisationChange};

/// Most SE numbers, and most P-units, one organisation may list.
pub const MAX_NUMBERS: usize = 100;

/// The organisations the operator administers, by CVR.
///
/// # Errors
///
/// The store failed.
pub async fn administered(
    state: &AppState,
    operator: &Operator,
) -> Result<Vec<Organisation>, StoreError> {
    let mut tx = state.store.read().await?;
    let mut found = Vec::new();
    for cvr in operator.organisations(Role::Administrator) {
        if let Some(organisation) = tx.organisation(&cvr).await? {
            found.push(organisation);
        }
    }
    tx.rollback().await?;
    Ok(found)
}

/// An organisation's new name, SE numbers and P-units as entered.
#[derive(Clone, Copy, Debug)]
pub struct OrganisationFields<'a> {
    /// The registered name.
    pub name: &'a str,
    /// The SE numbers, eight digits each.
    pub se_numbers: &'a [&'a str],
    /// The P-units, ten digits each.
    pub p_units: &'a [&'a str],
}

/// Changes an organisation the operator administers.
///
/// # Errors
///
/// [`AdminError::BadInput`] naming a malformed field or a list over [`MAX_NUMBERS`];
/// [`AdminError::NotFound`] for an unknown CVR; [`AdminError::Refused`] for an organisation
/// the operator does not administer; [`AdminError::Conflict`] (`IN_USE`) when a removed SE
/// number or P-unit is still the scope of a right assignment.
pub async fn change_organisation(
    state: &AppState,
    operator: &Operator,
    cvr: &str,
    fields: OrganisationFields<'_>,
) -> Result<Organisation, AdminError> {
    let cvr = cvr.parse().map_err(|_| AdminError::NotFound)?;
    if !operator.holds(Role::Administrator, &cvr) {
        return Err(AdminError::Refused(Refusal::WrongOrganisation));
    }
    let change = OrganisationChange {
        name: portner_shared::domain::parse_display_name(fields.name)
            .map_err(|_| AdminError::BadInput("name"))?,
        se_numbers: numbers(fields.se_numbers, "se_numbers")?,
        p_units: numbers(fields.p_units, "p_units")?,
    };

    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let organisation = tx.organisation(&cvr).await?.ok_or(AdminError::NotFound)?;
    let context = context(operator);
    let organisation =
        directory::change_organisation_in(&mut tx, now, &context, organisation, &change).await?;
    tx.commit().await?;
    Ok(organisation)
}

/// Parses a list of numbers, without repeats, refusing more than [`MAX_NUMBERS`].
fn numbers<T: FromStr + Ord>(
    texts: &[&str],
    field: &'static str,
) -> Result<BTreeSet<T>, AdminError> {
    if texts.len() > MAX_NUMBERS {
        return Err(AdminError::BadInput(field));
    }
    texts
        .iter()
        .map(|text| text.trim().parse().map_err(|_| AdminError::BadInput(field)))
        .collect()
}

/// Splits a form field into its numbers: separated by commas or whitespace.
pub fn split_numbers(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .collect()
}

/// The organisation form as posted.
#[derive(Debug, Deserialize)]
pub struct OrganisationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    se_numbers: String,
    #[serde(default)]
    p_units: String,
}

/// `POST /admin/organisations/{cvr}`: changes the organisation, then shows the overview.
pub async fn update(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(cvr): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<OrganisationForm>,
) -> Response {
    let result = if page::csrf_valid(&headers, &form.csrf) {
        let (se_numbers, p_units) = (
            split_numbers(&form.se_numbers),
            split_numbers(&form.p_units),
        );
        let fields = OrganisationFields {
            name: &form.name,
            se_numbers: &se_numbers,
            p_units: &p_units,
        };
        change_organisation(&state, &operator, &cvr, fields).await
    } else {
        Err(AdminError::BadInput("csrf"))
    };
    match result {
        Ok(_) => Redirect::to("/admin").into_response(),
        Err(error) => super::pages::fail(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// A form per organisation the operator administers.
pub fn organisations_markup(lang: Lang, token: &str, organisations: &[Organisation]) -> Markup {
    html! {
        p { small { (lang.console(Text::OrganisationHint)) } }
        @for organisation in organisations {
            (organisation_form(lang, token, organisation))
        }
    }
}

fn organisation_form(lang: Lang, token: &str, organisation: &Organisation) -> Markup {
    let cvr = organisation.cvr.as_str();
    let id = |field: &str| format!("org-{cvr}-{field}");
    let joined = |values: Vec<&str>| values.join(", ");
    let se_numbers = joined(
        organisation
            .se_numbers
            .iter()
            .map(|se| se.as_str())
            .collect(),
    );
    let p_units = joined(organisation.p_units.iter().map(|p| p.as_str()).collect());
    html! {
        form method="post" action=(format!("/admin/organisations/{cvr}")) {
            input type="hidden" name="csrf" value=(token);
            h3 { "CVR " (cvr) " · " (organisation.suffix.as_str()) }
            p {
                label for=(id("name")) { (lang.console(Text::Name)) } br;
                input id=(id("name")) name="name" type="text" maxlength="200" required
                    value=(organisation.name);
            }
            p {
                label for=(id("se")) { (lang.console(Text::SeNumbers)) } br;
                input id=(id("se")) name="se_numbers" type="text" maxlength="1000"
                    inputmode="numeric" value=(se_numbers);
            }
            p {
                label for=(id("p")) { (lang.console(Text::PUnits)) } br;
                input id=(id("p")) name="p_units" type="text" maxlength="1200"
                    inputmode="numeric" value=(p_units);
            }
            button type="submit" { (lang.console(Text::SaveOrganisation)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_split_on_commas_and_spaces_and_repeats_collapse() {
        let parts = split_numbers(" 91111111, 92222222\n91111111 ,");
        assert_eq!(parts, ["91111111", "92222222", "91111111"]);
        let parsed: BTreeSet<portner_shared::domain::SeNumber> =
            numbers(&parts, "se_numbers").unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(numbers::<portner_shared::domain::SeNumber>(&["123"], "se_numbers").is_err());
        let many = vec!["91111111"; MAX_NUMBERS + 1];
        assert!(numbers::<portner_shared::domain::SeNumber>(&many, "se_numbers").is_err());
    }
}
