//! Sign-in records: activation codes, WebAuthn ceremony state and lockout counters.

use chrono::{DateTime, Utc};

use super::{NsisLevel, UserId};

/// A one-time activation code as stored: only its SHA-256 hash, never the code.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ActivationCode {
    /// SHA-256 of the code as typed (normalised).
    pub code_hash: Vec<u8>,
    /// The user it activates.
    pub user_id: UserId,
    /// The identity-proofing record it rests on, if any (IP-*).
    pub proofing_id: Option<i64>,
    /// The identity level the activation gives the account: the proofing record's level, or
    /// Low without one.
    pub level: NsisLevel,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was used; a used code never works again.
    pub used_at: Option<DateTime<Utc>>,
}

/// Server-side state of a WebAuthn ceremony in progress (W4, W12).
#[derive(Clone, Eq, PartialEq)]
pub struct WebAuthnCeremony {
    /// SHA-256 of the random handle the page carries.
    pub handle_hash: Vec<u8>,
    /// Whose ceremony it is.
    pub user_id: UserId,
    /// `activation`, `login` or `add_credential`.
    pub purpose: String,
    /// The library's serialised ceremony state; never sent to the browser.
    pub state_json: String,
    /// What the finishing step needs besides the state (JSON; shape owned by the caller).
    pub context_json: String,
    /// When the ceremony expires (five minutes after it starts).
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for WebAuthnCeremony {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WebAuthnCeremony")
            .field("user_id", &self.user_id)
            .field("purpose", &self.purpose)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Failed password attempts since the last success (LK-1).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SignInFailures {
    /// Failures counted.
    pub failures: i64,
    /// The end of the running lockout, if one was imposed.
    pub locked_until: Option<DateTime<Utc>>,
}
