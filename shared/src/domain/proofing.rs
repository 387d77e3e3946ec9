//! Identity-proofing records: how, and how strongly, a person's identity was established.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{NsisLevel, ParseError, UserId};

/// How an identity was verified (IP-*, HD-1 in `oiosaml3-nsis.md`).
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofingMethod {
    /// A check against a trusted source: a finished MitID sign-in, or the user data the
    /// organisation's HR system holds after its own proofing.
    AuthoritativeSource,
    /// Call-back to a registered telephone number.
    CallBack,
    /// In person, with photo identification.
    InPerson,
    /// Video call, with photo identification.
    VideoCall,
}

impl ProofingMethod {
    /// The name used in the store and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthoritativeSource => "authoritative_source",
            Self::CallBack => "call_back",
            Self::InPerson => "in_person",
            Self::VideoCall => "video_call",
        }
    }
}

impl fmt::Display for ProofingMethod {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.pad(self.as_str())
    }
}

impl FromStr for ProofingMethod {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "authoritative_source" => Ok(Self::AuthoritativeSource),
            "call_back" => Ok(Self::CallBack),
            "in_person" => Ok(Self::InPerson),
            "video_call" => Ok(Self::VideoCall),
            _ => Err(ParseError::new(
                "method",
                "must be authoritative_source, call_back, in_person or video_call",
            )),
        }
    }
}

/// One recorded identity verification.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct IdentityProofing {
    /// Store-assigned sequence.
    pub id: i64,
    /// The person verified.
    pub user_id: UserId,
    /// How.
    pub method: ProofingMethod,
    /// The document type and number, case number or similar reference; never a CPR number.
    pub reference: String,
    /// The level this verification supports under the organisation's policy.
    pub level: NsisLevel,
    /// Who performed it: an operator's user ID, or `cli` for the command line.
    pub verified_by: String,
    /// When.
    pub verified_at: DateTime<Utc>,
    /// The identity document checked, for methods that check one (HD-1); `None` for older
    /// records and for call-back or authoritative-source verifications.
    pub document_type: Option<IdDocument>,
}

/// The kind of identity document a helpdesk operator checked (HD-1, IP-3).
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdDocument {
    /// A driving licence.
    DrivingLicence,
    /// Another photo identity document; the reference says which.
    Other,
    /// A passport.
    Passport,
    /// A residence card.
    ResidenceCard,
}

impl IdDocument {
    /// Every kind, in the order forms list them.
    pub const ALL: [Self; 4] = [
        Self::Passport,
        Self::DrivingLicence,
        Self::ResidenceCard,
        Self::Other,
    ];

    /// The name used in the store and in forms.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DrivingLicence => "driving_licence",
            Self::Other => "other",
            Self::Passport => "passport",
            Self::ResidenceCard => "residence_card",
        }
    }
}

impl fmt::Display for IdDocument {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.pad(self.as_str())
    }
}

impl FromStr for IdDocument {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|document| document.as_str() == text)
            .ok_or(ParseError::new(
                "document_type",
                "must be passport, driving_licence, residence_card or other",
            ))
    }
}

/// A helpdesk operator's request to reset an active or locked account, and the second
/// operator's approval of it (HD-3; ASVS 6.4.4: a lost second factor is replaced only after
/// identity proofing and a second approver).
///
/// The request rests on the requester's own verification of the caller and lives exactly as
/// long as that verification backs actions. It is approved at most once, by another operator,
/// and used at most once, by the code it lets the requester issue.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ResetApproval {
    /// Store-assigned sequence.
    pub id: i64,
    /// The account to be reset.
    pub user_id: UserId,
    /// The requester's verification of the caller.
    pub proofing_id: i64,
    /// The operator who verified the caller and asks for the reset.
    pub requested_by: UserId,
    /// The requester's reason, as typed.
    pub reason: String,
    /// When the request was made.
    pub requested_at: DateTime<Utc>,
    /// When the request lapses: the end of its verification's validity.
    pub expires_at: DateTime<Utc>,
    /// The second operator, once approved.
    pub approved_by: Option<UserId>,
    /// When it was approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// When the code it allowed was issued; a used approval allows nothing more.
    pub used_at: Option<DateTime<Utc>>,
}

impl ResetApproval {
    /// Whether the request can still be approved or used at `now`.
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at && self.used_at.is_none()
    }

    /// Whether it waits for a second operator at `now`.
    pub fn awaiting(&self, now: DateTime<Utc>) -> bool {
        self.live(now) && self.approved_by.is_none()
    }
}
