//! Helpers for the SAML tests: the test SP's key and metadata from `tests/data/saml/`, and
//! Redirect-binding queries encoded and signed the way an SP does it.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;

/// The RSA-SHA256 signature algorithm URI.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// The RSA-SHA1 signature algorithm URI.
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";

/// The test SP's metadata document.
pub const SP_METADATA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/sp-metadata.xml"
));
const SP_KEY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/sp-test.key"
));

/// The test SP's private key.
pub fn sp_key() -> PKey<Private> {
    PKey::private_key_from_pem(SP_KEY.as_bytes()).unwrap()
}

/// Raw DEFLATE, as the Redirect binding carries messages.
pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Percent-encodes everything but unreserved characters, with upper- or lower-case hex.
pub fn encode(value: &str, lower: bool) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ if lower => format!("%{byte:02x}"),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A Redirect query carrying `xml`, signed with `key` over the encoded parameters in binding
/// order, as SAML Bindings §3.4.4.1 prescribes.
pub fn signed_query(
    key: &PKey<Private>,
    xml: &str,
    relay_state: Option<&str>,
    sig_alg: &str,
    lower: bool,
) -> String {
    let message = STANDARD.encode(deflate(xml.as_bytes()));
    let mut query = format!("SAMLRequest={}", encode(&message, lower));
    if let Some(relay_state) = relay_state {
        query.push_str(&format!("&RelayState={}", encode(relay_state, lower)));
    }
    query.push_str(&format!("&SigAlg={}", encode(sig_alg, lower)));
    let digest = if sig_alg == RSA_SHA1 {
        MessageDigest::sha1()
    } else {
        MessageDigest::sha256()
    };
    let mut signer = Signer::new(digest, key).unwrap();
    let signature = signer.sign_oneshot_to_vec(query.as_bytes()).unwrap();
    format!(
        "{query}&Signature={}",
        encode(&STANDARD.encode(signature), lower)
    )
}

/// The test SP's certificate (PEM).
pub const SP_CERTIFICATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/saml/sp-test.crt"
));

/// `xmlsec1`, or `None` after printing why the calling test is skipped. Under CI (the `CI`
/// environment variable set) a missing `xmlsec1` fails the test instead.
pub fn xmlsec1() -> Option<std::path::PathBuf> {
    let found = ["/usr/bin/xmlsec1", "/usr/local/bin/xmlsec1"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|path| path.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "xmlsec1 is required under CI"
        );
        println!("skipped: xmlsec1 is not installed");
    }
    found
}

/// Signs `template` (a document with an empty `ds:Signature` template) with the third-party
/// `xmlsec1`, using `key_pem` and its `certificate_pem`. `id_node` names the element whose
/// `ID` attribute the reference points at (`namespace:LocalName`).
pub fn xmlsec1_sign(
    xmlsec1: &std::path::Path,
    template: &str,
    key_pem: &[u8],
    certificate_pem: &[u8],
    id_node: &str,
) -> String {
    let folder = tempfile::tempdir().unwrap();
    let key_path = folder.path().join("key.pem");
    let certificate_path = folder.path().join("cert.pem");
    let template_path = folder.path().join("template.xml");
    let signed_path = folder.path().join("signed.xml");
    std::fs::write(&key_path, key_pem).unwrap();
    std::fs::write(&certificate_path, certificate_pem).unwrap();
    std::fs::write(&template_path, template).unwrap();

    let key_argument = format!("{},{}", key_path.display(), certificate_path.display());
    let output = std::process::Command::new(xmlsec1)
        .args([
            "--sign",
            "--privkey-pem",
            &key_argument,
            "--id-attr:ID",
            id_node,
        ])
        .arg("--output")
        .arg(&signed_path)
        .arg(&template_path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "xmlsec1 --sign failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(&signed_path).unwrap()
}

/// An enveloped signature template for `xmlsec1 --sign` over the element with `ID="_req1"`;
/// `SIGNATURE_METHOD` and `DIGEST_METHOD` are replaced by algorithm URIs.
pub const SIGNATURE_TEMPLATE: &str = concat!(
    r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>"#,
    r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
    r#"<ds:SignatureMethod Algorithm="SIGNATURE_METHOD"/>"#,
    r##"<ds:Reference URI="#_req1"><ds:Transforms>"##,
    r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#,
    r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>"#,
    r#"<ds:DigestMethod Algorithm="DIGEST_METHOD"/><ds:DigestValue/></ds:Reference>"#,
    r#"</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>"#,
    r#"</ds:Signature>"#,
);

/// Whether the third-party `xmlsec1` verifies the enveloped signature of `document` with only
/// `certificate_pem` trusted (the hardened flags of `security-tests.md` §7.3). `id_node`
/// names the signed element (`namespace:LocalName`).
pub fn xmlsec1_verifies(
    xmlsec1: &std::path::Path,
    document: &str,
    certificate_pem: &[u8],
    id_node: &str,
) -> bool {
    let folder = tempfile::tempdir().unwrap();
    let document_path = folder.path().join("document.xml");
    let certificate_path = folder.path().join("cert.pem");
    std::fs::write(&document_path, document).unwrap();
    std::fs::write(&certificate_path, certificate_pem).unwrap();
    let output = std::process::Command::new(xmlsec1)
        .args(["--verify", "--enabled-reference-uris", "empty,same-doc"])
        .args(["--enabled-key-data", "raw-x509-cert", "--pubkey-cert-pem"])
        .arg(&certificate_path)
        .args(["--id-attr:ID", id_node])
        .arg(&document_path)
        .output()
        .unwrap();
    output.status.success()
}
