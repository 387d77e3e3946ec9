use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use proptest::prelude::*;

use super::*;
use crate::saml::test_support::{self, deflate, encode};

const SHA256: &str = test_support::RSA_SHA256;
const SHA1: &str = test_support::RSA_SHA1;
const XML: &str =
    r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a"/>"#;

/// A fresh SP key; [`shared_key`] where one key for all cases will do.
fn key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

fn shared_key() -> &'static PKey<Private> {
    static KEY: std::sync::OnceLock<PKey<Private>> = std::sync::OnceLock::new();
    KEY.get_or_init(key)
}

fn public(key: &PKey<Private>) -> PKey<Public> {
    PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap()
}

fn signed_query(
    key: &PKey<Private>,
    relay_state: Option<&str>,
    sig_alg: &str,
    lower: bool,
) -> String {
    test_support::signed_query(key, XML, relay_state, sig_alg, lower)
}

fn verify(query: &str, key: &PKey<Private>) -> Result<RedirectMessage, RedirectError> {
    let message = decode(query)?;
    message
        .signature
        .as_ref()
        .ok_or(RedirectError::SignatureMissing)?
        .verify(&[public(key)], false)?;
    Ok(message)
}

#[test]
fn a_signed_request_decodes_and_verifies_with_the_sp_key() {
    let key = key();

    let message = verify(&signed_query(&key, Some("token-1"), SHA256, false), &key).unwrap();

    assert_eq!(message.kind, MessageKind::Request);
    assert_eq!(message.xml, XML.as_bytes());
    assert_eq!(message.relay_state.as_deref(), Some("token-1"));
}

#[test]
fn lower_case_escapes_verify_because_the_raw_bytes_are_signed() {
    let key = key();

    let verified = verify(&signed_query(&key, Some("/a/b c"), SHA256, true), &key);

    assert!(verified.is_ok(), "{verified:?}");
}

#[test]
fn relay_state_with_spaces_and_parentheses_round_trips_byte_for_byte() {
    let key = key();
    let relay_state = "a b (c) \"<d>\"\r\n";

    let message = verify(&signed_query(&key, Some(relay_state), SHA256, false), &key).unwrap();

    assert_eq!(message.relay_state.as_deref(), Some(relay_state));
}

#[test]
fn a_changed_relay_state_or_another_key_fails_verification() {
    let key = key();
    let query = signed_query(&key, Some("token-1"), SHA256, false);

    let altered = verify(&query.replace("token-1", "token-2"), &key);
    let foreign = verify(&query, &super::tests::key());

    assert_eq!(altered.unwrap_err(), RedirectError::SignatureInvalid);
    assert_eq!(foreign.unwrap_err(), RedirectError::SignatureInvalid);
}

#[test]
fn sha1_is_refused_unless_the_sp_is_configured_for_it() {
    let key = key();
    let message = decode(&signed_query(&key, None, SHA1, false)).unwrap();
    let signature = message.signature.unwrap();

    assert_eq!(
        signature.verify(&[public(&key)], false),
        Err(RedirectError::AlgorithmForbidden)
    );
    assert_eq!(signature.verify(&[public(&key)], true), Ok(()));
}

#[test]
fn unknown_hmac_and_mgf1_algorithms_are_refused_without_panicking() {
    let key = key();
    for sig_alg in [
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
        "nonsense",
    ] {
        let query = signed_query(&key, None, sig_alg, false);
        assert_eq!(
            verify(&query, &key).unwrap_err(),
            RedirectError::AlgorithmForbidden
        );
    }
}

#[test]
fn half_signed_queries_are_refused() {
    let key = key();
    let query = signed_query(&key, None, SHA256, false);
    let (without_signature, _) = query.split_once("&Signature=").unwrap();
    let signature = query.split_once("&Signature=").unwrap().1;
    let (message, _) = query.split_once("&SigAlg=").unwrap();

    assert_eq!(
        decode(without_signature).unwrap_err(),
        RedirectError::SignatureMissing
    );
    let signature_only = format!("{message}&Signature={signature}");
    assert_eq!(
        decode(&signature_only).unwrap_err(),
        RedirectError::SignatureMissing
    );
}

