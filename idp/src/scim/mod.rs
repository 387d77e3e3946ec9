//! SCIM 2.0 provisioning at `/scim/v2` (RFC 7643 schema, RFC 7644 protocol; issue 5, item 5).
//!
//! An organisation's IdM or HR system creates, changes, disables and deletes that
//! organisation's users here, with a bearer token from `portner scim token create`. Every
//! change goes through [`crate::directory`], so it is written in one transaction with its
//! audit event and the MitID Erhverv sync actions, exactly as a change from the CLI would be.
//! This module owns the SCIM wire format: the resource representation, filters, PATCH and
//! errors. Groups are not served yet (see `docs/scim.md`).

pub mod token;
