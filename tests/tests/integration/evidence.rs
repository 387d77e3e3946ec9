//! Audit evidence (issue 7): checkpoints, retention pruning, evidence packs and their offline
//! verification, and the report rendered in a real headless Chromium.
// The suite's helpers and backend-generic test bodies are not `#[test]` functions, so clippy's
// test allowances do not reach them; a failed unwrap there is a failed test, not an outage.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::Duration;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::{X509, X509NameBuilder};
use portner_audit::checkpoint::write_checkpoint;
use portner_audit::evidence::{ExportRequest, PackLimits, PackVerdict, export, verify_pack};
use portner_audit::retention::{RetentionPolicy, prune};
use portner_audit::{
    AuditContext, AuditError, AuditEvent, AuditSigner, AuditVerifier, ChainVerdict,
    CheckpointBreak, Subject, verify, verify_with_checkpoints,
};
use portner_shared::Clock;
use portner_shared::FixedClock;
use portner_shared::config::Backend;
use portner_shared::store::Store;
use portner_tests::{TestStore, fixed_clock};

on_both_backends!(
    verify_reports_a_forged_checkpoint_and_a_truncated_chain_by_seq,
    prune_then_verify_succeeds_and_cutting_between_checkpoints_is_refused,
    records_above_the_anchor_cannot_be_deleted_directly,
    a_pack_exported_from_either_backend_verifies,
    a_rotated_key_keeps_its_checkpoints_verifiable_and_packs_carry_its_certificate,
    serve_start_records_configuration_only_when_it_changed,
    the_matrix_shows_the_value_at_start_each_change_and_the_value_at_end,
    a_period_before_any_snapshot_says_not_recorded,
    a_pruned_snapshot_is_carried_forward_and_stays_in_force,
);

fn test_signer() -> AuditSigner {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "Portner test audit key")
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

