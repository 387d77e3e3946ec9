//! The pages of self-service recovery ([`crate::signin::recovery`]): `/recover` asks for the
//! username and the new password, `/recover/webauthn` takes the authenticator's answer. They
//! share the sign-in pages' CSRF, language, failure answers and security headers.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::{
    ClientAddress, LangQuery, RequestInfo, Step, WebAuthnForm, csrf_for, csrf_token, csrf_valid,
    error_page, failure_answer, internal, request_info, respond,
};
use crate::app::AppState;
use crate::signin::html::{self, Field, Text};
use crate::signin::recovery;

fn recovery_fields() -> [Field; 2] {
    [
        Field {
            name: "username",
            label: Text::Username,
            kind: "text",
            autocomplete: "username",
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

fn recovery_form_page(info: &RequestInfo, status: StatusCode, error: Option<Text>) -> Response {
    let (token, cookies) = match csrf_for(info) {
        Ok(found) => found,
        Err(error) => return internal(info.lang, &error),
    };
    let form = html::form(
        info.lang,
        "/recover",
        &token,
        &recovery_fields(),
        error,
        Text::Continue,
        info.min_password_length,
    );
    let body = html! {
        p { (info.lang.text(Text::RecoverIntro)) }
        (form)
    };
    respond(
        status,
        html::page(info.lang, Text::Recover, "/recover", body),
        cookies,
    )
}

/// `GET /recover`.
pub(super) async fn recover_page(
    State(state): State<AppState>,
    connect: ClientAddress,
    Query(query): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let info = request_info(&headers, connect.0, query.lang.as_deref(), &state.signin);
    recovery_form_page(&info, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub(super) struct RecoverForm {
    csrf: String,
    username: String,
    new_password: String,
}

/// `POST /recover`: the key page, or the form again with the uniform failure.
pub(super) async fn recover_submit(
    State(state): State<AppState>,
    connect: ClientAddress,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RecoverForm>,
) -> Response {
    let signin = &state.signin;
    let info = request_info(&headers, connect.0, None, signin);
    if !csrf_valid(&info, &form.csrf) {
        return error_page(StatusCode::FORBIDDEN, info.lang, Text::Failed);
    }
    let begun = recovery::begin(signin, &info.origin, &form.username, &form.new_password);
    match begun.await {
        Ok(challenge) => {
            let step = Step {
                mode: "get",
                action: "/recover/webauthn",
                path: "/recover",
            };
            let token = csrf_token(info.csrf_cookie.as_deref().unwrap_or_default());
            let page = step.page(&info, &token, &challenge.handle, &challenge.options_json);
            respond(StatusCode::OK, page, Vec::new())
        }
        Err(error) => match failure_answer(&error) {
            Some((status, text)) => recovery_form_page(&info, status, Some(text)),
            None => internal(info.lang, &error),
        },
    }
}

/// `POST /recover/webauthn`: the new password is set; the user signs in with it.
pub(super) async fn recover_webauthn(
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
    match recovery::finish(signin, &info.origin, &form.ceremony, &form.credential).await {
        Ok(()) => {
            let body = html! {
                p role="status" { (info.lang.text(Text::PasswordRecovered)) }
                p { a href="/login" { (info.lang.text(Text::SignIn)) } }
            };
            respond(
                StatusCode::OK,
                html::page(info.lang, Text::Recover, "/recover", body),
                Vec::new(),
            )
        }
        Err(error) => match failure_answer(&error) {
            Some((status, text)) => recovery_form_page(&info, status, Some(text)),
            None => internal(info.lang, &error),
        },
    }
}
