//! SCIM 2.0 clients (issue 5, item 5): the bearer tokens an organisation's IdM or HR system
//! provisions users with, as the store describes them. The token itself is never part of these
//! values: only its SHA-256 is stored, and only `portner scim token create` ever sees it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Cvr, ParseError};

/// A SCIM token's stable identifier, a random UUID: what audit events and logs record
/// instead of the token.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub struct ScimTokenId(Uuid);

impl ScimTokenId {
    /// A fresh random identifier.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for ScimTokenId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

impl FromStr for ScimTokenId {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text)
            .map(Self)
            .map_err(|_| ParseError::new("token_id", "must be a UUID"))
    }
}

/// A SCIM client's token as the store holds it: whose it is and how long it is good for.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct ScimToken {
    /// Stable identifier.
    pub id: ScimTokenId,
    /// The only organisation the token may provision users in.
    pub org: Cvr,
    /// The operator's name for the client, unique within the organisation.
    pub name: String,
    /// Who created it (the audit actor, e.g. `cli:alice`).
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ScimToken {
    /// Whether the token may be used at `now`: neither revoked nor expired.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// Checks the free-text name an operator gives a SCIM client: 1 to 64 printable characters.
///
/// # Errors
///
/// The name is empty, too long or holds control characters.
pub fn scim_client_name(text: &str) -> Result<String, ParseError> {
    let trimmed = text.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > 64 || trimmed.chars().any(char::is_control) {
        return Err(ParseError::new("name", "must be 1-64 printable characters"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn a_token_is_usable_until_it_expires_or_is_revoked() {
        let now = crate::clock::from_millis(1_700_000_000_000);
        let mut token = ScimToken {
            id: ScimTokenId::random(),
            org: "91234567".parse().unwrap(),
            name: "hr".into(),
            created_by: "cli".into(),
            created_at: now,
            expires_at: now + TimeDelta::days(1),
            revoked_at: None,
        };
        assert!(token.is_usable(now));
        assert!(!token.is_usable(now + TimeDelta::days(1)));
        token.revoked_at = Some(now);
        assert!(!token.is_usable(now));
    }

    #[test]
    fn client_names_refuse_empty_long_and_control_text() {
        assert_eq!(scim_client_name(" HR system ").unwrap(), "HR system");
        for bad in ["", "  ", "a\nb", &"x".repeat(65)] {
            assert!(scim_client_name(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
