//! Who may call which console page or API endpoint: one table, one guard (issue 5, item 1).
//!
//! [`RULES`] is the only place that says which roles reach which endpoint. [`guard`] runs in
//! front of every console route: it finds the rule for the request's method and route
//! pattern, then demands a live session at NSIS Substantial and one of the rule's roles. A
//! route without a rule is refused, so a route added without a line in the table is
//! unreachable rather than open (and the table test notices it). On `/api/` routes a bearer
//! token (`crate::api::token`) may stand in for the session: it acts as its user, with that
//! user's roles, and a `read` token only reads (`TOKEN_SCOPE`).
//!
//! Which organisation a role counts for is the handler's question: the guard checks that the
//! caller holds the role somewhere, the handler that they hold it in the organisation of the
//! user acted on ([`Operator::holds`]).
//!
//! Refusals of a signed-in caller are audited (`ACCESS_REFUSED`). Requests without a live
//! session add no record of their own (only an expired session's end is recorded, as on every
//! page): an anonymous client must not be able to make the server append to the audit chain,
//! whose appends are serialised.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use portner_audit::{AuditEvent, Subject};
use portner_shared::domain::{
    ApiScope, Cvr, NsisLevel, Role, RoleAssignment, User, UserId, UserStatus,
};
use portner_shared::store::StoreError;

use super::page::{self, Lang, Text};
use crate::app::AppState;
use crate::signin::session::{self, SessionCookie};
use crate::signin::{Origin, SignInError};

/// An HTTP method the table knows.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Verb {
    /// GET (and HEAD, which axum routes with it).
    Get,
    /// POST.
    Post,
}

impl Verb {
    /// The method as axum has it.
    pub fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Post => Method::POST,
        }
    }

    fn matches(self, method: &Method) -> bool {
        match self {
            Self::Get => method == Method::GET || method == Method::HEAD,
            Self::Post => method == Method::POST,
        }
    }
}

/// One line of the access table: a method and route pattern, and the roles that may call it.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The method.
    pub verb: Verb,
    /// The route pattern exactly as the router registers it (`/helpdesk/users/{id}`).
    pub route: &'static str,
    /// The roles allowed; holding any one suffices.
    pub roles: &'static [Role],
}

/// The helpdesk console: helpdesk operators only. Administrators are deliberately not
/// included (separation of duties: an administrator who also does helpdesk work is granted
/// both roles, and each grant is on the record).
const HELPDESK: &[Role] = &[Role::Helpdesk];

/// The administration console: administrators only (separation of duties, as above).
const ADMINISTRATOR: &[Role] = &[Role::Administrator];

/// The auditor console: auditors only, for the same reason (an administrator who audits is
/// granted the auditor role explicitly, on the record). Auditors read and export; no rule
/// gives them a route that changes anything else.
const AUDITOR: &[Role] = &[Role::Auditor];

/// The access table: every console page and API endpoint, and who may call it.
pub const RULES: &[Rule] = &[
    Rule {
        verb: Verb::Get,
        route: "/helpdesk",
        roles: HELPDESK,
    },
    Rule {
        verb: Verb::Get,
        route: "/helpdesk/users/{id}",
        roles: HELPDESK,
    },
    Rule {
        verb: Verb::Post,
        route: "/helpdesk/users/{id}/verify",
        roles: HELPDESK,
    },
    Rule {
        verb: Verb::Post,
        route: "/helpdesk/users/{id}/code",
        roles: HELPDESK,
    },
    Rule {
        verb: Verb::Post,
        route: "/helpdesk/users/{id}/approve",
        roles: HELPDESK,
    },
    Rule {
        verb: Verb::Post,
        route: "/helpdesk/users/{id}/unlock",
        roles: HELPDESK,
    },
    Rule {
        verb: Verb::Post,
        route: "/helpdesk/users/{id}/revoke-credential",
        roles: HELPDESK,
    },
    Rule {
        verb: Verb::Post,
        route: "/helpdesk/users/{id}/require-password-change",
        roles: HELPDESK,
    },
    Rule {
        verb: Verb::Get,
        route: "/admin",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/users",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/admin/users/{id}",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/users/{id}/status",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/users/{id}/roles",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/users/{id}/profile",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/users/{id}/delete",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/users/{id}/rights",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/rights",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/organisations/{cvr}",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/policies",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/admin/service-providers",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/service-providers",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/service-providers/remove",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/admin/sync",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/sync/actions/{id}/retry",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/admin/sync/actions/{id}/dismiss",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/api/v1/users",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/users",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/api/v1/users/{id}",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/users/{id}/status",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/users/{id}/roles",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/users/{id}/profile",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/users/{id}/delete",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/api/v1/users/{id}/rights",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/users/{id}/rights",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/api/v1/rights",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/rights",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/api/v1/organisations",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/organisations/{cvr}",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/api/v1/service-providers",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/service-providers",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/service-providers/remove",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/api/v1/policies",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/api/v1/policies",
        roles: ADMINISTRATOR,
    },
    Rule {
        verb: Verb::Get,
        route: "/audit",
        roles: AUDITOR,
    },
    Rule {
        verb: Verb::Post,
        route: "/audit/export",
        roles: AUDITOR,
    },
];

