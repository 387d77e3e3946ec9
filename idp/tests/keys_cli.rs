//! `portner keys status|rotate` through the real binary: a signing-key rollover is started,
//! published, refused when repeated, promoted, and recorded in the audit trail (MD-3, EV-10).

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;

use std::path::Path;

use cli::{portner, succeeds, text};

/// The fingerprint printed after `label` on a line of `status`.
fn fingerprint_after<'a>(status: &'a str, label: &str) -> &'a str {
    let line = status.lines().find(|line| line.starts_with(label)).unwrap();
    line.rsplit(' ').next().unwrap()
}

fn audit_kinds(data: &Path) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}?mode=ro", data.join("portner.db").display());
        let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        let rows = sqlx::query("SELECT kind, data FROM audit_events ORDER BY seq")
            .fetch_all(&mut connection)
            .await
            .unwrap();
        rows.iter()
            .map(|row| {
                let kind: String = sqlx::Row::get(row, "kind");
                let data: String = sqlx::Row::get(row, "data");
                format!("{kind} {data}")
            })
            .collect()
    })
}

#[test]
fn a_signing_key_rollover_is_started_published_promoted_and_audited() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let status = succeeds(&data, &["keys", "status"]);
    let original = fingerprint_after(&status, "signing (current):").to_owned();
    assert!(status.contains("signing (next): none"), "{status}");

    let early = portner(&data, &["keys", "rotate", "--promote"]);
    assert_eq!(early.status.code(), Some(1), "{}", text(&early));
    assert!(text(&early).contains("run `portner keys rotate` first"));

    succeeds(&data, &["keys", "rotate"]);
    let status = succeeds(&data, &["keys", "status"]);
    let next = fingerprint_after(&status, "signing (next, published, not signing):").to_owned();
    assert_eq!(fingerprint_after(&status, "signing (current):"), original);
    assert_ne!(next, original);
    let again = portner(&data, &["keys", "rotate"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));

    let promoted = succeeds(&data, &["keys", "rotate", "--promote"]);
    assert!(promoted.contains(&next), "{promoted}");
    let status = succeeds(&data, &["keys", "status"]);
    assert_eq!(fingerprint_after(&status, "signing (current):"), next);
    assert!(status.contains("signing (next): none"), "{status}");
    let retired = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("signing-retired-")
        })
        .count();
    assert_eq!(retired, 2, "the retired .key and .crt are kept");

    let kinds = audit_kinds(&data);
    let started = kinds
        .iter()
        .find(|line| line.starts_with("KEY_ROLLOVER_STARTED "))
        .unwrap();
    assert!(started.contains(&next), "{started}");
    let completed = kinds
        .iter()
        .find(|line| line.starts_with("KEY_ROLLOVER_COMPLETED "))
        .unwrap();
    assert!(
        completed.contains(&next) && completed.contains(&original),
        "{completed}"
    );
    let verified = succeeds(&data, &["audit", "verify"]);
    assert!(verified.contains("audit chain OK"), "{verified}");
}
