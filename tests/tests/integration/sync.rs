//! The MitID Erhverv sync end to end: directory change -> outbox -> worker -> simulator over
//! mutual TLS -> links, audit and findings (mitid-erhverv-idm-api.md §9.6).

// The scenario bodies are test code run through on_both_backends! (clippy.toml's rule).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use portner_audit::AuditContext;
use portner_idm_sync::sim::{FaultKind, FaultRule, SimAuthenticator, SimEmployee, Trigger};
use portner_idp::directory;
use portner_shared::SystemClock;
use portner_shared::domain::{Group, OutboxState, SyncMode, User, UserStatus};
use portner_tests::TestStore;
use portner_tests::sync::{
    CVR, SUFFIX, add_user, audit_count, cert_folder, fast_settings, fictitious_cpr, outbox_count,
    register, set_mode, start_simulator, worker,
};

on_both_backends!(
    s1_happy_create_binds_the_name_id,
    s2_crash_after_create_adopts_instead_of_duplicating,
    s2_plain_conflict_runs_rl1,
    s3_rl2_adopts_and_binds_the_local_login,
    s4_rl3_adopts_and_reactivates,
    s5_unresolved_conflict_fails_without_mutating_calls,
    s6_rapid_flips_end_in_the_final_state_without_calls,
    s8_identity_deleted_out_of_band_is_recreated,
    s16_token_expiry_mid_run_is_survived,
    s19_validation_failures_make_no_call,
    s21_actions_of_one_user_run_in_order,
    transient_faults_converge_and_every_retry_is_audited,
    switching_light_to_local_idp_binds_existing_identities,
    rights_are_applied_as_a_minimal_diff,
    unauthorized_stops_the_worker_and_keeps_actions,
    s9_s11_reconcile_repairs_suspension_and_name_id_drift,
    the_schedule_reconciles_when_due_and_not_before,
    s10_unlinked_identity_is_reported_not_adopted,
    s17_flaky_reconcile_completes_without_false_findings,
    s18_shrunken_listing_trips_the_safety_guard,
    s14_email_and_name_change_sent_trimmed_once,
    resets_bad_json_rate_limits_and_latency_converge,
    a_group_scoped_sync_sends_members_only_and_suspends_leavers,
    a_reconcile_imports_the_role_catalogue_so_its_roles_can_be_assigned,
    a_users_nemid_rid_is_sent_at_creation_and_held_by_one_user_only,
);

async fn resets_bad_json_rate_limits_and_latency_converge(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    for index in 0..40 {
        add_user(&test.store, index, Some(&fictitious_cpr(index))).await;
    }
    let chance = |per_mille| Trigger::Probability { per_mille };
    sim.set_faults(vec![
        FaultRule::new("/identity/employee", chance(100), FaultKind::Reset),
        FaultRule::new("/identity/employee", chance(50), FaultKind::BadJson),
        FaultRule::new(
            "/identity/employee",
            chance(50),
            FaultKind::RateLimit { retry_after: 1 },
        ),
        FaultRule::new(
            "/identity/employee",
            chance(100),
            FaultKind::Latency { millis: 5 },
        ),
    ]);

    let report = drain(&test).await;

    assert_eq!(report.failed, 0);
    assert!(report.retried > 0, "faults were injected and retried");
    let remote = sim.state().employees_of(CVR);
    assert_eq!(remote.len(), 40, "no duplicates, none missing");
    let retried = audit_count(&test.store, "SYNC_ACTION_RETRIED").await;
    assert_eq!(retried, i64::try_from(report.retried).unwrap());
}

