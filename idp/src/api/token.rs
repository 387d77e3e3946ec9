//! JSON API tokens (issue 5, item 4): making one for a staff user, revoking it, and finding
//! the token a client presented. Secrets are made as the SCIM tokens' are (256 random bits,
//! base64url, behind their own prefix) and only their SHA-256 is stored and looked up.

use chrono::{DateTime, TimeDelta, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::domain::{ApiScope, ApiToken, ApiTokenId, Username};
use portner_shared::store::{Store, StoreError, Tx};

use crate::directory::DirectoryError;
use crate::scim::token::{TokenError, TokenSecret, presented_digest};

/// What every API token starts with.
pub const PREFIX: &str = "portner_api_";

/// Longest validity a token may be given, in days: a year, so that every token is renewed
/// and reviewed at least that often.
pub const MAX_DAYS: u16 = 365;

/// Creates a token for the user `username`, with its audit event in one transaction.
/// Returns the stored description and the secret, which exists nowhere else afterwards.
///
/// # Errors
///
/// [`DirectoryError::NotFound`] if there is no such user; a conflict if they already have a
/// token of that name.
pub async fn create(
    store: &Store,
    now: DateTime<Utc>,
    context: &AuditContext,
    username: &Username,
    name: String,
    scope: ApiScope,
    days: u16,
) -> Result<(ApiToken, TokenSecret), TokenError> {
    let secret = TokenSecret::generate_with(PREFIX).map_err(|_| TokenError::Random)?;
    let mut tx = store.begin().await.map_err(DirectoryError::from)?;
    let user = tx
        .user_by_username(username)
        .await
        .map_err(DirectoryError::from)?
        .ok_or(DirectoryError::NotFound("user"))?;
    let token = ApiToken {
        id: ApiTokenId::random(),
        user_id: user.id,
        name,
        scope,
        created_by: context.actor.to_string(),
        created_at: now,
        expires_at: now + TimeDelta::days(i64::from(days.min(MAX_DAYS))),
        revoked_at: None,
    };
    tx.insert_api_token(&token, &secret.digest())
        .await
        .map_err(DirectoryError::from)?;

    let event = AuditEvent::ApiTokenCreated {
        token_id: token.id,
        user_id: user.id,
        name: token.name.clone(),
        scope: scope.as_str().to_owned(),
        expires: token.expires_at.to_rfc3339(),
    };
    append(&mut tx, now, context, &event, &token).await?;
    tx.commit().await.map_err(DirectoryError::from)?;
    Ok((token, secret))
}

/// Revokes the token `name` of `username`, audited. Returns `false` if it was revoked
/// already.
///
/// # Errors
///
/// [`DirectoryError::NotFound`] if there is no such user or token.
pub async fn revoke(
    store: &Store,
    now: DateTime<Utc>,
    context: &AuditContext,
    username: &Username,
    name: &str,
) -> Result<bool, TokenError> {
    let mut tx = store.begin().await.map_err(DirectoryError::from)?;
    let user = tx
        .user_by_username(username)
        .await
        .map_err(DirectoryError::from)?
        .ok_or(DirectoryError::NotFound("user"))?;
    let token = tx
        .revoke_api_token(user.id, name, now)
        .await
        .map_err(DirectoryError::from)?
        .ok_or(DirectoryError::NotFound("API token"))?;
    if token.revoked_at.is_some() {
        return Ok(false);
    }

    let event = AuditEvent::ApiTokenRevoked {
        token_id: token.id,
        user_id: user.id,
    };
    append(&mut tx, now, context, &event, &token).await?;
    tx.commit().await.map_err(DirectoryError::from)?;
    Ok(true)
}

/// The usable token a client presented, or `None` for one that is malformed, unknown,
/// expired or revoked: the caller answers all of these alike.
///
/// # Errors
///
/// The store failed.
pub async fn authenticate(
    store: &Store,
    now: DateTime<Utc>,
    presented: &str,
) -> Result<Option<ApiToken>, StoreError> {
    let Some(presented_digest) = presented_digest(presented, PREFIX) else {
        return Ok(None);
    };
    let mut tx = store.read().await?;
    let token = tx.api_token_by_hash(&presented_digest).await?;
    tx.rollback().await?;
    Ok(token.filter(|token| token.is_usable(now)))
}

async fn append(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    event: &AuditEvent,
    token: &ApiToken,
) -> Result<(), DirectoryError> {
    let subject = Subject::User(token.user_id);
    portner_audit::append(tx, now, context, &subject, event).await?;
    Ok(())
}
