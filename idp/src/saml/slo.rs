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
//! session with a LogoutRequest signed over the query, whose RelayState is a random handle
//! naming the logout's state in the store. Each SP's LogoutResponse must carry a valid
//! signature from its metadata keys and answer the request sent (SL-3); a missing endpoint or
//! a failed answer makes the logout partial. Finally the initiator gets a LogoutResponse with
//! `Success`, or `Success` with the second-level `PartialLogout` (SAML Core §3.7.3.2).
//!
//! Known gaps: answers always go over the Redirect binding, so an SP needs a Redirect logout
//! endpoint to be told or answered; and an SP that never sends the browser back stops the
//! chain there (the session is ended regardless).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use portner_audit::{AuditEvent, Subject};
use portner_shared::domain::SamlParticipant;

use super::canonical::CanonicalWriter;
use super::redirect::{self, MessageKind, RedirectMessage};
use super::sso::{LoadedSp, Next, RequestHandle, SsoError, saml_id};
use super::xml::{self, Element, Limits};
use super::{ASSERTION_NS, BINDING_REDIRECT, PROTOCOL_NS};
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

/// Verifies a Redirect-binding LogoutRequest from `sp`; the refusal is a stable reason code.
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
) -> Result<VerifiedLogoutRequest, &'static str> {
    let root = logout_root(&message.xml, sp)?;
    let signature = message.signature.as_ref().ok_or("SIG_MISSING")?;
    let keys = super::dsig::metadata_keys(&sp.metadata);
    signature
        .verify(&keys, sp.settings.allow_sha1)
        .map_err(|error| error.code())?;
    check_verified(&root, slo_url, now, skew)
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
) -> Result<VerifiedLogoutRequest, &'static str> {
    let root = logout_root(xml, sp)?;
    let keys = super::dsig::metadata_keys(&sp.metadata);
    super::dsig::verify_enveloped(&root, &keys, sp.settings.allow_sha1)
        .map_err(|error| error.code())?;
    check_verified(&root, slo_url, now, skew)
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
        Ok(message) => return propagated_answer(state, &message, origin).await,
        Err(error) => return super::sso::refuse_untrusted(state, error.code(), origin).await,
    };
    let Some(sp) = super::sso::registered_sp(state, &message.xml).await? else {
        return super::sso::refuse_untrusted(state, "ISSUER_UNKNOWN", origin).await;
    };
    let Some(endpoint) = redirect_endpoint(&sp) else {
        return super::sso::refuse_untrusted(state, "SLO_ENDPOINT_MISSING", origin).await;
    };

    let now = state.clock.now();
    let skew = super::authn_request::DEFAULT_SKEW;
    let verified = verify_redirect(&message, &sp, &state.identity.slo_url(), now, skew);
    answer(
        state,
        verified,
        &endpoint,
        message.relay_state.as_deref(),
        origin,
    )
    .await
}

/// `POST /saml/slo`: the same over the POST binding; the answer still goes back over the
/// Redirect binding, signed over the query.
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
    let Some(endpoint) = redirect_endpoint(&sp) else {
        return super::sso::refuse_untrusted(state, "SLO_ENDPOINT_MISSING", origin).await;
    };
    let now = state.clock.now();
    let skew = super::authn_request::DEFAULT_SKEW;
    let verified = verify_post(&xml, &sp, &state.identity.slo_url(), now, skew);
    answer(state, verified, &endpoint, relay_state, origin).await
}

/// The SP's logout endpoint for the Redirect binding, from its metadata.
fn redirect_endpoint(sp: &LoadedSp) -> Option<String> {
    sp.metadata
        .single_logout_services
        .iter()
        .find(|endpoint| endpoint.binding == BINDING_REDIRECT)
        .map(|endpoint| endpoint.location.clone())
}