async fn s14_email_and_name_change_sent_trimmed_once(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let mut user = add_user(&test.store, 30, Some(&fictitious_cpr(30))).await;
    drain(&test).await;
    let calls_before = sim.state().calls.len();

    user.display_name = "  Anne   Marie  Hansen ".to_owned();
    user.email = format!("anne.hansen@{SUFFIX}").parse().unwrap();
    let mut tx = test.store.begin().await.unwrap();
    tx.update_user_profile(&user, chrono::Utc::now())
        .await
        .unwrap();
    portner_idm_sync::enqueue::user_profile_changed(&mut tx, &user, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    drain(&test).await;

    let remote = sim.state().employees_of(CVR)[0].clone();
    assert_eq!(remote.email, format!("anne.hansen@{SUFFIX}"));
    assert_eq!(
        (remote.given_name.as_str(), remote.surname.as_str()),
        ("Anne Marie", "Hansen")
    );
    let calls: Vec<String> = sim.state().calls[calls_before..]
        .iter()
        .filter(|c| !c.path.ends_with("/authenticate"))
        .map(|c| format!("{} {}", c.method, c.path.rsplit('/').next().unwrap()))
        .collect();
    assert_eq!(
        calls,
        ["PUT nonsensitive", "PUT profile"],
        "E6 then E4, once each"
    );

    // Nothing changed since: a repeated upsert sends nothing.
    let mut tx = test.store.begin().await.unwrap();
    portner_idm_sync::enqueue::user_profile_changed(&mut tx, &user, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let before = sim.state().calls.len();
    drain(&test).await;
    assert_eq!(sim.state().calls.len(), before);
}

async fn reconcile(test: &TestStore) -> portner_idm_sync::reconcile::ReconcileReport {
    let mut tx = test.store.read().await.unwrap();
    let settings = tx
        .sync_organisation(&CVR.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    let worker = worker(&test.store, fast_settings(1));
    let client = worker.client(&settings).unwrap();
    portner_idm_sync::reconcile::reconcile(&test.store, &client, &settings, chrono::Utc::now())
        .await
        .unwrap()
}

async fn linked_users(test: &TestStore, sim: &portner_idm_sync::sim::Simulator, count: u32) {
    for index in 0..count {
        add_user(&test.store, index, Some(&fictitious_cpr(index))).await;
    }
    drain(test).await;
    assert_eq!(sim.state().employees_of(CVR).len(), count as usize);
}

async fn s9_s11_reconcile_repairs_suspension_and_name_id_drift(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    linked_users(&test, &sim, 3).await;
    let remote = sim.state().employees_of(CVR);
    {
        let mut state = sim.state();
        state.employee_mut(CVR, &remote[0].uuid).unwrap().status = "Suspended".into();
        let employee = state.employee_mut(CVR, &remote[1].uuid).unwrap();
        employee.authenticators[0].id = Some("someone-else@x.dk".into());
    }

    let report = reconcile(&test).await;

    let kinds: Vec<&str> = report.findings.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&"ACCOUNT_DISABLED"), "{kinds:?}");
    assert!(kinds.contains(&"NAMEID_MISMATCH"), "{kinds:?}");
    assert_eq!(report.findings.len(), 2);
    drain(&test).await;
    let after = sim.state().employees_of(CVR);
    assert!(after.iter().all(|e| e.status == "Active"));
    let mut ids: Vec<String> = after
        .iter()
        .map(|e| e.local_id().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, [subject(0), subject(1), subject(2)]);
    assert!(reconcile(&test).await.findings.is_empty(), "drift repaired");
    assert!(audit_count(&test.store, "SYNC_DRIFT_FOUND").await >= 2);
}

/// Issue 6 item 4, the schedule in `serve`: an organisation never reconciled is due at once,
/// then not again until the interval has passed; the time comes from the store, so a new
/// worker (a restarted server) sees the same.
async fn the_schedule_reconciles_when_due_and_not_before(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    linked_users(&test, &sim, 2).await;
    let clock = portner_shared::FixedClock::at(chrono::Utc::now());
    let scheduled = |clock: &portner_shared::FixedClock| {
        Arc::new(portner_idm_sync::worker::Worker::new(
            test.store.clone(),
            Arc::new(clock.clone()),
            fast_settings(1),
        ))
    };
    let day = chrono::Duration::hours(24);

    let worker = scheduled(&clock);
    assert_eq!(
        worker.reconcile_due(day).await.unwrap(),
        1,
        "never reconciled: due"
    );
    assert_eq!(
        worker.reconcile_due(day).await.unwrap(),
        0,
        "just reconciled"
    );
    clock.advance(chrono::Duration::hours(23));
    assert_eq!(scheduled(&clock).reconcile_due(day).await.unwrap(), 0);
    clock.advance(chrono::Duration::hours(2));
    assert_eq!(scheduled(&clock).reconcile_due(day).await.unwrap(), 1);

    let mut tx = test.store.read().await.unwrap();
    let (last, _) = tx
        .last_sync_run(&CVR.parse().unwrap(), "reconcile")
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    let reconciled_at = portner_shared::Clock::now(&clock);
    assert!(last >= reconciled_at && last - reconciled_at < chrono::Duration::minutes(1));
}

async fn s10_unlinked_identity_is_reported_not_adopted(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let user = add_user(&test.store, 20, Some(&fictitious_cpr(20))).await;
    let mut tx = test.store.begin().await.unwrap();
    // The queued CREATE failed earlier; the identity was made by hand in MitID Erhverv.
    let claimed = tx.claim_sync_actions(chrono::Utc::now(), 10).await.unwrap();
    tx.settle_sync_action(
        claimed[0].action.id,
        OutboxState::Failed,
        chrono::Utc::now(),
        Some("x"),
        None,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let email = format!("user20@{SUFFIX}");
    let uuid = sim
        .state()
        .seed_employee(CVR, seeded(&fictitious_cpr(20), &email, "Active", None));

    let report = reconcile(&test).await;

    let unassociated: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == "UNASSOCIATED")
        .collect();
    assert_eq!(unassociated.len(), 1);
    assert_eq!(
        unassociated[0].employee_uuid.as_deref(),
        Some(uuid.as_str())
    );
    assert_eq!(
        link_of(&test, &user).await,
        None,
        "no adoption without confirmation"
    );
}

async fn s17_flaky_reconcile_completes_without_false_findings(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    linked_users(&test, &sim, 40).await;
    sim.set_faults(portner_idm_sync::sim::production_like());

    let report = reconcile(&test).await;

    assert_eq!(report.listed, 40);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

async fn s18_shrunken_listing_trips_the_safety_guard(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    linked_users(&test, &sim, 5).await;
    sim.set_faults(vec![FaultRule::new(
        "/employee/search",
        Trigger::Every { k: 1 },
        FaultKind::ShrinkSearch,
    )]);

    let report = reconcile(&test).await;

    assert!(report.guarded);
    assert_eq!(
        report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(),
        ["SAFETY_GUARD"]
    );
    assert!(report.repairs.is_empty());
    assert_eq!(outbox_count(&test.store, "pending").await, 0);
    let mut tx = test.store.read().await.unwrap();
    assert_eq!(
        tx.sync_links(&CVR.parse().unwrap()).await.unwrap().len(),
        5,
        "nothing unlinked"
    );
}

async fn drain(test: &TestStore) -> portner_idm_sync::worker::DrainReport {
    worker(&test.store, fast_settings(4))
        .drain(&|_, _| {})
        .await
        .unwrap()
}

async fn disable(test: &TestStore, username: &str, status: UserStatus) {
    directory::set_user_status(
        &test.store,
        &SystemClock,
        &AuditContext::cli(),
        &username.parse().unwrap(),
        status,
    )
    .await
    .unwrap();
}

fn subject(index: u32) -> String {
    format!("user{index}@{SUFFIX}")
}

fn seeded(cpr: &str, email: &str, status: &str, local_id: Option<&str>) -> SimEmployee {
    SimEmployee {
        status: status.to_owned(),
        given_name: "Test".to_owned(),
        surname: "Person".to_owned(),
        cpr: cpr.to_owned(),
        email: email.to_owned(),
        authenticators: local_id
            .map(|id| SimAuthenticator {
                uuid: uuid::Uuid::new_v4().to_string(),
                kind: "LocalIdentityProvider".to_owned(),
                id: Some(id.to_owned()),
            })
            .into_iter()
            .collect(),
        ..SimEmployee::default()
    }
}

async fn link_of(test: &TestStore, user: &portner_shared::domain::User) -> Option<String> {
    let mut tx = test.store.read().await.unwrap();
    tx.sync_link(user.id)
        .await
        .unwrap()
        .map(|link| link.employee_uuid)
}

async fn s1_happy_create_binds_the_name_id(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let user = add_user(&test.store, 1, Some(&fictitious_cpr(1))).await;

    let report = drain(&test).await;

    assert_eq!(report.succeeded, 1);
    let uuid = link_of(&test, &user).await.expect("UUID stored");
    let remote = sim.state().employees_of(CVR);
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].uuid, uuid);
    assert_eq!(remote[0].status, "Active");
    assert_eq!(
        remote[0].local_id(),
        Some(subject(1).as_str()),
        "C1 id = NameID"
    );
    assert_eq!(audit_count(&test.store, "SYNC_ACTION_DONE").await, 1);
}

