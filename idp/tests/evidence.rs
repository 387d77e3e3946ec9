//! The `portner audit` evidence commands, run as the real binary on a fresh data folder.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::process::{Command, Output};

fn portner(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portner"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("PORTNER_DATABASE_URL")
        .env(
            "PORTNER_AUDIT_CHECKPOINT_FILE",
            data_dir.join("checkpoints.jsonl"),
        )
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn export_then_verify_pack_without_a_database_and_refusals_have_clear_messages() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let org = [
        "org",
        "add",
        "--cvr",
        "91234567",
        "--name",
        "Test A/S",
        "--suffix",
        "t.example",
    ];
    assert!(portner(&data, &org).status.success());

    let checkpoint = portner(&data, &["audit", "checkpoint"]);
    assert!(
        text(&checkpoint).contains("checkpoint written at record"),
        "{}",
        text(&checkpoint)
    );
    let verified = portner(&data, &["audit", "verify"]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains("checkpoints checked: 2, failed: 0"),
        "{}",
        text(&verified)
    );

    let pack = folder.path().join("pack.zip");
    let pack_arg = pack.to_str().unwrap();
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Duration::days(1)).to_string();
    let to = (today + chrono::Duration::days(1)).to_string();
    let export = portner(
        &data,
        &[
            "audit", "export", "--from", &from, "--to", &to, "--out", pack_arg, "--quiet",
        ],
    );
    assert!(export.status.success(), "{}", text(&export));

    let sink = std::fs::read_to_string(data.join("checkpoints.jsonl")).unwrap();
    assert_eq!(
        sink.lines().count(),
        2,
        "the export's own checkpoint reached the file"
    );
    let after_export = portner(&data, &["audit", "verify"]);
    assert!(after_export.status.success(), "{}", text(&after_export));

    // verify-pack runs without the data folder: point it at one that does not exist.
    let fingerprint = String::from_utf8(portner(&data, &["audit", "key"]).stdout).unwrap();
    let nowhere = folder.path().join("no-such-folder");
    let verdict = portner(
        &nowhere,
        &[
            "audit",
            "verify-pack",
            pack_arg,
            "--expect-fingerprint",
            fingerprint.trim(),
        ],
    );
    assert!(verdict.status.success(), "{}", text(&verdict));
    assert!(
        text(&verdict).starts_with("Evidence pack VERIFIED"),
        "{}",
        text(&verdict)
    );
    assert!(!nowhere.exists(), "verify-pack created a data folder");

    let again = portner(
        &data,
        &[
            "audit", "export", "--from", &from, "--to", &to, "--out", pack_arg,
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("exists; choose another --out"));

    let old = portner(
        &data,
        &[
            "audit",
            "export",
            "--from",
            "2020-01-01",
            "--to",
            "2020-02-01",
            "--out",
            "x.zip",
        ],
    );
    assert_eq!(old.status.code(), Some(1));
    assert!(
        text(&old).contains("retention period (396 days"),
        "{}",
        text(&old)
    );
    assert!(text(&old).contains("AUD0010"));

    let bad_date = portner(
        &data,
        &[
            "audit",
            "export",
            "--from",
            "yesterday",
            "--to",
            &to,
            "--out",
            "x.zip",
        ],
    );
    assert_eq!(bad_date.status.code(), Some(2), "{}", text(&bad_date));

    let between = portner(&data, &["audit", "prune", "--through", "1"]);
    assert_eq!(between.status.code(), Some(1));
    assert!(
        text(&between).contains("pruning cuts only at checkpoints [AUD0008]"),
        "{}",
        text(&between)
    );
}

