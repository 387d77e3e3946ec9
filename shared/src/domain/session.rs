//! Sign-in sessions, kept server-side so that every replica sees them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{NsisLevel, UserId};

/// A sign-in session. The browser holds a random identifier; the store holds only its SHA-256
/// hash, so a leaked database does not yield usable cookies.
#[derive(Clone, Deserialize, Eq, PartialEq, Serialize)]
pub struct Session {
    /// SHA-256 of the cookie value.
    pub id_hash: Vec<u8>,
    /// The signed-in user.
    pub user_id: UserId,
    /// The NSIS level the session reached.
    pub level: NsisLevel,
    /// The factors used and when, as JSON (the sign-in issue defines the shape).
    pub factors_json: String,
    /// When the session began.
    pub created_at: DateTime<Utc>,
    /// When it was last used; drives the idle timeout.
    pub last_seen_at: DateTime<Utc>,
    /// The absolute end of the session.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Session")
            .field("user_id", &self.user_id)
            .field("level", &self.level)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
