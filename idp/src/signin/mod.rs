//! Sign-in: the network password and a WebAuthn credential, activation with a one-time code,
//! server-side NSIS sessions, lockout and throttling, and the pages that offer them (issue 3).
//!
//! [`SignIn`] holds everything the flows need (store, clock, policy, Argon2id, WebAuthn, the
//! throttle). The flows ([`activation`], [`login`], [`account`]) are plain async functions that
//! write each change and its audit event in one transaction; [`pages`] turns them into
//! server-rendered HTML, and the tests drive them through the same router.

pub mod account;
pub mod activation;
pub mod live_policy;
pub mod login;
pub mod pages;
pub mod password;
pub mod recovery;
pub mod session;
pub mod throttle;
pub mod webauthn;

pub(crate) mod html;

use std::net::IpAddr;
use std::sync::Arc;

use portner_audit::{Actor, AuditContext};
use portner_shared::Clock;
use portner_shared::config::SignInSettings;
use portner_shared::domain::UserId;
use portner_shared::store::{Store, StoreError};

pub use password::{Password, Passwords, PolicyViolation};
pub use session::{Factors, SessionCookie};

/// Why a sign-in operation failed. Pages map every authentication failure to one answer;
/// the variant (and the audit trail) keeps the reason.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// A field is missing, malformed or too long.
    #[error("BAD_INPUT: {0}")]
    BadInput(&'static str),
    /// Username, password, code or credential did not check out; deliberately vague.
    #[error("AUTHENTICATION_FAILED")]
    Failed,
    /// Too many failures from this source address; try again later.
    #[error("THROTTLED")]
    Throttled,
    /// The new password breaks the policy.
    #[error("{0}")]
    Policy(#[from] PolicyViolation),
    /// The operation needs a (fresh) session.
    #[error("SESSION_REQUIRED")]
    SessionRequired,
    /// The operation is not allowed as asked (e.g. removing the last credential).
    #[error("NOT_ALLOWED: {0}")]
    NotAllowed(&'static str),
    /// The store failed.
    #[error("STORE: {0}")]
    Store(#[from] StoreError),
    /// The audit trail failed; the change was not made.
    #[error("AUDIT: {0}")]
    Audit(#[from] portner_audit::AuditError),
    /// Something that should not fail did (random source, hashing, serialisation).
    #[error("INTERNAL: {0}")]
    Internal(String),
}

/// Where a request came from: the client address and a correlation ID for the audit trail.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The client address, when known.
    pub source: Option<IpAddr>,
    /// Ties events of one sign-in session together (never the cookie value).
    pub correlation_id: Option<String>,
}

impl Origin {
    /// The audit context for an action by `actor` from this origin.
    pub fn audit(&self, actor: Option<UserId>) -> AuditContext {
        AuditContext {
            actor: actor.map_or(Actor::System, Actor::User),
            source: self.source,
            correlation_id: self.correlation_id.clone(),
        }
    }
}

/// Everything the sign-in flows need.
#[derive(Clone, Debug)]
pub struct SignIn {
    /// The store.
    pub store: Store,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
    /// The policy in force: the configuration's values with the administrators' overrides
    /// ([`live_policy`]); read it through [`Self::settings`].
    pub policy: Arc<live_policy::LivePolicy>,
    /// Argon2id under the configured parameters.
    pub passwords: Passwords,
    /// The WebAuthn relying party.
    pub webauthn: webauthn::RelyingParty,
    /// Per-source throttle of failed attempts.
    pub throttle: throttle::Throttle,
    /// Whether cookies carry `Secure` and the `__Host-` prefix (an https public URL).
    pub secure_cookies: bool,
}

impl SignIn {
    /// Builds the sign-in services for the installation at `public_url`.
    ///
    /// # Errors
    ///
    /// [`SignInError::Internal`] if the public URL cannot serve as a WebAuthn origin (it must
    /// be https, or http on `localhost`, W12) or the Argon2id parameters are refused.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        settings: SignInSettings,
        public_url: &str,
    ) -> Result<Self, SignInError> {
        let url = url::Url::parse(public_url)
            .map_err(|error| SignInError::Internal(format!("public_url: {error}")))?;
        let passwords = Passwords::new(&settings)?;
        let policy = live_policy::LivePolicy::new(settings, passwords.min_length());
        Ok(Self {
            store,
            clock,
            policy: Arc::new(policy),
            passwords,
            webauthn: webauthn::RelyingParty::new(&url)?,
            throttle: throttle::Throttle::new(settings.throttle_failures_per_minute),
            secure_cookies: url.scheme() == "https",
        })
    }
}

impl SignIn {
    /// The sign-in policy in force now.
    pub fn settings(&self) -> SignInSettings {
        self.policy.current()
    }

    /// Reads the administrators' policy overrides again and puts them in force.
    ///
    /// # Errors
    ///
    /// The store failed; the policy in force stays as it was.
    pub async fn refresh_policy(&self) -> Result<SignInSettings, StoreError> {
        self.policy.refresh(&self.store).await
    }
}

/// A random identifier of `N` bytes, hex-encoded.
pub(crate) fn random_hex<const N: usize>() -> Result<String, SignInError> {
    password::random_bytes::<N>().map(hex::encode)
}
