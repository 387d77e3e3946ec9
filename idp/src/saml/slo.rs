//! Single logout initiated by an SP over the HTTP-Redirect binding (SL-1, SL-4, SL-6).
//!
//! A `LogoutRequest` is trusted only after the same steps as an AuthnRequest: strict parse,
//! a registered `Issuer`, the Redirect signature over the raw query with that SP's metadata
//! keys, the exact `Destination`, and an `IssueInstant` within the skew. Its `NameID` and a
//! non-empty `SessionIndex` must then name a session in which this SP received an assertion
//! (SL-1). That session ends server-side and a LogoutResponse, signed over the Redirect
//! query, goes to the SP's logout endpoint from metadata.
//!
//! Known gap: logout is not yet propagated front-channel to the session's other SPs (SL-2).
//! Their participation is forgotten with the session, and the initiator is told so with the
//! second-level status `PartialLogout`, as SAML Core §3.7.3.2 provides (SL-4). The answer
//! always goes over the Redirect binding, so an SP needs a Redirect logout endpoint.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use portner_audit::{AuditEvent, Subject};
use portner_shared::domain::SamlParticipant;

use super::canonical::CanonicalWriter;
use super::redirect::{self, MessageKind, RedirectMessage};
use super::sso::{LoadedSp, Next, SsoError};
use super::xml::{self, Element, Limits};
use super::{ASSERTION_NS, BINDING_REDIRECT, PROTOCOL_NS};
use crate::app::AppState;
use crate::signin::Origin;
use crate::signin::session::Factors;

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
        Ok(_) => return super::sso::refuse_untrusted(state, "MALFORMED", origin).await,
        Err(error) => return super::sso::refuse_untrusted(state, error.code(), origin).await,
    };
    let Some(sp) = super::routes::registered_sp(state, &message.xml).await? else {
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
    let Some(sp) = super::routes::registered_sp(state, &xml).await? else {
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
    let now = state.clock.now();
    let Some(status) = end_session(state, &request, origin).await? else {
        return super::sso::refuse_untrusted(state, "REPLAY", origin).await;
    };
    let response = logout_response(state, &request, endpoint, status, now)?;
    let query = redirect::encode_signed(
        MessageKind::Response,
        &response,
        relay_state,
        &state.identity.signing.key,
    )
    .map_err(|error| SsoError::Internal(error.to_string()))?;
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    Ok(Next::Logout(format!("{endpoint}{separator}{query}")))
}

/// Ends the session the request names and forgets its SPs; returns the status to report, or
/// `None` when the request ID was used before (a replay, A17), in which case nothing changed.
async fn end_session(
    state: &AppState,
    request: &VerifiedLogoutRequest,
    origin: &Origin,
) -> Result<Option<&'static str>, SsoError> {
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
        return Ok(Some(REQUESTER));
    };

    let participants = tx.saml_participants(&participant.correlation_id).await?;
    let others = participants.len().saturating_sub(1);
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
    let status = if others == 0 { SUCCESS } else { PARTIAL };
    let event = AuditEvent::SamlLogout {
        sp: request.issuer.clone(),
        user_id: Some(user_id),
        status: if others == 0 { "SUCCESS" } else { "PARTIAL" }.to_owned(),
        other_participants: others as u64,
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
    Ok(Some(status))
}

/// The LogoutResponse; the Redirect binding signs the query, not the XML.
fn logout_response(
    state: &AppState,
    request: &VerifiedLogoutRequest,
    destination: &str,
    status: &str,
    now: DateTime<Utc>,
) -> Result<String, SsoError> {
    let id = format!(
        "_{}",
        crate::signin::random_hex::<16>().map_err(|error| SsoError::Internal(error.to_string()))?
    );
    let issued = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let attributes = [
        ("Destination", destination),
        ("ID", id.as_str()),
        ("InResponseTo", request.id.as_str()),
        ("IssueInstant", issued.as_str()),
        ("Version", "2.0"),
    ];
    let unrepresentable =
        |error: super::canonical::UnrepresentableCharacter| SsoError::Internal(error.to_string());
    let mut writer = CanonicalWriter::new();
    writer
        .start(
            "samlp:LogoutResponse",
            &[("samlp", PROTOCOL_NS)],
            &attributes,
        )
        .map_err(unrepresentable)?;
    writer
        .element(
            "saml:Issuer",
            &[("saml", ASSERTION_NS)],
            &[("Format", ENTITY_FORMAT)],
            &state.identity.entity_id,
        )
        .map_err(unrepresentable)?;
    writer
        .start("samlp:Status", &[], &[])
        .map_err(unrepresentable)?;
    let top = if status == PARTIAL { SUCCESS } else { status };
    writer
        .start("samlp:StatusCode", &[], &[("Value", top)])
        .map_err(unrepresentable)?;
    if status == PARTIAL {
        writer
            .element("samlp:StatusCode", &[], &[("Value", PARTIAL)], "")
            .map_err(unrepresentable)?;
    }
    Ok(writer.finish())
}