async fn append_events(store: &Store, clock: &FixedClock, count: usize, purpose: &str) {
    let mut tx = store.begin().await.unwrap();
    for _ in 0..count {
        let event = AuditEvent::KeyGenerated {
            purpose: purpose.to_owned(),
            fingerprint: None,
        };
        portner_audit::append(
            &mut tx,
            clock.now(),
            &AuditContext::system(),
            &Subject::Installation,
            &event,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn verify_reports_a_forged_checkpoint_and_a_truncated_chain_by_seq(test: TestStore) {
    let store = &test.store;
    let clock = fixed_clock();
    let signer = test_signer();
    append_events(store, &clock, 5, "signing").await;
    let first = write_checkpoint(store, clock.now(), &signer, None)
        .await
        .unwrap()
        .unwrap();
    append_events(store, &clock, 3, "signing").await;
    let second = write_checkpoint(store, clock.now(), &signer, None)
        .await
        .unwrap()
        .unwrap();
    let verifier = signer.verifier().unwrap();

    let clean = verify_with_checkpoints(store, &verifier, &[])
        .await
        .unwrap();
    assert!(clean.is_intact(), "{clean:?}");
    assert_eq!((first.seq, second.seq), (5, 9));

    // Another key's signature: reported with the checkpoint's seq.
    let foreign = test_signer().verifier().unwrap();
    let forged = verify_with_checkpoints(store, &foreign, &[]).await.unwrap();
    let seqs: Vec<(i64, CheckpointBreak)> = forged
        .checkpoint_problems
        .iter()
        .map(|found| (found.seq, found.problem))
        .collect();
    assert_eq!(
        seqs,
        [
            (5, CheckpointBreak::BadSignature),
            (9, CheckpointBreak::BadSignature)
        ]
    );

    // Someone with database access drops the guard, cuts the tail and rewinds the head: the
    // chain alone looks intact, the checkpoint beyond the new head gives it away.
    drop_delete_guard(store).await;
    store
        .execute_unprepared("DELETE FROM audit_events WHERE seq > 6")
        .await
        .unwrap();
    let rewind = "UPDATE audit_head SET seq = 6, hash = (SELECT hash FROM audit_events \
                  WHERE seq = 6) WHERE id = 1";
    store.execute_unprepared(rewind).await.unwrap();

    assert_eq!(
        verify(store).await.unwrap(),
        ChainVerdict::Intact { count: 6 }
    );
    let truncated = verify_with_checkpoints(store, &verifier, &[])
        .await
        .unwrap();
    assert!(!truncated.is_intact());
    assert_eq!(truncated.checkpoint_problems.len(), 1);
    assert_eq!(truncated.checkpoint_problems[0].seq, 9);
    assert_eq!(
        truncated.checkpoint_problems[0].problem,
        CheckpointBreak::BeyondHead
    );
}

async fn prune_then_verify_succeeds_and_cutting_between_checkpoints_is_refused(test: TestStore) {
    let store = &test.store;
    let clock = fixed_clock();
    let signer = test_signer();
    let verifier = signer.verifier().unwrap();
    let policy = RetentionPolicy::default();
    let context = AuditContext::system();

    append_events(store, &clock, 4, "signing").await;
    let old = write_checkpoint(store, clock.now(), &signer, None)
        .await
        .unwrap()
        .unwrap();
    clock.advance(Duration::days(400));
    append_events(store, &clock, 3, "signing").await;
    write_checkpoint(store, clock.now(), &signer, None)
        .await
        .unwrap()
        .unwrap();

    // Between checkpoints, or into the retained period: refused, nothing removed.
    let between = prune(store, clock.now(), &context, &verifier, policy, Some(3)).await;
    assert!(
        matches!(between, Err(AuditError::NotACheckpoint { seq: 3 })),
        "{between:?}"
    );
    let recent = prune(store, clock.now(), &context, &verifier, policy, Some(8)).await;
    assert!(
        matches!(recent, Err(AuditError::RetentionNotReached { seq: 8, .. })),
        "{recent:?}"
    );
    assert_eq!(
        verify(store).await.unwrap(),
        ChainVerdict::Intact { count: 9 }
    );

    let outcome = prune(store, clock.now(), &context, &verifier, policy, None)
        .await
        .unwrap();
    let outcome = outcome.expect("the old segment is past retention");
    assert_eq!(outcome.anchor.seq, old.seq);
    assert_eq!((outcome.removed_lifecycle, outcome.removed_saml), (4, 0));

    // The chain now starts at the anchor and still verifies, including the prune's own event.
    let after = verify_with_checkpoints(store, &verifier, &[])
        .await
        .unwrap();
    assert!(after.is_intact(), "{after:?}");
    assert_eq!(after.chain, ChainVerdict::Intact { count: 6 });
    let mut tx = store.read().await.unwrap();
    let tail = portner_audit::records(&mut tx, 0, 100).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(tail.first().unwrap().seq, 5);
    assert_eq!(tail.last().unwrap().kind, "AUDIT_PRUNED");
}

async fn records_above_the_anchor_cannot_be_deleted_directly(test: TestStore) {
    let store = &test.store;
    let clock = fixed_clock();
    append_events(store, &clock, 2, "signing").await;

    let deleted = store
        .execute_unprepared("DELETE FROM audit_events WHERE seq = 1")
        .await;
    let moved = store
        .execute_unprepared(
            "UPDATE audit_anchor SET seq = 2, hash = (SELECT hash FROM audit_events WHERE seq = 2)",
        )
        .await;

    assert!(deleted.is_err(), "the append-only guard let a record go");
    assert!(
        moved.is_err(),
        "the anchor moved onto something that is not a checkpoint"
    );
    assert_eq!(
        verify(store).await.unwrap(),
        ChainVerdict::Intact { count: 2 }
    );
}

async fn drop_delete_guard(store: &Store) {
    let statements: &[&str] = match store.backend() {
        Backend::Sqlite => &["DROP TRIGGER audit_events_delete_only_up_to_anchor"],
        Backend::Postgres => &["DROP TRIGGER audit_events_no_change ON audit_events"],
    };
    for statement in statements {
        store.execute_unprepared(statement).await.unwrap();
    }
}

// ---- Evidence packs (SQLite; the export reads through the same Store API on both). ----

struct Exported {
    _test: TestStore,
    folder: tempfile::TempDir,
    pack: PathBuf,
    signer: AuditSigner,
}

async fn exported_pack() -> Exported {
    let test = portner_tests::sqlite_store().await;
    let clock = fixed_clock();
    let signer = test_signer();
    append_events(&test.store, &clock, 6, "signing").await;
    write_checkpoint(&test.store, clock.now(), &signer, None)
        .await
        .unwrap();
    clock.advance(Duration::hours(2));
    append_events(&test.store, &clock, 4, "encryption").await;

    let folder = tempfile::tempdir().unwrap();
    let pack = folder.path().join("pack.zip");
    let request = request_for(&clock, pack.clone());
    let mut ticks = 0;
    let summary = export(
        &test.store,
        clock.now(),
        &AuditContext::system(),
        &signer,
        &request,
        &mut |_, _| ticks += 1,
    )
    .await
    .unwrap();
    assert_eq!(
        summary.events, 11,
        "10 events and the first checkpoint's own event"
    );
    assert!(ticks > 0, "no progress was reported");
    Exported {
        _test: test,
        folder,
        pack,
        signer,
    }
}

fn request_for(clock: &FixedClock, out: PathBuf) -> ExportRequest {
    ExportRequest {
        from: clock.now() - Duration::days(1),
        to: clock.now() + Duration::days(1),
        out,
        retention: RetentionPolicy::default(),
        settings: vec![("audit_checkpoint_events".to_owned(), "10000".to_owned())],
    }
}

fn verdict_of(pack: &Path, signer: &AuditSigner) -> PackVerdict {
    verify_pack(pack, Some(&signer.fingerprint()), PackLimits::default()).unwrap()
}

/// Rewrites the pack with `change` applied to the named entry's bytes (or removes it).
fn tamper(pack: &Path, out: &Path, name: &str, change: impl Fn(Vec<u8>) -> Option<Vec<u8>>) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(pack).unwrap()).unwrap();
    let mut writer = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let entry_name = entry.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let bytes = if entry_name == name {
            change(bytes)
        } else {
            Some(bytes)
        };
        if let Some(bytes) = bytes {
            writer
                .start_file(entry_name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(&bytes).unwrap();
        }
    }
    writer.finish().unwrap();
}

fn entry(pack: &Path, name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(pack).unwrap()).unwrap();
    let mut bytes = Vec::new();
    archive
        .by_name(name)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

fn assert_finding(verdict: &PackVerdict, file: &str, place: Option<&str>, problem: &str) {
    let found = verdict.findings.iter().any(|finding| {
        finding.file == file
            && place.is_none_or(|wanted| {
                finding
                    .place
                    .as_deref()
                    .is_some_and(|at| at.contains(wanted))
            })
            && finding.problem.contains(problem)
    });
    assert!(
        found,
        "no finding {file} {place:?} {problem:?} in:\n{}",
        verdict.text()
    );
    assert!(!verdict.is_verified());
    assert!(
        verdict
            .text()
            .starts_with("Evidence pack FAILED verification")
    );
}

#[tokio::test]
async fn an_untouched_pack_verifies_with_a_pasteable_verdict() {
    let exported = exported_pack().await;

    let verdict = verdict_of(&exported.pack, &exported.signer);

    assert!(verdict.is_verified(), "{}", verdict.text());
    assert!(
        verdict
            .text()
            .starts_with("Evidence pack VERIFIED: 11 events"),
        "{}",
        verdict.text()
    );
    assert!(verdict.text().contains(&exported.signer.fingerprint()));
}

#[tokio::test]
async fn a_changed_byte_in_any_file_is_reported_with_the_file() {
    let exported = exported_pack().await;
    let archive = zip::ZipArchive::new(std::fs::File::open(&exported.pack).unwrap()).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|name| name.unwrap().into_owned())
        .collect();

    for name in names
        .iter()
        .filter(|name| !entry(&exported.pack, name).is_empty())
    {
        let out = exported.folder.path().join("tampered.zip");
        tamper(&exported.pack, &out, name, |mut bytes| {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x01;
            Some(bytes)
        });

        let verdict = verdict_of(&out, &exported.signer);

        assert!(
            !verdict.is_verified(),
            "{name}: a flipped bit went unnoticed"
        );
        let expected_file = match name.as_str() {
            "manifest.sig" => "manifest.json",
            other => other,
        };
        assert!(
            verdict
                .findings
                .iter()
                .any(|finding| finding.file == expected_file
                    || (name == "manifest.sig" && finding.file == "manifest.sig")),
            "{name}: no finding names the file:\n{}",
            verdict.text()
        );
    }
}