/// The rule for a method and route pattern, if the table has one.
pub fn rule_for(method: &Method, route: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|rule| rule.route == route && rule.verb.matches(method))
}

/// The signed-in staff member a guarded request comes from; handlers take it as an extractor.
#[derive(Clone, Debug)]
pub struct Operator {
    /// The operator's account.
    pub user: User,
    /// The level of their session (a token counts as Substantial, see `by_token`).
    pub level: NsisLevel,
    /// For an API token: what it may do on top of the user's roles.
    pub scope: Option<ApiScope>,
    /// Every role they hold.
    pub roles: Vec<RoleAssignment>,
    /// Source address and the session's correlation ID, for the audit trail.
    pub origin: Origin,
    /// The page language.
    pub lang: Lang,
}

impl Operator {
    /// Whether the operator holds `role` in `org`.
    pub fn holds(&self, role: Role, org: &Cvr) -> bool {
        self.roles
            .iter()
            .any(|held| held.role == role && &held.org == org)
    }

    /// Users of the organisations where the operator holds `role` whose username, name or
    /// e-mail holds `text` (every user when it is empty), at most
    /// [`portner_shared::store::SEARCH_LIMIT`] per organisation, by username.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub async fn search_users(
        &self,
        state: &AppState,
        role: Role,
        text: &str,
    ) -> Result<Vec<User>, StoreError> {
        let mut tx = state.store.read().await?;
        let mut found = Vec::new();
        for org in self.organisations(role) {
            found.extend(tx.search_users(&org, text).await?);
        }
        tx.rollback().await?;
        found.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(found)
    }

    /// The organisations in which the operator holds `role`.
    pub fn organisations(&self, role: Role) -> Vec<Cvr> {
        self.roles
            .iter()
            .filter(|held| held.role == role)
            .map(|held| held.org.clone())
            .collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Only the guard inserts an operator; a handler reached without it is a wiring
        // mistake, and refusing is the safe answer.
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            tracing::error!("console handler reached without the access guard");
            StatusCode::FORBIDDEN.into_response()
        })
    }
}

/// Why the guard refused a signed-in caller; the code goes to the audit trail.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Refusal {
    /// The session is below NSIS Substantial (or its second factor is stale).
    LevelTooLow,
    /// No rule in the table for this method and route.
    NoAccessRule,
    /// A helpdesk operator tried to approve their own reset request; the second approver
    /// must be someone else (HD-3).
    OwnRequest,
    /// The caller holds none of the rule's roles.
    RoleMissing,
    /// A helpdesk operator tried to act on their own account.
    SelfService,
    /// A helpdesk action without a live identity verification by this operator (HD-1).
    VerificationRequired,
    /// The caller holds the role, but not in the organisation of the user acted on.
    WrongOrganisation,
    /// A read-only API token asked to change something.
    TokenScope,
}

impl Refusal {
    /// The stable code in `ACCESS_REFUSED` events.
    pub const fn code(self) -> &'static str {
        match self {
            Self::LevelTooLow => "LEVEL_TOO_LOW",
            Self::NoAccessRule => "NO_ACCESS_RULE",
            Self::OwnRequest => "OWN_REQUEST",
            Self::RoleMissing => "ROLE_MISSING",
            Self::SelfService => "SELF_SERVICE",
            Self::VerificationRequired => "VERIFICATION_REQUIRED",
            Self::WrongOrganisation => "WRONG_ORGANISATION",
            Self::TokenScope => "TOKEN_SCOPE",
        }
    }
}

/// The middleware in front of every console route (see the module documentation).
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned())
        .unwrap_or_default();
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let lang = page::lang(request.headers(), request.uri().query());

    match admit(&state, request.headers(), address, &method, &route, lang).await {
        Ok(operator) => {
            request.extensions_mut().insert(operator);
            next.run(request).await
        }
        Err(response) => response,
    }
}

