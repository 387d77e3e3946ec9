//! Notices to users about changes to their sign-in (HD-5: "the user is notified of resets and
//! new authenticators"; ASVS 6.3.7).
//!
//! A change that needs a notice queues it with [`enqueue`] in its own transaction, so a notice
//! exists exactly when the change happened. `portner serve` sends queued notices through the
//! SMTP relay in `smtp_url` every [`ROUND`] ([`deliver_due`]): each is claimed with a lease (a
//! second replica skips it), sent to the address the account has at that moment, and recorded
//! as sent (`USER_NOTIFIED`). Failures are retried with a growing delay; a notice that could
//! not be sent within [`GIVE_UP_AFTER`] is given up and audited (`USER_NOTIFICATION_FAILED`):
//! a notice about a password change that arrives days later would alarm more than it helps.
//! Without `smtp_url` notices are queued and, after the same day, given up the same way, so
//! the trail shows that users were not told.
//!
//! Messages are plain text, Danish then English, and never carry a secret: no code, no link
//! with a token, only what happened, when, and what to do if it was not the user.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{Message, SmtpTransport, Transport};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::Clock;
use portner_shared::domain::UserId;
use portner_shared::store::{PendingNotification, Store, StoreError, Tx};

/// How often the server looks for notices to send.
pub const ROUND: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a notice is tried before it is given up.
pub const GIVE_UP_AFTER: Duration = Duration::hours(24);
/// How long a claimed notice is left to its sender before another may take it.
const LEASE: Duration = Duration::minutes(5);
/// Notices sent per round at most.
const BATCH: i64 = 100;

/// What a notice tells the user.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Notice {
    /// The password was changed by the user, signed in.
    PasswordChanged,
    /// The password was replaced through `/recover`.
    PasswordRecovered,
    /// A security key or passkey was added.
    CredentialAdded,
    /// A security key or passkey was removed or revoked.
    CredentialRemoved,
    /// The helpdesk issued a reset or activation code.
    ResetCodeIssued,
    /// The helpdesk unlocked the account.
    Unlocked,
}

impl Notice {
    const ALL: [Self; 6] = [
        Self::PasswordChanged,
        Self::PasswordRecovered,
        Self::CredentialAdded,
        Self::CredentialRemoved,
        Self::ResetCodeIssued,
        Self::Unlocked,
    ];

    /// The stable code stored in the queue and the audit trail.
    pub const fn code(self) -> &'static str {
        match self {
            Self::PasswordChanged => "password_changed",
            Self::PasswordRecovered => "password_recovered",
            Self::CredentialAdded => "credential_added",
            Self::CredentialRemoved => "credential_removed",
            Self::ResetCodeIssued => "reset_code_issued",
            Self::Unlocked => "unlocked",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|notice| notice.code() == code)
    }

    /// What happened, in Danish and in English.
    const fn what(self) -> (&'static str, &'static str) {
        match self {
            Self::PasswordChanged => (
                "Din adgangskode er blevet skiftet.",
                "Your password was changed.",
            ),
            Self::PasswordRecovered => (
                "Din adgangskode er blevet skiftet via \"Glemt adgangskode\" og din nøgle.",
                "Your password was replaced through \"Forgotten password\" and your key.",
            ),
            Self::CredentialAdded => (
                "En ny sikkerhedsnøgle eller adgangsnøgle er tilføjet til din konto.",
                "A new security key or passkey was added to your account.",
            ),
            Self::CredentialRemoved => (
                "En sikkerhedsnøgle eller adgangsnøgle er fjernet fra din konto.",
                "A security key or passkey was removed from your account.",
            ),
            Self::ResetCodeIssued => (
                "Helpdesk har udstedt en kode til at nulstille din konto.",
                "The helpdesk issued a code to reset your account.",
            ),
            Self::Unlocked => (
                "Helpdesk har låst din konto op.",
                "The helpdesk unlocked your account.",
            ),
        }
    }
}

