//! Turning a decoded AuthnRequest into a [`VerifiedAuthnRequest`], the only form in which a
//! request reaches sign-in (DESIGN.md, data flow step 1), over the Redirect binding
//! ([`verify_redirect`]) and the POST binding ([`verify_post`]).
//!
//! The checks run in an order that never trusts what has not been verified: strict parse;
//! `Issuer` names a registered SP (`ISSUER_UNKNOWN`); a signature is present and verifies with
//! that SP's metadata keys (A2, A12) — over the raw query bytes for Redirect, as an enveloped
//! XML signature covering the root for POST (A1, [`super::dsig`]); then, for both bindings
//! alike, `Version`, `ID` (an NCName of at most 256
//! characters, A14), `Destination` exactly equal to the SSO URL (A13), `IssueInstant` within
//! the skew (TM-2), the ACS (RQ-4, A4), the binding, `NameIDPolicy` (RQ-7) and the requested
//! authentication context (AC-*). The replay check needs the store and runs in the caller,
//! on the verified ID ([`VerifiedAuthnRequest::replay_window_end`]).
//!
//! A failure before the ACS is known is shown on Portner's own error page; a failure after it
//! goes back to the SP as a SAML error response (RQ-8, RS-11), which [`RequestError`] carries.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::dsig::{self, SignatureError};
use super::redirect::{MAX_RELAY_STATE_BYTES, RedirectMessage};
use super::sp_metadata::{Endpoint, SpMetadata};
use super::xml::{self, Element, Limits};
use super::{ASSERTION_NS, BINDING_POST, PROTOCOL_NS};
use portner_shared::domain::NsisLevel;

/// Longest request ID accepted (A14).
pub const MAX_ID_CHARS: usize = 256;
/// The default allowed difference between the SP's clock and Portner's (TM-2: 3–5 minutes;
/// OIOSAML.Java's default skew is 3 minutes too).
pub const DEFAULT_SKEW: Duration = Duration::minutes(3);

const LOA_PREFIX: &str = "https://data.gov.dk/concept/core/nsis/loa/";
const PROFESSIONAL: &str = "https://data.gov.dk/eid/Professional";
const NAME_ID_FORMATS: [&str; 3] = [
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
];

/// Why a request was refused, as a stable audit reason code (`security-tests.md` §0).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum RejectReason {
    /// Not acceptable XML, not an AuthnRequest, or a required field malformed.
    Malformed,
    /// A DOCTYPE was present.
    Doctype,
    /// Too large or structurally excessive.
    TooLarge,
    /// The issuer is not a registered SP.
    IssuerUnknown,
    /// No signature.
    SignatureMissing,
    /// A POST signature that does not cover the request root alone, exactly once (A1).
    SignatureWrapped,
    /// A POST signature whose `KeyInfo` carries a key or a certificate not in metadata (A12).
    KeyUntrusted,
    /// RelayState longer than allowed (A5).
    RelayStateInvalid,
    /// The algorithm is not allowed.
    SignatureAlgorithmForbidden,
    /// No metadata key verifies the signature.
    SignatureInvalid,
    /// `Destination` missing or not this endpoint.
    Destination,
    /// `IssueInstant` outside the allowed window.
    Stale,
    /// The requested ACS is not registered.
    AcsMismatch,
    /// A response binding other than HTTP-POST was requested (RQ-1).
    BindingUnsupported,
    /// `ForceAuthn` and `IsPassive` together (AC-*).
    ConflictingFlags,
    /// A NameID format Portner cannot produce (RQ-7).
    NameIdPolicy,
    /// A `RequestedAuthnContext` Portner cannot satisfy (AC-1, AC-2).
    AuthnContext,
}

impl RejectReason {
    /// The stable code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Malformed => "MALFORMED",
            Self::Doctype => "DOCTYPE",
            Self::TooLarge => "TOO_LARGE",
            Self::IssuerUnknown => "ISSUER_UNKNOWN",
            Self::SignatureMissing => "SIG_MISSING",
            Self::SignatureWrapped => "SIG_WRAPPED",
            Self::KeyUntrusted => "KEY_UNTRUSTED",
            Self::RelayStateInvalid => "RELAYSTATE_INVALID",
            Self::SignatureAlgorithmForbidden => "SIG_ALG_FORBIDDEN",
            Self::SignatureInvalid => "SIG_INVALID",
            Self::Destination => "DESTINATION",
            Self::Stale => "STALE",
            Self::AcsMismatch => "ACS_MISMATCH",
            Self::BindingUnsupported => "BINDING_UNSUPPORTED",
            Self::ConflictingFlags => "FLAGS_CONFLICT",
            Self::NameIdPolicy => "NAMEID_POLICY",
            Self::AuthnContext => "AUTHN_CONTEXT",
        }
    }
}

