//! The second approver through the whole router (HD-3; ASVS 6.4.4): a reset of an active
//! account waits for a colleague's approval, is issued once approved, and every way of
//! approving wrongly is refused and changes nothing.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use portner_shared::domain::{ResetApproval, Role, User, UserStatus};

use super::http_tests::{Desk, desk};
use crate::console::test_support::{Answer, between, send, send_with};

const REASON: &str = "lost security key";

impl Desk {
    /// Verifies `caller` in person and asks for a reset code, which must wait for approval.
    async fn ask_reset(&self, caller: &User) -> (String, Answer) {
        let proofing = self
            .verify(caller, "in_person", "passport", "substantial")
            .await;
        let answer = self.ask_code(caller, &proofing).await;
        (proofing, answer)
    }

    async fn ask_code(&self, caller: &User, proofing: &str) -> Answer {
        let path = format!("/helpdesk/users/{}/code", caller.id);
        self.post(&path, &[("proofing", proofing), ("reason", REASON)])
            .await
    }

    /// Posts an approval of request `approval` about `user` with session `cookie`.
    async fn approve_as(&self, cookie: &str, user: &User, approval: &str) -> Answer {
        let path = format!("/helpdesk/users/{}/approve", user.id);
        let router = self.rig.router();
        send(
            &router,
            "POST",
            &path,
            Some(cookie),
            &[("approval", approval)],
        )
        .await
    }

    /// The user's reset requests as the store has them, oldest first.
    async fn requests(&self, user: &User) -> Vec<ResetApproval> {
        let mut tx = self.rig.state.store.read().await.unwrap();
        let found = tx
            .live_reset_approvals(user.id, Utc::now() - Duration::days(1))
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        found
    }

    async fn kinds(&self, kind: &str) -> Vec<String> {
        let trail = self.rig.audit().await;
        trail
            .into_iter()
            .filter(|line| line.starts_with(&format!("{kind} ")))
            .collect()
    }
}

