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

// HTTP-POST binding: the same request, signed by the third-party `xmlsec1` with the test SP's
// key (enveloped, exclusive c14n, RSA-SHA256), then verified by `verify_post`.

const SHA256_PAIR: (&str, &str) = (RSA_SHA256, "http://www.w3.org/2001/04/xmlenc#sha256");
const SHA1_PAIR: (&str, &str) = (
    test_support::RSA_SHA1,
    "http://www.w3.org/2000/09/xmldsig#sha1",
);

/// `request(extra, body)` with an enveloped signature after the Issuer, signed by `xmlsec1`
/// with `key_pem` and `certificate_pem`.
fn post_signed_as(
    xmlsec1: &std::path::Path,
    extra: &str,
    body: &str,
    (signature_method, digest_method): (&str, &str),
    key_pem: &[u8],
    certificate_pem: &[u8],
) -> String {
    let signature = test_support::SIGNATURE_TEMPLATE
        .replace("SIGNATURE_METHOD", signature_method)
        .replace("DIGEST_METHOD", digest_method);
    let template = request(extra, &format!("{signature}{body}"));
    test_support::xmlsec1_sign(
        xmlsec1,
        &template,
        key_pem,
        certificate_pem,
        "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest",
    )
}

fn post_signed(xmlsec1: &std::path::Path, extra: &str, body: &str) -> String {
    let key = sp_key().private_key_to_pem_pkcs8().unwrap();
    let certificate = test_support::SP_CERTIFICATE.as_bytes();
    post_signed_as(xmlsec1, extra, body, SHA256_PAIR, &key, certificate)
}

fn verify_posted(xml: &str) -> Result<VerifiedAuthnRequest, RequestError> {
    verify_post(
        xml.as_bytes(),
        Some("state-1"),
        SSO_URL,
        now(),
        DEFAULT_SKEW,
        registered,
    )
}

const POST_BODY: &str = r#"
  <samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/>
  <samlp:RequestedAuthnContext Comparison="minimum">
    <saml:AuthnContextClassRef
      >https://data.gov.dk/concept/core/nsis/loa/Substantial</saml:AuthnContextClassRef>
  </samlp:RequestedAuthnContext>
  <samlp:Scoping>
    <samlp:RequesterID>https://end-sp.test.example.dk</samlp:RequesterID>
  </samlp:Scoping>"#;

#[test]
fn a_post_signed_request_verifies_to_the_same_value_as_over_redirect() {
    let Some(xmlsec1) = test_support::xmlsec1() else {
        return;
    };
    let signed = post_signed(&xmlsec1, "ForceAuthn=\"true\"", POST_BODY);

    let over_post = verify_posted(&signed).unwrap();
    let over_redirect = verify_xml(&signed).unwrap();

    assert_eq!(over_post, over_redirect);
    assert_eq!(over_post.id, "_req1");
    assert_eq!(over_post.issuer, ENTITY_ID);
    assert!(over_post.force_authn);
    assert_eq!(over_post.relay_state.as_deref(), Some("state-1"));
    assert_eq!(over_post.requester_ids, ["https://end-sp.test.example.dk"]);
    let context = over_post.requested_context.unwrap();
    assert_eq!(context.levels, [NsisLevel::Substantial]);
}

#[test]
fn the_stored_xmlsec1_fixture_verifies_over_post() {
    let verified = verify_posted(SIGNED_FIXTURE).unwrap();

    assert_eq!(verified.id, "_signed-request-1");
    assert_eq!(verified.acs.location, "https://sp.test.example.dk/acs");
}

const SIGNED_FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/signed-authn-request.xml"
));

/// A1 regression fixture: the genuinely signed fixture nested in the `Extensions` of a forged
/// request that names the attacker's ACS.
const WRAPPED_FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/wrapped-authn-request.xml"
));

#[test]
fn the_wrapped_request_fixture_is_refused_and_never_answered() {
    let error = verify_posted(WRAPPED_FIXTURE).unwrap_err();

    assert_eq!(error.reason, RejectReason::SignatureWrapped);
    assert_eq!(error.reason.code(), "SIG_WRAPPED");
    assert_eq!(error.reply_to, None);
}

#[test]
fn post_requests_failing_a_signature_check_are_refused_before_trust() {
    let Some(xmlsec1) = test_support::xmlsec1() else {
        return;
    };
    let signed = post_signed(&xmlsec1, "", "");
    let signature_start = signed.find("<ds:Signature").unwrap();
    let signature_end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &signed[..signature_start], &signed[signature_end..]);
    let attacker =
        openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let attacker_certificate = self_signed(&attacker);
    let by_attacker = post_signed_as(
        &xmlsec1,
        "",
        "",
        SHA256_PAIR,
        &attacker.private_key_to_pem_pkcs8().unwrap(),
        &attacker_certificate.to_pem().unwrap(),
    );
    let sha1 = post_signed_as(
        &xmlsec1,
        "",
        "",
        SHA1_PAIR,
        &sp_key().private_key_to_pem_pkcs8().unwrap(),
        test_support::SP_CERTIFICATE.as_bytes(),
    );
    let forged_acs = signed.replace(
        "Version=\"2.0\"",
        "Version=\"2.0\" AssertionConsumerServiceURL=\"https://sp.test.example.dk/acs\"",
    );

    for (xml, expected) in [
        (unsigned, RejectReason::SignatureMissing),
        (by_attacker, RejectReason::KeyUntrusted),
        (sha1, RejectReason::SignatureAlgorithmForbidden),
        (forged_acs, RejectReason::SignatureInvalid),
    ] {
        let error = verify_posted(&xml).unwrap_err();
        assert_eq!(error.reason, expected);
        assert_eq!(error.reply_to, None, "answered an unverified request");
    }
}

