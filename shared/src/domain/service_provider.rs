//! Service providers registered with the IdP.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ParseError;

/// Which rules an SP is served by.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpProfile {
    /// NemLog-in: NameID is the MitID Erhverv `subjectNameId` (NI-*).
    Nemlogin,
    /// One of the organisation's own SPs: NameID is the OIOSAML persistent UUID form.
    Own,
}

impl SpProfile {
    /// The name used in the store and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Nemlogin => "nemlogin",
            Self::Own => "own",
        }
    }
}

impl FromStr for SpProfile {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "nemlogin" => Ok(Self::Nemlogin),
            "own" => Ok(Self::Own),
            _ => Err(ParseError::new("profile", "must be nemlogin or own")),
        }
    }
}

/// A registered SP. Its metadata is the only source of its keys and endpoints (MD-9).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct ServiceProvider {
    /// The SP's entityID; unique.
    pub entity_id: String,
    /// A name for consoles and audit reports.
    pub name: String,
    /// Which rules apply.
    pub profile: SpProfile,
    /// The SP's metadata document as registered.
    pub metadata_xml: String,
    /// Per-SP settings as JSON (encryption, NameID policy, released attributes, minimum level).
    pub settings_json: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}
