//! JSON API client tokens (issue 5, item 4): what the store holds about one. The secret is
//! never part of these values; only its SHA-256 is stored.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ParseError, UserId};

/// An API token's stable identifier, a random UUID: what audit events record.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub struct ApiTokenId(Uuid);

impl ApiTokenId {
    /// A fresh random identifier.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for ApiTokenId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

impl FromStr for ApiTokenId {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text)
            .map(Self)
            .map_err(|_| ParseError::new("token_id", "must be a UUID"))
    }
}

/// What a token may do on top of its owner's roles.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiScope {
    /// `GET` only.
    Read,
    /// Everything the owner's roles allow.
    Write,
}

impl ApiScope {
    /// The name in the store and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

impl FromStr for ApiScope {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            _ => Err(ParseError::new("scope", "must be read or write")),
        }
    }
}

/// A token as the store holds it.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct ApiToken {
    /// Stable identifier.
    pub id: ApiTokenId,
    /// The staff user the token acts as.
    pub user_id: UserId,
    /// The owner's name for it, unique per user.
    pub name: String,
    /// Read or write.
    pub scope: ApiScope,
    /// Who created it (the audit actor).
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Whether the token works at `now`: not revoked, not expired.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}
