//! SCIM client bearer tokens (RFC 7644 §2 leaves authentication to the service provider;
//! Portner uses RFC 6750 bearer tokens): making one, and finding the client a presented token
//! belongs to.
//!
//! A token is 256 random bits, base64url-encoded behind a fixed prefix so that secret scanners
//! can recognise a leaked one. The store keeps only its SHA-256 and finds the client by that
//! digest, so no stored secret is ever compared byte by byte with a presented one, and a copy
//! of the database does not let anyone provision. Expiry and revocation are checked after the
//! lookup; every failure looks the same to the client (STYLE.md 3.11).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::domain::{Cvr, ScimToken, ScimTokenId};
use portner_shared::store::{Store, StoreError, Tx};

use crate::directory::DirectoryError;

/// What every token starts with.
pub const PREFIX: &str = "portner_scim_";

/// Random bytes per token: 256 bits, twice the 128-bit floor for unguessable bearer secrets
/// (RFC 6750 §5.2 asks that they be infeasible to guess; OWASP's session cheat sheet asks for
/// at least 64 bits of entropy).
const SECRET_BYTES: usize = 32;

/// The longest a presented token may be before it is refused unread: the prefix and the
/// encoded secret, with room to spare.
const MAX_PRESENTED_LEN: usize = 128;

/// A token's secret, shown once when it is created. `Debug` hides it.
pub struct TokenSecret(String);

impl TokenSecret {
    /// A fresh random secret.
    ///
    /// # Errors
    ///
    /// The system's random source failed.
    pub fn generate() -> Result<Self, openssl::error::ErrorStack> {
        Self::generate_with(PREFIX)
    }

    /// A fresh random secret behind another `prefix` (the JSON API's tokens use their own, so
    /// that neither kind is accepted where the other belongs).
    ///
    /// # Errors
    ///
    /// The system's random source failed.
    pub fn generate_with(prefix: &str) -> Result<Self, openssl::error::ErrorStack> {
        let mut bytes = [0_u8; SECRET_BYTES];
        openssl::rand::rand_bytes(&mut bytes)?;
        Ok(Self(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))))
    }

    /// The secret, to print once for the operator. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest the store keeps.
    pub fn digest(&self) -> [u8; 32] {
        digest(&self.0)
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("TokenSecret(<redacted>)")
    }
}

/// Creates a token for `org`, valid for `days`, with its audit event in one transaction.
/// Returns the stored description and the secret, which exists nowhere else afterwards.
///
/// # Errors
///
/// [`DirectoryError::NotFound`] if the organisation does not exist; a conflict if it already
/// has a token of that name.
pub async fn create(
    store: &Store,
    now: DateTime<Utc>,
    context: &AuditContext,
    org: &Cvr,
    name: String,
    days: u16,
) -> Result<(ScimToken, TokenSecret), TokenError> {
    let secret = TokenSecret::generate().map_err(|_| TokenError::Random)?;
    let token = ScimToken {
        id: ScimTokenId::random(),
        org: org.clone(),
        name,
        created_by: context.actor.to_string(),
        created_at: now,
        expires_at: now + TimeDelta::days(i64::from(days)),
        revoked_at: None,
    };
    let mut tx = store.begin().await.map_err(DirectoryError::from)?;
    if tx
        .organisation(org)
        .await
        .map_err(DirectoryError::from)?
        .is_none()
    {
        return Err(DirectoryError::NotFound("organisation").into());
    }
    tx.insert_scim_token(&token, &secret.digest())
        .await
        .map_err(DirectoryError::from)?;
    let event = AuditEvent::ScimTokenCreated {
        token_id: token.id,
        org: org.clone(),
        name: token.name.clone(),
        expires: token.expires_at.to_rfc3339(),
    };
    append(&mut tx, now, context, org, &event).await?;
    tx.commit().await.map_err(DirectoryError::from)?;
    Ok((token, secret))
}

/// Revokes `org`'s token called `name`, audited. Returns `false` if it was revoked already.
///
/// # Errors
///
/// [`DirectoryError::NotFound`] if there is no such token.
pub async fn revoke(
    store: &Store,
    now: DateTime<Utc>,
    context: &AuditContext,
    org: &Cvr,
    name: &str,
) -> Result<bool, TokenError> {
    let mut tx = store.begin().await.map_err(DirectoryError::from)?;
    let token = tx
        .revoke_scim_token(org, name, now)
        .await
        .map_err(DirectoryError::from)?
        .ok_or(DirectoryError::NotFound("SCIM token"))?;
    if token.revoked_at.is_some() {
        return Ok(false);
    }
    let event = AuditEvent::ScimTokenRevoked {
        token_id: token.id,
        org: org.clone(),
    };
    append(&mut tx, now, context, org, &event).await?;
    tx.commit().await.map_err(DirectoryError::from)?;
    Ok(true)
}

/// The usable token a client presented, or `None` for a token that is malformed, unknown,
/// expired or revoked: the caller answers all of these alike.
///
/// # Errors
///
/// The store failed.
pub async fn authenticate(
    store: &Store,
    now: DateTime<Utc>,
    presented: &str,
) -> Result<Option<ScimToken>, StoreError> {
    let Some(presented_digest) = presented_digest(presented, PREFIX) else {
        return Ok(None);
    };
    let mut tx = store.read().await?;
    let token = tx.scim_token_by_hash(&presented_digest).await?;
    tx.rollback().await?;
    Ok(token.filter(|token| token.is_usable(now)))
}

/// Why a token could not be created or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The directory refused or failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The system's random source failed.
    #[error("the random source failed")]
    Random,
}

/// The digest to look a presented token up by, or `None` for one too long or without
/// `prefix` (then no lookup is made: the answer is the same as for an unknown token).
pub(crate) fn presented_digest(presented: &str, prefix: &str) -> Option<[u8; 32]> {
    let plausible = presented.len() <= MAX_PRESENTED_LEN && presented.starts_with(prefix);
    plausible.then(|| digest(presented))
}

/// The SHA-256 the store keeps of a token.
fn digest(token: &str) -> [u8; 32] {
    portner_shared::crypto::sha256(token.as_bytes())
}

async fn append(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    org: &Cvr,
    event: &AuditEvent,
) -> Result<(), DirectoryError> {
    let subject = Subject::Organisation(org.clone());
    portner_audit::append(tx, now, context, &subject, event).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_prefixed_and_hidden_from_debug() {
        let first = TokenSecret::generate().unwrap();
        let second = TokenSecret::generate().unwrap();
        assert_ne!(first.expose(), second.expose());
        assert!(first.expose().starts_with(PREFIX));
        assert_eq!(first.expose().len(), PREFIX.len() + 43);
        assert_eq!(format!("{first:?}"), "TokenSecret(<redacted>)");
        assert_eq!(first.digest(), digest(first.expose()));
    }
}
