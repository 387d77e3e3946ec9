//! Portner's audit trail: typed security events appended to a hash chain in the same database
//! transaction as the change they describe, and a verifier that walks the chain.
//!
//! Each record's SHA-256 hash covers its canonical content and the previous record's hash, so
//! editing, deleting, inserting or reordering records breaks the chain at a sequence number the
//! verifier reports (ASVS 16.4.2; LG-5 in `oiosaml3-nsis.md`). A chain alone cannot stop
//! someone with write access from recomputing every hash after an edit; signed checkpoints,
//! which anchor the head with a key the database does not hold, close that gap and belong to
//! the evidence issue. Until they exist, the chain detects tampering by anyone who does not
//! rewrite the whole tail consistently, which is written down in `docs/limitations.md`.
//!
//! Logs are not the audit trail: `tracing` output is for operators, these records are
//! evidence (STYLE.md 3.10).

#![warn(missing_docs)]

mod chain;
mod event;
mod verify;

pub use chain::{AuditRecord, append, records};
pub use event::{Actor, AuditContext, AuditEvent, Subject};
pub use verify::{Break, ChainVerdict, verify};

/// Why the audit trail could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] portner_shared::store::StoreError),
    /// An event could not be serialised; not expected for the typed events.
    #[error("audit event could not be serialised: {0}")]
    Serialise(#[from] serde_json::Error),
}

impl From<sqlx::Error> for AuditError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}