#[tokio::test]
async fn a_removed_event_is_reported_with_line_and_sequence() {
    let exported = exported_pack().await;
    let out = exported.folder.path().join("removed.zip");
    tamper(&exported.pack, &out, "events.jsonl", |bytes| {
        let text = String::from_utf8(bytes).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(index, _)| *index != 3)
            .map(|(_, line)| line)
            .collect();
        Some(format!("{}\n", kept.join("\n")).into_bytes())
    });

    let verdict = verdict_of(&out, &exported.signer);

    assert_finding(
        &verdict,
        "events.jsonl",
        None,
        "SHA-256 differs from the signed manifest",
    );
    assert_finding(
        &verdict,
        "events.jsonl",
        Some("line 4, seq 5"),
        "sequence 4 expected, 5 found: event(s) removed",
    );
}

#[tokio::test]
async fn an_added_event_is_reported_with_line_and_sequence() {
    let exported = exported_pack().await;
    let out = exported.folder.path().join("added.zip");
    tamper(&exported.pack, &out, "events.jsonl", |bytes| {
        let text = String::from_utf8(bytes).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        let copy = lines[2];
        lines.insert(3, copy);
        Some(format!("{}\n", lines.join("\n")).into_bytes())
    });

    let verdict = verdict_of(&out, &exported.signer);

    assert_finding(
        &verdict,
        "events.jsonl",
        Some("line 4, seq 3"),
        "event added or repeated",
    );
    assert_finding(
        &verdict,
        "events.jsonl",
        None,
        "12 events, the manifest says 11",
    );
}

#[tokio::test]
async fn a_swapped_checkpoint_is_reported_with_its_sequence() {
    let exported = exported_pack().await;
    // A genuine checkpoint by the same key, from another installation's chain.
    let other = portner_tests::sqlite_store().await;
    let clock = fixed_clock();
    append_events(&other.store, &clock, 3, "cpr").await;
    let foreign = write_checkpoint(&other.store, clock.now(), &exported.signer, None)
        .await
        .unwrap()
        .unwrap();
    let foreign_line = serde_json::to_string(&foreign).unwrap();
    let out = exported.folder.path().join("swapped.zip");
    tamper(&exported.pack, &out, "checkpoints.jsonl", |bytes| {
        let text = String::from_utf8(bytes).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[0] = foreign_line.clone();
        Some(format!("{}\n", lines.join("\n")).into_bytes())
    });

    let verdict = verdict_of(&out, &exported.signer);

    assert_finding(
        &verdict,
        "checkpoints.jsonl",
        None,
        "SHA-256 differs from the signed manifest",
    );
    assert_finding(
        &verdict,
        "checkpoints.jsonl",
        Some("checkpoint 3"),
        "hash disagrees with events.jsonl line 3",
    );
}

#[tokio::test]
async fn a_removed_or_added_file_and_a_foreign_certificate_are_reported() {
    let exported = exported_pack().await;
    let removed = exported.folder.path().join("removed-file.zip");
    tamper(&exported.pack, &removed, "inventory/users.csv", |_| None);

    let verdict = verdict_of(&removed, &exported.signer);
    assert_finding(
        &verdict,
        "inventory/users.csv",
        None,
        "removed: listed in the manifest but missing",
    );

    let foreign = verify_pack(
        &exported.pack,
        Some(&test_signer().fingerprint()),
        PackLimits::default(),
    )
    .unwrap();
    assert_finding(
        &foreign,
        "certificate.pem",
        None,
        "is not the expected audit certificate",
    );
}

#[tokio::test]
async fn an_oversized_entry_is_refused_without_reading_it() {
    let exported = exported_pack().await;
    let limits = PackLimits {
        max_events_bytes: 100,
        ..PackLimits::default()
    };

    let verdict = verify_pack(&exported.pack, None, limits).unwrap();

    assert_finding(&verdict, "events.jsonl", None, "more than the limit 100");
}

#[tokio::test]
async fn a_period_beyond_retention_is_refused_and_writes_nothing() {
    let test = portner_tests::sqlite_store().await;
    let clock = fixed_clock();
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("old.zip");
    let mut request = request_for(&clock, out.clone());
    request.from = clock.now() - Duration::days(500);

    let refused = export(
        &test.store,
        clock.now(),
        &AuditContext::system(),
        &test_signer(),
        &request,
        &mut |_, _| {},
    )
    .await;

    let error = refused.unwrap_err();
    assert_eq!(error.code(), "AUD0010");
    assert!(
        error.to_string().contains("retention period (396 days"),
        "{error}"
    );
    assert!(!out.exists());
}

