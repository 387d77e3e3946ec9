//! Building the SAML Response: the assertion, its signature, its encryption and the Response
//! around it (RS-1 … RS-13, CR-2, CR-3 in `oiosaml3-nsis.md`).
//!
//! samael's response builder is not usable for an IdP (D6, D8, D10), so Portner writes the
//! documents itself with [`CanonicalWriter`]: every value escaped, nothing from a template,
//! and the output already in exclusive-canonical form, so the digest is SHA-256 over the
//! bytes written and the signature is RSA-SHA256 over the canonical `SignedInfo` (CR-2). The
//! assertion is signed before it is encrypted (RS-3). Encryption uses OpenSSL: a fresh AES key
//! per assertion with a 96-bit random IV and a 128-bit tag, carried as IV ‖ ciphertext ‖ tag,
//! and the key wrapped with RSA-OAEP under the SP's encryption certificate (CR-3; CR-4 for the
//! legacy pair).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use openssl::encrypt::Encrypter;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rand::rand_bytes;
use openssl::rsa::Padding;
use openssl::sign::Signer;
use openssl::symm::{Cipher, encrypt_aead};
use openssl::x509::X509;

use super::canonical::{CanonicalWriter, UnrepresentableCharacter};
use super::registry::EncryptionProfile;
use super::{ASSERTION_NS, DSIG_NS, PROTOCOL_NS};

const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";
const EXCLUSIVE_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const URI_NAME_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
const ENTITY_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const ENCRYPTED_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";

/// Why a response could not be built. Nothing is sent in that case.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// A value (a display name, an e-mail address) holds a character XML cannot carry (A11).
    #[error(transparent)]
    Unrepresentable(#[from] UnrepresentableCharacter),
    /// Encryption was asked for, but the SP has no encryption certificate.
    #[error("the SP has no encryption certificate")]
    NoEncryptionKey,
    /// OpenSSL failed.
    #[error("cryptographic operation failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// Everything an assertion states. Times come from the injected clock.
#[derive(Clone, Debug)]
pub struct AssertionContent {
    /// The IdP's entityID (RS-4).
    pub issuer: String,
    /// A fresh, unique ID starting with `_`.
    pub assertion_id: String,
    /// When the assertion is issued.
    pub issue_instant: DateTime<Utc>,
    /// The NameID value (NI-*).
    pub name_id: String,
    /// The NameID format URI.
    pub name_id_format: String,
    /// The SP's entityID, the only audience (RS-7).
    pub audience: String,
    /// The ACS URL the response goes to (RS-6 `Recipient`).
    pub recipient: String,
    /// The request ID, absent for unsolicited responses (RS-14).
    pub in_response_to: Option<String>,
    /// End of the bearer confirmation and of the conditions.
    pub not_on_or_after: DateTime<Utc>,
    /// Start of the conditions (allowing for the SP's clock).
    pub not_before: DateTime<Utc>,
    /// When the user last actually authenticated (RS-8).
    pub authn_instant: DateTime<Utc>,
    /// The session index for single logout (RS-8).
    pub session_index: String,
    /// The IdP session's end (RS-8, SS-2).
    pub session_not_on_or_after: DateTime<Utc>,
    /// The authentication context class (AC-5).
    pub authn_context_class_ref: String,
    /// Attributes by name, each with one or more values (RS-9).
    pub attributes: Vec<(String, Vec<String>)>,
}

/// How the whole Response is addressed and protected.
#[derive(Clone, Copy, Debug)]
pub struct ResponseOptions<'a> {
    /// The Response ID.
    pub response_id: &'a str,
    /// Assertion encryption for this SP.
    pub encryption: EncryptionProfile,
    /// The SP's encryption certificate, required unless `encryption` is `None`.
    pub encryption_certificate: Option<&'a X509>,
    /// Whether to sign the Response as well (RS-2: off by default).
    pub sign_response: bool,
}

/// The IdP's signing key and certificate, loaded once.
#[derive(Clone)]
pub struct SigningKey {
    /// The private key.
    pub key: PKey<Private>,
    /// Its certificate, placed in `KeyInfo`.
    pub certificate: X509,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SigningKey(<private key>)")
    }
}

/// Builds the signed (and, unless the SP opts out, encrypted) assertion inside a Response.
///
/// # Errors
///
/// A value cannot be carried by XML, the SP lacks an encryption key, or OpenSSL failed.
pub fn build_response(
    content: &AssertionContent,
    options: &ResponseOptions<'_>,
    signing: &SigningKey,
) -> Result<String, ResponseError> {
    let assertion = signed_assertion(content, signing)?;
    let protected = match (options.encryption, options.encryption_certificate) {
        (EncryptionProfile::None, _) => assertion,
        (profile, Some(certificate)) => encrypted_assertion(&assertion, profile, certificate)?,
        (_, None) => return Err(ResponseError::NoEncryptionKey),
    };

    let (head, tail) = response_parts(content, options.response_id, &protected)?;
    if !options.sign_response {
        return Ok(format!("{head}{tail}"));
    }
    let signature = enveloped_signature(&format!("{head}{tail}"), options.response_id, signing)?;
    Ok(format!("{head}{signature}{tail}"))
}

