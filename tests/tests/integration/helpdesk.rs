//! Roles and the helpdesk on both databases (issue 5): the store's role, verification,
//! password-change and search records, and the helpdesk end to end: a verification, a code,
//! the user's activation with a soft passkey and a sign-in whose level is the verification's;
//! and the second operator a reset of an active account waits for (HD-3), with its store
//! rules and its lapse 30 minutes after the verification.

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use chrono::Duration;
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_idp::app::{AppState, app};
use portner_idp::signin::SignIn;
use portner_idp::signin::session::{self, Factors};
use portner_shared::config::SignInSettings;
use portner_shared::domain::{
    Cvr, Email, IdDocument, IdentityProofing, NewOrganisation, NewUser, NsisLevel, ProofingMethod,
    ResetApproval, Role, RoleAssignment, User, UserStatus, Username,
};
use portner_shared::store::StoreError;
use portner_shared::{Clock, FixedClock};
use portner_tests::TestStore;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use super::web::{Browser, Page, between};

on_both_backends!(
    roles_are_granted_once_per_organisation_and_revoked,
    verifications_keep_their_document_and_requirements_their_operator,
    search_matches_wildcard_characters_literally,
    a_users_recent_events_come_newest_first_and_filtered_by_kind,
    helpdesk_reset_to_sign_in_at_the_verifications_level,
    verifications_back_actions_for_30_minutes_and_codes_work_for_60,
    reset_approvals_are_given_once_used_once_and_lapse,
    a_reset_of_an_active_account_waits_for_a_second_operator,
    a_code_is_emailed_through_a_real_relay_or_shown_when_it_fails,
);

const ORIGIN: &str = "http://localhost:8080";
const PASSWORD: &str = "copper kettle morning 4711";

async fn org(store: &TestStore, clock: &FixedClock, cvr: &str) -> Cvr {
    let cvr: Cvr = cvr.parse().unwrap();
    let new = NewOrganisation::new(
        cvr.clone(),
        "Testfirma ApS",
        "testfirma.dk".parse().unwrap(),
    )
    .unwrap();
    portner_idp::directory::create_organisation(&store.store, clock, &AuditContext::cli(), &new)
        .await
        .unwrap();
    cvr
}

async fn user(store: &TestStore, clock: &FixedClock, cvr: &Cvr, username: &str) -> User {
    let email: Email = format!("{username}@testfirma.dk").parse().unwrap();
    let name = format!("Person {username}");
    let new = NewUser::new(cvr.clone(), username.parse().unwrap(), &name, email, None).unwrap();
    portner_idp::directory::create_user(&store.store, clock, &AuditContext::cli(), &new)
        .await
        .unwrap()
}

async fn roles_are_granted_once_per_organisation_and_revoked(store: TestStore) {
    let clock = portner_tests::fixed_clock();
    let first = org(&store, &clock, "91234567").await;
    let second = org(&store, &clock, "92345678").await;
    let ida = user(&store, &clock, &first, "ida").await;
    let grant = |org: &Cvr, role: Role| RoleAssignment {
        user_id: ida.id,
        org: org.clone(),
        role,
        granted_by: "cli:test".to_owned(),
        granted_at: clock.now(),
    };

    let mut tx = store.store.begin().await.unwrap();
    assert!(tx.grant_role(&grant(&first, Role::Helpdesk)).await.unwrap());
    assert!(!tx.grant_role(&grant(&first, Role::Helpdesk)).await.unwrap());
    assert!(
        tx.grant_role(&grant(&second, Role::Helpdesk))
            .await
            .unwrap()
    );
    assert!(tx.grant_role(&grant(&first, Role::Auditor)).await.unwrap());
    tx.commit().await.unwrap();
    // A failed statement ends a PostgreSQL transaction, so this one gets its own.
    let mut tx = store.store.begin().await.unwrap();
    let unknown: Cvr = "93456789".parse().unwrap();
    let missing = tx.grant_role(&grant(&unknown, Role::Administrator)).await;
    assert!(matches!(missing, Err(StoreError::MissingReference { .. })));
    tx.rollback().await.unwrap();

    let mut tx = store.store.begin().await.unwrap();
    let held: Vec<(String, Role)> = tx
        .roles_of(ida.id)
        .await
        .unwrap()
        .into_iter()
        .map(|assignment| (assignment.org.to_string(), assignment.role))
        .collect();
    assert_eq!(
        held,
        [
            ("91234567".to_owned(), Role::Auditor),
            ("91234567".to_owned(), Role::Helpdesk),
            ("92345678".to_owned(), Role::Helpdesk),
        ]
    );
    assert!(
        tx.revoke_role(ida.id, &second, Role::Helpdesk)
            .await
            .unwrap()
    );
    assert!(
        !tx.revoke_role(ida.id, &second, Role::Helpdesk)
            .await
            .unwrap()
    );
    assert_eq!(tx.roles_of(ida.id).await.unwrap().len(), 2);
    tx.commit().await.unwrap();

    // The directory service writes the grant and its event together.
    let username: Username = "ida".parse().unwrap();
    let context = AuditContext::cli();
    let (_, new) = portner_idp::directory::grant_role(
        &store.store,
        &clock,
        &context,
        &username,
        Role::Administrator,
        None,
    )
    .await
    .unwrap();
    assert!(new);
    let mut tx = store.store.read().await.unwrap();
    let records = portner_audit::records(&mut tx, 0, 1000).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(records.iter().any(|record| record.kind == "ROLE_GRANTED"));
}

