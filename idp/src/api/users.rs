//! `/api/v1` handlers: users, their status, profile and roles, and the policies in force. Each
//! calls the administration console's function for the same change ([`crate::console::admin`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{MatchedPath, Path, Query, State};
use axum::http::header::LOCATION;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use portner_audit::config_history::Snapshot;
use portner_shared::domain::{Role, RoleAssignment, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ErrorBody, admin_failure, failure};
use crate::app::AppState;
use crate::console::access::{self, Operator};
use crate::console::admin::{
    self, AdminError, NewUserFields, ProfileFields, RoleChange, StatusChange,
};

/// A user as the API shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Portner's identifier.
    pub id: String,
    /// The username (the part before `@suffix` in the MitID Erhverv `subjectNameId`).
    pub username: String,
    /// The display name.
    pub display_name: String,
    /// The e-mail address.
    pub email: String,
    /// The organisation's CVR.
    pub organisation: String,
    /// `pending_activation`, `active`, `locked` or `disabled`.
    pub status: String,
    /// The identity-assurance level: `Low`, `Substantial` or `High`.
    pub identity_level: String,
    /// Staff roles held in the user's organisation.
    pub roles: Vec<String>,
}

impl UserView {
    fn of(user: &User, roles: &[RoleAssignment]) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.to_string(),
            display_name: user.display_name.clone(),
            email: user.email.to_string(),
            organisation: user.org.to_string(),
            status: user.status.to_string(),
            identity_level: user.identity_level.oiosaml_name().to_owned(),
            roles: roles
                .iter()
                .filter(|held| held.org == user.org)
                .map(|held| held.role.to_string())
                .collect(),
        }
    }
}

/// A new user: created pending activation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserBody {
    /// CVR of an organisation the caller administers.
    pub organisation: String,
    /// The username.
    pub username: String,
    /// The display name.
    pub display_name: String,
    /// The e-mail address.
    pub email: String,
}

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusBody {
    /// `disable`, or `enable` (a disabled account returns to pending activation).
    pub change: String,
}

/// A role change in the user's organisation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleBody {
    /// `administrator`, `helpdesk` or `auditor`.
    pub role: String,
    /// `grant` or `revoke`.
    pub change: String,
}

/// A new name and e-mail address.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileBody {
    /// The display name.
    pub display_name: String,
    /// The e-mail address.
    pub email: String,
}

/// The confirmation of a deletion.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteBody {
    /// The user's username, repeated.
    pub confirm: String,
}

/// The policies in force and their recent history.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    /// Every recorded setting, key to value; absent before the first recorded start.
    pub in_force: Option<BTreeMap<String, String>>,
    /// The last changes, newest first.
    pub history: Vec<PolicyChange>,
}

/// One recorded change of the settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyChange {
    /// When the starting server applied it (RFC 3339).
    pub applied_at: String,
    /// The keys that changed, with their new values.
    pub changed: BTreeMap<String, String>,
}

impl PolicyChange {
    fn of(snapshot: &Snapshot) -> Self {
        let applied_at = DateTime::from_timestamp_millis(snapshot.occurred_at)
            .map(|time| time.to_rfc3339())
            .unwrap_or_default();
        let changed = snapshot
            .changed
            .iter()
            .filter_map(|key| Some((key.clone(), snapshot.settings.get(key)?.clone())))
            .collect();
        Self {
            applied_at,
            changed,
        }
    }
}

/// `?q=`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// Answers an administration error, auditing a refusal first.
pub(super) async fn refused_or_failed(
    state: &AppState,
    operator: &Operator,
    method: &Method,
    matched: &MatchedPath,
    error: AdminError,
) -> Response {
    match error {
        AdminError::Refused(refusal) => {
            access::refuse(state, operator, method, matched.as_str(), refusal).await
        }
        other => admin_failure(&other),
    }
}

/// A JSON body, or `None` (logged) for one that does not parse; the caller answers
/// [`bad_body`].
pub(super) fn body<T>(parsed: Result<Json<T>, JsonRejection>) -> Option<T> {
    match parsed {
        Ok(Json(value)) => Some(value),
        Err(rejection) => {
            tracing::info!(%rejection, "API body refused");
            None
        }
    }
}

/// The answer to a body that is not JSON of the expected shape, or too large.
pub(super) fn bad_body() -> Response {
    failure(StatusCode::BAD_REQUEST, "BAD_INPUT", Some("body"))
}

/// Users of the organisations the caller administers whose username, name or e-mail contains
/// `q` (all when it is empty), at most 50.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    params(("q" = Option<String>, Query, description = "Text to search for")),
    responses(
        (status = 200, description = "The users found", body = [UserView]),
        (status = 400, description = "Bad search text", body = ErrorBody),
        (status = 401, description = "No usable token or session", body = ErrorBody),
        (status = 403, description = "Refused by the access table", body = ErrorBody)
    )
)]
pub async fn list_users(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<SearchQuery>,
) -> Response {
    let Some(text) = crate::console::page::search_text(query.q.as_deref()) else {
        return failure(StatusCode::BAD_REQUEST, "BAD_INPUT", Some("q"));
    };
    let found = match operator
        .search_users(&state, Role::Administrator, text)
        .await
    {
        Ok(found) => admin::with_roles(&state, found).await,
        Err(error) => Err(error),
    };
    match found {
        Ok(found) => {
            let views: Vec<UserView> = found
                .iter()
                .map(|(user, roles)| UserView::of(user, roles))
                .collect();
            Json(views).into_response()
        }
        Err(error) => admin_failure(&AdminError::Internal(error.into())),
    }
}

