//! The typed audit events and who, what and where they concern.

use std::fmt;
use std::net::IpAddr;

use portner_shared::domain::{Cvr, NsisLevel, UserId, UserStatus, Username};
use serde::Serialize;

/// A security-relevant event. One variant per kind; later features add their own.
///
/// Fields are typed and hold the minimum of personal data: user IDs rather than names where
/// possible, never CPR numbers, passwords, codes or keys. Each variant's documentation names
/// the NSIS requirement or audit-statement evidence it supports (IDs from
/// `oiosaml3-nsis.md`).
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditEvent {
    /// The data folder's keys were generated on first start (LG-1 "certificates"; EV-10).
    KeyGenerated {
        /// What the key is for: `signing`, `encryption` or `cpr`.
        purpose: String,
        /// SHA-256 of the certificate (hex), or of nothing for a symmetric key.
        fingerprint: Option<String>,
    },
    /// An organisation was registered (LG-1 admin changes; EV-6 system description).
    OrganisationCreated {
        /// Its CVR number.
        cvr: Cvr,
        /// Its registered name.
        name: String,
        /// The `subjectNameId` suffix.
        suffix: String,
    },
    /// A user was created (LG-1 "activation"; EV-9 per-person status history).
    UserCreated {
        /// The new user.
        user_id: UserId,
        /// Their organisation.
        org: Cvr,
        /// Their username, needed to tie MitID Erhverv's `subjectNameId` to the record.
        username: Username,
        /// Whether a CPR number was stored (the number itself never is in the trail).
        with_cpr: bool,
    },
    /// A user's lifecycle state changed (AU-8 suspension; EV-9, EV-11).
    UserStatusChanged {
        /// The user.
        user_id: UserId,
        /// The state before.
        from: UserStatus,
        /// The state after.
        to: UserStatus,
    },
    /// An identity verification was recorded (IP-*, HD-1; EV-9, EV-12).
    IdentityProofingRecorded {
        /// The person verified.
        user_id: UserId,
        /// The method's name.
        method: String,
        /// The level the verification supports.
        level: NsisLevel,
    },
    // MitID Erhverv IdM sync (issue 6).
    /// A sync action reached its end: MitID Erhverv was changed, or already matched, or the
    /// intent was stale (AU-8 timely suspension, lifecycle propagation; EV-9).
    SyncActionDone {
        /// `upsert_user`, `suspend_user`, `sync_rights` or `delete_user`.
        action: String,
        /// The local user.
        user_id: UserId,
        /// The remote identity, if known.
        employee_uuid: Option<String>,
        /// What happened, e.g. `created`, `suspended`, `already_active`, `stale_dropped`.
        outcome: String,
    },
    /// A sync action failed transiently and will be retried (mitid-erhverv-idm-api.md §7.3).
    SyncActionRetried {
        /// The action.
        action: String,
        /// The local user.
        user_id: UserId,
        /// The attempt that failed (1-based).
        attempt: i64,
        /// The error class code, e.g. `IDM_TRANSIENT`.
        error_code: String,
        /// The HTTP status, 0 for I/O errors.
        status: u16,
    },
    /// A sync action was given up, with the reason (§7.3 `failed`).
    SyncActionFailed {
        /// The action.
        action: String,
        /// The local user.
        user_id: UserId,
        /// The error class code.
        error_code: String,
        /// Why, in words (no personal data).
        reason: String,
    },
    /// An existing MitID Erhverv identity was linked to a local user by a re-link rule
    /// (§7.4; EV-9).
    SyncIdentityAdopted {
        /// The local user.
        user_id: UserId,
        /// The identity adopted.
        employee_uuid: String,
        /// `RL1`, `RL2`, `RL3` or `LOOKUP` (crash recovery before creating).
        rule: String,
    },
    /// The reconciler found drift between MitID Erhverv and the desired state (§7.5).
    SyncDriftFound {
        /// The finding code, e.g. `ACCOUNT_DELETED`.
        finding: String,
        /// The local user, if any.
        user_id: Option<UserId>,
        /// The remote identity, if any.
        employee_uuid: Option<String>,
    },
    /// The IdM API refused the organisation's certificate after a token refresh; the worker
    /// stopped (§2.5, §7.3 `Unauthorized`).
    SyncUnauthorized {
        /// The organisation.
        org: Cvr,
    },
    /// Sync was turned on or its settings changed for an organisation (LG-1 admin changes).
    SyncEnabled {
        /// The organisation.
        org: Cvr,
        /// `light` or `local_idp`.
        mode: String,
        /// Users queued for the initial load.
        queued: u64,
    },
}

