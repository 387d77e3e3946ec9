//! The HTTP application: shared state and the router that merges every feature's routes.
//!
//! Tests drive the whole stack through [`app`] with `tower::ServiceExt::oneshot`, without a
//! socket; `portner serve` hands the same router to a listener.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use portner_shared::Clock;
use portner_shared::store::Store;
use tower_http::trace::TraceLayer;

use crate::saml::idp_metadata::IdpIdentity;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
    /// The IdP's SAML identity: entityID, URLs and certificates.
    pub identity: Arc<IdpIdentity>,
    /// Sign-in services: passwords, WebAuthn, sessions (issue 3).
    pub signin: crate::signin::SignIn,
    /// The auditor console's audit key and settings (issue 7); `None` where the router is
    /// embedded without an audit key, and then `/audit` says it is not set up.
    pub audit: Option<Arc<crate::console::audit::AuditDesk>>,
    /// The per-source allowance of audited refusals of untrusted SAML messages.
    pub saml_refusals: crate::saml::refusal_limit::RefusalLimit,
    /// The SMTP relay (`smtp_url`), if configured: the helpdesk may then e-mail codes.
    pub mailer: Option<crate::notify::Mailer>,
}

impl AppState {
    /// State with the default sign-in settings, whose WebAuthn origin is the identity's base
    /// URL, and no auditor console. `portner serve` builds its state from configuration
    /// instead; this is for embedding the router and for tests.
    ///
    /// # Errors
    ///
    /// The base URL cannot be a WebAuthn origin (https, or http on `localhost`).
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        identity: IdpIdentity,
    ) -> Result<Self, crate::signin::SignInError> {
        let settings = portner_shared::config::SignInSettings::default();
        let signin =
            crate::signin::SignIn::new(store.clone(), clock.clone(), settings, &identity.base_url)?;
        Ok(Self {
            store,
            clock,
            identity: Arc::new(identity),
            signin,
            audit: None,
            saml_refusals: crate::saml::refusal_limit::RefusalLimit::default(),
            mailer: None,
        })
    }
}

/// The complete router with middleware.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .merge(crate::health::router())
        .merge(crate::saml::routes::router())
        .merge(crate::signin::pages::router())
        .merge(crate::sync_metrics::router())
        .merge(crate::console::router(state.clone()))
        .merge(crate::api::public_router())
        .merge(crate::scim::router())
        .with_state(state);
    for layer in crate::security_headers::layers() {
        router = router.layer(layer);
    }
    // One span per request, recording method and path only: never headers or bodies, which
    // carry cookies and credentials (STYLE.md 3.9).
    router.layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
        tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
    }))
}

/// Shared set-up for router tests: a store in a temporary folder, an [`AppState`] with fresh
/// keys, and a GET helper.
#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use portner_shared::SystemClock;
    use portner_shared::config::Backend;
    use portner_shared::crypto::FieldCipher;
    use portner_shared::store::Store;
    use tower::ServiceExt;

    use super::{AppState, Router};
    use crate::saml::idp_metadata::IdpIdentity;

    /// A migrated SQLite store; keep the folder alive as long as the store.
    pub async fn store() -> (Store, tempfile::TempDir) {
        let folder = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", folder.path().join("p.db").display());
        let cipher = FieldCipher::from_hex(&FieldCipher::generate_hex().unwrap()).unwrap();
        let store = Store::connect(&url, Backend::Sqlite, 2, cipher)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        (store, folder)
    }

    /// State with freshly generated keys and the system clock.
    pub fn state(store: Store) -> AppState {
        let signing = crate::keys::KeyPair::generate("signing").unwrap();
        let encryption = crate::keys::KeyPair::generate("encryption").unwrap();
        let identity = IdpIdentity {
            entity_id: "https://saml.test.example.dk".into(),
            base_url: "https://login.test.example.dk".into(),
            signing: signing.signing_key(),
            next_signing_certificate: None,
            encryption_certificate: encryption.certificate,
        };
        AppState::new(store, Arc::new(SystemClock), identity).unwrap()
    }

    /// Sends a GET through the whole router; returns status, content type and body.
    pub async fn get(router: Router, path: &str) -> (StatusCode, String, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }
}
