//! Portner's test kit: temporary stores on SQLite and PostgreSQL, a fixed clock, and helpers
//! shared by the integration suites in `tests/tests/integration/`.
//!
//! PostgreSQL suites run when `PORTNER_TEST_POSTGRES_URL` names a database the tests may
//! create schemas in. Without it they print a visible `skipped: no PostgreSQL` line and pass,
//! except under CI (`CI` set), where a missing database is a failure: CI must never go green
//! without having run them.

// This crate only ever runs inside tests, where a failed set-up must fail the test loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test kit: a failed set-up is a failed test, not an outage"
)]

pub mod sync;

use chrono::{TimeZone, Utc};
use portner_shared::FixedClock;
use portner_shared::config::Backend;
use portner_shared::crypto::FieldCipher;
use portner_shared::store::Store;
use tempfile::TempDir;

/// The variable that names the PostgreSQL database for tests.
pub const POSTGRES_URL_VARIABLE: &str = "PORTNER_TEST_POSTGRES_URL";

/// A store that lives as long as this value: a SQLite file in a temporary folder, or a fresh
/// schema in the test PostgreSQL database.
#[derive(Debug)]
pub struct TestStore {
    /// The migrated store.
    pub store: Store,
    /// Keeps the SQLite folder alive; `None` on PostgreSQL.
    pub folder: Option<TempDir>,
    /// The URL the store was opened with, for tests that open a second pool on it.
    pub url: String,
    /// The CPR key, for a second pool that must read the same data.
    pub cipher: FieldCipher,
}

impl TestStore {
    /// Opens another, independent pool on the same database: what a second replica sees.
    pub async fn second_pool(&self) -> Store {
        Store::connect(&self.url, self.store.backend(), 4, self.cipher.clone())
            .await
            .unwrap()
    }
}

/// A migrated SQLite store in a new temporary folder.
pub async fn sqlite_store() -> TestStore {
    let folder = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        folder.path().join("portner.db").display()
    );
    let cipher = test_cipher();
    let store = Store::connect(&url, Backend::Sqlite, 4, cipher.clone())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    TestStore {
        store,
        folder: Some(folder),
        url,
        cipher,
    }
}

/// A migrated store in a new schema of the test PostgreSQL database, or `None` (after printing
/// a skip line) when no database is configured outside CI.
///
/// # Panics
///
/// Under CI without `PORTNER_TEST_POSTGRES_URL`, or when the database refuses the schema.
pub async fn postgres_store(test_name: &str) -> Option<TestStore> {
    let base_url = postgres_url(test_name)?;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());

    let admin = Store::connect(&base_url, Backend::Postgres, 1, test_cipher())
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    admin.close().await;

    // Every connection of the pool works inside the new schema, so tests never meet each
    // other's rows and need no cleanup order.
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
    let cipher = test_cipher();
    let store = Store::connect(&url, Backend::Postgres, 4, cipher.clone())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Some(TestStore {
        store,
        folder: None,
        url,
        cipher,
    })
}

/// The PostgreSQL URL for tests, or `None` after printing why the test is skipped.
///
/// # Panics
///
/// Under CI (`CI` set) when the variable is missing.
pub fn postgres_url(test_name: &str) -> Option<String> {
    match std::env::var(POSTGRES_URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{POSTGRES_URL_VARIABLE} must be set under CI ({test_name})")
        }
        _ => {
            println!("skipped: no PostgreSQL ({test_name}; set {POSTGRES_URL_VARIABLE})");
            None
        }
    }
}

/// A clock fixed at 2026-12-03 12:00:00 UTC.
pub fn fixed_clock() -> FixedClock {
    FixedClock::at(Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap())
}

/// A fresh CPR field key.
pub fn test_cipher() -> FieldCipher {
    FieldCipher::from_hex(&FieldCipher::generate_hex().unwrap()).unwrap()
}

/// Prints the visible `skipped:` line for a test whose external tool is missing, or fails the
/// test under CI (`CI` set), where every tool must be installed.
///
/// # Panics
///
/// Under CI.
pub fn skip_unless_ci(test_name: &str, reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{test_name} cannot run under CI: {reason}"
    );
    println!("skipped: {test_name} ({reason})");
}