/// Decides one request: the operator, or the response to send instead.
async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    address: Option<SocketAddr>,
    method: &Method,
    route: &str,
    lang: Lang,
) -> Result<Operator, Response> {
    let origin = Origin {
        source: address.map(|address| address.ip()),
        correlation_id: None,
    };
    let caller = match bearer(headers).filter(|_| route.starts_with("/api/")) {
        Some(presented) => by_token(state, presented, origin).await,
        None => by_session(state, headers, origin).await,
    }
    .map_err(|error| internal(lang, &error))?;
    let Some(caller) = caller else {
        return Err(unauthenticated(route));
    };

    let (user, roles) = account_and_roles(state, caller.user_id)
        .await
        .map_err(|error| internal(lang, &error.into()))?;
    let Some(user) = user.filter(|user| user.status == UserStatus::Active) else {
        return Err(unauthenticated(route));
    };

    let operator = Operator {
        user,
        level: caller.level,
        scope: caller.scope,
        roles,
        origin: caller.origin,
        lang,
    };
    match check(&operator, method, route) {
        Ok(()) => Ok(operator),
        Err(refusal) => Err(refuse(state, &operator, method, route, refusal).await),
    }
}

/// Who a request comes from, before their account is read.
struct Caller {
    user_id: UserId,
    level: NsisLevel,
    scope: Option<ApiScope>,
    origin: Origin,
}

/// The caller of a browser request: the live session's holder at the session's level.
async fn by_session(
    state: &AppState,
    headers: &HeaderMap,
    origin: Origin,
) -> Result<Option<Caller>, SignInError> {
    let signin = &state.signin;
    let cookie =
        crate::signin::pages::cookie_value(headers, SessionCookie::name(signin.secure_cookies));
    let Some(active) = session::load(signin, cookie.as_deref(), &origin).await? else {
        return Ok(None);
    };
    Ok(Some(Caller {
        user_id: active.session.user_id,
        level: active.level,
        scope: None,
        origin: Origin {
            correlation_id: Some(active.factors.correlation_id.clone()),
            ..origin
        },
    }))
}

/// The caller of an API request with a bearer token: the token's user. A token counts as
/// NSIS Substantial: it is made on the command line, by someone with the server's database,
/// for a named staff user, and it expires; the level describes how a person signed in, which
/// a machine client does not do. Its identifier becomes the correlation ID, so the trail
/// shows which token acted.
async fn by_token(
    state: &AppState,
    presented: &str,
    origin: Origin,
) -> Result<Option<Caller>, SignInError> {
    let now = state.clock.now();
    let Some(token) = crate::api::token::authenticate(&state.store, now, presented).await? else {
        tracing::warn!(target: "portner::security", "API request with an unusable token");
        return Ok(None);
    };
    Ok(Some(Caller {
        user_id: token.user_id,
        level: NsisLevel::Substantial,
        scope: Some(token.scope),
        origin: Origin {
            correlation_id: Some(format!("api-token:{}", token.id)),
            ..origin
        },
    }))
}

/// The token of an `Authorization: Bearer …` header (RFC 6750 §2.1; the scheme name is
/// case-insensitive, RFC 9110 §11.1).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// The session holder's account and roles, read in one transaction.
async fn account_and_roles(
    state: &AppState,
    user_id: UserId,
) -> Result<(Option<User>, Vec<RoleAssignment>), StoreError> {
    let mut tx = state.store.read().await?;
    let user = tx.user(user_id).await?;
    let roles = tx.roles_of(user_id).await?;
    tx.rollback().await?;
    Ok((user, roles))
}

/// The table's verdict for an operator whose session has been found.
fn check(operator: &Operator, method: &Method, route: &str) -> Result<(), Refusal> {
    let rule = rule_for(method, route).ok_or(Refusal::NoAccessRule)?;
    if operator.level < NsisLevel::Substantial {
        return Err(Refusal::LevelTooLow);
    }
    let reads = *method == Method::GET || *method == Method::HEAD;
    if operator.scope == Some(ApiScope::Read) && !reads {
        return Err(Refusal::TokenScope);
    }
    let allowed = operator
        .roles
        .iter()
        .any(|held| rule.roles.contains(&held.role));
    if allowed {
        Ok(())
    } else {
        Err(Refusal::RoleMissing)
    }
}