/// A refused request. `reply_to` is set once the request verified and its ACS is known: then
/// the SP gets a SAML error response there; otherwise only Portner's error page is shown.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RequestError {
    /// Why.
    pub reason: RejectReason,
    /// The verified ACS and request ID to answer, when it is safe to answer at all.
    pub reply_to: Option<(Endpoint, String)>,
    /// Whether a registered SP's signature over the request verified: such a refusal is
    /// always audited, while untrusted ones fall under the per-source allowance
    /// (`super::refusal_limit`).
    pub signed: bool,
}

impl RequestError {
    fn before_trust(reason: RejectReason) -> Self {
        Self {
            reason,
            reply_to: None,
            signed: false,
        }
    }

    /// The same refusal, found after the signature verified.
    fn after_signature(self) -> Self {
        Self {
            signed: true,
            ..self
        }
    }
}

/// How requested levels compare with the level reached (SAML Core §3.3.2.2.1).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub enum Comparison {
    /// The level reached must be one of those listed (the SAML default).
    Exact,
    /// The level reached must be at least the lowest listed ([OIO-SP-06]).
    Minimum,
}

/// The parts of `RequestedAuthnContext` Portner acts on.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct RequestedContext {
    /// How to compare.
    pub comparison: Comparison,
    /// Requested NSIS levels.
    pub levels: Vec<NsisLevel>,
}

/// An SP as the request verifier needs it.
#[derive(Clone, Debug)]
pub struct RegisteredSp {
    /// Parsed metadata.
    pub metadata: SpMetadata,
    /// Whether SHA-1 request signatures are allowed for this SP.
    pub allow_sha1: bool,
}

/// A request that passed every check but the replay cache. Serialisable, because it waits in
/// the store while the user signs in (SS-4).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct VerifiedAuthnRequest {
    /// The request ID, to answer in `InResponseTo`.
    pub id: String,
    /// The SP's entityID.
    pub issuer: String,
    /// When the SP issued it.
    pub issue_instant: DateTime<Utc>,
    /// The ACS the response goes to, from metadata.
    pub acs: Endpoint,
    /// Both factors again, whatever the session holds.
    pub force_authn: bool,
    /// No pages may be shown.
    pub is_passive: bool,
    /// The requested levels, if any.
    pub requested_context: Option<RequestedContext>,
    /// `Scoping/RequesterID` values, recorded for audit and display (RQ-5).
    pub requester_ids: Vec<String>,
    /// RelayState to return byte for byte.
    pub relay_state: Option<String>,
    /// The NameID format asked for in `NameIDPolicy`, when one was (RQ-7, NI-1).
    #[serde(default)]
    pub name_id_format: Option<String>,
}

impl VerifiedAuthnRequest {
    /// Until when the ID must be remembered: after that the request is stale anyway.
    pub fn replay_window_end(&self, skew: Duration) -> DateTime<Utc> {
        self.issue_instant + skew + skew
    }
}

/// Verifies a Redirect-binding AuthnRequest.
///
/// `find_sp` looks an entityID up in the registry. `sso_url` is this endpoint's URL as SPs
/// address it.
///
/// # Errors
///
/// A [`RequestError`] naming the first check that failed.
pub fn verify_redirect(
    message: &RedirectMessage,
    sso_url: &str,
    now: DateTime<Utc>,
    skew: Duration,
    find_sp: impl FnOnce(&str) -> Option<RegisteredSp>,
) -> Result<VerifiedAuthnRequest, RequestError> {
    let root = parse_request(&message.xml)?;
    let (issuer, sp) = registered_issuer(&root, find_sp)?;

    // The Redirect signature covers the raw query bytes (SAML Bindings §3.4.4.1), checked by
    // the decoder's signature over exactly what was received.
    let signature = message
        .signature
        .as_ref()
        .ok_or(RequestError::before_trust(RejectReason::SignatureMissing))?;
    let keys = dsig::metadata_keys(&sp.metadata);
    signature.verify(&keys, sp.allow_sha1).map_err(|error| {
        RequestError::before_trust(match error {
            super::redirect::RedirectError::AlgorithmForbidden => {
                RejectReason::SignatureAlgorithmForbidden
            }
            _ => RejectReason::SignatureInvalid,
        })
    })?;

    check_verified(
        &root,
        issuer,
        &sp,
        message.relay_state.clone(),
        sso_url,
        now,
        skew,
    )
    .map_err(RequestError::after_signature)
}

