//! Portner's shared ground: the domain types every other crate speaks, the configuration,
//! the injected clock, and the [`store::Store`] over SQLite (the embedded default) and
//! PostgreSQL (for several replicas).
//!
//! Nothing here knows HTTP, SAML or the audit trail's format. Higher crates compose the store's
//! transactions with their own writes, so that a change, its audit event and its outbox actions
//! commit together (DESIGN.md, "How data flows", step 4).

#![warn(missing_docs)]

pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod store;

pub use clock::{Clock, FixedClock, SystemClock};
