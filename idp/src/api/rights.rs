//! `/api/v1` handlers for rights: the catalogue (local entries and those imported from MitID
//! Erhverv), local entries added, and a user's rights within scopes of their organisation.
//! Each calls the administration console's function for the same change.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{MatchedPath, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::{bad_body, body, refused_or_failed};
use super::{ErrorBody, admin_failure};
use crate::app::AppState;
use crate::console::access::Operator;
use crate::console::admin::{self, AdminError, RightFields};

/// A right assignment, or a change of one.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RightBody {
    /// The right's catalogue key.
    pub right: String,
    /// `cvr:CVR`, `pu:P-NUMBER` or `se:SE-NUMBER`, within the user's organisation.
    pub scope: String,
    /// In a change: `assign` or `revoke`; absent in a listing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub change: String,
}

/// A catalogue entry, or a new local one.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CatalogueEntry {
    /// The catalogue key.
    pub right: String,
    /// Its name.
    pub name: String,
    /// `local` or `mitid_erhverv`; absent when defining one (always local).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// A user's rights, each with its scope.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/rights",
    params(("id" = String, Path, description = "The user's identifier")),
    responses(
        (status = 200, description = "The user's rights", body = [RightBody]),
        (status = 403, description = "Another organisation's user", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)
    )
)]
pub async fn user_rights(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
) -> Response {
    let (user, _) = match admin::load_user(&state, &operator, &id).await {
        Ok(found) => found,
        Err(error) => {
            return refused_or_failed(&state, &operator, &Method::GET, &matched, error).await;
        }
    };
    let held = async {
        let mut tx = state.store.read().await?;
        let held = tx.right_assignments(user.id).await?;
        tx.rollback().await?;
        Ok::<_, portner_shared::store::StoreError>(held)
    };
    match held.await {
        Ok(held) => {
            let view: Vec<RightBody> = held
                .iter()
                .map(|held| RightBody {
                    right: held.right.as_str().to_owned(),
                    scope: format!("{}:{}", held.scope.kind(), held.scope.value()),
                    change: String::new(),
                })
                .collect();
            Json(view).into_response()
        }
        Err(error) => admin_failure(&AdminError::Internal(error.into())),
    }
}

/// Assigns or revokes a right of the catalogue within a scope of the user's organisation.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/rights",
    params(("id" = String, Path, description = "The user's identifier")),
    request_body = RightBody,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Unknown right, scope or change", body = ErrorBody),
        (status = 403, description = "Refused: own account, other organisation, read token",
            body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Already held, or not held", body = ErrorBody)
    )
)]
pub async fn change_right(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    parsed: Result<Json<RightBody>, JsonRejection>,
) -> Response {
    let Some(request) = body(parsed) else {
        return bad_body();
    };
    let fields = RightFields {
        right: &request.right,
        scope: &request.scope,
        change: &request.change,
    };
    match admin::change_right(&state, &operator, &id, fields).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// The rights catalogue: local entries and those imported from MitID Erhverv.
#[utoipa::path(
    get,
    path = "/api/v1/rights",
    responses((status = 200, description = "The catalogue", body = [CatalogueEntry]))
)]
pub async fn catalogue(State(state): State<AppState>, _operator: Operator) -> Response {
    let read = async {
        let mut tx = state.store.read().await?;
        let rights = tx.rights().await?;
        tx.rollback().await?;
        Ok::<_, portner_shared::store::StoreError>(rights)
    };
    match read.await {
        Ok(rights) => {
            let view: Vec<CatalogueEntry> = rights
                .iter()
                .map(|right| CatalogueEntry {
                    right: right.id.as_str().to_owned(),
                    name: right.name.clone(),
                    source: right.source.as_str().to_owned(),
                })
                .collect();
            Json(view).into_response()
        }
        Err(error) => admin_failure(&AdminError::Internal(error.into())),
    }
}

/// Adds a local right to the catalogue.
#[utoipa::path(
    post,
    path = "/api/v1/rights",
    request_body = CatalogueEntry,
    responses(
        (status = 201, description = "Added"),
        (status = 400, description = "A malformed key or name", body = ErrorBody),
        (status = 409, description = "The key exists already", body = ErrorBody)
    )
)]
pub async fn define_right(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    parsed: Result<Json<CatalogueEntry>, JsonRejection>,
) -> Response {
    let Some(request) = body(parsed) else {
        return bad_body();
    };
    match admin::define_right(&state, &operator, &request.right, &request.name).await {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}
