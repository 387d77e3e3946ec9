//! A browser stand-in for the HTTP suites: a cookie jar over the whole router, soft WebAuthn
//! passkeys, and the steps of activation and sign-in that the sign-in and single sign-on
//! suites share.

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use portner_audit::AuditContext;
use portner_idp::app::{AppState, app};
use portner_idp::signin::SignIn;
use portner_idp::signin::activation::{Proofing, issue_code};
use portner_shared::config::SignInSettings;
use portner_shared::domain::{
    Cvr, Email, NewOrganisation, NewUser, NsisLevel, ProofingMethod, Username,
};
use portner_shared::{Clock, FixedClock};
use portner_tests::TestStore;
use tower::ServiceExt;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

pub(crate) const ORIGIN: &str = "http://localhost:8080";
pub(crate) const PASSWORD: &str = "violet tram lantern 1987";

pub(crate) struct Rig {
    pub(crate) router: Router,
    pub(crate) signin: SignIn,
    pub(crate) clock: FixedClock,
    pub(crate) store: TestStore,
    pub(crate) identity: Arc<portner_idp::saml::idp_metadata::IdpIdentity>,
    /// The router's allowance of audited untrusted SAML refusals (shared counts).
    pub(crate) saml_refusals: portner_idp::saml::refusal_limit::RefusalLimit,
}

/// A browser stand-in: a cookie jar and a fixed source address.
pub(crate) struct Browser {
    pub(crate) cookies: HashMap<String, String>,
    pub(crate) source: SocketAddr,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
}

impl Browser {
    pub(crate) fn new(last_octet: u8) -> Self {
        Self {
            cookies: HashMap::new(),
            source: SocketAddr::from(([192, 0, 2, last_octet], 40000)),
        }
    }

    pub(crate) async fn send(
        &mut self,
        router: &Router,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(self.source));
        let response = router.clone().oneshot(request).await.unwrap();
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub(crate) async fn get(&mut self, router: &Router, path: &str) -> Page {
        self.send(router, "GET", path, &[]).await
    }
}

pub(crate) fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in {text}"))
        + start.len();
    let length = text[from..].find(end).unwrap();
    &text[from..from + length]
}

