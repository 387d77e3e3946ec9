//! `POST /api/v1/policies`: the editable sign-in policies changed through the API, as the
//! console changes them ([`crate::console::admin::policies`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{MatchedPath, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ErrorBody;
use super::users::{bad_body, body, refused_or_failed};
use crate::app::AppState;
use crate::console::access::Operator;
use crate::console::admin::policies;

/// Policies to change: each key of `EDITABLE_POLICIES` named maps to a value within its range,
/// or to `null` to return it to the configuration file's value. Keys left out stay as they are.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct PolicyChangesBody {
    /// Key to new value, or `null`.
    #[schema(value_type = Object)]
    pub changes: BTreeMap<String, Option<u32>>,
}

/// What changed: each key with the value now in force.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct PolicyChangesResult {
    /// Key to value in force; empty when nothing changed.
    #[schema(value_type = Object)]
    pub changed: BTreeMap<String, u32>,
}

/// Changes sign-in policies, in one transaction with their audit events and a new
/// configuration snapshot.
#[utoipa::path(
    post,
    path = "/api/v1/policies",
    request_body = PolicyChangesBody,
    responses(
        (status = 200, description = "The values now in force", body = PolicyChangesResult),
        (status = 400, description = "A key that is not editable, a value out of range",
            body = ErrorBody),
        (status = 403, description = "Refused by the access table, read token", body = ErrorBody)
    )
)]
pub async fn change_policies(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    parsed: Result<Json<PolicyChangesBody>, JsonRejection>,
) -> Response {
    let Some(request) = body(parsed) else {
        return bad_body();
    };
    let changes: Vec<_> = request.changes.into_iter().collect();
    match policies::change_policies(&state, &operator, &changes).await {
        Ok(changed) => Json(PolicyChangesResult {
            changed: changed.into_iter().collect(),
        })
        .into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}
