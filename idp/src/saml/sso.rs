//! Single sign-on: from a verified AuthnRequest to the assertion (issue 4, items 3 to 5 and 7;
//! DESIGN.md data flow, steps 1 to 3).
//!
//! 1. `/saml/sso` verifies the request ([`super::authn_request`]) and records its ID in the
//!    replay cache. If the browser's session already satisfies it, the assertion is issued
//!    there and then, in the same transaction (one commit per single sign-on). Otherwise the
//!    request is stored server-side under a random handle and answered with a 303 to
//!    `/saml/continue?request=<handle>`. After a cross-site POST the `SameSite=Lax` session
//!    cookie is absent; on that same-origin GET it is present (SS-4).
//! 2. `/saml/continue` weighs the session against the request ([`decide`]): enough level and
//!    freshness gives the assertion without a page (single sign-on); `IsPassive` without it
//!    gives `NoPassive` (AC-7); a fresh password with a missing or stale key asks for the key
//!    only (AC-9); anything else goes through the whole sign-in, which comes back here.
//! 3. The response is built outside any transaction, since signing is the expensive part.
//!    Then one transaction deletes the pending request, records the SP as a participant of
//!    the session (for single logout) and audits the issue; only if it commits is the page
//!    sent, so each request is answered once, even when two tabs race.

use chrono::{DateTime, Duration, Utc};
use portner_audit::{AuditEvent, Subject};
use portner_shared::config::SignInSettings;
use portner_shared::crypto::sha256;
use portner_shared::domain::{
    NsisLevel, Organisation, PendingSamlRequest, SamlParticipant, ServiceProvider, SpProfile, User,
    UserStatus,
};
use portner_shared::store::{StoreError, Tx};

use super::authn_request::{Comparison, RegisteredSp, RejectReason, VerifiedAuthnRequest};
use super::registry::{EncryptionProfile, SpSettings};
use super::response::{
    AssertionContent, ErrorResponse, ErrorStatus, ResponseError, ResponseOptions,
    build_error_response, build_response,
};
use super::sp_metadata::{MetadataError, SpMetadata};
use crate::app::AppState;
use crate::signin::session::{ActiveSession, Factors};
use crate::signin::{Origin, SignInError};

/// How long a verified request waits for the user to sign in. Long enough for a first
/// sign-in with a key found in a drawer; the SP's own state usually expires sooner.
pub const PENDING_LIFETIME: Duration = Duration::minutes(30);
/// How long an assertion may be used. TM-3 gives the bearer confirmation 5 minutes and the
/// conditions 10; the response builder sets one bound for both, so the stricter is used.
pub const ASSERTION_LIFETIME: Duration = Duration::minutes(5);

const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
const PROFESSIONAL_UUID: &str = "https://data.gov.dk/model/core/eid/professional/uuid/";
const LOA_CLASS: &str = "https://data.gov.dk/concept/core/nsis/loa/";
const SPEC_VERSION: &str = "https://data.gov.dk/model/core/specVersion";
const LOA: &str = "https://data.gov.dk/concept/core/nsis/loa";
const CVR: &str = "https://data.gov.dk/model/core/eid/professional/cvr";
const ORG_NAME: &str = "https://data.gov.dk/model/core/eid/professional/orgName";
const EMPLOYEE_UUID: &str = "https://data.gov.dk/model/core/eid/professional/uuid/persistent";
/// Attributes an own SP may be configured to receive beyond the core set (AT-9): the
/// attribute name and what it carries.
pub const RELEASABLE: [(&str, &str); 3] = [
    ("https://data.gov.dk/model/core/eid/email", "e-mail address"),
    (
        "https://data.gov.dk/model/core/eid/fullName",
        "display name",
    ),
    ("https://data.gov.dk/model/core/eid/cprNumber", "CPR number"),
];

/// The handle that names a pending request in the continue URL: 128 random bits as 32
/// lowercase hex digits. Only its hash is stored.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RequestHandle(String);

impl RequestHandle {
    /// Accepts exactly 32 lowercase hex digits; anything else names no request.
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Self(text.to_owned()))
    }

    pub(crate) fn generate() -> Result<Self, SsoError> {
        crate::signin::random_hex::<16>()
            .map(Self)
            .map_err(|error| SsoError::Internal(error.to_string()))
    }

    /// The handle text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where sign-in sends the browser back to.
    pub fn continue_path(&self) -> String {
        format!("/saml/continue?request={}", self.0)
    }

    pub(crate) fn hash(&self) -> Vec<u8> {
        sha256(self.0.as_bytes()).to_vec()
    }
}

