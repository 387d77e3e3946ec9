//! The store suite: create, read, update and delete for every entity, uniqueness enforced by
//! the database, and all-or-nothing transactions, on SQLite and PostgreSQL alike.

use chrono::Duration;
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::Clock;
use portner_shared::FixedClock;
use portner_shared::domain::User;
use portner_shared::domain::{
    Cvr, NewOrganisation, NewUser, NsisLevel, OutboxState, PasswordCredential, ProofingMethod,
    Right, RightAssignment, RightId, RightScope, RightSource, ServiceProvider, Session, SpProfile,
    SyncAction, UserStatus, WebAuthnCredential,
};
use portner_shared::store::{StoreError, Tx};
use portner_tests::{TestStore, fixed_clock};

on_both_backends!(
    organisations_are_created_read_listed_and_updated,
    cvr_uniqueness_is_enforced_by_the_database,
    users_are_created_read_updated_and_deleted,
    username_uniqueness_is_enforced_by_the_database_whatever_the_case,
    user_in_an_unknown_organisation_is_refused,
    cpr_is_stored_encrypted_and_found_through_the_lookup_hash,
    rights_are_catalogued_assigned_and_revoked,
    passwords_and_webauthn_credentials_are_stored_and_replaced,
    webauthn_credential_ids_are_unique_across_users,
    identity_proofings_are_recorded_in_order,
    sessions_are_stored_touched_listed_and_ended,
    service_providers_are_registered_updated_and_removed,
    outbox_actions_are_queued_listed_and_settled,
    failed_outbox_actions_are_dismissed_counted_and_retried,
    failed_transaction_leaves_nothing_behind,
    a_saml_request_id_is_accepted_once_per_issuer_until_it_expires,
);

const CVR: &str = "91234567";

fn cvr() -> Cvr {
    CVR.parse().unwrap()
}

fn new_organisation(cvr: &str) -> NewOrganisation {
    let mut new = NewOrganisation::new(
        cvr.parse().unwrap(),
        "Testkommune",
        "test.example.dk".parse().unwrap(),
    )
    .unwrap();
    new.se_numbers = vec!["12345678".parse().unwrap()];
    new.p_units = vec!["1012345678".parse().unwrap()];
    new
}

fn new_user(username: &str, cpr: Option<&str>) -> NewUser {
    NewUser::new(
        cvr(),
        username.parse().unwrap(),
        "Test Bruger",
        format!("{username}@test.example.dk").parse().unwrap(),
        cpr.map(|cpr| cpr.parse().unwrap()),
    )
    .unwrap()
}

/// A store holding the test organisation, and an open write transaction on it.
async fn with_organisation(test: &TestStore) -> Tx {
    let mut tx = test.store.begin().await.unwrap();
    tx.insert_organisation(&new_organisation(CVR), fixed_clock().now())
        .await
        .unwrap();
    tx
}

/// Like [`with_organisation`], with the user `alice` created in it at the clock's time.
async fn with_alice(test: &TestStore, clock: &FixedClock) -> (Tx, User) {
    let mut tx = with_organisation(test).await;
    let alice = tx
        .insert_user(&new_user("alice", None), clock.now())
        .await
        .unwrap();
    (tx, alice)
}

