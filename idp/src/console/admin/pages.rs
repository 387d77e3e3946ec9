//! The administration pages: the overview with the user search, the form for a new user, the
//! organisations, the rights catalogue and the policies in force with their history, and a
//! user's page with status and role forms.
//!
//! Every form carries the CSRF token (ASVS 3.5) and answers with a redirect to the page it
//! changed (post/redirect/get). Refusals are audited by [`access::refuse`].

use axum::extract::{MatchedPath, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use portner_audit::config_history::Snapshot;
use portner_shared::domain::{
    Cvr, Right, RightAssignment, RightScope, Role, RoleAssignment, User, UserStatus,
};
use portner_shared::store::StoreError;
use serde::Deserialize;

use super::{AdminError, NewUserFields, RoleChange, StatusChange};
use crate::app::AppState;
use crate::console::access::{self, Operator};
use crate::console::page::{self, ConsoleText, Lang, Text};

/// Longest field of the new-user form accepted, in characters (the domain checks each
/// field's own rules after this cap).
const MAX_FIELD_CHARS: usize = 254;

/// `GET /admin?q=`.
#[derive(Debug, Deserialize)]
pub struct OverviewQuery {
    q: Option<String>,
}

/// What the overview shows.
struct Overview {
    organisations: Vec<Cvr>,
    administered: Vec<portner_shared::domain::Organisation>,
    policy: super::policies::PolicyView,
    groups: Vec<super::groups::GroupView>,
    found: Vec<User>,
    in_force: Option<Snapshot>,
    history: Vec<Snapshot>,
    catalogue: Vec<Right>,
}

/// The overview: user search, the new-user form, the policies and their history.
pub async fn overview(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<OverviewQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = operator.lang;
    let Some(text) = page::search_text(query.q.as_deref()) else {
        return page::message(StatusCode::BAD_REQUEST, lang, Text::BadInput);
    };
    let view = match load_overview(&state, &operator, text).await {
        Ok(view) => view,
        Err(error) => return access::internal(lang, &error),
    };
    let (token, cookie) = match page::csrf(&headers) {
        Ok(found) => found,
        Err(error) => return access::internal(lang, &error),
    };

    let body = html! {
        p {
            a href="/admin/sync" { (lang.console(Text::Sync)) }
            " · "
            a href="/admin/service-providers" { (lang.console(Text::ServiceProviders)) }
        }
        h2 { (lang.console(Text::Users)) }
        (page::search_form(lang, "/admin", text))
        (page::user_table(lang, "/admin/users", &view.found, true))
        h2 { (lang.console(Text::CreateUser)) }
        (new_user_markup(lang, &token, &view.organisations))
        h2 { (lang.console(Text::Organisations)) }
        (super::organisations::organisations_markup(lang, &token, &view.administered))
        h2 { (lang.console(Text::Groups)) }
        (super::groups::groups_markup(lang, &view.groups))
        h2 { (lang.console(Text::RightsCatalogue)) }
        (catalogue_markup(lang, &token, &view.catalogue))
        h2 id="policies-heading" { (lang.console(Text::Policies)) }
        (super::policies::form_markup(lang, &token, &view.policy))
        (policies_markup(lang, view.in_force.as_ref(), &view.history))
    };
    let frame = page::frame(lang, Text::Administration, "/admin", body);
    page::respond(StatusCode::OK, frame, cookie)
}

async fn load_overview(
    state: &AppState,
    operator: &Operator,
    text: &str,
) -> Result<Overview, crate::signin::SignInError> {
    let found = operator
        .search_users(state, Role::Administrator, text)
        .await?;
    let (in_force, history) = super::policies(state).await?;
    let mut tx = state.store.read().await?;
    let catalogue = tx.rights().await?;
    let overrides = tx.policy_overrides().await?.into_iter().collect();
    tx.rollback().await?;
    let administered = super::organisations::administered(state, operator).await?;
    let groups = super::groups::administered(state, operator).await?;
    let policy = super::policies::PolicyView {
        current: state.signin.settings(),
        file: state.signin.policy.file(),
        overrides,
    };
    Ok(Overview {
        catalogue,
        administered,
        policy,
        groups,
        organisations: operator.organisations(Role::Administrator),
        found,
        in_force,
        history,
    })
}

fn new_user_markup(lang: Lang, token: &str, organisations: &[Cvr]) -> Markup {
    html! {
        form method="post" action="/admin/users" {
            input type="hidden" name="csrf" value=(token);
            p {
                label for="org" { (lang.console(Text::Organisation)) } br;
                select id="org" name="org" required {
                    @for org in organisations { option value=(org) { (org) } }
                }
            }
            p {
                label for="username" { (lang.console(Text::Username)) } br;
                input id="username" name="username" type="text" maxlength="64" required
                    autocomplete="off";
            }
            p {
                label for="display_name" { (lang.console(Text::Name)) } br;
                input id="display_name" name="display_name" type="text" maxlength="200" required;
            }
            p {
                label for="email" { (lang.console(Text::Email)) } br;
                input id="email" name="email" type="email" maxlength="254" required;
            }
            p { small { (lang.console(Text::CreateUserHint)) } }
            button type="submit" { (lang.console(Text::CreateUser)) }
        }
    }
}

fn policies_markup(lang: Lang, in_force: Option<&Snapshot>, history: &[Snapshot]) -> Markup {
    let Some(current) = in_force else {
        return html! { p id="policies" { (lang.console(Text::NoSnapshots)) } };
    };
    html! {
        p { (lang.console(Text::PolicyHint)) }
        table id="policies" {
            thead { tr {
                th scope="col" { (lang.console(Text::Setting)) }
                th scope="col" { (lang.console(Text::Value)) }
            } }
            tbody {
                @for (key, value) in &current.settings {
                    tr { td { code { (key) } } td { (value) } }
                }
            }
        }
        h3 { (lang.console(Text::PolicyHistory)) }
        ol id="policy-history" reversed {
            @for snapshot in history {
                li {
                    time { (when(snapshot.occurred_at)) }
                    ": "
                    (changes(snapshot))
                }
            }
        }
    }
}

/// The changed keys of a snapshot with their new values.
fn changes(snapshot: &Snapshot) -> String {
    snapshot
        .changed
        .iter()
        .map(|key| {
            let value = snapshot.settings.get(key).map_or("-", String::as_str);
            format!("{key} = {value}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn when(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|time| time.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// The new-user form.
#[derive(Debug, Deserialize)]
pub struct NewUserForm {
    /// Defaulted, so a form without it is refused as forged (403) rather than malformed.
    #[serde(default)]
    csrf: String,
    org: String,
    username: String,
    display_name: String,
    email: String,
}

/// Creates a user (pending activation) and shows their page.
pub async fn create_user(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    headers: HeaderMap,
    axum::Form(form): axum::Form<NewUserForm>,
) -> Response {
    let result = if !page::csrf_valid(&headers, &form.csrf) {
        Err(AdminError::BadInput("csrf"))
    } else if [&form.org, &form.username, &form.display_name, &form.email]
        .iter()
        .any(|field| field.chars().count() > MAX_FIELD_CHARS)
    {
        Err(AdminError::BadInput("length"))
    } else {
        let fields = NewUserFields {
            org: &form.org,
            username: &form.username,
            display_name: &form.display_name,
            email: &form.email,
        };
        super::create_user(&state, &operator, &fields).await
    };
    match result {
        Ok(user) => Redirect::to(&format!("/admin/users/{}", user.id)).into_response(),
        Err(error) => fail(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// A user's page: profile, status and roles, with the forms to change them.
pub async fn user(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = operator.lang;
    let loaded = super::load_user(&state, &operator, &id).await;
    let (user, roles) = match loaded {
        Ok(found) => found,
        Err(error) => return fail(&state, &operator, &Method::GET, &matched, error).await,
    };
    let (token, cookie) = match page::csrf(&headers) {
        Ok(found) => found,
        Err(error) => return access::internal(lang, &error),
    };

    let rights = match load_rights(&state, &user).await {
        Ok(rights) => rights,
        Err(error) => return access::internal(lang, &error.into()),
    };
    let own = user.id == operator.user.id;
    let body = html! {
        (user_markup(lang, &token, &user, &roles, own))
        h2 { (lang.console(Text::Rights)) }
        (rights_markup(lang, &token, &user, &rights, own))
    };
    let path = format!("/admin/users/{}", user.id);
    page::respond(
        StatusCode::OK,
        page::frame(lang, Text::User, &path, body),
        cookie,
    )
}

/// A user's rights, the catalogue and the scopes of their organisation.
struct RightsView {
    held: Vec<RightAssignment>,
    catalogue: Vec<Right>,
    scopes: Vec<RightScope>,
}

async fn load_rights(state: &AppState, user: &User) -> Result<RightsView, StoreError> {
    let mut tx = state.store.read().await?;
    let held = tx.right_assignments(user.id).await?;
    let catalogue = tx.rights().await?;
    let organisation = tx.organisation(&user.org).await?;
    tx.rollback().await?;
    let scopes = organisation
        .as_ref()
        .map(super::scopes_of)
        .unwrap_or_default();
    Ok(RightsView {
        held,
        catalogue,
        scopes,
    })
}

fn scope_text(scope: &RightScope) -> String {
    format!("{}:{}", scope.kind(), scope.value())
}

fn rights_markup(lang: Lang, token: &str, user: &User, view: &RightsView, own: bool) -> Markup {
    let action = format!("/admin/users/{}/rights", user.id);
    html! {
        @if view.held.is_empty() {
            p { (lang.console(Text::NoRights)) }
        } @else {
            table id="rights" {
                thead { tr {
                    th scope="col" { (lang.console(Text::Right)) }
                    th scope="col" { (lang.console(Text::Scope)) }
                    @if !own { th scope="col" { (lang.console(Text::Action)) } }
                } }
                tbody {
                    @for held in &view.held {
                        tr {
                            td { code { (held.right.as_str()) } }
                            td { (scope_text(&held.scope)) }
                            @if !own {
                                td { (revoke_right_form(lang, token, &action, held)) }
                            }
                        }
                    }
                }
            }
        }
        @if !own && !view.catalogue.is_empty() {
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="change" value="assign";
                label for="assign-right" { (lang.console(Text::Right)) }
                " "
                select id="assign-right" name="right" required {
                    @for right in &view.catalogue {
                        @let key = right.id.as_str();
                        option value=(key) { (right.name) " (" (key) ")" }
                    }
                }
                " "
                label for="assign-scope" { (lang.console(Text::Scope)) }
                " "
                select id="assign-scope" name="scope" required {
                    @for scope in &view.scopes {
                        option value=(scope_text(scope)) { (scope_text(scope)) }
                    }
                }
                " "
                button type="submit" { (lang.console(Text::AssignRight)) }
            }
        }
    }
}

fn revoke_right_form(lang: Lang, token: &str, action: &str, held: &RightAssignment) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="right" value=(held.right.as_str());
            input type="hidden" name="scope" value=(scope_text(&held.scope));
            input type="hidden" name="change" value="revoke";
            button type="submit" { (lang.console(Text::RevokeRight)) }
        }
    }
}

/// The right form of a user's page.
#[derive(Debug, Deserialize)]
pub struct RightForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    right: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    change: String,
}

/// Assigns or revokes a right.
pub async fn right(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RightForm>,
) -> Response {
    let result = if page::csrf_valid(&headers, &form.csrf) {
        let fields = super::RightFields {
            right: &form.right,
            scope: &form.scope,
            change: &form.change,
        };
        super::change_right(&state, &operator, &id, fields).await
    } else {
        Err(AdminError::BadInput("csrf"))
    };
    after(&state, &operator, &matched, &id, result).await
}

/// The catalogue form: a new local right.
#[derive(Debug, Deserialize)]
pub struct DefineRightForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    right: String,
    #[serde(default)]
    name: String,
}

/// Adds a local right to the catalogue, then shows the overview.
pub async fn define_right(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DefineRightForm>,
) -> Response {
    let result = if page::csrf_valid(&headers, &form.csrf) {
        super::define_right(&state, &operator, &form.right, &form.name).await
    } else {
        Err(AdminError::BadInput("csrf"))
    };
    match result {
        Ok(()) => Redirect::to("/admin").into_response(),
        Err(error) => fail(&state, &operator, &Method::POST, &matched, error).await,
    }
}

fn catalogue_markup(lang: Lang, token: &str, catalogue: &[Right]) -> Markup {
    html! {
        @if catalogue.is_empty() {
            p { (lang.console(Text::NoRights)) }
        } @else {
            table id="catalogue" {
                thead { tr {
                    th scope="col" { (lang.console(Text::Right)) }
                    th scope="col" { (lang.console(Text::Name)) }
                    th scope="col" { (lang.console(Text::Source)) }
                } }
                tbody {
                    @for right in catalogue {
                        tr {
                            td { code { (right.id.as_str()) } }
                            td { (right.name) }
                            td { (right.source.as_str()) }
                        }
                    }
                }
            }
        }
        form method="post" action="/admin/rights" {
            input type="hidden" name="csrf" value=(token);
            label for="new-right" { (lang.console(Text::Right)) }
            " "
            input id="new-right" name="right" type="text" maxlength="128" required;
            " "
            label for="new-right-name" { (lang.console(Text::Name)) }
            " "
            input id="new-right-name" name="name" type="text" maxlength="200" required;
            " "
            button type="submit" { (lang.console(Text::DefineRight)) }
        }
    }
}

fn user_markup(
    lang: Lang,
    token: &str,
    user: &User,
    roles: &[RoleAssignment],
    own: bool,
) -> Markup {
    let base = format!("/admin/users/{}", user.id);
    let held = |role: Role| {
        roles
            .iter()
            .any(|assignment| assignment.role == role && assignment.org == user.org)
    };
    html! {
        dl {
            dt { (lang.console(Text::Username)) } dd { (user.username) }
            dt { (lang.console(Text::Name)) } dd { (user.display_name) }
            dt { (lang.console(Text::Email)) } dd { (user.email) }
            dt { (lang.console(Text::Organisation)) } dd { (user.org) }
            dt { (lang.console(Text::Status)) } dd id="status" { (user.status) }
            dt { (lang.console(Text::AccountLevel)) }
            dd id="identity-level" { (user.identity_level.oiosaml_name()) }
        }
        h2 { (lang.console(Text::Roles)) }
        ul id="roles" {
            @for role in Role::ALL.into_iter().filter(|role| held(*role)) {
                li { (role) }
            }
        }
        @if own {
            p role="note" { (lang.console(Text::AdminOwnAccount)) }
        } @else {
            (role_forms(lang, token, &base, &held))
            h2 { (lang.console(Text::Status)) }
            (status_form(lang, token, &base, user.status))
            h2 { (lang.console(Text::EditProfile)) }
            (profile_form(lang, token, &base, user))
            h2 { (lang.console(Text::DeleteUser)) }
            (delete_form(lang, token, &base))
        }
    }
}

fn role_forms(lang: Lang, token: &str, base: &str, held: &dyn Fn(Role) -> bool) -> Markup {
    html! {
        @for role in Role::ALL {
            form method="post" action={ (base) "/roles" } {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="role" value=(role.as_str());
                @if held(role) {
                    input type="hidden" name="change" value="revoke";
                    button type="submit" { (lang.console(Text::RevokeRole)) " " (role) }
                } @else {
                    input type="hidden" name="change" value="grant";
                    button type="submit" { (lang.console(Text::GrantRole)) " " (role) }
                }
            }
        }
    }
}

fn status_form(lang: Lang, token: &str, base: &str, status: UserStatus) -> Markup {
    let (change, label, hint) = if status == UserStatus::Disabled {
        ("enable", Text::Enable, Text::EnableHint)
    } else {
        ("disable", Text::Disable, Text::DisableHint)
    };
    html! {
        form method="post" action={ (base) "/status" } {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="status" value=(change);
            p { small { (lang.console(hint)) } }
            button type="submit" { (lang.console(label)) }
        }
    }
}

fn profile_form(lang: Lang, token: &str, base: &str, user: &User) -> Markup {
    html! {
        form method="post" action={ (base) "/profile" } {
            input type="hidden" name="csrf" value=(token);
            p {
                label for="profile-name" { (lang.console(Text::Name)) } br;
                input id="profile-name" name="display_name" type="text" maxlength="200" required
                    value=(user.display_name);
            }
            p {
                label for="profile-email" { (lang.console(Text::Email)) } br;
                input id="profile-email" name="email" type="email" maxlength="254" required
                    value=(user.email);
            }
            button type="submit" { (lang.console(Text::SaveProfile)) }
        }
    }
}

fn delete_form(lang: Lang, token: &str, base: &str) -> Markup {
    html! {
        form method="post" action={ (base) "/delete" } {
            input type="hidden" name="csrf" value=(token);
            p { small id="delete-hint" { (lang.console(Text::DeleteHint)) } }
            p {
                label for="confirm" { (lang.console(Text::ConfirmUsername)) } br;
                input id="confirm" name="confirm" type="text" maxlength="64" required
                    autocomplete="off" aria-describedby="delete-hint";
            }
            button type="submit" { (lang.console(Text::DeleteUser)) }
        }
    }
}

/// The profile form.
#[derive(Debug, Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    csrf: String,
    display_name: String,
    email: String,
}

/// Changes a user's name and e-mail address.
pub async fn profile(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ProfileForm>,
) -> Response {
    let fields = super::ProfileFields {
        display_name: &form.display_name,
        email: &form.email,
    };
    let result = if !page::csrf_valid(&headers, &form.csrf) {
        Err(AdminError::BadInput("csrf"))
    } else if form.email.chars().count() > MAX_FIELD_CHARS {
        Err(AdminError::BadInput("email"))
    } else {
        super::change_profile(&state, &operator, &id, fields)
            .await
            .map(drop)
    };
    after(&state, &operator, &matched, &id, result).await
}

/// The delete form: the username typed again.
#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// Deletes a user, then shows the overview.
pub async fn delete(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DeleteForm>,
) -> Response {
    let result = if page::csrf_valid(&headers, &form.csrf) {
        super::delete_user(&state, &operator, &id, &form.confirm).await
    } else {
        Err(AdminError::BadInput("csrf"))
    };
    match result {
        Ok(()) => Redirect::to("/admin").into_response(),
        Err(error) => fail(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// The status form.
#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    status: String,
}

/// Disables or re-enables a user.
pub async fn status(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<StatusForm>,
) -> Response {
    let result = if page::csrf_valid(&headers, &form.csrf) {
        match StatusChange::parse(&form.status) {
            Ok(change) => super::change_status(&state, &operator, &id, change)
                .await
                .map(drop),
            Err(error) => Err(error),
        }
    } else {
        Err(AdminError::BadInput("csrf"))
    };
    after(&state, &operator, &matched, &id, result).await
}

/// The role form.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    role: String,
    change: String,
}

/// Grants or revokes a role.
pub async fn role(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RoleForm>,
) -> Response {
    let result = if page::csrf_valid(&headers, &form.csrf) {
        match RoleChange::parse(&form.role, &form.change) {
            Ok(change) => super::change_role(&state, &operator, &id, change).await,
            Err(error) => Err(error),
        }
    } else {
        Err(AdminError::BadInput("csrf"))
    };
    after(&state, &operator, &matched, &id, result).await
}

/// Back to the user's page after a change, or the error's page.
async fn after(
    state: &AppState,
    operator: &Operator,
    matched: &MatchedPath,
    id: &str,
    result: Result<(), AdminError>,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/admin/users/{id}")).into_response(),
        Err(error) => fail(state, operator, &Method::POST, matched, error).await,
    }
}

/// The page for a failed administration request; refusals are audited.
pub(super) async fn fail(
    state: &AppState,
    operator: &Operator,
    method: &Method,
    matched: &MatchedPath,
    error: AdminError,
) -> Response {
    let lang = operator.lang;
    match error {
        AdminError::BadInput("csrf") => page::message(StatusCode::FORBIDDEN, lang, Text::Forbidden),
        AdminError::BadInput(_) => page::message(StatusCode::BAD_REQUEST, lang, Text::BadInput),
        AdminError::NotFound => page::message(StatusCode::NOT_FOUND, lang, Text::NotFound),
        AdminError::Refused(refusal) => {
            access::refuse(state, operator, method, matched.as_str(), refusal).await
        }
        AdminError::Conflict("USERNAME_TAKEN") => {
            page::message(StatusCode::CONFLICT, lang, Text::UsernameTaken)
        }
        AdminError::Conflict(_) => page::message(StatusCode::CONFLICT, lang, Text::NotAllowed),
        AdminError::Internal(error) => access::internal(lang, &error),
    }
}
