//! The administration console through the whole router: creating users, roles, status
//! changes and organisations with their audit records, and the refusals (own account, other
//! organisation, taken username, malformed fields, missing CSRF token) that change nothing.

use axum::http::StatusCode;
use chrono::Utc;
use portner_audit::AuditContext;
use portner_shared::domain::{Role, User, UserStatus};

use crate::console::test_support::{Answer, Rig, send, send_with};

struct Console {
    rig: Rig,
    admin: User,
    cookie: String,
}

async fn console() -> Console {
    let rig = Rig::new().await;
    let admin = rig.user("91234567", "boss", &[Role::Administrator]).await;
    let cookie = rig.session(&admin, true).await;
    Console { rig, admin, cookie }
}

impl Console {
    async fn get(&self, path: &str) -> Answer {
        send(&self.rig.router(), "GET", path, Some(&self.cookie), &[]).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        send(&self.rig.router(), "POST", path, Some(&self.cookie), form).await
    }

    async fn reload(&self, user: &User) -> User {
        let mut tx = self.rig.state.store.read().await.unwrap();
        let user = tx.user(user.id).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        user
    }

    async fn organisation(&self, cvr: &str) -> portner_shared::domain::Organisation {
        let mut tx = self.rig.state.store.read().await.unwrap();
        let organisation = tx
            .organisation(&cvr.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        tx.rollback().await.unwrap();
        organisation
    }

    async fn user_count(&self) -> usize {
        let mut tx = self.rig.state.store.read().await.unwrap();
        let users = tx.users(None).await.unwrap();
        tx.rollback().await.unwrap();
        users.len()
    }

    /// The audit lines of `kind` whose actor is the administrator.
    async fn by_admin(&self, kind: &str) -> Vec<String> {
        let actor = format!("user:{}", self.admin.id);
        self.rig
            .audit()
            .await
            .into_iter()
            .filter(|line| line.starts_with(&format!("{kind} {actor}")))
            .collect()
    }
}

fn new_user<'a>(org: &'a str, username: &'a str, email: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("org", org),
        ("username", username),
        ("display_name", "Ny Medarbejder"),
        ("email", email),
    ]
}

