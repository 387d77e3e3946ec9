//! Portner's audit trail: typed security events appended to a hash chain in the same database
//! transaction as the change they describe, signed checkpoints that anchor the chain, and the
//! evidence pack auditors take away and verify offline.
//!
//! Each record's SHA-256 hash covers its canonical content and the previous record's hash, so
//! editing, deleting, inserting or reordering records breaks the chain at a sequence number the
//! verifier reports (ASVS 16.4.2; LG-5 in `oiosaml3-nsis.md`). A chain alone cannot stop
//! someone with write access from recomputing every hash after an edit; signed checkpoints
//! ([`checkpoint`]) close that gap with a key the database does not hold. Retention
//! ([`retention`]) removes whole segments up to a checkpoint, which becomes the new anchor.
//! The evidence pack ([`evidence`]) bundles a period's events, summaries, the NSIS control
//! matrix, inventories and a report, signed with the audit key and verifiable offline.
//!
//! Logs are not the audit trail: `tracing` output is for operators, these records are
//! evidence (STYLE.md 3.10).

#![warn(missing_docs)]

mod chain;
pub mod checkpoint;
pub mod config_history;
mod event;
pub mod evidence;
pub mod retention;
mod verify;

pub use chain::{AuditRecord, append, recent_about, records};
pub use checkpoint::{AuditSigner, AuditVerifier, Checkpoint, CheckpointSchedule, Head};
pub use event::{Actor, AuditContext, AuditEvent, Subject};
pub use verify::{
    Break, ChainVerdict, CheckpointBreak, CheckpointProblem, Verification, anchor, verify,
    verify_with_checkpoints,
};

/// Why the audit trail could not be written, read, pruned or exported.
///
/// Each variant has a stable code ([`AuditError::code`]) for scripts and documentation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] portner_shared::store::StoreError),
    /// An event could not be serialised; not expected for the typed events.
    #[error("audit event could not be serialised: {0}")]
    Serialise(#[from] serde_json::Error),
    /// The audit key or a signature is unusable.
    #[error("audit key: {0}")]
    Key(&'static str),
    /// OpenSSL failed while signing or reading a certificate.
    #[error("cryptographic library failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An input is larger than Portner reads.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was being read.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// A line of an input file is not what it should be.
    #[error("{what}: line {line} is malformed")]
    Malformed {
        /// The file.
        what: String,
        /// The line, from 1.
        line: usize,
    },
    /// Pruning was asked to cut at a sequence number that is not a checkpoint beyond the
    /// anchor; pruning never cuts between checkpoints.
    #[error(
        "record {seq} is not a checkpoint beyond the current anchor; pruning cuts only at \
         checkpoints"
    )]
    NotACheckpoint {
        /// The requested sequence number.
        seq: i64,
    },
    /// A record before the requested cut is still within its retention period.
    #[error(
        "cannot prune through {seq}: record {blocking_seq} is still within its retention period"
    )]
    RetentionNotReached {
        /// The requested checkpoint.
        seq: i64,
        /// The first record that must be kept.
        blocking_seq: i64,
    },
    /// The requested export period is unusable (empty, reversed, or beyond retention).
    #[error("{0}")]
    Period(String),
    /// The zip archive could not be written or read.
    #[error("zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// A stored `CONFIGURATION_APPLIED` record does not hold a readable settings snapshot.
    #[error("audit record {seq} (CONFIGURATION_APPLIED) holds no readable settings snapshot")]
    Snapshot {
        /// The record's sequence number.
        seq: i64,
    },
}

impl AuditError {
    /// The stable error code, `AUD` plus four digits; never reused or renumbered.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(_) => "AUD0001",
            Self::Serialise(_) => "AUD0002",
            Self::Key(_) => "AUD0003",
            Self::Crypto(_) => "AUD0004",
            Self::Io { .. } => "AUD0005",
            Self::TooLarge { .. } => "AUD0006",
            Self::Malformed { .. } => "AUD0007",
            Self::NotACheckpoint { .. } => "AUD0008",
            Self::RetentionNotReached { .. } => "AUD0009",
            Self::Period(_) => "AUD0010",
            Self::Zip(_) => "AUD0011",
            Self::Snapshot { .. } => "AUD0012",
        }
    }
}

impl From<sqlx::Error> for AuditError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}
