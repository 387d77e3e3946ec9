//! Service providers registered with the IdP.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ParseError, UserId};

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

/// A verified AuthnRequest waiting for the user to sign in, stored server-side so that the
/// browser carries only a random handle (SS-4).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PendingSamlRequest {
    /// SHA-256 of the handle in the continue URL.
    pub handle_hash: Vec<u8>,
    /// The verified request, serialised by the IdP.
    pub request_json: String,
    /// When Portner received it: factors must be newer than this under `ForceAuthn` (AC-6).
    pub received_at: DateTime<Utc>,
    /// After this the request can no longer be answered.
    pub expires_at: DateTime<Utc>,
}

/// An SP that received an assertion in a sign-in session: what single logout needs to match
/// and propagate (RS-8, SL-1, SL-2).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct SamlParticipant {
    /// The session's correlation ID, stable across identifier rotation.
    pub correlation_id: String,
    /// The SP's entityID.
    pub sp_entity_id: String,
    /// The user the assertion named.
    pub user_id: UserId,
    /// The NameID sent.
    pub name_id: String,
    /// Its format URI.
    pub name_id_format: String,
    /// The SessionIndex sent.
    pub session_index: String,
    /// When the latest assertion was issued.
    pub issued_at: DateTime<Utc>,
    /// The session's absolute end; the row is useless after it.
    pub expires_at: DateTime<Utc>,
}