/// A failure that is Portner's, not the request's: logged, answered with a 500 page.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The audit trail failed; nothing was answered.
    #[error("audit: {0}")]
    Audit(#[from] portner_audit::AuditError),
    /// The response could not be built.
    #[error("response: {0}")]
    Response(#[from] ResponseError),
    /// The session could not be read.
    #[error("session: {0}")]
    Session(#[from] SignInError),
    /// A value cannot be written as XML (A11).
    #[error(transparent)]
    Unrepresentable(#[from] super::canonical::UnrepresentableCharacter),
    /// Anything else that should not fail.
    #[error("{0}")]
    Internal(String),
}

/// What the browser gets next.
#[derive(Debug)]
pub enum Next {
    /// A 303 to this same-origin path.
    Redirect(String),
    /// The auto-submitting page that carries a Response (success or error) to the ACS.
    Post {
        /// The ACS URL from metadata.
        action: String,
        /// The Response, base64-encoded.
        message_base64: String,
        /// RelayState to return byte for byte (A5).
        relay_state: Option<String>,
    },
    /// Portner's own error page; nothing from the request is echoed.
    ErrorPage,
    /// A 303 to an SP's logout endpoint from metadata, carrying the LogoutResponse, with the
    /// session cookie cleared.
    Logout(String),
    /// The auto-submitting page that carries a logout message (a LogoutRequest passed on, or
    /// the LogoutResponse) to an SP's HTTP-POST logout endpoint, with the session cookie
    /// cleared.
    LogoutPost {
        /// The logout endpoint from metadata.
        action: String,
        /// Which form field carries the message.
        field: super::post_page::FormField,
        /// The signed message, base64-encoded.
        message_base64: String,
        /// RelayState: the logout's handle, or the initiator's own value byte for byte.
        relay_state: Option<String>,
    },
}

/// A registered SP with its parsed metadata and settings.
#[derive(Debug)]
pub struct LoadedSp {
    /// The stored registration.
    pub registration: ServiceProvider,
    /// Its metadata.
    pub metadata: SpMetadata,
    /// Portner's settings for it.
    pub settings: SpSettings,
}

impl LoadedSp {
    /// The SP as the request verifier needs it.
    pub fn verifier_view(&self) -> RegisteredSp {
        RegisteredSp {
            metadata: self.metadata.clone(),
            allow_sha1: self.settings.allow_sha1,
        }
    }
}

/// Loads and parses a registered SP. A registration that no longer parses counts as absent,
/// and is logged: requests from it cannot be verified.
///
/// # Errors
///
/// The store failed.
pub async fn load_sp(tx: &mut Tx, entity_id: &str) -> Result<Option<LoadedSp>, StoreError> {
    let Some(registration) = tx.service_provider(entity_id).await? else {
        return Ok(None);
    };
    let parsed = SpMetadata::parse(registration.metadata_xml.as_bytes())
        .map_err(|error: MetadataError| error.to_string())
        .and_then(|metadata| {
            serde_json::from_str::<SpSettings>(&registration.settings_json)
                .map(|settings| (metadata, settings))
                .map_err(|error| error.to_string())
        });
    match parsed {
        Ok((metadata, settings)) => Ok(Some(LoadedSp {
            registration,
            metadata,
            settings,
        })),
        Err(error) => {
            tracing::error!(entity_id, %error, "stored SP registration no longer parses");
            Ok(None)
        }
    }
}

/// The SP a message claims to come from, if registered; the verifier checks the claim. The
/// request verifiers look the issuer up synchronously and the registry is in the store, so the
/// issuer is read first from the same strictly parsed XML.
///
/// # Errors
///
/// The store failed.
pub async fn registered_sp(state: &AppState, xml: &[u8]) -> Result<Option<LoadedSp>, SsoError> {
    let Some(issuer) = claimed_issuer(xml) else {
        return Ok(None);
    };
    let mut read = state.store.read().await?;
    let sp = load_sp(&mut read, &issuer).await?;
    read.rollback().await?;
    Ok(sp)
}

/// The `Issuer` a message claims, before anything about it is trusted.
fn claimed_issuer(message_xml: &[u8]) -> Option<String> {
    let root = super::xml::parse(message_xml, super::xml::Limits::MESSAGE).ok()?;
    root.only_child(super::ASSERTION_NS, "Issuer")
        .and_then(super::xml::Element::simple_text)
        .map(str::to_owned)
}

/// Forgets expired request IDs, pending requests, session participants and logouts in one
/// transaction; `portner serve` runs it every minute, off the request path. Returns how many
/// rows went.
///
/// # Errors
///
/// The store failed.
pub async fn sweep_expired(
    store: &portner_shared::store::Store,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut tx = store.begin().await?;
    let removed =
        tx.forget_expired_request_ids(now).await? + tx.forget_expired_saml_state(now).await?;
    tx.commit().await?;
    Ok(removed)
}

/// The level an SP's request needs, and for `exact` the levels it accepts (AC-1, AC-3).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Requirement {
    /// The lowest level that satisfies both the SP's configured minimum and the request.
    pub needed: NsisLevel,
    /// Under `Comparison="exact"`, the levels that may be asserted.
    pub exact: Option<Vec<NsisLevel>>,
}

impl Requirement {
    /// Combines the SP's minimum with the request. `None` when no level Portner can reach
    /// would do (AC-4: Portner is notified at Substantial, so `High` can never be given).
    pub fn of(request: &VerifiedAuthnRequest, minimum: NsisLevel) -> Option<Self> {
        let levels = request
            .requested_context
            .as_ref()
            .map(|context| (context.comparison, context.levels.clone()))
            .filter(|(_, levels)| !levels.is_empty());
        let requirement = match levels {
            None => Self {
                needed: minimum,
                exact: None,
            },
            Some((Comparison::Minimum, levels)) => Self {
                needed: levels.iter().copied().min().unwrap_or(minimum).max(minimum),
                exact: None,
            },
            Some((Comparison::Exact, levels)) => {
                let acceptable: Vec<NsisLevel> = levels
                    .into_iter()
                    .filter(|level| *level >= minimum && *level <= NsisLevel::Substantial)
                    .collect();
                Self {
                    needed: acceptable.iter().copied().min()?,
                    exact: Some(acceptable),
                }
            }
        };
        (requirement.needed <= NsisLevel::Substantial).then_some(requirement)
    }

    /// The level to assert for a session at `achieved`, if it suffices. Under `exact` that is
    /// the highest accepted level not above the one achieved: an authentication that meets
    /// Substantial also meets Low, so asserting Low is true; a level above the achieved one
    /// is never asserted (AC-3).
    pub fn asserted(&self, achieved: NsisLevel) -> Option<NsisLevel> {
        if achieved < self.needed || achieved == NsisLevel::None {
            return None;
        }
        match &self.exact {
            None => Some(achieved),
            Some(levels) => levels
                .iter()
                .copied()
                .filter(|level| *level <= achieved)
                .max(),
        }
    }
}

/// What to do with a pending request, given the session.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Decision {
    /// Issue the assertion at this level.
    Issue(NsisLevel),
    /// Ask for the whole sign-in.
    SignIn,
    /// Ask only for the key (AC-9).
    StepUp,
    /// `IsPassive` and no session good enough (AC-7).
    NoPassive,
    /// The level cannot be reached for this user, or not at all (AC-4).
    NoAuthnContext,
    /// The helpdesk required a new password, which must be chosen first (AC-7, HD-*).
    ChangePassword,
}

/// Decides how to answer `request`, received at `received_at`, for a browser with `session`
/// (its factors), at `now`. Pure, so the rules of AC-4 to AC-9 are tested directly.
pub fn decide(
    request: &VerifiedAuthnRequest,
    requirement: Option<&Requirement>,
    received_at: DateTime<Utc>,
    session: Option<&Factors>,
    password_change_required: bool,
    now: DateTime<Utc>,
    settings: &SignInSettings,
) -> Decision {
    let Some(requirement) = requirement else {
        return Decision::NoAuthnContext;
    };
    let Some(factors) = session else {
        return if request.is_passive {
            Decision::NoPassive
        } else {
            Decision::SignIn
        };
    };
    // Nothing is issued while the helpdesk's demand for a new password stands (AC-7 lists
    // a pending password change among the reasons for NoPassive).
    if password_change_required {
        return if request.is_passive {
            Decision::NoPassive
        } else {
            Decision::ChangePassword
        };
    }

    // Under ForceAuthn only factors verified after the request arrived count (AC-6).
    let since_request = |at: Option<DateTime<Utc>>| at.is_some_and(|at| at >= received_at);
    let both_since_request =
        since_request(factors.password_at) && since_request(factors.second_factor_at);
    let usable = !request.force_authn || both_since_request;
    let achieved = factors.level(now, settings);
    if usable && let Some(level) = requirement.asserted(achieved) {
        return Decision::Issue(level);
    }

    if request.is_passive {
        return Decision::NoPassive;
    }
    // Nothing more to ask: the account's proofing caps it below the need, or both factors
    // were just given and still fall short (a Low credential). Asking again would loop.
    if factors.identity_level < requirement.needed || both_since_request {
        return Decision::NoAuthnContext;
    }
    if !request.force_authn && factors.password_fresh(now, settings) {
        return Decision::StepUp;
    }
    Decision::SignIn
}

/// Where a request was received and from whom: what step 1 needs besides the request.
#[derive(Clone, Copy, Debug)]
pub struct Arrival<'a> {
    /// `redirect` or `post`, for the audit trail.
    pub binding: &'a str,
    /// The clock skew allowed, which also bounds how long the request ID is remembered.
    pub skew: Duration,
    /// Source address and correlation ID.
    pub origin: &'a Origin,
    /// The session cookie the browser sent with the request, if any.
    pub session_cookie: Option<&'a str>,
}

