//! The helpdesk pages: search with the resets awaiting a second operator, a user's page with
//! the verification form, the actions and the user's reset requests, the page that shows an
//! issued code once, and the page telling the requester that a reset waits for approval
//! (HD-3).
//!
//! Every form carries the CSRF token (ASVS 3.5); a state change answers with a redirect to
//! the user's page (post/redirect/get), except a code, which is shown on the response to the
//! POST itself and nowhere else.

use axum::extract::{MatchedPath, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use portner_shared::domain::{
    IdDocument, IdentityProofing, NsisLevel, ProofingMethod, ResetApproval, Role, User, UserId,
    WebAuthnCredential,
};
use serde::Deserialize;

use super::approvals::{self, RequestView};
use super::{Acted, Action, HelpdeskError, Outcome, Verification};
use crate::app::AppState;
use crate::console::access::{self, Operator};
use crate::console::page::{self, ConsoleText, Lang, Text};

/// Audit event kinds shown as a user's recent sign-ins and lockouts.
const SIGN_IN_KINDS: &[&str] = &[
    "SIGN_IN_SUCCEEDED",
    "SIGN_IN_FAILED",
    "ACCOUNT_LOCKED",
    "ACCOUNT_UNLOCKED",
    "HELPDESK_ACTION_TAKEN",
    "HELPDESK_APPROVAL_REQUESTED",
    "HELPDESK_RESET_APPROVED",
];
/// How many of those events the page shows.
const RECENT_EVENTS: i64 = 20;

/// `GET /helpdesk?q=`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// The search page, with results when a search text is given.
pub async fn search(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Query(query): Query<SearchQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = operator.lang;
    let Some(text) = page::search_text(query.q.as_deref()) else {
        return page::message(StatusCode::BAD_REQUEST, lang, Text::BadInput);
    };
    let mut found = Vec::new();
    if !text.is_empty() {
        match operator.search_users(&state, Role::Helpdesk, text).await {
            Ok(users) => found = users,
            Err(error) => return access::internal(lang, &error.into()),
        }
    }
    let requests = match approvals::awaiting(&state, &operator).await {
        Ok(requests) => requests,
        Err(error) => return fail(&state, &operator, &Method::GET, &matched, error).await,
    };
    let (token, cookie) = match page::csrf(&headers) {
        Ok(found) => found,
        Err(error) => return access::internal(lang, &error),
    };
    let listed = Listed {
        token: &token,
        me: operator.user.id,
        with_user: true,
    };
    let body = html! {
        (search_markup(lang, text, &found))
        h2 { (lang.console(Text::ResetRequests)) }
        (requests_markup(lang, &listed, &requests))
    };
    page::respond(
        StatusCode::OK,
        page::frame(lang, Text::Helpdesk, "/helpdesk", body),
        cookie,
    )
}

fn search_markup(lang: Lang, text: &str, found: &[User]) -> Markup {
    html! {
        (page::search_form(lang, "/helpdesk", text))
        @if !text.is_empty() {
            h2 { (lang.console(Text::SearchResults)) }
            (page::user_table(lang, "/helpdesk/users", found, false))
        }
    }
}

/// Everything the user page shows.
struct UserView {
    user: User,
    /// The helpdesk verification methods the policy in force offers.
    methods: Vec<ProofingMethod>,
    failures: portner_shared::domain::SignInFailures,
    change_required: Option<DateTime<Utc>>,
    credentials: Vec<WebAuthnCredential>,
    events: Vec<portner_audit::AuditRecord>,
    verification: Option<IdentityProofing>,
    requests: Vec<RequestView>,
    /// Whether an SMTP relay is configured, so that codes can be e-mailed.
    can_email: bool,
}

/// A user's page: status, lockout, credentials, recent sign-ins, verification and actions.
pub async fn user(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = operator.lang;
    let view = match load_view(&state, &operator, &id).await {
        Ok(view) => view,
        Err(error) => return fail(&state, &operator, &Method::GET, &matched, error).await,
    };
    let (token, cookie) = match page::csrf(&headers) {
        Ok(found) => found,
        Err(error) => return access::internal(lang, &error),
    };
    let path = format!("/helpdesk/users/{}", view.user.id);
    let body = user_markup(lang, &token, &view, operator.user.id, state.clock.now());
    page::respond(
        StatusCode::OK,
        page::frame(lang, Text::User, &path, body),
        cookie,
    )
}

async fn load_view(
    state: &AppState,
    operator: &Operator,
    id: &str,
) -> Result<UserView, HelpdeskError> {
    let now = state.clock.now();
    let policy = state.signin.settings();
    let mut tx = state.store.read().await?;
    let user = super::target(&mut tx, operator, id).await?;
    let subject = portner_audit::Subject::User(user.id);
    let view = UserView {
        failures: tx.sign_in_failures(user.id).await?,
        change_required: tx.password_change_required(user.id).await?,
        credentials: tx.webauthn_credentials(user.id).await?,
        events: portner_audit::recent_about(&mut tx, &subject, SIGN_IN_KINDS, RECENT_EVENTS)
            .await?,
        verification: super::live_verification(&mut tx, operator, &user, now, &policy).await?,
        requests: {
            let live = tx.live_reset_approvals(user.id, now).await?;
            approvals::views(&mut tx, live).await?
        },
        can_email: state.mailer.is_some(),
        methods: [
            ProofingMethod::InPerson,
            ProofingMethod::VideoCall,
            ProofingMethod::CallBack,
        ]
        .into_iter()
        .filter(|method| super::method_cap(*method, &policy).is_some())
        .collect(),
        user,
    };
    tx.rollback().await?;
    Ok(view)
}

fn user_markup(lang: Lang, token: &str, view: &UserView, me: UserId, now: DateTime<Utc>) -> Markup {
    let user = &view.user;
    let base = format!("/helpdesk/users/{}", user.id);
    let listed = Listed {
        token,
        me,
        with_user: false,
    };
    html! {
        dl {
            dt { (lang.console(Text::Username)) } dd { (user.username) }
            dt { (lang.console(Text::Name)) } dd { (user.display_name) }
            dt { (lang.console(Text::Email)) } dd { (user.email) }
            dt { (lang.console(Text::Status)) } dd id="status" { (user.status) }
            dt { (lang.console(Text::AccountLevel)) }
            dd id="identity-level" { (user.identity_level.oiosaml_name()) }
            @if let Some(since) = view.change_required {
                dt { (lang.console(Text::PasswordChangeRequired)) }
                dd id="password-change-required" { (since.to_rfc3339()) }
            }
        }
        h2 { (lang.console(Text::Lockout)) }
        dl {
            dt { (lang.console(Text::WrongFailures)) } dd { (view.failures.failures) }
            @if let Some(until) = view.failures.locked_until.filter(|until| *until > now) {
                dt { (lang.console(Text::LockedUntil)) }
                dd id="locked-until" { (until.to_rfc3339()) }
            }
        }
        h2 { (lang.console(Text::Credentials)) }
        (credentials_markup(lang, token, &base, view))
        h2 { (lang.console(Text::RecentSignIns)) }
        (events_markup(lang, &view.events))
        h2 { (lang.console(Text::RecordVerification)) }
        (verification_markup(lang, token, &base, view.verification.as_ref(), &view.methods))
        @if let Some(verification) = &view.verification {
            h2 { (lang.console(Text::Action)) }
            (actions_markup(lang, token, &base, verification.id, view.can_email))
        }
        @if !view.requests.is_empty() {
            h2 { (lang.console(Text::ResetRequests)) }
            (requests_markup(lang, &listed, &view.requests))
        }
    }
}

/// How a list of reset requests is shown: the form token, the viewing operator (who may not
/// approve their own requests or requests about themselves), and whether to name the user.
struct Listed<'a> {
    token: &'a str,
    me: UserId,
    with_user: bool,
}

