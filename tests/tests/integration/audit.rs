//! The audit chain suite: every kind of tampering is found at the right sequence number, the
//! append-only guard refuses ordinary edits, and concurrent appenders from independent pools
//! (two replicas on one database) never fork the chain.

use portner_audit::{AuditContext, AuditEvent, Break, ChainVerdict, Subject};
use portner_shared::Clock;
use portner_shared::config::Backend;
use portner_shared::domain::{UserId, UserStatus};
use portner_shared::store::Store;
use portner_tests::{TestStore, fixed_clock};

on_both_backends!(
    an_untouched_chain_verifies_with_its_count,
    the_append_only_guard_refuses_ordinary_edits_and_deletes,
    an_edited_record_is_found_at_its_sequence_number,
    a_deleted_record_is_found_at_its_sequence_number,
    a_deleted_tail_is_found_against_the_head,
    an_inserted_record_is_found_at_its_sequence_number,
    an_appended_record_beyond_the_head_is_found,
    a_head_moved_back_to_hide_records_is_found,
    reordered_records_are_found_at_the_first_moved_one,
    two_pools_appending_concurrently_yield_one_unbroken_chain,
);

/// Appends `count` events, one transaction each, as the directory services do.
async fn append_events(store: &Store, count: usize) {
    let clock = fixed_clock();
    for _ in 0..count {
        let mut tx = store.begin().await.unwrap();
        let event = AuditEvent::UserStatusChanged {
            user_id: UserId::random(),
            from: UserStatus::Active,
            to: UserStatus::Locked,
        };
        let subject = Subject::User(UserId::random());
        portner_audit::append(
            &mut tx,
            clock.now(),
            &AuditContext::system(),
            &subject,
            &event,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

/// What an attacker with database access does first: removes the append-only triggers. The
/// chain must catch everything that follows.
async fn drop_append_only_guard(store: &Store) {
    let statement = match store.backend() {
        Backend::Sqlite => {
            "DROP TRIGGER audit_events_no_update; \
             DROP TRIGGER audit_events_delete_only_up_to_anchor;"
        }
        Backend::Postgres => "DROP TRIGGER audit_events_no_change ON audit_events;",
    };
    store.execute_unprepared(statement).await.unwrap();
}

async fn tamper(store: &Store, statement: &str) {
    drop_append_only_guard(store).await;
    store.execute_unprepared(statement).await.unwrap();
}

async fn verdict(store: &Store) -> ChainVerdict {
    portner_audit::verify(store).await.unwrap()
}

fn broken_at(seq: i64, problem: Break) -> ChainVerdict {
    ChainVerdict::Broken { seq, problem }
}

async fn an_untouched_chain_verifies_with_its_count(test: TestStore) {
    assert_eq!(
        verdict(&test.store).await,
        ChainVerdict::Intact { count: 0 }
    );

    append_events(&test.store, 5).await;

    assert_eq!(
        verdict(&test.store).await,
        ChainVerdict::Intact { count: 5 }
    );
}

async fn the_append_only_guard_refuses_ordinary_edits_and_deletes(test: TestStore) {
    append_events(&test.store, 2).await;

    let edit = test
        .store
        .execute_unprepared("UPDATE audit_events SET actor = 'x' WHERE seq = 1");
    let edit = edit.await;
    let delete = test
        .store
        .execute_unprepared("DELETE FROM audit_events WHERE seq = 2")
        .await;

    assert!(edit.is_err() && delete.is_err(), "{edit:?} {delete:?}");
    assert_eq!(
        verdict(&test.store).await,
        ChainVerdict::Intact { count: 2 }
    );
}

async fn an_edited_record_is_found_at_its_sequence_number(test: TestStore) {
    append_events(&test.store, 5).await;

    tamper(
        &test.store,
        "UPDATE audit_events SET actor = 'cli:mallory' WHERE seq = 3",
    )
    .await;

    assert_eq!(
        verdict(&test.store).await,
        broken_at(3, Break::ContentChanged)
    );
}

async fn a_deleted_record_is_found_at_its_sequence_number(test: TestStore) {
    append_events(&test.store, 5).await;

    tamper(&test.store, "DELETE FROM audit_events WHERE seq = 3").await;

    assert_eq!(verdict(&test.store).await, broken_at(3, Break::Missing));
}

async fn a_deleted_tail_is_found_against_the_head(test: TestStore) {
    append_events(&test.store, 5).await;

    tamper(&test.store, "DELETE FROM audit_events WHERE seq >= 4").await;

    assert_eq!(verdict(&test.store).await, broken_at(4, Break::Truncated));
}

async fn an_inserted_record_is_found_at_its_sequence_number(test: TestStore) {
    append_events(&test.store, 5).await;

    // Make room at 3 by renumbering the tail (highest first, to keep the key unique), then
    // slip in a forged record that copies the real record's link.
    drop_append_only_guard(&test.store).await;
    for seq in (3..=5).rev() {
        let shift = format!("UPDATE audit_events SET seq = seq + 1 WHERE seq = {seq}");
        test.store.execute_unprepared(&shift).await.unwrap();
    }
    test.store
        .execute_unprepared(
            "INSERT INTO audit_events (seq, occurred_at, kind, actor, subject, data, prev_hash, \
             hash) SELECT 3, occurred_at, 'USER_CREATED', 'cli:mallory', subject, data, \
             prev_hash, hash FROM audit_events WHERE seq = 4",
        )
        .await
        .unwrap();

    assert_eq!(
        verdict(&test.store).await,
        broken_at(3, Break::ContentChanged)
    );
}

async fn an_appended_record_beyond_the_head_is_found(test: TestStore) {
    append_events(&test.store, 3).await;

    test.store
        .execute_unprepared(
            "INSERT INTO audit_events (seq, occurred_at, kind, actor, subject, data, prev_hash, \
             hash) SELECT 4, occurred_at, kind, actor, subject, data, hash, hash \
             FROM audit_events WHERE seq = 3",
        )
        .await
        .unwrap();

    assert_eq!(
        verdict(&test.store).await,
        broken_at(4, Break::ContentChanged)
    );
}

async fn a_head_moved_back_to_hide_records_is_found(test: TestStore) {
    append_events(&test.store, 3).await;

    test.store
        .execute_unprepared("UPDATE audit_head SET seq = 2 WHERE id = 1")
        .await
        .unwrap();

    assert_eq!(
        verdict(&test.store).await,
        broken_at(3, Break::HeadMismatch)
    );
}

async fn reordered_records_are_found_at_the_first_moved_one(test: TestStore) {
    append_events(&test.store, 5).await;

    drop_append_only_guard(&test.store).await;
    for statement in [
        "UPDATE audit_events SET seq = 100 WHERE seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = 100",
    ] {
        test.store.execute_unprepared(statement).await.unwrap();
    }

    assert_eq!(verdict(&test.store).await, broken_at(2, Break::LinkBroken));
}

async fn two_pools_appending_concurrently_yield_one_unbroken_chain(test: TestStore) {
    let second_pool = test.second_pool().await;

    let first = append_events(&test.store, 1_000);
    let second = append_events(&second_pool, 1_000);
    tokio::join!(first, second);

    assert_eq!(
        verdict(&test.store).await,
        ChainVerdict::Intact { count: 2_000 }
    );
    assert_eq!(
        verdict(&second_pool).await,
        ChainVerdict::Intact { count: 2_000 }
    );
}
