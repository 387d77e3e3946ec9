//! The auditor console `/audit` on both databases (issue 7, items 2 and 6): an auditor signed
//! in at Substantial sees the chain's status and the exportable months, and downloads packs
//! that `verify-pack` accepts; refused periods write neither a file nor an event; other staff
//! and anonymous clients are turned away.

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use portner_audit::evidence::{PackLimits, verify_pack};
use portner_audit::{AuditContext, AuditSigner};
use portner_idp::app::{AppState, app};
use portner_idp::console::audit::AuditDesk;
use portner_idp::signin::SignIn;
use portner_idp::signin::session::{self, Factors};
use portner_shared::config::{AuditSettings, Backend, SignInSettings};
use portner_shared::domain::{
    Cvr, Email, NewOrganisation, NewUser, NsisLevel, Role, User, UserStatus,
};
use portner_shared::{Clock, FixedClock};
use portner_tests::TestStore;
use tempfile::TempDir;
use tower::ServiceExt;

use super::web::{Browser, csrf};

on_both_backends!(
    an_auditor_sees_the_chain_and_exports_packs_that_verify,
    refused_periods_write_no_file_and_no_event,
    helpdesk_operators_and_anonymous_clients_are_refused,
    a_broken_chain_is_shown_with_the_record_it_breaks_at,
    after_a_key_rotation_older_checkpoints_still_count_and_packs_verify,
);

const ORIGIN: &str = "http://localhost:8080";

/// The router with an auditor console, its folders, and the store.
struct Console {
    router: Router,
    store: TestStore,
    clock: FixedClock,
    signer: AuditSigner,
    /// Where the console writes its temporary packs (the data folder in production).
    work: TempDir,
    /// Holds the external checkpoint file.
    sink: TempDir,
}

impl Console {
    fn sink_file(&self) -> PathBuf {
        self.sink.path().join("checkpoints.jsonl")
    }

    /// Every audit record as `(kind, actor)`.
    async fn trail(&self) -> Vec<(String, String)> {
        let mut tx = self.store.store.read().await.unwrap();
        let records = portner_audit::records(&mut tx, 0, 100_000).await.unwrap();
        tx.rollback().await.unwrap();
        records
            .into_iter()
            .map(|record| (record.kind, record.actor))
            .collect()
    }

    async fn count(&self, kind: &str) -> usize {
        self.trail()
            .await
            .iter()
            .filter(|(found, _)| found == kind)
            .count()
    }

    /// Events whose time lies in `[from, to)`.
    async fn events_between(&self, from: &str, to: &str) -> i64 {
        let day = |text: &str| {
            let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
            date.and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_millis()
        };
        let (from, to) = (day(from), day(to));
        let mut tx = self.store.store.read().await.unwrap();
        let records = portner_audit::records(&mut tx, 0, 100_000).await.unwrap();
        tx.rollback().await.unwrap();
        let inside = records
            .iter()
            .filter(|record| record.occurred_at >= from && record.occurred_at < to);
        i64::try_from(inside.count()).unwrap()
    }
}