#[test]
fn verify_reports_a_checkpoint_that_is_in_the_external_file_but_not_in_the_database() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    assert!(portner(&data, &["audit", "checkpoint"]).status.success());
    let sink = data.join("checkpoints.jsonl");
    let line = std::fs::read_to_string(&sink).unwrap();
    let mut checkpoint: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    checkpoint["seq"] = serde_json::json!(99);
    std::fs::write(&sink, format!("{line}{checkpoint}\n")).unwrap();

    let verified = portner(&data, &["audit", "verify"]);

    assert_eq!(verified.status.code(), Some(1));
    assert!(
        text(&verified).contains(
            "checkpoint 99 FAILED: in the external checkpoint file but not in the database"
        ),
        "{}",
        text(&verified)
    );
}

#[test]
fn serve_writes_a_checkpoint_in_the_background() {
    use std::io::{BufRead, BufReader};

    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let mut server = Command::new(env!("CARGO_BIN_EXE_portner"))
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("PORTNER_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Keep the pipe open while the server runs: `serve` prints a second line after the first,
    // and a closed pipe would fail that write.
    let mut output = BufReader::new(server.stdout.take().unwrap());
    let mut first_line = String::new();
    output.read_line(&mut first_line).unwrap();
    assert!(first_line.contains("listening"), "{first_line}");

    // The task's first look is immediate; the keys generated on first start are due at once.
    let mut report = String::new();
    for _ in 0..50 {
        report = text(&portner(&data, &["audit", "verify"]));
        if report.contains("checkpoints checked: 1,") || report.contains("checkpoints checked: 2,")
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    drop(output);

    assert!(
        report.contains("checkpoints checked: 1, failed: 0"),
        "{report}"
    );
}

#[test]
fn a_checkpoint_is_also_sent_to_the_configured_syslog_socket() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let socket = folder.path().join("log.sock");
    let receiver = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    receiver
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_portner"))
        .arg("--data-dir")
        .arg(&data)
        .args(["audit", "checkpoint"])
        .env_remove("PORTNER_DATABASE_URL")
        .env("PORTNER_AUDIT_CHECKPOINT_SYSLOG", &socket)
        .output()
        .unwrap();

    assert!(output.status.success(), "{}", text(&output));
    let mut buffer = vec![0; 8192];
    let length = receiver.recv(&mut buffer).unwrap();
    let message = String::from_utf8_lossy(&buffer[..length]);
    assert!(message.starts_with("<110>1 "), "{message}");
    assert!(
        message.contains(" portner - AUDIT_CHECKPOINT - {\"seq\":4,"),
        "{message}"
    );
}

#[test]
fn a_rotated_audit_key_keeps_the_trail_and_older_packs_verifiable() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let org = [
        "org",
        "add",
        "--cvr",
        "91234567",
        "--name",
        "Test A/S",
        "--suffix",
        "t.example",
    ];
    assert!(portner(&data, &org).status.success());
    let checkpoint = portner(&data, &["audit", "checkpoint"]);
    assert!(checkpoint.status.success(), "{}", text(&checkpoint));
    let old = String::from_utf8(portner(&data, &["audit", "key"]).stdout).unwrap();
    let old = old.trim().to_owned();

    let rotated = portner(&data, &["audit", "key", "rotate"]);
    assert!(rotated.status.success(), "{}", text(&rotated));
    let new = String::from_utf8(portner(&data, &["audit", "key"]).stdout).unwrap();
    let new = new.trim().to_owned();
    assert_ne!(old, new);
    assert!(text(&rotated).contains(&format!("new audit certificate SHA-256: {new}")));
    assert!(
        text(&rotated).contains("with the new key"),
        "{}",
        text(&rotated)
    );
    let kept = data.join("audit-retired").join(format!("{old}.crt"));
    assert!(kept.exists(), "the old certificate is kept");

    // Checkpoints of both keys verify, the file sink's included.
    let verified = portner(&data, &["audit", "verify"]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains(", failed: 0"),
        "{}",
        text(&verified)
    );

    // A pack spanning the rotation verifies offline against the new fingerprint.
    let pack = folder.path().join("pack.zip");
    let pack_arg = pack.to_str().unwrap();
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Duration::days(1)).to_string();
    let to = (today + chrono::Duration::days(1)).to_string();
    let export = [
        "audit", "export", "--from", &from, "--to", &to, "--out", pack_arg, "--quiet",
    ];
    let exported = portner(&data, &export);
    assert!(exported.status.success(), "{}", text(&exported));
    let nowhere = folder.path().join("no-such-folder");
    let verify = [
        "audit",
        "verify-pack",
        pack_arg,
        "--expect-fingerprint",
        new.as_str(),
    ];
    let verdict = portner(&nowhere, &verify);
    assert!(verdict.status.success(), "{}", text(&verdict));
    assert!(
        text(&verdict).contains(&format!(
            "retired audit key(s) with certificate SHA-256 {old}"
        )),
        "{}",
        text(&verdict)
    );

    // Without the retired certificate the old checkpoints no longer verify: the list is
    // what keeps them.
    std::fs::remove_file(&kept).unwrap();
    let broken = portner(&data, &["audit", "verify"]);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    assert!(
        text(&broken).contains("signature does not verify"),
        "{}",
        text(&broken)
    );
}

