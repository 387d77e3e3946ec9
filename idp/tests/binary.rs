//! Tests that run the real `portner` binary, as an operator or a service manager would: exit
//! statuses and one-line errors, the CLI on a fresh data folder, tamper detection through
//! `audit verify`, and `serve` starting, restarting on the same folder and stopping on SIGTERM.

// Helpers outside `#[test]` functions are test code too: a failed step fails the test.
#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PORTNER: &str = env!("CARGO_BIN_EXE_portner");

/// Runs `portner ARGS` in `folder` with a clean `PORTNER_*` environment.
fn portner(folder: &Path, args: &[&str]) -> Output {
    command(folder, args).output().unwrap()
}

fn command(folder: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(PORTNER);
    command.args(args).current_dir(folder);
    for (name, _) in std::env::vars() {
        if name.starts_with("PORTNER_") {
            command.env_remove(name);
        }
    }
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Registers the test organisation 91234567.
fn add_test_organisation(folder: &Path) -> Output {
    let args = ["org", "add", "--cvr", "91234567", "--name", "Testkommune"];
    portner(
        folder,
        &[&args[..], &["--suffix", "test.example.dk"]].concat(),
    )
}

/// Asserts exit status 2 with exactly one line on standard error that mentions `key`.
fn assert_configuration_error(output: &Output, key: &str) {
    let message = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {message}");
    assert_eq!(message.lines().count(), 1, "not one line: {message}");
    assert!(message.contains(key), "{key} not named: {message}");
    assert!(
        !message.contains("panicked") && !message.contains("backtrace"),
        "{message}"
    );
}

#[test]
fn unknown_configuration_key_exits_2_with_one_line() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("portner.toml"),
        "listen = \"127.0.0.1:0\"\nlisten_port = 1\n",
    )
    .unwrap();

    let output = portner(
        folder.path(),
        &["--config", "portner.toml", "config", "check"],
    );

    assert_configuration_error(&output, "listen_port");
}

#[test]
fn wrong_configuration_type_exits_2_with_one_line() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("portner.toml"),
        "database_max_connections = \"ten\"\n",
    )
    .unwrap();

    let from_file = portner(folder.path(), &["--config", "portner.toml", "migrate"]);
    let from_environment = command(folder.path(), &["migrate"])
        .env("PORTNER_DATABASE_MAX_CONNECTIONS", "ten")
        .output()
        .unwrap();

    assert_configuration_error(&from_file, "database_max_connections");
    assert_configuration_error(&from_environment, "PORTNER_DATABASE_MAX_CONNECTIONS");
}

#[test]
fn missing_secret_file_exits_2_with_one_line() {
    let folder = tempfile::tempdir().unwrap();

    let output = command(folder.path(), &["serve"])
        .env("PORTNER_CPR_KEY_FILE", folder.path().join("no-such-key"))
        .output()
        .unwrap();

    assert_configuration_error(&output, "cpr_key_file");
    assert!(
        !folder.path().join("portner-data").exists(),
        "a bad configuration touched disk"
    );
}

#[test]
fn config_check_prints_effective_values_without_secrets() {
    let folder = tempfile::tempdir().unwrap();

    let output = command(folder.path(), &["config", "check"])
        .env(
            "PORTNER_DATABASE_URL",
            "postgres://portner:s3cret-password@db.invalid/portner",
        )
        .env("PORTNER_CPR_KEY", "ab".repeat(32))
        .output()
        .unwrap();

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("configuration is valid"));
    assert!(!stdout(&output).contains("s3cret") && !stdout(&output).contains(&"ab".repeat(32)));
}

#[test]
fn cli_manages_organisations_and_users_on_a_fresh_folder() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();

    let org = add_test_organisation(dir);
    let add = |username: &str| {
        let email = format!("{username}@test.example.dk");
        portner(
            dir,
            &[
                "user",
                "add",
                "--org",
                "91234567",
                "--username",
                username,
                "--name",
                "Test Bruger",
                "--email",
                &email,
                "--cpr",
                "010190-1234",
            ],
        )
    };
    let alice = add("alice");
    let duplicate = add("Alice");
    let bad_cvr = portner(
        dir,
        &[
            "user",
            "add",
            "--org",
            "0123",
            "--username",
            "bob",
            "--name",
            "Bob",
            "--email",
            "bob@test.example.dk",
        ],
    );
    let unknown_org = portner(
        dir,
        &[
            "user",
            "add",
            "--org",
            "95555555",
            "--username",
            "bob",
            "--name",
            "Bob",
            "--email",
            "bob@test.example.dk",
        ],
    );
    let disable = portner(dir, &["user", "disable", "alice"]);
    let listed = portner(dir, &["user", "list", "--json"]);
    let shown = portner(dir, &["user", "show", "alice"]);
    let verified = portner(dir, &["audit", "verify"]);

    for output in [&org, &alice, &disable, &listed, &shown, &verified] {
        assert!(output.status.success(), "{}", stderr(output));
    }
    assert_eq!(duplicate.status.code(), Some(1), "{}", stderr(&duplicate));
    assert!(stderr(&duplicate).contains("already exists"));
    assert_eq!(bad_cvr.status.code(), Some(2));
    assert!(stderr(&bad_cvr).contains("cvr"));
    assert_eq!(unknown_org.status.code(), Some(1));
    let users: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(users[0]["username"], "alice");
    assert_eq!(users[0]["status"], "disabled");
    assert_eq!(users[0]["has_cpr"], true);
    assert!(!stdout(&listed).contains("0101901234") && !stdout(&shown).contains("0101901234"));
    // Four generated keys, the organisation, the user and the status change.
    assert!(
        stdout(&verified).contains("audit chain OK: 7 records"),
        "{}",
        stdout(&verified)
    );
}

