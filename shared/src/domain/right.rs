//! The rights catalogue and the assignments of rights to users.
//!
//! MitID Erhverv scopes a right to the whole CVR, one P-unit or one SE number; Portner keeps the
//! same shape so that the sync can compute the minimal set of changes (issue on the IdM sync).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Cvr, PNumber, ParseError, SeNumber, UserId};

/// A right's key in the catalogue, e.g. `mitid-erhverv:sign-annual-report` or a local name.
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct RightId(String);

impl RightId {
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RightId {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._:-/".contains(c);
        if (1..=128).contains(&text.len()) && text.chars().all(allowed) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ParseError::new(
                "right",
                "must be 1-128 letters, digits or ._:-/",
            ))
        }
    }
}

super::string_newtype_conversions!(RightId);

/// Where a right came from.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RightSource {
    /// Defined in Portner for the organisation's own services.
    Local,
    /// Imported from the MitID Erhverv role catalogue.
    MitIdErhverv,
}

impl RightSource {
    /// The name used in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::MitIdErhverv => "mitid_erhverv",
        }
    }
}

impl FromStr for RightSource {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "local" => Ok(Self::Local),
            "mitid_erhverv" => Ok(Self::MitIdErhverv),
            _ => Err(ParseError::new("source", "must be local or mitid_erhverv")),
        }
    }
}

/// An entry of the rights catalogue.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Right {
    /// Catalogue key.
    pub id: RightId,
    /// Human name.
    pub name: String,
    /// Local or imported.
    pub source: RightSource,
}

/// The part of an organisation a right assignment covers (MitID Erhverv's three scope kinds).
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum RightScope {
    /// The whole organisation.
    Cvr(Cvr),
    /// One production unit.
    PUnit(PNumber),
    /// One SE number.
    Se(SeNumber),
}

impl RightScope {
    /// The scope kind as stored: `cvr`, `pu` or `se`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Cvr(_) => "cvr",
            Self::PUnit(_) => "pu",
            Self::Se(_) => "se",
        }
    }

    /// The scope's identifier (a CVR, P- or SE number).
    pub fn value(&self) -> &str {
        match self {
            Self::Cvr(cvr) => cvr.as_str(),
            Self::PUnit(p_number) => p_number.as_str(),
            Self::Se(se_number) => se_number.as_str(),
        }
    }

    /// Rebuilds a scope from its stored kind and value.
    ///
    /// # Errors
    ///
    /// The kind is unknown or the value does not fit it.
    pub fn from_parts(kind: &str, value: &str) -> Result<Self, ParseError> {
        match kind {
            "cvr" => value.parse().map(Self::Cvr),
            "pu" => value.parse().map(Self::PUnit),
            "se" => value.parse().map(Self::Se),
            _ => Err(ParseError::new("scope", "must be cvr, pu or se")),
        }
    }
}

/// One right held by one user within one scope.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct RightAssignment {
    /// The holder.
    pub user_id: UserId,
    /// The right.
    pub right: RightId,
    /// Where it applies.
    pub scope: RightScope,
    /// When it was granted.
    pub granted_at: DateTime<Utc>,
}
