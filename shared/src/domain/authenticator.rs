//! Authenticators: the network password and WebAuthn credentials.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{NsisLevel, UserId};

/// A user's password, as an Argon2id PHC string (which carries its own parameters, so a policy
/// change can be detected and the hash upgraded at the next login).
#[derive(Clone, Eq, PartialEq)]
pub struct PasswordCredential {
    /// The holder.
    pub user_id: UserId,
    /// The PHC string; secret-adjacent, so `Debug` leaves it out.
    pub phc_hash: String,
    /// When the password was set.
    pub set_at: DateTime<Utc>,
}

impl std::fmt::Debug for PasswordCredential {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PasswordCredential")
            .field("user_id", &self.user_id)
            .field("set_at", &self.set_at)
            .finish_non_exhaustive()
    }
}

/// A registered WebAuthn credential (security key or passkey).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct WebAuthnCredential {
    /// The credential ID the authenticator chose; unique across the installation (W8).
    pub credential_id: Vec<u8>,
    /// The holder.
    pub user_id: UserId,
    /// The name the user gave it.
    pub name: String,
    /// The library's serialised credential (public key, counter, flags), as JSON.
    pub credential_json: String,
    /// The NSIS level of the session in which it was registered: an authenticator can never
    /// give more than that (AU-5).
    pub level: NsisLevel,
    /// When it was registered.
    pub registered_at: DateTime<Utc>,
    /// When it was last used to sign in.
    pub last_used_at: Option<DateTime<Utc>>,
}
