//! Real-browser end-to-end test of activation and sign-in (issue 3, "Tests that must exist").
//!
//! Runs the real `portner` binary: creates an organisation and a user, issues an activation
//! code at Substantial, starts the server, and hands over to `tests/e2e/signin/signin.mjs`,
//! which drives Debian's Chromium with a CDP virtual authenticator through activation, sign
//! out, and sign-in with password and key. Without Node modules or Chromium the test prints a
//! visible skip line, except under CI (`CI` set), where it fails.

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const PASSWORD: &str = "violet tram lantern 1987";

fn e2e_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/signin")
}

fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Why the test cannot run here, if it cannot.
fn missing_tool() -> Option<String> {
    if !e2e_folder().join("node_modules/playwright-core").is_dir() {
        return Some("no node_modules (run `npm ci` in tests/e2e/signin)".to_owned());
    }
    if !chromium_path().exists() {
        return Some(format!("no Chromium at {}", chromium_path().display()));
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|output| output.status.success()) {
        return Some("no node on PATH".to_owned());
    }
    None
}

fn portner(data: &Path, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portner"));
    command
        .arg("--data-dir")
        .arg(data)
        .env("PORTNER_PUBLIC_URL", format!("http://localhost:{port}"))
        .env("PORTNER_LOG_LEVEL", "warn");
    command
}

fn run_ok(mut command: Command) -> String {
    let output = command.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Stops the server when the test ends, passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(data: &Path, port: u16) -> Server {
    let mut command = portner(data, port);
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.any(|line| line.unwrap().starts_with("Portner is listening on"));
    assert!(ready, "the server did not start");
    // Keep reading, so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Server(child)
}

#[test]
fn a_user_activates_signs_out_and_signs_in_with_password_and_key_in_chromium() {
    if let Some(reason) = missing_tool() {
        assert!(
            std::env::var_os("CI").is_none(),
            "browser test cannot run under CI: {reason}"
        );
        println!("skipped: real-browser sign-in test ({reason})");
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let port = free_port();

    let mut org = portner(&data, port);
    org.args(["org", "add", "--cvr", "91234567", "--name", "Testfirma ApS"]);
    org.args(["--suffix", "testfirma.dk"]);
    run_ok(org);
    let mut user = portner(&data, port);
    user.args(["user", "add", "--org", "91234567", "--username", "anna"]);
    user.args(["--name", "Anna Testesen", "--email", "anna@testfirma.dk"]);
    run_ok(user);
    let mut code = portner(&data, port);
    code.args([
        "user",
        "activation-code",
        "anna",
        "--verified-by",
        "in_person",
    ]);
    code.args(["--reference", "passport checked", "--level", "substantial"]);
    let printed = run_ok(code);
    let code = printed
        .lines()
        .find_map(|line| line.strip_prefix("activation code for anna: "))
        .unwrap()
        .to_owned();

    let server = start_server(&data, port);
    let mut browser = Command::new("node");
    browser
        .current_dir(e2e_folder())
        .arg("signin.mjs")
        .arg(format!("http://localhost:{port}"))
        .args(["anna", &code, PASSWORD])
        .env("CHROMIUM_PATH", chromium_path());
    let output = browser.output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "browser run failed: {report}");
    assert!(report.contains(r#""result":"passed""#), "{report}");
    drop(server);

    let mut verify = portner(&data, port);
    verify.args(["audit", "verify"]);
    run_ok(verify);
}
