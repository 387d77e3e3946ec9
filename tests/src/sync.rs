//! Test kit for the MitID Erhverv sync: a simulator with one organisation, the organisation
//! and its sync settings in a store, users with fictitious CPR numbers, and a worker.

// A test kit: a failed set-up step is a failed test (clippy.toml's rule for tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use portner_audit::AuditContext;
use portner_idm_sync::api::CatalogueRole;
use portner_idm_sync::sim::{SimConfig, SimOrganisation, Simulator};
use portner_idm_sync::worker::{Worker, WorkerSettings};
use portner_idp::directory;
use portner_shared::domain::{NewOrganisation, NewUser, SyncMode, SyncOrganisation, User};
use portner_shared::store::Store;
use portner_shared::{Clock, SystemClock};
use tempfile::TempDir;

/// The test organisation's CVR (test CVRs start with 9).
pub const CVR: &str = "91234567";
/// Its `subjectNameId` suffix.
pub const SUFFIX: &str = "kommune.example.dk";
/// A role in the simulated catalogue.
pub const ROLE: &str = "6f1c9a52-0000-4000-8000-000000000001";

/// The simulated organisation.
pub fn sim_organisation() -> SimOrganisation {
    SimOrganisation {
        cvr: CVR.to_owned(),
        se_numbers: vec!["91111111".to_owned()],
        p_units: vec![9_000_000_001],
        catalogue: vec![CatalogueRole {
            uuid: ROLE.to_owned(),
            name: Some("Digital Post".to_owned()),
            description: None,
            is_basic_package: Some(false),
        }],
    }
}

/// A fictitious CPR number, unique for `index` below 16,800, born 1950-1999.
pub fn fictitious_cpr(index: u32) -> String {
    let day = 1 + index % 28;
    let month = 1 + (index / 28) % 12;
    let year = 50 + (index / 336) % 50;
    format!("{day:02}{month:02}{year:02}{:04}", index % 4000)
}

/// Starts a simulator for the test organisation and writes its PEM files into `folder`.
pub async fn start_simulator(folder: &Path) -> Simulator {
    let config = SimConfig {
        organisations: vec![sim_organisation()],
        ..SimConfig::default()
    };
    let sim = Simulator::start(config).await.unwrap();
    let client = sim.client_cert(CVR).unwrap();
    std::fs::write(folder.join("client.pem"), &client.cert_pem).unwrap();
    std::fs::write(folder.join("client.key"), &client.key_pem).unwrap();
    std::fs::write(folder.join("ca.pem"), &sim.ca.root.cert_pem).unwrap();
    sim
}

/// Registers the organisation in `store` and turns sync on for it in `mode`.
pub async fn register(store: &Store, sim: &Simulator, folder: &Path, mode: SyncMode) {
    let new = NewOrganisation::new(
        CVR.parse().unwrap(),
        "Test Kommune",
        SUFFIX.parse().unwrap(),
    )
    .unwrap();
    directory::create_organisation(store, &SystemClock, &AuditContext::cli(), &new)
        .await
        .unwrap();
    set_mode(store, sim, folder, mode).await;
}

/// Changes the organisation's sync mode (or points it at another simulator).
pub async fn set_mode(store: &Store, sim: &Simulator, folder: &Path, mode: SyncMode) {
    let settings = SyncOrganisation {
        org: CVR.parse().unwrap(),
        mode,
        base_url: sim.base_url(),
        client_cert_path: folder.join("client.pem"),
        client_key_path: Some(folder.join("client.key")),
        trust_roots_path: folder.join("ca.pem"),
        default_email: None,
        scope_group: None,
    };
    let mut tx = store.begin().await.unwrap();
    tx.upsert_sync_organisation(&settings, SystemClock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Creates user number `index` (`user<index>`) through the directory, which queues its sync.
pub async fn add_user(store: &Store, index: u32, cpr: Option<&str>) -> User {
    let new = NewUser {
        org: CVR.parse().unwrap(),
        username: format!("user{index}").parse().unwrap(),
        display_name: format!("Test Person {index}"),
        email: format!("user{index}@{SUFFIX}").parse().unwrap(),
        cpr: cpr.map(|cpr| cpr.parse().unwrap()),
        rid: None,
    };
    directory::create_user(store, &SystemClock, &AuditContext::cli(), &new)
        .await
        .unwrap()
}

/// Worker settings for tests: fast backoff, waits for retries.
pub fn fast_settings(concurrency: usize) -> WorkerSettings {
    WorkerSettings {
        concurrency,
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(40),
        max_attempts: 40,
        wait_for_retries: true,
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
        ..WorkerSettings::default()
    }
}

/// A worker on `store` with the system clock.
pub fn worker(store: &Store, settings: WorkerSettings) -> Arc<Worker> {
    Arc::new(Worker::new(store.clone(), Arc::new(SystemClock), settings))
}

/// A folder for certificate files.
pub fn cert_folder() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// Number of audit events of a kind.
pub async fn audit_count(store: &Store, kind: &str) -> i64 {
    let mut tx = store.read().await.unwrap();
    let row = sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE kind = $1")
        .bind(kind)
        .fetch_one(tx.connection())
        .await
        .unwrap();
    sqlx::Row::get(&row, "n")
}

/// Outbox rows by state name.
pub async fn outbox_count(store: &Store, state: &str) -> i64 {
    let mut tx = store.read().await.unwrap();
    let summary = tx.outbox_summary().await.unwrap();
    summary
        .by_state
        .iter()
        .find(|(name, _)| name == state)
        .map_or(0, |(_, n)| *n)
}