async fn verifications_keep_their_document_and_requirements_their_operator(store: TestStore) {
    let clock = portner_tests::fixed_clock();
    let cvr = org(&store, &clock, "91234567").await;
    let ida = user(&store, &clock, &cvr, "ida").await;
    let record = IdentityProofing {
        id: 0,
        user_id: ida.id,
        method: ProofingMethod::VideoCall,
        reference: "residence card 12AB".to_owned(),
        level: NsisLevel::Low,
        verified_by: "user:operator".to_owned(),
        verified_at: clock.now(),
        document_type: Some(IdDocument::ResidenceCard),
    };

    let mut tx = store.store.begin().await.unwrap();
    let stored = tx.insert_identity_verification(&record).await.unwrap();
    let plain = tx
        .insert_identity_proofing(
            ida.id,
            ProofingMethod::CallBack,
            "case 9",
            NsisLevel::Low,
            "cli",
            clock.now(),
        )
        .await
        .unwrap();
    assert!(
        tx.require_password_change(ida.id, "user:operator", clock.now())
            .await
            .unwrap()
    );
    assert!(
        !tx.require_password_change(ida.id, "user:other", clock.now())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    let mut tx = store.store.begin().await.unwrap();
    let read = tx.identity_proofing(stored.id).await.unwrap().unwrap();
    assert_eq!(
        read,
        IdentityProofing {
            id: stored.id,
            ..record
        }
    );
    assert_eq!(
        tx.identity_proofing(plain.id)
            .await
            .unwrap()
            .unwrap()
            .document_type,
        None
    );
    assert_eq!(tx.identity_proofings(ida.id).await.unwrap().len(), 2);
    assert_eq!(
        tx.password_change_required(ida.id).await.unwrap(),
        Some(clock.now())
    );
    assert!(tx.clear_password_change_requirement(ida.id).await.unwrap());
    assert_eq!(tx.password_change_required(ida.id).await.unwrap(), None);
    tx.commit().await.unwrap();
}

async fn search_matches_wildcard_characters_literally(store: TestStore) {
    let clock = portner_tests::fixed_clock();
    let cvr = org(&store, &clock, "91234567").await;
    let other = org(&store, &clock, "92345678").await;
    user(&store, &clock, &cvr, "a_b").await;
    user(&store, &clock, &cvr, "axb").await;
    user(&store, &clock, &other, "a_b2").await;

    let mut tx = store.store.read().await.unwrap();
    let names = |users: Vec<User>| -> Vec<String> {
        users
            .into_iter()
            .map(|user| user.username.to_string())
            .collect()
    };
    assert_eq!(names(tx.search_users(&cvr, "a_b").await.unwrap()), ["a_b"]);
    assert_eq!(
        names(tx.search_users(&cvr, "PERSON A").await.unwrap()),
        ["a_b", "axb"]
    );
    assert!(tx.search_users(&cvr, "%").await.unwrap().is_empty());
    assert_eq!(
        names(tx.search_users(&cvr, "axb@TESTFIRMA").await.unwrap()),
        ["axb"]
    );
    tx.rollback().await.unwrap();
}

async fn a_users_recent_events_come_newest_first_and_filtered_by_kind(store: TestStore) {
    let clock = portner_tests::fixed_clock();
    let cvr = org(&store, &clock, "91234567").await;
    let ida = user(&store, &clock, &cvr, "ida").await;
    let context = AuditContext::system();
    let mut tx = store.store.begin().await.unwrap();
    for reason in ["WRONG_PASSWORD", "LOCKED"] {
        let event = AuditEvent::SignInFailed {
            user_id: Some(ida.id),
            factor: "password".to_owned(),
            reason: reason.to_owned(),
        };
        portner_audit::append(
            &mut tx,
            clock.now(),
            &context,
            &Subject::User(ida.id),
            &event,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.store.read().await.unwrap();
    let subject = Subject::User(ida.id);
    let recent = portner_audit::recent_about(&mut tx, &subject, &["SIGN_IN_FAILED"], 10)
        .await
        .unwrap();
    let created = portner_audit::recent_about(&mut tx, &subject, &["USER_CREATED"], 10)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(recent.len(), 2);
    assert!(recent[0].seq > recent[1].seq);
    assert!(recent[0].data.contains("LOCKED"));
    assert_eq!(created.len(), 1);
}

/// A browser stand-in: a cookie jar and a fixed source address.
fn field<'a>(page: &'a Page, name: &str) -> &'a str {
    between(&page.body, &format!(r#"name="{name}" value=""#), "\"")
}

fn webauthn_options(page: &Page) -> &str {
    let block = between(&page.body, r#"id="webauthn-options""#, "</script>");
    block.split_once('>').unwrap().1
}

struct Desk {
    router: Router,
    store: TestStore,
    signin: SignIn,
}

/// The router with cheap Argon2id parameters, and an operator browser holding a session at
/// Substantial for a helpdesk operator of `cvr`.
async fn desk(store: TestStore, clock: &FixedClock, cvr: &Cvr) -> (Desk, Browser) {
    desk_with(store, clock, cvr, None).await
}

/// [`desk`] with an SMTP relay for e-mailed codes.
async fn desk_with(
    store: TestStore,
    clock: &FixedClock,
    cvr: &Cvr,
    mailer: Option<portner_idp::notify::Mailer>,
) -> (Desk, Browser) {
    let settings = SignInSettings {
        password_argon2_memory_kib: 8192,
        password_argon2_iterations: 1,
        ..SignInSettings::default()
    };
    let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let signin = SignIn::new(store.store.clone(), shared_clock.clone(), settings, ORIGIN).unwrap();
    let identity = super::web::test_identity();
    let state = AppState {
        store: store.store.clone(),
        clock: shared_clock,
        identity,
        signin: signin.clone(),
        audit: None,
        saml_refusals: portner_idp::saml::refusal_limit::RefusalLimit::default(),
        mailer,
    };

    let router = app(state);
    let desk = Desk {
        router,
        store,
        signin,
    };
    let browser = operator_browser(&desk, clock, cvr, "operator", 5).await;
    (desk, browser)
}

/// A browser signed in at Substantial as a new helpdesk operator of `cvr`, from
/// 192.0.2.`octet`.
async fn operator_browser(
    desk: &Desk,
    clock: &FixedClock,
    cvr: &Cvr,
    username: &str,
    octet: u8,
) -> Browser {
    let (store, signin) = (&desk.store, &desk.signin);
    let operator = user(store, clock, cvr, username).await;
    let now = clock.now();
    let mut tx = store.store.begin().await.unwrap();
    tx.set_user_status(operator.id, UserStatus::Active, now)
        .await
        .unwrap();
    tx.set_identity_level(operator.id, NsisLevel::Substantial, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    portner_idp::directory::grant_role(
        &store.store,
        clock,
        &AuditContext::cli(),
        &operator.username,
        Role::Helpdesk,
        None,
    )
    .await
    .unwrap();
    // The operator's own sign-in is covered by the sign-in suite; here it starts signed in.
    let factors = Factors {
        correlation_id: "operator".to_owned(),
        identity_level: NsisLevel::Substantial,
        password_at: Some(now),
        second_factor_at: Some(now),
        credential_level: Some(NsisLevel::Substantial),
    };
    let mut tx = store.store.begin().await.unwrap();
    let cookie = session::create(&mut tx, signin, &operator, &factors, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut browser = Browser::new(octet);
    browser.cookies.insert("portner-session".to_owned(), cookie);
    browser
}

async fn helpdesk_reset_to_sign_in_at_the_verifications_level(store: TestStore) {
    let clock = portner_tests::fixed_clock();
    let cvr = org(&store, &clock, "91234567").await;
    let (desk, mut operator) = desk(store, &clock, &cvr).await;
    let caller = user(&desk.store, &clock, &cvr, "caller").await;

    // Find the caller, record a call-back verification (Low at most), issue the code.
    let found = operator.get(&desk.router, "/helpdesk?q=caller").await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let user_path = format!("/helpdesk/users/{}", caller.id);
    assert!(found.body.contains(&user_path));
    let page = operator.get(&desk.router, &user_path).await;
    let csrf = field(&page, "csrf").to_owned();
    let verification = [
        ("csrf", csrf.as_str()),
        ("method", "call_back"),
        ("reference", "called back on the number in the HR record"),
        ("level", "low"),
    ];
    let recorded = operator
        .send(
            &desk.router,
            "POST",
            &format!("{user_path}/verify"),
            &verification,
        )
        .await;
    assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    let page = operator.get(&desk.router, &user_path).await;
    let proofing = field(&page, "proofing").to_owned();
    let action = [
        ("csrf", csrf.as_str()),
        ("proofing", proofing.as_str()),
        ("reason", "new employee, first sign-in"),
    ];
    let issued = operator
        .send(&desk.router, "POST", &format!("{user_path}/code"), &action)
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    let code = between(&issued.body, r#"id="issued-code">"#, "<").to_owned();

    // The caller activates with the code, choosing the password and binding a key.
    clock.advance(Duration::minutes(10));
    let mut browser = Browser::new(30);
    let form = browser.get(&desk.router, "/activate").await;
    let token = field(&form, "csrf").to_owned();
    let fields = [
        ("csrf", token.as_str()),
        ("username", "caller"),
        ("code", code.as_str()),
        ("new_password", PASSWORD),
    ];
    let step = browser
        .send(&desk.router, "POST", "/activate", &fields)
        .await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.body);
    let challenge: CreationChallengeResponse =
        serde_json::from_str(webauthn_options(&step)).unwrap();
    let mut key = SoftPasskey::new(true);
    let registration = key
        .do_registration(Url::parse(ORIGIN).unwrap(), challenge)
        .unwrap();
    let registration = serde_json::to_string(&registration).unwrap();
    let handle = field(&step, "ceremony").to_owned();
    let finish = [
        ("csrf", token.as_str()),
        ("ceremony", handle.as_str()),
        ("credential", registration.as_str()),
    ];
    let done = browser
        .send(&desk.router, "POST", "/activate/webauthn", &finish)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    // A later sign-in reaches the verification's level, not more.
    let account = browser.get(&desk.router, "/account").await;
    let csrf_caller = field(&account, "csrf").to_owned();
    browser
        .send(
            &desk.router,
            "POST",
            "/logout",
            &[("csrf", csrf_caller.as_str())],
        )
        .await;
    let login = [
        ("csrf", csrf_caller.as_str()),
        ("username", "caller"),
        ("password", PASSWORD),
    ];
    let step = browser.send(&desk.router, "POST", "/login", &login).await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.body);
    let challenge: RequestChallengeResponse =
        serde_json::from_str(webauthn_options(&step)).unwrap();
    let assertion = key
        .do_authentication(Url::parse(ORIGIN).unwrap(), challenge)
        .unwrap();
    let assertion = serde_json::to_string(&assertion).unwrap();
    let handle = field(&step, "ceremony").to_owned();
    let answer = [
        ("csrf", csrf_caller.as_str()),
        ("ceremony", handle.as_str()),
        ("credential", assertion.as_str()),
    ];
    let signed_in = browser
        .send(&desk.router, "POST", "/login/webauthn", &answer)
        .await;
    assert_eq!(
        signed_in.location.as_deref(),
        Some("/account"),
        "{}",
        signed_in.body
    );
    let account = browser.get(&desk.router, "/account").await;
    assert!(
        account.body.contains(r#"id="session-level">Low"#),
        "{}",
        account.body
    );

    // The trail shows each step, in order, the helpdesk steps by the operator.
    let mut tx = desk.store.store.read().await.unwrap();
    let records = portner_audit::records(&mut tx, 0, 100_000).await.unwrap();
    tx.rollback().await.unwrap();
    let position = |kind: &str| {
        records
            .iter()
            .position(|record| {
                record.kind == kind && record.subject == format!("user:{}", caller.id)
            })
            .unwrap_or_else(|| panic!("{kind} missing"))
    };
    let steps = [
        "HELPDESK_IDENTITY_VERIFIED",
        "ACTIVATION_CODE_ISSUED",
        "HELPDESK_ACTION_TAKEN",
        "ACCOUNT_ACTIVATED",
        "SIGN_IN_SUCCEEDED",
    ];
    let positions: Vec<usize> = steps.iter().map(|kind| position(kind)).collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{positions:?}"
    );
    for kind in &steps[..3] {
        let record = &records[position(kind)];
        assert!(
            record.actor.starts_with("user:"),
            "{kind} by {}",
            record.actor
        );
        assert_ne!(record.actor, format!("user:{}", caller.id));
    }
    let action = &records[position("HELPDESK_ACTION_TAKEN")];
    assert!(
        action.data.contains(r#""method":"call_back""#),
        "{}",
        action.data
    );
    assert!(
        action.data.contains(r#""level_after":"low""#),
        "{}",
        action.data
    );
    let activated = &records[position("ACCOUNT_ACTIVATED")];
    assert!(
        activated.data.contains(r#""level":"low""#),
        "{}",
        activated.data
    );
}

/// Records a verification as the operator and returns its ID and the page's CSRF token.
async fn verified(desk: &Desk, operator: &mut Browser, user_path: &str) -> (String, String) {
    let page = operator.get(&desk.router, user_path).await;
    let csrf = field(&page, "csrf").to_owned();
    let verification = [
        ("csrf", csrf.as_str()),
        ("method", "in_person"),
        ("document_type", "passport"),
        ("reference", "passport AB1234567"),
        ("level", "substantial"),
    ];
    let path = format!("{user_path}/verify");
    let recorded = operator
        .send(&desk.router, "POST", &path, &verification)
        .await;
    assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    let page = operator.get(&desk.router, user_path).await;
    (field(&page, "proofing").to_owned(), csrf)
}

async fn verifications_back_actions_for_30_minutes_and_codes_work_for_60(store: TestStore) {
    let clock = portner_tests::fixed_clock();
    let cvr = org(&store, &clock, "91234567").await;
    let (desk, mut operator) = desk(store, &clock, &cvr).await;
    let caller = user(&desk.store, &clock, &cvr, "caller").await;
    let user_path = format!("/helpdesk/users/{}", caller.id);

    // A verification older than 30 minutes backs nothing, and the page asks for a new one.
    let (proofing, csrf) = verified(&desk, &mut operator, &user_path).await;
    clock.advance(Duration::minutes(31));
    let action = [
        ("csrf", csrf.as_str()),
        ("proofing", proofing.as_str()),
        ("reason", "forgot password"),
    ];
    let code_path = format!("{user_path}/code");
    let stale = operator
        .send(&desk.router, "POST", &code_path, &action)
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN, "{}", stale.body);
    assert!(
        stale.body.contains("Registrér en identitetskontrol"),
        "{}",
        stale.body
    );
    let page = operator.get(&desk.router, &user_path).await;
    assert!(
        !page.body.contains(r#"name="proofing""#),
        "actions offered without a verification"
    );

    // A code stops working after 60 minutes (HD-4).
    let (proofing, csrf) = verified(&desk, &mut operator, &user_path).await;
    let action = [
        ("csrf", csrf.as_str()),
        ("proofing", proofing.as_str()),
        ("reason", "forgot password"),
    ];
    let issued = operator
        .send(&desk.router, "POST", &code_path, &action)
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    let code = between(&issued.body, r#"id="issued-code">"#, "<").to_owned();
    clock.advance(Duration::minutes(61));
    let mut browser = Browser::new(31);
    let form = browser.get(&desk.router, "/activate").await;
    let token = field(&form, "csrf").to_owned();
    let fields = [
        ("csrf", token.as_str()),
        ("username", "caller"),
        ("code", code.as_str()),
        ("new_password", PASSWORD),
    ];
    let late = browser
        .send(&desk.router, "POST", "/activate", &fields)
        .await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED, "{}", late.body);
}

async fn reset_approvals_are_given_once_used_once_and_lapse(store: TestStore) {
    let clock = portner_tests::fixed_clock();
    let cvr = org(&store, &clock, "91234567").await;
    let other = org(&store, &clock, "92345678").await;
    let ida = user(&store, &clock, &cvr, "ida").await;
    let first = user(&store, &clock, &cvr, "first").await;
    let second = user(&store, &clock, &cvr, "second").await;
    let now = clock.now();
    let mut tx = store.store.begin().await.unwrap();
    let by = format!("user:{}", first.id);
    let proofing = tx
        .insert_identity_proofing(
            ida.id,
            ProofingMethod::InPerson,
            "AB1",
            NsisLevel::Low,
            &by,
            now,
        )
        .await
        .unwrap();
    let request = ResetApproval {
        id: 0,
        user_id: ida.id,
        proofing_id: proofing.id,
        requested_by: first.id,
        reason: "lost key".to_owned(),
        requested_at: now,
        expires_at: now + Duration::minutes(30),
        approved_by: None,
        approved_at: None,
        used_at: None,
    };
    let request = tx.insert_reset_approval(&request).await.unwrap();
    let lapsing = ResetApproval {
        expires_at: now + Duration::minutes(1),
        ..request.clone()
    };
    let lapsing = tx.insert_reset_approval(&lapsing).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.store.begin().await.unwrap();
    assert_eq!(
        tx.awaiting_reset_approvals(&cvr, now).await.unwrap().len(),
        2
    );
    assert!(
        tx.awaiting_reset_approvals(&other, now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !tx.use_reset_approval(request.id, now).await.unwrap(),
        "not approved yet"
    );
    assert!(
        !tx.approve_reset(request.id, first.id, now).await.unwrap(),
        "own request"
    );
    assert!(tx.approve_reset(request.id, second.id, now).await.unwrap());
    assert!(
        !tx.approve_reset(request.id, ida.id, now).await.unwrap(),
        "approved once"
    );
    let later = now + Duration::minutes(2);
    assert!(
        !tx.approve_reset(lapsing.id, second.id, later)
            .await
            .unwrap(),
        "lapsed"
    );
    let stored = tx.reset_approval(request.id).await.unwrap().unwrap();
    assert_eq!(stored.approved_by, Some(second.id));
    assert_eq!(
        stored.approved_at.map(|at| at.timestamp_millis()),
        Some(now.timestamp_millis())
    );
    assert_eq!(stored.reason, "lost key");
    assert!(
        tx.awaiting_reset_approvals(&cvr, later)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tx.use_reset_approval(request.id, later).await.unwrap());
    assert!(
        !tx.use_reset_approval(request.id, later).await.unwrap(),
        "used once"
    );
    let live: Vec<i64> = tx
        .live_reset_approvals(ida.id, now)
        .await
        .unwrap()
        .iter()
        .map(|approval| approval.id)
        .collect();
    assert_eq!(live, [lapsing.id]);
    tx.commit().await.unwrap();
}

/// The page's reset-request approval field, if the page offers one.
fn approval_field(page: &Page) -> Option<&str> {
    page.body
        .contains(r#"name="approval""#)
        .then(|| field(page, "approval"))
}

async fn a_reset_of_an_active_account_waits_for_a_second_operator(store: TestStore) {
    let clock = portner_tests::fixed_clock();
    let cvr = org(&store, &clock, "91234567").await;
    let (desk, mut operator) = desk(store, &clock, &cvr).await;
    let caller = user(&desk.store, &clock, &cvr, "caller").await;
    let mut tx = desk.store.store.begin().await.unwrap();
    tx.set_user_status(caller.id, UserStatus::Active, clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let user_path = format!("/helpdesk/users/{}", caller.id);
    let code_path = format!("{user_path}/code");

    // The first operator asks: 202, the account untouched.
    let (proofing, csrf) = verified(&desk, &mut operator, &user_path).await;
    let action = [
        ("csrf", csrf.as_str()),
        ("proofing", proofing.as_str()),
        ("reason", "lost security key"),
    ];
    let asked = operator
        .send(&desk.router, "POST", &code_path, &action)
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);

    // A second operator finds the request on the front page and approves it.
    let mut second = operator_browser(&desk, &clock, &cvr, "second", 6).await;
    let front = second.get(&desk.router, "/helpdesk").await;
    let approval = approval_field(&front).unwrap().to_owned();
    let form = [
        ("csrf", field(&front, "csrf")),
        ("approval", approval.as_str()),
    ];
    let approve_path = format!("{user_path}/approve");
    let approved = second
        .send(&desk.router, "POST", &approve_path, &form)
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);

    // The first operator issues the code.
    let issued = operator
        .send(&desk.router, "POST", &code_path, &action)
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    assert!(issued.body.contains(r#"id="issued-code""#));
    let mut tx = desk.store.store.read().await.unwrap();
    let reset = tx.user(caller.id).await.unwrap().unwrap();
    let records = portner_audit::records(&mut tx, 0, 100_000).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(reset.status, UserStatus::PendingActivation);
    let steps = [
        "HELPDESK_APPROVAL_REQUESTED",
        "HELPDESK_RESET_APPROVED",
        "ACTIVATION_CODE_ISSUED",
        "HELPDESK_ACTION_TAKEN",
    ];
    let found: Vec<&portner_audit::AuditRecord> = steps
        .iter()
        .map(|kind| records.iter().find(|record| record.kind == *kind).unwrap())
        .collect();
    assert!(found.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    assert_eq!(
        found[0].actor, found[2].actor,
        "requested and issued by the first"
    );
    assert_ne!(found[0].actor, found[1].actor, "approved by the second");
    let approver = found[1].actor.trim_start_matches("user:");
    assert!(
        found[3]
            .data
            .contains(&format!(r#""approved_by":"{approver}""#))
    );

    // A request lapses with its verification, 30 minutes on: nobody can approve it then.
    let late_caller = user(&desk.store, &clock, &cvr, "late").await;
    let mut tx = desk.store.store.begin().await.unwrap();
    tx.set_user_status(late_caller.id, UserStatus::Locked, clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let late_path = format!("/helpdesk/users/{}", late_caller.id);
    let (proofing, csrf) = verified(&desk, &mut operator, &late_path).await;
    let action = [
        ("csrf", csrf.as_str()),
        ("proofing", proofing.as_str()),
        ("reason", "locked and lost key"),
    ];
    let late_code = format!("{late_path}/code");
    let asked = operator
        .send(&desk.router, "POST", &late_code, &action)
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let mut tx = desk.store.store.read().await.unwrap();
    let request = tx
        .live_reset_approvals(late_caller.id, clock.now())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    clock.advance(Duration::minutes(30));
    let mut third = operator_browser(&desk, &clock, &cvr, "third", 7).await;
    let page = third.get(&desk.router, &late_path).await;
    assert_eq!(
        approval_field(&page),
        None,
        "a lapsed request is not offered"
    );
    let id = request[0].id.to_string();
    let form = [("csrf", field(&page, "csrf")), ("approval", id.as_str())];
    let late = third
        .send(&desk.router, "POST", &format!("{late_path}/approve"), &form)
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    let mut tx = desk.store.store.read().await.unwrap();
    let approvals = portner_audit::records(&mut tx, 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|record| record.kind == "HELPDESK_RESET_APPROVED")
        .count();
    let late_caller = tx.user(late_caller.id).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(approvals, 1);
    assert_eq!(late_caller.status, UserStatus::Locked);
}

async fn a_code_is_emailed_through_a_real_relay_or_shown_when_it_fails(store: TestStore) {
    const TEST: &str = "helpdesk::a_code_is_emailed_through_a_real_relay_or_shown_when_it_fails";
    let mut relay = match super::notify::Relay::start() {
        Ok(relay) => relay,
        Err(reason) => return portner_tests::skip_unless_ci(TEST, &reason),
    };
    let clock = portner_tests::fixed_clock();
    let cvr = org(&store, &clock, "91234567").await;
    let sender = "Portner <noreply@testfirma.dk>";
    let url = format!("smtp://127.0.0.1:{}", relay.port);
    let mailer = portner_idp::notify::Mailer::new(&url, sender).unwrap();
    let (desk, mut operator) = desk_with(store, &clock, &cvr, Some(mailer)).await;
    let newcomer = user(&desk.store, &clock, &cvr, "newcomer").await;
    let user_path = format!("/helpdesk/users/{}", newcomer.id);

    let (proofing, csrf) = verified(&desk, &mut operator, &user_path).await;
    let page = operator.get(&desk.router, &user_path).await;
    assert!(
        page.body.contains(r#"name="deliver" value="email""#),
        "{}",
        page.body
    );
    let action = [
        ("csrf", csrf.as_str()),
        ("proofing", proofing.as_str()),
        ("reason", "new employee, first sign-in"),
        ("deliver", "email"),
    ];
    let code_path = format!("{user_path}/code");
    let sent = operator
        .send(&desk.router, "POST", &code_path, &action)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(sent.body.contains(r#"id="code-emailed""#), "{}", sent.body);
    assert!(
        !sent.body.contains(r#"id="issued-code""#),
        "the code is not shown"
    );

    let message = relay.message();
    assert_eq!(message["to"], serde_json::json!(["newcomer@testfirma.dk"]));
    let body = message["body"].as_str().unwrap();
    let code = body
        .split_whitespace()
        .find(|word| word.len() == 29 && word.matches('-').count() >= 4)
        .unwrap_or_else(|| panic!("no code in {body}"));
    assert!(body.contains("/activate"), "{body}");

    // The e-mailed code is the one that works at /activate.
    let mut browser = Browser::new(40);
    let form = browser.get(&desk.router, "/activate").await;
    let token = field(&form, "csrf").to_owned();
    let fields = [
        ("csrf", token.as_str()),
        ("username", "newcomer"),
        ("code", code),
        ("new_password", PASSWORD),
    ];
    let step = browser
        .send(&desk.router, "POST", "/activate", &fields)
        .await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.body);
    assert!(step.body.contains("webauthn-options"), "{}", step.body);

    let mut tx = desk.store.store.read().await.unwrap();
    let records = portner_audit::records(&mut tx, 0, 100_000).await.unwrap();
    tx.rollback().await.unwrap();
    let emailed = records.iter().any(|record| {
        record.kind == "USER_NOTIFIED" && record.data.contains("activation_code_emailed")
    });
    assert!(emailed, "the e-mailed code is on the record");
    assert!(
        records.iter().all(|record| !record.data.contains(code)),
        "never the code"
    );

    // With the relay gone, the code is shown instead, with a warning.
    drop(relay);
    let second = user(&desk.store, &clock, &cvr, "second").await;
    let second_path = format!("/helpdesk/users/{}", second.id);
    let (proofing, csrf) = verified(&desk, &mut operator, &second_path).await;
    let action = [
        ("csrf", csrf.as_str()),
        ("proofing", proofing.as_str()),
        ("reason", "new employee, first sign-in"),
        ("deliver", "email"),
    ];
    let path = format!("{second_path}/code");
    let shown = operator.send(&desk.router, "POST", &path, &action).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(
        shown.body.contains(r#"id="email-failed""#),
        "{}",
        shown.body
    );
    assert!(shown.body.contains(r#"id="issued-code""#), "{}", shown.body);
}
