//! Every signed output is verified by the third-party `xmlsec1` with only the IdP certificate
//! trusted (`--enabled-key-data raw-x509-cert`), and every encrypted output is decrypted by an
//! independent decryptor: `xmlsec1 --decrypt` for the legacy pair, the PyPI `xmlsec` binding
//! for the OIOSAML 3 pair (`security-tests.md` §7.1). Tests print a "skipped" line where a tool
//! is missing, and fail instead under CI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{Duration, TimeZone};

use super::*;
use crate::keys::KeyPair;
use crate::saml::xml::{self, Limits};

const SP_CERTIFICATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/sp-test.crt"
);
const SP_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/sp-test.key"
);
const DECRYPT_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/e2e/saml/decrypt.py");
const INJECTION: &str = "</saml:AttributeValue></saml:Attribute><saml:Attribute Name=\"role\"><saml:AttributeValue>admin";

fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = KeyPair::generate("Portner test IdP").unwrap();
        SigningKey {
            key: pair.private_key,
            certificate: pair.certificate,
        }
    })
}

fn sp_certificate() -> X509 {
    X509::from_pem(&std::fs::read(SP_CERTIFICATE).unwrap()).unwrap()
}

fn content() -> AssertionContent {
    let now = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
    AssertionContent {
        issuer: "https://saml.test.example.dk".into(),
        assertion_id: "_assertion-1".into(),
        issue_instant: now,
        name_id: "https://data.gov.dk/model/core/eid/professional/uuid/0c3d3c9f-7f5e-4c59-9d1a-3e1b2c4d5e6f".into(),
        name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
        audience: "https://sp.test.example.dk/saml".into(),
        recipient: "https://sp.test.example.dk/acs".into(),
        in_response_to: Some("_req1".into()),
        not_on_or_after: now + Duration::minutes(5),
        not_before: now - Duration::minutes(1),
        authn_instant: now - Duration::minutes(2),
        session_index: "_session-1".into(),
        session_not_on_or_after: now + Duration::hours(8),
        authn_context_class_ref: "https://data.gov.dk/concept/core/nsis".into(),
        attributes: vec![
            ("https://data.gov.dk/model/core/specVersion".into(), vec!["OIO-SAML-3.0".into()]),
            ("https://data.gov.dk/concept/core/nsis/loa".into(), vec!["Substantial".into()]),
            ("https://data.gov.dk/model/core/eid/professional/orgName".into(), vec![INJECTION.into()]),
            ("urn:test:multi".into(), vec!["R&D <lab>".into(), "]]>\"'".into()]),
        ],
    }
}

fn options(encryption: EncryptionProfile, sign_response: bool) -> (X509, bool, EncryptionProfile) {
    (sp_certificate(), sign_response, encryption)
}

fn build(encryption: EncryptionProfile, sign_response: bool) -> String {
    let (certificate, sign_response, encryption) = options(encryption, sign_response);
    let options = ResponseOptions {
        response_id: "_response-1",
        encryption,
        encryption_certificate: Some(&certificate),
        sign_response,
    };
    build_response(&content(), &options, signing_key()).unwrap()
}

/// A tool's path, or `None` after printing why the test is skipped; under CI a missing tool
/// fails the test.
fn tool(name: &str, path: Option<PathBuf>) -> Option<PathBuf> {
    let found = path.filter(|path| path.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is required under CI"
        );
        println!("skipped: {name} is not installed");
    }
    found
}

fn xmlsec1() -> Option<PathBuf> {
    tool("xmlsec1", Some(PathBuf::from("/usr/bin/xmlsec1")))
}

fn write_files(folder: &Path, response: &str) -> (PathBuf, PathBuf) {
    let response_path = folder.join("response.xml");
    std::fs::write(&response_path, response).unwrap();
    let certificate_path = folder.join("idp.crt");
    std::fs::write(
        &certificate_path,
        signing_key().certificate.to_pem().unwrap(),
    )
    .unwrap();
    (response_path, certificate_path)
}

