//! Notices to users about changes to their sign-in (HD-5) on both databases: a queued notice
//! goes through a real SMTP server (aiosmtpd, `tests/e2e/saml/smtp_sink.py`) to the account's
//! address in Danish and English and is audited; one the relay refuses is retried later and,
//! after a day, given up and audited; relay URLs that would send credentials in the clear are
//! refused. The flows that queue notices are checked where they are tested (signin.rs,
//! helpdesk.rs) with [`queued_notices`].
//!
//! Without the venv's Python (`PORTNER_TEST_PYTHON_XMLSEC`, with aiosmtpd) the relay test
//! prints a visible `skipped:` line, except under CI, where it fails.

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;

use chrono::Duration;
use portner_audit::AuditContext;
use portner_idp::notify::{self, DeliveryReport, Mailer, Notice};
use portner_shared::domain::{Cvr, Email, NewOrganisation, NewUser, User};
use portner_shared::store::Store;
use portner_shared::{Clock, FixedClock};
use portner_tests::TestStore;
use serde_json::Value;
use sqlx::Row;

on_both_backends!(
    a_notice_reaches_a_real_relay_in_danish_and_english,
    a_refused_notice_is_retried_then_given_up_and_audited,
);

const SENDER: &str = "Portner <noreply@testfirma.dk>";

/// The notice kinds queued so far, oldest first, for every user.
pub async fn queued_notices(store: &Store) -> Vec<String> {
    let mut tx = store.read().await.unwrap();
    let rows = sqlx::query("SELECT kind FROM notifications ORDER BY id")
        .fetch_all(tx.connection())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    rows.iter()
        .map(|row| row.get::<String, _>("kind"))
        .collect()
}

async fn someone(store: &TestStore, clock: &FixedClock) -> User {
    let cvr: Cvr = "93456789".parse().unwrap();
    let new = NewOrganisation::new(
        cvr.clone(),
        "Testfirma ApS",
        "testfirma.dk".parse().unwrap(),
    )
    .unwrap();
    let context = AuditContext::cli();
    portner_idp::directory::create_organisation(&store.store, clock, &context, &new)
        .await
        .unwrap();
    let email: Email = "karen@testfirma.dk".parse().unwrap();
    let new = NewUser::new(cvr, "karen".parse().unwrap(), "Karen Test", email, None).unwrap();
    portner_idp::directory::create_user(&store.store, clock, &context, &new)
        .await
        .unwrap()
}

