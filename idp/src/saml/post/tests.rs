use super::*;
use crate::saml::xml::{self, Limits};

const SIGNED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/signed-authn-request.xml"
));

/// The signed request without its XML declaration, for nesting inside another document.
fn signed_body() -> &'static str {
    SIGNED.split_once("?>").unwrap().1.trim()
}

fn signature_element() -> String {
    let start = SIGNED.find("<ds:Signature").unwrap();
    let end = SIGNED.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    SIGNED[start..end].to_owned()
}

fn shape(document: &str) -> Result<(), PostError> {
    check_signature_shape(&xml::parse(document.as_bytes(), Limits::MESSAGE).unwrap())
}

const ATTACKER_OPEN: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_attacker" Version="2.0" IssueInstant="2026-12-03T11:59:30Z" Destination="https://login.test.example.dk/saml/sso" AssertionConsumerServiceURL="http://evil.test/steal"><saml:Issuer>https://sp.test.example.dk/saml</saml:Issuer>"#;

#[test]
fn the_genuinely_signed_request_has_the_required_shape() {
    assert_eq!(shape(SIGNED), Ok(()));
}

#[test]
fn a_signed_request_wrapped_in_the_extensions_of_a_forged_one_is_refused() {
    let wrapped = format!(
        "{ATTACKER_OPEN}<samlp:Extensions>{}</samlp:Extensions></samlp:AuthnRequest>",
        signed_body()
    );

    assert_eq!(shape(&wrapped), Err(PostError::SignatureWrapped));
}

#[test]
fn signature_wrapping_shapes_are_refused() {
    let signature = signature_element();
    let unsigned = SIGNED.replace(&signature, "");
    let unsigned_body = unsigned.split_once("?>").unwrap().1.trim().to_owned();
    let cases = [
        // The signature moved under Extensions of the forged root.
        format!(
            "{ATTACKER_OPEN}<samlp:Extensions>{signature}</samlp:Extensions></samlp:AuthnRequest>"
        ),
        // XSW1: the original inside the Signature, outer element evil with a new ID.
        SIGNED
            .replace("ID=\"_signed-request-1\"", "ID=\"_evil\"")
            .replace(
                "</ds:Signature>",
                &format!("<ds:Object>{unsigned_body}</ds:Object></ds:Signature>"),
            ),
        // XSW2: the original copied before the Signature as a sibling.
        SIGNED.replace("<ds:Signature", &format!("{unsigned_body}<ds:Signature")),
        // The root's ID duplicated on a child.
        SIGNED.replace(
            "<samlp:NameIDPolicy",
            "<samlp:Extensions ID=\"_signed-request-1\"/><samlp:NameIDPolicy",
        ),
        // An empty or XPointer reference.
        SIGNED.replace("URI=\"#_signed-request-1\"", "URI=\"\""),
        SIGNED.replace("URI=\"#_signed-request-1\"", "URI=\"#xpointer(/)\""),
        // A reference to a sibling element.
        SIGNED
            .replace("URI=\"#_signed-request-1\"", "URI=\"#_other\"")
            .replace(
                "<samlp:NameIDPolicy",
                "<samlp:Extensions ID=\"_other\"/><samlp:NameIDPolicy",
            ),
        // Two signatures.
        SIGNED.replace(
            "</samlp:AuthnRequest>",
            &format!("{signature}</samlp:AuthnRequest>"),
        ),
    ];
    for (index, case) in cases.iter().enumerate() {
        assert_eq!(
            shape(case),
            Err(PostError::SignatureWrapped),
            "case {index}"
        );
    }
}

#[test]
fn forbidden_algorithms_and_transforms_are_refused() {
    let cases = [
        SIGNED.replace("xmldsig-more#rsa-sha256", "xmldsig-more#hmac-sha256"),
        SIGNED.replace(
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        ),
        SIGNED.replace("xmlenc#sha256", "xmldsig#sha1"),
        SIGNED.replace(
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#WithComments\"",
        ),
        SIGNED.replace(
            "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
            "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"/>",
        ),
    ];
    for (index, case) in cases.iter().enumerate() {
        assert_eq!(
            shape(case),
            Err(PostError::AlgorithmForbidden),
            "case {index}"
        );
    }
}

#[test]
fn key_info_that_carries_a_key_is_refused() {
    let key_value = SIGNED.replace(
        "<ds:KeyInfo>",
        "<ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>AA==</ds:Modulus></ds:RSAKeyValue></ds:KeyValue>",
    );
    let retrieval = SIGNED.replace(
        "<ds:KeyInfo>",
        "<ds:KeyInfo><ds:RetrievalMethod URI=\"http://evil.test/key\"/>",
    );

    assert_eq!(shape(&key_value), Err(PostError::KeyUntrusted));
    assert_eq!(shape(&retrieval), Err(PostError::KeyUntrusted));
}

#[test]
fn an_unsigned_request_is_refused_as_missing_a_signature() {
    let unsigned = SIGNED.replace(&signature_element(), "");

    assert_eq!(shape(&unsigned), Err(PostError::SignatureMissing));
}

#[test]
fn form_values_are_capped_and_must_be_base64() {
    let wrapped_lines = "PHI+\r\nPC9y\nPg==";

    assert_eq!(decode_form_value(wrapped_lines).unwrap(), b"<r></r>");
    assert_eq!(decode_form_value("not base64!"), Err(PostError::Malformed));
    assert_eq!(
        decode_form_value(&"A".repeat(MAX_FORM_VALUE_BYTES + 4)),
        Err(PostError::TooLarge)
    );
    let large = STANDARD.encode(vec![b'a'; MAX_DECODED_BYTES + 3]);
    assert_eq!(decode_form_value(&large), Err(PostError::TooLarge));
}
