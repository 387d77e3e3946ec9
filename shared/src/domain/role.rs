//! Staff roles: who may use the consoles, per organisation (issue 5).
//!
//! A role is held in one organisation: a helpdesk operator of CVR 91234567 sees and helps that
//! organisation's users only. Ordinary users hold no role; the consoles refuse them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Cvr, ParseError, UserId};

/// A staff role. Alphabetical, like every enum here (STYLE.md 2.13).
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users, rights, service providers and policies.
    Administrator,
    /// Reads the audit trail and exports evidence.
    Auditor,
    /// Verifies callers and resets, unlocks and revokes their credentials.
    Helpdesk,
}

impl Role {
    /// Every role, for listings and for tests that walk the access table.
    pub const ALL: [Self; 3] = [Self::Administrator, Self::Auditor, Self::Helpdesk];

    /// The name used in the store and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Administrator => "administrator",
            Self::Auditor => "auditor",
            Self::Helpdesk => "helpdesk",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.pad(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "administrator" => Ok(Self::Administrator),
            "auditor" => Ok(Self::Auditor),
            "helpdesk" => Ok(Self::Helpdesk),
            _ => Err(ParseError::new(
                "role",
                "must be administrator, helpdesk or auditor",
            )),
        }
    }
}

/// One role held by one user in one organisation.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct RoleAssignment {
    /// The holder.
    pub user_id: UserId,
    /// The organisation the role applies to.
    pub org: Cvr,
    /// The role.
    pub role: Role,
    /// Who granted it (`cli:<os user>` or `user:<id>`).
    pub granted_by: String,
    /// When.
    pub granted_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip_and_unknown_names_are_refused() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("Administrator".parse::<Role>().is_err());
        assert!("user".parse::<Role>().is_err());
    }
}