/// Step 1: a verified request is checked against the replay cache and audited. When the
/// browser's session already satisfies it (single sign-on, SS-1), the assertion is issued at
/// once, in the same transaction; otherwise the request is stored for step 2. Returns where
/// the browser goes next.
///
/// # Errors
///
/// The store, session, response builder or audit trail failed.
pub async fn accept(
    state: &AppState,
    request: VerifiedAuthnRequest,
    sp: Option<&LoadedSp>,
    arrival: Arrival<'_>,
) -> Result<Next, SsoError> {
    if let Some(sp) = sp
        && let Some(answer) = answer_at_once(state, &request, sp, &arrival).await?
    {
        return accept_and_answer(state, &request, &arrival, answer).await;
    }
    store_pending(state, request, &arrival).await
}

/// The answer for a request the session satisfies as it is, built before any transaction.
/// `None` sends the request the long way (step 2), which handles every other case: no
/// session, step-up, `ForceAuthn`, errors, an account that can no longer sign in.
async fn answer_at_once(
    state: &AppState,
    request: &VerifiedAuthnRequest,
    sp: &LoadedSp,
    arrival: &Arrival<'_>,
) -> Result<Option<PreparedAnswer>, SsoError> {
    let Some(cookie) = arrival.session_cookie else {
        return Ok(None);
    };
    let session = crate::signin::session::load(&state.signin, Some(cookie), arrival.origin).await?;
    let Some(active) = session else {
        return Ok(None);
    };
    let now = state.clock.now();
    let requirement = Requirement::of(request, sp.settings.minimum_level);
    let decision = decide(
        request,
        requirement.as_ref(),
        now,
        Some(&active.factors),
        password_change_required(state, &active).await?,
        now,
        &state.signin.settings(),
    );
    let Decision::Issue(level) = decision else {
        return Ok(None);
    };
    prepare_answer(state, request, sp, &active, level).await
}