/// Ends the session of a verified request and answers the SP; refuses an unverified one.
async fn answer(
    state: &AppState,
    verified: Result<VerifiedLogoutRequest, &'static str>,
    endpoint: &str,
    relay_state: Option<&str>,
    origin: &Origin,
) -> Result<Next, SsoError> {
    let request = match verified {
        Ok(request) => request,
        Err(reason) => return super::sso::refuse_untrusted(state, reason, origin).await,
    };
    let Some(ended) = end_session(state, &request, origin).await? else {
        return super::sso::refuse_untrusted(state, "REPLAY", origin).await;
    };
    let initiator = Initiator {
        issuer: request.issuer,
        request_id: request.id,
        endpoint: endpoint.to_owned(),
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
            Some(sp) => redirect_endpoint(&sp),
            None => None,
        };
        let Some(endpoint) = endpoint else {
            progress.partial = true;
            continue;
        };
        let id = saml_id()?;
        let request = logout_request(state, &participant, &id, &endpoint)?;
        progress.current = Some((participant.sp_entity_id.clone(), id));
        let json = serde_json::to_string(&progress)
            .map_err(|error| SsoError::Internal(error.to_string()))?;
        let expires = state.clock.now() + PROPAGATION_LIFETIME;
        tx.put_saml_logout(&handle.hash(), &json, expires).await?;
        let query = signed_query(state, MessageKind::Request, &request, Some(handle.as_str()))?;
        return Ok(Next::Logout(with_query(&endpoint, &query)));
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
    let response = logout_response(state, initiator, status, now)?;
    let relay_state = initiator.relay_state.as_deref();
    let query = signed_query(state, MessageKind::Response, &response, relay_state)?;
    Ok(Next::Logout(with_query(&initiator.endpoint, &query)))
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

/// An SP's LogoutResponse to a request Portner passed on (SL-3): the handle in RelayState
/// names the logout, the signature must verify with that SP's metadata keys, and
/// `InResponseTo` must be the request sent. An answer that fails any check, or reports
/// anything but success, makes the logout partial; the session is gone either way (SL-4).
///
/// # Errors
///
/// The store failed or the signer failed.
pub async fn propagated_answer(
    state: &AppState,
    message: &RedirectMessage,
    origin: &Origin,
) -> Result<Next, SsoError> {
    let handle = message
        .relay_state
        .as_deref()
        .and_then(RequestHandle::parse);
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
    let confirmed = match &progress.current {
        Some((sp_entity_id, request_id)) => match super::sso::load_sp(&mut tx, sp_entity_id).await?
        {
            Some(sp) => confirms(message, &sp, request_id, &state.identity.slo_url()),
            None => false,
        },
        None => false,
    };
    if !confirmed {
        tracing::warn!("a service provider did not confirm the logout passed on to it");
        progress.partial = true;
    }
    progress.current = None;
    let next = next_step(state, &mut tx, &handle, progress).await?;
    tx.commit().await?;
    Ok(next)
}

/// Whether `message` is `sp`'s signed, successful LogoutResponse to `request_id`.
fn confirms(message: &RedirectMessage, sp: &LoadedSp, request_id: &str, slo_url: &str) -> bool {
    let keys = super::dsig::metadata_keys(&sp.metadata);
    let signed = message
        .signature
        .as_ref()
        .is_some_and(|signature| signature.verify(&keys, sp.settings.allow_sha1).is_ok());
    let Ok(root) = xml::parse(&message.xml, Limits::MESSAGE) else {
        return false;
    };
    let status = root
        .only_child(PROTOCOL_NS, "Status")
        .and_then(|status| status.only_child(PROTOCOL_NS, "StatusCode"))
        .and_then(|code| code.attribute("Value"));
    signed
        && root.is(PROTOCOL_NS, "LogoutResponse")
        && simple_child(&root, ASSERTION_NS, "Issuer") == Some(sp.registration.entity_id.as_str())
        && root.attribute("InResponseTo") == Some(request_id)
        && root
            .attribute("Destination")
            .is_none_or(|destination| destination == slo_url)
        && status == Some(SUCCESS)
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

/// The LogoutRequest passed on to another SP of the session (SL-2); the Redirect binding
/// signs the query, not the XML.
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

/// The LogoutResponse; the Redirect binding signs the query, not the XML.
fn logout_response(
    state: &AppState,
    initiator: &Initiator,
    status: &str,
    now: DateTime<Utc>,
) -> Result<String, SsoError> {
    let id = saml_id()?;
    let destination = initiator.endpoint.as_str();
    let issued = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let attributes = [
        ("Destination", destination),
        ("ID", id.as_str()),
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
