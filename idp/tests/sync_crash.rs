//! Crash safety of the sync worker (issue 6 "Tests that must exist"): the real `portner sync
//! run` process is killed with SIGKILL at seeded random points during an initial load of
//! 1,000 users into the simulator, and restarted. The end state in the simulator must equal
//! the desired state, with no duplicate identities and every action accounted for.

// Test helpers outside #[test] functions may unwrap too (clippy.toml allows it in tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use portner_audit::AuditContext;
use portner_idm_sync::api::CatalogueRole;
use portner_idm_sync::sim::faults::SeededRng;
use portner_idm_sync::sim::{SimConfig, SimOrganisation, Simulator};
use portner_shared::SystemClock;
use portner_shared::config::Backend;
use portner_shared::crypto::FieldCipher;
use portner_shared::domain::NewUser;
use portner_shared::store::Store;

const CVR: &str = "91234567";
const SUFFIX: &str = "crash.example.dk";
const USERS: u32 = 1000;

fn portner(data: &Path, cpr_key: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portner"));
    command
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("PORTNER_CPR_KEY", cpr_key)
        .env("PORTNER_LOG_LEVEL", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn run_ok(data: &Path, cpr_key: &str, args: &[&str]) {
    let status = portner(data, cpr_key, args).status().unwrap();
    assert!(status.success(), "portner {args:?} failed: {status}");
}

fn fictitious_cpr(index: u32) -> String {
    let day = 1 + index % 28;
    let month = 1 + (index / 28) % 12;
    let year = 50 + (index / 336) % 50;
    format!("{day:02}{month:02}{year:02}{:04}", index % 4000)
}

async fn open_store(data: &Path, cipher: &FieldCipher) -> Store {
    let url = format!("sqlite://{}", data.join("portner.db").display());
    Store::connect(&url, Backend::Sqlite, 2, cipher.clone())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_initial_load_of_1000_users_converges_without_duplicates() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let certs = folder.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let cpr_key = FieldCipher::generate_hex().unwrap();
    let cipher = FieldCipher::from_hex(&cpr_key).unwrap();

    let org = SimOrganisation {
        cvr: CVR.into(),
        se_numbers: vec![],
        p_units: vec![],
        catalogue: vec![CatalogueRole {
            uuid: "6f1c9a52-0000-4000-8000-000000000001".into(),
            name: None,
            description: None,
            is_basic_package: None,
        }],
    };
    let sim = Simulator::start(SimConfig {
        organisations: vec![org],
        call_log: false,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = sim.client_cert(CVR).unwrap();
    std::fs::write(certs.join("client.pem"), &client.cert_pem).unwrap();
    std::fs::write(certs.join("client.key"), &client.key_pem).unwrap();
    std::fs::write(certs.join("ca.pem"), &sim.ca.root.cert_pem).unwrap();

    run_ok(
        &data,
        &cpr_key,
        &[
            "org",
            "add",
            "--cvr",
            CVR,
            "--name",
            "Crash Kommune",
            "--suffix",
            SUFFIX,
        ],
    );
    let cert = certs.join("client.pem");
    let key = certs.join("client.key");
    let roots = certs.join("ca.pem");
    run_ok(
        &data,
        &cpr_key,
        &[
            "sync",
            "enable",
            "--org",
            CVR,
            "--mode",
            "local_idp",
            "--base-url",
            &sim.base_url(),
            "--client-cert",
            cert.to_str().unwrap(),
            "--client-key",
            key.to_str().unwrap(),
            "--trust-roots",
            roots.to_str().unwrap(),
        ],
    );

    let store = open_store(&data, &cipher).await;
    for index in 0..USERS {
        let new = NewUser {
            org: CVR.parse().unwrap(),
            username: format!("crash{index}").parse().unwrap(),
            display_name: format!("Crash Person {index}"),
            email: format!("crash{index}@{SUFFIX}").parse().unwrap(),
            cpr: Some(fictitious_cpr(index).parse().unwrap()),
            rid: None,
        };
        portner_idp::directory::create_user(&store, &SystemClock, &AuditContext::cli(), &new)
            .await
            .unwrap();
    }
    store.close().await;

    // Kill the worker at seeded random points, then let the last run finish.
    let mut rng = SeededRng::new(0xC0FFEE);
    let worker_args = [
        "sync",
        "run",
        "--concurrency",
        "8",
        "--quiet",
        "--wait",
        "--backoff-ms",
        "10",
    ];
    let mut kills = 0;
    for _ in 0..6 {
        let mut child = portner(&data, &cpr_key, &worker_args).spawn().unwrap();
        let wait = Duration::from_millis(150 + rng.next_u64() % 600);
        tokio::time::sleep(wait).await;
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix
            kills += 1;
        }
        child.wait().unwrap();
    }
    run_ok(&data, &cpr_key, &worker_args);
    assert!(kills >= 2, "the worker was killed mid-run ({kills} times)");

    // The end state equals the desired state.
    let remote = sim.state().employees_of(CVR);
    assert_eq!(
        remote.len(),
        USERS as usize,
        "one identity per user, no duplicates"
    );
    let cprs: HashSet<&str> = remote.iter().map(|e| e.cpr.as_str()).collect();
    assert_eq!(cprs.len(), USERS as usize);
    let store = open_store(&data, &cipher).await;
    let mut tx = store.read().await.unwrap();
    let links = tx.sync_links(&CVR.parse().unwrap()).await.unwrap();
    assert_eq!(links.len(), USERS as usize, "every user linked");
    let by_uuid: std::collections::HashMap<&str, &str> = remote
        .iter()
        .map(|e| (e.uuid.as_str(), e.local_id().unwrap_or_default()))
        .collect();
    for link in &links {
        let bound = by_uuid
            .get(link.employee_uuid.as_str())
            .expect("linked identity exists");
        assert_eq!(
            *bound, link.subject_name_id,
            "bound to the user's subjectNameId"
        );
    }

    // Every action accounted for: all succeeded, each with exactly one completion record.
    let summary = tx.outbox_summary().await.unwrap();
    let count = |state: &str| {
        summary
            .by_state
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(
        count("succeeded"),
        i64::from(USERS),
        "{:?}",
        summary.by_state
    );
    assert_eq!(count("pending") + count("running") + count("failed"), 0);
    let done =
        sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE kind = 'SYNC_ACTION_DONE'")
            .fetch_one(tx.connection())
            .await
            .unwrap();
    let done: i64 = sqlx::Row::get(&done, "n");
    assert_eq!(done, i64::from(USERS));
    tx.rollback().await.unwrap();
    store.close().await;
}