/// Accepts and answers in one transaction: one commit per single sign-on (performance.md).
/// A replay is refused exactly as on the long way, and the prepared answer is dropped unsent.
async fn accept_and_answer(
    state: &AppState,
    request: &VerifiedAuthnRequest,
    arrival: &Arrival<'_>,
    answer: PreparedAnswer,
) -> Result<Next, SsoError> {
    let mut tx = state.store.begin().await?;
    let replay_until = request.replay_window_end(arrival.skew);
    if !tx
        .remember_request_id(&request.issuer, &request.id, replay_until)
        .await?
    {
        audit_refusal(
            &mut tx,
            state,
            arrival.origin,
            Some(request),
            "REPLAY",
            false,
        )
        .await?;
        tx.commit().await?;
        return Ok(Next::ErrorPage);
    }
    audit_accepted(&mut tx, state, request, arrival).await?;
    record_answer(&mut tx, state, arrival.origin, &answer).await?;
    tx.commit().await?;
    Ok(answer.into_next(request))
}

/// Stores a request for step 2 and sends the browser there.
async fn store_pending(
    state: &AppState,
    request: VerifiedAuthnRequest,
    arrival: &Arrival<'_>,
) -> Result<Next, SsoError> {
    let (skew, origin) = (arrival.skew, arrival.origin);
    let now = state.clock.now();
    let handle = RequestHandle::generate()?;
    let request_json =
        serde_json::to_string(&request).map_err(|error| SsoError::Internal(error.to_string()))?;

    let mut tx = state.store.begin().await?;
    let replay_until = request.replay_window_end(skew);
    if !tx
        .remember_request_id(&request.issuer, &request.id, replay_until)
        .await?
    {
        // A replay (A6) is refused before anything is answered: the first use already got
        // its answer, and a second response would let the replayer collect it.
        audit_refusal(&mut tx, state, origin, Some(&request), "REPLAY", false).await?;
        tx.commit().await?;
        return Ok(Next::ErrorPage);
    }
    let pending = PendingSamlRequest {
        handle_hash: handle.hash(),
        request_json,
        received_at: now,
        expires_at: now + PENDING_LIFETIME,
    };
    tx.insert_pending_saml_request(&pending).await?;
    audit_accepted(&mut tx, state, &request, arrival).await?;
    tx.commit().await?;
    Ok(Next::Redirect(handle.continue_path()))
}

async fn audit_accepted(
    tx: &mut Tx,
    state: &AppState,
    request: &VerifiedAuthnRequest,
    arrival: &Arrival<'_>,
) -> Result<(), SsoError> {
    let event = AuditEvent::SamlRequestAccepted {
        issuer: request.issuer.clone(),
        request_id: request.id.clone(),
        binding: arrival.binding.to_owned(),
        force_authn: request.force_authn,
        is_passive: request.is_passive,
        requester_ids: request.requester_ids.clone(),
    };
    let subject = Subject::ServiceProvider(request.issuer.clone());
    let context = arrival.origin.audit(None);
    portner_audit::append(tx, state.clock.now(), &context, &subject, &event).await?;
    Ok(())
}

/// Whether the helpdesk has required a new password of the session's user.
async fn password_change_required(
    state: &AppState,
    active: &ActiveSession,
) -> Result<bool, SsoError> {
    let mut read = state.store.read().await?;
    let required = read
        .password_change_required(active.session.user_id)
        .await?;
    read.rollback().await?;
    Ok(required.is_some())
}

