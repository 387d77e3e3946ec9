//! The JSON administration API under `/api/v1` (issue 5, item 4), with its OpenAPI document
//! generated from the handlers' annotations at `/api/v1/openapi.json`.
//!
//! The API is the administration console in JSON: the same routes of the one access table
//! ([`crate::console::access::RULES`]), the same guard, the same functions behind them
//! ([`crate::console::admin`]), so it can do nothing the console could not and every change
//! is audited the same way. A client authenticates with a bearer token (`portner api token
//! create`, [`token`]) that acts as one staff user with that user's roles; a `read` token may
//! only `GET`. A browser session of an administrator works too, which is how the console's
//! own pages could call it.
//!
//! Errors are JSON objects `{"error": CODE}` with a stable code (and `field` for bad input);
//! bodies are capped by the console router's limit and malformed JSON is a 400, never a
//! panic.

mod organisations;
mod policies;
mod rights;
mod service_providers;
pub mod token;
mod users;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

pub use organisations::{change_organisation, list_organisations};
pub use policies::change_policies;
pub use rights::{catalogue, change_right, define_right, user_rights};
pub use service_providers::{
    list_service_providers, register_service_provider, remove_service_provider,
};
pub use users::{
    change_profile, change_role, change_status, create_user, delete_user, get_user, list_users,
    policies,
};

use crate::app::AppState;
use crate::console::admin::AdminError;

/// The OpenAPI document: every `/api/v1` route, its bodies and errors.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Portner administration API",
        version = "1",
        description = "Users, roles, rights and policies of the caller's organisations."
    ),
    paths(
        users::list_users,
        users::create_user,
        users::get_user,
        users::change_status,
        users::change_role,
        users::change_profile,
        users::delete_user,
        rights::user_rights,
        rights::change_right,
        rights::catalogue,
        rights::define_right,
        organisations::list_organisations,
        organisations::change_organisation,
        users::policies,
        policies::change_policies,
        service_providers::list_service_providers,
        service_providers::register_service_provider,
        service_providers::remove_service_provider
    ),
    components(schemas(
        users::UserView,
        users::NewUserBody,
        users::StatusBody,
        users::RoleBody,
        users::ProfileBody,
        users::DeleteBody,
        rights::RightBody,
        rights::CatalogueEntry,
        organisations::OrganisationView,
        organisations::OrganisationBody,
        policies::PolicyChangesBody,
        policies::PolicyChangesResult,
        service_providers::SpRegistration,
        service_providers::SpRemoval,
        crate::console::admin::service_providers::SpView,
        users::PolicyView,
        users::PolicyChange,
        ErrorBody
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// Declares the bearer scheme the `security` requirement names.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        }
    }
}

/// The routes outside the access guard: only the OpenAPI document, which describes the API
/// and holds no data.
pub fn public_router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(openapi_document))
}

async fn openapi_document() -> Response {
    match ApiDoc::openapi().to_pretty_json() {
        Ok(text) => {
            let json = HeaderValue::from_static("application/json");
            ([(header::CONTENT_TYPE, json)], text).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "the OpenAPI document could not be written");
            failure(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", None)
        }
    }
}

/// Every error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code: `BAD_INPUT`, `NOT_FOUND`, `CONFLICT`, `IN_USE`, `SP_REGISTERED`,
    /// `USERNAME_TAKEN`, the
    /// refusal codes of the access table (`ROLE_MISSING`, `WRONG_ORGANISATION`, `SELF_SERVICE`,
    /// `TOKEN_SCOPE`, …), `AUTHENTICATION_REQUIRED` or `INTERNAL`.
    pub error: String,
    /// For `BAD_INPUT`: the field that was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A JSON error response.
pub fn failure(status: StatusCode, code: &str, field: Option<&str>) -> Response {
    let body = ErrorBody {
        error: code.to_owned(),
        field: field.map(str::to_owned),
    };
    (status, Json(body)).into_response()
}

/// The JSON answer to a failed administration call; refusals are audited by the caller.
fn admin_failure(error: &AdminError) -> Response {
    match error {
        AdminError::BadInput(field) => failure(StatusCode::BAD_REQUEST, "BAD_INPUT", Some(field)),
        AdminError::NotFound => failure(StatusCode::NOT_FOUND, "NOT_FOUND", None),
        AdminError::Refused(refusal) => failure(StatusCode::FORBIDDEN, refusal.code(), None),
        AdminError::Conflict("USERNAME_TAKEN") => {
            failure(StatusCode::CONFLICT, "USERNAME_TAKEN", None)
        }
        AdminError::Conflict("IN_USE") => failure(StatusCode::CONFLICT, "IN_USE", None),
        AdminError::Conflict("SP_REGISTERED") => {
            failure(StatusCode::CONFLICT, "SP_REGISTERED", None)
        }
        AdminError::Conflict(_) => failure(StatusCode::CONFLICT, "CONFLICT", None),
        AdminError::Internal(error) => {
            tracing::error!(%error, "API request failed");
            failure(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", None)
        }
    }
}

#[cfg(test)]
mod tests;
