//! Single logout initiated by an SP, over the HTTP-Redirect or HTTP-POST binding (SL-1 to
//! SL-4, SL-6, A17).
//!
//! A `LogoutRequest` is trusted only after the same steps as an AuthnRequest: strict parse,
//! a registered `Issuer`, the signature (over the raw query, or enveloped) with that SP's
//! metadata keys, the exact `Destination`, an `IssueInstant` within the skew, and an ID not
//! seen before. Its `NameID` and a non-empty `SessionIndex` must then name a session in which
//! this SP received an assertion (SL-1). That session ends server-side at once (SL-4).
//!
//! The logout is then passed on front-channel (SL-2): the browser visits each other SP of the
//! session with a signed LogoutRequest whose RelayState is a random handle naming the
//! logout's state in the store. Each SP's LogoutResponse must carry a valid signature from its
//! metadata keys and answer the request sent (SL-3); a missing endpoint or a failed answer
//! makes the logout partial. Finally the initiator gets a LogoutResponse with `Success`, or
//! `Success` with the second-level `PartialLogout` (SAML Core §3.7.3.2).
//!
//! Each SP is told and answered over the binding of its metadata's `SingleLogoutService`:
//! HTTP-Redirect (signed over the query) when it offers one, else HTTP-POST (an
//! auto-submitting page carrying the message with an enveloped signature written by the
//! canonical writer, RSA-SHA256 and exclusive c14n, as responses are). Answers from SPs come
//! back over either binding and are checked alike.
//!
//! Known gap: an SP that never sends the browser back stops the chain there (the session is
//! ended regardless).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use portner_audit::{AuditEvent, Subject};
use portner_shared::domain::SamlParticipant;

use super::canonical::CanonicalWriter;
use super::post_page::FormField;
use super::redirect::{self, MessageKind, RedirectMessage};
use super::sp_metadata::SpMetadata;
use super::sso::{LoadedSp, Next, RequestHandle, SsoError, saml_id};
use super::xml::{self, Element, Limits};
use super::{ASSERTION_NS, BINDING_POST, BINDING_REDIRECT, PROTOCOL_NS};
use crate::app::AppState;
use crate::signin::Origin;
use crate::signin::session::Factors;
use serde::{Deserialize, Serialize};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const PARTIAL: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
const ENTITY_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";

/// A LogoutRequest that passed every check before the session lookup.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct VerifiedLogoutRequest {
    /// The request ID, answered in `InResponseTo`.
    pub id: String,
    /// The SP's entityID.
    pub issuer: String,
    /// The NameID it names.
    pub name_id: String,
    /// The session indexes it names; never empty (SL-1).
    pub session_indexes: Vec<String>,
    /// Until when its ID stays in the replay cache (A6, A17).
    pub replay_until: DateTime<Utc>,
}

/// A refused LogoutRequest.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Refusal {
    /// The stable reason code of the first check that failed.
    pub reason: &'static str,
    /// Whether the SP's signature had verified: such a refusal is always audited, an
    /// untrusted one within the source's allowance (`super::refusal_limit`).
    pub signed: bool,
}

impl Refusal {
    const fn untrusted(reason: &'static str) -> Self {
        Self {
            reason,
            signed: false,
        }
    }

    const fn signed(reason: &'static str) -> Self {
        Self {
            reason,
            signed: true,
        }
    }
}

