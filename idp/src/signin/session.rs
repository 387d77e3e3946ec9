//! Server-side NSIS sessions: the cookie, the per-factor record and the level (SS-1 to SS-6).
//!
//! The browser holds a random 256-bit identifier; the store holds its SHA-256, so a copy of
//! the database yields no usable cookie (SS-3). Every sign-in step issues a new identifier
//! (SS-5). The level is recomputed from the factor times on every use, so a session quietly
//! drops from Substantial to Low when the second factor is older than its freshness window,
//! and to None when the password is (SS-1, SS-2).
//!
//! Known gap: a session ends (and its end is audited) when its cookie is next presented after
//! the idle or absolute limit. Sessions never presented again stay in the store until then;
//! there is no sweeper yet (`Tx::delete_expired_sessions` exists for one).

use chrono::{DateTime, Duration, Utc};
use portner_audit::{AuditEvent, Subject};
use portner_shared::config::SignInSettings;
use portner_shared::crypto::sha256;
use portner_shared::domain::{NsisLevel, Session, User, UserId};
use portner_shared::store::Tx;
use serde::{Deserialize, Serialize};

use super::{Origin, SignIn, SignInError, random_hex};

/// How often a session's last-seen time is written back (see [`load`]).
const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// The factors a session rests on, stored as the session's `factors_json`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Factors {
    /// Correlation ID for the audit trail; stays the same across identifier rotations.
    pub correlation_id: String,
    /// The account's identity-assurance level when the session began.
    pub identity_level: NsisLevel,
    /// When the password was last verified.
    pub password_at: Option<DateTime<Utc>>,
    /// When a WebAuthn assertion was last verified, or the credential bound at activation.
    pub second_factor_at: Option<DateTime<Utc>>,
    /// The level of that credential (AU-5).
    pub credential_level: Option<NsisLevel>,
}

impl Factors {
    /// The level these factors give at `now` (SS-1): password alone gives at most Low;
    /// password and a fresh WebAuthn credential give the lowest of identity level, credential
    /// level and Substantial. Password + WebAuthn is not a High authenticator (AU-6).
    pub fn level(&self, now: DateTime<Utc>, settings: &SignInSettings) -> NsisLevel {
        let fresh = |at: Option<DateTime<Utc>>, minutes: u32| {
            at.is_some_and(|at| now - at < Duration::minutes(i64::from(minutes)))
        };
        if !fresh(self.password_at, settings.session_password_fresh_minutes) {
            return NsisLevel::None;
        }
        let password_only = self.identity_level.min(NsisLevel::Low);
        if !fresh(
            self.second_factor_at,
            settings.session_second_factor_fresh_minutes,
        ) {
            return password_only;
        }
        let credential = self.credential_level.unwrap_or(NsisLevel::None);
        self.identity_level
            .min(credential)
            .min(NsisLevel::Substantial)
            .max(password_only)
    }

    /// Whether the password is within its freshness window (SS-2).
    pub fn password_fresh(&self, now: DateTime<Utc>, settings: &SignInSettings) -> bool {
        self.password_at.is_some_and(|at| {
            now - at < Duration::minutes(i64::from(settings.session_password_fresh_minutes))
        })
    }

    /// The time of the most recent factor: the assertion's `AuthnInstant` (RS-8).
    pub fn last_authenticated(&self) -> Option<DateTime<Utc>> {
        self.password_at.max(self.second_factor_at)
    }

    /// Whether the second factor is within its freshness window (what self-service changes
    /// demand, ASVS 7.5.1).
    pub fn second_factor_fresh(&self, now: DateTime<Utc>, settings: &SignInSettings) -> bool {
        self.second_factor_at.is_some_and(|at| {
            now - at < Duration::minutes(i64::from(settings.session_second_factor_fresh_minutes))
        })
    }
}

/// The session cookie's name and attributes.
#[derive(Clone, Copy, Debug)]
pub struct SessionCookie;