#[tokio::test]
async fn an_interrupted_export_leaves_no_file_that_looks_complete() {
    let test = portner_tests::sqlite_store().await;
    let clock = fixed_clock();
    append_events(&test.store, &clock, 5_000, "signing").await;
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("interrupted.zip");
    let request = request_for(&clock, out.clone());
    let signer = test_signer();

    let store = test.store.clone();
    let task = tokio::spawn(async move {
        export(
            &store,
            clock.now(),
            &AuditContext::system(),
            &signer,
            &request,
            &mut |done, _| {
                assert!(
                    done < 2_000,
                    "interrupted here, as a killed process would be"
                );
            },
        )
        .await
    });

    assert!(
        task.await.is_err(),
        "the export was expected to be interrupted"
    );
    assert!(
        !out.exists(),
        "an interrupted export left {}",
        out.display()
    );
    // What is left keeps its `.partial` name and holds no signed manifest.
    let partial = portner_audit::evidence::partial_path(&out);
    if partial.exists() {
        let verdict = verify_pack(&partial, None, PackLimits::default());
        assert!(verdict.is_err() || !verdict.unwrap().is_verified());
    }
}

#[tokio::test]
async fn the_report_renders_in_headless_chromium_with_charts_and_verdict() {
    let Some(chromium) = chromium() else { return };
    let exported = exported_pack().await;
    let report = exported.folder.path().join("report.html");
    std::fs::write(&report, entry(&exported.pack, "report.html")).unwrap();
    let url = format!("file://{}", report.display());

    let dom = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            &url,
        ])
        .output()
        .unwrap();
    let screenshot = exported.folder.path().join("report.png");
    let shot = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1200,2400",
        ])
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(&url)
        .output()
        .unwrap();

    let dom = String::from_utf8_lossy(&dom.stdout);
    for chart in [
        "chart-sign-ins",
        "chart-failures",
        "chart-lockouts",
        "chart-helpdesk",
        "chart-all-events",
    ] {
        assert!(
            dom.contains(&format!("<figure id=\"{chart}\"><svg")),
            "{chart} missing from the DOM"
        );
    }
    assert!(
        dom.contains("VERIFICERET / VERIFIED: 11"),
        "verdict missing"
    );
    assert!(
        dom.contains("No events in the period"),
        "empty charts must say so"
    );
    assert!(
        dom.contains("class=\"bar\""),
        "the all-events chart has no bars"
    );
    assert!(dom.contains("id=\"control-matrix\"") && dom.contains("LG-5"));
    assert!(
        dom.contains("Værdi ved periodens start / Value at period start")
            && dom.contains("Ændringer i perioden / Changes in period"),
        "the matrix lacks its history columns"
    );
    assert!(
        dom.contains("ikke registreret før 2026-12-02 14:00:00 UTC / not recorded before"),
        "a pack without snapshots must say the values were not recorded"
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "screenshot is empty"
    );
}

/// The Chromium binary, or `None` after a visible skip line (a failure under CI).
fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium must be installed under CI"
    );
    println!("skipped: /usr/bin/chromium not installed (report rendering test)");
    None
}

#[tokio::test]
async fn checkpoints_fall_due_by_event_count_or_by_time_and_idle_chains_get_none() {
    let test = portner_tests::sqlite_store().await;
    let store = &test.store;
    let clock = fixed_clock();
    let signer = test_signer();
    let schedule = portner_audit::CheckpointSchedule {
        interval_secs: 3_600,
        every_events: 3,
    };
    let due = |clock: &FixedClock| {
        let now = clock.now();
        async move {
            portner_audit::checkpoint::checkpoint_due(store, now, schedule)
                .await
                .unwrap()
        }
    };

    assert!(!due(&clock).await, "an empty chain needs no checkpoint");
    assert!(
        write_checkpoint(store, clock.now(), &signer, None)
            .await
            .unwrap()
            .is_none()
    );
    append_events(store, &clock, 2, "signing").await;
    assert!(due(&clock).await, "the first events are due at once");

    write_checkpoint(store, clock.now(), &signer, None)
        .await
        .unwrap()
        .unwrap();
    assert!(
        write_checkpoint(store, clock.now(), &signer, None)
            .await
            .unwrap()
            .is_none()
    );
    append_events(store, &clock, 1, "signing").await;
    assert!(!due(&clock).await, "one event, no time passed");
    clock.advance(Duration::seconds(3_599));
    assert!(!due(&clock).await, "one second before the interval");
    clock.advance(Duration::seconds(1));
    assert!(due(&clock).await, "at the interval");

    write_checkpoint(store, clock.now(), &signer, None)
        .await
        .unwrap()
        .unwrap();
    append_events(store, &clock, 2, "signing").await;
    assert!(!due(&clock).await, "two of three events");
    append_events(store, &clock, 1, "signing").await;
    assert!(due(&clock).await, "three events");
}

#[test]
fn audit_retention_cannot_be_configured_below_the_nsis_minimums() {
    use portner_shared::config::{Overrides, load};
    let environment = vec![(
        "PORTNER_AUDIT_RETENTION_SAML_DAYS".to_owned(),
        "90".to_owned(),
    )];

    let error = load(None, environment, &Overrides::default()).unwrap_err();

    assert_eq!(error.key, "audit_retention_saml_days");
    assert_eq!(error.problem, "must be 180-36500");
    let (config, _) = load(None, Vec::new(), &Overrides::default()).unwrap();
    assert_eq!(config.audit.retention_lifecycle_days, 396);
    assert_eq!(config.audit.checkpoint_events, 10_000);
}