#[tokio::test]
async fn audit_verify_exits_1_and_names_the_record_after_tampering() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    add_test_organisation(dir);
    portner(
        dir,
        &[
            "org",
            "add",
            "--cvr",
            "98765432",
            "--name",
            "Anden kommune",
            "--suffix",
            "anden.example.dk",
        ],
    );

    let url = format!("sqlite://{}", dir.join("portner-data/portner.db").display());
    let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::raw_sql(
        "DROP TRIGGER audit_events_no_update; \
         UPDATE audit_events SET data = replace(data, 'Anden', 'Falsk') WHERE seq = 6;",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    drop(connection);
    let output = portner(dir, &["audit", "verify"]);

    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("BROKEN at record 6"),
        "{}",
        stdout(&output)
    );
}

/// A running `portner serve` and the base URL it printed.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(folder: &Path) -> Self {
        let mut child = command(folder, &["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        let base = first
            .rsplit(' ')
            .next()
            .unwrap()
            .trim_start_matches("http://")
            .to_owned();
        // Keep draining output so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, base }
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if get(&self.base, "/readyz")
                .is_some_and(|response| response.starts_with("HTTP/1.1 200"))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server at {} never became ready", self.base);
    }

    /// Sends SIGTERM and returns the exit code.
    fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        self.child.wait().unwrap().code()
    }
}

/// A minimal HTTP/1.1 GET, enough for the probes; `None` if the server is not reachable.
fn get(address: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// The contents of the generated key files.
fn key_files(data: &Path) -> Vec<Vec<u8>> {
    ["signing.key", "encryption.key", "cpr.key"]
        .iter()
        .map(|name| std::fs::read(data.join(name)).unwrap())
        .collect()
}

#[test]
fn serve_starts_in_an_empty_folder_restarts_on_it_and_stops_on_sigterm() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("portner-data");

    let first = Server::start(folder.path());
    first.wait_until_ready();
    let health = get(&first.base, "/healthz").unwrap();
    let keys_before = key_files(&data);
    assert_eq!(first.terminate(), Some(0));

    let added = add_test_organisation(folder.path());
    let second = Server::start(folder.path());
    second.wait_until_ready();
    let keys_after = key_files(&data);
    assert_eq!(second.terminate(), Some(0));
    let listed = portner(folder.path(), &["org", "list"]);

    assert!(
        health.starts_with("HTTP/1.1 200") && health.contains("\"ok\""),
        "{health}"
    );
    assert!(added.status.success());
    assert_eq!(keys_before, keys_after, "keys were regenerated on restart");
    assert!(
        stdout(&listed).contains("Testkommune"),
        "data was not reused"
    );
}

#[test]
fn service_providers_are_registered_listed_and_removed_with_audit_records() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/saml/sp-metadata.xml"
    );
    let not_metadata = dir.join("not-metadata.xml");
    std::fs::write(&not_metadata, "<!DOCTYPE x><x/>").unwrap();

    let added = portner(
        dir,
        &["sp", "add", "--metadata", fixture, "--name", "Test SP"],
    );
    let again = portner(dir, &["sp", "add", "--metadata", fixture]);
    let hostile = portner(
        dir,
        &["sp", "add", "--metadata", not_metadata.to_str().unwrap()],
    );
    let unencrypted_nemlogin = portner(
        dir,
        &[
            "sp",
            "add",
            "--metadata",
            fixture,
            "--profile",
            "nemlogin",
            "--encryption",
            "none",
        ],
    );
    let listed = portner(dir, &["sp", "list", "--json"]);
    let removed = portner(dir, &["sp", "remove", "https://sp.test.example.dk/saml"]);
    let removed_again = portner(dir, &["sp", "remove", "https://sp.test.example.dk/saml"]);
    let verified = portner(dir, &["audit", "verify"]);

    assert!(added.status.success(), "{}", stderr(&added));
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists"));
    assert_eq!(hostile.status.code(), Some(1));
    assert!(
        stderr(&hostile).contains("not acceptable XML"),
        "{}",
        stderr(&hostile)
    );
    assert_eq!(unencrypted_nemlogin.status.code(), Some(1));
    assert!(stderr(&unencrypted_nemlogin).contains("RS-1"));
    let providers: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(providers[0]["name"], "Test SP");
    assert_eq!(providers[0]["settings"]["encryption"], "oiosaml3");
    assert!(removed.status.success());
    assert_eq!(removed_again.status.code(), Some(1));
    // Four generated keys, the registration and the removal.
    assert!(
        stdout(&verified).contains("audit chain OK: 6 records"),
        "{}",
        stdout(&verified)
    );
}