/// Verifies a POST-binding AuthnRequest (SAML Bindings §3.5).
///
/// `xml` is the decoded `SAMLRequest` form value ([`super::post::decode_form_value`]);
/// `relay_state` the `RelayState` form value as received, returned byte for byte (A5: at most
/// [`MAX_RELAY_STATE_BYTES`]). The enveloped signature is checked by
/// [`dsig::verify_enveloped`] with the keys of the SP the `Issuer` names; every field is then
/// read from the same parse that was verified (A1). The other arguments and every later check
/// are those of [`verify_redirect`].
///
/// # Errors
///
/// A [`RequestError`] naming the first check that failed.
pub fn verify_post(
    xml: &[u8],
    relay_state: Option<&str>,
    sso_url: &str,
    now: DateTime<Utc>,
    skew: Duration,
    find_sp: impl FnOnce(&str) -> Option<RegisteredSp>,
) -> Result<VerifiedAuthnRequest, RequestError> {
    if relay_state.is_some_and(|relay_state| relay_state.len() > MAX_RELAY_STATE_BYTES) {
        return Err(RequestError::before_trust(RejectReason::RelayStateInvalid));
    }
    let root = parse_request(xml)?;
    let (issuer, sp) = registered_issuer(&root, find_sp)?;

    let keys = dsig::metadata_keys(&sp.metadata);
    dsig::verify_enveloped(&root, &keys, sp.allow_sha1)
        .map_err(|error| RequestError::before_trust(signature_reason(error)))?;

    let relay_state = relay_state.map(str::to_owned);
    check_verified(&root, issuer, &sp, relay_state, sso_url, now, skew)
        .map_err(RequestError::after_signature)
}

fn signature_reason(error: SignatureError) -> RejectReason {
    match error {
        SignatureError::Missing => RejectReason::SignatureMissing,
        SignatureError::Wrapped => RejectReason::SignatureWrapped,
        SignatureError::AlgorithmForbidden => RejectReason::SignatureAlgorithmForbidden,
        SignatureError::KeyUntrusted => RejectReason::KeyUntrusted,
        SignatureError::Invalid => RejectReason::SignatureInvalid,
    }
}

/// The strict parse, and the root must be an AuthnRequest.
fn parse_request(xml: &[u8]) -> Result<Element, RequestError> {
    let root = xml::parse(xml, Limits::MESSAGE).map_err(|error| {
        RequestError::before_trust(match error {
            xml::XmlError::Doctype => RejectReason::Doctype,
            xml::XmlError::TooLarge | xml::XmlError::LimitExceeded => RejectReason::TooLarge,
            xml::XmlError::Malformed => RejectReason::Malformed,
        })
    })?;
    if !root.is(PROTOCOL_NS, "AuthnRequest") {
        return Err(RequestError::before_trust(RejectReason::Malformed));
    }
    Ok(root)
}

/// The `Issuer` and its registration; the signature is checked with that SP's keys next.
fn registered_issuer(
    root: &Element,
    find_sp: impl FnOnce(&str) -> Option<RegisteredSp>,
) -> Result<(String, RegisteredSp), RequestError> {
    let issuer = issuer(root)?;
    let sp = find_sp(&issuer).ok_or(RequestError::before_trust(RejectReason::IssuerUnknown))?;
    Ok((issuer, sp))
}