/// No session or usable token: pages send the browser to sign in, API endpoints answer 401
/// with the same body whatever the cause (missing, malformed, unknown, expired, revoked).
fn unauthenticated(route: &str) -> Response {
    if route.starts_with("/api/") {
        let answer = crate::api::failure(StatusCode::UNAUTHORIZED, "AUTHENTICATION_REQUIRED", None);
        return ([(header::WWW_AUTHENTICATE, "Bearer")], answer).into_response();
    }
    Redirect::to("/login").into_response()
}

/// Audits a refusal and answers it: 403, with a way back to sign-in when the level is short.
pub async fn refuse(
    state: &AppState,
    operator: &Operator,
    method: &Method,
    route: &str,
    refusal: Refusal,
) -> Response {
    if let Err(error) = audit_refusal(state, operator, method, route, refusal).await {
        return internal(operator.lang, &error);
    }
    tracing::info!(user_id = %operator.user.id, route, reason = refusal.code(), "refused");
    if route.starts_with("/api/") {
        return crate::api::failure(StatusCode::FORBIDDEN, refusal.code(), None);
    }
    let message = match refusal {
        Refusal::LevelTooLow => Text::LevelTooLow,
        Refusal::SelfService => Text::SelfService,
        Refusal::OwnRequest => Text::OwnRequest,
        Refusal::VerificationRequired => Text::VerificationRequired,
        Refusal::NoAccessRule
        | Refusal::RoleMissing
        | Refusal::WrongOrganisation
        | Refusal::TokenScope => Text::Forbidden,
    };
    page::message(StatusCode::FORBIDDEN, operator.lang, message)
}

