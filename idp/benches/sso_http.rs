//! Single sign-on benchmark (issue 4, "Benchmark"): in one run, raw RSA signatures per second
//! with the IdP's key on every core, then SSO responses per second over HTTP for already
//! signed-in sessions at concurrency 2 × cores, with p50/p99 latency and the server's CPU
//! milliseconds per response. Prints the ratio to the raw signing rate (target ≥ 0.6).
//!
//! Run: `cargo bench -p portner-idp --bench sso_http` (optionally `-- SECONDS` per phase,
//! default 10, and `--rsa-bits 2048` for comparisons with peers that use RSA-2048). With
//! `PORTNER_BENCH_SIMPLESAMLPHP=http://127.0.0.1:8080/simplesamlphp` it also measures a local
//! SimpleSAMLphp set up by `bench/simplesamlphp/setup.sh` and prints Portner's rate over the
//! peer's (target ≥ 5). With `PORTNER_BENCH_POSTGRES_URL=postgres://…` the store is a fresh
//! schema in that PostgreSQL database instead of a SQLite file.
//!
//! One SSO is what a browser does for a second service in the same session: GET
//! `/saml/sso` with a signed Redirect AuthnRequest and the session cookie, and receive the page
//! carrying the signed and encrypted assertion (a 303 through `/saml/continue`, which Portner
//! took before it answered signed-in requests at once, is still followed if it comes). The
//! load runs in plain OS threads named `sso-client`, so the server's CPU is the process's CPU
//! less theirs. The clients sign their AuthnRequests with an RSA-2048 SP key, which costs the
//! shared cores too: the ratio is a lower bound for a server with its own machine.

// A benchmark harness, not production code: a failed step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "sso_http/peer.rs"]
mod peer;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use portner_audit::AuditContext;
use portner_idp::app::{AppState, app};
use portner_idp::keys::KeyPair;
use portner_idp::saml::redirect::{MessageKind, encode_signed};
use portner_idp::saml::registry::{SpSettings, register};
use portner_idp::signin::SignIn;
use portner_shared::config::{Backend, SignInSettings};
use portner_shared::crypto::FieldCipher;
use portner_shared::domain::{Cvr, NewOrganisation, SpProfile};
use portner_shared::store::Store;
use portner_shared::{Clock, SystemClock};

const SP: &str = "https://sp.bench.example.dk/saml";
const ACS: &str = "http://127.0.0.1:9/acs";
const CLIENT_THREAD: &str = "sso-client";

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let seconds = arguments
        .iter()
        .find_map(|argument| argument.parse::<u64>().ok())
        .unwrap_or(10);
    let bits = arguments
        .iter()
        .position(|argument| argument == "--rsa-bits")
        .and_then(|at| arguments.get(at + 1))
        .map_or(portner_idp::keys::RSA_BITS, |bits| bits.parse().unwrap());
    let phase = Duration::from_secs(seconds);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let concurrency = cores * 2;
    let postgres = std::env::var("PORTNER_BENCH_POSTGRES_URL").ok();
    let backend = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "SSO benchmark: RSA-{bits} IdP key, {cores} cores, concurrency {concurrency}, \
         {seconds} s per phase, {backend} store"
    );

    let idp = KeyPair::generate_rsa(bits, "Portner benchmark").unwrap();
    let raw_before = raw_signatures(&idp.private_key, cores, phase);
    println!("raw RSA-{bits} signatures: {raw_before:.0}/s on {cores} cores");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = runtime.block_on(bench_store(postgres.as_deref()));
    let sessions = runtime.block_on(signed_in_sessions(store, idp.clone(), concurrency));
    let sso = run_load(&sessions, phase);
    println!(
        "SSO over HTTP: {:.0} responses/s ({} responses, {} failures), p50 {:.1} ms, \
         p99 {:.1} ms, server CPU {:.2} ms per response",
        sso.per_second, sso.count, sso.failures, sso.p50_ms, sso.p99_ms, sso.server_cpu_ms
    );

    // The machine may be shared: measure the bound again and use the mean of both runs, so
    // a load change during the run shows instead of skewing the ratio.
    let raw_after = raw_signatures(&idp.private_key, cores, phase);
    println!("raw RSA-{bits} signatures again: {raw_after:.0}/s");
    let raw = (raw_before + raw_after) / 2.0;
    println!(
        "ratio SSO responses/s ÷ mean raw signatures/s: {:.2} (target ≥ 0.60)",
        sso.per_second / raw
    );

    if let Ok(base_url) = std::env::var("PORTNER_BENCH_SIMPLESAMLPHP") {
        match peer::measure_simplesamlphp(&base_url, concurrency, phase) {
            Ok(result) => println!(
                "SimpleSAMLphp: {:.0} responses/s ({} failures), p50 {:.1} ms, p99 {:.1} ms, \
                 server CPU {} ms per response; Portner ÷ SimpleSAMLphp: {:.1} (target ≥ 5)",
                result.responses_per_second,
                result.failures,
                result.p50_ms,
                result.p99_ms,
                result
                    .cpu_ms_per_response
                    .map_or_else(|| "unknown".to_owned(), |ms| format!("{ms:.2}")),
                sso.per_second / result.responses_per_second
            ),
            Err(error) => println!("SimpleSAMLphp peer not measured: {error}"),
        }
    }
    runtime.shutdown_background();
}

