//! The `/Users` endpoints (RFC 7644 §3.3–§3.6, §3.14): create, read, list and search,
//! replace, patch and delete, each confined to the client's organisation.
//!
//! Handlers parse the request and call one function of [`super::service`]; every write runs
//! there in one transaction that also holds the `If-Match` check, so a change made between a
//! client's read and its write is caught rather than overwritten.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use portner_shared::domain::UserId;
use serde_json::Value;

use super::auth::ScimClient;
use super::error::{SCIM_MEDIA_TYPE, ScimError, ScimType};
use super::list::{ListRequest, Projection};
use super::service::{self, Versioned};
use crate::app::AppState;

/// `POST /Users` (§3.3): 201 with the resource, `Location` and `ETag`.
pub(super) async fn create(
    State(state): State<AppState>,
    client: ScimClient,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let document = json_body(body)?;
    require_user_schema(&document)?;
    let created = service::create(&state, &client, &document).await?;
    Ok(resource_response(StatusCode::CREATED, &created, true))
}

/// `GET /Users/{id}` (§3.4.1), honouring `attributes` and `excludedAttributes` (§3.4.2.5).
pub(super) async fn read(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let projection = Projection::from_query(query.as_deref())?;
    let mut found = service::read(&state, &client, parse_id(&id)?).await?;
    found.resource = projection.apply(found.resource);
    Ok(resource_response(StatusCode::OK, &found, false))
}

/// `GET /Users` (§3.4.2): filter, sort and page.
pub(super) async fn list(
    State(state): State<AppState>,
    client: ScimClient,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let request = ListRequest::from_query(query.as_deref())?;
    let page = service::list(&state, &client, &request).await?;
    Ok(json_response(StatusCode::OK, &page))
}

/// `POST /Users/.search` (§3.4.3): the list query in a body.
pub(super) async fn search(
    State(state): State<AppState>,
    client: ScimClient,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let request = ListRequest::from_search_body(&json_body(body)?)?;
    let page = service::list(&state, &client, &request).await?;
    Ok(json_response(StatusCode::OK, &page))
}

/// `POST /.search` (§3.4.3): one search over users and groups together, users first.
pub(super) async fn search_all(
    State(state): State<AppState>,
    client: ScimClient,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let request = ListRequest::from_search_body(&json_body(body)?)?;
    let mut resources = service::resources(&state, &client).await?;
    resources.extend(super::group_service::resources(&state, &client).await?);
    Ok(json_response(StatusCode::OK, &request.page(resources)))
}

/// `PUT /Users/{id}` (§3.5.1).
pub(super) async fn replace(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let document = json_body(body)?;
    require_user_schema(&document)?;
    let if_match = if_match(&headers)?;
    let replaced = service::replace(&state, &client, id, if_match.as_deref(), &document).await?;
    Ok(resource_response(StatusCode::OK, &replaced, false))
}

/// `PATCH /Users/{id}` (§3.5.2).
pub(super) async fn patch(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let operations = super::patch::parse(&json_body(body)?, &super::patch::USER_RULES)?;
    let if_match = if_match(&headers)?;
    let patched = service::patch(&state, &client, id, if_match.as_deref(), &operations).await?;
    Ok(resource_response(StatusCode::OK, &patched, false))
}

/// `DELETE /Users/{id}` (§3.6): 204.
pub(super) async fn delete(
    State(state): State<AppState>,
    client: ScimClient,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let if_match = if_match(&headers)?;
    service::delete(&state, &client, id, if_match.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An ID that is not a UUID names no user: 404, as for an unknown one.
fn parse_id(id: &str) -> Result<UserId, ScimError> {
    id.parse().map_err(|_| ScimError::not_found())
}

/// The body as JSON. Over the size cap is 413; anything that is not JSON is 400
/// `invalidSyntax` (§3.12), never a panic.
pub(super) fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ScimError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ScimError::too_large()
        } else {
            ScimError::bad_request(ScimType::InvalidSyntax, "The body could not be read.")
        }
    })?;
    serde_json::from_slice(&body)
        .map_err(|_| ScimError::bad_request(ScimType::InvalidSyntax, "The body is not valid JSON."))
}

/// RFC 7643 §3: a resource names its schemas; a body that names others is not a User.
fn require_user_schema(document: &Value) -> Result<(), ScimError> {
    require_schema(
        document,
        super::schema::USER,
        "schemas must name urn:ietf:params:scim:schemas:core:2.0:User.",
    )
}

/// Refuses a body whose `schemas` do not name `urn`, with `detail`.
pub(super) fn require_schema(
    document: &Value,
    urn: &str,
    detail: &'static str,
) -> Result<(), ScimError> {
    let schemas = super::filter::member(document, "schemas").and_then(Value::as_array);
    let names_it = schemas.is_some_and(|schemas| {
        schemas
            .iter()
            .any(|schema| schema.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    });
    if names_it {
        Ok(())
    } else {
        Err(ScimError::bad_request(ScimType::InvalidSyntax, detail))
    }
}

/// The `If-Match` header, if present (RFC 7232 §3.1).
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<String>, ScimError> {
    headers
        .get(header::IF_MATCH)
        .map(|value| {
            value.to_str().map(str::to_owned).map_err(|_| {
                ScimError::bad_request(ScimType::InvalidSyntax, "If-Match is not readable.")
            })
        })
        .transpose()
}

pub(super) fn resource_response(
    status: StatusCode,
    versioned: &Versioned,
    with_location: bool,
) -> Response {
    let mut response = json_response(status, &versioned.resource);
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&versioned.etag) {
        headers.insert(header::ETAG, etag);
    }
    if with_location && let Ok(location) = HeaderValue::from_str(&versioned.location) {
        headers.insert(header::LOCATION, location);
    }
    response
}

/// A SCIM JSON body with its media type (§3.1).
pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_MEDIA_TYPE),
    );
    response
}
