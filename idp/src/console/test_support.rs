//! Shared set-up for console tests: an organisation, users with roles, sessions at a chosen
//! level, and requests that carry the session and CSRF cookies.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use http_body_util::BodyExt;
use portner_audit::AuditContext;
use portner_shared::domain::{
    Cvr, Email, NewOrganisation, NewUser, NsisLevel, Role, User, UserStatus,
};
use tower::ServiceExt;

use crate::app::AppState;
use crate::app::test_support as app_support;
use crate::signin::session::{self, Factors};

/// The CSRF cookie value every test browser carries.
pub const CSRF_COOKIE_VALUE: &str =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A migrated store, its state and folder.
pub struct Rig {
    pub state: AppState,
    pub _folder: tempfile::TempDir,
}

impl Rig {
    pub async fn new() -> Self {
        let (store, folder) = app_support::store().await;
        let state = app_support::state(store);
        Self {
            state,
            _folder: folder,
        }
    }

    pub fn router(&self) -> Router {
        crate::app::app(self.state.clone())
    }

    /// Registers the organisation `cvr` if missing.
    pub async fn org(&self, cvr: &str) -> Cvr {
        let cvr: Cvr = cvr.parse().unwrap();
        let mut tx = self.state.store.read().await.unwrap();
        let exists = tx.organisation(&cvr).await.unwrap().is_some();
        tx.rollback().await.unwrap();
        if !exists {
            let new = NewOrganisation::new(
                cvr.clone(),
                "Testfirma ApS",
                "testfirma.dk".parse().unwrap(),
            )
            .unwrap();
            crate::directory::create_organisation(
                &self.state.store,
                self.state.clock.as_ref(),
                &AuditContext::cli(),
                &new,
            )
            .await
            .unwrap();
        }
        cvr
    }

    /// An active user of `cvr` at identity level Substantial, holding `roles` there.
    pub async fn user(&self, cvr: &str, username: &str, roles: &[Role]) -> User {
        let org = self.org(cvr).await;
        let email: Email = format!("{username}@testfirma.dk").parse().unwrap();
        let new = NewUser::new(org, username.parse().unwrap(), "Test Person", email, None).unwrap();
        let context = AuditContext::cli();
        let clock = self.state.clock.as_ref();
        let user = crate::directory::create_user(&self.state.store, clock, &context, &new)
            .await
            .unwrap();
        let mut tx = self.state.store.begin().await.unwrap();
        let now = Utc::now();
        tx.set_user_status(user.id, UserStatus::Active, now)
            .await
            .unwrap();
        tx.set_identity_level(user.id, NsisLevel::Substantial, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        for role in roles {
            crate::directory::grant_role(
                &self.state.store,
                clock,
                &context,
                &user.username,
                *role,
                None,
            )
            .await
            .unwrap();
        }
        let mut tx = self.state.store.read().await.unwrap();
        let user = tx.user(user.id).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        user
    }

    /// A session cookie value for `user`: Substantial with `second_factor`, else password
    /// only (Low).
    pub async fn session(&self, user: &User, second_factor: bool) -> String {
        let now = Utc::now();
        let factors = Factors {
            correlation_id: "test".to_owned(),
            identity_level: user.identity_level,
            password_at: Some(now),
            second_factor_at: second_factor.then_some(now),
            credential_level: second_factor.then_some(NsisLevel::Substantial),
        };
        let mut tx = self.state.store.begin().await.unwrap();
        let cookie = session::create(&mut tx, &self.state.signin, user, &factors, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        cookie
    }

    /// The kinds and data of every audit record, in order.
    pub async fn audit(&self) -> Vec<String> {
        let mut tx = self.state.store.read().await.unwrap();
        let records = portner_audit::records(&mut tx, 0, 100_000).await.unwrap();
        tx.rollback().await.unwrap();
        records
            .into_iter()
            .map(|record| format!("{} {} {}", record.kind, record.actor, record.data))
            .collect()
    }
}

/// A response's status, `Location` and body.
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

/// Sends a request with the session cookie (if any) and the CSRF cookie; a POST carries the
/// form fields plus the matching CSRF token.
pub async fn send(
    router: &Router,
    method: &str,
    path: &str,
    session: Option<&str>,
    form: &[(&str, &str)],
) -> Answer {
    send_with(router, method, path, session, form, true).await
}

/// [`send`], optionally without the CSRF token in the form.
pub async fn send_with(
    router: &Router,
    method: &str,
    path: &str,
    session: Option<&str>,
    form: &[(&str, &str)],
    with_token: bool,
) -> Answer {
    let mut cookies = vec![format!("portner-csrf={CSRF_COOKIE_VALUE}")];
    if let Some(value) = session {
        cookies.push(format!("__Host-portner-session={value}"));
    }
    let token = crate::signin::pages::csrf_token(CSRF_COOKIE_VALUE);
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    if with_token {
        body.append_pair("csrf", &token);
    }
    let body = body.extend_pairs(form).finish();
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, cookies.join("; "))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|value| value.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        location,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The text between `start` and the next `end` in `text`.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in {text}"))
        + start.len();
    let length = text[from..].find(end).unwrap();
    &text[from..from + length]
}