async fn organisations_are_created_read_listed_and_updated(test: TestStore) {
    let now = fixed_clock().now();
    let mut tx = test.store.begin().await.unwrap();
    let created = tx
        .insert_organisation(&new_organisation(CVR), now)
        .await
        .unwrap();
    tx.insert_organisation(&new_organisation("98765432"), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = test.store.begin().await.unwrap();
    let read = tx.organisation(&cvr()).await.unwrap().unwrap();
    let mut changed = read.clone();
    changed.name = "Testkommune Nord".into();
    changed.p_units.push("1099999999".parse().unwrap());
    assert!(tx.update_organisation(&changed).await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = test.store.read().await.unwrap();
    assert_eq!(read, created);
    assert_eq!(tx.organisation(&cvr()).await.unwrap().unwrap(), changed);
    let listed: Vec<String> = tx
        .organisations()
        .await
        .unwrap()
        .iter()
        .map(|org| org.cvr.to_string())
        .collect();
    assert_eq!(listed, ["91234567", "98765432"]);
    assert!(
        tx.organisation(&"95555555".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn cvr_uniqueness_is_enforced_by_the_database(test: TestStore) {
    let mut tx = with_organisation(&test).await;

    let again = tx
        .insert_organisation(&new_organisation(CVR), fixed_clock().now())
        .await;

    assert!(
        matches!(
            again,
            Err(StoreError::Conflict {
                entity: "organisation"
            })
        ),
        "{again:?}"
    );
}

async fn users_are_created_read_updated_and_deleted(test: TestStore) {
    let clock = fixed_clock();
    let mut tx = with_organisation(&test).await;
    let created = tx
        .insert_user(&new_user("alice", None), clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(created.status, UserStatus::PendingActivation);
    assert_eq!(created.identity_level, NsisLevel::None);

    clock.advance(Duration::minutes(1));
    let mut tx = test.store.begin().await.unwrap();
    let mut changed = tx.user(created.id).await.unwrap().unwrap();
    changed.display_name = "Alice Andersen".into();
    changed.email = "alice.andersen@test.example.dk".parse().unwrap();
    assert!(tx.update_user_profile(&changed, clock.now()).await.unwrap());
    assert!(
        tx.set_user_status(created.id, UserStatus::Active, clock.now())
            .await
            .unwrap()
    );
    assert!(
        tx.set_identity_level(created.id, NsisLevel::Substantial, clock.now())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    let mut tx = test.store.begin().await.unwrap();
    let read = tx
        .user_by_username(&"ALICE".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.display_name, "Alice Andersen");
    assert_eq!(read.email.as_str(), "alice.andersen@test.example.dk");
    assert_eq!(read.status, UserStatus::Active);
    assert_eq!(read.identity_level, NsisLevel::Substantial);
    assert_eq!(read.updated_at, clock.now());
    assert_eq!(tx.users(Some(&cvr())).await.unwrap(), vec![read.clone()]);
    assert!(tx.delete_user(read.id).await.unwrap());
    assert!(tx.user(read.id).await.unwrap().is_none());
    assert!(!tx.delete_user(read.id).await.unwrap());
}

async fn username_uniqueness_is_enforced_by_the_database_whatever_the_case(test: TestStore) {
    let mut tx = with_organisation(&test).await;
    tx.insert_user(&new_user("alice", None), fixed_clock().now())
        .await
        .unwrap();

    let again = tx
        .insert_user(&new_user("Alice", None), fixed_clock().now())
        .await;

    assert!(
        matches!(again, Err(StoreError::Conflict { entity: "user" })),
        "{again:?}"
    );
}

async fn user_in_an_unknown_organisation_is_refused(test: TestStore) {
    let mut tx = test.store.begin().await.unwrap();

    let orphan = tx
        .insert_user(&new_user("alice", None), fixed_clock().now())
        .await;

    assert!(
        matches!(orphan, Err(StoreError::MissingReference { .. })),
        "{orphan:?}"
    );
}

async fn cpr_is_stored_encrypted_and_found_through_the_lookup_hash(test: TestStore) {
    let mut tx = with_organisation(&test).await;
    let alice = tx
        .insert_user(&new_user("alice", Some("010190-1234")), fixed_clock().now())
        .await;
    let alice = alice.unwrap();
    tx.insert_user(&new_user("bob", None), fixed_clock().now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = test.store.read().await.unwrap();
    let raw: Vec<u8> =
        sqlx::query_scalar("SELECT cpr_encrypted FROM users WHERE username = 'alice'")
            .fetch_one(tx.connection())
            .await
            .unwrap();
    let found = tx
        .user_by_cpr(&"0101901234".parse().unwrap())
        .await
        .unwrap()
        .unwrap();

    assert!(alice.has_cpr);
    assert!(
        !raw.windows(10).any(|window| window == b"0101901234"),
        "CPR stored in clear"
    );
    assert_eq!(found.id, alice.id);
    assert_eq!(
        tx.user_cpr(alice.id).await.unwrap().unwrap().expose(),
        "0101901234"
    );
    assert!(
        tx.user_by_cpr(&"0202021234".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn rights_are_catalogued_assigned_and_revoked(test: TestStore) {
    let now = fixed_clock().now();
    let mut tx = with_organisation(&test).await;
    let user = tx.insert_user(&new_user("alice", None), now).await.unwrap();
    let right_id: RightId = "mitid-erhverv:sign".parse().unwrap();
    let mut right = Right {
        id: right_id.clone(),
        name: "Sign".into(),
        source: RightSource::Local,
    };
    tx.upsert_right(&right).await.unwrap();
    right.source = RightSource::MitIdErhverv;
    right.name = "Underskrive".into();
    tx.upsert_right(&right).await.unwrap();

    let scopes = [
        RightScope::Cvr(cvr()),
        RightScope::PUnit("1012345678".parse().unwrap()),
    ];
    for scope in &scopes {
        let assignment = RightAssignment {
            user_id: user.id,
            right: right_id.clone(),
            scope: scope.clone(),
            granted_at: now,
        };
        tx.assign_right(&assignment).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = test.store.begin().await.unwrap();
    assert_eq!(tx.rights().await.unwrap(), vec![right]);
    let held: Vec<RightScope> = tx
        .right_assignments(user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.scope)
        .collect();
    assert_eq!(held, scopes);
    assert!(
        tx.revoke_right(user.id, &right_id, &scopes[0])
            .await
            .unwrap()
    );
    assert!(
        !tx.revoke_right(user.id, &right_id, &scopes[0])
            .await
            .unwrap()
    );
    assert_eq!(tx.right_assignments(user.id).await.unwrap().len(), 1);

    // On PostgreSQL a refused statement aborts the transaction, so the conflict comes last.
    let duplicate = RightAssignment {
        user_id: user.id,
        right: right_id.clone(),
        scope: scopes[1].clone(),
        granted_at: now,
    };
    let duplicate = tx.assign_right(&duplicate).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { .. })),
        "{duplicate:?}"
    );
}

async fn passwords_and_webauthn_credentials_are_stored_and_replaced(test: TestStore) {
    let clock = fixed_clock();
    let (mut tx, user) = with_alice(&test, &clock).await;
    let first = PasswordCredential {
        user_id: user.id,
        phc_hash: "$argon2id$v=19$m=19456,t=2,p=1$first".into(),
        set_at: clock.now(),
    };
    tx.set_password(&first).await.unwrap();
    clock.advance(Duration::hours(1));
    let second = PasswordCredential {
        phc_hash: "$argon2id$second".into(),
        set_at: clock.now(),
        ..first
    };
    tx.set_password(&second).await.unwrap();

    let credential = WebAuthnCredential {
        credential_id: vec![1, 2, 3, 4],
        user_id: user.id,
        name: "YubiKey".into(),
        credential_json: "{}".into(),
        level: NsisLevel::Substantial,
        registered_at: clock.now(),
        last_used_at: None,
    };
    tx.insert_webauthn_credential(&credential).await.unwrap();
    clock.advance(Duration::minutes(5));
    assert!(
        tx.record_webauthn_use(&[1, 2, 3, 4], "{\"counter\":2}", clock.now())
            .await
            .unwrap()
    );

    assert_eq!(tx.password(user.id).await.unwrap(), Some(second));
    let stored = tx.webauthn_credentials(user.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].credential_json, "{\"counter\":2}");
    assert_eq!(stored[0].last_used_at, Some(clock.now()));
    assert_eq!(stored[0].level, NsisLevel::Substantial);
    assert!(tx.delete_webauthn_credential(&[1, 2, 3, 4]).await.unwrap());
    assert!(tx.webauthn_credentials(user.id).await.unwrap().is_empty());
}

async fn webauthn_credential_ids_are_unique_across_users(test: TestStore) {
    let now = fixed_clock().now();
    let mut tx = with_organisation(&test).await;
    let alice = tx.insert_user(&new_user("alice", None), now).await.unwrap();
    let bob = tx.insert_user(&new_user("bob", None), now).await.unwrap();
    let credential = |user_id| WebAuthnCredential {
        credential_id: vec![9; 16],
        user_id,
        name: "key".into(),
        credential_json: "{}".into(),
        level: NsisLevel::Low,
        registered_at: now,
        last_used_at: None,
    };
    tx.insert_webauthn_credential(&credential(alice.id))
        .await
        .unwrap();

    let stolen = tx.insert_webauthn_credential(&credential(bob.id)).await;

    assert!(
        matches!(stolen, Err(StoreError::Conflict { .. })),
        "{stolen:?}"
    );
}

async fn identity_proofings_are_recorded_in_order(test: TestStore) {
    let clock = fixed_clock();
    let (mut tx, user) = with_alice(&test, &clock).await;
    let first = tx
        .insert_identity_proofing(
            user.id,
            ProofingMethod::InPerson,
            "passport P1",
            NsisLevel::Low,
            "cli",
            clock.now(),
        )
        .await
        .unwrap();
    clock.advance(Duration::days(1));
    let second = tx
        .insert_identity_proofing(
            user.id,
            ProofingMethod::AuthoritativeSource,
            "MitID",
            NsisLevel::Substantial,
            "cli",
            clock.now(),
        )
        .await
        .unwrap();

    let recorded = tx.identity_proofings(user.id).await.unwrap();

    assert!(first.id < second.id);
    assert_eq!(recorded, vec![first, second]);
}

async fn sessions_are_stored_touched_listed_and_ended(test: TestStore) {
    let clock = fixed_clock();
    let (mut tx, user) = with_alice(&test, &clock).await;
    let session = |id: u8, lifetime: Duration| Session {
        id_hash: vec![id; 32],
        user_id: user.id,
        level: NsisLevel::Substantial,
        factors_json: "[]".into(),
        created_at: clock.now(),
        last_seen_at: clock.now(),
        expires_at: clock.now() + lifetime,
    };
    tx.insert_session(&session(1, Duration::hours(8)))
        .await
        .unwrap();
    tx.insert_session(&session(2, Duration::minutes(1)))
        .await
        .unwrap();
    tx.insert_session(&session(3, Duration::hours(8)))
        .await
        .unwrap();

    clock.advance(Duration::minutes(10));
    let mut touched = session(1, Duration::hours(8));
    touched.last_seen_at = clock.now();
    touched.level = NsisLevel::Low;
    assert!(tx.update_session(&touched).await.unwrap());
    assert_eq!(tx.delete_expired_sessions(clock.now()).await.unwrap(), 1);
    assert_eq!(
        tx.session(&[1; 32]).await.unwrap().unwrap().level,
        NsisLevel::Low
    );
    assert_eq!(tx.sessions_of(user.id).await.unwrap().len(), 2);
    assert!(tx.delete_session(&[3; 32]).await.unwrap());
    assert!(tx.session(&[3; 32]).await.unwrap().is_none());
    assert_eq!(tx.delete_sessions_of(user.id).await.unwrap(), 1);
}

async fn service_providers_are_registered_updated_and_removed(test: TestStore) {
    let mut tx = test.store.begin().await.unwrap();
    let sp = ServiceProvider {
        entity_id: "https://sp.test.example.dk".into(),
        name: "Intranet".into(),
        profile: SpProfile::Own,
        metadata_xml: "<EntityDescriptor/>".into(),
        settings_json: "{}".into(),
        created_at: fixed_clock().now(),
    };
    tx.insert_service_provider(&sp).await.unwrap();
    let changed = ServiceProvider {
        name: "NemLog-in".into(),
        profile: SpProfile::Nemlogin,
        ..sp
    };
    assert!(tx.update_service_provider(&changed).await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = test.store.begin().await.unwrap();
    assert_eq!(
        tx.service_provider(&changed.entity_id).await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(tx.service_providers().await.unwrap(), vec![changed.clone()]);
    let duplicate = tx.insert_service_provider(&changed).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { .. })),
        "{duplicate:?}"
    );
    drop(tx);

    let mut tx = test.store.begin().await.unwrap();
    assert!(
        tx.delete_service_provider(&changed.entity_id)
            .await
            .unwrap()
    );
    assert!(tx.service_providers().await.unwrap().is_empty());
}

async fn outbox_actions_are_queued_listed_and_settled(test: TestStore) {
    let clock = fixed_clock();
    let (mut tx, user) = with_alice(&test, &clock).await;
    let upsert = SyncAction::UpsertUser { user_id: user.id };
    let first = tx
        .enqueue_sync_action(&cvr(), &upsert, clock.now())
        .await
        .unwrap();
    let rights = SyncAction::SyncRights { user_id: user.id };
    let second = tx
        .enqueue_sync_action(&cvr(), &rights, clock.now())
        .await
        .unwrap();

    let retry_at = clock.now() + Duration::minutes(2);
    assert!(
        tx.settle_outbox_action(first, OutboxState::Pending, retry_at, Some("HTTP_503"))
            .await
            .unwrap()
    );
    assert!(
        tx.settle_outbox_action(second, OutboxState::Succeeded, clock.now(), None)
            .await
            .unwrap()
    );

    let pending = tx.outbox_actions(OutboxState::Pending, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].action, upsert);
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(pending[0].not_before, retry_at);
    assert_eq!(pending[0].last_error.as_deref(), Some("HTTP_503"));
    assert_eq!(
        tx.outbox_actions(OutboxState::Succeeded, 10).await.unwrap()[0].id,
        second
    );
}

async fn failed_outbox_actions_are_dismissed_counted_and_retried(test: TestStore) {
    let clock = fixed_clock();
    let (mut tx, user) = with_alice(&test, &clock).await;
    let suspend = SyncAction::SuspendUser { user_id: user.id };
    let mut failed = Vec::new();
    for _ in 0..2 {
        let id = tx
            .enqueue_sync_action(&cvr(), &suspend, clock.now())
            .await
            .unwrap();
        tx.settle_outbox_action(id, OutboxState::Failed, clock.now(), Some("IDM_REJECTED"))
            .await
            .unwrap();
        failed.push(id);
    }

    assert!(
        tx.dismiss_sync_action(failed[0], "user:x", clock.now())
            .await
            .unwrap()
    );
    assert!(
        !tx.dismiss_sync_action(failed[0], "user:x", clock.now())
            .await
            .unwrap()
    );
    let open = tx.open_failures_of(&cvr(), 10).await.unwrap();
    assert_eq!(open.iter().map(|a| a.id).collect::<Vec<_>>(), [failed[1]]);
    let counts = tx.outbox_counts_of(&cvr()).await.unwrap();
    assert_eq!(
        counts,
        [("dismissed".to_owned(), 1), ("failed".to_owned(), 1)]
    );

    // Retrying a dismissed action clears the dismissal.
    assert!(tx.retry_sync_action(failed[0], clock.now()).await.unwrap());
    let action = tx.outbox_action(failed[0]).await.unwrap().unwrap();
    assert_eq!(action.state, OutboxState::Pending);
    let counts = tx.outbox_counts_of(&cvr()).await.unwrap();
    assert_eq!(
        counts,
        [("failed".to_owned(), 1), ("pending".to_owned(), 1)]
    );
    assert!(tx.outbox_action(i64::MAX).await.unwrap().is_none());
}

async fn failed_transaction_leaves_nothing_behind(test: TestStore) {
    let now = fixed_clock().now();
    let mut tx = test.store.begin().await.unwrap();
    tx.insert_organisation(&new_organisation(CVR), now)
        .await
        .unwrap();
    let alice = tx.insert_user(&new_user("alice", None), now).await.unwrap();
    let event = AuditEvent::UserStatusChanged {
        user_id: alice.id,
        from: UserStatus::PendingActivation,
        to: UserStatus::Active,
    };
    portner_audit::append(
        &mut tx,
        now,
        &AuditContext::system(),
        &Subject::User(alice.id),
        &event,
    )
    .await
    .unwrap();
    tx.enqueue_sync_action(&cvr(), &SyncAction::UpsertUser { user_id: alice.id }, now)
        .await
        .unwrap();

    let duplicate = tx.insert_user(&new_user("alice", None), now).await;
    assert!(duplicate.is_err());
    drop(tx);

    let mut tx = test.store.read().await.unwrap();
    let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");
    for table in ["organisations", "users", "audit_events", "sync_outbox"] {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count(table)))
            .fetch_one(tx.connection())
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} kept rows of a rolled-back transaction");
    }
    let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head")
        .fetch_one(tx.connection())
        .await
        .unwrap();
    assert_eq!(head, 0);
}

async fn a_saml_request_id_is_accepted_once_per_issuer_until_it_expires(test: TestStore) {
    let clock = fixed_clock();
    let until = clock.now() + Duration::minutes(6);
    let mut tx = test.store.begin().await.unwrap();

    let first = tx
        .remember_request_id("https://sp.test", "_r1", until)
        .await
        .unwrap();
    let replay = tx
        .remember_request_id("https://sp.test", "_r1", until)
        .await
        .unwrap();
    let other_issuer = tx
        .remember_request_id("https://other.test", "_r1", until)
        .await
        .unwrap();
    clock.advance(Duration::minutes(7));
    let forgotten = tx.forget_expired_request_ids(clock.now()).await.unwrap();
    let after_expiry = tx
        .remember_request_id("https://sp.test", "_r1", until)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert!(first && !replay && other_issuer);
    assert_eq!(forgotten, 2);
    assert!(
        after_expiry,
        "an expired entry should no longer block the ID"
    );
}

/// SQLite writers of one process queue on the store's gate: a second `begin` waits while a
/// write transaction is open and starts as soon as it ends, and concurrent writers all
/// commit (none fails on SQLite's lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writers_queue_and_all_commit() {
    let test = portner_tests::sqlite_store().await;
    let first = test.store.begin().await.unwrap();
    let store = test.store.clone();
    let second = tokio::spawn(async move { store.begin().await.map(drop) });

    // Deterministic, not a timing measurement: the gate is held, so the second cannot start.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        !second.is_finished(),
        "a second writer started while the first was open"
    );
    first.rollback().await.unwrap();
    second.await.unwrap().unwrap();

    let until = fixed_clock().now() + Duration::minutes(10);
    let writers: Vec<_> = (0..16_u32)
        .map(|index| {
            let store = test.store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                let remembered = tx
                    .remember_request_id(SP, &format!("_w{index}"), until)
                    .await?;
                tx.commit().await.map(|()| remembered)
            })
        })
        .collect();
    for writer in writers {
        assert!(writer.await.unwrap().unwrap(), "each ID was new");
    }
    let mut tx = test.store.begin().await.unwrap();
    for index in 0..16 {
        let id = format!("_w{index}");
        assert!(!tx.remember_request_id(SP, &id, until).await.unwrap());
    }
}

const SP: &str = "https://sp.test.example.dk/saml";
