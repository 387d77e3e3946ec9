//! Sign-in end to end through the HTTP router with webauthn-authenticator-rs soft passkeys:
//! activation, login at Substantial, the refusals of issue 3 and lockout with an injected
//! clock (W1, W4, W6, LK-1, ASVS 6.3.8).

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use chrono::Duration;
use portner_shared::Clock;
use portner_shared::config::SignInSettings;
use portner_shared::domain::{NsisLevel, UserStatus, Username};
use portner_tests::TestStore;
use tower::ServiceExt;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use super::rogue_key::{Flaw, RogueKey};
use super::web::*;

async fn activation_then_login_reaches_substantial(store: TestStore) {
    let rig = rig(store).await;
    let username = pending_user(&rig, "alice").await;
    let code = issue(&rig, &username, Some(NsisLevel::Substantial)).await;
    let mut browser = Browser::new(10);

    let mut key = activate(&rig, &mut browser, &username, &code).await;
    let account = browser.get(&rig.router, "/account").await;
    assert!(
        account.body.contains(r#"id="session-level">Substantial"#),
        "{}",
        account.body
    );
    let signed_out = browser
        .send(&rig.router, "POST", "/logout", &[("csrf", &csrf(&account))])
        .await;
    assert_eq!(signed_out.location.as_deref(), Some("/login"));
    assert_eq!(
        browser
            .get(&rig.router, "/account")
            .await
            .location
            .as_deref(),
        Some("/login")
    );

    let step = password_step(&rig, &mut browser, "alice", PASSWORD).await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.body);
    let response = assertion(&mut key, &step, ORIGIN);
    let done = answer(&rig, &mut browser, &step, &response).await;
    assert_eq!(done.location.as_deref(), Some("/account"));
    let account = browser.get(&rig.router, "/account").await;
    assert!(account.body.contains(r#"id="session-level">Substantial"#));
    assert!(
        !account.body.contains("<script>"),
        "inline script on a page"
    );

    // The code was single use.
    let mut other = Browser::new(11);
    let form = other.get(&rig.router, "/activate").await;
    let fields = [
        ("csrf", csrf(&form)),
        ("username", "alice".to_owned()),
        ("code", code.clone()),
        ("new_password", PASSWORD.to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reused = other.send(&rig.router, "POST", "/activate", &fields).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);

    let kinds = audit_kinds(&rig).await;
    for kind in [
        "ACCOUNT_ACTIVATED",
        "CREDENTIAL_ADDED",
        "SESSION_ENDED",
        "SIGN_IN_SUCCEEDED",
    ] {
        assert!(
            kinds.iter().any(|line| line.starts_with(kind)),
            "{kind} missing: {kinds:#?}"
        );
    }
    assert!(
        kinds.iter().any(|line| line.contains("192.0.2.10")),
        "source address missing"
    );
}

async fn replayed_foreign_and_wrong_origin_assertions_are_refused(store: TestStore) {
    let rig = rig(store).await;
    let username = pending_user(&rig, "bob").await;
    let code = issue(&rig, &username, Some(NsisLevel::Substantial)).await;
    let mut browser = Browser::new(20);
    let mut key = activate(&rig, &mut browser, &username, &code).await;

    // Wrong origin (W1): another port on the same host.
    let step = password_step(&rig, &mut browser, "bob", PASSWORD).await;
    let wrong_origin = assertion(&mut key, &step, "http://localhost:9999");
    assert_eq!(
        answer(&rig, &mut browser, &step, &wrong_origin)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Replay (W4): a valid assertion used twice; the second finds no ceremony.
    let step = password_step(&rig, &mut browser, "bob", PASSWORD).await;
    let response = assertion(&mut key, &step, ORIGIN);
    let first = answer(&rig, &mut browser, &step, &response).await;
    assert_eq!(first.location.as_deref(), Some("/account"));
    let mut replayer = Browser::new(21);
    replayer.cookies = browser.cookies.clone();
    let replay = answer(&rig, &mut replayer, &step, &response).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);

    // A stale assertion against a new challenge (foreign response).
    let step = password_step(&rig, &mut browser, "bob", PASSWORD).await;
    let stale = answer(&rig, &mut browser, &step, &response).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);

    // Oversized and malformed responses.
    let step = password_step(&rig, &mut browser, "bob", PASSWORD).await;
    assert_eq!(
        answer(&rig, &mut browser, &step, "{not json").await.status,
        StatusCode::UNAUTHORIZED
    );

    let kinds = audit_kinds(&rig).await;
    for reason in [
        "ORIGIN_MISMATCH",
        "CHALLENGE_MISMATCH",
        "CEREMONY_UNKNOWN_OR_REPLAYED",
        "RESPONSE_MALFORMED",
    ] {
        assert!(
            kinds.iter().any(|line| line.contains(reason)),
            "{reason} not audited"
        );
    }
}

/// W2, W3, W5: correctly signed assertions that are wrong in one property each are refused
/// with their own audit code, and change neither the credential nor the session.
async fn assertions_without_presence_or_for_another_party_are_refused(store: TestStore) {
    let rig = rig(store).await;
    let username = pending_user(&rig, "frida").await;
    let code = issue(&rig, &username, Some(NsisLevel::Substantial)).await;
    let mut browser = Browser::new(25);
    let mut key = RogueKey::new();
    activate_with(&rig, &mut browser, &username, &code, |options| {
        key.register(options, ORIGIN)
    })
    .await;
    let account = browser.get(&rig.router, "/account").await;
    let signed_out = browser
        .send(&rig.router, "POST", "/logout", &[("csrf", &csrf(&account))])
        .await;
    assert_eq!(signed_out.location.as_deref(), Some("/login"));
    let successes_before = key_sign_ins(&rig).await;

    for (flaw, code) in [
        (Flaw::NoUserPresence, "USER_NOT_PRESENT"),
        (Flaw::OtherRelyingParty("evil.example"), "RP_ID_MISMATCH"),
        (Flaw::RegistrationType, "RESPONSE_INVALID"),
    ] {
        let step = password_step(&rig, &mut browser, "frida", PASSWORD).await;
        assert_eq!(step.status, StatusCode::OK, "{}", step.body);
        let response = key.assert(&options(&step), ORIGIN, flaw);
        let refused = answer(&rig, &mut browser, &step, &response).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{flaw:?}");
        let kinds = audit_kinds(&rig).await;
        let last_failure = kinds
            .iter()
            .rev()
            .find(|line| line.starts_with("SIGN_IN_FAILED"))
            .unwrap();
        assert!(last_failure.contains(code), "{flaw:?}: {last_failure}");
    }

    // Nothing moved: no second-factor sign-in, the stored counter is still the registration's,
    // and the password-only session does not open the account page.
    assert_eq!(key_sign_ins(&rig).await, successes_before);
    assert_eq!(stored_counter(&rig, &username).await, 0);
    let account = browser.get(&rig.router, "/account").await;
    assert_ne!(account.status, StatusCode::OK, "{}", account.body);

    // The same key answering correctly signs in, so the refusals were the flaws' doing.
    let step = password_step(&rig, &mut browser, "frida", PASSWORD).await;
    let response = key.assert(&options(&step), ORIGIN, Flaw::None);
    let done = answer(&rig, &mut browser, &step, &response).await;
    assert_eq!(done.location.as_deref(), Some("/account"), "{}", done.body);
    assert_eq!(stored_counter(&rig, &username).await, 4);
}

/// Sign-ins completed with the second factor (the password step is audited on its own).
async fn key_sign_ins(rig: &Rig) -> usize {
    audit_kinds(rig)
        .await
        .iter()
        .filter(|line| line.starts_with("SIGN_IN_SUCCEEDED ") && line.contains("webauthn"))
        .count()
}

async fn stored_counter(rig: &Rig, username: &Username) -> u64 {
    let mut tx = rig.store.store.read().await.unwrap();
    let user = tx.user_by_username(username).await.unwrap().unwrap();
    let credential = tx.webauthn_credentials(user.id).await.unwrap().remove(0);
    tx.rollback().await.unwrap();
    let stored: serde_json::Value = serde_json::from_str(&credential.credential_json).unwrap();
    stored["cred"]["counter"].as_u64().unwrap()
}

/// Issue 5, item 3: a user who forgot the password sets a new one after the key's ceremony
/// (with user verification); every session of the account ends, the old password stops
/// working, and the ceremony cannot be answered twice.
async fn a_forgotten_password_is_replaced_after_the_key_ceremony(store: TestStore) {
    let rig = rig(store).await;
    let username = pending_user(&rig, "gustav").await;
    let code = issue(&rig, &username, Some(NsisLevel::Substantial)).await;
    let mut signed_in = Browser::new(70);
    let mut key = activate(&rig, &mut signed_in, &username, &code).await;
    let new_password = "copper kettle harbour 2031";

    let mut browser = Browser::new(71);
    let step = recover(&rig, &mut browser, "gustav", new_password).await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.body);
    let response = assertion(&mut key, &step, ORIGIN);
    let done = answer_at(&rig, &mut browser, "/recover/webauthn", &step, &response).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("href=\"/login\""), "{}", done.body);

    let replayed = answer_at(&rig, &mut browser, "/recover/webauthn", &step, &response).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
    let old_session = signed_in.get(&rig.router, "/account").await;
    assert_eq!(
        old_session.location.as_deref(),
        Some("/login"),
        "sessions ended"
    );
    let old = password_step(&rig, &mut Browser::new(72), "gustav", PASSWORD).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let mut fresh = Browser::new(73);
    let step = password_step(&rig, &mut fresh, "gustav", new_password).await;
    let response = assertion(&mut key, &step, ORIGIN);
    let signed = answer(&rig, &mut fresh, &step, &response).await;
    assert_eq!(signed.location.as_deref(), Some("/account"));

    let kinds = audit_kinds(&rig).await;
    assert!(
        kinds
            .iter()
            .any(|line| line.starts_with("PASSWORD_RECOVERED "))
    );
    assert!(kinds.iter().any(|line| line.contains("password_recovered")));
    let notices = super::notify::queued_notices(&rig.store.store).await;
    assert_eq!(notices, ["password_recovered"], "the owner is told (HD-5)");
}

