//! The sign-in routes: `/login`, `/activate`, `/logout`, `/account` and the WebAuthn script.
//!
//! CSRF (ASVS 3.5): a random `portner-csrf` cookie (HttpOnly, SameSite=Lax) is set on the
//! first page; every form carries SHA-256 of it as a hidden field, and every POST must show
//! both. Another site can neither read the cookie nor compute the token, and with
//! `SameSite=Lax` the cookie is not even sent on its cross-site POSTs. Request bodies are
//! capped; a body that is not valid form data is refused with 400.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use portner_shared::crypto::{constant_time_eq, sha256};
use serde::Deserialize;

use super::html::{self, Field, Lang, Text};
use super::session::{self, ActiveSession, SessionCookie};
use super::{Origin, PolicyViolation, SignIn, SignInError, account, activation, login};
use crate::app::AppState;
use crate::saml::sso::RequestHandle;

mod recovery;

pub(crate) const CSRF_COOKIE: &str = "portner-csrf";
pub(crate) const LANG_COOKIE: &str = "portner-lang";
/// Largest form body accepted; the WebAuthn response is the largest field.
const MAX_BODY_BYTES: usize = 96 * 1024;
/// Pages may load only their own script; nothing may frame them (STYLE.md 3.14).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; form-action 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";
const WEBAUTHN_SCRIPT: &str = include_str!("../../static/webauthn.js");

/// The sign-in routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/login/webauthn", post(login_webauthn))
        .route("/activate", get(activate_page).post(activate_submit))
        .route("/activate/webauthn", post(activate_webauthn))
        .route(
            "/recover",
            get(recovery::recover_page).post(recovery::recover_submit),
        )
        .route("/recover/webauthn", post(recovery::recover_webauthn))
        .route("/logout", post(logout))
        .route("/account", get(account_page))
        .route("/account/sessions/end-all", post(end_all))
        .route("/account/sessions/end", post(end_one))
        .route("/account/password", post(change_password))
        .route("/account/credentials/add", post(add_credential))
        .route(
            "/account/credentials/add/finish",
            post(add_credential_finish),
        )
        .route("/account/credentials/rename", post(rename_credential))
        .route("/account/credentials/remove", post(remove_credential))
        .route("/static/webauthn.js", get(script))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// What every page handler reads from the request.
struct RequestInfo {
    lang: Lang,
    origin: Origin,
    csrf_cookie: Option<String>,
    session_cookie: Option<String>,
    set_lang: Option<Lang>,
    min_password_length: u32,
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

fn request_info(
    headers: &HeaderMap,
    address: Option<SocketAddr>,
    query: Option<&str>,
    signin: &SignIn,
) -> RequestInfo {
    let secure = signin.secure_cookies;
    let cookie = |name: &str| cookie_value(headers, name);
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok());
    let chosen = query.filter(|code| matches!(*code, "da" | "en"));
    let saved = cookie(LANG_COOKIE);
    let lang = Lang::pick(chosen.or(saved.as_deref()), accept);
    RequestInfo {
        lang,
        origin: Origin {
            source: address.map(|address| address.ip()),
            correlation_id: None,
        },
        csrf_cookie: cookie(CSRF_COOKIE).filter(|value| value.len() == 64),
        session_cookie: cookie(SessionCookie::name(secure)),
        set_lang: chosen.map(|_| lang),
        min_password_length: signin.settings().password_min_length,
    }
}

pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

pub(crate) fn csrf_token(cookie: &str) -> String {
    hex::encode(sha256(format!("portner-csrf-v1:{cookie}").as_bytes()))
}

/// A WebAuthn step of a ceremony: `mode` is `get` (an assertion) or `create` (a
/// registration), `action` where the form posts the answer, `path` the page's own path (for
/// the language switch).
struct Step<'a> {
    mode: &'a str,
    action: &'a str,
    path: &'a str,
}

impl Step<'_> {
    /// The security-key page: the ceremony's options for the browser's script, and the form.
    fn page(&self, info: &RequestInfo, token: &str, handle: &str, options: &str) -> Markup {
        let body = html::webauthn_step(info.lang, self.mode, self.action, token, handle, options);
        html::page(info.lang, Text::SecurityKey, self.path, body)
    }
}

fn csrf_valid(info: &RequestInfo, token: &str) -> bool {
    info.csrf_cookie
        .as_deref()
        .is_some_and(|cookie| constant_time_eq(csrf_token(cookie).as_bytes(), token.as_bytes()))
}