async fn s2_crash_after_create_adopts_instead_of_duplicating(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let user = add_user(&test.store, 2, Some(&fictitious_cpr(2))).await;
    // The crashed worker claimed the action and E1 succeeded; the UUID was never stored.
    let mut tx = test.store.begin().await.unwrap();
    assert_eq!(
        tx.claim_sync_actions(chrono::Utc::now(), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    tx.commit().await.unwrap();
    sim.state().seed_employee(
        CVR,
        seeded(&fictitious_cpr(2), "x@y.dk", "Active", Some(&subject(2))),
    );

    let report = drain(&test).await;

    assert_eq!(report.recovered, 1);
    let remote = sim.state().employees_of(CVR);
    assert_eq!(remote.len(), 1, "exactly one identity");
    assert_eq!(link_of(&test, &user).await, Some(remote[0].uuid.clone()));
    assert_eq!(audit_count(&test.store, "SYNC_IDENTITY_ADOPTED").await, 1);
    let creates = sim
        .state()
        .calls
        .iter()
        .filter(|c| c.method == "POST" && c.path == "/api/administration/identity/employee")
        .count();
    assert_eq!(creates, 0, "a recovered CREATE looks before it creates");
}

async fn s2_plain_conflict_runs_rl1(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let user = add_user(&test.store, 3, Some(&fictitious_cpr(3))).await;
    sim.state().seed_employee(
        CVR,
        seeded(&fictitious_cpr(3), "x@y.dk", "Active", Some(&subject(3))),
    );

    drain(&test).await;

    let remote = sim.state().employees_of(CVR);
    assert_eq!(remote.len(), 1);
    assert_eq!(link_of(&test, &user).await, Some(remote[0].uuid.clone()));
    assert!(sim.state().calls.iter().any(|c| c.status == 409));
}

async fn s3_rl2_adopts_and_binds_the_local_login(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let user = add_user(&test.store, 4, Some(&fictitious_cpr(4))).await;
    let email = format!("user4@{SUFFIX}");
    let uuid = sim
        .state()
        .seed_employee(CVR, seeded(&fictitious_cpr(4), &email, "Active", None));

    drain(&test).await;

    assert_eq!(link_of(&test, &user).await, Some(uuid.clone()));
    let remote = sim.state().employees_of(CVR);
    assert_eq!(remote.len(), 1);
    assert_eq!(
        remote[0].local_id(),
        Some(subject(4).as_str()),
        "SET_LOCAL_USER_ID done"
    );
}

async fn s4_rl3_adopts_and_reactivates(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let user = add_user(&test.store, 5, Some(&fictitious_cpr(5))).await;
    let uuid = sim.state().seed_employee(
        CVR,
        seeded(
            &fictitious_cpr(5),
            "old@y.dk",
            "Suspended",
            Some(&subject(5)),
        ),
    );

    drain(&test).await;

    assert_eq!(link_of(&test, &user).await, Some(uuid));
    assert_eq!(sim.state().employees_of(CVR)[0].status, "Active");
}

async fn s5_unresolved_conflict_fails_without_mutating_calls(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let user = add_user(&test.store, 6, Some(&fictitious_cpr(6))).await;
    // Same CPR, another e-mail, no local login: no rule applies.
    sim.state().seed_employee(
        CVR,
        seeded(&fictitious_cpr(6), "other@y.dk", "Active", None),
    );

    let report = drain(&test).await;

    assert_eq!(report.failed, 1);
    assert_eq!(link_of(&test, &user).await, None);
    let mut tx = test.store.read().await.unwrap();
    let failed = tx.outbox_actions(OutboxState::Failed, 10).await.unwrap();
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("SYNC_CONFLICT_UNRESOLVED")
    );
    let mutating = sim
        .state()
        .calls
        .iter()
        .filter(|c| {
            c.path.contains("requestcredentials") || c.method == "PUT" || c.method == "DELETE"
        })
        .count();
    assert_eq!(mutating, 0);
    assert_eq!(audit_count(&test.store, "SYNC_ACTION_FAILED").await, 1);
}

async fn s6_rapid_flips_end_in_the_final_state_without_calls(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    add_user(&test.store, 7, Some(&fictitious_cpr(7))).await;
    drain(&test).await;
    let calls_before = sim.state().calls.len();

    for _ in 0..3 {
        disable(&test, "user7", UserStatus::Disabled).await;
        disable(&test, "user7", UserStatus::Active).await;
    }
    drain(&test).await;

    assert_eq!(sim.state().employees_of(CVR)[0].status, "Active");
    assert_eq!(
        sim.state().calls.len(),
        calls_before,
        "cancelled pairs make no call"
    );

    disable(&test, "user7", UserStatus::Disabled).await;
    drain(&test).await;
    assert_eq!(sim.state().employees_of(CVR)[0].status, "Suspended");
}

async fn s8_identity_deleted_out_of_band_is_recreated(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let user = add_user(&test.store, 8, Some(&fictitious_cpr(8))).await;
    drain(&test).await;
    disable(&test, "user8", UserStatus::Disabled).await;
    drain(&test).await;
    let first = link_of(&test, &user).await.unwrap();
    assert!(sim.state().delete_out_of_band(CVR, &first));

    disable(&test, "user8", UserStatus::Active).await;
    drain(&test).await;

    let second = link_of(&test, &user).await.expect("linked again");
    assert_ne!(first, second);
    let mut tx = test.store.read().await.unwrap();
    let findings = tx.open_sync_findings(&CVR.parse().unwrap()).await.unwrap();
    assert!(findings.iter().any(|f| f.kind == "ACCOUNT_DELETED"));
    assert_eq!(sim.state().employees_of(CVR).len(), 1);
}

async fn s16_token_expiry_mid_run_is_survived(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    for index in 0..30 {
        add_user(&test.store, index, Some(&fictitious_cpr(index))).await;
    }
    sim.set_faults(vec![FaultRule::new(
        "/identity/employee",
        Trigger::Every { k: 10 },
        FaultKind::TokenExpiry,
    )]);

    let report = drain(&test).await;

    assert_eq!(report.succeeded, 30);
    assert_eq!(report.failed, 0);
    assert_eq!(sim.state().employees_of(CVR).len(), 30);
    assert!(sim.state().calls.iter().filter(|c| c.status == 401).count() >= 2);
}

async fn s19_validation_failures_make_no_call(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    add_user(&test.store, 9, None).await;
    add_user(&test.store, 10, Some("0101204123")).await; // born 2020: younger than 13

    let report = drain(&test).await;

    assert_eq!(report.failed, 2);
    assert!(
        sim.state().calls.is_empty(),
        "no API call for invalid input"
    );
    let mut tx = test.store.read().await.unwrap();
    let reasons: Vec<String> = tx
        .outbox_actions(OutboxState::Failed, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.last_error.unwrap())
        .collect();
    assert!(reasons.iter().any(|r| r.contains("no CPR")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("younger than 13")),
        "{reasons:?}"
    );
}

async fn s21_actions_of_one_user_run_in_order(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    add_user(&test.store, 11, Some(&fictitious_cpr(11))).await;
    disable(&test, "user11", UserStatus::Disabled).await;
    add_user(&test.store, 12, Some(&fictitious_cpr(12))).await;

    let mut tx = test.store.begin().await.unwrap();
    let claimed = tx.claim_sync_actions(chrono::Utc::now(), 10).await.unwrap();
    tx.rollback().await.unwrap();

    // user11's SUSPEND waits behind its CREATE; user12's CREATE is independent.
    let names: Vec<&str> = claimed.iter().map(|c| c.action.action.name()).collect();
    assert_eq!(names, ["upsert_user", "upsert_user"]);
    assert_eq!(outbox_count(&test.store, "pending").await, 3);
}

async fn transient_faults_converge_and_every_retry_is_audited(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    for index in 0..60 {
        add_user(&test.store, index, Some(&fictitious_cpr(index))).await;
    }
    sim.set_faults(vec![
        FaultRule::new(
            "/api/",
            Trigger::Probability { per_mille: 100 },
            FaultKind::Unavailable,
        ),
        FaultRule::new(
            "/api/",
            Trigger::Probability { per_mille: 100 },
            FaultKind::ServerError,
        ),
    ]);

    let report = drain(&test).await;

    assert_eq!(report.failed, 0);
    assert_eq!(
        sim.state().employees_of(CVR).len(),
        60,
        "no duplicates, none missing"
    );
    let faulted = sim.state().calls.iter().filter(|c| c.status >= 500).count();
    assert!(faulted > 5, "faults were injected ({faulted})");
    let retried = audit_count(&test.store, "SYNC_ACTION_RETRIED").await;
    assert_eq!(
        retried,
        i64::try_from(faulted).unwrap(),
        "one audit record per retry"
    );
    assert_eq!(outbox_count(&test.store, "succeeded").await, 60);
}

async fn switching_light_to_local_idp_binds_existing_identities(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::Light).await;
    let user = add_user(&test.store, 13, Some(&fictitious_cpr(13))).await;
    drain(&test).await;
    let uuid = link_of(&test, &user).await.unwrap();
    assert_eq!(sim.state().employees_of(CVR)[0].local_id(), None);

    set_mode(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    disable(&test, "user13", UserStatus::Disabled).await;
    disable(&test, "user13", UserStatus::Active).await;
    drain(&test).await;

    let remote = sim.state().employees_of(CVR);
    assert_eq!(remote.len(), 1, "bound, not created again");
    assert_eq!(remote[0].uuid, uuid);
    assert_eq!(remote[0].local_id(), Some(subject(13).as_str()));
}

async fn rights_are_applied_as_a_minimal_diff(test: TestStore) {
    use portner_shared::domain::{Right, RightAssignment, RightScope, RightSource};
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let user = add_user(&test.store, 14, Some(&fictitious_cpr(14))).await;
    drain(&test).await;
    let uuid = link_of(&test, &user).await.unwrap();
    {
        let mut state = sim.state();
        let employee = state.employee_mut(CVR, &uuid).unwrap();
        employee.rights.insert((
            portner_tests::sync::ROLE.into(),
            "PU".into(),
            "9000000001".into(),
        ));
        employee
            .rights
            .insert(("not-in-catalogue".into(), "Cvr".into(), CVR.into()));
        employee
            .admin_roles
            .push("OrganizationAdministrator".into());
    }
    let mut tx = test.store.begin().await.unwrap();
    let right = Right {
        id: portner_tests::sync::ROLE.parse().unwrap(),
        name: "Digital Post".into(),
        source: RightSource::MitIdErhverv,
    };
    tx.upsert_right(&right).await.unwrap();
    tx.assign_right(&RightAssignment {
        user_id: user.id,
        right: right.id.clone(),
        scope: RightScope::Cvr(CVR.parse().unwrap()),
        granted_at: chrono::Utc::now(),
    })
    .await
    .unwrap();
    portner_idm_sync::enqueue::user_rights_changed(&mut tx, &user, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    drain(&test).await;

    let remote = sim.state().employees_of(CVR)[0].clone();
    let rights: Vec<(String, String)> = remote
        .rights
        .iter()
        .map(|(role, kind, _)| (role.clone(), kind.clone()))
        .collect();
    assert!(rights.contains(&(portner_tests::sync::ROLE.into(), "Cvr".into())));
    assert!(
        !rights.contains(&(portner_tests::sync::ROLE.into(), "PU".into())),
        "surplus removed"
    );
    assert!(
        rights.contains(&("not-in-catalogue".into(), "Cvr".into())),
        "unknown role untouched"
    );
    assert_eq!(remote.admin_roles, ["OrganizationAdministrator"]);
    let writes: Vec<_> = sim
        .state()
        .calls
        .iter()
        .filter(|c| c.path.contains("/rights/identity/") && c.method != "GET")
        .cloned()
        .collect();
    assert_eq!(writes.len(), 2, "one DELETE and one POST: {writes:?}");
}

async fn unauthorized_stops_the_worker_and_keeps_actions(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    add_user(&test.store, 15, Some(&fictitious_cpr(15))).await;
    // Every token is expired on every call: the refresh does not help.
    sim.set_faults(vec![FaultRule::new(
        "/identity/employee",
        Trigger::Every { k: 1 },
        FaultKind::TokenExpiry,
    )]);

    let result = worker(&test.store, fast_settings(1))
        .drain(&|_, _| {})
        .await;

    assert!(matches!(
        result,
        Err(portner_idm_sync::worker::WorkerError::Unauthorized(_))
    ));
    assert_eq!(audit_count(&test.store, "SYNC_UNAUTHORIZED").await, 1);
    assert_eq!(
        outbox_count(&test.store, "failed").await,
        0,
        "rows are not failed"
    );
    sim.set_faults(Vec::new());
    drain(&test).await;
    assert_eq!(sim.state().employees_of(CVR).len(), 1);
}

/// PostgreSQL only: a second replica holding the advisory lock keeps this worker out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_advisory_lock_elects_one_worker() {
    let Some(test) = portner_tests::postgres_store("sync::postgres_advisory_lock").await else {
        return;
    };
    let other_replica = test.second_pool().await;
    let mut holder = other_replica.begin().await.unwrap();
    assert!(holder.try_sync_worker_lock().await.unwrap());

    let result = worker(&test.store, fast_settings(1))
        .drain(&|_, _| {})
        .await;

    assert!(
        matches!(result, Err(portner_idm_sync::worker::WorkerError::Busy)),
        "{result:?}"
    );
    holder.rollback().await.unwrap();
    assert!(
        worker(&test.store, fast_settings(1))
            .drain(&|_, _| {})
            .await
            .is_ok()
    );
}

/// Sets the group's members through the directory, as SCIM does, in one transaction.
async fn set_members(test: &TestStore, group: &Group, members: &[&User]) -> Group {
    let change = directory::GroupChange {
        name: group.name.clone(),
        external_id: None,
        members: members.iter().map(|user| user.id).collect(),
    };
    let mut tx = test.store.begin().await.unwrap();
    let context = AuditContext::cli();
    let now = chrono::Utc::now();
    let group = directory::change_group_in(&mut tx, now, &context, group.clone(), &change)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    group
}

/// Issue 6 item 2: with the sync scoped to a group, only its members are created in MitID
/// Erhverv, a member who leaves is suspended and one who comes back reactivated, and the
/// reconciler finds no drift in users outside the group.
async fn a_group_scoped_sync_sends_members_only_and_suspends_leavers(test: TestStore) {
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let org: portner_shared::domain::Cvr = CVR.parse().unwrap();
    let change = directory::GroupChange {
        name: "MitID".parse().unwrap(),
        external_id: None,
        members: std::collections::BTreeSet::new(),
    };
    let mut tx = test.store.begin().await.unwrap();
    let now = chrono::Utc::now();
    let group = directory::create_group_in(&mut tx, now, &AuditContext::cli(), &org, &change)
        .await
        .unwrap();
    let mut settings = tx.sync_organisation(&org).await.unwrap().unwrap();
    settings.scope_group = Some(group.id);
    tx.upsert_sync_organisation(&settings, now).await.unwrap();
    tx.commit().await.unwrap();

    let mut users: Vec<User> = Vec::new();
    for index in 0..3 {
        users.push(add_user(&test.store, index, Some(&fictitious_cpr(index))).await);
    }
    assert_eq!(
        outbox_count(&test.store, "pending").await,
        0,
        "no one is in the group yet"
    );

    let group = set_members(&test, &group, &[&users[0], &users[1]]).await;
    drain(&test).await;
    assert_eq!(sim.state().employees_of(CVR).len(), 2);
    assert!(link_of(&test, &users[2]).await.is_none());
    assert!(reconcile(&test).await.findings.is_empty());

    let group = set_members(&test, &group, &[&users[0]]).await;
    drain(&test).await;
    let leaver = link_of(&test, &users[1]).await.unwrap();
    let status = |uuid: &str| {
        let remote = sim.state().employees_of(CVR);
        remote
            .iter()
            .find(|e| e.uuid == uuid)
            .unwrap()
            .status
            .clone()
    };
    assert_eq!(status(&leaver), "Suspended");
    assert!(reconcile(&test).await.findings.is_empty());

    set_members(&test, &group, &[&users[0], &users[1]]).await;
    drain(&test).await;
    assert_eq!(status(&leaver), "Active");
    assert_eq!(
        sim.state().employees_of(CVR).len(),
        2,
        "no duplicate identity"
    );
    assert_eq!(audit_count(&test.store, "GROUP_MEMBER_ADDED").await, 3);
    assert_eq!(audit_count(&test.store, "GROUP_MEMBER_REMOVED").await, 1);
}

/// Issue 6 item 4 with issue 5 item 4: a reconcile imports the MitID Erhverv role catalogue
/// into the rights catalogue (once; an unchanged catalogue writes nothing), never over a local
/// right of the same key, and an imported role assigned through the directory reaches MitID
/// Erhverv.
async fn a_reconcile_imports_the_role_catalogue_so_its_roles_can_be_assigned(test: TestStore) {
    use portner_shared::domain::{RightId, RightScope, RightSource};
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let user = add_user(&test.store, 16, Some(&fictitious_cpr(16))).await;
    drain(&test).await;
    let local = "b0000000-0000-4000-8000-00000000000b";
    let mut organisation = portner_tests::sync::sim_organisation();
    organisation
        .catalogue
        .push(portner_idm_sync::api::CatalogueRole {
            uuid: local.to_owned(),
            name: Some("Imported over a local right".to_owned()),
            description: None,
            is_basic_package: None,
        });
    sim.state().seed_organisation(organisation);
    let context = AuditContext::cli();
    let local_id: RightId = local.parse().unwrap();
    directory::define_local_right(&test.store, &SystemClock, &context, &local_id, "Local")
        .await
        .unwrap();

    // A catalogue that cannot be read does not stop the reconcile; the next one imports it.
    sim.set_faults(vec![FaultRule::new(
        "/rights/categorizedRoles",
        Trigger::Every { k: 1 },
        FaultKind::ServerError,
    )]);
    reconcile(&test).await;
    assert_eq!(
        audit_count(&test.store, "MITID_ERHVERV_CATALOGUE_IMPORTED").await,
        0
    );
    sim.set_faults(Vec::new());
    reconcile(&test).await;
    reconcile(&test).await;

    let mut tx = test.store.read().await.unwrap();
    let rights = tx.rights().await.unwrap();
    tx.rollback().await.unwrap();
    let role = rights
        .iter()
        .find(|right| right.id.as_str() == portner_tests::sync::ROLE)
        .unwrap();
    assert_eq!(role.source, RightSource::MitIdErhverv);
    assert_eq!(role.name, "Digital Post");
    let kept = rights.iter().find(|right| right.id == local_id).unwrap();
    assert_eq!(
        kept.source,
        RightSource::Local,
        "a local right is never taken over"
    );
    let imports = audit_count(&test.store, "MITID_ERHVERV_CATALOGUE_IMPORTED").await;
    assert_eq!(imports, 1, "the second, unchanged import writes nothing");

    let mut tx = test.store.begin().await.unwrap();
    let scope = RightScope::Cvr(CVR.parse().unwrap());
    let now = chrono::Utc::now();
    directory::assign_right_in(&mut tx, now, &context, &user, &role.id, &scope)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    drain(&test).await;
    let remote = sim.state().employees_of(CVR)[0].clone();
    assert!(
        remote
            .rights
            .iter()
            .any(|(role, kind, _)| role == portner_tests::sync::ROLE && kind == "Cvr"),
        "{:?}",
        remote.rights
    );
}

/// Issue 6 item 2: a user migrating from NemID carries a RID, which the creation (E1) passes
/// so that they keep their rights; no two users hold the same RID.
async fn a_users_nemid_rid_is_sent_at_creation_and_held_by_one_user_only(test: TestStore) {
    use portner_shared::domain::{NewUser, Rid};
    let folder = cert_folder();
    let sim = start_simulator(folder.path()).await;
    register(&test.store, &sim, folder.path(), SyncMode::LocalIdp).await;
    let rid: Rid = "98765432".parse().unwrap();
    let new = |index: u32| {
        NewUser::new(
            CVR.parse().unwrap(),
            format!("rid{index}").parse().unwrap(),
            "Rid Person",
            format!("rid{index}@{SUFFIX}").parse().unwrap(),
            Some(fictitious_cpr(20 + index).parse().unwrap()),
        )
        .unwrap()
        .with_rid(Some(rid.clone()))
    };
    let context = AuditContext::cli();
    let user = directory::create_user(&test.store, &SystemClock, &context, &new(1))
        .await
        .unwrap();
    let taken = directory::create_user(&test.store, &SystemClock, &context, &new(2)).await;
    assert!(taken.is_err(), "a RID belongs to one person");

    drain(&test).await;

    let remote = sim.state().employees_of(CVR);
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].rid.as_deref(), Some("98765432"));
    let mut tx = test.store.read().await.unwrap();
    assert_eq!(tx.user_rid(user.id).await.unwrap(), Some(rid));
    assert!(
        tx.user_by_username(&"rid2".parse().unwrap())
            .await
            .unwrap()
            .is_none(),
        "the refused user was not written"
    );
}