pub(crate) fn csrf(page: &Page) -> String {
    between(&page.body, r#"name="csrf" value=""#, "\"").to_owned()
}

pub(crate) fn ceremony(page: &Page) -> String {
    between(&page.body, r#"name="ceremony" value=""#, "\"").to_owned()
}

pub(crate) fn options(page: &Page) -> String {
    let block = between(&page.body, r#"id="webauthn-options""#, "</script>");
    block.split_once('>').unwrap().1.to_owned()
}

/// A SAML identity with a fresh key, one pair for signing and encryption.
pub(crate) fn test_identity() -> Arc<portner_idp::saml::idp_metadata::IdpIdentity> {
    let pair = portner_idp::keys::KeyPair::generate("Portner test").unwrap();
    Arc::new(portner_idp::saml::idp_metadata::IdpIdentity {
        entity_id: ORIGIN.to_owned(),
        base_url: ORIGIN.to_owned(),
        signing: pair.signing_key(),
        next_signing_certificate: None,
        encryption_certificate: pair.certificate,
    })
}

pub(crate) async fn rig(store: TestStore) -> Rig {
    rig_with(store, SignInSettings::default()).await
}

/// A rig with cheap Argon2id parameters (tests measure behaviour, not cost).
pub(crate) async fn rig_with(store: TestStore, settings: SignInSettings) -> Rig {
    rig_at(store, settings, portner_tests::fixed_clock()).await
}

/// A rig whose clock starts at the given instant (e.g. the real time, for third-party SPs
/// that check the assertion's times against their own clock).
pub(crate) async fn rig_at(store: TestStore, settings: SignInSettings, clock: FixedClock) -> Rig {
    let settings = SignInSettings {
        password_argon2_memory_kib: 8192,
        password_argon2_iterations: 1,
        ..settings
    };
    let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let signin = SignIn::new(store.store.clone(), shared_clock.clone(), settings, ORIGIN).unwrap();
    let identity = test_identity();
    let saml_refusals = portner_idp::saml::refusal_limit::RefusalLimit::default();
    let state = AppState {
        store: store.store.clone(),
        clock: shared_clock,
        identity: identity.clone(),
        signin: signin.clone(),
        audit: None,
        saml_refusals: saml_refusals.clone(),
        mailer: None,
    };
    Rig {
        router: app(state),
        signin,
        clock,
        store,
        identity,
        saml_refusals,
    }
}

pub(crate) async fn pending_user(rig: &Rig, username: &str) -> Username {
    let context = AuditContext::cli();
    let cvr: Cvr = "91234567".parse().unwrap();
    let mut tx = rig.store.store.read().await.unwrap();
    let exists = tx.organisation(&cvr).await.unwrap().is_some();
    tx.rollback().await.unwrap();
    if !exists {
        let org = NewOrganisation::new(
            cvr.clone(),
            "Testfirma ApS",
            "testfirma.dk".parse().unwrap(),
        )
        .unwrap();
        portner_idp::directory::create_organisation(&rig.store.store, &rig.clock, &context, &org)
            .await
            .unwrap();
    }
    let username: Username = username.parse().unwrap();
    let email: Email = format!("{username}@testfirma.dk").parse().unwrap();
    let new = NewUser::new(cvr, username.clone(), "Test Person", email, None).unwrap();
    portner_idp::directory::create_user(&rig.store.store, &rig.clock, &context, &new)
        .await
        .unwrap();
    username
}

pub(crate) async fn issue(rig: &Rig, username: &Username, level: Option<NsisLevel>) -> String {
    let proofing = level.map(|level| Proofing {
        method: ProofingMethod::InPerson,
        reference: "passport checked against the register".to_owned(),
        level,
    });
    let issued = issue_code(
        &rig.store.store,
        &rig.clock,
        &AuditContext::cli(),
        username,
        proofing.as_ref(),
        72,
    )
    .await
    .unwrap();
    issued.code
}

/// Activates `username` with a new soft passkey; returns the authenticator.
pub(crate) async fn activate(
    rig: &Rig,
    browser: &mut Browser,
    username: &Username,
    code: &str,
) -> SoftPasskey {
    let mut authenticator = SoftPasskey::new(true);
    activate_with(rig, browser, username, code, |options| {
        let challenge: CreationChallengeResponse = serde_json::from_str(options).unwrap();
        let response = authenticator
            .do_registration(Url::parse(ORIGIN).unwrap(), challenge)
            .unwrap();
        serde_json::to_string(&response).unwrap()
    })
    .await;
    authenticator
}

/// Activates `username`; `register` turns the creation options (JSON) into the
/// authenticator's registration response (JSON).
pub(crate) async fn activate_with(
    rig: &Rig,
    browser: &mut Browser,
    username: &Username,
    code: &str,
    register: impl FnOnce(&str) -> String,
) {
    let form = browser.get(&rig.router, "/activate").await;
    let token = csrf(&form);
    let fields = [
        ("csrf", token.as_str()),
        ("username", username.as_str()),
        ("code", code),
        ("new_password", PASSWORD),
    ];
    let step = browser
        .send(&rig.router, "POST", "/activate", &fields)
        .await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.body);
    let response = register(&options(&step));
    let handle = ceremony(&step);
    let fields = [
        ("csrf", token.as_str()),
        ("ceremony", handle.as_str()),
        ("credential", response.as_str()),
    ];
    let done = browser
        .send(&rig.router, "POST", "/activate/webauthn", &fields)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
}

/// Signs in with the password; returns the WebAuthn page.
pub(crate) async fn password_step(
    rig: &Rig,
    browser: &mut Browser,
    username: &str,
    password: &str,
) -> Page {
    let form = browser.get(&rig.router, "/login").await;
    let token = csrf(&form);
    let fields = [
        ("csrf", token.as_str()),
        ("username", username),
        ("password", password),
    ];
    browser.send(&rig.router, "POST", "/login", &fields).await
}

pub(crate) async fn answer(rig: &Rig, browser: &mut Browser, page: &Page, response: &str) -> Page {
    let token = csrf(page);
    let handle = ceremony(page);
    let fields = [
        ("csrf", token.as_str()),
        ("ceremony", handle.as_str()),
        ("credential", response),
    ];
    browser
        .send(&rig.router, "POST", "/login/webauthn", &fields)
        .await
}

pub(crate) fn assertion(authenticator: &mut SoftPasskey, page: &Page, origin: &str) -> String {
    let challenge: RequestChallengeResponse = serde_json::from_str(&options(page)).unwrap();
    let response = authenticator
        .do_authentication(Url::parse(origin).unwrap(), challenge)
        .unwrap();
    serde_json::to_string(&response).unwrap()
}

pub(crate) async fn audit_kinds(rig: &Rig) -> Vec<String> {
    let mut tx = rig.store.store.read().await.unwrap();
    let records = portner_audit::records(&mut tx, 0, 100_000).await.unwrap();
    tx.rollback().await.unwrap();
    records
        .into_iter()
        .map(|record| format!("{} {}", record.kind, record.data))
        .collect()
}