/// Queues `notice` for `user_id` in the transaction of the change it reports.
///
/// # Errors
///
/// The store failed.
pub async fn enqueue(
    tx: &mut Tx,
    user_id: UserId,
    notice: Notice,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.enqueue_notification(user_id, notice.code(), now).await
}

/// The configured SMTP relay and sender.
#[derive(Clone)]
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the relay's credentials.
        formatter.write_str("Mailer(<relay>)")
    }
}

impl Mailer {
    /// The relay at `url` (`smtp://host:port`, `smtp://host:port?tls=required`,
    /// `smtps://host:port`), sending as `from`.
    ///
    /// # Errors
    ///
    /// The URL or the sender address is not valid; the message says which.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        refuse_clear_credentials(url)?;
        let transport = SmtpTransport::from_url(url)
            .map_err(|error| format!("smtp_url: {error}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|error| format!("smtp_from: {error}"))?;
        Ok(Self { transport, from })
    }

    /// Sends one plain-text message; blocking, so callers run it off the async runtime.
    fn send(&self, to: &str, subject: &str, body: String) -> Result<(), String> {
        let to = to.parse::<Mailbox>().map_err(|error| error.to_string())?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|error| error.to_string())?;
        self.transport
            .send(&message)
            .map(drop)
            .map_err(|error| error.to_string())
    }
}

/// Refuses a relay URL that would send its credentials unencrypted: `smtp://` with a user or
/// password needs `?tls=required` (STARTTLS, refused by lettre if the relay does not offer it);
/// `smtps://` is encrypted from the start. A relay without credentials may be plain `smtp://`
/// (typically one on the same host or network segment).
fn refuse_clear_credentials(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|error| format!("smtp_url: {error}"))?;
    let has_credentials = !parsed.username().is_empty() || parsed.password().is_some();
    let tls_required = parsed
        .query_pairs()
        .any(|(key, value)| key == "tls" && value == "required");
    if parsed.scheme() == "smtp" && has_credentials && !tls_required {
        return Err("smtp_url: credentials need smtps:// or ?tls=required".to_owned());
    }
    Ok(())
}

/// Longest error text kept on a notice or in its audit event; relay answers are short, but a
/// hostile relay should not grow the trail.
const MAX_ERROR: usize = 300;

/// `error` cut to [`MAX_ERROR`] bytes on a character boundary.
fn bounded(mut error: String) -> String {
    let end = error.floor_char_boundary(MAX_ERROR);
    error.truncate(end);
    error
}