#[tokio::test]
async fn a_reset_waits_for_a_second_operator_then_issues_the_code_naming_both() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    let callers_session = desk.rig.session(&caller, true).await;

    // A asks: the request is recorded, nothing else changes.
    let (proofing, asked) = desk.ask_reset(&caller).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert!(
        asked.body.contains(r#"id="awaiting-approval""#),
        "{}",
        asked.body
    );
    assert!(!asked.body.contains("issued-code"));
    assert_eq!(desk.reload(&caller).await.status, UserStatus::Active);
    assert!(desk.notices(&caller).await.is_empty());
    let mut tx = desk.rig.state.store.read().await.unwrap();
    assert_eq!(tx.sessions_of(caller.id).await.unwrap().len(), 1);
    tx.rollback().await.unwrap();
    let requested = desk.kinds("HELPDESK_APPROVAL_REQUESTED").await;
    assert_eq!(requested.len(), 1);
    assert!(requested[0].contains(&format!("user:{}", desk.operator.id)));
    assert!(
        requested[0].contains(r#""method":"in_person""#),
        "{}",
        requested[0]
    );
    assert!(desk.kinds("ACTIVATION_CODE_ISSUED").await.is_empty());

    // Asking again while it waits writes nothing new; A is offered no approval of their own.
    let again = desk.ask_code(&caller, &proofing).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(desk.kinds("HELPDESK_APPROVAL_REQUESTED").await.len(), 1);
    let own_page = desk.get(&format!("/helpdesk/users/{}", caller.id)).await;
    assert!(own_page.body.contains(r#"id="reset-requests""#));
    assert!(own_page.body.contains("Afventer en anden medarbejder"));
    assert!(!own_page.body.contains(r#"name="approval""#));

    // B sees the request on the front page, with A's method, level and reason, and approves.
    let colleague = desk.colleague("colleague").await;
    let router = desk.rig.router();
    let front = send(&router, "GET", "/helpdesk?lang=en", Some(&colleague), &[]).await;
    assert_eq!(front.status, StatusCode::OK);
    let listed = between(&front.body, r#"id="reset-requests""#, "</table>");
    for expected in [
        "caller",
        "helper",
        "in_person",
        "Substantial",
        REASON,
        "Approve",
    ] {
        assert!(listed.contains(expected), "{expected} missing: {listed}");
    }
    let approval = between(listed, r#"name="approval" value=""#, "\"").to_owned();
    let approved = desk.approve_as(&colleague, &caller, &approval).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let approvals = desk.kinds("HELPDESK_RESET_APPROVED").await;
    assert_eq!(approvals.len(), 1);
    let approver = desk.requests(&caller).await[0].approved_by.unwrap();
    assert!(
        approvals[0].contains(&format!("user:{approver}")),
        "{}",
        approvals[0]
    );
    let requester = format!(r#""requested_by":"{}""#, desk.operator.id);
    assert!(approvals[0].contains(&requester), "{}", approvals[0]);
    assert!(approvals[0].contains(&format!(r#""approved_by":"{approver}""#)));

    // A issues the code: shown once, the account reset, the approval used, the approver named.
    let issued = desk.ask_code(&caller, &proofing).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    assert_eq!(between(&issued.body, r#"id="issued-code">"#, "<").len(), 29);
    assert_eq!(
        desk.reload(&caller).await.status,
        UserStatus::PendingActivation
    );
    assert_eq!(desk.notices(&caller).await, ["reset_code_issued"]);
    let account = send(&router, "GET", "/account", Some(&callers_session), &[]).await;
    assert_eq!(account.location.as_deref(), Some("/login"));
    assert!(
        desk.requests(&caller).await.is_empty(),
        "the approval is used"
    );
    let taken = desk.kinds("HELPDESK_ACTION_TAKEN").await;
    assert_eq!(taken.len(), 1);
    assert!(taken[0].contains(r#""action":"reset_code""#));
    assert!(
        taken[0].contains(&format!(r#""approval_id":{approval}"#)),
        "{}",
        taken[0]
    );
    assert!(taken[0].contains(&format!(r#""approved_by":"{approver}""#)));
    let front = send(&router, "GET", "/helpdesk", Some(&colleague), &[]).await;
    assert!(
        front
            .body
            .contains("Ingen nulstillinger afventer godkendelse")
    );
}

#[tokio::test]
async fn the_requester_cannot_approve_their_own_request() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    let (proofing, _) = desk.ask_reset(&caller).await;
    let approval = desk.requests(&caller).await[0].id.to_string();

    let answer = desk.approve_as(&desk.cookie, &caller, &approval).await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(
        answer.body.contains("din egen anmodning"),
        "{}",
        answer.body
    );
    assert!(desk.requests(&caller).await[0].approved_by.is_none());
    let refused = desk.kinds("ACCESS_REFUSED").await.join("\n");
    assert!(refused.contains("OWN_REQUEST"), "{refused}");
    assert!(desk.kinds("HELPDESK_RESET_APPROVED").await.is_empty());
    let still = desk.ask_code(&caller, &proofing).await;
    assert_eq!(
        still.status,
        StatusCode::ACCEPTED,
        "no code without a second operator"
    );
}

#[tokio::test]
async fn the_user_and_other_organisations_cannot_approve() {
    let desk = desk().await;
    // The caller is a helpdesk operator too: approving the reset of their own account is
    // refusal enough, whoever asked for it.
    let caller = desk.rig.user("91234567", "caller", &[Role::Helpdesk]).await;
    desk.ask_reset(&caller).await;
    let approval = desk.requests(&caller).await[0].id.to_string();
    let callers_cookie = desk.rig.session(&caller, true).await;
    let outsider = desk
        .rig
        .user("92345678", "outsider", &[Role::Helpdesk])
        .await;
    let outsiders_cookie = desk.rig.session(&outsider, true).await;

    let own = desk.approve_as(&callers_cookie, &caller, &approval).await;
    let foreign = desk.approve_as(&outsiders_cookie, &caller, &approval).await;

    assert_eq!(own.status, StatusCode::FORBIDDEN);
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let refused = desk.kinds("ACCESS_REFUSED").await.join("\n");
    assert!(refused.contains("SELF_SERVICE"), "{refused}");
    assert!(refused.contains("WRONG_ORGANISATION"), "{refused}");
    assert!(desk.requests(&caller).await[0].approved_by.is_none());
    assert!(desk.kinds("HELPDESK_RESET_APPROVED").await.is_empty());
    let router = desk.rig.router();
    let front = send(&router, "GET", "/helpdesk", Some(&outsiders_cookie), &[]).await;
    assert!(
        !front.body.contains("caller"),
        "another organisation's requests are not listed"
    );
    let own_front = send(&router, "GET", "/helpdesk", Some(&callers_cookie), &[]).await;
    assert!(!own_front.body.contains(r#"name="approval""#));
}

#[tokio::test]
async fn a_request_is_approved_once() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    desk.ask_reset(&caller).await;
    let approval = desk.requests(&caller).await[0].id.to_string();
    let first = desk.colleague("first").await;
    let second = desk.colleague("second").await;

    let approved = desk.approve_as(&first, &caller, &approval).await;
    let twice = desk.approve_as(&first, &caller, &approval).await;
    let other = desk.approve_as(&second, &caller, &approval).await;

    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    for answer in [&twice, &other] {
        assert_eq!(answer.status, StatusCode::CONFLICT);
        assert!(answer.body.contains("allerede godkendt"), "{}", answer.body);
    }
    assert_eq!(desk.kinds("HELPDESK_RESET_APPROVED").await.len(), 1);
}

#[tokio::test]
async fn a_lapsed_request_is_neither_approved_nor_used() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    let (proofing, _) = desk.ask_reset(&caller).await;
    let request = desk.requests(&caller).await[0].clone();
    let colleague = desk.colleague("colleague").await;
    lapse(&desk, request.id).await;

    let late = desk
        .approve_as(&colleague, &caller, &request.id.to_string())
        .await;

    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(late.body.contains("udløbet"), "{}", late.body);
    assert!(desk.kinds("HELPDESK_RESET_APPROVED").await.is_empty());

    // An approval that lapses before it is used issues nothing: asking again starts a new
    // request on the (still live) verification.
    desk.ask_code(&caller, &proofing).await;
    let fresh = desk.requests(&caller).await.pop().unwrap();
    assert_ne!(fresh.id, request.id);
    let approved = desk
        .approve_as(&colleague, &caller, &fresh.id.to_string())
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    lapse(&desk, fresh.id).await;
    let asked = desk.ask_code(&caller, &proofing).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert_eq!(desk.reload(&caller).await.status, UserStatus::Active);
    assert!(desk.kinds("ACTIVATION_CODE_ISSUED").await.is_empty());
}

/// Moves a request's end into the past, as 30 minutes after its verification would.
async fn lapse(desk: &Desk, id: i64) {
    let past = (Utc::now() - Duration::seconds(1)).timestamp_millis();
    let mut tx = desk.rig.state.store.begin().await.unwrap();
    sqlx::query("UPDATE reset_approvals SET expires_at = $1 WHERE id = $2")
        .bind(past)
        .bind(id)
        .execute(tx.connection())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn approving_an_unknown_or_misplaced_request_or_without_the_token_is_refused() {
    let desk = desk().await;
    let caller = desk.rig.user("91234567", "caller", &[]).await;
    let bystander = desk.rig.user("91234567", "bystander", &[]).await;
    desk.ask_reset(&caller).await;
    let approval = desk.requests(&caller).await[0].id.to_string();
    let colleague = desk.colleague("colleague").await;

    let unknown = desk.approve_as(&colleague, &caller, "999999").await;
    let misplaced = desk.approve_as(&colleague, &bystander, &approval).await;
    let malformed = desk.approve_as(&colleague, &caller, "one").await;
    let path = format!("/helpdesk/users/{}/approve", caller.id);
    let router = desk.rig.router();
    let form = [("approval", approval.as_str())];
    let forged = send_with(&router, "POST", &path, Some(&colleague), &form, false).await;

    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("Anmodningen findes ikke"));
    assert_eq!(misplaced.status, StatusCode::NOT_FOUND);
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let empty = send(&router, "POST", &path, Some(&colleague), &[]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(desk.requests(&caller).await[0].approved_by.is_none());
    assert!(desk.kinds("HELPDESK_RESET_APPROVED").await.is_empty());
}

#[tokio::test]
async fn an_activation_code_for_a_pending_user_needs_no_approval() {
    let desk = desk().await;
    let newcomer = desk.rig.user("91234567", "newcomer", &[]).await;
    let mut tx = desk.rig.state.store.begin().await.unwrap();
    tx.set_user_status(newcomer.id, UserStatus::PendingActivation, Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (_, answer) = desk.ask_reset(&newcomer).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains(r#"id="issued-code""#));
    assert!(desk.requests(&newcomer).await.is_empty());
    let taken = desk.kinds("HELPDESK_ACTION_TAKEN").await.join("\n");
    assert!(taken.contains(r#""action":"activation_code""#), "{taken}");
    assert!(!taken.contains("approved_by"), "{taken}");
}

/// An account disabled and re-enabled by an administrator is pending again but still holds
/// its security key: its code replaces that key, so it waits for approval like a reset.
#[tokio::test]
async fn a_pending_account_that_holds_a_key_needs_approval_too() {
    use portner_shared::domain::{NsisLevel, WebAuthnCredential};
    let desk = desk().await;
    let returning = desk.rig.user("91234567", "returning", &[]).await;
    let mut tx = desk.rig.state.store.begin().await.unwrap();
    let key = WebAuthnCredential {
        credential_id: vec![9; 16],
        user_id: returning.id,
        name: "old key".to_owned(),
        credential_json: "{}".to_owned(),
        level: NsisLevel::Substantial,
        registered_at: Utc::now(),
        last_used_at: None,
    };
    tx.insert_webauthn_credential(&key).await.unwrap();
    tx.set_user_status(returning.id, UserStatus::PendingActivation, Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (_, answer) = desk.ask_reset(&returning).await;

    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert!(!answer.body.contains(r#"id="issued-code""#));
    assert_eq!(desk.requests(&returning).await.len(), 1);
}