#[tokio::test]
async fn the_report_is_self_contained_and_says_when_a_chart_has_no_events() {
    let exported = exported_pack().await;

    let report = String::from_utf8(entry(&exported.pack, "report.html")).unwrap();

    for external in ["<script", "<link", "src=", "url(", "@import", "https://"] {
        assert!(
            !report.contains(external),
            "report.html loads something: {external}"
        );
    }
    assert!(report.contains("Log-ind pr. dag efter niveau / Sign-ins per day by level"));
    assert!(report.contains("Ingen hændelser i perioden / No events in the period"));
    let controls = String::from_utf8(entry(&exported.pack, "controls.csv")).unwrap();
    for requirement in [
        "IP-2,", "AU-5,", "LK-1,", "SS-2,", "HD-1,", "LG-3,", "LG-5,", "EV-14,",
    ] {
        assert!(
            controls.contains(requirement),
            "{requirement} missing from controls.csv"
        );
    }
    // No snapshot precedes this pack's period: the matrix says so instead of showing today's
    // configuration as if it had applied.
    assert!(
        controls.contains(
            "LG-3,Logging,\"Retention >= 13 months (lifecycle), >= 180 days (SAML)\",\
             Pruning only whole segments up to a signed checkpoint (AUDIT_PRUNED),\
             not recorded before 2026-12-02 14:00:00 UTC,none,\
             not recorded before 2026-12-04 14:00:00 UTC,"
        ),
        "{controls}"
    );
}

#[tokio::test]
async fn a_pack_exported_after_pruning_starts_at_the_anchor_and_verifies() {
    let test = portner_tests::sqlite_store().await;
    let store = &test.store;
    let clock = fixed_clock();
    let signer = test_signer();
    append_events(store, &clock, 5, "signing").await;
    write_checkpoint(store, clock.now(), &signer, None)
        .await
        .unwrap()
        .unwrap();
    clock.advance(Duration::days(400));
    append_events(store, &clock, 3, "encryption").await;
    let policy = RetentionPolicy::default();
    let verifier = signer.verifier().unwrap();
    prune(
        store,
        clock.now(),
        &AuditContext::system(),
        &verifier,
        policy,
        None,
    )
    .await
    .unwrap()
    .unwrap();

    let folder = tempfile::tempdir().unwrap();
    let pack = folder.path().join("after-prune.zip");
    let summary = export(
        store,
        clock.now(),
        &AuditContext::system(),
        &signer,
        &request_for(&clock, pack.clone()),
        &mut |_, _| {},
    )
    .await
    .unwrap();

    assert_eq!(
        summary.first_seq, 7,
        "the first record after the anchor's own event"
    );
    let verdict = verdict_of(&pack, &signer);
    assert!(verdict.is_verified(), "{}", verdict.text());
}

async fn a_pack_exported_from_either_backend_verifies(test: TestStore) {
    let clock = fixed_clock();
    let signer = test_signer();
    append_events(&test.store, &clock, 25, "signing").await;
    let folder = tempfile::tempdir().unwrap();
    let pack = folder.path().join("pack.zip");

    let summary = export(
        &test.store,
        clock.now(),
        &AuditContext::system(),
        &signer,
        &request_for(&clock, pack.clone()),
        &mut |_, _| {},
    )
    .await
    .unwrap();

    assert_eq!(
        (summary.first_seq, summary.last_seq, summary.checkpoint_seq),
        (1, 25, 25)
    );
    let verdict = verdict_of(&pack, &signer);
    assert!(verdict.is_verified(), "{}", verdict.text());
    let after = verify_with_checkpoints(&test.store, &signer.verifier().unwrap(), &[]).await;
    assert!(after.unwrap().is_intact());
}

#[tokio::test]
async fn the_inventory_lists_service_providers_with_their_certificates() {
    use portner_shared::domain::{ServiceProvider, SpProfile};
    let test = portner_tests::sqlite_store().await;
    let clock = fixed_clock();
    let signer = test_signer();
    let certificate = openssl::base64::encode_block(&signer.certificate().to_der().unwrap());
    let metadata = format!(
        "<md:EntityDescriptor entityID=\"https://sp.example\"><md:SPSSODescriptor>\
         <md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n{certificate}\n\
         </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
         </md:SPSSODescriptor></md:EntityDescriptor>"
    );
    let provider = ServiceProvider {
        entity_id: "https://sp.example".to_owned(),
        name: "Example SP".to_owned(),
        profile: SpProfile::Own,
        metadata_xml: metadata,
        settings_json: "{}".to_owned(),
        created_at: clock.now(),
    };
    let mut tx = test.store.begin().await.unwrap();
    tx.insert_service_provider(&provider).await.unwrap();
    tx.commit().await.unwrap();
    append_events(&test.store, &clock, 1, "signing").await;
    let folder = tempfile::tempdir().unwrap();
    let pack = folder.path().join("pack.zip");

    export(
        &test.store,
        clock.now(),
        &AuditContext::system(),
        &signer,
        &request_for(&clock, pack.clone()),
        &mut |_, _| {},
    )
    .await
    .unwrap();

    let inventory = String::from_utf8(entry(&pack, "inventory/service-providers.csv")).unwrap();
    let row = inventory.lines().nth(1).unwrap();
    assert!(
        row.starts_with("https://sp.example,Example SP,own,"),
        "{row}"
    );
    assert!(row.contains(&signer.fingerprint()), "{row}");
    assert!(row.contains(" GMT,"), "certificate expiry missing: {row}");
}

#[test]
fn an_archive_declaring_too_many_entries_is_refused_before_it_is_parsed() {
    let folder = tempfile::tempdir().unwrap();
    let crowded = folder.path().join("crowded.zip");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&crowded).unwrap());
    for index in 0..100 {
        let options = zip::write::SimpleFileOptions::default();
        writer.start_file(format!("file-{index}"), options).unwrap();
    }
    writer.finish().unwrap();

    let verdict = verify_pack(&crowded, None, PackLimits::default()).unwrap();

    assert_finding(
        &verdict,
        "(archive)",
        None,
        "declares 100 entries; at most 64 are read",
    );
}