/// Verifies a Redirect-binding LogoutRequest from `sp`.
///
/// # Errors
///
/// The reason code of the first check that failed.
pub fn verify_redirect(
    message: &RedirectMessage,
    sp: &LoadedSp,
    slo_url: &str,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<VerifiedLogoutRequest, Refusal> {
    let root = logout_root(&message.xml, sp).map_err(Refusal::untrusted)?;
    let signature = message
        .signature
        .as_ref()
        .ok_or(Refusal::untrusted("SIG_MISSING"))?;
    let keys = super::dsig::metadata_keys(&sp.metadata);
    signature
        .verify(&keys, sp.settings.allow_sha1)
        .map_err(|error| Refusal::untrusted(error.code()))?;
    check_verified(&root, slo_url, now, skew).map_err(Refusal::signed)
}

/// Verifies a POST-binding LogoutRequest from `sp`: the enveloped XML signature, then the
/// same checks as over Redirect.
///
/// # Errors
///
/// The reason code of the first check that failed.
pub fn verify_post(
    xml: &[u8],
    sp: &LoadedSp,
    slo_url: &str,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<VerifiedLogoutRequest, Refusal> {
    let root = logout_root(xml, sp).map_err(Refusal::untrusted)?;
    let keys = super::dsig::metadata_keys(&sp.metadata);
    super::dsig::verify_enveloped(&root, &keys, sp.settings.allow_sha1)
        .map_err(|error| Refusal::untrusted(error.code()))?;
    check_verified(&root, slo_url, now, skew).map_err(Refusal::signed)
}

/// The strict parse; the root must be a LogoutRequest from `sp`.
fn logout_root(xml: &[u8], sp: &LoadedSp) -> Result<Element, &'static str> {
    let root = xml::parse(xml, Limits::MESSAGE).map_err(|_| "MALFORMED")?;
    if !root.is(PROTOCOL_NS, "LogoutRequest") {
        return Err("MALFORMED");
    }
    let issuer = simple_child(&root, ASSERTION_NS, "Issuer").ok_or("ISSUER_UNKNOWN")?;
    if issuer != sp.registration.entity_id {
        return Err("ISSUER_UNKNOWN");
    }
    Ok(root)
}

/// The checks after the signature, common to both bindings.
fn check_verified(
    root: &Element,
    slo_url: &str,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<VerifiedLogoutRequest, &'static str> {
    let issuer = simple_child(root, ASSERTION_NS, "Issuer").ok_or("ISSUER_UNKNOWN")?;
    if root.attribute("Version") != Some("2.0") {
        return Err("MALFORMED");
    }
    if root.attribute("Destination") != Some(slo_url) {
        return Err("DESTINATION");
    }
    let issued = root
        .attribute("IssueInstant")
        .filter(|text| text.ends_with('Z'))
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .ok_or("MALFORMED")?;
    if issued > now + skew || issued < now - skew - skew {
        return Err("STALE");
    }
    let id = root
        .attribute("ID")
        .filter(|id| super::authn_request::is_saml_id(id))
        .ok_or("MALFORMED")?;
    let name_id = simple_child(root, ASSERTION_NS, "NameID").ok_or("MALFORMED")?;
    let session_indexes: Vec<String> = root
        .children_named(PROTOCOL_NS, "SessionIndex")
        .filter_map(Element::simple_text)
        .filter(|index| !index.is_empty())
        .map(str::to_owned)
        .collect();
    if session_indexes.is_empty() {
        return Err("SESSION_INDEX_MISSING");
    }
    Ok(VerifiedLogoutRequest {
        id: id.to_owned(),
        issuer: issuer.to_owned(),
        name_id: name_id.to_owned(),
        session_indexes,
        replay_until: issued.with_timezone(&Utc) + skew + skew,
    })
}

fn simple_child<'a>(root: &'a Element, namespace: &str, name: &str) -> Option<&'a str> {
    root.only_child(namespace, name)
        .and_then(Element::simple_text)
}