/// `xmlsec1 --verify` with the hardened flags of `security-tests.md` §7.3.
fn xmlsec1_verifies(
    xmlsec1: &Path,
    folder: &Path,
    response: &str,
    element: &str,
    xpath: Option<&str>,
) -> bool {
    let (response_path, certificate_path) = write_files(folder, response);
    let mut command = Command::new(xmlsec1);
    command.args(["--verify", "--enabled-reference-uris", "empty,same-doc"]);
    command.args(["--enabled-key-data", "raw-x509-cert", "--pubkey-cert-pem"]);
    command
        .arg(&certificate_path)
        .arg("--id-attr:ID")
        .arg(element);
    if let Some(xpath) = xpath {
        command.args(["--node-xpath", xpath]);
    }
    let output = command.arg(&response_path).output().unwrap();
    output.status.success()
}

const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";
const RESPONSE: &str = "urn:oasis:names:tc:SAML:2.0:protocol:Response";
const INNER_SIGNATURE: &str = "//*[local-name()='Assertion']/*[local-name()='Signature']";

#[test]
fn the_response_is_well_formed_and_injected_markup_stays_one_literal_value() {
    let response = build(EncryptionProfile::None, false);

    let root = xml::parse(response.as_bytes(), Limits::MESSAGE).unwrap();
    let assertion = root.only_child(ASSERTION_NS, "Assertion").unwrap();
    let statement = assertion
        .only_child(ASSERTION_NS, "AttributeStatement")
        .unwrap();
    let attributes: Vec<_> = statement
        .children_named(ASSERTION_NS, "Attribute")
        .collect();

    assert_eq!(attributes.len(), 4, "injected markup created an attribute");
    let organisation = attributes[2]
        .only_child(ASSERTION_NS, "AttributeValue")
        .unwrap();
    assert_eq!(organisation.simple_text(), Some(INJECTION));
    let multi: Vec<_> = attributes[3]
        .children_named(ASSERTION_NS, "AttributeValue")
        .collect();
    assert_eq!(multi[0].simple_text(), Some("R&D <lab>"));
    assert_eq!(root.attribute("InResponseTo"), Some("_req1"));
    assert_eq!(
        root.attribute("Destination"),
        Some("https://sp.test.example.dk/acs")
    );
}

#[test]
fn xmlsec1_verifies_the_assertion_signature_and_refuses_a_tampered_copy() {
    let Some(xmlsec1) = xmlsec1() else { return };
    let folder = tempfile::tempdir().unwrap();
    let response = build(EncryptionProfile::None, false);
    let tampered = response.replace("Substantial", "High");

    assert!(xmlsec1_verifies(
        &xmlsec1,
        folder.path(),
        &response,
        ASSERTION,
        None
    ));
    assert!(!xmlsec1_verifies(
        &xmlsec1,
        folder.path(),
        &tampered,
        ASSERTION,
        None
    ));
}

#[test]
fn xmlsec1_verifies_both_signatures_of_a_signed_response() {
    let Some(xmlsec1) = xmlsec1() else { return };
    let folder = tempfile::tempdir().unwrap();
    let response = build(EncryptionProfile::None, true);

    assert!(xmlsec1_verifies(
        &xmlsec1,
        folder.path(),
        &response,
        RESPONSE,
        None
    ));
    assert!(xmlsec1_verifies(
        &xmlsec1,
        folder.path(),
        &response,
        ASSERTION,
        Some(INNER_SIGNATURE)
    ));
}

#[test]
fn xmlsec1_decrypts_the_legacy_pair_and_the_decrypted_assertion_verifies() {
    let Some(xmlsec1) = xmlsec1() else { return };
    let folder = tempfile::tempdir().unwrap();
    let response = build(EncryptionProfile::Legacy, true);
    assert!(
        !response.contains("OIO-SAML-3.0"),
        "the assertion was sent in clear"
    );
    assert!(xmlsec1_verifies(
        &xmlsec1,
        folder.path(),
        &response,
        RESPONSE,
        None
    ));

    let (response_path, _) = write_files(folder.path(), &response);
    let decrypted = Command::new(&xmlsec1)
        .args(["--decrypt", "--privkey-pem", SP_KEY])
        .arg(&response_path)
        .output()
        .unwrap();
    assert!(
        decrypted.status.success(),
        "{}",
        String::from_utf8_lossy(&decrypted.stderr)
    );
    let decrypted = String::from_utf8(decrypted.stdout).unwrap();

    assert!(decrypted.contains("OIO-SAML-3.0"));
    assert!(xmlsec1_verifies(
        &xmlsec1,
        folder.path(),
        &decrypted,
        ASSERTION,
        Some(INNER_SIGNATURE)
    ));
}