/// Key rotation (evidence.md "Key rotation"): checkpoints signed by a retired key stay
/// verifiable through the trusted list, and a pack carries the retired certificate its
/// checkpoints need, covered by the manifest the new key signs.
async fn a_rotated_key_keeps_its_checkpoints_verifiable_and_packs_carry_its_certificate(
    test: TestStore,
) {
    let store = &test.store;
    let clock = fixed_clock();
    let old = test_signer();
    append_events(store, &clock, 4, "signing").await;
    let first = write_checkpoint(store, clock.now(), &old, None)
        .await
        .unwrap()
        .unwrap();
    // Rotated: the new key trusts the old certificate for what it signed.
    let new = test_signer().with_retired(vec![old.certificate().clone()]);
    clock.advance(Duration::minutes(5));
    append_events(store, &clock, 3, "encryption").await;
    write_checkpoint(store, clock.now(), &new, None)
        .await
        .unwrap()
        .unwrap();

    let verification = verify_with_checkpoints(store, &new.verifier().unwrap(), &[])
        .await
        .unwrap();
    assert!(verification.is_intact(), "{verification:?}");
    // Without the trusted list the old checkpoint fails: this is what rotation needs.
    let bare = AuditVerifier::new(new.certificate()).unwrap();
    let without = verify_with_checkpoints(store, &bare, &[]).await.unwrap();
    let problems: Vec<(i64, CheckpointBreak)> = without
        .checkpoint_problems
        .iter()
        .map(|found| (found.seq, found.problem))
        .collect();
    assert_eq!(problems, [(first.seq, CheckpointBreak::BadSignature)]);
    // A certificate never trusted does not help either.
    let stranger = AuditVerifier::new(new.certificate())
        .unwrap()
        .trusting_retired(&[test_signer().certificate().clone()])
        .unwrap();
    let foreign = verify_with_checkpoints(store, &stranger, &[])
        .await
        .unwrap();
    assert!(!foreign.is_intact());

    // A pack spanning both keys carries the retired certificate and verifies.
    let folder = tempfile::tempdir().unwrap();
    let pack = folder.path().join("pack.zip");
    let request = request_for(&clock, pack.clone());
    export(
        store,
        clock.now(),
        &AuditContext::system(),
        &new,
        &request,
        &mut |_, _| {},
    )
    .await
    .unwrap();
    let name = format!("certificates/{}.pem", old.fingerprint());
    assert_eq!(entry(&pack, &name), old.certificate().to_pem().unwrap());
    let verdict = verdict_of(&pack, &new);
    assert!(verdict.is_verified(), "{}", verdict.text());
    assert_eq!(verdict.retired_fingerprints, vec![old.fingerprint()]);
    assert!(
        verdict.text().contains(&format!(
            "signed by retired audit key(s) with certificate SHA-256 {}",
            old.fingerprint()
        )),
        "{}",
        verdict.text()
    );

    // Without it, the old checkpoint is reported; with another certificate in its place,
    // the swap is reported too.
    let stripped = folder.path().join("stripped.zip");
    tamper(&pack, &stripped, &name, |_| None);
    let verdict = verdict_of(&stripped, &new);
    let place = format!("checkpoint {}", first.seq);
    assert_finding(
        &verdict,
        "checkpoints.jsonl",
        Some(&place),
        "does not verify",
    );
    assert_finding(&verdict, &name, None, "removed");
    let swapped = folder.path().join("swapped.zip");
    let other = test_signer().certificate().to_pem().unwrap();
    tamper(&pack, &swapped, &name, |_| Some(other.clone()));
    let verdict = verdict_of(&swapped, &new);
    assert_finding(
        &verdict,
        &name,
        None,
        "fingerprint differs from its file name",
    );
    assert_finding(
        &verdict,
        "checkpoints.jsonl",
        Some(&place),
        "does not verify",
    );
}

/// The configuration `portner serve` would run with: defaults plus `PORTNER_*` variables.
fn config_with(variables: &[(&str, &str)]) -> portner_shared::config::Config {
    let environment = variables
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect::<Vec<_>>();
    portner_shared::config::load(
        None,
        environment,
        &portner_shared::config::Overrides::default(),
    )
    .unwrap()
    .0
}

async fn snapshot_count(store: &Store) -> i64 {
    let mut tx = store.read().await.unwrap();
    let count = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'CONFIGURATION_APPLIED'",
    )
    .fetch_one(tx.connection())
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    count
}

async fn serve_start_records_configuration_only_when_it_changed(test: TestStore) {
    use portner_audit::config_history::Applied;
    let clock = fixed_clock();

    let first = record_configuration(&test.store, clock.now(), &config_with(&[])).await;
    let Ok(Applied::Recorded(first)) = first else {
        panic!("the first start records a snapshot: {first:?}")
    };
    assert!(first.changed.contains(&"password_min_length".to_owned()));
    assert!(
        first
            .settings
            .keys()
            .all(|key| !key.contains("database") && !key.contains("cpr")),
        "secrets or their locations must not be in a snapshot: {:?}",
        first.settings.keys()
    );
    clock.advance(Duration::hours(1));
    let again = record_configuration(&test.store, clock.now(), &config_with(&[])).await;
    assert!(
        matches!(&again, Ok(Applied::Unchanged(newest)) if newest.seq == first.seq),
        "{again:?}"
    );
    assert_eq!(
        snapshot_count(&test.store).await,
        1,
        "an unchanged restart adds nothing"
    );

    clock.advance(Duration::hours(1));
    let changed = [("PORTNER_PASSWORD_MIN_LENGTH", "16")];
    let second = record_configuration(&test.store, clock.now(), &config_with(&changed)).await;
    let Ok(Applied::Recorded(second)) = second else {
        panic!("a changed setting records a snapshot: {second:?}")
    };
    assert_eq!(second.changed, ["password_min_length"]);
    assert_eq!(second.settings["password_min_length"], "16");
    assert_eq!(snapshot_count(&test.store).await, 2);
    let chain = verify(&test.store).await.unwrap();
    assert!(
        matches!(chain, ChainVerdict::Intact { count: 2 }),
        "{chain:?}"
    );
}