fn files_in(folder: &Path) -> Vec<String> {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn audit_signer() -> AuditSigner {
    let pair = portner_idp::keys::KeyPair::generate("Portner test audit").unwrap();
    AuditSigner::new(pair.private_key, pair.certificate).unwrap()
}

async fn console(store: TestStore) -> Console {
    console_with(store, audit_signer()).await
}

/// A console whose organisation was created in October (so two months hold events), with
/// default retention and an external checkpoint file, signing with `signer`.
async fn console_with(store: TestStore, signer: AuditSigner) -> Console {
    let clock = portner_tests::fixed_clock();
    let october = FixedClock::at(Utc.with_ymd_and_hms(2026, 10, 15, 9, 0, 0).unwrap());
    let cvr: Cvr = "91234567".parse().unwrap();
    let new = NewOrganisation::new(
        cvr.clone(),
        "Testfirma ApS",
        "testfirma.dk".parse().unwrap(),
    )
    .unwrap();
    portner_idp::directory::create_organisation(&store.store, &october, &AuditContext::cli(), &new)
        .await
        .unwrap();

    let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let settings = SignInSettings {
        password_argon2_memory_kib: 8192,
        password_argon2_iterations: 1,
        ..SignInSettings::default()
    };
    let signin = SignIn::new(store.store.clone(), shared_clock.clone(), settings, ORIGIN).unwrap();
    let identity = super::web::test_identity();
    let work = tempfile::tempdir().unwrap();
    let sink = tempfile::tempdir().unwrap();
    let audit = AuditSettings {
        checkpoint_interval_secs: 3_600,
        checkpoint_events: 10_000,
        checkpoint_file: Some(sink.path().join("checkpoints.jsonl")),
        checkpoint_syslog: None,
        retention_lifecycle_days: 396,
        retention_saml_days: 180,
        saml_refusals_per_minute: 20,
    };
    let matrix = vec![("public_url".to_owned(), ORIGIN.to_owned())];
    let desk = AuditDesk::new(signer.clone(), audit, matrix, work.path().to_owned());
    let state = AppState {
        store: store.store.clone(),
        clock: shared_clock,
        identity,
        signin,
        audit: Some(Arc::new(desk)),
        saml_refusals: portner_idp::saml::refusal_limit::RefusalLimit::default(),
        mailer: None,
    };
    Console {
        router: app(state),
        store,
        clock,
        signer,
        work,
        sink,
    }
}

/// An active user of the organisation at Substantial, holding `role`, and a browser signed
/// in at Substantial.
async fn staff(console: &Console, username: &str, role: Role) -> (User, Browser) {
    let store = &console.store.store;
    let clock = &console.clock;
    let cvr: Cvr = "91234567".parse().unwrap();
    let email: Email = format!("{username}@testfirma.dk").parse().unwrap();
    let new = NewUser::new(cvr, username.parse().unwrap(), "Test Person", email, None).unwrap();
    let user = portner_idp::directory::create_user(store, clock, &AuditContext::cli(), &new)
        .await
        .unwrap();
    let now = clock.now();
    let mut tx = store.begin().await.unwrap();
    tx.set_user_status(user.id, UserStatus::Active, now)
        .await
        .unwrap();
    tx.set_identity_level(user.id, NsisLevel::Substantial, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    portner_idp::directory::grant_role(
        store,
        clock,
        &AuditContext::cli(),
        &user.username,
        role,
        None,
    )
    .await
    .unwrap();
    let mut tx = store.read().await.unwrap();
    let user = tx.user(user.id).await.unwrap().unwrap();
    tx.rollback().await.unwrap();

    // Signing in is covered by the sign-in suite; here the session starts at Substantial.
    let factors = Factors {
        correlation_id: format!("{username}-session"),
        identity_level: NsisLevel::Substantial,
        password_at: Some(now),
        second_factor_at: Some(now),
        credential_level: Some(NsisLevel::Substantial),
    };
    let signin = SignIn::new(
        store.clone(),
        Arc::new(clock.clone()),
        SignInSettings::default(),
        ORIGIN,
    )
    .unwrap();
    let mut tx = store.begin().await.unwrap();
    let cookie = session::create(&mut tx, &signin, &user, &factors, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut browser = Browser::new(7);
    browser.cookies.insert("portner-session".to_owned(), cookie);
    (user, browser)
}

/// A response with its headers and raw bytes (a pack is not text).
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Raw {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .map_or("", |value| value.to_str().unwrap())
    }
}

async fn request(
    router: &Router,
    browser: Option<&Browser>,
    method: &str,
    path: &str,
    form: &[(&str, &str)],
) -> Raw {
    let cookie = browser.map_or_else(String::new, |browser| {
        browser
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    });
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
    let source = browser.map_or_else(|| Browser::new(99).source, |browser| browser.source);
    request.extensions_mut().insert(ConnectInfo(source));
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Raw {
        status,
        headers,
        bytes: bytes.to_vec(),
    }
}

/// Loads `/audit` (which also sets the CSRF cookie) and returns the page and the form token.
async fn overview(console: &Console, browser: &mut Browser, lang: &str) -> (String, String) {
    let page = browser
        .get(&console.router, &format!("/audit?lang={lang}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = csrf(&page);
    (page.body, token)
}

async fn export(
    console: &Console,
    browser: &Browser,
    lang: &str,
    token: &str,
    from: &str,
    to: &str,
) -> Raw {
    let path = format!("/audit/export?lang={lang}");
    let form = [("csrf", token), ("from", from), ("to", to)];
    request(&console.router, Some(browser), "POST", &path, &form).await
}

async fn an_auditor_sees_the_chain_and_exports_packs_that_verify(store: TestStore) {
    let console = console(store).await;
    let (auditor, mut browser) = staff(&console, "auditor", Role::Auditor).await;

    let (page, token) = overview(&console, &mut browser, "en").await;
    assert!(page.contains("The chain is intact"), "{page}");
    let count = console.trail().await.len();
    assert!(
        page.contains(&format!(r#"id="record-count">{count}<"#)),
        "{page}"
    );
    assert!(
        page.contains(r#"id="anchor">sequence 0 (start of the chain)<"#),
        "{page}"
    );
    assert!(
        page.contains(r#"id="newest-checkpoint">none yet<"#),
        "{page}"
    );
    let fingerprint = console.signer.fingerprint();
    assert!(page.contains(&format!(r#"id="fingerprint">{fingerprint}<"#)));
    // October and December hold events; November none, so it is not listed.
    let october = console.events_between("2026-10-01", "2026-11-01").await;
    let december = console.events_between("2026-12-01", "2027-01-01").await;
    assert!(october > 0 && december > 0);
    assert!(
        page.contains(&format!(
            "<th scope=\"row\">2026-10</th><td>2026-10-01 – 2026-11-01</td><td>{october}</td>"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<th scope=\"row\">2026-12</th><td>2026-12-01 – 2027-01-01</td><td>{december}</td>"
        )),
        "{page}"
    );
    assert!(!page.contains(">2026-11<"), "{page}");
    assert!(page.contains(r#"name="from" type="date""#), "{page}");

    // The Danish page says the same.
    let (danish, _) = overview(&console, &mut browser, "da").await;
    assert!(danish.contains("Kæden er intakt"), "{danish}");
    assert!(danish.contains("Perioder"), "{danish}");

    // A month's pack, as its button sends it.
    let answer = export(&console, &browser, "en", &token, "2026-12-01", "2027-01-01").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header(header::CONTENT_TYPE), "application/zip");
    assert_eq!(
        answer.header(header::CONTENT_DISPOSITION),
        r#"attachment; filename="portner-evidence-2026-12-01-2027-01-01.zip""#
    );
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
    assert_eq!(
        answer.header(header::CONTENT_LENGTH),
        answer.bytes.len().to_string()
    );
    let received = tempfile::tempdir().unwrap();
    let pack = received.path().join("pack.zip");
    std::fs::write(&pack, &answer.bytes).unwrap();
    let verdict = verify_pack(&pack, Some(&fingerprint), PackLimits::default()).unwrap();
    assert!(verdict.is_verified(), "{}", verdict.text());
    assert!(
        verdict.text().starts_with("Evidence pack VERIFIED"),
        "{}",
        verdict.text()
    );
    assert!(
        verdict.text().contains(&format!("{december} events")),
        "{}",
        verdict.text()
    );
    // Nothing stays behind in the data folder.
    assert!(files_in(console.work.path()).is_empty());

    // The export is on the record as the auditor's; its checkpoint reached the external file.
    let trail = console.trail().await;
    let exported: Vec<_> = trail
        .iter()
        .filter(|(kind, _)| kind == "EVIDENCE_EXPORTED")
        .collect();
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].1, format!("user:{}", auditor.id));
    let sink = std::fs::read_to_string(console.sink_file()).unwrap();
    assert_eq!(sink.lines().count(), 1, "{sink}");

    // An earlier month also verifies, and the page now shows the checkpoint and the file.
    let answer = export(&console, &browser, "en", &token, "2026-10-01", "2026-11-01").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    std::fs::write(&pack, &answer.bytes).unwrap();
    let verdict = verify_pack(&pack, Some(&fingerprint), PackLimits::default()).unwrap();
    assert!(verdict.is_verified(), "{}", verdict.text());
    assert!(verdict.text().contains(&format!("{october} events")));
    assert_eq!(console.count("EVIDENCE_EXPORTED").await, 2);

    let (page, _) = overview(&console, &mut browser, "en").await;
    assert!(page.contains("The chain is intact"), "{page}");
    assert!(
        page.contains("including the external checkpoint file"),
        "{page}"
    );
    assert!(!page.contains("none yet"), "{page}");
    assert!(files_in(console.work.path()).is_empty());
}

async fn refused_periods_write_no_file_and_no_event(store: TestStore) {
    let console = console(store).await;
    let (_, mut browser) = staff(&console, "auditor", Role::Auditor).await;
    let (_, token) = overview(&console, &mut browser, "en").await;
    let before = console.trail().await.len();

    let cases = [
        // (from, to, language, field in error, message)
        (
            "2026-12-10",
            "2026-12-01",
            "en",
            "to",
            "The end date must be after the start date.",
        ),
        (
            "2026-12-10",
            "2026-12-01",
            "da",
            "to",
            "Slutdatoen skal ligge efter startdatoen.",
        ),
        (
            "2026-12-01",
            "2026-12-01",
            "en",
            "to",
            "The end date must be after the start date.",
        ),
        (
            "2025-01-01",
            "2025-02-01",
            "en",
            "from",
            "The period starts before the retention limit (396 days): events before \
             2025-11-03 may have been pruned",
        ),
        (
            "2025-01-01",
            "2025-02-01",
            "da",
            "from",
            "Perioden begynder før opbevaringsgrænsen (396 dage)",
        ),
        (
            "2025-11-03",
            "2028-02-01",
            "en",
            "to",
            "The period is longer than 800 days.",
        ),
        ("", "2026-12-01", "en", "from", "Enter a start date."),
        ("2026-12-01", "", "da", "to", "Angiv en slutdato."),
        (
            "2026-13-01",
            "2026-12-01",
            "en",
            "from",
            "Write the start date as YYYY-MM-DD",
        ),
        (
            "2026-12-01",
            "1.1.2027",
            "en",
            "to",
            "Write the end date as YYYY-MM-DD",
        ),
    ];
    for (from, to, lang, field, message) in cases {
        let answer = export(&console, &browser, lang, &token, from, to).await;
        let page = answer.text();
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{from}..{to}: {page}"
        );
        assert!(page.contains(message), "{from}..{to}: {page}");
        // The message is tied to its field and listed in the summary that links to it.
        let error_id = format!(r#"id="{field}-error""#);
        assert!(page.contains(&error_id), "{from}..{to}: {page}");
        assert!(
            page.contains(&format!(r#"aria-describedby="{field}-error""#)),
            "{page}"
        );
        assert!(page.contains(&format!("href=\"#{field}\"")), "{page}");
        assert!(page.contains(r#"role="alert""#), "{page}");
        assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
        // The entered values come back, so the auditor can correct them.
        assert!(
            page.contains(&format!(
                r#"name="from" type="date" required min="2025-11-03" value="{from}""#
            )),
            "{page}"
        );
    }

    // A form without its token is refused before anything runs.
    let answer = export(
        &console,
        &browser,
        "en",
        "forged",
        "2026-12-01",
        "2027-01-01",
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text());

    assert!(files_in(console.work.path()).is_empty());
    assert!(!console.sink_file().exists());
    assert_eq!(console.trail().await.len(), before, "nothing was recorded");
    assert_eq!(console.count("EVIDENCE_EXPORTED").await, 0);
}

async fn helpdesk_operators_and_anonymous_clients_are_refused(store: TestStore) {
    let console = console(store).await;
    let (operator, mut browser) = staff(&console, "operator", Role::Helpdesk).await;
    // The operator has a CSRF cookie and a valid token from a helpdesk page's forms.
    let own_page = format!("/helpdesk/users/{}", operator.id);
    let page = browser.get(&console.router, &own_page).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = csrf(&page);

    let page = request(&console.router, Some(&browser), "GET", "/audit", &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.text());
    let answer = export(&console, &browser, "en", &token, "2026-12-01", "2027-01-01").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text());
    assert_ne!(answer.header(header::CONTENT_TYPE), "application/zip");

    let trail = console.trail().await;
    let refused = trail
        .iter()
        .filter(|(kind, actor)| {
            kind == "ACCESS_REFUSED" && actor == &format!("user:{}", operator.id)
        })
        .count();
    assert_eq!(refused, 2, "{trail:?}");

    for (method, path) in [("GET", "/audit"), ("POST", "/audit/export")] {
        let form = [("from", "2026-12-01"), ("to", "2027-01-01")];
        let answer = request(&console.router, None, method, path, &form).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{method} {path}");
        assert_eq!(answer.header(header::LOCATION), "/login");
    }

    assert!(files_in(console.work.path()).is_empty());
    assert_eq!(console.count("EVIDENCE_EXPORTED").await, 0);
}

async fn a_broken_chain_is_shown_with_the_record_it_breaks_at(store: TestStore) {
    let console = console(store).await;
    let (_, mut browser) = staff(&console, "auditor", Role::Auditor).await;

    // Someone with database rights drops the guard and deletes record 2 (of 3).
    let guard = match console.store.store.backend() {
        Backend::Sqlite => "DROP TRIGGER audit_events_delete_only_up_to_anchor",
        Backend::Postgres => "DROP TRIGGER audit_events_no_change ON audit_events",
    };
    console.store.store.execute_unprepared(guard).await.unwrap();
    console
        .store
        .store
        .execute_unprepared("DELETE FROM audit_events WHERE seq = 2")
        .await
        .unwrap();

    let (page, _) = overview(&console, &mut browser, "en").await;
    assert!(
        page.contains("The chain is BROKEN</strong> at record <span id=\"broken-seq\">2</span>"),
        "{page}"
    );
    assert!(page.contains("record missing (deleted)"), "{page}");
    assert!(page.contains(r#"id="record-count">–<"#), "{page}");
    let (danish, _) = overview(&console, &mut browser, "da").await;
    assert!(danish.contains("Kæden er BRUDT"), "{danish}");
    assert!(danish.contains("hændelsen mangler (slettet)"), "{danish}");
}

async fn after_a_key_rotation_older_checkpoints_still_count_and_packs_verify(store: TestStore) {
    // The console runs with the successor key; the outgoing key signed the chain so far.
    let old = audit_signer();
    let new = audit_signer().with_retired(vec![old.certificate().clone()]);
    let console = console_with(store, new).await;
    let now = console.clock.now();
    portner_audit::checkpoint::write_checkpoint(&console.store.store, now, &old, None)
        .await
        .unwrap()
        .unwrap();
    let (_, mut browser) = staff(&console, "auditor", Role::Auditor).await;

    let (page, token) = overview(&console, &mut browser, "en").await;
    assert!(page.contains("The chain is intact"), "{page}");
    assert!(page.contains("Retired audit certificates"), "{page}");
    assert!(
        page.contains(&format!("<li><code>{}</code></li>", old.fingerprint())),
        "{page}"
    );

    let answer = export(&console, &browser, "en", &token, "2026-10-01", "2027-01-01").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let received = tempfile::tempdir().unwrap();
    let pack = received.path().join("pack.zip");
    std::fs::write(&pack, &answer.bytes).unwrap();
    let fingerprint = console.signer.fingerprint();
    let verdict = verify_pack(&pack, Some(&fingerprint), PackLimits::default()).unwrap();
    assert!(verdict.is_verified(), "{}", verdict.text());
    assert_eq!(verdict.retired_fingerprints, vec![old.fingerprint()]);
}
