//! Portner's identity provider: the HTTP server and the `portner` command line.
//!
//! This crate is the outermost layer. It turns configuration into a running server, owns the
//! data folder (database file and generated keys), and offers the operations that change users
//! and organisations as small services that write the change and its audit event in one
//! transaction ([`directory`]). Protocol work (SAML, WebAuthn) arrives with later issues and
//! lives in its own modules here.

pub mod api;
pub mod app;
pub mod cli;
mod commands;
pub mod console;
pub mod datadir;
pub mod directory;
mod health;
pub mod keys;
mod logging;
pub mod notify;
pub mod policy;
pub mod saml;
pub mod scim;
mod security_headers;
pub mod signin;
mod sync_metrics;
pub mod sync_queue;