/// `GET /saml/slo?SAMLRequest=…`: verifies, ends the session, answers the SP.
///
/// # Errors
///
/// The store, audit trail or signer failed.
pub async fn logout_redirect(
    state: &AppState,
    raw_query: &str,
    origin: &Origin,
) -> Result<Next, SsoError> {
    let message = match redirect::decode(raw_query) {
        Ok(message) if message.kind == MessageKind::Request => message,
        Ok(message) => return propagated_answer(state, &Answer::Redirect(&message), origin).await,
        Err(error) => return super::sso::refuse_untrusted(state, error.code(), origin).await,
    };
    let Some(sp) = super::sso::registered_sp(state, &message.xml).await? else {
        return super::sso::refuse_untrusted(state, "ISSUER_UNKNOWN", origin).await;
    };
    let Some(endpoint) = logout_endpoint(&sp.metadata) else {
        return super::sso::refuse_untrusted(state, "SLO_ENDPOINT_MISSING", origin).await;
    };

    let now = state.clock.now();
    let skew = super::authn_request::DEFAULT_SKEW;
    let verified = verify_redirect(&message, &sp, &state.identity.slo_url(), now, skew);
    answer(
        state,
        &sp,
        verified,
        &endpoint,
        message.relay_state.as_deref(),
        origin,
    )
    .await
}

/// `POST /saml/slo` with a `SAMLRequest`: the same over the POST binding. The answer goes
/// over the binding the SP's metadata offers (Redirect preferred), not necessarily POST.
///
/// # Errors
///
/// The store, audit trail or signer failed.
pub async fn logout_post(
    state: &AppState,
    message_base64: &str,
    relay_state: Option<&str>,
    origin: &Origin,
) -> Result<Next, SsoError> {
    if relay_state.is_some_and(|state| state.len() > redirect::MAX_RELAY_STATE_BYTES) {
        return super::sso::refuse_untrusted(state, "RELAYSTATE_INVALID", origin).await;
    }
    let xml = match super::post::decode_form_value(message_base64) {
        Ok(xml) => xml,
        Err(error) => return super::sso::refuse_untrusted(state, error.code(), origin).await,
    };
    let Some(sp) = super::sso::registered_sp(state, &xml).await? else {
        return super::sso::refuse_untrusted(state, "ISSUER_UNKNOWN", origin).await;
    };
    let Some(endpoint) = logout_endpoint(&sp.metadata) else {
        return super::sso::refuse_untrusted(state, "SLO_ENDPOINT_MISSING", origin).await;
    };
    let now = state.clock.now();
    let skew = super::authn_request::DEFAULT_SKEW;
    let verified = verify_post(&xml, &sp, &state.identity.slo_url(), now, skew);
    answer(state, &sp, verified, &endpoint, relay_state, origin).await
}

/// The binding of an SP's logout endpoint.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
enum Binding {
    /// HTTP-Redirect: the message deflated into the query, signed over the query.
    #[default]
    Redirect,
    /// HTTP-POST: the message in an auto-submitting form, with an enveloped signature.
    Post,
}

/// An SP's logout endpoint from its metadata.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
struct Endpoint {
    location: String,
    binding: Binding,
}

/// The SP's logout endpoint from its metadata. Redirect is preferred when both are offered:
/// the browser follows a 303 without script or a click, so a chain of SPs is walked without
/// a page per SP, and the query signature costs no XML canonicalisation. POST is used only
/// for an SP that offers nothing else.
fn logout_endpoint(metadata: &SpMetadata) -> Option<Endpoint> {
    let services = &metadata.single_logout_services;
    let of = |wanted: &str, binding: Binding| {
        services
            .iter()
            .find(|endpoint| endpoint.binding == wanted)
            .map(|endpoint| Endpoint {
                location: endpoint.location.clone(),
                binding,
            })
    };
    of(BINDING_REDIRECT, Binding::Redirect).or_else(|| of(BINDING_POST, Binding::Post))
}