impl SessionCookie {
    /// The cookie name: `__Host-` prefixed on https (SS-3). On plain http (only sensible on
    /// localhost during development and tests) the prefix would make browsers drop the
    /// cookie, so a plain name is used.
    pub const fn name(secure: bool) -> &'static str {
        if secure {
            "__Host-portner-session"
        } else {
            "portner-session"
        }
    }

    /// The `Set-Cookie` value for a new session identifier.
    ///
    /// `SameSite=Lax` rather than `Strict` or `None` (SS-4): a service provider's POST-binding
    /// AuthnRequest is a cross-site POST, on which a Lax cookie is not sent, so the SAML
    /// endpoint stores the request server-side and answers with a same-origin 303 to a GET,
    /// where the Lax cookie is present and the session is found. `Strict` would also drop the
    /// cookie on the first top-level GET arriving from an SP link; `None` would need
    /// cross-site CSRF defences on every endpoint.
    pub fn set(value: &str, secure: bool) -> String {
        let secure_attribute = if secure { "; Secure" } else { "" };
        format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax{secure_attribute}",
            Self::name(secure)
        )
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn clear(secure: bool) -> String {
        let secure_attribute = if secure { "; Secure" } else { "" };
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure_attribute}",
            Self::name(secure)
        )
    }
}

/// The stored form of a cookie value.
pub fn hash_id(value: &str) -> Vec<u8> {
    sha256(value.as_bytes()).to_vec()
}

/// A session read back and checked: still within its idle and absolute limits.
#[derive(Clone, Debug)]
pub struct ActiveSession {
    /// The stored session.
    pub session: Session,
    /// Its factors.
    pub factors: Factors,
    /// The level at the time of the request.
    pub level: NsisLevel,
}

/// Starts a session inside `tx` and returns the cookie value; the caller commits.
///
/// # Errors
///
/// The store failed or the random source failed.
pub async fn create(
    tx: &mut Tx,
    signin: &SignIn,
    user: &User,
    factors: &Factors,
    now: DateTime<Utc>,
) -> Result<String, SignInError> {
    let value = random_hex::<32>()?;
    let lifetime = Duration::minutes(i64::from(signin.settings().session_lifetime_minutes));
    let session = Session {
        id_hash: hash_id(&value),
        user_id: user.id,
        level: factors.level(now, &signin.settings()),
        factors_json: serde_json::to_string(factors)
            .map_err(|error| SignInError::Internal(error.to_string()))?,
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime,
    };
    tx.insert_session(&session).await?;
    Ok(value)
}

/// Replaces a session by a new identifier with updated factors (SS-5), keeping its creation
/// time and absolute end. Returns the new cookie value.
///
/// # Errors
///
/// The store failed or the random source failed.
pub async fn rotate(
    tx: &mut Tx,
    signin: &SignIn,
    old: &Session,
    factors: &Factors,
    now: DateTime<Utc>,
) -> Result<String, SignInError> {
    let value = random_hex::<32>()?;
    tx.delete_session(&old.id_hash).await?;
    let session = Session {
        id_hash: hash_id(&value),
        user_id: old.user_id,
        level: factors.level(now, &signin.settings()),
        factors_json: serde_json::to_string(factors)
            .map_err(|error| SignInError::Internal(error.to_string()))?,
        created_at: old.created_at,
        last_seen_at: now,
        expires_at: old.expires_at,
    };
    tx.insert_session(&session).await?;
    Ok(value)
}