impl AuditEvent {
    /// The stable code of the event's kind, stored beside it for filtering and reports.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::KeyGenerated { .. } => "KEY_GENERATED",
            Self::OrganisationCreated { .. } => "ORGANISATION_CREATED",
            Self::UserCreated { .. } => "USER_CREATED",
            Self::UserStatusChanged { .. } => "USER_STATUS_CHANGED",
            Self::IdentityProofingRecorded { .. } => "IDENTITY_PROOFING_RECORDED",
            // MitID Erhverv IdM sync (issue 6).
            Self::SyncActionDone { .. } => "SYNC_ACTION_DONE",
            Self::SyncActionRetried { .. } => "SYNC_ACTION_RETRIED",
            Self::SyncActionFailed { .. } => "SYNC_ACTION_FAILED",
            Self::SyncIdentityAdopted { .. } => "SYNC_IDENTITY_ADOPTED",
            Self::SyncDriftFound { .. } => "SYNC_DRIFT_FOUND",
            Self::SyncUnauthorized { .. } => "SYNC_UNAUTHORIZED",
            Self::SyncEnabled { .. } => "SYNC_ENABLED",
        }
    }
}

/// Who caused an event.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Actor {
    /// An operator at the `portner` command line, with the operating-system account name if
    /// known (the CLI runs with direct database access, so this is the accountable person).
    Cli {
        /// `$USER` of the process, if set.
        os_user: Option<String>,
    },
    /// Portner itself (start-up, scheduled jobs).
    System,
    /// A signed-in user acting for themselves or as operator.
    User(UserId),
}

impl fmt::Display for Actor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cli {
                os_user: Some(name),
            } => write!(formatter, "cli:{name}"),
            Self::Cli { os_user: None } => formatter.write_str("cli"),
            Self::System => formatter.write_str("system"),
            Self::User(user_id) => write!(formatter, "user:{user_id}"),
        }
    }
}

/// What an event concerns.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Subject {
    /// The installation as a whole.
    Installation,
    /// An organisation.
    Organisation(Cvr),
    /// A user.
    User(UserId),
}

impl fmt::Display for Subject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Installation => formatter.write_str("installation"),
            Self::Organisation(cvr) => write!(formatter, "org:{cvr}"),
            Self::User(user_id) => write!(formatter, "user:{user_id}"),
        }
    }
}

/// The circumstances of an event: who, from where, and in which request or session.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuditContext {
    /// Who caused it.
    pub actor: Actor,
    /// The client address, for events caused over the network.
    pub source: Option<IpAddr>,
    /// A correlation ID tying the event to a request or session (never the session cookie).
    pub correlation_id: Option<String>,
}

impl AuditContext {
    /// The context of a command-line operation by the current operating-system user.
    pub fn cli() -> Self {
        let os_user = std::env::var("USER").ok().filter(|name| !name.is_empty());
        Self {
            actor: Actor::Cli { os_user },
            source: None,
            correlation_id: None,
        }
    }

    /// The context of something Portner does by itself.
    pub fn system() -> Self {
        Self {
            actor: Actor::System,
            source: None,
            correlation_id: None,
        }
    }
}