/// Ends the session of a verified request and answers the SP; refuses an unverified one.
async fn answer(
    state: &AppState,
    sp: &LoadedSp,
    verified: Result<VerifiedLogoutRequest, Refusal>,
    endpoint: &Endpoint,
    relay_state: Option<&str>,
    origin: &Origin,
) -> Result<Next, SsoError> {
    let issuer = sp.registration.entity_id.as_str();
    let request = match verified {
        Ok(request) => request,
        Err(refusal) if refusal.signed => {
            return super::sso::refuse_signed(state, issuer, refusal.reason, origin).await;
        }
        Err(refusal) => return super::sso::refuse_untrusted(state, refusal.reason, origin).await,
    };
    let Some(ended) = end_session(state, &request, origin).await? else {
        return super::sso::refuse_signed(state, issuer, "REPLAY", origin).await;
    };
    let initiator = Initiator {
        issuer: request.issuer,
        request_id: request.id,
        endpoint: endpoint.location.clone(),
        binding: endpoint.binding,
        relay_state: relay_state.map(str::to_owned),
    };
    match ended {
        Ended::NoSession => answer_initiator(state, &initiator, REQUESTER),
        Ended::Session(others) => {
            let progress = Progress {
                initiator,
                remaining: others,
                current: None,
                partial: false,
            };
            let handle = RequestHandle::generate()?;
            let mut tx = state.store.begin().await?;
            let next = next_step(state, &mut tx, &handle, progress).await?;
            tx.commit().await?;
            Ok(next)
        }
    }
}

/// The SP that started the logout, to be answered at the end.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Initiator {
    issuer: String,
    request_id: String,
    endpoint: String,
    /// Absent in state written before POST answers existed: those went over Redirect.
    #[serde(default)]
    binding: Binding,
    relay_state: Option<String>,
}

/// A logout being passed on to the session's other SPs, one at a time (SL-2).
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Progress {
    initiator: Initiator,
    /// SPs still to be told.
    remaining: Vec<SamlParticipant>,
    /// The SP told last and the ID of the LogoutRequest it must answer.
    current: Option<(String, String)>,
    /// Whether some SP could not be told or did not confirm (SL-4).
    partial: bool,
}

/// How long the browser may take to visit every SP of a logout.
const PROPAGATION_LIFETIME: Duration = Duration::minutes(10);

/// Sends the browser to the next SP that can be told, with a signed LogoutRequest whose
/// RelayState is the handle; when none is left, answers the initiator (`PartialLogout` if any
/// SP was missed, SL-4).
async fn next_step(
    state: &AppState,
    tx: &mut portner_shared::store::Tx,
    handle: &RequestHandle,
    mut progress: Progress,
) -> Result<Next, SsoError> {
    while let Some(participant) = progress.remaining.pop() {
        let endpoint = match super::sso::load_sp(tx, &participant.sp_entity_id).await? {
            Some(sp) => logout_endpoint(&sp.metadata),
            None => None,
        };
        let Some(endpoint) = endpoint else {
            progress.partial = true;
            continue;
        };
        let id = saml_id()?;
        let request = logout_request(state, &participant, &id, &endpoint.location)?;
        progress.current = Some((participant.sp_entity_id.clone(), id.clone()));
        let json = serde_json::to_string(&progress)
            .map_err(|error| SsoError::Internal(error.to_string()))?;
        let expires = state.clock.now() + PROPAGATION_LIFETIME;
        tx.put_saml_logout(&handle.hash(), &json, expires).await?;
        let message = Outbound {
            kind: MessageKind::Request,
            xml: &request,
            id: &id,
            relay_state: Some(handle.as_str()),
        };
        return send(state, &endpoint.location, endpoint.binding, &message);
    }
    let status = if progress.partial { PARTIAL } else { SUCCESS };
    answer_initiator(state, &progress.initiator, status)
}

/// The signed LogoutResponse to the SP that started the logout.
fn answer_initiator(
    state: &AppState,
    initiator: &Initiator,
    status: &str,
) -> Result<Next, SsoError> {
    let now = state.clock.now();
    let id = saml_id()?;
    let response = logout_response(state, initiator, &id, status, now)?;
    let message = Outbound {
        kind: MessageKind::Response,
        xml: &response,
        id: &id,
        relay_state: initiator.relay_state.as_deref(),
    };
    send(state, &initiator.endpoint, initiator.binding, &message)
}