async fn queue(store: &Store, clock: &FixedClock, user: &User, notice: Notice) {
    let mut tx = store.begin().await.unwrap();
    notify::enqueue(&mut tx, user.id, notice, clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// The audit records of `kind`, their data.
async fn audited(store: &Store, kind: &str) -> Vec<String> {
    let mut tx = store.read().await.unwrap();
    let records = portner_audit::records(&mut tx, 0, 10_000).await.unwrap();
    tx.rollback().await.unwrap();
    records
        .into_iter()
        .filter(|record| record.kind == kind)
        .map(|record| record.data)
        .collect()
}

/// aiosmtpd on a free local port, until dropped.
pub struct Relay {
    child: Child,
    lines: BufReader<ChildStdout>,
    /// The port it listens on at 127.0.0.1.
    pub port: u16,
}

impl Relay {
    /// Starts the sink, or says why it cannot run here.
    pub fn start() -> Result<Self, String> {
        let Some(python) = std::env::var_os("PORTNER_TEST_PYTHON_XMLSEC").map(PathBuf::from) else {
            return Err("PORTNER_TEST_PYTHON_XMLSEC is not set".to_owned());
        };
        let import = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .output();
        if !import.is_ok_and(|output| output.status.success()) {
            return Err(format!("no aiosmtpd in {}", python.display()));
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/saml/smtp_sink.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| error.to_string())?;
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let port = next_line(&mut lines)["port"].as_u64().unwrap();
        Ok(Self {
            child,
            lines,
            port: u16::try_from(port).unwrap(),
        })
    }

    /// The next message the relay accepted.
    pub fn message(&mut self) -> Value {
        next_line(&mut self.lines)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Closing standard input stops the sink; kill in case it hangs.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn next_line(lines: &mut BufReader<ChildStdout>) -> Value {
    loop {
        let mut line = String::new();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "the SMTP sink ended"
        );
        if let Some(json) = line.trim_end().strip_prefix("portner-smtp: ") {
            return serde_json::from_str(json).unwrap();
        }
    }
}

async fn a_notice_reaches_a_real_relay_in_danish_and_english(store: TestStore) {
    const TEST: &str = "notify::a_notice_reaches_a_real_relay_in_danish_and_english";
    let mut relay = match Relay::start() {
        Ok(relay) => relay,
        Err(reason) => return portner_tests::skip_unless_ci(TEST, &reason),
    };
    let clock = portner_tests::fixed_clock();
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let karen = someone(&store, &clock).await;
    queue(&store.store, &clock, &karen, Notice::PasswordChanged).await;
    let mailer = Mailer::new(&format!("smtp://127.0.0.1:{}", relay.port), SENDER).unwrap();

    let report = notify::deliver_due(&store.store, &shared, Some(&mailer))
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let message = relay.message();
    assert_eq!(message["from"], "noreply@testfirma.dk");
    assert_eq!(message["to"], serde_json::json!(["karen@testfirma.dk"]));
    assert!(message["subject"].as_str().unwrap().contains("ændring"));
    let body = message["body"].as_str().unwrap();
    assert!(
        body.contains("Din adgangskode er blevet skiftet."),
        "{body}"
    );
    assert!(body.contains("Your password was changed."), "{body}");
    assert!(body.contains("2026-12-03 12:00 UTC"), "{body}");

    // Sent once: the next round finds nothing, and the trail says who was told what.
    let again = notify::deliver_due(&store.store, &shared, Some(&mailer))
        .await
        .unwrap();
    assert_eq!(again, DeliveryReport::default());
    let notified = audited(&store.store, "USER_NOTIFIED").await;
    assert_eq!(notified.len(), 1);
    assert!(
        notified[0].contains(r#""notice":"password_changed""#),
        "{}",
        notified[0]
    );
}

async fn a_refused_notice_is_retried_then_given_up_and_audited(store: TestStore) {
    let clock = portner_tests::fixed_clock();
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let karen = someone(&store, &clock).await;
    queue(&store.store, &clock, &karen, Notice::CredentialAdded).await;
    // A port nobody listens on: the relay is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mailer = Mailer::new(&format!("smtp://127.0.0.1:{port}"), SENDER).unwrap();
    let round = || notify::deliver_due(&store.store, &shared, Some(&mailer));

    let first = round().await.unwrap();
    assert_eq!(first.retried, 1, "{first:?}");
    assert_eq!(
        round().await.unwrap(),
        DeliveryReport::default(),
        "not due yet"
    );
    clock.advance(Duration::minutes(2));
    assert_eq!(round().await.unwrap().retried, 1);
    assert!(
        audited(&store.store, "USER_NOTIFICATION_FAILED")
            .await
            .is_empty()
    );

    // Past a day it is given up, once, and audited with the relay's error; without a relay
    // configured the same happens (the server warns at start).
    clock.advance(Duration::hours(25));
    assert_eq!(round().await.unwrap().given_up, 1);
    clock.advance(Duration::hours(2));
    assert_eq!(round().await.unwrap(), DeliveryReport::default());
    queue(&store.store, &clock, &karen, Notice::Unlocked).await;
    let unconfigured = notify::deliver_due(&store.store, &shared, None)
        .await
        .unwrap();
    assert_eq!(unconfigured.retried, 1);
    clock.advance(Duration::hours(25));
    let unconfigured = notify::deliver_due(&store.store, &shared, None)
        .await
        .unwrap();
    assert_eq!(unconfigured.given_up, 1);

    let failed = audited(&store.store, "USER_NOTIFICATION_FAILED").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed[0].contains(r#""notice":"credential_added""#),
        "{}",
        failed[0]
    );
    assert!(
        failed[1].contains("smtp_url is not configured"),
        "{}",
        failed[1]
    );
    assert!(audited(&store.store, "USER_NOTIFIED").await.is_empty());
}

#[test]
fn relay_urls_that_would_expose_credentials_are_refused() {
    let clear = Mailer::new("smtp://user:secret@relay.testfirma.dk:25", SENDER);
    assert!(clear.unwrap_err().contains("credentials"));
    assert!(
        Mailer::new(
            "smtp://user:secret@relay.testfirma.dk:587?tls=required",
            SENDER
        )
        .is_ok()
    );
    assert!(Mailer::new("smtps://user:secret@relay.testfirma.dk", SENDER).is_ok());
    assert!(Mailer::new("smtp://relay.testfirma.dk:25", SENDER).is_ok());
    assert!(Mailer::new("smtp://relay.testfirma.dk:25", "not an address").is_err());
    assert!(Mailer::new("http://relay.testfirma.dk", SENDER).is_err());
}