/// Reset requests with what a second operator needs to judge them: who asked, how the caller
/// was verified and at which level, and why (HD-3).
fn requests_markup(lang: Lang, listed: &Listed<'_>, requests: &[RequestView]) -> Markup {
    if requests.is_empty() {
        return html! { p { (lang.console(Text::NoRequests)) } };
    }
    html! {
        table id="reset-requests" {
            thead { tr {
                @if listed.with_user { th scope="col" { (lang.console(Text::Username)) } }
                th scope="col" { (lang.console(Text::RequestedBy)) }
                th scope="col" { (lang.console(Text::Method)) }
                th scope="col" { (lang.console(Text::Level)) }
                th scope="col" { (lang.console(Text::Reason)) }
                th scope="col" { (lang.console(Text::CodeExpires)) }
                th scope="col" { (lang.console(Text::Action)) }
            } }
            tbody {
                @for view in requests { (request_row(lang, listed, view)) }
            }
        }
    }
}

fn request_row(lang: Lang, listed: &Listed<'_>, view: &RequestView) -> Markup {
    let request = &view.request;
    let base = format!("/helpdesk/users/{}", request.user_id);
    html! {
        tr {
            @if listed.with_user { td { a href=(base) { (view.username) } } }
            td { (view.requested_by) }
            td { (view.method) }
            td { (view.level.oiosaml_name()) }
            td { (request.reason) }
            td { (request.expires_at.to_rfc3339()) }
            td { (request_state(lang, listed, view, &base)) }
        }
    }
}