/// Recovery refuses, with the sign-in pages' one answer: an unknown user, and a key that did
/// not verify its user (a single factor). The password stays as it was.
async fn recovery_needs_a_known_user_and_a_verifying_key(store: TestStore) {
    let rig = rig(store).await;
    let username = pending_user(&rig, "hanne").await;
    let code = issue(&rig, &username, Some(NsisLevel::Substantial)).await;
    let mut key = RogueKey::new();
    activate_with(&rig, &mut Browser::new(74), &username, &code, |options| {
        key.register(options, ORIGIN)
    })
    .await;

    let unknown = recover(
        &rig,
        &mut Browser::new(75),
        "nobody",
        "copper kettle harbour 2031",
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{}", unknown.body);
    let mut browser = Browser::new(76);
    let step = recover(&rig, &mut browser, "hanne", "copper kettle harbour 2031").await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.body);
    let response = key.assert(&options(&step), ORIGIN, Flaw::NoUserVerification);
    let refused = answer_at(&rig, &mut browser, "/recover/webauthn", &step, &response).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);

    let still = password_step(&rig, &mut Browser::new(77), "hanne", PASSWORD).await;
    assert_eq!(still.status, StatusCode::OK, "the old password still works");
    let kinds = audit_kinds(&rig).await;
    for reason in ["NOT_RECOVERABLE", "USER_NOT_VERIFIED"] {
        assert!(
            kinds
                .iter()
                .any(|line| line.starts_with("SIGN_IN_FAILED ") && line.contains(reason)),
            "{reason}: {kinds:#?}"
        );
    }
    assert!(
        !kinds
            .iter()
            .any(|line| line.starts_with("PASSWORD_RECOVERED "))
    );
}