/// A logout message of Portner's on its way to an SP.
struct Outbound<'a> {
    kind: MessageKind,
    /// The unsigned message, written by the canonical writer.
    xml: &'a str,
    /// Its `ID`, which an enveloped signature references.
    id: &'a str,
    relay_state: Option<&'a str>,
}

/// Sends `message` to `location` over `binding`: a 303 with the query signed (Redirect), or
/// the auto-submitting page with the message signed enveloped (POST, SAML Bindings §3.5).
fn send(
    state: &AppState,
    location: &str,
    binding: Binding,
    message: &Outbound<'_>,
) -> Result<Next, SsoError> {
    match binding {
        Binding::Redirect => {
            let query = signed_query(state, message.kind, message.xml, message.relay_state)?;
            Ok(Next::Logout(with_query(location, &query)))
        }
        Binding::Post => {
            let signed = enveloped(state, message.xml, message.id)?;
            Ok(Next::LogoutPost {
                action: location.to_owned(),
                field: match message.kind {
                    MessageKind::Request => FormField::Request,
                    MessageKind::Response => FormField::Response,
                },
                message_base64: base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    signed,
                ),
                relay_state: message.relay_state.map(str::to_owned),
            })
        }
    }
}

/// `unsigned` with its enveloped signature placed right after Portner's `Issuer`, where the
/// SAML schema puts it (Core §3.2.1, §3.2.2). The message was written by the canonical writer,
/// so its bytes are already the exclusive canonical form the signature digests; the Issuer is
/// Portner's own escaped entityID, so its first end tag is the Issuer's.
fn enveloped(state: &AppState, unsigned: &str, id: &str) -> Result<String, SsoError> {
    const ISSUER_END: &str = "</saml:Issuer>";
    let split = unsigned
        .find(ISSUER_END)
        .map(|at| at + ISSUER_END.len())
        .ok_or_else(|| SsoError::Internal("logout message without Issuer".to_owned()))?;
    let signature = super::response::enveloped_signature(unsigned, id, &state.identity.signing)?;
    let (head, tail) = unsigned.split_at(split);
    Ok(format!("{head}{signature}{tail}"))
}

fn signed_query(
    state: &AppState,
    kind: MessageKind,
    xml: &str,
    relay_state: Option<&str>,
) -> Result<String, SsoError> {
    redirect::encode_signed(kind, xml, relay_state, &state.identity.signing.key)
        .map_err(|error| SsoError::Internal(error.to_string()))
}

fn with_query(endpoint: &str, query: &str) -> String {
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{separator}{query}")
}

/// An SP's LogoutResponse as it arrived at `/saml/slo`.
#[derive(Clone, Copy, Debug)]
pub enum Answer<'a> {
    /// Over HTTP-Redirect, signed over the query.
    Redirect(&'a RedirectMessage),
    /// Over HTTP-POST: the decoded XML, which carries an enveloped signature, and the form's
    /// RelayState.
    Post {
        /// The decoded `SAMLResponse`.
        xml: &'a [u8],
        /// The form's `RelayState`.
        relay_state: Option<&'a str>,
    },
}

impl Answer<'_> {
    fn xml(&self) -> &[u8] {
        match self {
            Self::Redirect(message) => &message.xml,
            Self::Post { xml, .. } => xml,
        }
    }

    fn relay_state(&self) -> Option<&str> {
        match self {
            Self::Redirect(message) => message.relay_state.as_deref(),
            Self::Post { relay_state, .. } => *relay_state,
        }
    }
}