/// Creates a user, pending activation.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Created; Location names it", body = UserView),
        (status = 400, description = "A field is malformed", body = ErrorBody),
        (status = 403, description = "Another organisation, or a read token", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody)
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    parsed: Result<Json<NewUserBody>, JsonRejection>,
) -> Response {
    let Some(new) = body(parsed) else {
        return bad_body();
    };
    let fields = NewUserFields {
        org: &new.organisation,
        username: &new.username,
        display_name: &new.display_name,
        email: &new.email,
    };
    match admin::create_user(&state, &operator, &fields).await {
        Ok(user) => {
            let location = [(LOCATION, format!("/api/v1/users/{}", user.id))];
            (
                StatusCode::CREATED,
                location,
                Json(UserView::of(&user, &[])),
            )
                .into_response()
        }
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// One user of an organisation the caller administers.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    params(("id" = String, Path, description = "The user's identifier")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "Another organisation's user", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)
    )
)]
pub async fn get_user(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
) -> Response {
    match admin::load_user(&state, &operator, &id).await {
        Ok((user, roles)) => Json(UserView::of(&user, &roles)).into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::GET, &matched, error).await,
    }
}

/// Disables a user, or returns a disabled one to pending activation.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/status",
    params(("id" = String, Path, description = "The user's identifier")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "The user afterwards", body = UserView),
        (status = 400, description = "Unknown change", body = ErrorBody),
        (status = 403, description = "Refused: own account, other organisation, read token",
            body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Not possible in the account's state", body = ErrorBody)
    )
)]
pub async fn change_status(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    parsed: Result<Json<StatusBody>, JsonRejection>,
) -> Response {
    let Some(request) = body(parsed) else {
        return bad_body();
    };
    let change = match StatusChange::parse(&request.change) {
        Ok(change) => change,
        Err(error) => return admin_failure(&error),
    };
    let result = admin::change_status(&state, &operator, &id, change).await;
    match result {
        Ok(user) => Json(UserView::of(&user, &[])).into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// Grants or revokes a staff role in the user's organisation.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/roles",
    params(("id" = String, Path, description = "The user's identifier")),
    request_body = RoleBody,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Unknown role or change", body = ErrorBody),
        (status = 403, description = "Refused: own account, other organisation, read token",
            body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Already held, or not held", body = ErrorBody)
    )
)]
pub async fn change_role(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    parsed: Result<Json<RoleBody>, JsonRejection>,
) -> Response {
    let Some(request) = body(parsed) else {
        return bad_body();
    };
    let change = match RoleChange::parse(&request.role, &request.change) {
        Ok(change) => change,
        Err(error) => return admin_failure(&error),
    };
    match admin::change_role(&state, &operator, &id, change).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// Changes a user's display name and e-mail address.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/profile",
    params(("id" = String, Path, description = "The user's identifier")),
    request_body = ProfileBody,
    responses(
        (status = 200, description = "The user afterwards", body = UserView),
        (status = 400, description = "A field is malformed", body = ErrorBody),
        (status = 403, description = "Refused: own account, other organisation, read token",
            body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)
    )
)]
pub async fn change_profile(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    parsed: Result<Json<ProfileBody>, JsonRejection>,
) -> Response {
    let Some(request) = body(parsed) else {
        return bad_body();
    };
    let fields = ProfileFields {
        display_name: &request.display_name,
        email: &request.email,
    };
    match admin::change_profile(&state, &operator, &id, fields).await {
        Ok(user) => Json(UserView::of(&user, &[])).into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// Deletes a user with their keys, sessions and rights; `confirm` repeats the username.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/delete",
    params(("id" = String, Path, description = "The user's identifier")),
    request_body = DeleteBody,
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The confirmation does not match", body = ErrorBody),
        (status = 403, description = "Refused: own account, other organisation, read token",
            body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)
    )
)]
pub async fn delete_user(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    parsed: Result<Json<DeleteBody>, JsonRejection>,
) -> Response {
    let Some(request) = body(parsed) else {
        return bad_body();
    };
    match admin::delete_user(&state, &operator, &id, &request.confirm).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refused_or_failed(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// The settings in force and the last 20 recorded changes (`POST /api/v1/policies` changes
/// the editable sign-in policies).
#[utoipa::path(
    get,
    path = "/api/v1/policies",
    responses((status = 200, description = "The policies", body = PolicyView))
)]
pub async fn policies(State(state): State<AppState>, _operator: Operator) -> Response {
    match admin::policies(&state).await {
        Ok((in_force, history)) => Json(PolicyView {
            in_force: in_force.map(|snapshot| snapshot.settings),
            history: history.iter().map(PolicyChange::of).collect(),
        })
        .into_response(),
        Err(error) => admin_failure(&AdminError::Internal(error)),
    }
}
