//! Component benchmark for the SAML response path: how many signed and encrypted OIOSAML 3
//! responses Portner builds per second, against raw RSA signatures per second with the same
//! key, both on every core, measured back to back in one run (performance.md §5.3).
//!
//! Run with `cargo bench -p portner-idp --bench saml_response`. It prints the ratio of the two
//! rates. This is not the issue's SSO benchmark over HTTP, which needs the sign-in sessions;
//! it bounds what the response builder leaves for the rest of the request.

// A benchmark is a measuring tool run by hand: a failed set-up should stop it loudly.
#![allow(clippy::expect_used, reason = "benchmark set-up; not production code")]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use openssl::hash::MessageDigest;
use openssl::sign::Signer;
use openssl::x509::X509;
use portner_idp::keys::KeyPair;
use portner_idp::saml::registry::EncryptionProfile;
use portner_idp::saml::response::{AssertionContent, ResponseOptions, SigningKey, build_response};

const ROUND: Duration = Duration::from_secs(4);
const ROUNDS: usize = 3;

fn main() {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let pair = KeyPair::generate("Portner benchmark").expect("key generation");
    let signing = SigningKey {
        key: pair.private_key,
        certificate: pair.certificate,
    };
    let sp_certificate = sp_certificate();
    println!(
        "SAML response benchmark: RSA-{} key, {threads} threads, {} rounds of {:?}",
        signing.key.bits(),
        ROUNDS,
        ROUND
    );

    let mut ratios = Vec::new();
    for round in 1..=ROUNDS {
        let raw = rate(threads, || raw_signature(&signing));
        let built = rate(threads, || response(&signing, &sp_certificate));
        let ratio = built / raw;
        println!(
            "round {round}: raw RSA signatures {raw:.0}/s, signed+encrypted responses {built:.0}/s, \
             ratio {ratio:.2}"
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median ratio (responses / raw signatures): {:.2}",
        ratios[ratios.len() / 2]
    );
}

/// Runs `work` on `threads` threads for one round; returns completed operations per second.
fn rate(threads: usize, work: impl Fn() + Sync) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    work();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(ROUND);
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn raw_signature(signing: &SigningKey) {
    static MESSAGE: OnceLock<Vec<u8>> = OnceLock::new();
    let message = MESSAGE.get_or_init(|| vec![b'x'; 1024]);
    let mut signer = Signer::new(MessageDigest::sha256(), &signing.key).expect("signer");
    std::hint::black_box(signer.sign_oneshot_to_vec(message).expect("signature"));
}

fn response(signing: &SigningKey, sp_certificate: &Arc<X509>) {
    let now = Utc::now();
    let content = AssertionContent {
        issuer: "https://saml.test.example.dk".into(),
        assertion_id: format!("_{}", uuid::Uuid::new_v4().simple()),
        issue_instant: now,
        name_id: "https://data.gov.dk/model/core/eid/professional/uuid/6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b".into(),
        name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
        audience: "https://sp.test.example.dk/saml".into(),
        recipient: "https://sp.test.example.dk/acs".into(),
        in_response_to: Some("_request".into()),
        not_on_or_after: now + chrono::Duration::minutes(5),
        not_before: now - chrono::Duration::minutes(1),
        authn_instant: now,
        session_index: "_session".into(),
        session_not_on_or_after: now + chrono::Duration::hours(8),
        authn_context_class_ref: "https://data.gov.dk/concept/core/nsis".into(),
        attributes: vec![
            ("https://data.gov.dk/model/core/specVersion".into(), vec!["OIO-SAML-3.0".into()]),
            ("https://data.gov.dk/concept/core/nsis/loa".into(), vec!["Substantial".into()]),
            ("https://data.gov.dk/model/core/eid/professional/cvr".into(), vec!["91234567".into()]),
            ("https://data.gov.dk/model/core/eid/professional/orgName".into(), vec!["Testkommune".into()]),
        ],
    };
    let options = ResponseOptions {
        response_id: "_response",
        encryption: EncryptionProfile::Oiosaml3,
        encryption_certificate: Some(sp_certificate),
        sign_response: false,
    };
    std::hint::black_box(build_response(&content, &options, signing).expect("response"));
}

fn sp_certificate() -> Arc<X509> {
    let pem = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/saml/sp-test.crt"
    ));
    Arc::new(X509::from_pem(pem).expect("test SP certificate"))
}