/// The CSV row of `requirement` in `controls.csv`.
fn matrix_row(pack: &Path, requirement: &str) -> String {
    let csv = String::from_utf8(entry(pack, "controls.csv")).unwrap();
    csv.lines()
        .find(|line| line.starts_with(&format!("{requirement},")))
        .unwrap()
        .to_owned()
}

async fn export_period(
    store: &Store,
    clock: &FixedClock,
    signer: &AuditSigner,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    out: PathBuf,
) {
    let request = ExportRequest {
        from,
        to,
        ..request_for(clock, out)
    };
    export(
        store,
        clock.now(),
        &AuditContext::system(),
        signer,
        &request,
        &mut |_, _| {},
    )
    .await
    .unwrap();
}

async fn the_matrix_shows_the_value_at_start_each_change_and_the_value_at_end(test: TestStore) {
    let clock = fixed_clock();
    let signer = test_signer();
    record_configuration(&test.store, clock.now(), &config_with(&[]))
        .await
        .unwrap();
    clock.advance(Duration::days(1));
    let period_start = clock.now();
    append_events(&test.store, &clock, 3, "signing").await;
    clock.advance(Duration::hours(5));
    let changed = [
        ("PORTNER_PASSWORD_MIN_LENGTH", "16"),
        ("PORTNER_LOCKOUT_THRESHOLD", "4"),
    ];
    record_configuration(&test.store, clock.now(), &config_with(&changed))
        .await
        .unwrap();
    let change_time = clock.now();
    clock.advance(Duration::hours(1));
    let folder = tempfile::tempdir().unwrap();
    let pack = folder.path().join("history.zip");
    let period_end = clock.now() + Duration::hours(1);

    export_period(
        &test.store,
        &clock,
        &signer,
        period_start,
        period_end,
        pack.clone(),
    )
    .await;

    let when = change_time.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let password = matrix_row(&pack, "PW-1");
    assert!(
        password.contains(&format!(
            "password_min_length = 12; password_history = 5,{when}: password_min_length = 12; \
             password_history = 5 -> password_min_length = 16; password_history = 5,\
             password_min_length = 16; password_history = 5,"
        )),
        "{password}"
    );
    let lockout = matrix_row(&pack, "LK-1");
    assert!(
        lockout.contains(&format!("{when}: lockout_threshold = 5; ")),
        "{lockout}"
    );
    let retention = matrix_row(&pack, "LG-3");
    assert!(
        retention.contains(",none,"),
        "a setting that did not change says so: {retention}"
    );

    let snapshots = String::from_utf8(entry(&pack, "policy-snapshots.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = snapshots
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{snapshots}");
    assert_eq!(lines[0]["in_force"], "at_period_start");
    assert_eq!(lines[0]["settings"]["password_min_length"], "12");
    assert_eq!(lines[1]["in_force"], "applied_in_period");
    assert_eq!(lines[1]["settings"]["password_min_length"], "16");
    assert_eq!(
        lines[1]["changed"],
        serde_json::json!(["lockout_threshold", "password_min_length"])
    );
    let report = String::from_utf8(entry(&pack, "report.html")).unwrap();
    assert!(report.contains("Politik-øjebliksbilleder / Policy snapshots"));
    assert!(report.contains(&format!(
        "<li><time>{when}</time>: password_min_length = 12"
    )));

    let verdict = verdict_of(&pack, &signer);
    assert!(verdict.is_verified(), "{}", verdict.text());
    let manifest: serde_json::Value =
        serde_json::from_slice(&entry(&pack, "manifest.json")).unwrap();
    assert!(
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|file| file["name"] == "policy-snapshots.jsonl"),
        "the signed manifest must list the snapshots"
    );
    let tampered = folder.path().join("tampered.zip");
    tamper(&pack, &tampered, "policy-snapshots.jsonl", |bytes| {
        let text = String::from_utf8(bytes).unwrap();
        Some(text.replace("\"16\"", "\"15\"").into_bytes())
    });
    assert_finding(
        &verdict_of(&tampered, &signer),
        "policy-snapshots.jsonl",
        None,
        "SHA-256",
    );
    // Even under a validly signed manifest, snapshots that disagree with the chain are found.
    let forged = folder.path().join("forged.zip");
    rewrite_signed(&pack, &forged, &signer, |name, bytes| {
        if name != "policy-snapshots.jsonl" {
            return Some(bytes);
        }
        let text = String::from_utf8(bytes).unwrap();
        let kept: Vec<&str> = text.lines().take(1).collect();
        Some(
            format!("{}\n", kept.join("\n"))
                .replace("\"12\"", "\"15\"")
                .into_bytes(),
        )
    });
    let verdict = verdict_of(&forged, &signer);
    assert_finding(
        &verdict,
        "policy-snapshots.jsonl",
        Some("seq"),
        "is missing from this file",
    );
    assert!(
        verdict
            .findings
            .iter()
            .all(|found| found.file == "policy-snapshots.jsonl"),
        "{}",
        verdict.text()
    );
    rewrite_signed(&pack, &forged, &signer, |name, bytes| {
        let text = String::from_utf8(bytes).unwrap();
        Some(if name == "policy-snapshots.jsonl" {
            text.replace("\"16\"", "\"17\"").into_bytes()
        } else {
            text.into_bytes()
        })
    });
    assert_finding(
        &verdict_of(&forged, &signer),
        "policy-snapshots.jsonl",
        Some("line 2"),
        "does not match the CONFIGURATION_APPLIED event",
    );
}

async fn a_period_before_any_snapshot_says_not_recorded(test: TestStore) {
    let clock = fixed_clock();
    let signer = test_signer();
    append_events(&test.store, &clock, 2, "signing").await;
    clock.advance(Duration::days(2));
    record_configuration(&test.store, clock.now(), &config_with(&[]))
        .await
        .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let pack = folder.path().join("before.zip");
    let from = fixed_clock().now() - Duration::hours(12);
    let to = from + Duration::days(1);

    export_period(&test.store, &clock, &signer, from, to, pack.clone()).await;

    let password = matrix_row(&pack, "PW-1");
    assert!(
        password.contains("not recorded before 2026-12-03,none,not recorded before 2026-12-04"),
        "{password}"
    );
    assert!(entry(&pack, "policy-snapshots.jsonl").is_empty());
    let verdict = verdict_of(&pack, &signer);
    assert!(verdict.is_verified(), "{}", verdict.text());
}

/// Rewrites the pack with `change` applied to each entry (`None` removes it), then updates
/// the manifest's entries to match and signs it again with `signer`: a pack whose files agree
/// with a validly signed manifest, as a forger holding the key (or an older Portner) makes it.
fn rewrite_signed(
    pack: &Path,
    out: &Path,
    signer: &AuditSigner,
    change: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(pack).unwrap()).unwrap();
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).unwrap();
        let name = file.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        if let Some(bytes) = change(&name, bytes) {
            files.push((name, bytes));
        }
    }
    let mut manifest: serde_json::Value = serde_json::from_slice(
        &files
            .iter()
            .find(|(name, _)| name == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    let entries = manifest["files"].as_array_mut().unwrap();
    entries.retain(|entry| files.iter().any(|(name, _)| entry["name"] == name.as_str()));
    for entry in entries.iter_mut() {
        let bytes = &files
            .iter()
            .find(|(name, _)| entry["name"] == name.as_str())
            .unwrap()
            .1;
        entry["size"] = serde_json::json!(bytes.len());
        entry["sha256"] = serde_json::json!(hex::encode(openssl::sha::sha256(bytes)));
    }
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap();
    let signature = hex::encode(signer.sign(&manifest_bytes).unwrap());
    let mut writer = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    for (name, bytes) in files {
        let bytes = match name.as_str() {
            "manifest.json" => manifest_bytes.clone(),
            "manifest.sig" => signature.clone().into_bytes(),
            _ => bytes,
        };
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&bytes).unwrap();
    }
    writer.finish().unwrap();
}