#[tokio::test]
async fn an_administrator_creates_a_user_pending_activation_on_the_record() {
    let console = console().await;

    let created = console
        .post(
            "/admin/users",
            &new_user("91234567", "nyansat", "ny@testfirma.dk"),
        )
        .await;

    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let location = created.location.unwrap();
    assert!(location.starts_with("/admin/users/"), "{location}");
    let page = console.get(&location).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("nyansat"));
    assert!(
        page.body.contains(r#"id="status">pending_activation"#),
        "{}",
        page.body
    );
    let created = console.by_admin("USER_CREATED").await;
    assert_eq!(created.len(), 1, "{created:?}");

    // Taken, malformed or foreign: a clear answer and nothing written.
    let before = console.user_count().await;
    let taken = console
        .post(
            "/admin/users",
            &new_user("91234567", "nyansat", "other@testfirma.dk"),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(
        taken.body.contains("Brugernavnet er allerede i brug."),
        "{}",
        taken.body
    );
    let bad_email = console
        .post(
            "/admin/users",
            &new_user("91234567", "anden", "not-an-address"),
        )
        .await;
    assert_eq!(bad_email.status, StatusCode::BAD_REQUEST);
    let long = "x".repeat(300);
    let too_long = console
        .post(
            "/admin/users",
            &new_user("91234567", &long, "ny2@testfirma.dk"),
        )
        .await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
    console.rig.org("92345678").await;
    let foreign = console
        .post(
            "/admin/users",
            &new_user("92345678", "fremmed", "f@testfirma.dk"),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let router = console.rig.router();
    let form = new_user("91234567", "uden-token", "u@testfirma.dk");
    let forged = send_with(
        &router,
        "POST",
        "/admin/users",
        Some(&console.cookie),
        &form,
        false,
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(console.user_count().await, before);
    let trail = console.rig.audit().await.join("\n");
    assert!(trail.contains("WRONG_ORGANISATION"), "{trail}");
}

#[tokio::test]
async fn roles_are_granted_and_revoked_but_never_on_ones_own_account() {
    let console = console().await;
    let colleague = console.rig.user("91234567", "colleague", &[]).await;
    let path = format!("/admin/users/{}/roles", colleague.id);

    let grant = [("role", "helpdesk"), ("change", "grant")];
    let granted = console.post(&path, &grant).await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
    let page = console.get(&format!("/admin/users/{}", colleague.id)).await;
    assert!(page.body.contains("<li>helpdesk</li>"), "{}", page.body);
    assert_eq!(
        console.post(&path, &grant).await.status,
        StatusCode::CONFLICT
    );
    let revoke = [("role", "helpdesk"), ("change", "revoke")];
    assert_eq!(
        console.post(&path, &revoke).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        console.post(&path, &revoke).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(console.by_admin("ROLE_GRANTED").await.len(), 1);
    assert_eq!(console.by_admin("ROLE_REVOKED").await.len(), 1);
    let unknown = [("role", "superuser"), ("change", "grant")];
    assert_eq!(
        console.post(&path, &unknown).await.status,
        StatusCode::BAD_REQUEST
    );

    // One's own account: no forms on the page, and a forged request is refused and audited.
    let own = format!("/admin/users/{}", console.admin.id);
    let page = console.get(&own).await;
    assert!(page.body.contains("din egen konto"), "{}", page.body);
    assert!(
        !page.body.contains(r#"action="/admin/users/"#),
        "{}",
        page.body
    );
    let drop_own = [("role", "administrator"), ("change", "revoke")];
    let refused = console.post(&format!("{own}/roles"), &drop_own).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let trail = console.rig.audit().await.join("\n");
    assert!(trail.contains("SELF_SERVICE"), "{trail}");
    let mut tx = console.rig.state.store.read().await.unwrap();
    let roles = tx.roles_of(console.admin.id).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(roles.iter().any(|held| held.role == Role::Administrator));
}

#[tokio::test]
async fn disabling_ends_sessions_and_re_enabling_needs_a_new_activation() {
    let console = console().await;
    let worker = console.rig.user("91234567", "worker", &[]).await;
    let session = console.rig.session(&worker, true).await;
    let path = format!("/admin/users/{}/status", worker.id);

    let disabled = console.post(&path, &[("status", "disable")]).await;
    assert_eq!(disabled.status, StatusCode::SEE_OTHER, "{}", disabled.body);
    assert_eq!(console.reload(&worker).await.status, UserStatus::Disabled);
    let router = console.rig.router();
    let account = send(&router, "GET", "/account", Some(&session), &[]).await;
    assert_eq!(
        account.location.as_deref(),
        Some("/login"),
        "sessions ended"
    );
    assert_eq!(
        console.post(&path, &[("status", "disable")]).await.status,
        StatusCode::CONFLICT
    );

    let enabled = console.post(&path, &[("status", "enable")]).await;
    assert_eq!(enabled.status, StatusCode::SEE_OTHER);
    let after = console.reload(&worker).await;
    assert_eq!(
        after.status,
        UserStatus::PendingActivation,
        "a code is needed again"
    );
    assert_eq!(console.by_admin("USER_STATUS_CHANGED").await.len(), 2);
    assert_eq!(
        console.post(&path, &[("status", "activate")]).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn the_overview_shows_only_ones_organisations_and_the_policies_with_history() {
    let console = console().await;
    console.rig.user("91234567", "insider", &[]).await;
    let outsider = console.rig.user("92345678", "outsider", &[]).await;

    let overview = console.get("/admin").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains("insider"), "{}", overview.body);
    assert!(!overview.body.contains("outsider"), "{}", overview.body);
    assert!(
        overview.body.contains(r#"<p id="policies">"#),
        "no snapshot yet"
    );
    let foreign = console.get(&format!("/admin/users/{}", outsider.id)).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let english = console.get("/admin?lang=en&q=insid").await;
    assert!(english.body.contains("Create user") && english.body.contains("insider"));

    let store = &console.rig.state.store;
    let context = AuditContext::system();
    let first = [("password_min_length".to_owned(), "12".to_owned())];
    portner_audit::config_history::record_if_changed(store, Utc::now(), &context, &first)
        .await
        .unwrap();
    let second = [("password_min_length".to_owned(), "16".to_owned())];
    portner_audit::config_history::record_if_changed(store, Utc::now(), &context, &second)
        .await
        .unwrap();
    let overview = console.get("/admin").await;
    assert!(
        overview
            .body
            .contains("<td><code>password_min_length</code></td><td>16</td>"),
        "{}",
        overview.body
    );
    let history = overview
        .body
        .split(r#"id="policy-history""#)
        .nth(1)
        .unwrap();
    let newest = history.find("password_min_length = 16").unwrap();
    let oldest = history.find("password_min_length = 12").unwrap();
    assert!(newest < oldest, "newest first: {history}");
}

/// Syncs `cvr` and queues an action for `user` that has failed with `reason`.
async fn failed_action(console: &Console, cvr: &str, user: &User, reason: &str) -> i64 {
    use portner_shared::domain::{OutboxState, SyncAction, SyncMode, SyncOrganisation};
    let org = console.rig.org(cvr).await;
    let now = Utc::now();
    let mut tx = console.rig.state.store.begin().await.unwrap();
    let settings = SyncOrganisation {
        org: org.clone(),
        mode: SyncMode::LocalIdp,
        base_url: "https://idm.example.invalid".to_owned(),
        client_cert_path: "system.p12".into(),
        client_key_path: None,
        trust_roots_path: "roots.pem".into(),
        default_email: None,
        scope_group: None,
    };
    tx.upsert_sync_organisation(&settings, now).await.unwrap();
    let action = SyncAction::SuspendUser { user_id: user.id };
    let id = tx.enqueue_sync_action(&org, &action, now).await.unwrap();
    tx.settle_outbox_action(id, OutboxState::Failed, now, Some(reason))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn state_of(console: &Console, id: i64) -> portner_shared::domain::OutboxState {
    let mut tx = console.rig.state.store.read().await.unwrap();
    let action = tx.outbox_action(id).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    action.state
}

#[tokio::test]
async fn failed_sync_actions_are_retried_or_dismissed_on_the_record() {
    use portner_shared::domain::OutboxState;
    let console = console().await;
    let page = console.get("/admin/sync").await;
    assert!(page.body.contains(r#"id="no-sync""#), "{}", page.body);
    let leaver = console.rig.user("91234567", "leaver", &[]).await;
    let first = failed_action(&console, "91234567", &leaver, "IDM_REJECTED").await;
    let second = failed_action(&console, "91234567", &leaver, "IDM_NOT_FOUND").await;

    let page = console.get("/admin/sync").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("IDM_REJECTED") && page.body.contains("IDM_NOT_FOUND"));
    assert!(
        page.body.contains("<td>failed</td><td>2</td>"),
        "{}",
        page.body
    );

    let retried = console
        .post(&format!("/admin/sync/actions/{first}/retry"), &[])
        .await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER, "{}", retried.body);
    assert_eq!(state_of(&console, first).await, OutboxState::Pending);
    let again = console
        .post(&format!("/admin/sync/actions/{first}/retry"), &[])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "only failed actions");

    let dismissed = console
        .post(&format!("/admin/sync/actions/{second}/dismiss"), &[])
        .await;
    assert_eq!(dismissed.status, StatusCode::SEE_OTHER);
    assert_eq!(
        state_of(&console, second).await,
        OutboxState::Failed,
        "kept for the record"
    );
    let page = console.get("/admin/sync").await;
    assert!(
        !page.body.contains("IDM_NOT_FOUND"),
        "no longer an open failure"
    );
    assert!(
        page.body.contains("<td>dismissed</td><td>1</td>"),
        "{}",
        page.body
    );
    let dismissed_twice = console
        .post(&format!("/admin/sync/actions/{second}/dismiss"), &[])
        .await;
    assert_eq!(dismissed_twice.status, StatusCode::CONFLICT);
    assert_eq!(console.by_admin("SYNC_ACTION_REQUEUED").await.len(), 1);
    assert_eq!(console.by_admin("SYNC_ACTION_DISMISSED").await.len(), 1);

    // Another organisation's action reads as missing; garbage IDs and forged forms change
    // nothing.
    let stranger = console.rig.user("92345678", "stranger", &[]).await;
    let foreign = failed_action(&console, "92345678", &stranger, "IDM_REJECTED").await;
    let path = format!("/admin/sync/actions/{foreign}/retry");
    assert_eq!(console.post(&path, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(state_of(&console, foreign).await, OutboxState::Failed);
    let page = console.get("/admin/sync").await;
    assert!(!page.body.contains("92345678"), "{}", page.body);
    let garbage = console.post("/admin/sync/actions/x1/retry", &[]).await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);
    let router = console.rig.router();
    let path = format!("/admin/sync/actions/{foreign}/dismiss");
    let forged = send_with(&router, "POST", &path, Some(&console.cookie), &[], false).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn profiles_are_edited_and_users_deleted_only_with_the_username_confirmed() {
    let console = console().await;
    let worker = console.rig.user("91234567", "worker", &[]).await;
    let base = format!("/admin/users/{}", worker.id);

    let edit = [("display_name", "Ny Navn"), ("email", "ny@testfirma.dk")];
    let edited = console.post(&format!("{base}/profile"), &edit).await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let after = console.reload(&worker).await;
    assert_eq!(
        (after.display_name.as_str(), after.email.as_str()),
        ("Ny Navn", "ny@testfirma.dk")
    );
    let changed = console.by_admin("USER_PROFILE_CHANGED").await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(
        !changed[0].contains("ny@testfirma.dk"),
        "values stay out of the trail"
    );
    let bad = [("display_name", "Ny Navn"), ("email", "not-an-address")];
    let refused = console.post(&format!("{base}/profile"), &bad).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    let wrong = console
        .post(&format!("{base}/delete"), &[("confirm", "someone")])
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(console.reload(&worker).await.id, worker.id, "still there");
    let deleted = console
        .post(&format!("{base}/delete"), &[("confirm", "worker")])
        .await;
    assert_eq!(
        deleted.location.as_deref(),
        Some("/admin"),
        "{}",
        deleted.body
    );
    let mut tx = console.rig.state.store.read().await.unwrap();
    assert!(tx.user(worker.id).await.unwrap().is_none());
    tx.rollback().await.unwrap();
    assert_eq!(console.by_admin("USER_DELETED").await.len(), 1);

    let own = format!("/admin/users/{}/delete", console.admin.id);
    let refused = console.post(&own, &[("confirm", "boss")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn local_rights_are_defined_and_assigned_within_the_users_organisation() {
    let console = console().await;
    let worker = console.rig.user("91234567", "worker", &[]).await;
    let define = [("right", "intranet.editor"), ("name", "Intranet editor")];
    let defined = console.post("/admin/rights", &define).await;
    assert_eq!(
        defined.location.as_deref(),
        Some("/admin"),
        "{}",
        defined.body
    );
    assert_eq!(
        console.post("/admin/rights", &define).await.status,
        StatusCode::CONFLICT
    );
    let bad_key = [("right", "no spaces allowed"), ("name", "X")];
    assert_eq!(
        console.post("/admin/rights", &bad_key).await.status,
        StatusCode::BAD_REQUEST
    );
    let overview = console.get("/admin").await;
    assert!(
        overview.body.contains("<code>intranet.editor</code>"),
        "{}",
        overview.body
    );

    let path = format!("/admin/users/{}/rights", worker.id);
    let page = console.get(&format!("/admin/users/{}", worker.id)).await;
    assert!(
        page.body.contains(r#"<option value="cvr:91234567">"#),
        "{}",
        page.body
    );
    let assign = [
        ("right", "intranet.editor"),
        ("scope", "cvr:91234567"),
        ("change", "assign"),
    ];
    let assigned = console.post(&path, &assign).await;
    assert_eq!(assigned.status, StatusCode::SEE_OTHER, "{}", assigned.body);
    assert_eq!(
        console.post(&path, &assign).await.status,
        StatusCode::CONFLICT
    );
    let page = console.get(&format!("/admin/users/{}", worker.id)).await;
    assert!(
        page.body.contains("<code>intranet.editor</code>"),
        "{}",
        page.body
    );

    // Another organisation's scope, an unknown right or scope kind: refused, nothing written.
    let refused = [
        [
            ("right", "intranet.editor"),
            ("scope", "cvr:92345678"),
            ("change", "assign"),
        ],
        [
            ("right", "unknown.right"),
            ("scope", "cvr:91234567"),
            ("change", "assign"),
        ],
        [
            ("right", "intranet.editor"),
            ("scope", "region:1"),
            ("change", "assign"),
        ],
        [
            ("right", "intranet.editor"),
            ("scope", "cvr:91234567"),
            ("change", "steal"),
        ],
    ];
    for form in refused {
        assert_eq!(
            console.post(&path, &form).await.status,
            StatusCode::BAD_REQUEST,
            "{form:?}"
        );
    }
    let revoke = [
        ("right", "intranet.editor"),
        ("scope", "cvr:91234567"),
        ("change", "revoke"),
    ];
    assert_eq!(
        console.post(&path, &revoke).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        console.post(&path, &revoke).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(console.by_admin("RIGHT_DEFINED").await.len(), 1);
    assert_eq!(console.by_admin("RIGHT_ASSIGNED").await.len(), 1);
    assert_eq!(console.by_admin("RIGHT_REVOKED").await.len(), 1);

    let own = format!("/admin/users/{}/rights", console.admin.id);
    assert_eq!(
        console.post(&own, &assign).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn organisations_are_renamed_and_renumbered_but_a_scope_in_use_stays() {
    let console = console().await;
    let worker = console.rig.user("91234567", "worker", &[]).await;
    let overview = console.get("/admin").await;
    assert!(
        overview
            .body
            .contains(r#"action="/admin/organisations/91234567""#),
        "{}",
        overview.body
    );

    let path = "/admin/organisations/91234567";
    let form = [
        ("name", "Testfirma A/S"),
        ("se_numbers", "91111111, 92222222 91111111"),
        ("p_units", "9000000001"),
    ];
    let saved = console.post(path, &form).await;
    assert_eq!(saved.location.as_deref(), Some("/admin"), "{}", saved.body);
    let organisation = console.organisation("91234567").await;
    assert_eq!(organisation.name, "Testfirma A/S");
    let se: Vec<&str> = organisation
        .se_numbers
        .iter()
        .map(|se| se.as_str())
        .collect();
    assert_eq!(se, ["91111111", "92222222"]);
    assert_eq!(console.by_admin("ORGANISATION_CHANGED").await.len(), 1);
    let again = console.post(path, &form).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(
        console.by_admin("ORGANISATION_CHANGED").await.len(),
        1,
        "an unchanged form writes nothing"
    );

    // A right held within SE 91111111 keeps that number on the organisation.
    let define = [("right", "intranet.editor"), ("name", "Intranet editor")];
    console.post("/admin/rights", &define).await;
    let assign = [
        ("right", "intranet.editor"),
        ("scope", "se:91111111"),
        ("change", "assign"),
    ];
    let rights = format!("/admin/users/{}/rights", worker.id);
    assert_eq!(
        console.post(&rights, &assign).await.status,
        StatusCode::SEE_OTHER
    );
    let removing = [
        ("name", "Testfirma A/S"),
        ("se_numbers", "92222222"),
        ("p_units", ""),
    ];
    assert_eq!(
        console.post(path, &removing).await.status,
        StatusCode::CONFLICT
    );

    // Malformed numbers or names, another organisation: refused, nothing written.
    let bad_se = [("name", "X"), ("se_numbers", "123"), ("p_units", "")];
    assert_eq!(
        console.post(path, &bad_se).await.status,
        StatusCode::BAD_REQUEST
    );
    let bad_name = [("name", " "), ("se_numbers", ""), ("p_units", "")];
    assert_eq!(
        console.post(path, &bad_name).await.status,
        StatusCode::BAD_REQUEST
    );
    console.rig.org("92345678").await;
    let foreign = console.post("/admin/organisations/92345678", &form).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let unknown = console.post("/admin/organisations/garbage", &form).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let organisation = console.organisation("91234567").await;
    assert_eq!(organisation.se_numbers.len(), 2);
    assert_eq!(organisation.p_units.len(), 1);
    assert_eq!(console.by_admin("ORGANISATION_CHANGED").await.len(), 1);
}

#[tokio::test]
async fn sign_in_policies_are_changed_on_the_record_and_in_force_at_once() {
    let console = console().await;
    let state = &console.rig.state;
    let overview = console.get("/admin").await;
    assert!(
        overview
            .body
            .contains(r#"name="password_min_length" type="number" min="8" max="256""#),
        "{}",
        overview.body
    );

    let form = [("password_min_length", "16"), ("lockout_threshold", "3")];
    let saved = console.post("/admin/policies", &form).await;
    assert_eq!(
        saved.location.as_deref(),
        Some("/admin#policies"),
        "{}",
        saved.body
    );
    assert_eq!(state.signin.settings().password_min_length, 16);
    assert_eq!(state.signin.settings().lockout_threshold, 3);
    let short = crate::signin::password::Password::new("fjorten tegn!!").unwrap();
    let checked = state.signin.passwords.check_policy(&short, &[], &[]).await;
    assert!(checked.unwrap().is_err(), "14 characters are too few now");
    assert_eq!(console.by_admin("POLICY_CHANGED").await.len(), 2);
    let overview = console.get("/admin").await;
    let history = overview
        .body
        .split(r#"id="policy-history""#)
        .nth(1)
        .unwrap();
    assert!(history.contains("password_min_length = 16"), "{history}");

    // Another replica reads the change from the store.
    let replica = crate::signin::SignIn::new(
        state.store.clone(),
        state.clock.clone(),
        state.signin.policy.file(),
        "http://localhost:8080",
    )
    .unwrap();
    assert_eq!(replica.settings().lockout_threshold, 5);
    assert_eq!(replica.refresh_policy().await.unwrap().lockout_threshold, 3);

    // The same values again change nothing; an empty field returns to the file's value.
    console.post("/admin/policies", &form).await;
    assert_eq!(console.by_admin("POLICY_CHANGED").await.len(), 2);
    let back = [("password_min_length", "16"), ("lockout_threshold", "")];
    console.post("/admin/policies", &back).await;
    assert_eq!(state.signin.settings().lockout_threshold, 5);
    assert_eq!(console.by_admin("POLICY_CHANGED").await.len(), 3);

    // The helpdesk's methods are policies too: a call-back withdrawn is no longer offered.
    let withdrawn = [("helpdesk_call_back_level", "0")];
    console.post("/admin/policies", &withdrawn).await;
    let policy = state.signin.settings();
    let method = portner_shared::domain::ProofingMethod::CallBack;
    assert_eq!(crate::console::helpdesk::method_cap(method, &policy), None);
    let raised = [("helpdesk_call_back_level", "2")];
    let refused = console.post("/admin/policies", &raised).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "never above Low");
    assert_eq!(console.by_admin("POLICY_CHANGED").await.len(), 4);

    // Out of range, not a number, not editable: refused, and nothing changes.
    for bad in [
        [("password_min_length", "7"), ("lockout_threshold", "4")],
        [("password_min_length", "many"), ("lockout_threshold", "4")],
        [
            ("password_argon2_memory_kib", "8192"),
            ("lockout_threshold", "4"),
        ],
    ] {
        let refused = console.post("/admin/policies", &bad).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    assert_eq!(state.signin.settings().lockout_threshold, 5);
    assert_eq!(state.signin.settings().password_min_length, 16);
    assert_eq!(console.by_admin("POLICY_CHANGED").await.len(), 4);
}

const SP_METADATA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/sp-metadata.xml"
));

#[tokio::test]
async fn service_providers_are_registered_from_metadata_and_removed_on_confirmation() {
    let console = console().await;
    let page = console.get("/admin/service-providers").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(r#"id="no-sps""#), "{}", page.body);
    assert!(page.body.contains(r#"<label for="sp-metadata">"#));

    let form = [
        ("metadata", SP_METADATA),
        ("name", "Intranettet"),
        ("profile", "own"),
        ("encryption", "oiosaml3"),
        ("minimum_level", "substantial"),
    ];
    let registered = console.post("/admin/service-providers", &form).await;
    assert_eq!(
        registered.location.as_deref(),
        Some("/admin/service-providers"),
        "{}",
        registered.body
    );
    let page = console.get("/admin/service-providers?lang=en").await;
    assert!(
        page.body
            .contains("<td><code>https://sp.test.example.dk/saml</code></td><td>Intranettet</td>"),
        "{}",
        page.body
    );
    assert_eq!(
        console.by_admin("SERVICE_PROVIDER_REGISTERED").await.len(),
        1
    );
    let again = console.post("/admin/service-providers", &form).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // Broken metadata, a setting the profile forbids, an unknown level: nothing registered.
    let broken = console
        .post(
            "/admin/service-providers",
            &[
                ("metadata", "<EntityDescriptor"),
                ("profile", "own"),
                ("encryption", "oiosaml3"),
                ("minimum_level", "substantial"),
            ],
        )
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    let unencrypted_nemlogin = [
        ("metadata", SP_METADATA),
        ("profile", "nemlogin"),
        ("encryption", "none"),
        ("minimum_level", "substantial"),
    ];
    assert_eq!(
        console
            .post("/admin/service-providers", &unencrypted_nemlogin)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let entity = "https://sp.test.example.dk/saml";
    let wrong = [("entity_id", entity), ("confirm", "https://other")];
    let refused = console
        .post("/admin/service-providers/remove", &wrong)
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let confirmed = [("entity_id", entity), ("confirm", entity)];
    let removed = console
        .post("/admin/service-providers/remove", &confirmed)
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    assert_eq!(console.by_admin("SERVICE_PROVIDER_REMOVED").await.len(), 1);
    let gone = console
        .post("/admin/service-providers/remove", &confirmed)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        console.by_admin("SERVICE_PROVIDER_REGISTERED").await.len(),
        1
    );
}

#[tokio::test]
async fn the_overview_shows_the_groups_of_administered_organisations_read_only() {
    use std::collections::BTreeSet;

    let console = console().await;
    let overview = console.get("/admin").await;
    assert!(
        overview.body.contains(r#"id="no-groups""#),
        "{}",
        overview.body
    );

    let worker = console.rig.user("91234567", "worker", &[]).await;
    let outsider = console.rig.user("92345678", "outsider", &[]).await;
    let store = &console.rig.state.store;
    let context = AuditContext::cli();
    let mut tx = store.begin().await.unwrap();
    for (org, name, member) in [
        ("91234567", "MitID", &worker),
        ("92345678", "Hidden", &outsider),
    ] {
        let change = crate::directory::GroupChange {
            name: name.parse().unwrap(),
            external_id: None,
            members: BTreeSet::from([member.id]),
        };
        let org = org.parse().unwrap();
        crate::directory::create_group_in(&mut tx, Utc::now(), &context, &org, &change)
            .await
            .unwrap();
    }
    let org = "91234567".parse().unwrap();
    let scope = tx.group_by_name(&org, "mitid").await.unwrap().unwrap();
    let settings = portner_shared::domain::SyncOrganisation {
        org,
        mode: portner_shared::domain::SyncMode::LocalIdp,
        base_url: "https://idm.invalid".into(),
        client_cert_path: "client.pem".into(),
        client_key_path: None,
        trust_roots_path: "ca.pem".into(),
        default_email: None,
        scope_group: Some(scope.id),
    };
    tx.upsert_sync_organisation(&settings, Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let overview = console.get("/admin?lang=en").await;
    let groups = overview.body.split(r#"id="groups""#).nth(1).unwrap();
    assert!(groups.contains("<td>MitID</td>"), "{groups}");
    assert!(groups.contains("Scopes the MitID Erhverv sync"), "{groups}");
    assert!(groups.contains("1: worker"), "{groups}");
    assert!(
        !overview.body.contains("Hidden"),
        "another organisation's group stays hidden"
    );
}