/// RSA-SHA256 signatures per second with `key`, one thread per core.
fn raw_signatures(key: &PKey<Private>, cores: usize, phase: Duration) -> f64 {
    let message = vec![b'x'; 1024];
    let started = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0_u64;
                    while started.elapsed() < phase {
                        let mut signer = Signer::new(MessageDigest::sha256(), key).unwrap();
                        std::hint::black_box(signer.sign_oneshot_to_vec(&message).unwrap());
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
    counts.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64()
}

/// One signed-in browser: the server's address and the session cookie.
struct Session {
    address: SocketAddr,
    origin: String,
    cookie: String,
    sp_key: Arc<PKey<Private>>,
}

/// A migrated store: a SQLite file in a temporary folder, or a new schema in the PostgreSQL
/// database at `postgres_url` (left behind for inspection; its name is printed).
async fn bench_store(postgres_url: Option<&str>) -> Store {
    let cipher = FieldCipher::from_hex(&FieldCipher::generate_hex().unwrap()).unwrap();
    let store = match postgres_url {
        None => {
            let folder = Box::leak(Box::new(tempfile::tempdir().unwrap()));
            let url = format!(
                "sqlite://{}?mode=rwc",
                folder.path().join("bench.db").display()
            );
            Store::connect(&url, Backend::Sqlite, 16, cipher)
                .await
                .unwrap()
        }
        Some(base_url) => {
            let schema = format!("portner_bench_{}", std::process::id());
            let admin = Store::connect(base_url, Backend::Postgres, 1, cipher.clone())
                .await
                .unwrap();
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .unwrap();
            admin.close().await;
            println!("PostgreSQL schema: {schema}");
            let separator = if base_url.contains('?') { '&' } else { '?' };
            let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
            Store::connect(&url, Backend::Postgres, 16, cipher)
                .await
                .unwrap()
        }
    };
    store.migrate().await.unwrap();
    store
}

/// Starts Portner on a loopback port over `store` with the test SP registered, and activates
/// `count` users at Substantial, each leaving a signed-in session.
async fn signed_in_sessions(store: Store, idp: KeyPair, count: usize) -> Vec<Session> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let origin = format!("http://localhost:{}", address.port());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let signin = SignIn::new(
        store.clone(),
        clock.clone(),
        SignInSettings::default(),
        &origin,
    )
    .unwrap();
    let identity = portner_idp::saml::idp_metadata::IdpIdentity {
        entity_id: origin.clone(),
        base_url: origin.clone(),
        signing: idp.signing_key(),
        next_signing_certificate: None,
        encryption_certificate: idp.certificate.clone(),
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

    let sp = KeyPair::generate_rsa(2048, "Portner benchmark SP").unwrap();
    let context = AuditContext::cli();
    let metadata = sp_metadata(&sp);
    register(
        &store,
        clock.as_ref(),
        &context,
        &metadata,
        SpProfile::Own,
        None,
        &SpSettings::default(),
    )
    .await
    .unwrap();
    let cvr: Cvr = "91234567".parse().unwrap();
    let org = NewOrganisation::new(
        cvr.clone(),
        "Testfirma ApS",
        "testfirma.dk".parse().unwrap(),
    )
    .unwrap();
    portner_idp::directory::create_organisation(&store, clock.as_ref(), &context, &org)
        .await
        .unwrap();

    let sp_key = Arc::new(sp.private_key);
    let mut sessions = Vec::new();
    for index in 0..count {
        let name = format!("sso{index}");
        let (_, client) =
            common::activated_user(&store, clock.as_ref(), address, &origin, &cvr, &name).await;
        sessions.push(Session {
            address,
            origin: origin.clone(),
            cookie: client.cookie_header(),
            sp_key: sp_key.clone(),
        });
    }
    sessions
}

/// SP metadata for the benchmark SP: its certificate for signing and encryption, an ACS
/// where nothing listens (the benchmark reads the page and never posts it).
fn sp_metadata(sp: &KeyPair) -> String {
    use base64::Engine;
    let certificate =
        base64::engine::general_purpose::STANDARD.encode(sp.certificate.to_der().unwrap());
    let key = |use_attribute: &str| {
        format!(
            "<md:KeyDescriptor{use_attribute}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\
             {certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        )
    };
    format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{SP}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{}{}\
         <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"{ACS}\" index=\"0\" isDefault=\"true\"/></md:SPSSODescriptor>\
         </md:EntityDescriptor>",
        key(" use=\"signing\""),
        key(" use=\"encryption\"")
    )
}

/// What the load phase measured.
struct LoadResult {
    per_second: f64,
    count: usize,
    failures: usize,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu_ms: f64,
}

/// Runs one client thread per session for `phase`; returns rates, latencies and CPU.
fn run_load(sessions: &[Session], phase: Duration) -> LoadResult {
    let ticks_per_second = clock_ticks_per_second();
    let process_before = process_cpu_ticks();
    let started = Instant::now();
    let outcomes: Vec<(Vec<Duration>, usize, u64)> = std::thread::scope(|scope| {
        let clients: Vec<_> = sessions
            .iter()
            .enumerate()
            .map(|(index, session)| {
                std::thread::Builder::new()
                    .name(CLIENT_THREAD.to_owned())
                    .spawn_scoped(scope, move || client_loop(session, index, started, phase))
                    .unwrap()
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed();
    let process_ticks = process_cpu_ticks() - process_before;

    let client_ticks: u64 = outcomes.iter().map(|(_, _, ticks)| ticks).sum();
    let failures = outcomes.iter().map(|(_, failures, _)| failures).sum();
    let mut latencies: Vec<Duration> = outcomes.into_iter().flat_map(|(l, _, _)| l).collect();
    latencies.sort();
    let percentile = |share: usize| {
        let index = (latencies.len() * share).div_ceil(100).saturating_sub(1);
        latencies
            .get(index)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let server_ticks = process_ticks.saturating_sub(client_ticks) as f64;
    LoadResult {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        count: latencies.len(),
        failures,
        p50_ms: percentile(50),
        p99_ms: percentile(99),
        server_cpu_ms: server_ticks * 1000.0 / ticks_per_second / latencies.len().max(1) as f64,
    }
}

/// One browser's loop: a fresh signed AuthnRequest, any redirect to continue, the page.
/// Returns the latencies of good responses, the failures, and this thread's CPU ticks.
fn client_loop(
    session: &Session,
    index: usize,
    started: Instant,
    phase: Duration,
) -> (Vec<Duration>, usize, u64) {
    let mut latencies = Vec::new();
    let mut failures = 0;
    let mut sequence = 0_u64;
    while started.elapsed() < phase {
        sequence += 1;
        let begun = Instant::now();
        let query = signed_request(session, &format!("_b{index}x{sequence}"));
        let first = get(
            session.address,
            &format!("/saml/sso?{query}"),
            &session.cookie,
        );
        let page = match first {
            Some((303, Some(location), _)) => get(session.address, &location, &session.cookie),
            other => other,
        };
        match page {
            Some((200, _, body)) if body.contains("name=\"SAMLResponse\"") => {
                latencies.push(begun.elapsed());
            }
            _ => failures += 1,
        }
    }
    (latencies, failures, thread_cpu_ticks())
}

fn signed_request(session: &Session, id: &str) -> String {
    let issued = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{issued}\" Destination=\"{}/saml/sso\" \
         AssertionConsumerServiceURL=\"{ACS}\"><saml:Issuer>{SP}</saml:Issuer>\
         </samlp:AuthnRequest>",
        session.origin
    );
    encode_signed(MessageKind::Request, &xml, None, &session.sp_key).unwrap()
}

/// One blocking HTTP/1.1 GET on its own connection; status, `Location` and body.
fn get(address: SocketAddr, path: &str, cookie: &str) -> Option<(u16, Option<String>, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let location = head
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("location:"))
        .map(|line| line[9..].trim().to_owned());
    Some((status, location, body.to_owned()))
}

/// utime + stime of a `/proc/.../stat` line (fields 14 and 15, after the command name).
fn cpu_ticks(stat: &str) -> u64 {
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |at: usize| {
        fields
            .get(at)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

fn process_cpu_ticks() -> u64 {
    cpu_ticks(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

fn thread_cpu_ticks() -> u64 {
    cpu_ticks(&std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default())
}

/// `getconf CLK_TCK`; 100 on Linux unless told otherwise.
fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}
