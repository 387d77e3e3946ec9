//! `portner sp add --metadata URL` against a real TLS server, `openssl s_server -WWW`: metadata
//! is fetched over https from a server whose certificate chains to the CA given with
//! `--metadata-ca`; an unknown certificate, plain http, an answer that is not metadata and an
//! oversized body are refused and register nothing (MD-9).

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli::{portner, text};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/sp-metadata.xml"
);

/// The `openssl` command, or `None` after a visible skip line (a failure under CI).
fn openssl() -> Option<&'static str> {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is required under CI"
        );
        println!("skipped: the openssl command is not installed");
        return None;
    }
    Some("openssl")
}

/// `openssl s_server -WWW` serving `folder` on a free loopback port, with a self-signed
/// certificate for `localhost` written to `folder/ca.pem`. Killed when dropped.
struct TlsServer {
    child: Child,
    port: u16,
}

impl TlsServer {
    fn start(openssl: &str, folder: &Path) -> Self {
        let made = Command::new(openssl)
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost",
            ])
            .args(["-keyout", "key.pem", "-out", "ca.pem"])
            .current_dir(folder)
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(openssl)
            .args([
                "s_server", "-quiet", "-WWW", "-cert", "ca.pem", "-key", "key.pem",
            ])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .current_dir(folder)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    fn url(&self, file: &str) -> String {
        format!("https://localhost:{}/{file}", self.port)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn metadata_is_fetched_over_https_from_a_trusted_server_only() {
    let Some(openssl) = openssl() else { return };
    let folder = tempfile::tempdir().unwrap();
    let served = folder.path().join("served");
    std::fs::create_dir(&served).unwrap();
    std::fs::copy(FIXTURE, served.join("sp.xml")).unwrap();
    std::fs::write(served.join("huge.xml"), vec![b' '; 2 * 1024 * 1024]).unwrap();
    let server = TlsServer::start(openssl, &served);
    let ca = served.join("ca.pem");
    let ca = ca.to_str().unwrap();
    let data = folder.path().join("data");

    let untrusted = portner(&data, &["sp", "add", "--metadata", &server.url("sp.xml")]);
    let plain = portner(
        &data,
        &[
            "sp",
            "add",
            "--metadata",
            &format!("http://localhost:{}/sp.xml", server.port),
        ],
    );
    let missing = portner(
        &data,
        &[
            "sp",
            "add",
            "--metadata",
            &server.url("absent.xml"),
            "--metadata-ca",
            ca,
        ],
    );
    let huge = portner(
        &data,
        &[
            "sp",
            "add",
            "--metadata",
            &server.url("huge.xml"),
            "--metadata-ca",
            ca,
        ],
    );
    let listed_before = text(&portner(&data, &["sp", "list"]));
    let added = portner(
        &data,
        &[
            "sp",
            "add",
            "--metadata",
            &server.url("sp.xml"),
            "--metadata-ca",
            ca,
        ],
    );
    let listed_after = text(&portner(&data, &["sp", "list"]));

    assert_eq!(untrusted.status.code(), Some(1), "{}", text(&untrusted));
    assert!(
        text(&untrusted).contains("cannot fetch"),
        "{}",
        text(&untrusted)
    );
    assert_eq!(plain.status.code(), Some(2), "{}", text(&plain));
    assert!(text(&plain).contains("must use https"), "{}", text(&plain));
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    // s_server answers a missing file with status 200 and an error text: it is refused as
    // metadata, not registered.
    assert!(
        text(&missing).contains("not acceptable XML"),
        "{}",
        text(&missing)
    );
    assert_eq!(huge.status.code(), Some(1), "{}", text(&huge));
    assert!(text(&huge).contains("larger than 1 MiB"), "{}", text(&huge));
    assert!(!listed_before.contains("https://"), "{listed_before}");
    assert!(added.status.success(), "{}", text(&added));
    assert!(
        listed_after.contains("https://sp.test.example.dk"),
        "{listed_after}"
    );
}