/// A request refused during verification: audited, then answered at the verified ACS when
/// there is one (RS-11) or on Portner's error page otherwise (RQ-8). A refusal before the
/// signature verified is untrusted, and audited within the source's allowance
/// ([`refuse_untrusted`]).
///
/// # Errors
///
/// The store, audit trail or response builder failed.
pub async fn refuse(
    state: &AppState,
    issuer: Option<&str>,
    error: &super::authn_request::RequestError,
    relay_state: Option<&str>,
    origin: &Origin,
) -> Result<Next, SsoError> {
    if !error.signed {
        audit_untrusted(state, origin, issuer, error.reason.code()).await?;
        return Ok(Next::ErrorPage);
    }
    let now = state.clock.now();
    let answer = match &error.reply_to {
        Some((acs, request_id)) => {
            let (status, detail) = status_for(error.reason);
            Some((
                acs,
                request_id,
                signed_error_response(state, &acs.location, request_id, status, detail)?,
            ))
        }
        None => None,
    };
    let mut tx = state.store.begin().await?;
    let event = AuditEvent::SamlRequestRefused {
        issuer: issuer.map(str::to_owned),
        request_id: answer.as_ref().map(|(_, id, _)| (*id).clone()),
        reason: error.reason.code().to_owned(),
        answered: answer.is_some(),
    };
    let subject = issuer.map_or(Subject::Installation, |issuer| {
        Subject::ServiceProvider(issuer.to_owned())
    });
    portner_audit::append(&mut tx, now, &origin.audit(None), &subject, &event).await?;
    tx.commit().await?;
    Ok(match answer {
        Some((acs, _, message_base64)) => Next::Post {
            action: acs.location.clone(),
            message_base64,
            relay_state: relay_state.map(str::to_owned),
        },
        None => Next::ErrorPage,
    })
}

/// A message refused before its issuer could be trusted (decoding failed, the request named
/// no registered SP, or its signature did not verify): answered on Portner's page (RQ-8) and
/// audited with the reason code, within the source's allowance; beyond it, counted into a
/// summary event instead (`super::refusal_limit`).
///
/// # Errors
///
/// The store or audit trail failed.
pub async fn refuse_untrusted(
    state: &AppState,
    reason: &'static str,
    origin: &Origin,
) -> Result<Next, SsoError> {
    if audit_untrusted(state, origin, None, reason).await? {
        tracing::debug!(reason, "SAML refusal counted, not audited on its own");
    }
    Ok(Next::ErrorPage)
}

/// Audits an untrusted refusal (`issuer` as claimed, unverified) within the source's
/// allowance, after the summary of its previous window if due; returns whether the refusal
/// was only counted.
async fn audit_untrusted(
    state: &AppState,
    origin: &Origin,
    issuer: Option<&str>,
    reason: &'static str,
) -> Result<bool, SsoError> {
    use super::refusal_limit::Admission;
    let now = state.clock.now();
    let closed = match state.saml_refusals.admit(origin.source, reason, now) {
        Admission::Suppress => return Ok(true),
        Admission::Audit { closed } => closed,
    };
    let written = write_untrusted(state, origin, issuer, reason, closed.as_ref()).await;
    if written.is_err() {
        // The summary was not written: it goes back to be written by the next sweep.
        state.saml_refusals.restore(closed);
    }
    written.map(|()| false)
}

async fn write_untrusted(
    state: &AppState,
    origin: &Origin,
    issuer: Option<&str>,
    reason: &str,
    closed: Option<&super::refusal_limit::Suppressed>,
) -> Result<(), SsoError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    if let Some(summary) = closed {
        let (context, event) = (summary.context(), summary.event());
        portner_audit::append(&mut tx, now, &context, &Subject::Installation, &event).await?;
    }
    let event = AuditEvent::SamlRequestRefused {
        issuer: issuer.map(str::to_owned),
        request_id: None,
        reason: reason.to_owned(),
        answered: false,
    };
    let subject = issuer.map_or(Subject::Installation, |issuer| {
        Subject::ServiceProvider(issuer.to_owned())
    });
    portner_audit::append(&mut tx, now, &origin.audit(None), &subject, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// A message from `issuer` whose signature verified but that is refused all the same
/// (Destination, age, replay, a missing SessionIndex): always audited, answered on Portner's
/// page.
///
/// # Errors
///
/// The store or audit trail failed.
pub async fn refuse_signed(
    state: &AppState,
    issuer: &str,
    reason: &str,
    origin: &Origin,
) -> Result<Next, SsoError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let event = AuditEvent::SamlRequestRefused {
        issuer: Some(issuer.to_owned()),
        request_id: None,
        reason: reason.to_owned(),
        answered: false,
    };
    let subject = Subject::ServiceProvider(issuer.to_owned());
    portner_audit::append(&mut tx, now, &origin.audit(None), &subject, &event).await?;
    tx.commit().await?;
    Ok(Next::ErrorPage)
}

/// The SAML status for a refusal after trust (RS-11, AC-4, AC-8).
fn status_for(reason: RejectReason) -> (ErrorStatus, &'static str) {
    match reason {
        RejectReason::AuthnContext => (ErrorStatus::Responder, "NoAuthnContext"),
        RejectReason::NameIdPolicy => (ErrorStatus::Responder, "InvalidNameIDPolicy"),
        _ => (ErrorStatus::Requester, "RequestUnsupported"),
    }
}