/// `POST /saml/slo` with a `SAMLResponse`: an SP's answer over the POST binding to a
/// LogoutRequest Portner passed on; checked as [`propagated_answer`] describes.
///
/// # Errors
///
/// The store, audit trail or signer failed.
pub async fn logout_response_post(
    state: &AppState,
    message_base64: &str,
    relay_state: Option<&str>,
    origin: &Origin,
) -> Result<Next, SsoError> {
    let xml = match super::post::decode_form_value(message_base64) {
        Ok(xml) => xml,
        Err(error) => return super::sso::refuse_untrusted(state, error.code(), origin).await,
    };
    let answer = Answer::Post {
        xml: &xml,
        relay_state,
    };
    propagated_answer(state, &answer, origin).await
}

/// An SP's LogoutResponse to a request Portner passed on (SL-3): the handle in RelayState
/// names the logout, the signature (over the query, or enveloped) must verify with that SP's
/// metadata keys, and `InResponseTo` must be the request sent. An answer that fails any
/// check, or reports anything but success, makes the logout partial; the session is gone
/// either way (SL-4). The handle is spent by the first answer, so a replayed one is refused.
///
/// # Errors
///
/// The store failed or the signer failed.
pub async fn propagated_answer(
    state: &AppState,
    message: &Answer<'_>,
    origin: &Origin,
) -> Result<Next, SsoError> {
    let handle = message.relay_state().and_then(RequestHandle::parse);
    let Some(handle) = handle else {
        return super::sso::refuse_untrusted(state, "LOGOUT_UNKNOWN", origin).await;
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let progress = match tx.take_saml_logout(&handle.hash(), now).await? {
        Some(json) => serde_json::from_str::<Progress>(&json).ok(),
        None => None,
    };
    let Some(mut progress) = progress else {
        tx.rollback().await?;
        return super::sso::refuse_untrusted(state, "LOGOUT_UNKNOWN", origin).await;
    };
    if let Some((sp_entity_id, request_id)) = progress.current.take() {
        let slo_url = state.identity.slo_url();
        let refusal = match super::sso::load_sp(&mut tx, &sp_entity_id).await? {
            Some(sp) => refused_answer(message, &sp, &request_id, &slo_url),
            None => Some("ISSUER_UNKNOWN"),
        };
        if let Some(reason) = refusal {
            tracing::warn!(
                reason,
                "a service provider did not confirm the logout passed on"
            );
            progress.partial = true;
            // The answer came with the logout's handle, so it is audited one by one (A17).
            let event = AuditEvent::SamlRequestRefused {
                issuer: Some(sp_entity_id.clone()),
                request_id: Some(request_id),
                reason: reason.to_owned(),
                answered: false,
            };
            let subject = Subject::ServiceProvider(sp_entity_id);
            portner_audit::append(&mut tx, now, &origin.audit(None), &subject, &event).await?;
        }
    } else {
        progress.partial = true;
    }
    let next = next_step(state, &mut tx, &handle, progress).await?;
    tx.commit().await?;
    Ok(next)
}

/// `None` when `message` is `sp`'s signed, successful LogoutResponse to `request_id`;
/// otherwise the reason code of the first check it fails.
fn refused_answer(
    message: &Answer<'_>,
    sp: &LoadedSp,
    request_id: &str,
    slo_url: &str,
) -> Option<&'static str> {
    let Ok(root) = xml::parse(message.xml(), Limits::MESSAGE) else {
        return Some("MALFORMED");
    };
    if !root.is(PROTOCOL_NS, "LogoutResponse") {
        return Some("MALFORMED");
    }
    if simple_child(&root, ASSERTION_NS, "Issuer") != Some(sp.registration.entity_id.as_str()) {
        return Some("ISSUER_UNKNOWN");
    }
    let keys = super::dsig::metadata_keys(&sp.metadata);
    let allow_sha1 = sp.settings.allow_sha1;
    let destination = root.attribute("Destination");
    let destination_ok = match message {
        Answer::Redirect(message) => {
            let signature = message.signature.as_ref();
            let signature = signature.ok_or("SIG_MISSING");
            if let Err(reason) = signature.and_then(|signature| {
                signature
                    .verify(&keys, allow_sha1)
                    .map_err(|error| error.code())
            }) {
                return Some(reason);
            }
            destination.is_none_or(|destination| destination == slo_url)
        }
        Answer::Post { .. } => {
            if let Err(error) = super::dsig::verify_enveloped(&root, &keys, allow_sha1) {
                return Some(error.code());
            }
            // A signed POST message must name its Destination (SAML Bindings §3.5.5.2).
            destination == Some(slo_url)
        }
    };
    if root.attribute("InResponseTo") != Some(request_id) {
        return Some("IN_RESPONSE_TO");
    }
    if !destination_ok {
        return Some("DESTINATION");
    }
    let status = root
        .only_child(PROTOCOL_NS, "Status")
        .and_then(|status| status.only_child(PROTOCOL_NS, "StatusCode"))
        .and_then(|code| code.attribute("Value"));
    (status != Some(SUCCESS)).then_some("LOGOUT_FAILED")
}