/// The top-level status of an error response (SAML Core §3.2.2.2).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ErrorStatus {
    /// The request could not be honoured: `Requester`.
    Requester,
    /// Portner failed: `Responder`.
    Responder,
}

/// The addressing of an error response, sent only to an ACS established from metadata for a
/// verified request (RQ-8).
#[derive(Clone, Copy, Debug)]
pub struct ErrorResponse<'a> {
    /// The IdP's entityID.
    pub issuer: &'a str,
    /// The Response ID.
    pub response_id: &'a str,
    /// The verified ACS URL.
    pub destination: &'a str,
    /// The verified request ID.
    pub in_response_to: &'a str,
    /// When it is issued.
    pub issue_instant: DateTime<Utc>,
    /// Top-level status.
    pub status: ErrorStatus,
    /// Second-level code, e.g. `NoPassive`, `NoAuthnContext`, `RequestDenied` (RS-11).
    pub detail: Option<&'a str>,
}

/// Builds a signed error Response without an assertion (RS-11).
///
/// # Errors
///
/// A value cannot be carried by XML, or OpenSSL failed.
pub fn build_error_response(
    error: &ErrorResponse<'_>,
    signing: &SigningKey,
) -> Result<String, ResponseError> {
    let issued = time(error.issue_instant);
    let attributes = [
        ("Destination", error.destination),
        ("ID", error.response_id),
        ("InResponseTo", error.in_response_to),
        ("IssueInstant", issued.as_str()),
        ("Version", "2.0"),
    ];
    let mut head = CanonicalWriter::new();
    head.start("samlp:Response", &[("samlp", PROTOCOL_NS)], &attributes)?;
    head.element(
        "saml:Issuer",
        &[("saml", ASSERTION_NS)],
        &[("Format", ENTITY_FORMAT)],
        error.issuer,
    )?;
    let head = head
        .finish()
        .trim_end_matches("</samlp:Response>")
        .to_owned();

    let top = match error.status {
        ErrorStatus::Requester => "urn:oasis:names:tc:SAML:2.0:status:Requester",
        ErrorStatus::Responder => "urn:oasis:names:tc:SAML:2.0:status:Responder",
    };
    let detail = error
        .detail
        .map(|code| format!("urn:oasis:names:tc:SAML:2.0:status:{code}"));
    let mut tail = CanonicalWriter::new();
    tail.start("samlp:Status", &[], &[])?;
    tail.start("samlp:StatusCode", &[], &[("Value", top)])?;
    if let Some(detail) = &detail {
        tail.element("samlp:StatusCode", &[], &[("Value", detail)], "")?;
    }
    let tail = format!("{}</samlp:Response>", tail.finish());

    let signature = enveloped_signature(&format!("{head}{tail}"), error.response_id, signing)?;
    Ok(format!("{head}{signature}{tail}"))
}

/// The assertion with its enveloped signature after the `Issuer` (RS-3).
fn signed_assertion(
    content: &AssertionContent,
    signing: &SigningKey,
) -> Result<String, ResponseError> {
    let (head, tail) = assertion_parts(content)?;
    let signature = enveloped_signature(&format!("{head}{tail}"), &content.assertion_id, signing)?;
    Ok(format!("{head}{signature}{tail}"))
}

/// The assertion in two halves: up to its `Issuer`, and the rest.
fn assertion_parts(content: &AssertionContent) -> Result<(String, String), ResponseError> {
    let mut head = CanonicalWriter::new();
    head.start(
        "saml:Assertion",
        &[("saml", ASSERTION_NS)],
        &[
            ("ID", &content.assertion_id),
            ("IssueInstant", &time(content.issue_instant)),
            ("Version", "2.0"),
        ],
    )?;
    head.element(
        "saml:Issuer",
        &[],
        &[("Format", ENTITY_FORMAT)],
        &content.issuer,
    )?;
    let head = head.finish();
    let head = head.trim_end_matches("</saml:Assertion>").to_owned();

    let mut tail = CanonicalWriter::new();
    subject(&mut tail, content)?;
    let not_before = time(content.not_before);
    let not_on_or_after = time(content.not_on_or_after);
    tail.start(
        "saml:Conditions",
        &[],
        &[
            ("NotBefore", &not_before),
            ("NotOnOrAfter", &not_on_or_after),
        ],
    )?;
    tail.start("saml:AudienceRestriction", &[], &[])?;
    tail.element("saml:Audience", &[], &[], &content.audience)?;
    tail.end();
    tail.end();
    tail.start(
        "saml:AuthnStatement",
        &[],
        &[
            ("AuthnInstant", &time(content.authn_instant)),
            ("SessionIndex", &content.session_index),
            (
                "SessionNotOnOrAfter",
                &time(content.session_not_on_or_after),
            ),
        ],
    )?;
    tail.start("saml:AuthnContext", &[], &[])?;
    tail.element(
        "saml:AuthnContextClassRef",
        &[],
        &[],
        &content.authn_context_class_ref,
    )?;
    tail.end();
    tail.end();
    attribute_statement(&mut tail, &content.attributes)?;
    Ok((head, format!("{}</saml:Assertion>", tail.finish())))
}