#[test]
fn ambiguous_parameters_are_refused() {
    let key = key();
    let query = signed_query(&key, Some("x"), SHA256, false);
    let message = query.split('&').next().unwrap().to_owned();
    let cases = [
        format!("{query}&RelayState=y"),
        format!("{message}&RelayState=a=b"),
        format!("%53AMLRequest=x&{message}"),
        format!("{message}&SAMLRequest[]=x"),
        format!("{message}&samlrequest=x"),
        format!(
            "{message}&{}",
            message.replace("SAMLRequest", "SAMLResponse")
        ),
        format!("{message}&{message}"),
    ];
    for case in cases {
        assert_eq!(
            decode(&case).unwrap_err(),
            RedirectError::ParamAmbiguous,
            "{case}"
        );
    }
}

#[test]
fn deflate_bombs_and_oversized_queries_are_refused() {
    let one_mebibyte = deflate(&vec![b'a'; 1024 * 1024]);
    let sixteen_mebibytes = deflate(&vec![b'a'; 16 * 1024 * 1024]);
    let query =
        |deflated: &[u8]| format!("SAMLRequest={}", encode(&STANDARD.encode(deflated), false));

    assert_eq!(
        decode(&query(&one_mebibyte)).unwrap_err(),
        RedirectError::InflateLimit
    );
    assert_eq!(
        decode(&query(&sixteen_mebibytes)).unwrap_err(),
        RedirectError::TooLarge
    );
}

#[test]
fn broken_encodings_are_refused() {
    let deflated = deflate(XML.as_bytes());
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    zlib.write_all(XML.as_bytes()).unwrap();
    let zlib = zlib.finish().unwrap();
    let mut trailing = deflated.clone();
    trailing.extend_from_slice(b"garbage");
    let truncated = &deflated[..deflated.len() / 2];
    let query = |value: String| format!("SAMLRequest={value}");

    let cases = [
        query(encode(&STANDARD.encode(&zlib), false)),
        query(encode(&STANDARD.encode(&trailing), false)),
        query(encode(&STANDARD.encode(truncated), false)),
        query(encode(
            &URL_SAFE.encode([&deflated[..], &[0xfb, 0xff]].concat()),
            false,
        )),
        query(encode(
            &STANDARD.encode(&deflated).replace('A', " A"),
            false,
        )),
        query("%zz".into()),
        query(String::new()),
    ];
    for case in cases {
        assert_eq!(
            decode(&case).unwrap_err(),
            RedirectError::Malformed,
            "{case}"
        );
    }
}

#[test]
fn relay_state_over_one_kibibyte_is_refused() {
    let message = STANDARD.encode(deflate(XML.as_bytes()));
    let query = format!(
        "SAMLRequest={}&RelayState={}",
        encode(&message, false),
        "r".repeat(1025)
    );

    assert_eq!(
        decode(&query).unwrap_err(),
        RedirectError::RelayStateInvalid
    );
}

proptest! {
    #[test]
    fn arbitrary_queries_never_panic(query in "[A-Za-z0-9%&=+/_\\[\\]-]{0,600}") {
        let _ = decode(&query);
    }

    #[test]
    fn truncated_signed_queries_never_panic(cut in 0usize..600) {
        let key = shared_key();
        let query = signed_query(key, Some("state"), SHA256, false);
        let truncated = &query[..cut.min(query.len())];
        if let Ok(RedirectMessage { signature: Some(signature), .. }) = decode(truncated) {
            let _ = signature.verify(&[public(key)], false);
        }
    }
}

#[test]
fn outbound_messages_decode_and_verify_with_the_signers_certificate() {
    let key = test_support::sp_key();
    let xml = "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>";
    let relay_state = "a b&c=d/é";

    let query = encode_signed(MessageKind::Request, xml, Some(relay_state), &key).unwrap();
    let message = decode(&query).unwrap();

    assert_eq!(message.kind, MessageKind::Request);
    assert_eq!(message.xml, xml.as_bytes());
    assert_eq!(message.relay_state.as_deref(), Some(relay_state));
    message
        .signature
        .unwrap()
        .verify(&[public(&key)], false)
        .unwrap();
}