/// Approved, waiting for someone else, or a form to approve it.
fn request_state(lang: Lang, listed: &Listed<'_>, view: &RequestView, base: &str) -> Markup {
    let request = &view.request;
    let mine = request.requested_by == listed.me || request.user_id == listed.me;
    html! {
        @if let Some(approver) = &view.approved_by {
            (lang.console(Text::ApprovedBy)) " " (approver)
        } @else if mine {
            (lang.console(Text::AwaitingApproval))
        } @else {
            form method="post" action={ (base) "/approve" } {
                input type="hidden" name="csrf" value=(listed.token);
                input type="hidden" name="approval" value=(request.id);
                button type="submit" { (lang.console(Text::Approve)) }
            }
        }
    }
}

fn credentials_markup(lang: Lang, token: &str, base: &str, view: &UserView) -> Markup {
    if view.credentials.is_empty() {
        return html! { p { (lang.console(Text::NoCredentials)) } };
    }
    let proofing = view.verification.as_ref().map(|record| record.id);
    html! {
        table {
            thead { tr {
                th scope="col" { (lang.console(Text::Name)) }
                th scope="col" { (lang.console(Text::Level)) }
                th scope="col" { (lang.console(Text::LastUsed)) }
                @if proofing.is_some() { th scope="col" { (lang.console(Text::Action)) } }
            } }
            tbody {
                @for credential in &view.credentials {
                    (credential_row(lang, token, base, credential, proofing))
                }
            }
        }
    }
}

/// One security key; with a live verification, a form to revoke it.
fn credential_row(
    lang: Lang,
    token: &str,
    base: &str,
    credential: &WebAuthnCredential,
    proofing: Option<i64>,
) -> Markup {
    let id = hex::encode(&credential.credential_id);
    let last_used = credential.last_used_at.map(|at| at.to_rfc3339());
    html! {
        tr {
            td { (credential.name) }
            td { (credential.level.oiosaml_name()) }
            td { (last_used.unwrap_or_default()) }
            @if let Some(proofing) = proofing {
                td {
                    form method="post" action={ (base) "/revoke-credential" } {
                        input type="hidden" name="csrf" value=(token);
                        input type="hidden" name="proofing" value=(proofing);
                        input type="hidden" name="credential" value=(id);
                        (reason_field(lang, &format!("revoke-{id}")))
                        button type="submit" { (lang.console(Text::Revoke)) }
                    }
                }
            }
        }
    }
}

