//! The helpdesk through the whole router: search, verification, each action, and the
//! refusals of issue 5's "bad input" list (own account, no verification, other organisation).

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use portner_shared::domain::{
    NsisLevel, Role, SignInFailures, User, UserStatus, WebAuthnCredential,
};

use crate::console::test_support::{Answer, Rig, between, send, send_with};

/// A rig with one signed-in helpdesk operator of organisation 91234567.
pub(super) struct Desk {
    pub(super) rig: Rig,
    pub(super) operator: User,
    pub(super) cookie: String,
}

pub(super) async fn desk() -> Desk {
    let rig = Rig::new().await;
    let operator = rig.user("91234567", "helper", &[Role::Helpdesk]).await;
    let cookie = rig.session(&operator, true).await;
    Desk {
        rig,
        operator,
        cookie,
    }
}

impl Desk {
    pub(super) async fn get(&self, path: &str) -> Answer {
        send(&self.rig.router(), "GET", path, Some(&self.cookie), &[]).await
    }

    pub(super) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        send(&self.rig.router(), "POST", path, Some(&self.cookie), form).await
    }

    /// Records a verification of `user` and returns its ID as the page shows it.
    pub(super) async fn verify(
        &self,
        user: &User,
        method: &str,
        document: &str,
        level: &str,
    ) -> String {
        let path = format!("/helpdesk/users/{}/verify", user.id);
        let form = [
            ("method", method),
            ("document_type", document),
            ("reference", "AB1234567, checked against the register"),
            ("level", level),
        ];
        let answer = self.post(&path, &form).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let page = self.get(&format!("/helpdesk/users/{}", user.id)).await;
        between(&page.body, r#"name="proofing" value=""#, "\"").to_owned()
    }

    /// The notices queued for `user` (HD-5), oldest first.
    pub(super) async fn notices(&self, user: &User) -> Vec<String> {
        use sqlx::Row;
        let mut tx = self.rig.state.store.read().await.unwrap();
        let rows = sqlx::query("SELECT kind FROM notifications WHERE user_id = $1 ORDER BY id")
            .bind(user.id.to_string())
            .fetch_all(tx.connection())
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        rows.iter()
            .map(|row| row.get::<String, _>("kind"))
            .collect()
    }

    pub(super) async fn reload(&self, user: &User) -> User {
        let mut tx = self.rig.state.store.read().await.unwrap();
        let user = tx.user(user.id).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        user
    }

    /// A second helpdesk operator of the same organisation, signed in; their session cookie.
    pub(super) async fn colleague(&self, username: &str) -> String {
        let colleague = self.rig.user("91234567", username, &[Role::Helpdesk]).await;
        self.rig.session(&colleague, true).await
    }

    /// Asks for a reset code of active `user` on `proofing`, which waits for approval
    /// (HD-3), and has the colleague signed in with `colleague` approve it.
    pub(super) async fn approved_reset(&self, user: &User, proofing: &str, colleague: &str) {
        let path = format!("/helpdesk/users/{}/code", user.id);
        let form = [("proofing", proofing), ("reason", "forgot password")];
        let asked = self.post(&path, &form).await;
        assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);

        let page_path = format!("/helpdesk/users/{}", user.id);
        let router = self.rig.router();
        let page = send(&router, "GET", &page_path, Some(colleague), &[]).await;
        let approval = between(&page.body, r#"name="approval" value=""#, "\"");
        let form = [("approval", approval)];
        let path = format!("{page_path}/approve");
        let approved = send(&router, "POST", &path, Some(colleague), &form).await;
        assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    }
}