fn subject(writer: &mut CanonicalWriter, content: &AssertionContent) -> Result<(), ResponseError> {
    writer.start("saml:Subject", &[], &[])?;
    writer.element(
        "saml:NameID",
        &[],
        &[("Format", &content.name_id_format)],
        &content.name_id,
    )?;
    writer.start("saml:SubjectConfirmation", &[], &[("Method", BEARER)])?;
    let not_on_or_after = time(content.not_on_or_after);
    let mut data: Vec<(&str, &str)> = Vec::new();
    if let Some(request_id) = &content.in_response_to {
        data.push(("InResponseTo", request_id));
    }
    data.push(("NotOnOrAfter", &not_on_or_after));
    data.push(("Recipient", &content.recipient));
    writer.start("saml:SubjectConfirmationData", &[], &data)?;
    writer.end();
    writer.end();
    writer.end();
    Ok(())
}

fn attribute_statement(
    writer: &mut CanonicalWriter,
    attributes: &[(String, Vec<String>)],
) -> Result<(), ResponseError> {
    writer.start("saml:AttributeStatement", &[], &[])?;
    for (name, values) in attributes {
        writer.start(
            "saml:Attribute",
            &[],
            &[("Name", name), ("NameFormat", URI_NAME_FORMAT)],
        )?;
        for value in values {
            writer.element("saml:AttributeValue", &[], &[], value)?;
        }
        writer.end();
    }
    writer.end();
    Ok(())
}

/// The Response in two halves around where its own signature would go.
fn response_parts(
    content: &AssertionContent,
    response_id: &str,
    protected_assertion: &str,
) -> Result<(String, String), ResponseError> {
    let mut attributes = vec![
        ("Destination", content.recipient.as_str()),
        ("ID", response_id),
    ];
    if let Some(request_id) = &content.in_response_to {
        attributes.push(("InResponseTo", request_id));
    }
    let issued = time(content.issue_instant);
    attributes.push(("IssueInstant", &issued));
    attributes.push(("Version", "2.0"));

    let mut head = CanonicalWriter::new();
    head.start("samlp:Response", &[("samlp", PROTOCOL_NS)], &attributes)?;
    head.element(
        "saml:Issuer",
        &[("saml", ASSERTION_NS)],
        &[("Format", ENTITY_FORMAT)],
        &content.issuer,
    )?;
    let head = head
        .finish()
        .trim_end_matches("</samlp:Response>")
        .to_owned();

    let mut tail = CanonicalWriter::new();
    tail.start("samlp:Status", &[], &[])?;
    tail.start("samlp:StatusCode", &[], &[("Value", SUCCESS)])?;
    tail.end();
    tail.end();
    tail.raw(protected_assertion);
    Ok((head, format!("{}</samlp:Response>", tail.finish())))
}

/// An enveloped signature over the canonical bytes of the element with ID `id`, whose
/// serialisation without the signature is `unsigned` (XML-DSig §3.1; SAML Core §5.4).
pub(crate) fn enveloped_signature(
    unsigned: &str,
    id: &str,
    signing: &SigningKey,
) -> Result<String, ResponseError> {
    let digest = STANDARD.encode(openssl::sha::sha256(unsigned.as_bytes()));
    let reference = format!("#{id}");

    let mut inner = CanonicalWriter::new();
    inner.element(
        "ds:CanonicalizationMethod",
        &[],
        &[("Algorithm", EXCLUSIVE_C14N)],
        "",
    )?;
    inner.element("ds:SignatureMethod", &[], &[("Algorithm", RSA_SHA256)], "")?;
    inner.start("ds:Reference", &[], &[("URI", &reference)])?;
    inner.start("ds:Transforms", &[], &[])?;
    inner.element("ds:Transform", &[], &[("Algorithm", ENVELOPED)], "")?;
    inner.element("ds:Transform", &[], &[("Algorithm", EXCLUSIVE_C14N)], "")?;
    inner.end();
    inner.element("ds:DigestMethod", &[], &[("Algorithm", SHA256)], "")?;
    inner.element("ds:DigestValue", &[], &[], &digest)?;
    let inner = inner.finish();

    // Canonicalised on its own, SignedInfo carries the ds declaration that in the document
    // sits on the enclosing Signature (exclusive c14n renders it on the apex).
    let canonical_signed_info =
        format!("<ds:SignedInfo xmlns:ds=\"{DSIG_NS}\">{inner}</ds:SignedInfo>");
    let mut signer = Signer::new(MessageDigest::sha256(), &signing.key)?;
    let value = STANDARD.encode(signer.sign_oneshot_to_vec(canonical_signed_info.as_bytes())?);
    let certificate = STANDARD.encode(signing.certificate.to_der()?);

    Ok(format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo>{inner}</ds:SignedInfo>\
         <ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo><ds:X509Data>\
         <ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
         </ds:Signature>"
    ))
}

