//! The sync outbox: actions for MitID Erhverv, written in the same transaction as the change
//! that causes them, and drained by the sync worker.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Cvr, ParseError, UserId};

/// What the worker must make MitID Erhverv do.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SyncAction {
    /// Create the user, or bind an existing identity, and bring the profile in step.
    UpsertUser {
        /// The user.
        user_id: UserId,
    },
    /// Suspend the identity.
    SuspendUser {
        /// The user.
        user_id: UserId,
    },
    /// Bring the user's rights in step.
    SyncRights {
        /// The user.
        user_id: UserId,
    },
    /// Delete the identity.
    DeleteUser {
        /// The user.
        user_id: UserId,
        /// The employee UUID, snapshotted because the local user may be gone by the time the
        /// worker runs (mitid-erhverv-idm-api.md §7.2).
        #[serde(default)]
        employee_uuid: Option<String>,
    },
}

/// Where an outbox action is in its life.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for a worker, possibly until a retry time.
    Pending,
    /// Claimed by a worker.
    Running,
    /// Done.
    Succeeded,
    /// Given up after the retry limit; the reason is recorded.
    Failed,
}

impl OutboxState {
    /// The name used in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

impl SyncAction {
    /// The user the action concerns.
    pub const fn user_id(&self) -> UserId {
        match self {
            Self::UpsertUser { user_id }
            | Self::SuspendUser { user_id }
            | Self::SyncRights { user_id }
            | Self::DeleteUser { user_id, .. } => *user_id,
        }
    }

    /// A stable name for audit and status output.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::UpsertUser { .. } => "upsert_user",
            Self::SuspendUser { .. } => "suspend_user",
            Self::SyncRights { .. } => "sync_rights",
            Self::DeleteUser { .. } => "delete_user",
        }
    }

    /// The idempotency key: a second pending action with the same key is not queued, because
    /// the worker re-reads the desired state when it runs (§7.2 coalescing).
    pub fn dedupe_key(&self) -> String {
        format!("{}:{}", self.name(), self.user_id())
    }
}

impl FromStr for OutboxState {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "pending" => Ok(Self::Pending),
            "running" => Ok(Self::Running),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            _ => Err(ParseError::new("state", "unknown outbox state")),
        }
    }
}

/// One queued action.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct OutboxAction {
    /// Store-assigned sequence.
    pub id: i64,
    /// The organisation whose MitID Erhverv tenant the action goes to.
    pub org: Cvr,
    /// The action.
    pub action: SyncAction,
    /// Life state.
    pub state: OutboxState,
    /// How many times it has been tried.
    pub attempts: i64,
    /// Not to be tried before this time.
    pub not_before: DateTime<Utc>,
    /// Why the last attempt failed, as an error code.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}
