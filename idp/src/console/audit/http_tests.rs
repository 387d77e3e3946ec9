//! The auditor console over HTTP with its guard: the one-export-at-a-time rule and a router
//! embedded without an audit key. The pages and packs themselves are tested on both
//! databases in `tests/tests/integration/audit_console.rs`.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use portner_shared::config::AuditSettings;
use portner_shared::domain::Role;

use super::AuditDesk;
use crate::console::test_support::{Rig, send};

fn desk(work: &std::path::Path) -> Arc<AuditDesk> {
    let pair = crate::keys::KeyPair::generate("Portner test audit").unwrap();
    let signer = portner_audit::AuditSigner::new(pair.private_key, pair.certificate).unwrap();
    let settings = AuditSettings {
        checkpoint_interval_secs: 3_600,
        checkpoint_events: 10_000,
        checkpoint_file: None,
        checkpoint_syslog: None,
        retention_lifecycle_days: 396,
        retention_saml_days: 180,
        saml_refusals_per_minute: 20,
    };
    Arc::new(AuditDesk::new(
        signer,
        settings,
        Vec::new(),
        work.to_owned(),
    ))
}

fn this_week() -> (String, String) {
    let today = Utc::now().date_naive();
    let from = (today - Duration::days(3)).format("%Y-%m-%d").to_string();
    let to = (today + Duration::days(1)).format("%Y-%m-%d").to_string();
    (from, to)
}

#[tokio::test]
async fn a_second_export_while_one_runs_is_refused_and_writes_nothing() {
    let mut rig = Rig::new().await;
    let work = tempfile::tempdir().unwrap();
    let desk = desk(work.path());
    rig.state.audit = Some(Arc::clone(&desk));
    let auditor = rig.user("91234567", "auditor", &[Role::Auditor]).await;
    let cookie = rig.session(&auditor, true).await;
    let router = rig.router();
    let (from, to) = this_week();
    let form = [("from", from.as_str()), ("to", to.as_str())];

    // Another export holds the slot.
    let running = Arc::clone(&desk.exporting).try_acquire_owned().unwrap();
    let refused = send(
        &router,
        "POST",
        "/audit/export?lang=en",
        Some(&cookie),
        &form,
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("Another export is running"));
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
    assert!(
        !rig.audit()
            .await
            .iter()
            .any(|line| line.starts_with("EVIDENCE_EXPORTED"))
    );

    // Once it is done, the same request succeeds and leaves nothing in the folder.
    drop(running);
    let done = send(&router, "POST", "/audit/export", Some(&cookie), &form).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.starts_with("PK"), "a zip archive");
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
    let trail = rig.audit().await;
    let exported = trail
        .iter()
        .find(|line| line.starts_with("EVIDENCE_EXPORTED"))
        .unwrap();
    assert!(
        exported.contains(&format!("user:{}", auditor.id)),
        "{exported}"
    );
}

#[tokio::test]
async fn without_an_audit_key_the_console_says_it_is_not_set_up() {
    let rig = Rig::new().await;
    let auditor = rig.user("91234567", "auditor", &[Role::Auditor]).await;
    let cookie = rig.session(&auditor, true).await;
    let router = rig.router();

    let page = send(&router, "GET", "/audit?lang=en", Some(&cookie), &[]).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.body.contains("not set up"), "{}", page.body);
    let (from, to) = this_week();
    let form = [("from", from.as_str()), ("to", to.as_str())];
    let export = send(
        &router,
        "POST",
        "/audit/export?lang=en",
        Some(&cookie),
        &form,
    )
    .await;
    assert_eq!(export.status, StatusCode::SERVICE_UNAVAILABLE);
}
