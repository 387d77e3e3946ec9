use chrono::TimeZone;

use super::*;
use crate::saml::redirect::decode;
use crate::saml::test_support::{self, RSA_SHA256, SP_METADATA, signed_query, sp_key};

const SSO_URL: &str = "https://login.test.example.dk/saml/sso";
const ENTITY_ID: &str = "https://sp.test.example.dk/saml";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
}

/// An AuthnRequest from the test SP; `extra` goes into the root tag, `body` after the Issuer.
fn request(extra: &str, body: &str) -> String {
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
    xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_req1" Version="2.0"
    IssueInstant="2026-12-03T11:59:30Z" Destination="{SSO_URL}" {extra}>
  <saml:Issuer>{ENTITY_ID}</saml:Issuer>{body}
</samlp:AuthnRequest>"#
    )
}

fn registered(entity_id: &str) -> Option<RegisteredSp> {
    (entity_id == ENTITY_ID).then(|| RegisteredSp {
        metadata: SpMetadata::parse(SP_METADATA.as_bytes()).unwrap(),
        allow_sha1: false,
    })
}

fn verify_xml(xml: &str) -> Result<VerifiedAuthnRequest, RequestError> {
    let query = signed_query(&sp_key(), xml, Some("state-1"), RSA_SHA256, false);
    verify_query(&query)
}

fn verify_query(query: &str) -> Result<VerifiedAuthnRequest, RequestError> {
    let message = decode(query).unwrap();
    verify_redirect(&message, SSO_URL, now(), DEFAULT_SKEW, registered)
}

fn reason(result: Result<VerifiedAuthnRequest, RequestError>) -> RejectReason {
    result.unwrap_err().reason
}

#[test]
fn a_signed_request_from_a_registered_sp_is_verified_with_its_fields() {
    let body = r#"
  <samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/>
  <samlp:RequestedAuthnContext Comparison="minimum">
    <saml:AuthnContextClassRef>https://data.gov.dk/concept/core/nsis/loa/Substantial</saml:AuthnContextClassRef>
    <saml:AuthnContextClassRef>https://data.gov.dk/eid/Professional</saml:AuthnContextClassRef>
  </samlp:RequestedAuthnContext>
  <samlp:Scoping><samlp:RequesterID>https://end-sp.test.example.dk</samlp:RequesterID></samlp:Scoping>"#;

    let verified = verify_xml(&request("ForceAuthn=\"true\"", body)).unwrap();

    assert_eq!(verified.id, "_req1");
    assert_eq!(verified.issuer, ENTITY_ID);
    assert_eq!(
        verified.acs.location,
        "https://sp.test.example.dk/acs2?tenant=1"
    );
    assert!(verified.force_authn && !verified.is_passive);
    let context = verified.requested_context.unwrap();
    assert_eq!(context.comparison, Comparison::Minimum);
    assert_eq!(context.levels, [NsisLevel::Substantial]);
    assert_eq!(verified.requester_ids, ["https://end-sp.test.example.dk"]);
    assert_eq!(verified.relay_state.as_deref(), Some("state-1"));
}

#[test]
fn unsigned_foreign_signed_and_unknown_issuer_requests_are_refused_before_trust() {
    let xml = request("", "");
    let unsigned = format!(
        "SAMLRequest={}",
        test_support::encode(
            &base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                test_support::deflate(xml.as_bytes())
            ),
            false
        )
    );
    let attacker =
        openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let foreign = signed_query(&attacker, &xml, None, RSA_SHA256, false);
    let unknown = xml.replace(ENTITY_ID, "https://other.test.example.dk");
    let split_by_comment = xml.replace(
        ENTITY_ID,
        "https://sp.test.example.dk/saml<!---->.evil.test",
    );

    for (result, expected) in [
        (verify_query(&unsigned), RejectReason::SignatureMissing),
        (verify_query(&foreign), RejectReason::SignatureInvalid),
        (verify_xml(&unknown), RejectReason::IssuerUnknown),
        (verify_xml(&split_by_comment), RejectReason::IssuerUnknown),
    ] {
        let error = result.unwrap_err();
        assert_eq!(error.reason, expected);
        assert_eq!(error.reply_to, None, "answered an unverified request");
    }
}

#[test]
fn sha1_signatures_are_refused_for_an_sp_not_configured_for_them() {
    let query = signed_query(
        &sp_key(),
        &request("", ""),
        None,
        test_support::RSA_SHA1,
        false,
    );

    assert_eq!(
        reason(verify_query(&query)),
        RejectReason::SignatureAlgorithmForbidden
    );
}

