//! `/api/v1` handlers for the service-provider registry: listed, an SP registered from its
//! metadata, one removed. Each calls the administration console's function for the same
//! change ([`crate::console::admin::service_providers`]).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{MatchedPath, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::{bad_body, body, refused_or_failed};
use super::{ErrorBody, admin_failure};
use crate::app::AppState;
use crate::console::access::Operator;
use crate::console::admin::AdminError;
use crate::console::admin::service_providers::{self, SpFields, SpView};

/// An SP to register.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct SpRegistration {
    /// The SP's SAML metadata document (at most 1 MiB).
    pub metadata: String,
    /// The name shown; the entityID when absent.
    #[serde(default)]
    pub name: String,
    /// `own` (default) or `nemlogin`.
    #[serde(default = "own")]
    pub profile: String,
    /// `oiosaml3` (default), `legacy` or `none`.
    #[serde(default = "oiosaml3")]
    pub encryption: String,
    /// `substantial` (default) or `low`.
    #[serde(default = "substantial")]
    pub minimum_level: String,
    /// Sign the Response as well as the Assertion (default false).
    #[serde(default)]
    pub sign_response: bool,
}

fn own() -> String {
    "own".to_owned()
}

fn oiosaml3() -> String {
    "oiosaml3".to_owned()
}

fn substantial() -> String {
    "substantial".to_owned()
}

/// An SP to remove; `confirm` repeats the entityID.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct SpRemoval {
    /// The entityID.
    pub entity_id: String,
    /// The entityID again.
    pub confirm: String,
}

/// The registered service providers.
#[utoipa::path(
    get,
    path = "/api/v1/service-providers",
    responses((status = 200, description = "The registry", body = [SpView]))
)]
pub async fn list_service_providers(
    State(state): State<AppState>,
    _operator: Operator,
) -> Response {
    match service_providers::list(&state).await {
        Ok(providers) => Json(providers).into_response(),
        Err(error) => admin_failure(&AdminError::Internal(error.into())),
    }
}

/// Registers a service provider from its metadata.
#[utoipa::path(
    post,
    path = "/api/v1/service-providers",
    request_body = SpRegistration,
    responses(
        (status = 201, description = "Registered", body = SpView),
        (status = 400, description = "Refused metadata or settings", body = ErrorBody),
        (status = 409, description = "The entityID is registered already", body = ErrorBody)
    )
)]
pub async fn register_service_provider(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    parsed: Result<Json<SpRegistration>, JsonRejection>,
) -> Response {
    let Some(request) = body(parsed) else {
        return bad_body();
    };
    let fields = SpFields {
        metadata: &request.metadata,
        name: &request.name,
        profile: &request.profile,
        encryption: &request.encryption,
        minimum_level: &request.minimum_level,
        sign_response: request.sign_response,
    };
    match service_providers::register(&state, &operator, fields).await {
        Ok(view) => (StatusCode::CREATED, Json(view)).into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// Removes a service provider.
#[utoipa::path(
    post,
    path = "/api/v1/service-providers/remove",
    request_body = SpRemoval,
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The confirmation differs", body = ErrorBody),
        (status = 404, description = "No such SP", body = ErrorBody)
    )
)]
pub async fn remove_service_provider(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    parsed: Result<Json<SpRemoval>, JsonRejection>,
) -> Response {
    let Some(request) = body(parsed) else {
        return bad_body();
    };
    let removed =
        service_providers::remove(&state, &operator, &request.entity_id, &request.confirm).await;
    match removed {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}