/// Step 2: continues a pending request with whatever session the browser holds.
///
/// # Errors
///
/// The store, audit trail, session or response builder failed.
pub async fn continue_request(
    state: &AppState,
    handle: &RequestHandle,
    session_cookie: Option<&str>,
    origin: &Origin,
) -> Result<Next, SsoError> {
    let now = state.clock.now();
    let Some((pending, request, sp)) = load_pending(state, handle, now).await? else {
        return Ok(Next::ErrorPage);
    };

    let session = crate::signin::session::load(&state.signin, session_cookie, origin).await?;
    let change_required = match &session {
        Some(active) => password_change_required(state, active).await?,
        None => false,
    };
    let requirement = Requirement::of(&request, sp.settings.minimum_level);
    let decision = decide(
        &request,
        requirement.as_ref(),
        pending.received_at,
        session.as_ref().map(|active| &active.factors),
        change_required,
        now,
        &state.signin.settings(),
    );
    match (decision, session) {
        (Decision::Issue(level), Some(active)) => {
            issue(state, handle, &request, &sp, &active, level, origin).await
        }
        (Decision::SignIn, _) => Ok(Next::Redirect(format!(
            "/login?request={}",
            handle.as_str()
        ))),
        // The request is left to expire: the user returns to the service after choosing
        // the new password, which starts a fresh request.
        (Decision::ChangePassword, _) => Ok(Next::Redirect("/account".to_owned())),
        (Decision::StepUp, _) => Ok(Next::Redirect(format!(
            "/login?request={}&step=key",
            handle.as_str()
        ))),
        (Decision::NoPassive, _) => {
            answer_error(
                state,
                handle,
                &request,
                ErrorStatus::Responder,
                "NoPassive",
                origin,
            )
            .await
        }
        (Decision::NoAuthnContext | Decision::Issue(_), _) => {
            let detail = "NoAuthnContext";
            answer_error(
                state,
                handle,
                &request,
                ErrorStatus::Responder,
                detail,
                origin,
            )
            .await
        }
    }
}

/// The pending request a handle names, if it has not expired, with its SP's registration,
/// read in one transaction. An SP removed while its user signed in counts as absent: there is
/// nothing verified to answer to any more.
async fn load_pending(
    state: &AppState,
    handle: &RequestHandle,
    now: DateTime<Utc>,
) -> Result<Option<(PendingSamlRequest, VerifiedAuthnRequest, LoadedSp)>, SsoError> {
    let mut read = state.store.read().await?;
    let pending = read
        .pending_saml_request(&handle.hash())
        .await?
        .filter(|pending| pending.expires_at > now);
    let Some(pending) = pending else {
        read.rollback().await?;
        return Ok(None);
    };
    let request: VerifiedAuthnRequest = serde_json::from_str(&pending.request_json)
        .map_err(|error| SsoError::Internal(format!("pending request: {error}")))?;
    let sp = load_sp(&mut read, &request.issuer).await?;
    read.rollback().await?;
    Ok(sp.map(|sp| (pending, request, sp)))
}

/// Answers a pending request with a signed error Response, once (RS-11).
async fn answer_error(
    state: &AppState,
    handle: &RequestHandle,
    request: &VerifiedAuthnRequest,
    status: ErrorStatus,
    detail: &str,
    origin: &Origin,
) -> Result<Next, SsoError> {
    let message_base64 =
        signed_error_response(state, &request.acs.location, &request.id, status, detail)?;
    let mut tx = state.store.begin().await?;
    if !tx.delete_pending_saml_request(&handle.hash()).await? {
        return Ok(Next::ErrorPage);
    }
    let reason = match detail {
        "NoPassive" => "NO_PASSIVE",
        "RequestDenied" => "REQUEST_DENIED",
        _ => "NO_AUTHN_CONTEXT",
    };
    audit_refusal(&mut tx, state, origin, Some(request), reason, true).await?;
    tx.commit().await?;
    Ok(Next::Post {
        action: request.acs.location.clone(),
        message_base64,
        relay_state: request.relay_state.clone(),
    })
}

/// The signed error Response, base64-encoded for the POST form.
fn signed_error_response(
    state: &AppState,
    destination: &str,
    in_response_to: &str,
    status: ErrorStatus,
    detail: &str,
) -> Result<String, SsoError> {
    let response_id = saml_id()?;
    let response = ErrorResponse {
        issuer: &state.identity.entity_id,
        response_id: &response_id,
        destination,
        in_response_to,
        issue_instant: state.clock.now(),
        status,
        detail: Some(detail),
    };
    let xml = build_error_response(&response, &state.identity.signing)?;
    Ok(base64_of(&xml))
}

async fn audit_refusal(
    tx: &mut Tx,
    state: &AppState,
    origin: &Origin,
    request: Option<&VerifiedAuthnRequest>,
    reason: &str,
    answered: bool,
) -> Result<(), SsoError> {
    let event = AuditEvent::SamlRequestRefused {
        issuer: request.map(|request| request.issuer.clone()),
        request_id: request.map(|request| request.id.clone()),
        reason: reason.to_owned(),
        answered,
    };
    let subject = request.map_or(Subject::Installation, |request| {
        Subject::ServiceProvider(request.issuer.clone())
    });
    let now = state.clock.now();
    portner_audit::append(tx, now, &origin.audit(None), &subject, &event).await?;
    Ok(())
}