/// Starts a protocol message: the root `name` with `attributes`, and Portner's `Issuer`.
fn message_head(
    state: &AppState,
    name: &'static str,
    attributes: &[(&str, &str)],
) -> Result<CanonicalWriter, SsoError> {
    let mut writer = CanonicalWriter::new();
    writer.start(name, &[("samlp", PROTOCOL_NS)], attributes)?;
    writer.element(
        "saml:Issuer",
        &[("saml", ASSERTION_NS)],
        &[("Format", ENTITY_FORMAT)],
        &state.identity.entity_id,
    )?;
    Ok(writer)
}

/// The unsigned LogoutRequest passed on to another SP of the session (SL-2); [`send`] signs
/// it for its binding.
fn logout_request(
    state: &AppState,
    participant: &SamlParticipant,
    id: &str,
    destination: &str,
) -> Result<String, SsoError> {
    let issued = state.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let attributes = [
        ("Destination", destination),
        ("ID", id),
        ("IssueInstant", issued.as_str()),
        ("Version", "2.0"),
    ];
    let mut writer = message_head(state, "samlp:LogoutRequest", &attributes)?;
    writer.element(
        "saml:NameID",
        &[("saml", ASSERTION_NS)],
        &[("Format", participant.name_id_format.as_str())],
        &participant.name_id,
    )?;
    writer.element("samlp:SessionIndex", &[], &[], &participant.session_index)?;
    Ok(writer.finish())
}

/// What ending the named session found.
enum Ended {
    /// No session of that SP has that NameID and SessionIndex.
    NoSession,
    /// The session ended; these other SPs took part in it.
    Session(Vec<SamlParticipant>),
}