#[test]
fn destination_must_be_exactly_this_endpoint() {
    let wrong_port =
        request("", "").replace(SSO_URL, "https://login.test.example.dk:8443/saml/sso");
    let missing = request("", "").replace(&format!("Destination=\"{SSO_URL}\""), "");

    assert_eq!(reason(verify_xml(&wrong_port)), RejectReason::Destination);
    assert_eq!(reason(verify_xml(&missing)), RejectReason::Destination);
}

#[test]
fn stale_future_and_zone_less_issue_instants_are_refused() {
    let old = request("", "").replace("2026-12-03T11:59:30Z", "2026-12-03T11:00:00Z");
    let future = request("", "").replace("2026-12-03T11:59:30Z", "2026-12-03T13:00:00Z");
    let zone_less = request("", "").replace("2026-12-03T11:59:30Z", "2026-12-03T11:59:30");

    assert_eq!(reason(verify_xml(&old)), RejectReason::Stale);
    assert_eq!(reason(verify_xml(&future)), RejectReason::Stale);
    assert_eq!(reason(verify_xml(&zone_less)), RejectReason::Malformed);
}

#[test]
fn the_acs_comes_only_from_metadata() {
    let by_index = request("AssertionConsumerServiceIndex=\"1\"", "");
    let by_url = request(
        "AssertionConsumerServiceURL=\"https://sp.test.example.dk/acs\"",
        "",
    );
    let foreign = request(
        "AssertionConsumerServiceURL=\"https://evil.test/steal\"",
        "",
    );
    let redirect_acs = request("AssertionConsumerServiceIndex=\"0\"", "");

    assert_eq!(
        verify_xml(&by_index).unwrap().acs.location,
        "https://sp.test.example.dk/acs"
    );
    assert_eq!(verify_xml(&by_url).unwrap().acs.index, Some(1));
    assert_eq!(reason(verify_xml(&foreign)), RejectReason::AcsMismatch);
    assert_eq!(reason(verify_xml(&redirect_acs)), RejectReason::AcsMismatch);
}

#[test]
fn unsupported_options_are_answered_to_the_verified_acs() {
    let artifact = request(
        "ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact\"",
        "",
    );
    let both_flags = request("ForceAuthn=\"true\" IsPassive=\"true\"", "");
    let email = request(
        "",
        r#"<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"/>"#,
    );
    let better = request(
        "",
        r#"<samlp:RequestedAuthnContext Comparison="better"><saml:AuthnContextClassRef>https://data.gov.dk/concept/core/nsis/loa/Low</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>"#,
    );
    let person = request(
        "",
        r#"<samlp:RequestedAuthnContext><saml:AuthnContextClassRef>https://data.gov.dk/eid/Person</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>"#,
    );

    for (xml, expected) in [
        (artifact, RejectReason::BindingUnsupported),
        (both_flags, RejectReason::ConflictingFlags),
        (email, RejectReason::NameIdPolicy),
        (better, RejectReason::AuthnContext),
        (person, RejectReason::AuthnContext),
    ] {
        let error = verify_xml(&xml).unwrap_err();
        assert_eq!(error.reason, expected);
        let (acs, in_response_to) = error.reply_to.expect("a verified request is answered");
        assert_eq!(acs.location, "https://sp.test.example.dk/acs2?tenant=1");
        assert_eq!(in_response_to, "_req1");
    }
}

#[test]
fn request_ids_that_are_not_short_ncnames_are_refused() {
    let long_id = format!("_{}", "a".repeat(300));
    for id in [
        "${java.version}",
        "{{7*7}}",
        "1abc",
        "a b",
        long_id.as_str(),
    ] {
        let xml = request("", "").replace("ID=\"_req1\"", &format!("ID=\"{id}\""));
        assert_eq!(reason(verify_xml(&xml)), RejectReason::Malformed, "{id}");
    }
}

#[test]
fn other_messages_and_doctypes_are_refused() {
    let logout = request("", "").replace("AuthnRequest", "LogoutRequest");
    let doctype = format!("<!DOCTYPE x>{}", request("", ""));

    assert_eq!(reason(verify_xml(&logout)), RejectReason::Malformed);
    assert_eq!(reason(verify_xml(&doctype)), RejectReason::Doctype);
}
