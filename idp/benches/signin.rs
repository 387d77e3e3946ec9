//! Sign-in benchmark (issue 3): raw Argon2id verifications per second on all cores, against
//! full sign-ins per second (password + WebAuthn, over HTTP, concurrency 2 × cores), in one
//! run. Prints the ratio (target ≥ 0.8), the 99th-percentile sign-in latency against one
//! Argon2id verification (target ≤ 2×), and the process's peak memory.
//!
//! Run: `cargo bench -p portner-idp --bench signin` (optionally `-- SECONDS`, default 10 per
//! phase). The server is the real router on a loopback socket over a SQLite store; each
//! client task signs in as its own user with a webauthn-authenticator-rs soft passkey.

// A benchmark harness, not production code: a failed step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use portner_audit::AuditContext;
use portner_idp::app::{AppState, app};
use portner_idp::signin::SignIn;
use portner_shared::config::{Backend, SignInSettings};
use portner_shared::crypto::FieldCipher;
use portner_shared::domain::{Cvr, NewOrganisation, Username};
use portner_shared::store::Store;
use portner_shared::{Clock, SystemClock};

use common::PASSWORD;

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|argument| argument.parse().ok())
        .unwrap_or(10);
    let phase = Duration::from_secs(seconds);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let settings = SignInSettings::default();
    println!(
        "sign-in benchmark: {cores} cores, argon2id m={} KiB t={} p={}, {seconds} s per phase",
        settings.password_argon2_memory_kib,
        settings.password_argon2_iterations,
        settings.password_argon2_parallelism
    );

    let (verifies_per_second, one_verify) = raw_argon2(&settings, cores, phase);
    println!("raw argon2id: {verifies_per_second:.1} verifications/s on {cores} cores");
    println!("peak memory after raw phase (VmHWM): {}", peak_memory());
    println!(
        "one verification (single thread, mean): {:.1} ms",
        millis(one_verify)
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (logins_per_second, p99, count) = runtime.block_on(full_logins(settings, cores * 2, phase));
    println!(
        "full sign-ins over HTTP: {logins_per_second:.1}/s ({count} sign-ins, concurrency {})",
        cores * 2
    );

    // The machine may be shared: measure the bound again after the sign-ins and compare with
    // the mean of both runs, so a load change during the run shows instead of skewing it.
    let (verifies_after, _) = raw_argon2(&settings, cores, phase);
    println!("raw argon2id again: {verifies_after:.1} verifications/s");
    let verifies_per_second = (verifies_per_second + verifies_after) / 2.0;
    let ratio = logins_per_second / verifies_per_second;
    let latency_ratio = p99.as_secs_f64() / one_verify.as_secs_f64();
    println!("ratio sign-ins/s ÷ mean verifications/s: {ratio:.2} (target ≥ 0.80)");
    println!(
        "p99 sign-in latency: {:.1} ms = {latency_ratio:.2} × one verification (target ≤ 2.00)",
        millis(p99)
    );
    println!("peak memory (VmHWM): {}", peak_memory());
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Verifications per second with one thread per core, and the mean time of one verification
/// on an otherwise idle thread.
fn raw_argon2(settings: &SignInSettings, cores: usize, phase: Duration) -> (f64, Duration) {
    let params = Params::new(
        settings.password_argon2_memory_kib,
        settings.password_argon2_iterations,
        settings.password_argon2_parallelism,
        None,
    )
    .unwrap();
    // The same computation the server's pool runs: one reused working memory per thread.
    let block_count = params.block_count();
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = b"benchmark-salt-16";
    let mut expected = [0_u8; 32];
    let mut blocks = vec![Block::default(); block_count];
    hasher
        .hash_password_into_with_memory(PASSWORD.as_bytes(), salt, &mut expected, &mut blocks[..])
        .unwrap();
    let verify = |blocks: &mut Vec<Block>| {
        let mut computed = [0_u8; 32];
        hasher
            .hash_password_into_with_memory(
                PASSWORD.as_bytes(),
                salt,
                &mut computed,
                &mut blocks[..],
            )
            .unwrap();
        assert_eq!(computed, expected);
    };

    let single_start = Instant::now();
    let single_runs = 10;
    for _ in 0..single_runs {
        verify(&mut blocks);
    }
    let one_verify = single_start.elapsed() / single_runs;
    drop(blocks);

    let start = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let mut blocks = vec![Block::default(); block_count];
                    let mut done = 0_u64;
                    while start.elapsed() < phase {
                        verify(&mut blocks);
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap())
            .collect()
    });
    let total: u64 = counts.iter().sum();
    (total as f64 / start.elapsed().as_secs_f64(), one_verify)
}

/// Sign-ins per second, the 99th-percentile latency, and how many completed.
async fn full_logins(
    settings: SignInSettings,
    concurrency: usize,
    phase: Duration,
) -> (f64, Duration, usize) {
    let folder = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        folder.path().join("bench.db").display()
    );
    let cipher = FieldCipher::from_hex(&FieldCipher::generate_hex().unwrap()).unwrap();
    let store = Store::connect(&url, Backend::Sqlite, 16, cipher)
        .await
        .unwrap();
    store.migrate().await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let origin = format!("http://localhost:{}", address.port());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let signin = SignIn::new(store.clone(), clock.clone(), settings, &origin).unwrap();
    let pair = portner_idp::keys::KeyPair::generate("Portner benchmark").unwrap();
    let identity = portner_idp::saml::idp_metadata::IdpIdentity {
        entity_id: origin.clone(),
        base_url: origin.clone(),
        signing: pair.signing_key(),
        next_signing_certificate: None,
        encryption_certificate: pair.certificate,
    };
    let state = AppState {
        store: store.clone(),
        clock: clock.clone(),
        identity: Arc::new(identity),
        signin,
        audit: None,
        saml_refusals: portner_idp::saml::refusal_limit::RefusalLimit::default(),
        mailer: None,
    };
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });

    let org_cvr: Cvr = "91234567".parse().unwrap();
    let org = NewOrganisation::new(
        org_cvr.clone(),
        "Testfirma ApS",
        "testfirma.dk".parse().unwrap(),
    )
    .unwrap();
    let context = AuditContext::cli();
    portner_idp::directory::create_organisation(&store, clock.as_ref(), &context, &org)
        .await
        .unwrap();

    print!("activating {concurrency} users");
    let mut keys = Vec::new();
    for index in 0..concurrency {
        let username: Username = format!("bench{index}").parse().unwrap();
        let (key, _) = common::activated_user(
            &store,
            clock.as_ref(),
            address,
            &origin,
            &org_cvr,
            username.as_str(),
        )
        .await;
        keys.push((username, key));
        print!(".");
    }
    println!();

    let start = Instant::now();
    let tasks: Vec<_> = keys
        .into_iter()
        .map(|(username, mut key)| {
            let origin = origin.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while start.elapsed() < phase {
                    let begun = Instant::now();
                    common::login(address, &origin, username.as_str(), &mut key).await;
                    latencies.push(begun.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let index = (latencies.len() * 99).div_ceil(100).saturating_sub(1);
    let p99 = latencies.get(index).copied().unwrap_or_default();
    (
        latencies.len() as f64 / elapsed.as_secs_f64(),
        p99,
        latencies.len(),
    )
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(|line| line["VmHWM:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown (no /proc/self/status)".to_owned())
}