/// Ends the session the request names and forgets its SPs, or `None` when the request ID was
/// used before (a replay, A17), in which case nothing changed.
async fn end_session(
    state: &AppState,
    request: &VerifiedLogoutRequest,
    origin: &Origin,
) -> Result<Option<Ended>, SsoError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    if !tx
        .remember_request_id(&request.issuer, &request.id, request.replay_until)
        .await?
    {
        tx.rollback().await?;
        return Ok(None);
    }
    let mut found: Option<SamlParticipant> = None;
    for index in &request.session_indexes {
        let participant = tx.saml_participant_by_index(&request.issuer, index).await?;
        if let Some(participant) = participant.filter(|p| p.name_id == request.name_id) {
            found = Some(participant);
            break;
        }
    }
    let Some(participant) = found else {
        let event = AuditEvent::SamlLogout {
            sp: request.issuer.clone(),
            user_id: None,
            status: "NO_SESSION".to_owned(),
            other_participants: 0,
        };
        let subject = Subject::ServiceProvider(request.issuer.clone());
        portner_audit::append(&mut tx, now, &origin.audit(None), &subject, &event).await?;
        tx.commit().await?;
        return Ok(Some(Ended::NoSession));
    };

    let others: Vec<SamlParticipant> = tx
        .saml_participants(&participant.correlation_id)
        .await?
        .into_iter()
        .filter(|other| other.sp_entity_id != request.issuer)
        .collect();
    for session in tx.sessions_of(participant.user_id).await? {
        let factors: Option<Factors> = serde_json::from_str(&session.factors_json).ok();
        if factors.is_some_and(|f| f.correlation_id == participant.correlation_id) {
            tx.delete_session(&session.id_hash).await?;
        }
    }
    tx.delete_saml_participants(&participant.correlation_id)
        .await?;
    let origin = Origin {
        correlation_id: Some(participant.correlation_id.clone()),
        ..origin.clone()
    };
    let user_id = participant.user_id;
    crate::signin::session::audit_end(&mut tx, now, &origin, user_id, "saml_logout").await?;
    let event = AuditEvent::SamlLogout {
        sp: request.issuer.clone(),
        user_id: Some(user_id),
        status: if others.is_empty() {
            "SUCCESS"
        } else {
            "PROPAGATING"
        }
        .to_owned(),
        other_participants: others.len() as u64,
    };
    portner_audit::append(
        &mut tx,
        now,
        &origin.audit(Some(user_id)),
        &Subject::User(user_id),
        &event,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Ended::Session(others)))
}

/// The unsigned LogoutResponse with ID `id`; [`send`] signs it for its binding.
fn logout_response(
    state: &AppState,
    initiator: &Initiator,
    id: &str,
    status: &str,
    now: DateTime<Utc>,
) -> Result<String, SsoError> {
    let destination = initiator.endpoint.as_str();
    let issued = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let attributes = [
        ("Destination", destination),
        ("ID", id),
        ("InResponseTo", initiator.request_id.as_str()),
        ("IssueInstant", issued.as_str()),
        ("Version", "2.0"),
    ];
    let mut writer = message_head(state, "samlp:LogoutResponse", &attributes)?;
    writer.start("samlp:Status", &[], &[])?;
    let top = if status == PARTIAL { SUCCESS } else { status };
    writer.start("samlp:StatusCode", &[], &[("Value", top)])?;
    if status == PARTIAL {
        writer.element("samlp:StatusCode", &[], &[("Value", PARTIAL)], "")?;
    }
    Ok(writer.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SLO_REDIRECT: &str = "<md:SingleLogoutService \
        Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\"\n        \
        Location=\"https://sp.test.example.dk/slo\"/>";

    fn with_logout_services(services: &str) -> SpMetadata {
        let metadata = super::super::test_support::SP_METADATA;
        assert!(metadata.contains(SLO_REDIRECT));
        SpMetadata::parse(metadata.replace(SLO_REDIRECT, services).as_bytes()).unwrap()
    }

    #[test]
    fn redirect_is_preferred_and_post_is_used_when_it_is_all_an_sp_offers() {
        let post = "<md:SingleLogoutService \
            Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
            Location=\"https://sp.test.example.dk/slo-post\"/>";
        let artifact = "<md:SingleLogoutService \
            Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:SOAP\" \
            Location=\"https://sp.test.example.dk/soap\"/>";

        let both = with_logout_services(&format!("{post}{SLO_REDIRECT}"));
        let only_post = with_logout_services(&format!("{artifact}{post}"));
        let neither = with_logout_services(artifact);

        let redirect = Endpoint {
            location: "https://sp.test.example.dk/slo".to_owned(),
            binding: Binding::Redirect,
        };
        assert_eq!(logout_endpoint(&both), Some(redirect));
        let posted = Endpoint {
            location: "https://sp.test.example.dk/slo-post".to_owned(),
            binding: Binding::Post,
        };
        assert_eq!(logout_endpoint(&only_post), Some(posted));
        assert_eq!(logout_endpoint(&neither), None);
    }
}