/// A pack in the layout made before configuration history (no `policy-snapshots.jsonl`) still
/// verifies: the file is not required, only listed files are checked.
#[tokio::test]
async fn a_pack_without_policy_snapshots_from_before_the_change_still_verifies() {
    let exported = exported_pack().await;
    let old = exported.folder.path().join("old-layout.zip");
    rewrite_signed(&exported.pack, &old, &exported.signer, |name, bytes| {
        (name != "policy-snapshots.jsonl").then_some(bytes)
    });

    let verdict = verdict_of(&old, &exported.signer);
    assert!(verdict.is_verified(), "{}", verdict.text());
    let manifest: serde_json::Value =
        serde_json::from_slice(&entry(&old, "manifest.json")).unwrap();
    assert!(!manifest.to_string().contains("policy-snapshots"));
}

/// Pruning removes the snapshot in force at the cut with its segment; a copy carried past the
/// anchor keeps its values, so a later period still shows them at its start, a restart with
/// the same settings records nothing new, and the chain and the pack verify.
async fn a_pruned_snapshot_is_carried_forward_and_stays_in_force(test: TestStore) {
    use portner_audit::config_history::Applied;
    let store = &test.store;
    let clock = fixed_clock();
    let signer = test_signer();
    let verifier = signer.verifier().unwrap();
    let applied_at = clock.now();
    record_configuration(store, clock.now(), &config_with(&[]))
        .await
        .unwrap();
    append_events(store, &clock, 2, "signing").await;
    write_checkpoint(store, clock.now(), &signer, None)
        .await
        .unwrap()
        .unwrap();
    clock.advance(Duration::days(400));
    append_events(store, &clock, 2, "signing").await;
    write_checkpoint(store, clock.now(), &signer, None)
        .await
        .unwrap()
        .unwrap();

    let policy = RetentionPolicy::default();
    let context = AuditContext::system();
    let outcome = prune(store, clock.now(), &context, &verifier, policy, None)
        .await
        .unwrap();
    assert!(outcome.is_some(), "the first segment is past retention");
    assert_eq!(
        snapshot_count(store).await,
        0,
        "the applied record went with its segment"
    );
    let after = verify_with_checkpoints(store, &verifier, &[])
        .await
        .unwrap();
    assert!(after.is_intact(), "{after:?}");

    // A restart with the same settings finds them in force: nothing new is recorded.
    let again = record_configuration(store, clock.now(), &config_with(&[])).await;
    assert!(
        matches!(&again, Ok(Applied::Unchanged(kept)) if kept.carried_by.is_some()),
        "{again:?}"
    );
    clock.advance(Duration::hours(1));
    let folder = tempfile::tempdir().unwrap();
    let pack = folder.path().join("after-prune.zip");
    let from = clock.now() - Duration::days(1);
    export_period(store, &clock, &signer, from, clock.now(), pack.clone()).await;

    let password = matrix_row(&pack, "PW-1");
    assert!(
        password.contains("password_min_length = 12; password_history = 5,none,"),
        "{password}"
    );
    let snapshots = String::from_utf8(entry(&pack, "policy-snapshots.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(snapshots.trim_end()).unwrap();
    assert_eq!(line["in_force"], "at_period_start");
    assert_eq!(line["occurred_at"], applied_at.timestamp_millis(), "{line}");
    assert!(line["carried_forward_by"].is_i64(), "{line}");
    let verdict = verdict_of(&pack, &signer);
    assert!(verdict.is_verified(), "{}", verdict.text());
}

/// The start-up record of `config` with its file's sign-in policy (no overrides).
async fn record_configuration(
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
    config: &portner_shared::config::Config,
) -> Result<portner_audit::config_history::Applied, portner_audit::AuditError> {
    portner_idp::policy::record_configuration(store, now, config, &config.signin).await
}
