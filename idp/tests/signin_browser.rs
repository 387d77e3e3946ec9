//! Real-browser end-to-end test of activation and sign-in (issue 3, "Tests that must exist").
//!
//! Runs the real `portner` binary: creates an organisation and a user, issues an activation
//! code at Substantial, starts the server, and hands over to `tests/e2e/signin/signin.mjs`,
//! which drives Debian's Chromium with a CDP virtual authenticator through activation, sign
//! out, and sign-in with password and key. Without Node modules or Chromium the test prints a
//! visible skip line, except under CI (`CI` set), where it fails.

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;

use support::{PASSWORD, USERNAME};

#[test]
fn a_user_activates_signs_out_and_signs_in_with_password_and_key_in_chromium() {
    if let Some(reason) = support::missing_browser_tool() {
        support::skip_unless_ci("real-browser sign-in test", &reason);
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let port = support::free_port();
    let code = support::pending_user(&data, port, "Anna Testesen");

    let server = support::start_server(&data, port);
    let mut browser = Command::new("node");
    browser
        .current_dir(support::e2e_folder())
        .arg("signin.mjs")
        .arg(format!("http://localhost:{port}"))
        .args([USERNAME, &code, PASSWORD])
        .env("CHROMIUM_PATH", support::chromium_path());
    let output = browser.output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "browser run failed: {report}");
    assert!(report.contains(r#""result":"passed""#), "{report}");
    drop(server);

    let mut verify = support::portner(&data, port);
    verify.args(["audit", "verify"]);
    support::run_ok(verify);
}