/// The first recovery step: username and the new password.
async fn recover(rig: &Rig, browser: &mut Browser, username: &str, new_password: &str) -> Page {
    let form = browser.get(&rig.router, "/recover").await;
    let token = csrf(&form);
    let fields = [
        ("csrf", token.as_str()),
        ("username", username),
        ("new_password", new_password),
    ];
    browser.send(&rig.router, "POST", "/recover", &fields).await
}

/// Posts a WebAuthn answer for the ceremony on `page` to `path`.
async fn answer_at(
    rig: &Rig,
    browser: &mut Browser,
    path: &str,
    page: &Page,
    response: &str,
) -> Page {
    let token = csrf(page);
    let handle = ceremony(page);
    let fields = [
        ("csrf", token.as_str()),
        ("ceremony", handle.as_str()),
        ("credential", response),
    ];
    browser.send(&rig.router, "POST", path, &fields).await
}

async fn a_counter_that_goes_backwards_flags_the_credential(store: TestStore) {
    let rig = rig(store).await;
    let username = pending_user(&rig, "carol").await;
    let code = issue(&rig, &username, Some(NsisLevel::Substantial)).await;
    let mut browser = Browser::new(30);
    let mut key = activate(&rig, &mut browser, &username, &code).await;

    // A clone used elsewhere has pushed the stored counter far ahead of this authenticator.
    let mut tx = rig.store.store.begin().await.unwrap();
    let user = tx.user_by_username(&username).await.unwrap().unwrap();
    let credential = tx.webauthn_credentials(user.id).await.unwrap().remove(0);
    let mut stored: serde_json::Value = serde_json::from_str(&credential.credential_json).unwrap();
    stored["cred"]["counter"] = serde_json::json!(1000);
    tx.record_webauthn_use(
        &credential.credential_id,
        &stored.to_string(),
        rig.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let step = password_step(&rig, &mut browser, "carol", PASSWORD).await;
    let response = assertion(&mut key, &step, ORIGIN);
    assert_eq!(
        answer(&rig, &mut browser, &step, &response).await.status,
        StatusCode::UNAUTHORIZED
    );

    let mut tx = rig.store.store.read().await.unwrap();
    let flagged = tx.flagged_webauthn_credentials(user.id).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(flagged, vec![credential.credential_id]);
    let kinds = audit_kinds(&rig).await;
    assert!(
        kinds
            .iter()
            .any(|line| line.starts_with("CREDENTIAL_COUNTER_REGRESSED"))
    );
}

async fn lockout_after_five_failures_expires_and_all_failures_look_alike(store: TestStore) {
    let rig = rig(store).await;
    let username = pending_user(&rig, "dave").await;
    let code = issue(&rig, &username, None).await;
    let mut browser = Browser::new(40);
    activate(&rig, &mut browser, &username, &code).await;
    pending_user(&rig, "erin").await;
    let mut tx = rig.store.store.read().await.unwrap();
    let dave = tx.user_by_username(&username).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(dave.identity_level, NsisLevel::Low);
    assert_eq!(dave.status, UserStatus::Active);

    // Unknown user and wrong password: same status and body, one Argon2id run each.
    let before = rig.signin.passwords.verifications_run();
    let unknown = password_step(&rig, &mut Browser::new(41), "nobody", PASSWORD).await;
    let middle = rig.signin.passwords.verifications_run();
    let wrong = password_step(&rig, &mut Browser::new(42), "dave", "wrong password here").await;
    let pending = password_step(&rig, &mut Browser::new(43), "erin", PASSWORD).await;
    assert_eq!(middle - before, 1);
    assert_eq!(rig.signin.passwords.verifications_run() - middle, 2);
    for page in [&wrong, &pending] {
        assert_eq!(page.status, unknown.status);
        assert_eq!(strip_csrf(&page.body), strip_csrf(&unknown.body));
    }

    for _ in 0..4 {
        password_step(&rig, &mut Browser::new(44), "dave", "wrong password here").await;
    }
    let locked = password_step(&rig, &mut Browser::new(45), "dave", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(strip_csrf(&locked.body), strip_csrf(&unknown.body));

    rig.clock.advance(Duration::minutes(5));
    let after = password_step(&rig, &mut Browser::new(46), "dave", PASSWORD).await;
    assert_eq!(after.status, StatusCode::OK);
    let kinds = audit_kinds(&rig).await;
    for kind in ["ACCOUNT_LOCKED", "ACCOUNT_UNLOCKED"] {
        assert!(
            kinds.iter().any(|line| line.starts_with(kind)),
            "{kind} missing"
        );
    }
    assert!(kinds.iter().any(|line| line.contains("UNKNOWN_USER")));
    assert!(kinds.iter().any(|line| line.contains("PENDING_ACTIVATION")));
}

fn strip_csrf(body: &str) -> String {
    let token = between(body, r#"name="csrf" value=""#, "\"");
    body.replace(token, "")
}

async fn forms_without_the_csrf_token_are_refused(store: TestStore) {
    let rig = rig(store).await;
    let mut browser = Browser::new(50);
    browser.get(&rig.router, "/login").await;
    let forged = [
        ("csrf", "0".repeat(64)),
        ("username", "x".to_owned()),
        ("password", "y".to_owned()),
    ];
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        browser
            .send(&rig.router, "POST", "/login", &forged)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let oversized = "x".repeat(300);
    let page = password_step(&rig, &mut browser, "someone", &oversized).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let english = Browser::new(51).get(&rig.router, "/login?lang=en").await;
    assert!(english.body.contains("Sign in") && english.body.contains(r#"lang="en""#));
    let activation = Browser::new(51).get(&rig.router, "/activate?lang=en").await;
    assert!(activation.body.contains("At least 12 characters"));
    let danish = Browser::new(52).get(&rig.router, "/login").await;
    assert!(danish.body.contains("Log ind"));

    let request = Request::builder()
        .uri("/login")
        .body(Body::empty())
        .unwrap();
    let response = rig.router.clone().oneshot(request).await.unwrap();
    let headers = response.headers();
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let csrf_cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Lax"));
}

async fn self_service_adds_renames_removes_keys_and_changes_the_password(store: TestStore) {
    let rig = rig(store).await;
    let username = pending_user(&rig, "frida").await;
    let code = issue(&rig, &username, Some(NsisLevel::Substantial)).await;
    let mut browser = Browser::new(60);
    let mut first_key = activate(&rig, &mut browser, &username, &code).await;
    let mut second_browser = Browser::new(61);
    let step = password_step(&rig, &mut second_browser, "frida", PASSWORD).await;
    let response = assertion(&mut first_key, &step, ORIGIN);
    answer(&rig, &mut second_browser, &step, &response).await;

    // The only key cannot be removed.
    let account = browser.get(&rig.router, "/account").await;
    let token = csrf(&account);
    let only = between(&account.body, r#"name="credential" value=""#, "\"").to_owned();
    let fields = [("csrf", token.as_str()), ("credential", only.as_str())];
    let refused = browser
        .send(&rig.router, "POST", "/account/credentials/remove", &fields)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);

    // Add a second key; it gets the session's level (AU-5).
    let add = browser
        .send(
            &rig.router,
            "POST",
            "/account/credentials/add",
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(add.status, StatusCode::OK, "{}", add.body);
    let challenge: CreationChallengeResponse = serde_json::from_str(&options(&add)).unwrap();
    let mut second_key = SoftPasskey::new(true);
    let response = second_key
        .do_registration(Url::parse(ORIGIN).unwrap(), challenge)
        .unwrap();
    let response = serde_json::to_string(&response).unwrap();
    let handle = ceremony(&add);
    let fields = [
        ("csrf", token.as_str()),
        ("ceremony", handle.as_str()),
        ("credential", response.as_str()),
    ];
    let added = browser
        .send(
            &rig.router,
            "POST",
            "/account/credentials/add/finish",
            &fields,
        )
        .await;
    assert_eq!(
        added.location.as_deref(),
        Some("/account"),
        "{}",
        added.body
    );

    // Rename, then remove the first key; the other browser's session ends (SS-6).
    let fields = [
        ("csrf", token.as_str()),
        ("credential", only.as_str()),
        ("name", "Gammel nøgle"),
    ];
    let renamed = browser
        .send(&rig.router, "POST", "/account/credentials/rename", &fields)
        .await;
    assert_eq!(renamed.location.as_deref(), Some("/account"));
    assert!(
        browser
            .get(&rig.router, "/account")
            .await
            .body
            .contains("Gammel nøgle")
    );
    let fields = [("csrf", token.as_str()), ("credential", only.as_str())];
    let removed = browser
        .send(&rig.router, "POST", "/account/credentials/remove", &fields)
        .await;
    assert_eq!(removed.location.as_deref(), Some("/account"));
    let other = second_browser.get(&rig.router, "/account").await;
    assert_eq!(other.location.as_deref(), Some("/login"));

    // The removed key no longer signs in; the new one does.
    let step = password_step(&rig, &mut Browser::new(62), "frida", PASSWORD).await;
    let challenge: RequestChallengeResponse = serde_json::from_str(&options(&step)).unwrap();
    assert!(
        first_key
            .do_authentication(Url::parse(ORIGIN).unwrap(), challenge)
            .is_err()
    );

    // Password change: the current password is required, reuse is refused.
    let new_password = "amber kettle orbit 2044";
    let wrong = [
        ("csrf", token.as_str()),
        ("password", "not the password"),
        ("new_password", new_password),
    ];
    let refused = browser
        .send(&rig.router, "POST", "/account/password", &wrong)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let reuse = [
        ("csrf", token.as_str()),
        ("password", PASSWORD),
        ("new_password", PASSWORD),
    ];
    let refused = browser
        .send(&rig.router, "POST", "/account/password", &reuse)
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let change = [
        ("csrf", token.as_str()),
        ("password", PASSWORD),
        ("new_password", new_password),
    ];
    let changed = browser
        .send(&rig.router, "POST", "/account/password", &change)
        .await;
    assert_eq!(
        changed.location.as_deref(),
        Some("/account"),
        "{}",
        changed.body
    );
    let mut fresh = Browser::new(63);
    let step = password_step(&rig, &mut fresh, "frida", new_password).await;
    let response = assertion(&mut second_key, &step, ORIGIN);
    assert_eq!(
        answer(&rig, &mut fresh, &step, &response)
            .await
            .location
            .as_deref(),
        Some("/account")
    );

    // After the second factor's freshness window, changes need a new sign-in; after 60 minutes
    // the session's level falls to Low. Both sessions are used at 30 minutes, so neither
    // reaches the 60-minute idle timeout.
    rig.clock.advance(Duration::minutes(30));
    assert_eq!(
        browser.get(&rig.router, "/account").await.status,
        StatusCode::OK
    );
    assert_eq!(
        fresh.get(&rig.router, "/account").await.status,
        StatusCode::OK
    );
    rig.clock.advance(Duration::minutes(31));
    let stale = browser
        .send(
            &rig.router,
            "POST",
            "/account/credentials/add",
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(stale.location.as_deref(), Some("/login"));
    let account = fresh.get(&rig.router, "/account").await;
    assert!(
        account.body.contains(r#"id="session-level">Low"#),
        "{}",
        account.body
    );

    let kinds = audit_kinds(&rig).await;
    for kind in [
        "CREDENTIAL_RENAMED",
        "CREDENTIAL_REMOVED",
        "PASSWORD_CHANGED",
    ] {
        assert!(
            kinds.iter().any(|line| line.starts_with(kind)),
            "{kind} missing"
        );
    }
    assert!(kinds.iter().any(|line| line.contains("credential_change")));
    let notices = super::notify::queued_notices(&rig.store.store).await;
    for notice in ["credential_added", "credential_removed", "password_changed"] {
        assert!(notices.iter().any(|queued| queued == notice), "{notices:?}");
    }

    // Past the idle timeout the session ends and is audited as such.
    rig.clock.advance(Duration::minutes(61));
    assert_eq!(
        fresh.get(&rig.router, "/account").await.location.as_deref(),
        Some("/login")
    );
    let kinds = audit_kinds(&rig).await;
    assert!(
        kinds
            .iter()
            .any(|line| line.starts_with("SESSION_ENDED") && line.contains("idle"))
    );
}

async fn expired_codes_and_ceremonies_duplicate_ids_and_bad_bodies_are_refused(store: TestStore) {
    let rig = rig(store).await;
    let username = pending_user(&rig, "gustav").await;
    let old_code = issue(&rig, &username, Some(NsisLevel::Substantial)).await;
    let code = issue(&rig, &username, Some(NsisLevel::Substantial)).await;
    let mut browser = Browser::new(70);

    // A newer code ends the older one (W10).
    let form = browser.get(&rig.router, "/activate").await;
    let token = csrf(&form);
    let fields = [
        ("csrf", token.as_str()),
        ("username", "gustav"),
        ("code", old_code.as_str()),
        ("new_password", PASSWORD),
    ];
    let refused = browser
        .send(&rig.router, "POST", "/activate", &fields)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    // A registration answered after five minutes finds its ceremony expired.
    let fields = [
        ("csrf", token.as_str()),
        ("username", "gustav"),
        ("code", code.as_str()),
        ("new_password", PASSWORD),
    ];
    let step = browser
        .send(&rig.router, "POST", "/activate", &fields)
        .await;
    let challenge: CreationChallengeResponse = serde_json::from_str(&options(&step)).unwrap();
    let mut key = SoftPasskey::new(true);
    let response = key
        .do_registration(Url::parse(ORIGIN).unwrap(), challenge)
        .unwrap();
    let response = serde_json::to_string(&response).unwrap();
    rig.clock.advance(Duration::minutes(6));
    let handle = ceremony(&step);
    let fields = [
        ("csrf", token.as_str()),
        ("ceremony", handle.as_str()),
        ("credential", response.as_str()),
    ];
    let late = browser
        .send(&rig.router, "POST", "/activate/webauthn", &fields)
        .await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
    let mut tx = rig.store.store.read().await.unwrap();
    let user = tx.user_by_username(&username).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        user.status,
        UserStatus::PendingActivation,
        "a refused step changed the user"
    );

    // After 72 hours the code itself has expired.
    rig.clock.advance(Duration::hours(72));
    let expired = browser
        .send(
            &rig.router,
            "POST",
            "/activate",
            &fields_with(&token, &code),
        )
        .await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);

    // Credential IDs are unique across users (W8).
    let fresh_code = issue(&rig, &username, Some(NsisLevel::Substantial)).await;
    activate(&rig, &mut browser, &username, &fresh_code).await;
    let other = pending_user(&rig, "hanna").await;
    let mut tx = rig.store.store.begin().await.unwrap();
    let gustav = tx.user_by_username(&username).await.unwrap().unwrap();
    let hanna = tx.user_by_username(&other).await.unwrap().unwrap();
    let mut credential = tx.webauthn_credentials(gustav.id).await.unwrap().remove(0);
    credential.user_id = hanna.id;
    let duplicate = tx.insert_webauthn_credential(&credential).await;
    assert!(matches!(
        duplicate,
        Err(portner_shared::store::StoreError::Conflict { .. })
    ));
    drop(tx);

    // A body that is not UTF-8 form data is refused without a change.
    let mut request = Request::builder()
        .method("POST")
        .uri("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(vec![0xff, 0xfe, b'=', 0xff]))
        .unwrap();
    request.extensions_mut().insert(ConnectInfo(browser.source));
    let response = rig.router.clone().oneshot(request).await.unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    let kinds = audit_kinds(&rig).await;
    assert!(kinds.iter().any(|line| line.contains("CEREMONY_EXPIRED")));
    assert!(
        kinds
            .iter()
            .any(|line| line.contains("ACTIVATION_CODE_REJECTED"))
    );
}

fn fields_with<'a>(token: &'a str, code: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("csrf", token),
        ("username", "gustav"),
        ("code", code),
        ("new_password", PASSWORD),
    ]
}

async fn one_source_is_throttled_across_accounts(store: TestStore) {
    let settings = SignInSettings {
        throttle_failures_per_minute: 10,
        ..SignInSettings::default()
    };
    let rig = rig_with(store, settings).await;
    let mut browser = Browser::new(80);
    for attempt in 0..10 {
        let username = format!("guess{attempt}");
        let page = password_step(&rig, &mut browser, &username, PASSWORD).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }

    let throttled = password_step(&rig, &mut browser, "guess10", PASSWORD).await;
    let elsewhere = password_step(&rig, &mut Browser::new(81), "guess11", PASSWORD).await;
    rig.clock.advance(Duration::seconds(61));
    let later = password_step(&rig, &mut browser, "guess12", PASSWORD).await;

    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    assert_eq!(later.status, StatusCode::UNAUTHORIZED);
}

on_both_backends!(
    activation_then_login_reaches_substantial,
    replayed_foreign_and_wrong_origin_assertions_are_refused,
    assertions_without_presence_or_for_another_party_are_refused,
    a_forgotten_password_is_replaced_after_the_key_ceremony,
    recovery_needs_a_known_user_and_a_verifying_key,
    a_counter_that_goes_backwards_flags_the_credential,
    lockout_after_five_failures_expires_and_all_failures_look_alike,
    forms_without_the_csrf_token_are_refused,
    self_service_adds_renames_removes_keys_and_changes_the_password,
    expired_codes_and_ceremonies_duplicate_ids_and_bad_bodies_are_refused,
    one_source_is_throttled_across_accounts,
);