#[tokio::test]
async fn search_finds_by_username_name_and_email_within_the_operators_organisation() {
    let desk = desk().await;
    let ours = desk.rig.user("91234567", "ida.hansen", &[]).await;
    desk.rig.user("92345678", "ole.hansen", &[]).await;

    for text in ["ida.han", "TEST PERSON", "hansen@testfirma"] {
        let answer = desk
            .get(&format!("/helpdesk?q={}", text.replace(' ', "+")))
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.body.contains(&ours.id.to_string()), "{text}");
        assert!(
            !answer.body.contains("ole.hansen"),
            "{text}: other organisation shown"
        );
    }
    let wildcard = desk.get("/helpdesk?q=%25").await;
    assert!(
        !wildcard.body.contains("ida.hansen"),
        "% must match itself only"
    );
    assert!(wildcard.body.contains("Ingen brugere fundet") || wildcard.body.contains("No users"));

    let english = desk.get("/helpdesk?lang=en").await;
    assert!(english.body.contains(r#"<html lang="en">"#));
    assert_eq!(
        desk.get(&format!("/helpdesk?q={}", "x".repeat(101)))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn an_action_without_a_verification_is_refused_audited_and_changes_nothing() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    let path = format!("/helpdesk/users/{}/code", caller.id);

    let answer = desk
        .post(&path, &[("proofing", "1"), ("reason", "forgot password")])
        .await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(desk.reload(&caller).await.status, UserStatus::Active);
    let trail = desk.rig.audit().await.join("\n");
    assert!(trail.contains("VERIFICATION_REQUIRED"), "{trail}");
    assert!(!trail.contains("ACTIVATION_CODE_ISSUED"));
}

#[tokio::test]
async fn a_verification_by_another_operator_does_not_count() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    let proofing = desk
        .verify(&caller, "in_person", "passport", "substantial")
        .await;
    let colleague = desk
        .rig
        .user("91234567", "colleague", &[Role::Helpdesk])
        .await;
    let cookie = desk.rig.session(&colleague, true).await;

    let path = format!("/helpdesk/users/{}/code", caller.id);
    let form = [
        ("proofing", proofing.as_str()),
        ("reason", "forgot password"),
    ];
    let answer = send(&desk.rig.router(), "POST", &path, Some(&cookie), &form).await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(desk.reload(&caller).await.status, UserStatus::Active);
}

#[tokio::test]
async fn a_reset_code_is_shown_once_ends_sessions_and_rests_on_the_verification() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    let callers_session = desk.rig.session(&caller, true).await;
    let proofing = desk
        .verify(&caller, "in_person", "passport", "substantial")
        .await;
    let colleague = desk.colleague("colleague").await;
    desk.approved_reset(&caller, &proofing, &colleague).await;

    let path = format!("/helpdesk/users/{}/code", caller.id);
    let form = [
        ("proofing", proofing.as_str()),
        ("reason", "forgot password"),
    ];
    let answer = desk.post(&path, &form).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let code = between(&answer.body, r#"id="issued-code">"#, "<");
    assert_eq!(code.len(), 29);
    assert!(answer.body.contains(r#"id="level-after">Substantial"#));
    let after = desk.reload(&caller).await;
    assert_eq!(after.status, UserStatus::PendingActivation);
    let page = desk.get(&format!("/helpdesk/users/{}", caller.id)).await;
    assert!(!page.body.contains(code), "the code is shown once only");
    let mut tx = desk.rig.state.store.read().await.unwrap();
    assert!(tx.sessions_of(caller.id).await.unwrap().is_empty());
    tx.rollback().await.unwrap();
    let account = send(
        &desk.rig.router(),
        "GET",
        "/account",
        Some(&callers_session),
        &[],
    )
    .await;
    assert_eq!(account.location.as_deref(), Some("/login"));

    let trail = desk.rig.audit().await.join("\n");
    let operator = format!("user:{}", desk.operator.id);
    for kind in [
        "HELPDESK_IDENTITY_VERIFIED",
        "USER_STATUS_CHANGED",
        "ACTIVATION_CODE_ISSUED",
        "HELPDESK_ACTION_TAKEN",
    ] {
        let line = trail
            .lines()
            .find(|line| line.starts_with(kind))
            .unwrap_or_else(|| panic!("{kind} missing: {trail}"));
        assert!(
            line.contains(&operator),
            "{kind} not by the operator: {line}"
        );
    }
    assert!(trail.contains(r#""reason":"forgot password""#));
    assert!(trail.contains(r#""action":"reset_code""#));
    assert!(!trail.contains(code), "the code never reaches the trail");
    assert_eq!(desk.notices(&caller).await, ["reset_code_issued"]);
}

#[tokio::test]
async fn unlocking_clears_the_lockout_and_caps_the_level_at_the_verification() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    let now = Utc::now();
    let mut tx = desk.rig.state.store.begin().await.unwrap();
    let locked = SignInFailures {
        failures: 0,
        locked_until: Some(now + Duration::minutes(5)),
    };
    tx.set_sign_in_failures(caller.id, locked, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let page = desk.get(&format!("/helpdesk/users/{}", caller.id)).await;
    assert!(page.body.contains(r#"id="locked-until""#));

    let proofing = desk.verify(&caller, "call_back", "", "low").await;
    let path = format!("/helpdesk/users/{}/unlock", caller.id);
    let form = [("proofing", proofing.as_str()), ("reason", "locked out")];
    let answer = desk.post(&path, &form).await;

    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let mut tx = desk.rig.state.store.read().await.unwrap();
    assert_eq!(
        tx.sign_in_failures(caller.id).await.unwrap().locked_until,
        None
    );
    tx.rollback().await.unwrap();
    assert_eq!(desk.reload(&caller).await.identity_level, NsisLevel::Low);
    let again = desk.post(&path, &form).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "nothing left to unlock");
    let trail = desk.rig.audit().await.join("\n");
    assert!(trail.contains("ACCOUNT_UNLOCKED"));
    assert!(trail.contains(r#""level_after":"low""#), "{trail}");
    assert_eq!(desk.notices(&caller).await, ["unlocked"]);
}

#[tokio::test]
async fn revoking_a_key_and_requiring_a_new_password() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    let mut tx = desk.rig.state.store.begin().await.unwrap();
    let credential = WebAuthnCredential {
        credential_id: vec![7; 16],
        user_id: caller.id,
        name: "lost key".to_owned(),
        credential_json: "{}".to_owned(),
        level: NsisLevel::Substantial,
        registered_at: Utc::now(),
        last_used_at: None,
    };
    tx.insert_webauthn_credential(&credential).await.unwrap();
    tx.commit().await.unwrap();
    let proofing = desk
        .verify(&caller, "video_call", "driving_licence", "substantial")
        .await;

    let path = format!("/helpdesk/users/{}/revoke-credential", caller.id);
    let id = hex::encode([7; 16]);
    let form = [
        ("proofing", proofing.as_str()),
        ("reason", "key lost"),
        ("credential", id.as_str()),
    ];
    assert_eq!(desk.post(&path, &form).await.status, StatusCode::SEE_OTHER);
    let mut tx = desk.rig.state.store.read().await.unwrap();
    assert!(tx.webauthn_credentials(caller.id).await.unwrap().is_empty());
    tx.rollback().await.unwrap();
    assert_eq!(desk.post(&path, &form).await.status, StatusCode::CONFLICT);
    assert_eq!(desk.notices(&caller).await, ["credential_removed"]);

    let path = format!("/helpdesk/users/{}/require-password-change", caller.id);
    let form = [
        ("proofing", proofing.as_str()),
        ("reason", "shared by e-mail"),
    ];
    assert_eq!(desk.post(&path, &form).await.status, StatusCode::SEE_OTHER);
    let page = desk.get(&format!("/helpdesk/users/{}", caller.id)).await;
    assert!(page.body.contains(r#"id="password-change-required""#));
    assert_eq!(desk.post(&path, &form).await.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn operators_cannot_help_themselves_or_another_organisations_users() {
    let desk = desk().await;
    let own = format!("/helpdesk/users/{}/verify", desk.operator.id);
    let form = [
        ("method", "in_person"),
        ("document_type", "passport"),
        ("reference", "AB1"),
        ("level", "substantial"),
    ];
    assert_eq!(desk.post(&own, &form).await.status, StatusCode::FORBIDDEN);

    let stranger = desk.rig.user("92345678", "stranger", &[]).await;
    let page = desk.get(&format!("/helpdesk/users/{}", stranger.id)).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let trail = desk.rig.audit().await.join("\n");
    assert!(trail.contains("SELF_SERVICE"), "{trail}");
    assert!(trail.contains("WRONG_ORGANISATION"), "{trail}");
    assert!(!trail.contains("HELPDESK_IDENTITY_VERIFIED"));
    assert_eq!(desk.get("/helpdesk/users/not-a-uuid").await.status, 404);
}

#[tokio::test]
async fn a_verification_that_breaks_the_policy_or_lacks_the_token_is_not_stored() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    let path = format!("/helpdesk/users/{}/verify", caller.id);
    let too_high = [
        ("method", "call_back"),
        ("reference", "case 12"),
        ("level", "substantial"),
    ];
    assert_eq!(
        desk.post(&path, &too_high).await.status,
        StatusCode::BAD_REQUEST
    );

    let fine = [
        ("method", "call_back"),
        ("reference", "case 12"),
        ("level", "low"),
    ];
    let router = desk.rig.router();
    let forged = send_with(&router, "POST", &path, Some(&desk.cookie), &fine, false).await;
    assert_ne!(forged.status, StatusCode::SEE_OTHER);

    let mut tx = desk.rig.state.store.read().await.unwrap();
    assert!(tx.identity_proofings(caller.id).await.unwrap().is_empty());
    tx.rollback().await.unwrap();
}
