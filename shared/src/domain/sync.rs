//! MitID Erhverv sync settings and links (mitid-erhverv-idm-api.md §6, §7.1).

use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Cvr, GroupId, ParseError, UserId};

/// How an organisation uses MitID Erhverv's Local IdM (§7.1, issue 6 "Desired state and
/// modes").
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// IdM light: identities are created and kept in step; people activate them with their
    /// private MitID.
    Light,
    /// IdM with Local IdP: identities are created activated and bound to Portner with
    /// `subjectNameId` = `username@suffix`.
    LocalIdp,
}

impl SyncMode {
    /// The name used in the store and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::LocalIdp => "local_idp",
        }
    }
}

impl FromStr for SyncMode {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "light" => Ok(Self::Light),
            "local_idp" => Ok(Self::LocalIdp),
            _ => Err(ParseError::new("mode", "must be light or local_idp")),
        }
    }
}

/// An organisation's sync settings. Paths name files; their secret contents never enter the
/// store.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SyncOrganisation {
    /// The organisation.
    pub org: Cvr,
    /// Light or Local IdP.
    pub mode: SyncMode,
    /// API base URL.
    pub base_url: String,
    /// The system certificate: a PKCS#12 file, or a PEM certificate when `client_key_path` is
    /// set.
    pub client_cert_path: PathBuf,
    /// The PEM private key, for a PEM certificate.
    pub client_key_path: Option<PathBuf>,
    /// PEM bundle of the only server roots trusted.
    pub trust_roots_path: PathBuf,
    /// Mailbox used when a user has no e-mail (§7.6); users always have one in Portner today.
    pub default_email: Option<String>,
    /// When set, only this group's members belong in MitID Erhverv; otherwise all the
    /// organisation's users do (issue 6, item 2).
    pub scope_group: Option<GroupId>,
}

/// A user's link to their MitID Erhverv identity (§6 L1).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SyncLink {
    /// The local user.
    pub user_id: UserId,
    /// Their organisation.
    pub org: Cvr,
    /// The employee UUID.
    pub employee_uuid: String,
    /// `Active`, `Suspended` or `Pending`, as Portner last set or saw it.
    pub remote_status: String,
    /// The `subjectNameId` bound (§6 L2).
    pub subject_name_id: String,
    /// SHA-256 (hex) of the names and e-mail last sent, or empty when unknown (an adopted
    /// identity): a change of either queues E6 / E4.
    pub profile_hash: String,
    /// When the link was made.
    pub linked_at: DateTime<Utc>,
}

/// An open drift finding (§7.5).
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct SyncFinding {
    /// Store ID.
    pub id: i64,
    /// Organisation.
    pub org: Cvr,
    /// `ACCOUNT_DELETED`, `ACCOUNT_DISABLED`, ...
    pub kind: String,
    /// The local user, if any.
    pub user_id: Option<UserId>,
    /// The remote identity, if any.
    pub employee_uuid: Option<String>,
    /// Human-readable detail (no personal data).
    pub detail: String,
    /// First seen.
    pub first_seen: DateTime<Utc>,
    /// Last seen.
    pub last_seen: DateTime<Utc>,
}