/// The checks after the signature, common to both bindings: header, ACS, binding, flags,
/// NameID policy and requested context.
fn check_verified(
    root: &Element,
    issuer: String,
    sp: &RegisteredSp,
    relay_state: Option<String>,
    sso_url: &str,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<VerifiedAuthnRequest, RequestError> {
    let id = request_id(root)?;
    check_header(root, sso_url, now, skew)?;
    let issue_instant = issue_instant(root)?;
    let acs = select_acs(root, &sp.metadata)?;
    let reply = |reason| RequestError {
        reason,
        reply_to: Some((acs.clone(), id.clone())),
        signed: true,
    };

    if root
        .attribute("ProtocolBinding")
        .is_some_and(|binding| binding != BINDING_POST)
    {
        return Err(reply(RejectReason::BindingUnsupported));
    }
    let force_authn = root.attribute("ForceAuthn") == Some("true");
    let is_passive = root.attribute("IsPassive") == Some("true");
    if force_authn && is_passive {
        return Err(reply(RejectReason::ConflictingFlags));
    }
    let name_id_format = check_name_id_policy(root).map_err(reply)?;
    let requested_context = requested_context(root).map_err(reply)?;

    Ok(VerifiedAuthnRequest {
        id: id.clone(),
        issuer,
        issue_instant,
        acs,
        force_authn,
        is_passive,
        requested_context,
        requester_ids: requester_ids(root),
        relay_state,
        name_id_format,
    })
}

fn issuer(root: &Element) -> Result<String, RequestError> {
    root.only_child(ASSERTION_NS, "Issuer")
        .and_then(Element::simple_text)
        .filter(|issuer| !issuer.is_empty())
        .map(str::to_owned)
        .ok_or(RequestError::before_trust(RejectReason::IssuerUnknown))
}

/// An NCName (XML Namespaces §3) of at most [`MAX_ID_CHARS`]; SAML IDs are `xs:ID`.
fn request_id(root: &Element) -> Result<String, RequestError> {
    root.attribute("ID")
        .filter(|id| is_saml_id(id))
        .map(str::to_owned)
        .ok_or(RequestError::before_trust(RejectReason::Malformed))
}

/// Whether `id` is an NCName (XML Namespaces §3) of at most [`MAX_ID_CHARS`], as SAML's
/// `xs:ID` values must be (A14).
pub(crate) fn is_saml_id(id: &str) -> bool {
    let mut characters = id.chars();
    let starts_well = characters
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_');
    let continues_well = characters.all(|c| c.is_alphanumeric() || "_-.".contains(c));
    starts_well && continues_well && id.chars().count() <= MAX_ID_CHARS
}

fn check_header(
    root: &Element,
    sso_url: &str,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<(), RequestError> {
    if root.attribute("Version") != Some("2.0") {
        return Err(RequestError::before_trust(RejectReason::Malformed));
    }
    if root.attribute("Destination") != Some(sso_url) {
        return Err(RequestError::before_trust(RejectReason::Destination));
    }
    let issued = issue_instant(root)?;
    if issued > now + skew || issued < now - skew - skew {
        return Err(RequestError::before_trust(RejectReason::Stale));
    }
    Ok(())
}

fn issue_instant(root: &Element) -> Result<DateTime<Utc>, RequestError> {
    root.attribute("IssueInstant")
        .filter(|text| text.ends_with('Z'))
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|instant| instant.with_timezone(&Utc))
        .ok_or(RequestError::before_trust(RejectReason::Malformed))
}

fn select_acs(root: &Element, metadata: &SpMetadata) -> Result<Endpoint, RequestError> {
    let index = match root.attribute("AssertionConsumerServiceIndex") {
        Some(text) => Some(
            text.parse::<u16>()
                .map_err(|_| RequestError::before_trust(RejectReason::AcsMismatch))?,
        ),
        None => None,
    };
    let url = root.attribute("AssertionConsumerServiceURL");
    metadata
        .select_acs(url, index)
        .cloned()
        .map_err(|_| RequestError::before_trust(RejectReason::AcsMismatch))
}

/// The NameID format the request asks for, if any; `unspecified` leaves the choice to
/// Portner, so it counts as none.
fn check_name_id_policy(root: &Element) -> Result<Option<String>, RejectReason> {
    let Some(policy) = root.only_child(PROTOCOL_NS, "NameIDPolicy") else {
        return match root.children_named(PROTOCOL_NS, "NameIDPolicy").count() {
            0 => Ok(None),
            _ => Err(RejectReason::Malformed),
        };
    };
    match policy.attribute("Format") {
        None => Ok(None),
        Some(format) if format.ends_with(":unspecified") => Ok(None),
        Some(format) if NAME_ID_FORMATS.contains(&format) => Ok(Some(format.to_owned())),
        Some(_) => Err(RejectReason::NameIdPolicy),
    }
}

/// Splits requested class references into NSIS levels and identity types (AC-1, AC-2).
/// Comparisons other than `exact` and `minimum`, requests for natural persons, and unknown
/// references leave nothing Portner can promise, so they are refused with `NoAuthnContext`.
fn requested_context(root: &Element) -> Result<Option<RequestedContext>, RejectReason> {
    let Some(context) = root.only_child(PROTOCOL_NS, "RequestedAuthnContext") else {
        return Ok(None);
    };
    let comparison = match context.attribute("Comparison") {
        None | Some("exact") => Comparison::Exact,
        Some("minimum") => Comparison::Minimum,
        Some(_) => return Err(RejectReason::AuthnContext),
    };
    let mut levels = Vec::new();
    for reference in context.children_named(ASSERTION_NS, "AuthnContextClassRef") {
        let reference = reference.simple_text().ok_or(RejectReason::Malformed)?;
        if reference == PROFESSIONAL {
            continue;
        }
        let level = reference
            .strip_prefix(LOA_PREFIX)
            .ok_or(RejectReason::AuthnContext)?;
        levels.push(level.parse().map_err(|_| RejectReason::AuthnContext)?);
    }
    Ok(Some(RequestedContext { comparison, levels }))
}

fn requester_ids(root: &Element) -> Vec<String> {
    root.only_child(PROTOCOL_NS, "Scoping")
        .map(|scoping| {
            scoping
                .children_named(PROTOCOL_NS, "RequesterID")
                .filter_map(Element::simple_text)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
