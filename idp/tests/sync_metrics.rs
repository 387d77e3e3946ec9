//! `GET /metrics/sync` reports the outbox queue and the sync's audit counters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use portner_audit::AuditContext;
use portner_idp::app::{AppState, app};
use portner_shared::SystemClock;
use portner_shared::config::Backend;
use portner_shared::crypto::FieldCipher;
use portner_shared::domain::{NewOrganisation, NewUser, SyncMode, SyncOrganisation};
use portner_shared::store::Store;
use tower::ServiceExt;

#[tokio::test]
async fn metrics_show_queue_depth_and_links() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", folder.path().join("m.db").display());
    let cipher = FieldCipher::from_hex(&FieldCipher::generate_hex().unwrap()).unwrap();
    let store = Store::connect(&url, Backend::Sqlite, 2, cipher)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let org = NewOrganisation::new(
        "91234567".parse().unwrap(),
        "K",
        "k.example.dk".parse().unwrap(),
    )
    .unwrap();
    portner_idp::directory::create_organisation(&store, &SystemClock, &AuditContext::cli(), &org)
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let settings = SyncOrganisation {
        org: org.cvr.clone(),
        mode: SyncMode::LocalIdp,
        base_url: "https://localhost:1".into(),
        client_cert_path: "c.pem".into(),
        client_key_path: None,
        trust_roots_path: "r.pem".into(),
        default_email: None,
        scope_group: None,
    };
    tx.upsert_sync_organisation(&settings, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for index in 0..3 {
        let new = NewUser {
            org: org.cvr.clone(),
            username: format!("m{index}").parse().unwrap(),
            display_name: "M M".into(),
            email: format!("m{index}@k.example.dk").parse().unwrap(),
            cpr: None,
            rid: None,
        };
        portner_idp::directory::create_user(&store, &SystemClock, &AuditContext::cli(), &new)
            .await
            .unwrap();
    }
    let pair = portner_idp::keys::KeyPair::generate("Portner test").unwrap();
    let identity = portner_idp::saml::idp_metadata::IdpIdentity {
        entity_id: "https://saml.test.example.dk".into(),
        base_url: "https://login.test.example.dk".into(),
        signing: pair.signing_key(),
        next_signing_certificate: None,
        encryption_certificate: pair.certificate,
    };
    let state = AppState::new(store, Arc::new(SystemClock), identity).unwrap();

    let request = Request::get("/metrics/sync").body(Body::empty()).unwrap();
    let response = app(state).oneshot(request).await.unwrap();

    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains("portner_sync_outbox_actions{state=\"pending\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("portner_sync_linked_users{org=\"91234567\"} 0"),
        "{text}"
    );
}