fn events_markup(lang: Lang, events: &[portner_audit::AuditRecord]) -> Markup {
    html! {
        @if events.is_empty() {
            p { (lang.console(Text::NoEvents)) }
        } @else {
            ul id="recent-events" {
                @for event in events {
                    li {
                        (portner_shared::clock::from_millis(event.occurred_at).to_rfc3339())
                        " – " (event.kind) " " (event_detail(&event.data))
                    }
                }
            }
        }
    }
}

/// The few fields of an event worth a line: factor, reason or action, level, source address.
fn event_detail(data: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(data) else {
        return String::new();
    };
    let fields = &value["fields"];
    ["factor", "reason", "action", "level", "level_after"]
        .iter()
        .filter_map(|key| fields[*key].as_str())
        .chain(value["source"].as_str())
        .collect::<Vec<_>>()
        .join(" · ")
}

fn verification_markup(
    lang: Lang,
    token: &str,
    base: &str,
    live: Option<&IdentityProofing>,
    offered: &[ProofingMethod],
) -> Markup {
    let methods = [
        (ProofingMethod::InPerson, Text::InPerson),
        (ProofingMethod::VideoCall, Text::VideoCall),
        (ProofingMethod::CallBack, Text::CallBack),
    ]
    .into_iter()
    .filter(|(method, _)| offered.contains(method));
    let documents = [
        (IdDocument::Passport, Text::Passport),
        (IdDocument::DrivingLicence, Text::DrivingLicence),
        (IdDocument::ResidenceCard, Text::ResidenceCard),
        (IdDocument::Other, Text::OtherDocument),
    ];
    let levels = [NsisLevel::None, NsisLevel::Low, NsisLevel::Substantial];
    html! {
        @match live {
            Some(record) => p id="verification" role="status" {
                (lang.console(Text::VerificationValid)) ": " (record.method) ", "
                (record.level.oiosaml_name()) ", " (record.verified_at.to_rfc3339())
            },
            None => p id="verification" { (lang.console(Text::VerificationRequired)) },
        }
        form method="post" action={ (base) "/verify" } {
            input type="hidden" name="csrf" value=(token);
            p {
                label for="method" { (lang.console(Text::Method)) } br;
                select id="method" name="method" required {
                    @for (method, text) in methods {
                        option value=(method.as_str()) { (lang.console(text)) }
                    }
                }
            }
            p {
                label for="document_type" { (lang.console(Text::DocumentType)) } br;
                select id="document_type" name="document_type" {
                    option value="" { "–" }
                    @for (document, text) in documents {
                        option value=(document.as_str()) { (lang.console(text)) }
                    }
                }
            }
            p {
                label for="reference" { (lang.console(Text::Reference)) } br;
                input id="reference" name="reference" type="text" maxlength="200" required
                    aria-describedby="reference-hint";
                br;
                small id="reference-hint" { (lang.console(Text::ReferenceHint)) }
            }
            p {
                label for="level" { (lang.console(Text::Level)) } br;
                select id="level" name="level" required {
                    @for level in levels {
                        option value=(level.as_str()) { (level.oiosaml_name()) }
                    }
                }
            }
            button type="submit" { (lang.console(Text::RecordVerification)) }
        }
    }
}

fn actions_markup(lang: Lang, token: &str, base: &str, proofing: i64, can_email: bool) -> Markup {
    let actions = [
        ("code", Text::IssueCode),
        ("unlock", Text::Unlock),
        ("require-password-change", Text::RequirePasswordChange),
    ];
    html! {
        @for (path, text) in actions {
            form method="post" action={ (base) "/" (path) } {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="proofing" value=(proofing);
                (reason_field(lang, path))
                button type="submit" { (lang.console(text)) }
                @if path == "code" && can_email {
                    " "
                    button type="submit" name="deliver" value="email" {
                        (lang.console(Text::EmailCode))
                    }
                }
            }
        }
    }
}