/// Starts `portner serve` on `data` with extra environment, reads its output up to the line
/// about the configuration, stops it, and returns that line.
fn serve_configuration_line(data: &Path, environment: &[(&str, &str)]) -> String {
    use std::io::{BufRead, BufReader};

    let mut command = Command::new(env!("CARGO_BIN_EXE_portner"));
    command
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("PORTNER_DATABASE_URL")
        .env("PORTNER_LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::piped());
    for (name, value) in environment {
        command.env(name, value);
    }
    let mut server = command.spawn().unwrap();
    let mut output = BufReader::new(server.stdout.take().unwrap());
    let mut found = String::new();
    for _ in 0..4 {
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        if line.starts_with("Configuration") {
            found = line.trim().to_owned();
            break;
        }
    }
    server.kill().unwrap();
    server.wait().unwrap();
    found
}

#[test]
fn serve_records_the_configuration_once_and_again_when_a_setting_changes() {
    use std::io::Read;

    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");

    let first = serve_configuration_line(&data, &[]);
    assert!(
        first.starts_with("Configuration recorded in the audit trail: record"),
        "{first}"
    );
    let again = serve_configuration_line(&data, &[]);
    assert!(
        again.starts_with("Configuration unchanged since audit record"),
        "{again}"
    );
    let changed = serve_configuration_line(&data, &[("PORTNER_LOCKOUT_MINUTES", "15")]);
    assert!(changed.ends_with(", 1 setting(s) changed"), "{changed}");

    let pack = folder.path().join("pack.zip");
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Duration::days(1)).to_string();
    let to = (today + chrono::Duration::days(1)).to_string();
    let args = [
        "audit",
        "export",
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        pack.to_str().unwrap(),
        "--quiet",
    ];
    let export = portner(&data, &args);
    assert!(export.status.success(), "{}", text(&export));
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&pack).unwrap()).unwrap();
    let mut snapshots = String::new();
    archive
        .by_name("policy-snapshots.jsonl")
        .unwrap()
        .read_to_string(&mut snapshots)
        .unwrap();
    assert_eq!(snapshots.lines().count(), 2, "{snapshots}");
    let mut controls = String::new();
    archive
        .by_name("controls.csv")
        .unwrap()
        .read_to_string(&mut controls)
        .unwrap();
    let lockout = controls
        .lines()
        .find(|line| line.starts_with("LK-1,"))
        .unwrap();
    assert!(
        lockout.contains("lockout_minutes = 5 -> lockout_threshold = 5; lockout_minutes = 15"),
        "{lockout}"
    );
    let verdict = portner(&data, &["audit", "verify-pack", pack.to_str().unwrap()]);
    assert!(verdict.status.success(), "{}", text(&verdict));
}