/// Finds the session a cookie value names and checks its idle and absolute limits. An
/// expired session is deleted and its end audited (`SESSION_ENDED`, SS-2); a live one has its
/// last-seen time and level refreshed.
///
/// # Errors
///
/// The store or audit trail failed.
pub async fn load(
    signin: &SignIn,
    cookie_value: Option<&str>,
    origin: &Origin,
) -> Result<Option<ActiveSession>, SignInError> {
    let Some(value) = cookie_value.filter(|value| value.len() == 64) else {
        return Ok(None);
    };
    let now = signin.clock.now();
    let mut read = signin.store.read().await?;
    let found = read.session(&hash_id(value)).await?;
    read.rollback().await?;
    let Some(mut session) = found else {
        return Ok(None);
    };
    let factors: Factors = serde_json::from_str(&session.factors_json)
        .map_err(|error| SignInError::Internal(format!("session factors: {error}")))?;
    let idle = Duration::minutes(i64::from(signin.settings().session_idle_minutes));
    let ended = if session.expires_at <= now {
        Some("expired")
    } else if session.last_seen_at + idle <= now {
        Some("idle")
    } else {
        None
    };
    if let Some(reason) = ended {
        // Read and delete are separate transactions: of two requests that find the same
        // session expired, only the one whose delete removes it audits the end.
        let mut tx = signin.store.begin().await?;
        if tx.delete_session(&session.id_hash).await? {
            let origin = Origin {
                correlation_id: Some(factors.correlation_id.clone()),
                ..origin.clone()
            };
            audit_end(&mut tx, now, &origin, session.user_id, reason).await?;
        }
        tx.commit().await?;
        return Ok(None);
    }

    // The last-seen time is written at most once a minute: every page and every SSO
    // response reads the session, and a write per read would serialise them all on SQLite's
    // single writer. The idle limit is therefore honoured to within a minute.
    let level = factors.level(now, &signin.settings());
    if now - session.last_seen_at >= TOUCH_INTERVAL || level != session.level {
        session.last_seen_at = now;
        session.level = level;
        let mut tx = signin.store.begin().await?;
        tx.update_session(&session).await?;
        tx.commit().await?;
    }
    Ok(Some(ActiveSession {
        session,
        factors,
        level,
    }))
}

/// Writes a `SESSION_ENDED` event.
///
/// # Errors
///
/// The audit trail failed.
pub async fn audit_end(
    tx: &mut Tx,
    now: DateTime<Utc>,
    origin: &Origin,
    user_id: UserId,
    reason: &str,
) -> Result<(), SignInError> {
    let event = AuditEvent::SessionEnded {
        user_id,
        reason: reason.to_owned(),
    };
    portner_audit::append(
        tx,
        now,
        &origin.audit(Some(user_id)),
        &Subject::User(user_id),
        &event,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn factors(identity: NsisLevel, credential: Option<NsisLevel>) -> Factors {
        let start = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        Factors {
            correlation_id: "c".to_owned(),
            identity_level: identity,
            password_at: Some(start),
            second_factor_at: credential.map(|_| start),
            credential_level: credential,
        }
    }

    #[test]
    fn level_is_the_minimum_of_identity_credential_and_freshness() {
        let settings = SignInSettings::default();
        let start = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        let full = factors(NsisLevel::Substantial, Some(NsisLevel::Substantial));

        assert_eq!(full.level(start, &settings), NsisLevel::Substantial);
        assert_eq!(
            full.level(start + Duration::minutes(61), &settings),
            NsisLevel::Low
        );
        assert_eq!(
            full.level(start + Duration::minutes(181), &settings),
            NsisLevel::None
        );
        let unproofed = factors(NsisLevel::Low, Some(NsisLevel::Substantial));
        assert_eq!(unproofed.level(start, &settings), NsisLevel::Low);
        let low_key = factors(NsisLevel::High, Some(NsisLevel::Low));
        assert_eq!(low_key.level(start, &settings), NsisLevel::Low);
        let password_only = factors(NsisLevel::Substantial, None);
        assert_eq!(password_only.level(start, &settings), NsisLevel::Low);
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_with_host_prefix_on_https() {
        let secure = SessionCookie::set("abc", true);
        assert_eq!(
            secure,
            "__Host-portner-session=abc; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!SessionCookie::set("abc", false).contains("Secure"));
    }
}