fn reason_field(lang: Lang, id: &str) -> Markup {
    let id = format!("reason-{id}");
    html! {
        label for=(id) { (lang.console(Text::Reason)) }
        " "
        input id=(id) name="reason" type="text" maxlength="200" required;
        " "
    }
}

/// The verification form.
#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    csrf: String,
    method: String,
    #[serde(default)]
    document_type: String,
    reference: String,
    level: String,
}

/// Records a verification, then shows the user's page again.
pub async fn verify(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<VerifyForm>,
) -> Response {
    if !page::csrf_valid(&headers, &form.csrf) {
        return page::message(StatusCode::FORBIDDEN, operator.lang, Text::Forbidden);
    }
    let result = match Verification::parse(
        &form.method,
        &form.document_type,
        &form.reference,
        &form.level,
        &state.signin.settings(),
    ) {
        Ok(verification) => super::record_verification(&state, &operator, &id, &verification)
            .await
            .map(|record| record.user_id),
        Err(error) => Err(error),
    };
    match result {
        Ok(user_id) => Redirect::to(&format!("/helpdesk/users/{user_id}")).into_response(),
        Err(error) => fail(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// An action form: the verification it rests on and the operator's reason.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    csrf: String,
    proofing: String,
    reason: String,
    #[serde(default)]
    credential: String,
    /// `email` to e-mail an issued code instead of showing it (only with a relay).
    #[serde(default)]
    deliver: String,
}

/// Issues an activation or reset code and shows it, once.
pub async fn code(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    match run(&state, &operator, &id, &headers, &form, &Action::Code).await {
        Ok(Acted::Done(outcome)) if form.deliver == "email" => {
            emailed_page(&state, &operator, outcome).await
        }
        Ok(Acted::Done(outcome)) => issued_page(&operator, outcome, None),
        Ok(Acted::AwaitingApproval(request)) => awaiting_page(operator.lang, &request),
        Err(error) => fail(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// The requester's answer while a reset waits for a second operator (HD-3): 202, since the
/// request was accepted but nothing has been done to the account yet.
fn awaiting_page(lang: Lang, request: &ResetApproval) -> Response {
    let path = format!("/helpdesk/users/{}", request.user_id);
    let body = html! {
        p id="awaiting-approval" role="status" { (lang.console(Text::ApprovalRequestedHint)) }
        dl {
            dt { (lang.console(Text::Reason)) } dd { (request.reason) }
            dt { (lang.console(Text::CodeExpires)) } dd { (request.expires_at.to_rfc3339()) }
        }
        p { a href=(path) { (lang.console(Text::User)) } }
    };
    let markup = page::frame(lang, Text::ApprovalRequested, &path, body);
    page::respond(StatusCode::ACCEPTED, markup, None)
}

/// E-mails the issued code to the user's address and says so, or, if there is no relay or it
/// fails, shows the code as [`issued_page`] does with a warning. A sent code is audited as a
/// `USER_NOTIFIED` notice (`activation_code_emailed`).
async fn emailed_page(state: &AppState, operator: &Operator, outcome: Outcome) -> Response {
    let lang = operator.lang;
    let (Some(mailer), Some(issued)) = (&state.mailer, &outcome.code) else {
        return issued_page(operator, outcome, Some(Text::EmailFailed));
    };
    let user_id = issued.record.user_id;
    let sent = match user_email(state, user_id).await {
        Ok(to) => {
            let activate = format!("{}/activate", state.identity.base_url);
            let expires = issued.record.expires_at;
            crate::notify::send_code(mailer, &to, &issued.code, expires, &activate)
                .await
                .map(|()| to)
        }
        Err(error) => Err(error.to_string()),
    };
    let to = match sent {
        Ok(to) => to,
        Err(error) => {
            tracing::warn!(%error, %user_id, "e-mailing a helpdesk code failed; shown instead");
            return issued_page(operator, outcome, Some(Text::EmailFailed));
        }
    };
    if let Err(error) = audit_emailed(state, operator, user_id).await {
        return access::internal(lang, &error);
    }

    let path = format!("/helpdesk/users/{user_id}");
    let body = html! {
        p id="code-emailed" role="status" { (lang.console(Text::CodeEmailed)) " " (to) }
        dl {
            dt { (lang.console(Text::CodeExpires)) } dd { (issued.record.expires_at.to_rfc3339()) }
            dt { (lang.console(Text::AccountLevel)) }
            dd id="level-after" { (outcome.level_after.oiosaml_name()) }
        }
        p { a href=(path) { (lang.console(Text::User)) } }
    };
    page::respond(
        StatusCode::OK,
        page::frame(lang, Text::CodeSent, &path, body),
        None,
    )
}

async fn user_email(
    state: &AppState,
    user_id: UserId,
) -> Result<String, portner_shared::store::StoreError> {
    let mut tx = state.store.read().await?;
    let user = tx.user(user_id).await?;
    tx.rollback().await?;
    Ok(user.map(|user| user.email.to_string()).unwrap_or_default())
}

async fn audit_emailed(
    state: &AppState,
    operator: &Operator,
    user_id: UserId,
) -> Result<(), crate::signin::SignInError> {
    let now = state.clock.now();
    let context = operator.origin.audit(Some(operator.user.id));
    let event = portner_audit::AuditEvent::UserNotified {
        user_id,
        notice: "activation_code_emailed".to_owned(),
    };
    let subject = portner_audit::Subject::User(user_id);
    let mut tx = state.store.begin().await?;
    portner_audit::append(&mut tx, now, &context, &subject, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// The issued code, shown once, with `warning` above it if one is given.
fn issued_page(operator: &Operator, outcome: Outcome, warning: Option<Text>) -> Response {
    let Some(issued) = outcome.code else {
        return access::internal(
            operator.lang,
            &crate::signin::SignInError::Internal("code action without a code".to_owned()),
        );
    };
    let lang = operator.lang;
    let title = if outcome.action == "reset_code" {
        Text::ResetCode
    } else {
        Text::ActivationCode
    };
    let body = html! {
        @if let Some(warning) = warning {
            p id="email-failed" role="alert" { (lang.console(warning)) }
        }
        p role="status" { (lang.console(Text::CodeHint)) }
        dl {
            dt { (lang.console(Text::Code)) } dd { code id="issued-code" { (issued.code) } }
            dt { (lang.console(Text::CodeExpires)) } dd { (issued.record.expires_at.to_rfc3339()) }
            dt { (lang.console(Text::AccountLevel)) }
            dd id="level-after" { (outcome.level_after.oiosaml_name()) }
        }
        p { a href={ "/helpdesk/users/" (issued.record.user_id) } { (lang.console(Text::User)) } }
    };
    let path = format!("/helpdesk/users/{}", issued.record.user_id);
    page::respond(StatusCode::OK, page::frame(lang, title, &path, body), None)
}

/// The approval form: the request approved. Missing fields read as empty, so a form without
/// its token is refused as forged (403) and one without a request ID as malformed (400).
#[derive(Debug, Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    approval: String,
}

/// Approves another operator's reset request as the second operator (HD-3), then shows the
/// user's page again.
pub async fn approve(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ApproveForm>,
) -> Response {
    let result = if !page::csrf_valid(&headers, &form.csrf) {
        Err(HelpdeskError::BadInput("csrf"))
    } else {
        match form.approval.parse::<i64>() {
            Ok(approval) => approvals::approve(&state, &operator, &id, approval).await,
            Err(_) => Err(HelpdeskError::BadInput("approval")),
        }
    };
    match result {
        Ok(request) => {
            Redirect::to(&format!("/helpdesk/users/{}", request.user_id)).into_response()
        }
        Err(error) => fail(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// Removes a lockout.
pub async fn unlock(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    let result = run(&state, &operator, &id, &headers, &form, &Action::Unlock).await;
    after(&state, &operator, &matched, &id, result).await
}

/// Revokes one credential.
pub async fn revoke_credential(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    let Ok(credential) = hex::decode(&form.credential) else {
        return page::message(StatusCode::BAD_REQUEST, operator.lang, Text::BadInput);
    };
    let action = Action::RevokeCredential(credential);
    let result = run(&state, &operator, &id, &headers, &form, &action).await;
    after(&state, &operator, &matched, &id, result).await
}

/// Asks the user to choose a new password.
pub async fn require_password_change(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    let action = Action::RequirePasswordChange;
    let result = run(&state, &operator, &id, &headers, &form, &action).await;
    after(&state, &operator, &matched, &id, result).await
}

/// Checks the CSRF token and the proofing field, then carries out the action.
async fn run(
    state: &AppState,
    operator: &Operator,
    id: &str,
    headers: &HeaderMap,
    form: &ActionForm,
    action: &Action,
) -> Result<Acted, HelpdeskError> {
    if !page::csrf_valid(headers, &form.csrf) {
        return Err(HelpdeskError::BadInput("csrf"));
    }
    let proofing: i64 = form
        .proofing
        .parse()
        .map_err(|_| HelpdeskError::BadInput("proofing"))?;
    super::act(state, operator, id, proofing, &form.reason, action).await
}

/// Back to the user's page after an action, or the error's page.
async fn after(
    state: &AppState,
    operator: &Operator,
    matched: &MatchedPath,
    id: &str,
    result: Result<Acted, HelpdeskError>,
) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("/helpdesk/users/{id}")).into_response(),
        Err(error) => fail(state, operator, &Method::POST, matched, error).await,
    }
}

/// The page for a failed helpdesk operation; refusals are audited.
async fn fail(
    state: &AppState,
    operator: &Operator,
    method: &Method,
    matched: &MatchedPath,
    error: HelpdeskError,
) -> Response {
    let lang = operator.lang;
    match error {
        HelpdeskError::BadInput("csrf") => {
            page::message(StatusCode::FORBIDDEN, lang, Text::Forbidden)
        }
        HelpdeskError::BadInput(_) => page::message(StatusCode::BAD_REQUEST, lang, Text::BadInput),
        HelpdeskError::InvalidVerification(_) => {
            page::message(StatusCode::BAD_REQUEST, lang, Text::VerificationInvalid)
        }
        HelpdeskError::NotFound => page::message(StatusCode::NOT_FOUND, lang, Text::NotFound),
        HelpdeskError::NoSuchRequest => {
            page::message(StatusCode::NOT_FOUND, lang, Text::NoSuchRequest)
        }
        HelpdeskError::Refused(refusal) => {
            access::refuse(state, operator, method, matched.as_str(), refusal).await
        }
        HelpdeskError::NotAllowed("NOT_LOCKED") => {
            page::message(StatusCode::CONFLICT, lang, Text::NotLocked)
        }
        HelpdeskError::NotAllowed("ALREADY_APPROVED") => {
            page::message(StatusCode::CONFLICT, lang, Text::AlreadyApproved)
        }
        HelpdeskError::NotAllowed("REQUEST_EXPIRED") => {
            page::message(StatusCode::CONFLICT, lang, Text::RequestExpired)
        }
        HelpdeskError::NotAllowed(_) => page::message(StatusCode::CONFLICT, lang, Text::NotAllowed),
        HelpdeskError::SignIn(error) => access::internal(lang, &error),
    }
}