/// Step 3: builds the assertion for the signed-in user and answers the pending request with
/// it.
async fn issue(
    state: &AppState,
    handle: &RequestHandle,
    request: &VerifiedAuthnRequest,
    sp: &LoadedSp,
    active: &ActiveSession,
    level: NsisLevel,
    origin: &Origin,
) -> Result<Next, SsoError> {
    let Some(answer) = prepare_answer(state, request, sp, active, level).await? else {
        return answer_error(
            state,
            handle,
            request,
            ErrorStatus::Responder,
            "RequestDenied",
            origin,
        )
        .await;
    };

    let mut tx = state.store.begin().await?;
    if !tx.delete_pending_saml_request(&handle.hash()).await? {
        // Another tab answered it first; this response is discarded unsent.
        return Ok(Next::ErrorPage);
    }
    record_answer(&mut tx, state, origin, &answer).await?;
    tx.commit().await?;
    Ok(answer.into_next(request))
}

/// A signed (and usually encrypted) Response, with what its transaction records.
struct PreparedAnswer {
    xml: String,
    participant: SamlParticipant,
    event: AuditEvent,
}

impl PreparedAnswer {
    fn into_next(self, request: &VerifiedAuthnRequest) -> Next {
        Next::Post {
            action: request.acs.location.clone(),
            message_base64: base64_of(&self.xml),
            relay_state: request.relay_state.clone(),
        }
    }
}

/// Builds the answer outside any transaction, since signing is the expensive part. `None`
/// when the account can no longer sign in.
async fn prepare_answer(
    state: &AppState,
    request: &VerifiedAuthnRequest,
    sp: &LoadedSp,
    active: &ActiveSession,
    level: NsisLevel,
) -> Result<Option<PreparedAnswer>, SsoError> {
    let now = state.clock.now();
    let Some(subject) = subject_of(state, active, sp, request, now).await? else {
        return Ok(None);
    };

    let assertion_id = saml_id()?;
    let session_index = saml_id()?;
    let content = AssertionContent {
        issuer: state.identity.entity_id.clone(),
        assertion_id: assertion_id.clone(),
        issue_instant: now,
        name_id: subject.name_id.clone(),
        name_id_format: subject.name_id_format.to_owned(),
        audience: request.issuer.clone(),
        recipient: request.acs.location.clone(),
        in_response_to: Some(request.id.clone()),
        not_on_or_after: now + ASSERTION_LIFETIME,
        not_before: now,
        authn_instant: active.factors.last_authenticated().unwrap_or(now),
        session_index: session_index.clone(),
        session_not_on_or_after: active.session.expires_at,
        authn_context_class_ref: format!("{LOA_CLASS}{}", level.oiosaml_name()),
        attributes: attributes(sp, &subject, level),
    };
    let xml = build(state, sp, &content)?;

    let participant = SamlParticipant {
        correlation_id: active.factors.correlation_id.clone(),
        sp_entity_id: request.issuer.clone(),
        user_id: subject.user.id,
        name_id: subject.name_id.clone(),
        name_id_format: subject.name_id_format.to_owned(),
        session_index,
        issued_at: now,
        expires_at: active.session.expires_at,
    };
    let event = AuditEvent::SamlResponseIssued {
        sp: request.issuer.clone(),
        user_id: subject.user.id,
        name_id: subject.name_id,
        level,
        assertion_id,
        in_response_to: request.id.clone(),
    };
    Ok(Some(PreparedAnswer {
        xml,
        participant,
        event,
    }))
}

/// Records the SP as a participant of the session (for single logout) and audits the issue.
async fn record_answer(
    tx: &mut Tx,
    state: &AppState,
    origin: &Origin,
    answer: &PreparedAnswer,
) -> Result<(), SsoError> {
    tx.upsert_saml_participant(&answer.participant).await?;
    let user_id = answer.participant.user_id;
    let origin = Origin {
        correlation_id: Some(answer.participant.correlation_id.clone()),
        ..origin.clone()
    };
    let context = origin.audit(Some(user_id));
    let now = state.clock.now();
    portner_audit::append(tx, now, &context, &Subject::User(user_id), &answer.event).await?;
    Ok(())
}

fn build(state: &AppState, sp: &LoadedSp, content: &AssertionContent) -> Result<String, SsoError> {
    let response_id = saml_id()?;
    let options = ResponseOptions {
        response_id: &response_id,
        encryption: sp.settings.encryption,
        encryption_certificate: match sp.settings.encryption {
            EncryptionProfile::None => None,
            _ => sp.metadata.encryption_certificates.first(),
        },
        sign_response: sp.settings.sign_response,
    };
    Ok(build_response(content, &options, &state.identity.signing)?)
}

