//! Benchmark of the evidence pack (issue 7): export of a period with N events (default
//! 1,000,000) from a SQLite store, against a bound measured in the same run: reading the same
//! rows page by page without processing them.
//!
//! Run: `cargo run --release -p portner-audit --example evidence_bench -- [EVENTS]`
//!
//! Prints wall time and events per second for the plain read, the export and `verify-pack`,
//! the export's rate as a share of the plain read, and the peak resident memory during the
//! export (Linux: the peak is reset through `/proc/self/clear_refs` before it starts, so the
//! figure covers the export alone). Nothing here is asserted on time; see docs/benchmarks.md.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness, not production"
)]

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use portner_audit::evidence::{ExportRequest, PackLimits, export, verify_pack};
use portner_audit::retention::RetentionPolicy;
use portner_audit::{AuditContext, AuditEvent, AuditSigner, Subject};
use portner_shared::config::Backend;
use portner_shared::crypto::FieldCipher;
use portner_shared::domain::{NsisLevel, UserId, UserStatus};
use portner_shared::store::Store;

const BATCH: usize = 10_000;

#[tokio::main]
async fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .map(|text| text.parse().expect("EVENTS must be a number"))
        .unwrap_or(1_000_000);
    let folder = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        folder.path().join("bench.db").display()
    );
    let cipher = FieldCipher::from_hex(&FieldCipher::generate_hex().unwrap()).unwrap();
    let store = Store::connect(&url, Backend::Sqlite, 4, cipher)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let signer = signer();

    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let step = Duration::milliseconds(30 * 86_400_000 / events.max(1) as i64);
    let filling = Instant::now();
    fill(&store, &signer, start, step, events).await;
    println!(
        "filled {events} events with checkpoints every {BATCH} in {:.1?}",
        filling.elapsed()
    );

    let (read_rows, read_secs) = plain_read(&store).await;
    println!(
        "plain read:  {read_rows} rows in {read_secs:.2} s = {:.0} rows/s (bound)",
        read_rows as f64 / read_secs
    );

    reset_peak_memory();
    let out = folder.path().join("pack.zip");
    let request = ExportRequest {
        from: start,
        to: start + Duration::days(31),
        out: out.clone(),
        retention: RetentionPolicy::default(),
        settings: Vec::new(),
    };
    let now = start + Duration::days(32);
    let exporting = Instant::now();
    let summary = export(
        &store,
        now,
        &AuditContext::system(),
        &signer,
        &request,
        &mut |_, _| {},
    )
    .await
    .unwrap();
    let export_secs = exporting.elapsed().as_secs_f64();
    let peak = peak_memory_kib();
    let export_rate = summary.events as f64 / export_secs;
    let pack_bytes = std::fs::metadata(&out).unwrap().len();
    println!(
        "export:      {} events in {export_secs:.2} s = {export_rate:.0} events/s, {:.2} of the \
         plain read rate; pack {:.1} MiB; peak RSS during export {} MiB",
        summary.events,
        export_rate / (read_rows as f64 / read_secs),
        pack_bytes as f64 / 1_048_576.0,
        peak.map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1}", kib as f64 / 1024.0)
        ),
    );

    let verifying = Instant::now();
    let verdict = verify_pack(&out, Some(&signer.fingerprint()), PackLimits::default()).unwrap();
    let verify_secs = verifying.elapsed().as_secs_f64();
    assert!(verdict.is_verified(), "{}", verdict.text());
    println!(
        "verify-pack: {} events in {verify_secs:.2} s = {:.0} events/s",
        verdict.events,
        verdict.events as f64 / verify_secs
    );
}

async fn fill(
    store: &Store,
    signer: &AuditSigner,
    start: chrono::DateTime<Utc>,
    step: Duration,
    events: usize,
) {
    let user_id = UserId::random();
    let mut written = 0;
    while written < events {
        let mut tx = store.begin().await.unwrap();
        for index in written..(written + BATCH).min(events) {
            let now = start + step * index as i32;
            let event = match index % 3 {
                0 => AuditEvent::UserStatusChanged {
                    user_id,
                    from: UserStatus::Active,
                    to: UserStatus::Locked,
                },
                1 => AuditEvent::IdentityProofingRecorded {
                    user_id,
                    method: "mitid".to_owned(),
                    level: NsisLevel::Substantial,
                },
                _ => AuditEvent::KeyGenerated {
                    purpose: "signing".to_owned(),
                    fingerprint: Some("ab".repeat(32)),
                },
            };
            let subject = Subject::User(user_id);
            portner_audit::append(&mut tx, now, &AuditContext::system(), &subject, &event)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        written = (written + BATCH).min(events);
        let now = start + step * written as i32;
        portner_audit::checkpoint::write_checkpoint(store, now, signer, None)
            .await
            .unwrap();
    }
}

/// Reads every row in the same pages the export uses, doing nothing with them.
async fn plain_read(store: &Store) -> (u64, f64) {
    let reading = Instant::now();
    let mut tx = store.read().await.unwrap();
    let mut after = 0;
    let mut rows = 0_u64;
    loop {
        let page = portner_audit::records(&mut tx, after, 2_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        rows += page.len() as u64;
    }
    tx.rollback().await.unwrap();
    (rows, reading.elapsed().as_secs_f64())
}

fn signer() -> AuditSigner {
    let key = PKey::from_rsa(Rsa::generate(3072).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "Portner benchmark audit key")
        .unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    AuditSigner::new(key, builder.build()).unwrap()
}

/// Resets the kernel's peak-RSS counter (VmHWM), so the next reading covers what follows.
fn reset_peak_memory() {
    let _ignored = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}
