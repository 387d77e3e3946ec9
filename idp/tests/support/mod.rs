//! What the real-binary browser tests share: the `portner` command against a temporary data
//! folder, a server on a free port that stops with the test, a pending user with an
//! activation code at Substantial, and the check for Node, its modules and Chromium.
//!
//! Each test binary that says `mod support;` gets its own copy, so everything here is used by
//! every such binary (`signin_browser`, `saml_e2e`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The test user's password, long enough for the NSIS policy.
pub const PASSWORD: &str = "violet tram lantern 1987";
/// The test organisation; test CVRs start with 9.
pub const CVR: &str = "91234567";
/// The test organisation's name.
pub const ORG_NAME: &str = "Testfirma ApS";
/// The test user.
pub const USERNAME: &str = "anna";

/// `tests/e2e/signin`, where the browser scripts and their `node_modules` live.
pub fn e2e_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/signin")
}

/// Debian's Chromium, or `CHROMIUM_PATH`.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Why a browser test cannot run here, if it cannot.
pub fn missing_browser_tool() -> Option<String> {
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

/// Prints the visible skip line, or fails under CI, where every tool must be there.
pub fn skip_unless_ci(test: &str, reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} cannot run under CI: {reason}"
    );
    println!("skipped: {test} ({reason})");
}

/// The `portner` binary on `data`, with its public URL on `localhost:port` (WebAuthn refuses
/// IP-literal origins, security-tests.md 7.3).
pub fn portner(data: &Path, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portner"));
    command
        .arg("--data-dir")
        .arg(data)
        .env("PORTNER_PUBLIC_URL", format!("http://localhost:{port}"))
        .env("PORTNER_LOG_LEVEL", "warn");
    command
}

/// Runs `command`, fails the test unless it succeeds, and returns its standard output.
pub fn run_ok(mut command: Command) -> String {
    let output = command.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A child process that is stopped when the test ends, passed or not.
pub struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `command` and waits until it prints a line starting with `ready`.
pub fn start(mut command: Command, ready: &str) -> Running {
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let started = lines.any(|line| line.unwrap().starts_with(ready));
    assert!(started, "{command:?} did not start");
    // Keep reading, so the child never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    running
}

/// `portner serve` on `127.0.0.1:port`.
pub fn start_server(data: &Path, port: u16) -> Running {
    let mut command = portner(data, port);
    command.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    start(command, "Portner is listening on")
}

/// Creates the organisation and a pending user named `display_name`, and returns the user's
/// activation code, issued after an in-person check at Substantial.
pub fn pending_user(data: &Path, port: u16, display_name: &str) -> String {
    let mut org = portner(data, port);
    org.args(["org", "add", "--cvr", CVR, "--name", ORG_NAME]);
    org.args(["--suffix", "testfirma.dk"]);
    run_ok(org);
    let mut user = portner(data, port);
    user.args(["user", "add", "--org", CVR, "--username", USERNAME]);
    user.args(["--name", display_name, "--email", "anna@testfirma.dk"]);
    run_ok(user);
    let mut code = portner(data, port);
    code.args(["user", "activation-code", USERNAME]);
    code.args([
        "--verified-by",
        "in_person",
        "--reference",
        "passport checked",
    ]);
    code.args(["--level", "substantial"]);
    let printed = run_ok(code);
    printed
        .lines()
        .find_map(|line| line.strip_prefix(&format!("activation code for {USERNAME}: ")))
        .unwrap()
        .to_owned()
}