async fn audit_refusal(
    state: &AppState,
    operator: &Operator,
    method: &Method,
    route: &str,
    refusal: Refusal,
) -> Result<(), SignInError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let event = AuditEvent::AccessRefused {
        user_id: operator.user.id,
        method: method.to_string(),
        route: route.to_owned(),
        reason: refusal.code().to_owned(),
    };
    let context = operator.origin.audit(Some(operator.user.id));
    portner_audit::append(
        &mut tx,
        now,
        &context,
        &Subject::User(operator.user.id),
        &event,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The generic answer for internal failures: logged, never shown in detail.
pub fn internal(lang: Lang, error: &SignInError) -> Response {
    tracing::error!(%error, "console request failed");
    page::message(StatusCode::INTERNAL_SERVER_ERROR, lang, Text::Failed)
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::{MethodFilter, on};

    use super::*;
    use crate::console::test_support::{Rig, send};

    /// Every route of the table answering "reached", behind the real guard: the guard and the
    /// table are tested apart from what the handlers do.
    fn probe(state: &AppState, extra_route: Option<&'static str>) -> Router {
        let mut router = Router::new();
        for rule in RULES {
            let filter = match rule.verb {
                Verb::Get => MethodFilter::GET,
                Verb::Post => MethodFilter::POST,
            };
            router = router.route(rule.route, on(filter, || async { "reached" }));
        }
        if let Some(route) = extra_route {
            router = router.route(route, axum::routing::get(|| async { "reached" }));
        }
        router
            .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard))
            .with_state(state.clone())
    }

    fn verb_name(verb: Verb) -> &'static str {
        match verb {
            Verb::Get => "GET",
            Verb::Post => "POST",
        }
    }

    #[tokio::test]
    async fn the_table_admits_its_roles_and_refuses_everyone_else() {
        let rig = Rig::new().await;
        let target = rig.user("91234567", "target", &[]).await;
        let mut holders = Vec::new();
        for role in Role::ALL {
            let user = rig
                .user("91234567", &format!("staff-{role}"), &[role])
                .await;
            holders.push((role, rig.session(&user, true).await));
        }
        let ordinary = rig.user("91234567", "ordinary", &[]).await;
        let ordinary = rig.session(&ordinary, true).await;
        let helper = rig.user("91234567", "low-helper", &[Role::Helpdesk]).await;
        let low = rig.session(&helper, false).await;
        let router = probe(&rig.state, None);

        for rule in RULES {
            let path = rule.route.replace("{id}", &target.id.to_string());
            let verb = verb_name(rule.verb);
            for (role, cookie) in &holders {
                let answer = send(&router, verb, &path, Some(cookie), &[]).await;
                if rule.roles.contains(role) {
                    assert_eq!(answer.status, StatusCode::OK, "{verb} {path} as {role}");
                    assert_eq!(answer.body, "reached");
                } else {
                    assert_eq!(
                        answer.status,
                        StatusCode::FORBIDDEN,
                        "{verb} {path} as {role}"
                    );
                }
            }
            let answer = send(&router, verb, &path, Some(&ordinary), &[]).await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{verb} {path} ordinary"
            );

            let anonymous = send(&router, verb, &path, None, &[]).await;
            let low_level = send(&router, verb, &path, Some(&low), &[]).await;
            assert_eq!(
                low_level.status,
                StatusCode::FORBIDDEN,
                "{verb} {path} at Low"
            );
            if rule.route.starts_with("/api/") {
                assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{verb} {path}");
                assert!(
                    low_level.body.contains("LEVEL_TOO_LOW"),
                    "{}",
                    low_level.body
                );
            } else {
                assert_eq!(
                    anonymous.status,
                    StatusCode::SEE_OTHER,
                    "{verb} {path} anonymous"
                );
                assert_eq!(anonymous.location.as_deref(), Some("/login"));
                assert!(low_level.body.contains("/login"), "a way to sign in again");
            }
        }

        let trail = rig.audit().await.join("\n");
        for rule in RULES {
            for reason in ["ROLE_MISSING", "LEVEL_TOO_LOW"] {
                let route = format!(r#""route":"{}""#, rule.route);
                let found = trail.lines().any(|line| {
                    line.starts_with("ACCESS_REFUSED")
                        && line.contains(&route)
                        && line.contains(reason)
                });
                assert!(found, "{reason} for {} not audited", rule.route);
            }
        }
    }

    /// Auditors read, never change (issue 7, item 6): their rules are the audit console's
    /// alone, and its one POST is the export, which writes only its own audit event.
    #[test]
    fn auditors_reach_only_the_audit_console_and_post_only_the_export() {
        let audit_rules: Vec<&Rule> = RULES
            .iter()
            .filter(|rule| rule.roles.contains(&Role::Auditor))
            .collect();
        assert!(!audit_rules.is_empty());
        for rule in &audit_rules {
            assert!(
                rule.route == "/audit" || rule.route.starts_with("/audit/"),
                "{}",
                rule.route
            );
            assert_eq!(rule.roles, &[Role::Auditor], "{}", rule.route);
            if rule.verb == Verb::Post {
                assert_eq!(rule.route, "/audit/export");
            }
        }
        for rule in RULES.iter().filter(|rule| rule.route.starts_with("/audit")) {
            assert_eq!(rule.roles, &[Role::Auditor], "{}", rule.route);
        }
    }

    #[tokio::test]
    async fn a_route_missing_from_the_table_is_refused_even_to_staff() {
        let rig = Rig::new().await;
        let admin = rig.user("91234567", "admin", &Role::ALL).await;
        let cookie = rig.session(&admin, true).await;
        let router = probe(&rig.state, Some("/helpdesk/unlisted"));

        let answer = send(&router, "GET", "/helpdesk/unlisted", Some(&cookie), &[]).await;

        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        let trail = rig.audit().await.join("\n");
        assert!(trail.contains("NO_ACCESS_RULE"), "{trail}");
    }

    #[tokio::test]
    async fn api_routes_answer_401_and_403_with_codes_instead_of_pages() {
        let rig = Rig::new().await;
        let admin = rig.user("91234567", "admin", &Role::ALL).await;
        let cookie = rig.session(&admin, true).await;
        let router = probe(&rig.state, Some("/api/v1/unlisted"));

        let anonymous = send(&router, "GET", "/api/v1/unlisted", None, &[]).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        assert_eq!(anonymous.body, r#"{"error":"AUTHENTICATION_REQUIRED"}"#);
        let unlisted = send(&router, "GET", "/api/v1/unlisted", Some(&cookie), &[]).await;
        assert_eq!(unlisted.status, StatusCode::FORBIDDEN);
        assert_eq!(unlisted.body, r#"{"error":"NO_ACCESS_RULE"}"#);
    }

    #[tokio::test]
    async fn every_table_route_of_the_real_router_is_guarded() {
        let rig = Rig::new().await;
        let target = rig.user("91234567", "target", &[]).await;
        let ordinary = rig.user("91234567", "ordinary", &[]).await;
        let cookie = rig.session(&ordinary, true).await;
        let router = rig.router();

        for rule in RULES {
            let path = rule.route.replace("{id}", &target.id.to_string());
            let verb = verb_name(rule.verb);
            let anonymous = send(&router, verb, &path, None, &[]).await;
            if rule.route.starts_with("/api/") {
                assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{verb} {path}");
            } else {
                assert_eq!(
                    anonymous.location.as_deref(),
                    Some("/login"),
                    "{verb} {path}"
                );
            }
            let refused = send(&router, verb, &path, Some(&cookie), &[]).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{verb} {path}");
        }
    }
}