/// E-mails a helpdesk code to `to` at once, off the async runtime (issue 5 item 2: "shown
/// once, or e-mailed through a configured SMTP relay"). Unlike the notices this message
/// carries a secret, so it never enters the queue: it is sent while the operator waits, and
/// if the relay fails the operator gets the code on screen instead and gives it over the
/// verified channel. The code is single use and expires within the hour (HD-4).
///
/// # Errors
///
/// The address or message is invalid, or the relay refused or could not be reached; the
/// text says which, and never holds the code.
pub async fn send_code(
    mailer: &Mailer,
    to: &str,
    code: &str,
    expires_at: DateTime<Utc>,
    activate_url: &str,
) -> Result<(), String> {
    let until = expires_at.format("%Y-%m-%d %H:%M UTC");
    let body = format!(
        "Din kode til at aktivere din konto: {code}\nDen virker én gang, indtil {until}, på \
         {activate_url}\nHar du ikke bedt helpdesk om den, så kontakt helpdesk med det samme.\n\n\
         Your code to activate your account: {code}\nIt works once, until {until}, at \
         {activate_url}\nIf you did not ask the helpdesk for it, contact the helpdesk at once.\n"
    );
    let subject = "Portner: din aktiveringskode / your activation code";
    let (mailer, to) = (mailer.clone(), to.to_owned());
    let sent = tokio::task::spawn_blocking(move || mailer.send(&to, subject, body)).await;
    match sent {
        Ok(result) => result.map_err(bounded),
        Err(error) => Err(bounded(error.to_string())),
    }
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct DeliveryReport {
    /// Notices sent.
    pub sent: u64,
    /// Notices that failed and will be tried again.
    pub retried: u64,
    /// Notices given up.
    pub given_up: u64,
}

/// Sends the notices that are due. With no `mailer`, only gives up those past
/// [`GIVE_UP_AFTER`].
///
/// # Errors
///
/// Store or audit failures; a failed send is recorded on its notice, not returned.
pub async fn deliver_due(
    store: &Store,
    clock: &Arc<dyn Clock>,
    mailer: Option<&Mailer>,
) -> Result<DeliveryReport, NotifyError> {
    let now = clock.now();
    let mut tx = store.begin().await?;
    let claimed = tx.claim_notifications(now, LEASE, BATCH).await?;
    tx.commit().await?;

    let mut report = DeliveryReport::default();
    for notice in claimed {
        let outcome = match mailer {
            Some(mailer) => send_one(store, mailer, &notice).await,
            None => Err("smtp_url is not configured".to_owned()),
        };
        let outcome = outcome.map_err(bounded);
        settle(store, clock.now(), &notice, outcome, &mut report).await?;
    }
    Ok(report)
}

/// Looks up the address and sends, off the async runtime.
async fn send_one(
    store: &Store,
    mailer: &Mailer,
    notice: &PendingNotification,
) -> Result<(), String> {
    let Some(kind) = Notice::from_code(&notice.kind) else {
        return Err(format!("unknown notice {}", notice.kind));
    };
    let mut read = store.read().await.map_err(|error| error.to_string())?;
    let user = read
        .user(notice.user_id)
        .await
        .map_err(|error| error.to_string())?;
    read.rollback().await.map_err(|error| error.to_string())?;
    let Some(user) = user else {
        return Err("the account no longer exists".to_owned());
    };

    let (danish, english) = kind.what();
    let when = notice.created_at.format("%Y-%m-%d %H:%M UTC");
    let body = format!(
        "{danish} ({when})\nVar det ikke dig, så kontakt helpdesk med det samme.\n\n\
         {english} ({when})\nIf this was not you, contact the helpdesk at once.\n"
    );
    let subject = "Portner: ændring af dit log ind / change to your sign-in";
    let (mailer, to) = (mailer.clone(), user.email.as_str().to_owned());
    tokio::task::spawn_blocking(move || mailer.send(&to, subject, body))
        .await
        .map_err(|error| error.to_string())?
}

/// Records the outcome of one notice, with its audit event when it is final.
async fn settle(
    store: &Store,
    now: DateTime<Utc>,
    notice: &PendingNotification,
    outcome: Result<(), String>,
    report: &mut DeliveryReport,
) -> Result<(), NotifyError> {
    let mut tx = store.begin().await?;
    let subject = Subject::User(notice.user_id);
    let context = AuditContext::system();
    match outcome {
        Ok(()) => {
            tx.notification_sent(notice.id, now).await?;
            let event = AuditEvent::UserNotified {
                user_id: notice.user_id,
                notice: notice.kind.clone(),
            };
            portner_audit::append(&mut tx, now, &context, &subject, &event).await?;
            report.sent += 1;
        }
        Err(error) if now - notice.created_at < GIVE_UP_AFTER => {
            // 1, 2, 4 … minutes, at most an hour.
            let exponent = u32::try_from(notice.attempts.clamp(0, 6)).unwrap_or(6);
            let delay = Duration::minutes(2_i64.pow(exponent)).min(Duration::hours(1));
            tx.notification_failed(notice.id, &error, Some(now + delay), now)
                .await?;
            tracing::warn!(id = notice.id, %error, "notice not sent; will retry");
            report.retried += 1;
        }
        Err(error) => {
            tx.notification_failed(notice.id, &error, None, now).await?;
            let event = AuditEvent::UserNotificationFailed {
                user_id: notice.user_id,
                notice: notice.kind.clone(),
                reason: error,
            };
            portner_audit::append(&mut tx, now, &context, &subject, &event).await?;
            report.given_up += 1;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A failure of the notification round itself (not of one message).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit trail failed.
    #[error(transparent)]
    Audit(#[from] portner_audit::AuditError),
}
