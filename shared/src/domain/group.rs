//! Groups: named sets of an organisation's users, provisioned through SCIM (RFC 7643 §4.2) and
//! used to scope the MitID Erhverv sync to their members (issue 6, item 2).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Cvr, ParseError, UserId, user::display_text};

/// A group's stable identifier, a random UUID assigned when the group is created.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub struct GroupId(Uuid);

impl GroupId {
    /// A fresh random identifier.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

impl FromStr for GroupId {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text)
            .map(Self)
            .map_err(|_| ParseError::new("group_id", "must be a UUID"))
    }
}

/// A group's name: 1-200 printable characters, trimmed. Unique within its organisation
/// without regard to case, since a sync scope names a group by it.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupName(String);

impl GroupName {
    /// The name as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key uniqueness is decided on: the name in lowercase.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl FromStr for GroupName {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        display_text(text, "group name", 200).map(Self)
    }
}

super::string_newtype_conversions!(GroupName);

/// A group as the store holds it, without its members.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Group {
    /// Stable identifier.
    pub id: GroupId,
    /// The organisation whose users it holds.
    pub org: Cvr,
    /// Its name.
    pub name: GroupName,
    /// The provisioning client's own identifier for it (RFC 7643 §3.1), kept verbatim.
    pub external_id: Option<String>,
    /// Counts changes, starting at 1; the SCIM ETag is made from it.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it, or its membership, last changed.
    pub updated_at: DateTime<Utc>,
}

/// A member as listed with a group: the user, and their username, by which members are
/// ordered.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GroupMember {
    /// The user.
    pub user_id: UserId,
    /// Their username.
    pub username: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_keyed_in_lowercase() {
        let name: GroupName = "  MitID Brugere ".parse().unwrap();
        assert_eq!(name.as_str(), "MitID Brugere");
        assert_eq!(name.key(), "mitid brugere");
        assert!("".parse::<GroupName>().is_err());
        assert!("a\nb".parse::<GroupName>().is_err());
        assert!("x".repeat(201).parse::<GroupName>().is_err());
    }
}