#[test]
fn the_python_xmlsec_binding_decrypts_the_oiosaml3_pair() {
    let python = std::env::var_os("PORTNER_TEST_PYTHON_XMLSEC").map(PathBuf::from);
    let Some(python) = tool("Python with xmlsec (PORTNER_TEST_PYTHON_XMLSEC)", python) else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let response = build(EncryptionProfile::Oiosaml3, false);
    assert!(response.contains("xmlenc11#rsa-oaep") && response.contains("aes256-gcm"));
    let (response_path, _) = write_files(folder.path(), &response);

    let decrypted = Command::new(python)
        .arg(DECRYPT_SCRIPT)
        .arg(&response_path)
        .arg(SP_KEY)
        .output()
        .unwrap();

    assert!(
        decrypted.status.success(),
        "{}",
        String::from_utf8_lossy(&decrypted.stderr)
    );
    let decrypted = String::from_utf8(decrypted.stdout).unwrap();
    assert!(decrypted.contains("OIO-SAML-3.0"), "{decrypted}");
    if let Some(xmlsec1) = xmlsec1() {
        let inner = Some(INNER_SIGNATURE);
        assert!(xmlsec1_verifies(
            &xmlsec1,
            folder.path(),
            &decrypted,
            ASSERTION,
            inner
        ));
    }
}

#[test]
fn encryption_without_an_sp_certificate_and_unrepresentable_values_are_refused() {
    let no_key = ResponseOptions {
        response_id: "_r",
        encryption: EncryptionProfile::Oiosaml3,
        encryption_certificate: None,
        sign_response: false,
    };
    let mut nul = content();
    nul.attributes[0].1[0] = "bad\u{0}value".into();
    let clear = ResponseOptions {
        encryption: EncryptionProfile::None,
        ..no_key
    };

    let missing = build_response(&content(), &no_key, signing_key());
    let unrepresentable = build_response(&nul, &clear, signing_key());

    assert!(matches!(missing, Err(ResponseError::NoEncryptionKey)));
    assert!(matches!(
        unrepresentable,
        Err(ResponseError::Unrepresentable(_))
    ));
}

#[test]
fn error_responses_are_signed_carry_both_status_levels_and_no_assertion() {
    let error = ErrorResponse {
        issuer: "https://saml.test.example.dk",
        response_id: "_error-1",
        destination: "https://sp.test.example.dk/acs",
        in_response_to: "_req1",
        issue_instant: Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap(),
        status: ErrorStatus::Requester,
        detail: Some("NoPassive"),
    };

    let response = build_error_response(&error, signing_key()).unwrap();
    let root = xml::parse(response.as_bytes(), Limits::MESSAGE).unwrap();

    let status = root.only_child(PROTOCOL_NS, "Status").unwrap();
    let top = status.only_child(PROTOCOL_NS, "StatusCode").unwrap();
    assert_eq!(
        top.attribute("Value"),
        Some("urn:oasis:names:tc:SAML:2.0:status:Requester")
    );
    let second = top.only_child(PROTOCOL_NS, "StatusCode").unwrap();
    assert_eq!(
        second.attribute("Value"),
        Some("urn:oasis:names:tc:SAML:2.0:status:NoPassive")
    );
    assert!(root.only_child(ASSERTION_NS, "Assertion").is_none());
    if let Some(xmlsec1) = xmlsec1() {
        let folder = tempfile::tempdir().unwrap();
        assert!(xmlsec1_verifies(
            &xmlsec1,
            folder.path(),
            &response,
            RESPONSE,
            None
        ));
    }
}
