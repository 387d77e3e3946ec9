//! `/api/v1` handlers for organisations: those the caller administers, and changes to their
//! name, SE numbers and P-units. Each calls the administration console's function for the
//! same change ([`crate::console::admin::organisations`]).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{MatchedPath, Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use portner_shared::domain::Organisation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::{bad_body, body, refused_or_failed};
use super::{ErrorBody, admin_failure};
use crate::app::AppState;
use crate::console::access::Operator;
use crate::console::admin::AdminError;
use crate::console::admin::organisations::{self, OrganisationFields};

/// An organisation as the API shows it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct OrganisationView {
    /// The CVR number; never changes.
    pub cvr: String,
    /// The registered name.
    pub name: String,
    /// The `subjectNameId` suffix; never changes.
    pub suffix: String,
    /// SE numbers, eight digits each.
    pub se_numbers: Vec<String>,
    /// P-units, ten digits each.
    pub p_units: Vec<String>,
}

/// What an organisation should be: its name and every SE number and P-unit.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct OrganisationBody {
    /// The registered name, 1-200 printable characters.
    pub name: String,
    /// Every SE number (at most 100); one left out is removed.
    #[serde(default)]
    pub se_numbers: Vec<String>,
    /// Every P-unit (at most 100); one left out is removed.
    #[serde(default)]
    pub p_units: Vec<String>,
}

fn view(organisation: &Organisation) -> OrganisationView {
    OrganisationView {
        cvr: organisation.cvr.as_str().to_owned(),
        name: organisation.name.clone(),
        suffix: organisation.suffix.as_str().to_owned(),
        se_numbers: organisation
            .se_numbers
            .iter()
            .map(|se| se.as_str().to_owned())
            .collect(),
        p_units: organisation
            .p_units
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
    }
}

/// The organisations the caller administers.
#[utoipa::path(
    get,
    path = "/api/v1/organisations",
    responses((status = 200, description = "The organisations", body = [OrganisationView]))
)]
pub async fn list_organisations(State(state): State<AppState>, operator: Operator) -> Response {
    match organisations::administered(&state, &operator).await {
        Ok(found) => Json(found.iter().map(view).collect::<Vec<_>>()).into_response(),
        Err(error) => admin_failure(&AdminError::Internal(error.into())),
    }
}

/// Changes an organisation's name, SE numbers and P-units.
#[utoipa::path(
    post,
    path = "/api/v1/organisations/{cvr}",
    params(("cvr" = String, Path, description = "The organisation's CVR number")),
    request_body = OrganisationBody,
    responses(
        (status = 200, description = "The organisation as changed", body = OrganisationView),
        (status = 400, description = "A malformed name or number", body = ErrorBody),
        (status = 403, description = "Not an organisation the caller administers, read token",
            body = ErrorBody),
        (status = 404, description = "No such organisation", body = ErrorBody),
        (status = 409, description = "IN_USE: a removed number is a right's scope",
            body = ErrorBody)
    )
)]
pub async fn change_organisation(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(cvr): Path<String>,
    parsed: Result<Json<OrganisationBody>, JsonRejection>,
) -> Response {
    let Some(request) = body(parsed) else {
        return bad_body();
    };
    let se_numbers: Vec<&str> = request.se_numbers.iter().map(String::as_str).collect();
    let p_units: Vec<&str> = request.p_units.iter().map(String::as_str).collect();
    let fields = OrganisationFields {
        name: &request.name,
        se_numbers: &se_numbers,
        p_units: &p_units,
    };
    match organisations::change_organisation(&state, &operator, &cvr, fields).await {
        Ok(organisation) => Json(view(&organisation)).into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}