/// Wraps the signed assertion in `EncryptedAssertion` (XML Encryption 1.1, CR-3 / CR-4).
fn encrypted_assertion(
    assertion: &str,
    profile: EncryptionProfile,
    certificate: &X509,
) -> Result<String, ResponseError> {
    let (cipher, data_algorithm, key_algorithm) = match profile {
        EncryptionProfile::Legacy => (
            Cipher::aes_128_gcm(),
            "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
        ),
        _ => (
            Cipher::aes_256_gcm(),
            "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            "http://www.w3.org/2009/xmlenc11#rsa-oaep",
        ),
    };
    let mut key = vec![0_u8; cipher.key_len()];
    rand_bytes(&mut key)?;
    let mut iv = [0_u8; 12];
    rand_bytes(&mut iv)?;
    let mut tag = [0_u8; 16];
    let ciphertext = encrypt_aead(cipher, &key, Some(&iv), &[], assertion.as_bytes(), &mut tag)?;
    let cipher_value = STANDARD.encode([&iv[..], &ciphertext, &tag].concat());
    let wrapped_key = STANDARD.encode(wrap_key(&key, profile, certificate)?);

    let mut writer = CanonicalWriter::new();
    writer.start("saml:EncryptedAssertion", &[("saml", ASSERTION_NS)], &[])?;
    writer.start(
        "xenc:EncryptedData",
        &[("xenc", XENC_NS)],
        &[("Type", ENCRYPTED_ELEMENT)],
    )?;
    writer.element(
        "xenc:EncryptionMethod",
        &[],
        &[("Algorithm", data_algorithm)],
        "",
    )?;
    writer.start("ds:KeyInfo", &[("ds", DSIG_NS)], &[])?;
    writer.start("xenc:EncryptedKey", &[], &[])?;
    writer.start(
        "xenc:EncryptionMethod",
        &[],
        &[("Algorithm", key_algorithm)],
    )?;
    if profile != EncryptionProfile::Legacy {
        writer.element("ds:DigestMethod", &[], &[("Algorithm", SHA256)], "")?;
        writer.element(
            "xenc11:MGF",
            &[("xenc11", XENC11_NS)],
            &[("Algorithm", "http://www.w3.org/2009/xmlenc11#mgf1sha256")],
            "",
        )?;
    }
    writer.end();
    writer.start("xenc:CipherData", &[], &[])?;
    writer.element("xenc:CipherValue", &[], &[], &wrapped_key)?;
    writer.end();
    writer.end();
    writer.end();
    writer.start("xenc:CipherData", &[], &[])?;
    writer.element("xenc:CipherValue", &[], &[], &cipher_value)?;
    Ok(writer.finish())
}

/// RSA-OAEP key transport: SHA-256 with MGF1-SHA256 for OIOSAML 3, SHA-1 with MGF1-SHA1 for
/// `rsa-oaep-mgf1p`.
fn wrap_key(
    key: &[u8],
    profile: EncryptionProfile,
    certificate: &X509,
) -> Result<Vec<u8>, ResponseError> {
    let public_key = certificate.public_key()?;
    let mut encrypter = Encrypter::new(&public_key)?;
    encrypter.set_rsa_padding(Padding::PKCS1_OAEP)?;
    if profile != EncryptionProfile::Legacy {
        encrypter.set_rsa_oaep_md(MessageDigest::sha256())?;
        encrypter.set_rsa_mgf1_md(MessageDigest::sha256())?;
    }
    let mut wrapped = vec![0_u8; encrypter.encrypt_len(key)?];
    let length = encrypter.encrypt(key, &mut wrapped)?;
    wrapped.truncate(length);
    Ok(wrapped)
}

/// `xs:dateTime` in UTC with millisecond precision and `Z`, as SAML Core §1.3.3 requires.
fn time(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests;