#[test]
fn sha1_post_signatures_pass_for_an_sp_configured_for_them() {
    let Some(xmlsec1) = test_support::xmlsec1() else {
        return;
    };
    let sha1 = post_signed_as(
        &xmlsec1,
        "",
        "",
        SHA1_PAIR,
        &sp_key().private_key_to_pem_pkcs8().unwrap(),
        test_support::SP_CERTIFICATE.as_bytes(),
    );
    let legacy_sp = |entity_id: &str| {
        registered(entity_id).map(|sp| RegisteredSp {
            allow_sha1: true,
            ..sp
        })
    };

    let verified = verify_post(
        sha1.as_bytes(),
        None,
        SSO_URL,
        now(),
        DEFAULT_SKEW,
        legacy_sp,
    );

    assert_eq!(verified.unwrap().relay_state, None);
}

#[test]
fn post_requests_go_through_the_same_checks_after_the_signature() {
    let Some(xmlsec1) = test_support::xmlsec1() else {
        return;
    };
    let signed = post_signed(&xmlsec1, "", "");
    let artifact = post_signed(
        &xmlsec1,
        "ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact\"",
        "",
    );
    let later = now() + Duration::hours(1);
    let check = |xml: &str, sso_url: &str, now| {
        verify_post(xml.as_bytes(), None, sso_url, now, DEFAULT_SKEW, registered)
    };

    assert_eq!(reason(check(&signed, SSO_URL, later)), RejectReason::Stale);
    assert_eq!(
        reason(check(&signed, "https://login.test.example.dk/other", now())),
        RejectReason::Destination
    );
    let error = check(&artifact, SSO_URL, now()).unwrap_err();
    assert_eq!(error.reason, RejectReason::BindingUnsupported);
    assert_eq!(error.reply_to.unwrap().1, "_req1");
}

#[test]
fn post_issuer_relay_state_and_parse_failures_are_refused_before_any_signature_check() {
    let unknown = request("", "").replace(ENTITY_ID, "https://other.test.example.dk");
    let split_by_comment = request("", "").replace(
        ENTITY_ID,
        "https://sp.test.example.dk/saml<!---->.evil.test",
    );
    let doctype = format!("<!DOCTYPE x>{}", request("", ""));
    let logout = request("", "").replace("AuthnRequest", "LogoutRequest");
    let long_relay_state = "r".repeat(crate::saml::redirect::MAX_RELAY_STATE_BYTES + 1);

    for (xml, expected) in [
        (unknown, RejectReason::IssuerUnknown),
        (split_by_comment, RejectReason::IssuerUnknown),
        (doctype, RejectReason::Doctype),
        (logout, RejectReason::Malformed),
        ("<a".to_owned(), RejectReason::Malformed),
    ] {
        assert_eq!(reason(verify_posted(&xml)), expected);
    }
    let relay_state = verify_post(
        SIGNED_FIXTURE.as_bytes(),
        Some(&long_relay_state),
        SSO_URL,
        now(),
        DEFAULT_SKEW,
        registered,
    );
    assert_eq!(reason(relay_state), RejectReason::RelayStateInvalid);
}

/// A self-signed certificate for `key`, as an attacker would make one.
fn self_signed(key: &openssl::pkey::PKey<openssl::pkey::Private>) -> openssl::x509::X509 {
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "Portner test attacker")
        .unwrap();
    let name = name.build();
    let mut builder = openssl::x509::X509::builder().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(key).unwrap();
    let not_before = openssl::asn1::Asn1Time::days_from_now(0).unwrap();
    let not_after = openssl::asn1::Asn1Time::days_from_now(30).unwrap();
    builder.set_not_before(&not_before).unwrap();
    builder.set_not_after(&not_after).unwrap();
    builder
        .sign(key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    builder.build()
}

proptest::proptest! {
    #[test]
    fn arbitrary_post_input_never_panics(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
    ) {
        let _ = verify_post(&bytes, None, SSO_URL, now(), DEFAULT_SKEW, registered);
    }

    #[test]
    fn truncated_post_requests_never_panic_and_are_refused(cut in 0..2700usize) {
        let complete = SIGNED_FIXTURE.trim_end();
        let bytes = &complete.as_bytes()[..cut.min(complete.len() - 1)];
        let verified = verify_post(bytes, None, SSO_URL, now(), DEFAULT_SKEW, registered);
        proptest::prop_assert!(verified.is_err());
    }
}
