//! Benchmark (issue 6): initial load of 10,000 users into the simulator.
//!
//! Run: `cargo bench -p portner-idm-sync --bench initial_load`
//! (`SYNC_BENCH_USERS`, `SYNC_BENCH_CONCURRENCY` change the size and the concurrency).
//!
//! The `mitid-erhverv-sim` binary runs as its own process. In the same run the benchmark
//! measures (1) the simulator's own capacity: E1 creates over mutual TLS with the same client
//! at the same concurrency, into a second organisation, and (2) the sync: `sync enable`-style
//! initial load of N users drained by the worker on a SQLite store. It prints users/s, the
//! ratio to the capacity (target >= 0.8) and the peak resident memory of this process (worker,
//! store and client; the simulator is not included).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a benchmark run by hand: a failed set-up stops it, and its output is the result"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portner_idm_sync::api::{
    AuthenticatorType, CreateEmployee, IdentityAuthenticators, IdentityProfile, OrganizationProfile,
};
use portner_idm_sync::client::{ClientConfig, ClientIdentity, IdmClient};
use portner_idm_sync::worker::{Worker, WorkerSettings};
use portner_shared::SystemClock;
use portner_shared::config::Backend;
use portner_shared::crypto::FieldCipher;
use portner_shared::domain::{NewOrganisation, NewUser, SyncMode, SyncOrganisation};
use portner_shared::store::Store;

const SYNC_ORG: &str = "91234567";
const CAPACITY_ORG: &str = "92345678";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fictitious_cpr(index: usize) -> String {
    let day = 1 + index % 28;
    let month = 1 + (index / 28) % 12;
    let year = 50 + (index / 336) % 50;
    format!("{day:02}{month:02}{year:02}{:04}", index % 4000)
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn create_request(index: usize) -> CreateEmployee {
    CreateEmployee {
        identity_profile: IdentityProfile {
            status: "Pending".into(),
            registered_ial: "Substantial".into(),
            target_ial: "Substantial".into(),
            given_name: "Kapacitet".into(),
            surname: "Test".into(),
            email_address: format!("cap{index}@example.dk"),
            cpr_number: fictitious_cpr(index),
            rid: None,
            pseudonym: false,
            allow_qualified_certificate_issuance: false,
        },
        identity_organization_profile: OrganizationProfile {
            invoice_method_uuid: None,
        },
        identity_authenticators: IdentityAuthenticators {
            authenticator_types: vec![AuthenticatorType::LocalIdentityProvider],
            subject_name_id: Some(format!("cap{index}@capacity.example.dk")),
        },
    }
}

#[tokio::main]
async fn main() {
    let users = env_number("SYNC_BENCH_USERS", 10_000);
    let concurrency = env_number("SYNC_BENCH_CONCURRENCY", 16);
    let folder = tempfile::tempdir().unwrap();
    let certs = folder.path().join("certs");

    // The simulator as its own process.
    let mut sim = Command::new(env!("CARGO_BIN_EXE_mitid-erhverv-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--org",
            SYNC_ORG,
            "--org",
            CAPACITY_ORG,
        ])
        .arg("--cert-dir")
        .arg(&certs)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let base_url = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_owned();
        }
    };

    // (1) The simulator's capacity at this concurrency, same client stack, same run.
    let client = Arc::new(
        IdmClient::new(&ClientConfig {
            base_url: base_url.clone(),
            identity: ClientIdentity::Pem {
                cert: std::fs::read(certs.join(format!("client-{CAPACITY_ORG}.pem"))).unwrap(),
                key: std::fs::read(certs.join(format!("client-{CAPACITY_ORG}.key"))).unwrap(),
            },
            trust_roots_pem: std::fs::read(certs.join("ca.pem")).unwrap(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
        })
        .unwrap(),
    );
    client.authenticate().await.unwrap();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = Arc::clone(&client);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= users {
                    break;
                }
                client
                    .create_employee(&create_request(index))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let capacity = users as f64 / started.elapsed().as_secs_f64();

    // (2) The sync: N users queued as `portner sync enable` queues them, drained by the worker.
    let cipher = FieldCipher::from_hex(&FieldCipher::generate_hex().unwrap()).unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        folder.path().join("bench.db").display()
    );
    let store = Store::connect(&url, Backend::Sqlite, 8, cipher)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let now = chrono::Utc::now();
    let mut tx = store.begin().await.unwrap();
    let org = NewOrganisation::new(
        SYNC_ORG.parse().unwrap(),
        "Bench Kommune",
        "bench.example.dk".parse().unwrap(),
    )
    .unwrap();
    tx.insert_organisation(&org, now).await.unwrap();
    tx.upsert_sync_organisation(
        &SyncOrganisation {
            org: SYNC_ORG.parse().unwrap(),
            mode: SyncMode::LocalIdp,
            base_url,
            client_cert_path: certs.join(format!("client-{SYNC_ORG}.pem")),
            client_key_path: Some(certs.join(format!("client-{SYNC_ORG}.key"))),
            trust_roots_path: certs.join("ca.pem"),
            default_email: None,
            scope_group: None,
        },
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for chunk in (0..users).collect::<Vec<_>>().chunks(500) {
        let mut tx = store.begin().await.unwrap();
        for &index in chunk {
            let new = NewUser {
                org: SYNC_ORG.parse().unwrap(),
                username: format!("bench{index}").parse().unwrap(),
                display_name: format!("Bench Person {index}"),
                email: format!("bench{index}@bench.example.dk").parse().unwrap(),
                cpr: Some(fictitious_cpr(index).parse().unwrap()),
                rid: None,
            };
            let user = tx.insert_user(&new, now).await.unwrap();
            portner_idm_sync::enqueue::user_created(&mut tx, &user, now)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let settings = WorkerSettings {
        concurrency,
        ..WorkerSettings::default()
    };
    let worker = Arc::new(Worker::new(store.clone(), Arc::new(SystemClock), settings));
    let started = Instant::now();
    let report = worker.drain(&|_, _| {}).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        report.succeeded, users as u64,
        "every user created: {report:?}"
    );
    let rate = users as f64 / seconds;

    println!("sync initial load: {users} users, concurrency {concurrency}, SQLite store");
    println!("  simulator capacity (E1 over mTLS): {capacity:.0} requests/s");
    println!(
        "  sync: {rate:.0} users/s ({seconds:.2} s, {} requests)",
        worker.requests_sent()
    );
    println!(
        "  ratio to capacity: {:.2} (target >= 0.8)",
        rate / capacity
    );
    println!(
        "  peak RSS of worker process: {} MiB",
        peak_rss_kib() / 1024
    );
    let _ = sim.kill();
    let _ = sim.wait();
}
