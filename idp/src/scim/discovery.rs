//! The discovery endpoints (RFC 7644 §4): `ServiceProviderConfig`, `ResourceTypes` and
//! `Schemas`, each as a single resource or, for the last two, as a ListResponse.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::auth::ScimClient;
use super::error::ScimError;
use super::schema::{self, LIST_RESPONSE};
use super::service::base_url;
use super::users::json_response;
use crate::app::AppState;

/// `GET /ServiceProviderConfig`.
pub(super) async fn service_provider_config(
    State(state): State<AppState>,
    _client: ScimClient,
) -> Response {
    json_response(
        StatusCode::OK,
        &schema::service_provider_config(&base_url(&state)),
    )
}

/// `GET /ResourceTypes`.
pub(super) async fn resource_types(State(state): State<AppState>, _client: ScimClient) -> Response {
    let types = schema::resource_types(&base_url(&state));
    json_response(StatusCode::OK, &list_response(types))
}

/// `GET /ResourceTypes/{name}`.
pub(super) async fn resource_type(
    State(state): State<AppState>,
    _client: ScimClient,
    Path(name): Path<String>,
) -> Result<Response, ScimError> {
    schema::resource_types(&base_url(&state))
        .into_iter()
        .find(|resource_type| resource_type["id"] == name.as_str())
        .map(|resource_type| json_response(StatusCode::OK, &resource_type))
        .ok_or_else(ScimError::not_found)
}

/// `GET /Schemas`.
pub(super) async fn schemas(State(state): State<AppState>, _client: ScimClient) -> Response {
    json_response(
        StatusCode::OK,
        &list_response(schema::schemas(&base_url(&state))),
    )
}

/// `GET /Schemas/{urn}`.
pub(super) async fn schema_by_id(
    State(state): State<AppState>,
    _client: ScimClient,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    schema::schemas(&base_url(&state))
        .into_iter()
        .find(|schema| schema["id"] == id.as_str())
        .map(|schema| json_response(StatusCode::OK, &schema))
        .ok_or_else(ScimError::not_found)
}

fn list_response(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
