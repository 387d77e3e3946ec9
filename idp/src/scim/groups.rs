//! The `/Groups` endpoints (RFC 7644 §3.3–§3.6, §3.14): create, read, list and search,
//! replace, patch and delete, each confined to the client's organisation. Each handler parses
//! the request and calls one function of [`super::group_service`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::HeaderMap;
use axum::response::{IntoResponse, Response};
use portner_shared::domain::GroupId;
use serde_json::Value;

use super::auth::ScimClient;
use super::error::ScimError;
use super::group_service;
use super::list::{ListRequest, Projection};
use super::patch::GROUP_RULES;
use super::users::{if_match, json_body, json_response, require_schema, resource_response};
use crate::app::AppState;

/// `POST /Groups` (§3.3): 201 with the resource, `Location` and `ETag`.
pub(super) async fn create(
    State(state): State<AppState>,
    client: ScimClient,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let document = json_body(body)?;
    require_group_schema(&document)?;
    let created = group_service::create(&state, &client, &document).await?;
    Ok(resource_response(StatusCode::CREATED, &created, true))
}

/// `GET /Groups/{id}` (§3.4.1), with `attributes` and `excludedAttributes`.
pub(super) async fn read(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let projection = Projection::from_query(query.as_deref())?;
    let mut found = group_service::read(&state, &client, parse_id(&id)?).await?;
    found.resource = projection.apply(found.resource);
    Ok(resource_response(StatusCode::OK, &found, false))
}

/// `GET /Groups` (§3.4.2): filter, sort and page.
pub(super) async fn list(
    State(state): State<AppState>,
    client: ScimClient,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let request = ListRequest::from_query(query.as_deref())?;
    let page = group_service::list(&state, &client, &request).await?;
    Ok(json_response(StatusCode::OK, &page))
}

/// `POST /Groups/.search` (§3.4.3).
pub(super) async fn search(
    State(state): State<AppState>,
    client: ScimClient,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let request = ListRequest::from_search_body(&json_body(body)?)?;
    let page = group_service::list(&state, &client, &request).await?;
    Ok(json_response(StatusCode::OK, &page))
}

/// `PUT /Groups/{id}` (§3.5.1).
pub(super) async fn replace(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let document = json_body(body)?;
    require_group_schema(&document)?;
    let tag = if_match(&headers)?;
    let replaced = group_service::replace(&state, &client, id, tag.as_deref(), &document).await?;
    Ok(resource_response(StatusCode::OK, &replaced, false))
}

/// `PATCH /Groups/{id}` (§3.5.2).
pub(super) async fn patch(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let operations = super::patch::parse(&json_body(body)?, &GROUP_RULES)?;
    let tag = if_match(&headers)?;
    let patched = group_service::patch(&state, &client, id, tag.as_deref(), &operations).await?;
    Ok(resource_response(StatusCode::OK, &patched, false))
}

/// `DELETE /Groups/{id}` (§3.6): 204.
pub(super) async fn delete(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let tag = if_match(&headers)?;
    group_service::delete(&state, &client, id, tag.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An ID that is not a UUID names no group: 404, as for an unknown one.
fn parse_id(id: &str) -> Result<GroupId, ScimError> {
    id.parse().map_err(|_| ScimError::not_found())
}

fn require_group_schema(document: &Value) -> Result<(), ScimError> {
    require_schema(
        document,
        super::schema::GROUP,
        "schemas must name urn:ietf:params:scim:schemas:core:2.0:Group.",
    )
}
