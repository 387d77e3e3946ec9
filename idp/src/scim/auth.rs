//! Who is calling: the extractor that turns `Authorization: Bearer …` into a [`ScimClient`].
//!
//! A missing header, another scheme, a malformed, unknown, expired or revoked token all get
//! the same 401 body (STYLE.md 3.11); the log says which, without the token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use portner_audit::{Actor, AuditContext};
use portner_shared::domain::{Organisation, ScimToken};

use super::error::ScimError;
use crate::app::AppState;

/// An authenticated SCIM client: its token, the one organisation it acts in, and the audit
/// context of its changes.
#[derive(Debug)]
pub struct ScimClient {
    /// The token presented (its description; the secret is not kept).
    pub token: ScimToken,
    /// The organisation the token is scoped to.
    pub organisation: Organisation,
    /// Actor `scim:<token id>`, with the client's address.
    pub context: AuditContext,
}

impl FromRequestParts<AppState> for ScimClient {
    type Rejection = ScimError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(presented) = bearer(parts) else {
            tracing::warn!(target: "portner::security", "SCIM request without a bearer token");
            return Err(ScimError::unauthorized());
        };
        let now = state.clock.now();
        let Some(token) = super::token::authenticate(&state.store, now, presented).await? else {
            tracing::warn!(
                target: "portner::security",
                "SCIM request with an unknown, expired or revoked token"
            );
            return Err(ScimError::unauthorized());
        };

        let mut tx = state.store.read().await?;
        let organisation = tx.organisation(&token.org).await?;
        tx.rollback().await?;
        let organisation = organisation.ok_or_else(ScimError::unauthorized)?;

        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let context = AuditContext {
            actor: Actor::ScimClient(token.id),
            source,
            correlation_id: None,
        };
        Ok(Self {
            token,
            organisation,
            context,
        })
    }
}

/// The token of an `Authorization: Bearer …` header (RFC 6750 §2.1; the scheme name is
/// case-insensitive, RFC 9110 §11.1).
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}