/// Who the assertion is about, as this SP is to see them.
struct AssertionSubject {
    user: User,
    organisation: Organisation,
    name_id: String,
    name_id_format: &'static str,
    employee_uuid: Option<String>,
    cpr: Option<String>,
}

/// Reads the user, their organisation and their NameID for this SP. `None` when the account
/// can no longer sign in (disabled since the session began; SS-6 normally ends the session).
async fn subject_of(
    state: &AppState,
    active: &ActiveSession,
    sp: &LoadedSp,
    request: &VerifiedAuthnRequest,
    now: DateTime<Utc>,
) -> Result<Option<AssertionSubject>, SsoError> {
    let mut read = state.store.read().await?;
    let user = read
        .user(active.session.user_id)
        .await?
        .filter(|user| user.status == UserStatus::Active);
    let Some(user) = user else {
        read.rollback().await?;
        return Ok(None);
    };
    let Some(organisation) = read.organisation(&user.org).await? else {
        read.rollback().await?;
        return Ok(None);
    };
    let link = read.sync_link(user.id).await?;
    let wants_cpr = sp.registration.profile == SpProfile::Own
        && sp
            .settings
            .released_attributes
            .iter()
            .any(|name| name == RELEASABLE[2].0);
    let cpr = match wants_cpr && user.has_cpr {
        true => read
            .user_cpr(user.id)
            .await?
            .map(|cpr| cpr.expose().to_owned()),
        false => None,
    };
    read.rollback().await?;

    let (name_id, name_id_format) = match sp.registration.profile {
        // NI-4: byte for byte the subjectNameId the IdM sync registered, when it has.
        SpProfile::Nemlogin => (
            link.as_ref().map_or_else(
                || portner_idm_sync::desired::subject_name_id(&user, &organisation),
                |link| link.subject_name_id.clone(),
            ),
            PERSISTENT,
        ),
        SpProfile::Own if request.name_id_format.as_deref() == Some(TRANSIENT) => {
            (saml_id()?, TRANSIENT)
        }
        SpProfile::Own => (
            pairwise_name_id(state, &user, &request.issuer, now).await?,
            PERSISTENT,
        ),
    };
    Ok(Some(AssertionSubject {
        user,
        organisation,
        name_id,
        name_id_format,
        employee_uuid: link.map(|link| link.employee_uuid),
        cpr,
    }))
}

/// The user's pairwise persistent NameID at this SP (NI-2, NI-3, NI-5): a random UUID in the
/// professional form, made on first use and stored.
async fn pairwise_name_id(
    state: &AppState,
    user: &User,
    sp_entity_id: &str,
    now: DateTime<Utc>,
) -> Result<String, SsoError> {
    let mut read = state.store.read().await?;
    let existing = read.saml_name_id(user.id, sp_entity_id).await?;
    read.rollback().await?;
    if let Some(existing) = existing {
        return Ok(existing);
    }
    let candidate = format!("{PROFESSIONAL_UUID}{}", uuid::Uuid::new_v4());
    let mut tx = state.store.begin().await?;
    let name_id = tx
        .persistent_name_id(user.id, sp_entity_id, &candidate, now)
        .await?;
    tx.commit().await?;
    Ok(name_id)
}

/// The attribute statement (AT-1 to AT-10). NemLog-in gets exactly the four it expects
/// (AT-6); own SPs also get the MitID Erhverv employee UUID where the sync knows it (AT-5)
/// and the attributes they are configured to receive.
fn attributes(
    sp: &LoadedSp,
    subject: &AssertionSubject,
    level: NsisLevel,
) -> Vec<(String, Vec<String>)> {
    let mut attributes = vec![
        (SPEC_VERSION.to_owned(), vec!["OIO-SAML-3.0".to_owned()]),
        (LOA.to_owned(), vec![level.oiosaml_name().to_owned()]),
        (CVR.to_owned(), vec![subject.organisation.cvr.to_string()]),
        (ORG_NAME.to_owned(), vec![subject.organisation.name.clone()]),
    ];
    if sp.registration.profile == SpProfile::Nemlogin {
        return attributes;
    }
    if let Some(uuid) = &subject.employee_uuid {
        attributes.push((EMPLOYEE_UUID.to_owned(), vec![uuid.clone()]));
    }
    for name in &sp.settings.released_attributes {
        let value = match name.as_str() {
            n if n == RELEASABLE[0].0 => Some(subject.user.email.to_string()),
            n if n == RELEASABLE[1].0 => Some(subject.user.display_name.clone()),
            n if n == RELEASABLE[2].0 => subject.cpr.clone(),
            _ => None,
        };
        if let Some(value) = value {
            attributes.push((name.clone(), vec![value]));
        }
    }
    attributes
}

/// A fresh SAML ID: `_` and 128 random bits in hex (an NCName, SAML Core §1.3.4).
pub(crate) fn saml_id() -> Result<String, SsoError> {
    crate::signin::random_hex::<16>()
        .map(|hex| format!("_{hex}"))
        .map_err(|error| SsoError::Internal(error.to_string()))
}

fn base64_of(xml: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(xml.as_bytes())
}

#[cfg(test)]
mod tests;