/// A page response with the page CSP, no-store, and any cookies to set.
fn respond(status: StatusCode, markup: Markup, cookies: Vec<String>) -> Response {
    let mut response = (status, axum::response::Html(markup.into_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The CSRF cookie value for this response (the existing one, or a new one to set) and the
/// cookies to set.
fn csrf_for(info: &RequestInfo) -> Result<(String, Vec<String>), SignInError> {
    let mut cookies = Vec::new();
    if let Some(lang) = info.set_lang {
        cookies.push(format!(
            "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
            lang.code()
        ));
    }
    if let Some(existing) = &info.csrf_cookie {
        return Ok((csrf_token(existing), cookies));
    }
    let value = super::random_hex::<32>()?;
    cookies.push(format!(
        "{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"
    ));
    Ok((csrf_token(&value), cookies))
}

/// What another feature's pages need from a request: the language, the origin for the audit
/// trail, and the session cookie.
pub(crate) struct Visitor {
    /// The page language.
    pub lang: Lang,
    /// Client address.
    pub origin: Origin,
    /// The session cookie's value, if sent.
    pub session_cookie: Option<String>,
}

impl Visitor {
    /// Reads the visitor from the request headers.
    pub(crate) fn of(headers: &HeaderMap, address: Option<SocketAddr>, signin: &SignIn) -> Self {
        let info = request_info(headers, address, None, signin);
        Self {
            lang: info.lang,
            origin: info.origin,
            session_cookie: info.session_cookie,
        }
    }

    /// A page with one message, in the visitor's language.
    pub(crate) fn error_page(&self, status: StatusCode, message: Text) -> Response {
        error_page(status, self.lang, message)
    }
}

/// The client's socket address, when the server was started with connection info (tests
/// driving the router directly may leave it out, or insert it to simulate sources).
pub(crate) struct ClientAddress(pub(crate) Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        Ok(Self(address))
    }
}

fn error_page(status: StatusCode, lang: Lang, message: Text) -> Response {
    let body = html! { p role="alert" { (lang.text(message)) } };
    respond(
        status,
        html::page(lang, Text::SignIn, "/login", body),
        Vec::new(),
    )
}

/// The generic answer for internal failures: logged, never shown in detail.
fn internal(lang: Lang, error: &SignInError) -> Response {
    tracing::error!(%error, "sign-in request failed");
    error_page(StatusCode::INTERNAL_SERVER_ERROR, lang, Text::Failed)
}

fn login_fields() -> [Field; 2] {
    [
        Field {
            name: "username",
            label: Text::Username,
            kind: "text",
            autocomplete: "username",
            hint: None,
        },
        Field {
            name: "password",
            label: Text::Password,
            kind: "password",
            autocomplete: "current-password",
            hint: None,
        },
    ]
}

fn password_change_fields() -> [Field; 2] {
    [
        Field {
            name: "password",
            label: Text::Password,
            kind: "password",
            autocomplete: "current-password",
            hint: None,
        },
        Field {
            name: "new_password",
            label: Text::NewPassword,
            kind: "password",
            autocomplete: "new-password",
            hint: Some(Text::NewPasswordHint),
        },
    ]
}

fn activation_fields() -> [Field; 3] {
    [
        Field {
            name: "username",
            label: Text::Username,
            kind: "text",
            autocomplete: "username",
            hint: None,
        },
        Field {
            name: "code",
            label: Text::Code,
            kind: "text",
            autocomplete: "one-time-code",
            hint: None,
        },
        Field {
            name: "new_password",
            label: Text::NewPassword,
            kind: "password",
            autocomplete: "new-password",
            hint: Some(Text::NewPasswordHint),
        },
    ]
}

/// Where a sign-in that continues a SAML request posts and links to: the handle rides along
/// in the query, so the language switch and every step keep it.
fn login_path(step: &str, request: Option<&RequestHandle>) -> String {
    match request {
        Some(handle) => format!("{step}?request={}", handle.as_str()),
        None => step.to_owned(),
    }
}

fn login_form_page(
    info: &RequestInfo,
    status: StatusCode,
    error: Option<Text>,
    request: Option<&RequestHandle>,
) -> Response {
    match csrf_for(info) {
        Ok((token, cookies)) => {
            let path = login_path("/login", request);
            let form = html::form(
                info.lang,
                &path,
                &token,
                &login_fields(),
                error,
                Text::Continue,
                info.min_password_length,
            );
            let body = html! {
                (form)
                p { a href="/recover" { (info.lang.text(Text::RecoverLink)) } }
            };
            respond(
                status,
                html::page(info.lang, Text::SignIn, &path, body),
                cookies,
            )
        }
        Err(error) => internal(info.lang, &error),
    }
}

/// The WebAuthn step of sign-in, after the password or as a step-up (AC-9).
fn login_key_page(
    info: &RequestInfo,
    challenge: &login::WebAuthnChallenge,
    request: Option<&RequestHandle>,
    cookies: Vec<String>,
) -> Response {
    let (token, mut page_cookies) = match csrf_for(info) {
        Ok(found) => found,
        Err(error) => return internal(info.lang, &error),
    };
    page_cookies.extend(cookies);
    let body = html::webauthn_step(
        info.lang,
        "get",
        &login_path("/login/webauthn", request),
        &token,
        &challenge.handle,
        &challenge.options_json,
    );
    respond(
        StatusCode::OK,
        html::page(
            info.lang,
            Text::SecurityKey,
            &login_path("/login", request),
            body,
        ),
        page_cookies,
    )
}

fn activation_form_page(info: &RequestInfo, status: StatusCode, error: Option<Text>) -> Response {
    match csrf_for(info) {
        Ok((token, cookies)) => {
            let form = html::form(
                info.lang,
                "/activate",
                &token,
                &activation_fields(),
                error,
                Text::Continue,
                info.min_password_length,
            );
            respond(
                status,
                html::page(info.lang, Text::Activate, "/activate", form),
                cookies,
            )
        }
        Err(error) => internal(info.lang, &error),
    }
}

/// The query of the sign-in steps: the language, the SAML request being continued, and
/// whether only the key step is wanted (`step=key`, a step-up, AC-9).
#[derive(Deserialize)]
struct LoginQuery {
    lang: Option<String>,
    request: Option<String>,
    step: Option<String>,
}

impl LoginQuery {
    fn request(&self) -> Option<RequestHandle> {
        self.request.as_deref().and_then(RequestHandle::parse)
    }
}

async fn login_page(
    State(state): State<AppState>,
    connect: ClientAddress,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let signin = &state.signin;
    let info = request_info(&headers, connect.0, query.lang.as_deref(), signin);
    let request = query.request();
    if query.step.as_deref() == Some("key") {
        // Step-up asks only for the missing factor; without a session whose password is
        // still fresh it falls back to the whole sign-in.
        let session_cookie = info.session_cookie.as_deref();
        match login::step_up(signin, &info.origin, session_cookie).await {
            Ok(challenge) => {
                return login_key_page(&info, &challenge, request.as_ref(), Vec::new());
            }
            Err(SignInError::SessionRequired) => {}
            Err(error) => return internal(info.lang, &error),
        }
    }
    login_form_page(&info, StatusCode::OK, None, request.as_ref())
}

async fn activate_page(
    State(state): State<AppState>,
    connect: ClientAddress,
    Query(query): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let info = request_info(&headers, connect.0, query.lang.as_deref(), &state.signin);
    activation_form_page(&info, StatusCode::OK, None)
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    username: String,
    password: String,
}

/// Maps a failure of a form step to the page answer. Every authentication failure gives the
/// same status and text (ASVS 6.3.8).
fn failure_answer(error: &SignInError) -> Option<(StatusCode, Text)> {
    match error {
        SignInError::Failed => Some((StatusCode::UNAUTHORIZED, Text::Failed)),
        SignInError::Throttled => Some((StatusCode::TOO_MANY_REQUESTS, Text::Throttled)),
        SignInError::BadInput(_) => Some((StatusCode::BAD_REQUEST, Text::BadInput)),
        SignInError::SessionRequired => Some((StatusCode::UNAUTHORIZED, Text::SessionRequired)),
        SignInError::Policy(violation) => Some((
            StatusCode::BAD_REQUEST,
            match violation {
                PolicyViolation::TooShort => Text::PolicyShort,
                PolicyViolation::TooLong => Text::PolicyLong,
                PolicyViolation::TooWeak => Text::PolicyWeak,
                PolicyViolation::ContainsName => Text::PolicyName,
                PolicyViolation::Reused => Text::PolicyReused,
            },
        )),
        _ => None,
    }
}

async fn login_submit(
    State(state): State<AppState>,
    connect: ClientAddress,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let signin = &state.signin;
    let info = request_info(&headers, connect.0, None, signin);
    let request = query.request();
    if !csrf_valid(&info, &form.csrf) {
        return error_page(StatusCode::FORBIDDEN, info.lang, Text::Failed);
    }
    let step = login::password_step(
        signin,
        &info.origin,
        info.session_cookie.as_deref(),
        &form.username,
        &form.password,
    );
    match step.await {
        Ok(challenge) => {
            let cookies = challenge
                .cookie
                .iter()
                .map(|value| SessionCookie::set(value, signin.secure_cookies))
                .collect();
            login_key_page(&info, &challenge, request.as_ref(), cookies)
        }
        Err(error) => match failure_answer(&error) {
            Some((status, text)) => login_form_page(&info, status, Some(text), request.as_ref()),
            None => internal(info.lang, &error),
        },
    }
}

#[derive(Deserialize)]
struct WebAuthnForm {
    csrf: String,
    ceremony: String,
    credential: String,
}

async fn login_webauthn(
    State(state): State<AppState>,
    connect: ClientAddress,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<WebAuthnForm>,
) -> Response {
    let signin = &state.signin;
    let info = request_info(&headers, connect.0, None, signin);
    let request = query.request();
    if !csrf_valid(&info, &form.csrf) {
        return error_page(StatusCode::FORBIDDEN, info.lang, Text::Failed);
    }
    let step = login::webauthn_step(
        signin,
        &info.origin,
        info.session_cookie.as_deref(),
        &form.ceremony,
        &form.credential,
    );
    match step.await {
        Ok((cookie, _level)) => {
            // Back to the SAML request when sign-in continues one: only Portner's own
            // continue path with a syntactically checked handle, never a URL from the
            // request, so there is no open redirect (A5).
            let next = request.map_or_else(|| "/account".to_owned(), |h| h.continue_path());
            signed_in_redirect(&cookie, signin.secure_cookies, &next)
        }
        Err(error) => match failure_answer(&error) {
            Some((status, text)) => login_form_page(&info, status, Some(text), request.as_ref()),
            None => internal(info.lang, &error),
        },
    }
}

fn signed_in_redirect(cookie: &str, secure: bool, next: &str) -> Response {
    let mut response = Redirect::to(next).into_response();
    if let Ok(value) = HeaderValue::from_str(&SessionCookie::set(cookie, secure)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct ActivateForm {
    csrf: String,
    username: String,
    code: String,
    new_password: String,
}

async fn activate_submit(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActivateForm>,
) -> Response {
    let signin = &state.signin;
    let info = request_info(&headers, connect.0, None, signin);
    if !csrf_valid(&info, &form.csrf) {
        return error_page(StatusCode::FORBIDDEN, info.lang, Text::Failed);
    }
    match activation::begin(
        signin,
        &info.origin,
        &form.username,
        &form.code,
        &form.new_password,
    )
    .await
    {
        Ok(challenge) => {
            let step = Step {
                mode: "create",
                action: "/activate/webauthn",
                path: "/activate",
            };
            let token = csrf_token(info.csrf_cookie.as_deref().unwrap_or_default());
            let page = step.page(&info, &token, &challenge.handle, &challenge.options_json);
            respond(StatusCode::OK, page, Vec::new())
        }
        Err(error) => match failure_answer(&error) {
            Some((status, text)) => activation_form_page(&info, status, Some(text)),
            None => internal(info.lang, &error),
        },
    }
}

async fn activate_webauthn(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<WebAuthnForm>,
) -> Response {
    let signin = &state.signin;
    let info = request_info(&headers, connect.0, None, signin);
    if !csrf_valid(&info, &form.csrf) {
        return error_page(StatusCode::FORBIDDEN, info.lang, Text::Failed);
    }
    match activation::finish(signin, &info.origin, &form.ceremony, &form.credential).await {
        Ok(cookie) => signed_in_redirect(&cookie, signin.secure_cookies, "/account"),
        Err(error) => match failure_answer(&error) {
            Some((status, text)) => activation_form_page(&info, status, Some(text)),
            None => internal(info.lang, &error),
        },
    }
}

async fn current_session(
    signin: &SignIn,
    info: &RequestInfo,
) -> Result<Option<ActiveSession>, SignInError> {
    session::load(signin, info.session_cookie.as_deref(), &info.origin).await
}

async fn account_page(
    State(state): State<AppState>,
    connect: ClientAddress,
    Query(query): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let signin = &state.signin;
    let info = request_info(&headers, connect.0, query.lang.as_deref(), signin);
    let active = match current_session(signin, &info).await {
        Ok(Some(active)) if active.factors.second_factor_at.is_some() => active,
        Ok(_) => return Redirect::to("/login").into_response(),
        Err(error) => return internal(info.lang, &error),
    };
    match account_markup(signin, &info, &active).await {
        Ok((markup, cookies)) => respond(
            StatusCode::OK,
            html::page(info.lang, Text::Account, "/account", markup),
            cookies,
        ),
        Err(error) => internal(info.lang, &error),
    }
}

async fn account_markup(
    signin: &SignIn,
    info: &RequestInfo,
    active: &ActiveSession,
) -> Result<(Markup, Vec<String>), SignInError> {
    let (token, cookies) = csrf_for(info)?;
    let mut tx = signin.store.read().await?;
    let user = tx
        .user(active.session.user_id)
        .await?
        .ok_or(SignInError::SessionRequired)?;
    let credentials = tx.webauthn_credentials(user.id).await?;
    let sessions = tx.sessions_of(user.id).await?;
    let change_required = tx.password_change_required(user.id).await?.is_some();
    tx.rollback().await?;
    let lang = info.lang;
    let markup = html! {
        @if change_required {
            p role="alert" id="password-change-required" {
                (lang.text(Text::PasswordChangeRequired))
            }
        }
        p { (user.display_name) " (" (user.username) ")" }
        p {
            (lang.text(Text::Level)) ": "
            strong id="session-level" { (active.level.oiosaml_name()) }
        }
        h2 { (lang.text(Text::Credentials)) }
        ul {
            @for credential in &credentials {
                @let id = hex::encode(&credential.credential_id);
                li {
                    (credential.name) " – " (credential.level.oiosaml_name())
                    form method="post" action="/account/credentials/rename" {
                        input type="hidden" name="csrf" value=(token);
                        input type="hidden" name="credential" value=(id);
                        label {
                            (lang.text(Text::Name)) " "
                            input name="name" type="text" maxlength="64" required
                                value=(credential.name);
                        }
                        button type="submit" { (lang.text(Text::Rename)) }
                    }
                    @if credentials.len() > 1 {
                        form method="post" action="/account/credentials/remove" {
                            input type="hidden" name="csrf" value=(token);
                            input type="hidden" name="credential" value=(id);
                            button type="submit" { (lang.text(Text::Remove)) }
                        }
                    }
                }
            }
        }
        form method="post" action="/account/credentials/add" {
            input type="hidden" name="csrf" value=(token);
            button type="submit" id="add-credential" { (lang.text(Text::AddSecurityKey)) }
        }
        h2 { (lang.text(Text::ChangePassword)) }
        (html::form(
            lang,
            "/account/password",
            &token,
            &password_change_fields(),
            None,
            Text::ChangePassword,
            info.min_password_length,
        ))
        h2 { (lang.text(Text::Sessions)) }
        ul {
            @for listed in &sessions {
                li {
                    (listed.created_at.to_rfc3339()) " – " (listed.level.oiosaml_name())
                    @if listed.id_hash == active.session.id_hash {
                        " (" (lang.text(Text::ThisSession)) ")"
                    }
                    form method="post" action="/account/sessions/end" {
                        input type="hidden" name="csrf" value=(token);
                        input type="hidden" name="session" value=(hex::encode(&listed.id_hash));
                        button type="submit" { (lang.text(Text::EndSession)) }
                    }
                }
            }
        }
        form method="post" action="/account/sessions/end-all" {
            input type="hidden" name="csrf" value=(token);
            button type="submit" { (lang.text(Text::EndAllSessions)) }
        }
        form method="post" action="/logout" {
            input type="hidden" name="csrf" value=(token);
            button type="submit" id="sign-out" { (lang.text(Text::SignOut)) }
        }
    };
    Ok((markup, cookies))
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    session_action(&state, connect, &headers, &form.csrf, false).await
}

async fn end_all(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    session_action(&state, connect, &headers, &form.csrf, true).await
}

async fn session_action(
    state: &AppState,
    connect: ClientAddress,
    headers: &HeaderMap,
    csrf: &str,
    all: bool,
) -> Response {
    let signin = &state.signin;
    let info = request_info(headers, connect.0, None, signin);
    if !csrf_valid(&info, csrf) {
        return error_page(StatusCode::FORBIDDEN, info.lang, Text::Failed);
    }
    let result = match current_session(signin, &info).await {
        Ok(Some(active)) if all => account::end_all_sessions(signin, &info.origin, &active)
            .await
            .map(|_| ()),
        Ok(Some(active)) => account::sign_out(signin, &info.origin, &active).await,
        Ok(None) => Ok(()),
        Err(error) => Err(error),
    };
    if let Err(error) = result {
        return internal(info.lang, &error);
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(value) = HeaderValue::from_str(&SessionCookie::clear(signin.secure_cookies)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn script() -> Response {
    let mut response = WEBAUTHN_SCRIPT.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    response
}

/// Reads the request, checks the CSRF token and finds a session that has passed the second
/// factor; otherwise the response to send instead.
async fn authenticated(
    state: &AppState,
    connect: ClientAddress,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<(RequestInfo, ActiveSession), Response> {
    let signin = &state.signin;
    let info = request_info(headers, connect.0, None, signin);
    if !csrf_valid(&info, csrf) {
        return Err(error_page(StatusCode::FORBIDDEN, info.lang, Text::Failed));
    }
    match current_session(signin, &info).await {
        Ok(Some(active)) if active.factors.second_factor_at.is_some() => Ok((info, active)),
        Ok(_) => Err(Redirect::to("/login").into_response()),
        Err(error) => Err(internal(info.lang, &error)),
    }
}

/// The answer after a self-service action: back to the account page, with a new session
/// cookie when the action rotated the identifier.
fn after_action(
    info: &RequestInfo,
    result: Result<Option<String>, SignInError>,
    secure: bool,
) -> Response {
    match result {
        Ok(Some(cookie)) => signed_in_redirect(&cookie, secure, "/account"),
        Ok(None) => Redirect::to("/account").into_response(),
        Err(SignInError::SessionRequired) => Redirect::to("/login").into_response(),
        Err(SignInError::NotAllowed(_)) => {
            error_page(StatusCode::CONFLICT, info.lang, Text::NotAllowed)
        }
        Err(error) => match failure_answer(&error) {
            Some((status, text)) => error_page(status, info.lang, text),
            None => internal(info.lang, &error),
        },
    }
}

#[derive(Deserialize)]
struct PasswordChangeForm {
    csrf: String,
    password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<PasswordChangeForm>,
) -> Response {
    let (info, active) = match authenticated(&state, connect, &headers, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let signin = &state.signin;
    let result = account::change_password(
        signin,
        &info.origin,
        &active,
        &form.password,
        &form.new_password,
    )
    .await
    .map(Some);
    after_action(&info, result, signin.secure_cookies)
}

#[derive(Deserialize)]
struct SessionForm {
    csrf: String,
    session: String,
}

async fn end_one(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SessionForm>,
) -> Response {
    let (info, active) = match authenticated(&state, connect, &headers, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let signin = &state.signin;
    let result = account::end_session(signin, &info.origin, &active, &form.session).await;
    after_action(&info, result.map(|()| None), signin.secure_cookies)
}

async fn add_credential(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    let (info, active) = match authenticated(&state, connect, &headers, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match account::start_add_credential(&state.signin, &active).await {
        Ok(challenge) => {
            let step = Step {
                mode: "create",
                action: "/account/credentials/add/finish",
                path: "/account",
            };
            let page = step.page(
                &info,
                &form.csrf,
                &challenge.handle,
                &challenge.options_json,
            );
            respond(StatusCode::OK, page, Vec::new())
        }
        Err(error) => after_action(&info, Err(error), state.signin.secure_cookies),
    }
}

async fn add_credential_finish(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<WebAuthnForm>,
) -> Response {
    let (info, active) = match authenticated(&state, connect, &headers, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let signin = &state.signin;
    let result = account::finish_add_credential(
        signin,
        &info.origin,
        &active,
        &form.ceremony,
        &form.credential,
    )
    .await;
    after_action(&info, result.map(|()| None), signin.secure_cookies)
}

#[derive(Deserialize)]
struct RenameForm {
    csrf: String,
    credential: String,
    name: String,
}

async fn rename_credential(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RenameForm>,
) -> Response {
    let (info, active) = match authenticated(&state, connect, &headers, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let signin = &state.signin;
    let result =
        account::rename_credential(signin, &info.origin, &active, &form.credential, &form.name)
            .await;
    after_action(&info, result.map(|()| None), signin.secure_cookies)
}

#[derive(Deserialize)]
struct CredentialForm {
    csrf: String,
    credential: String,
}

async fn remove_credential(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CredentialForm>,
) -> Response {
    let (info, active) = match authenticated(&state, connect, &headers, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let signin = &state.signin;
    let result = account::remove_credential(signin, &info.origin, &active, &form.credential).await;
    after_action(&info, result.map(|()| None), signin.secure_cookies)
}
