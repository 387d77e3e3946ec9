//! The HTTP-Redirect binding (SAML Bindings §3.4): decoding a query string into a message and
//! verifying its signature over the raw bytes as received.
//!
//! samael's `UrlVerifier` panics on hostile input and re-encodes the query before verifying
//! (D3, D4 in `security-tests.md`), so Portner does this itself:
//! - the raw query is capped (16 KiB), split on `&`, each pair on its first `=`;
//! - duplicate, look-alike or malformed parameter names, both `SAMLRequest` and
//!   `SAMLResponse`, and a raw `=` inside a value are refused as ambiguous (A3);
//! - the message is strict base64, raw DEFLATE inflated through a streaming reader whose
//!   output is capped (A9), and must consume its whole input;
//! - the signature covers `SAMLRequest=…&RelayState=…&SigAlg=…` built from the values exactly
//!   as received (§3.4.4.1), with `SigAlg` from an allow-list and `Signature` required.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Public};
use openssl::sign::Verifier;

/// Longest raw query string accepted (`security-tests.md` §3).
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Largest inflated message accepted.
pub const MAX_INFLATED_BYTES: usize = 128 * 1024;
/// Longest RelayState accepted, after decoding. SAML Bindings §3.4.3 says 80 bytes; real SPs
/// send more, so Portner allows 1 KiB (A5).
pub const MAX_RELAY_STATE_BYTES: usize = 1024;

const KNOWN_PARAMETERS: [&str; 5] = [
    "SAMLRequest",
    "SAMLResponse",
    "RelayState",
    "SigAlg",
    "Signature",
];

/// Why a Redirect-binding message was refused. Codes follow `security-tests.md` §0.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum RedirectError {
    /// The query or the inflated message is too large.
    #[error("message too large")]
    TooLarge,
    /// The inflated message would exceed its cap.
    #[error("message inflates beyond the limit")]
    InflateLimit,
    /// Parameters are duplicated, disguised or otherwise ambiguous.
    #[error("ambiguous query parameters")]
    ParamAmbiguous,
    /// The encoding (percent, base64, DEFLATE) is broken.
    #[error("message encoding is malformed")]
    Malformed,
    /// RelayState is too long or not UTF-8.
    #[error("RelayState is invalid")]
    RelayStateInvalid,
    /// No signature, or only one of `SigAlg` and `Signature`.
    #[error("signature missing")]
    SignatureMissing,
    /// The signature algorithm is not allowed.
    #[error("signature algorithm not allowed")]
    AlgorithmForbidden,
    /// No trusted key verifies the signature.
    #[error("signature invalid")]
    SignatureInvalid,
}

impl RedirectError {
    /// The stable reason code for audit events.
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "TOO_LARGE",
            Self::InflateLimit => "INFLATE_LIMIT",
            Self::ParamAmbiguous => "PARAM_AMBIGUOUS",
            Self::Malformed => "MALFORMED",
            Self::RelayStateInvalid => "RELAYSTATE_INVALID",
            Self::SignatureMissing => "SIG_MISSING",
            Self::AlgorithmForbidden => "SIG_ALG_FORBIDDEN",
            Self::SignatureInvalid => "SIG_INVALID",
        }
    }
}

/// Whether the message is a request or a response (both travel by Redirect in logout).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum MessageKind {
    /// `SAMLRequest`.
    Request,
    /// `SAMLResponse`.
    Response,
}

/// Signature algorithms accepted on the Redirect binding (A12; CR-2).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SignatureAlgorithm {
    /// `rsa-sha1`: only for an SP explicitly configured for it.
    RsaSha1,
    /// `rsa-sha256`, the OIOSAML 3 default.
    RsaSha256,
    /// `rsa-sha384`.
    RsaSha384,
    /// `rsa-sha512`.
    RsaSha512,
    /// `ecdsa-sha256`.
    EcdsaSha256,
}

impl SignatureAlgorithm {
    /// Recognises an algorithm URI; anything else (HMAC, MGF1 variants, typos) is `None`.
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => Some(Self::RsaSha1),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Some(Self::RsaSha256),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Some(Self::RsaSha384),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Some(Self::RsaSha512),
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Some(Self::EcdsaSha256),
            _ => None,
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            Self::RsaSha1 => MessageDigest::sha1(),
            Self::RsaSha256 | Self::EcdsaSha256 => MessageDigest::sha256(),
            Self::RsaSha384 => MessageDigest::sha384(),
            Self::RsaSha512 => MessageDigest::sha512(),
        }
    }

    /// The key type that can make signatures of this algorithm.
    pub(crate) fn key_type(self) -> Id {
        match self {
            Self::EcdsaSha256 => Id::EC,
            _ => Id::RSA,
        }
    }
}

/// The signature part of a Redirect message, not yet verified.
#[derive(Clone, Debug)]
pub struct RedirectSignature {
    algorithm: Option<SignatureAlgorithm>,
    signed_octets: Vec<u8>,
    signature: Vec<u8>,
}

impl RedirectSignature {
    /// Checks the signature against the SP's metadata keys. SHA-1 passes only when
    /// `allow_sha1` is set for this SP.
    ///
    /// # Errors
    ///
    /// [`RedirectError::AlgorithmForbidden`] for an algorithm outside the allow-list;
    /// [`RedirectError::SignatureInvalid`] when no key verifies it.
    pub fn verify(&self, keys: &[PKey<Public>], allow_sha1: bool) -> Result<(), RedirectError> {
        let algorithm = self.algorithm.ok_or(RedirectError::AlgorithmForbidden)?;
        if algorithm == SignatureAlgorithm::RsaSha1 && !allow_sha1 {
            return Err(RedirectError::AlgorithmForbidden);
        }
        let verified = keys
            .iter()
            .filter(|key| key.id() == algorithm.key_type())
            .any(|key| verify_with(key, algorithm, &self.signed_octets, &self.signature));
        if verified {
            Ok(())
        } else {
            Err(RedirectError::SignatureInvalid)
        }
    }
}

/// A decoded Redirect-binding message.
#[derive(Clone, Debug)]
pub struct RedirectMessage {
    /// Request or response.
    pub kind: MessageKind,
    /// The inflated XML, not yet parsed.
    pub xml: Vec<u8>,
    /// RelayState, decoded, to be returned byte for byte.
    pub relay_state: Option<String>,
    /// The signature, if the SP signed the message.
    pub signature: Option<RedirectSignature>,
}

/// Decodes a raw query string (everything after `?`, exactly as received).
///
/// # Errors
///
/// The query is too large, ambiguous, badly encoded, or half-signed.
pub fn decode(raw_query: &str) -> Result<RedirectMessage, RedirectError> {
    if raw_query.len() > MAX_QUERY_BYTES {
        return Err(RedirectError::TooLarge);
    }
    let parameters = RawParameters::split(raw_query)?;

    let (kind, name, raw_message) = match (parameters.request, parameters.response) {
        (Some(raw), None) => (MessageKind::Request, "SAMLRequest", raw),
        (None, Some(raw)) => (MessageKind::Response, "SAMLResponse", raw),
        _ => return Err(RedirectError::ParamAmbiguous),
    };
    let deflated = STANDARD
        .decode(percent_decode(raw_message)?)
        .map_err(|_| RedirectError::Malformed)?;
    let xml = inflate(&deflated)?;

    let relay_state = parameters.relay_state.map(decode_relay_state).transpose()?;
    let signature = match (parameters.sig_alg, parameters.signature) {
        (None, None) => None,
        (Some(sig_alg), Some(signature)) => {
            let algorithm = SignatureAlgorithm::from_uri(&percent_decode_text(sig_alg)?);
            let signature = STANDARD
                .decode(percent_decode(signature)?)
                .map_err(|_| RedirectError::Malformed)?;
            let mut signed = format!("{name}={raw_message}");
            if let Some(relay_state) = parameters.relay_state {
                signed.push_str(&format!("&RelayState={relay_state}"));
            }
            signed.push_str(&format!("&SigAlg={sig_alg}"));
            Some(RedirectSignature {
                algorithm,
                signed_octets: signed.into_bytes(),
                signature,
            })
        }
        _ => return Err(RedirectError::SignatureMissing),
    };
    Ok(RedirectMessage {
        kind,
        xml,
        relay_state,
        signature,
    })
}

/// The SAML parameters of a query, still percent-encoded.
#[derive(Default)]
struct RawParameters<'q> {
    request: Option<&'q str>,
    response: Option<&'q str>,
    relay_state: Option<&'q str>,
    sig_alg: Option<&'q str>,
    signature: Option<&'q str>,
}

impl<'q> RawParameters<'q> {
    fn split(raw_query: &'q str) -> Result<Self, RedirectError> {
        let mut parameters = Self::default();
        for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.contains('=') {
                return Err(RedirectError::ParamAmbiguous);
            }
            let slot = match name {
                "SAMLRequest" => &mut parameters.request,
                "SAMLResponse" => &mut parameters.response,
                "RelayState" => &mut parameters.relay_state,
                "SigAlg" => &mut parameters.sig_alg,
                "Signature" => &mut parameters.signature,
                other if looks_like_a_saml_parameter(other) => {
                    return Err(RedirectError::ParamAmbiguous);
                }
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(RedirectError::ParamAmbiguous);
            }
        }
        Ok(parameters)
    }
}

/// Names that a careless parser might read as one of ours: encoded, bracketed, padded, with
/// NUL, or differing only in case (`%53AMLRequest`, `SAMLRequest[]`, `samlrequest`).
fn looks_like_a_saml_parameter(name: &str) -> bool {
    let suspicious = name.contains(['%', '[', ']', '\0', ' ', '+', '\t']);
    let folded = name.to_ascii_lowercase();
    suspicious
        || KNOWN_PARAMETERS
            .iter()
            .any(|known| folded.contains(&known.to_ascii_lowercase()))
}

/// Strict percent-decoding: `%XX` with two hex digits, and `+` as a space (the form encoding
/// SPs use). Anything else invalid is refused, never passed through.
fn percent_decode(value: &str) -> Result<Vec<u8>, RedirectError> {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .ok_or(RedirectError::Malformed)?;
                let hex = std::str::from_utf8(hex).map_err(|_| RedirectError::Malformed)?;
                let byte = u8::from_str_radix(hex, 16).map_err(|_| RedirectError::Malformed)?;
                decoded.push(byte);
                index += 3;
            }
            b'+' => {
                decoded.push(b' ');
                index += 1;
            }
            byte => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    Ok(decoded)
}

fn percent_decode_text(value: &str) -> Result<String, RedirectError> {
    String::from_utf8(percent_decode(value)?).map_err(|_| RedirectError::Malformed)
}

fn decode_relay_state(raw: &str) -> Result<String, RedirectError> {
    let decoded = percent_decode(raw).map_err(|_| RedirectError::RelayStateInvalid)?;
    if decoded.len() > MAX_RELAY_STATE_BYTES {
        return Err(RedirectError::RelayStateInvalid);
    }
    String::from_utf8(decoded).map_err(|_| RedirectError::RelayStateInvalid)
}

/// Inflates raw DEFLATE, reading at most one byte past the cap, and insists the stream ends
/// exactly where the input does (no zlib header, no trailing garbage, no truncation).
fn inflate(deflated: &[u8]) -> Result<Vec<u8>, RedirectError> {
    let mut decoder = flate2::read::DeflateDecoder::new(deflated);
    let mut xml = Vec::new();
    let cap = u64::try_from(MAX_INFLATED_BYTES + 1).unwrap_or(u64::MAX);
    (&mut decoder)
        .take(cap)
        .read_to_end(&mut xml)
        .map_err(|_| RedirectError::Malformed)?;
    if xml.len() > MAX_INFLATED_BYTES {
        return Err(RedirectError::InflateLimit);
    }
    let consumed = usize::try_from(decoder.total_in()).unwrap_or(usize::MAX);
    if consumed != deflated.len() || xml.is_empty() {
        return Err(RedirectError::Malformed);
    }
    Ok(xml)
}

/// Whether `key` made `signature` over `signed_octets` with `algorithm`; shared with the
/// POST binding's XML signatures (`dsig`).
pub(crate) fn verify_with(
    key: &PKey<Public>,
    algorithm: SignatureAlgorithm,
    signed_octets: &[u8],
    signature: &[u8],
) -> bool {
    let signature = match algorithm {
        // XML Signature 1.1 §6.4.3 encodes an ECDSA signature as r ‖ s; OpenSSL wants DER.
        SignatureAlgorithm::EcdsaSha256 => match ecdsa_der(signature) {
            Some(der) => der,
            None => return false,
        },
        _ => signature.to_vec(),
    };
    let Ok(mut verifier) = Verifier::new(algorithm.digest(), key) else {
        return false;
    };
    verifier
        .verify_oneshot(&signature, signed_octets)
        .unwrap_or(false)
}

fn ecdsa_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let signature =
        EcdsaSig::from_private_components(BigNum::from_slice(r).ok()?, BigNum::from_slice(s).ok()?);
    signature.ok()?.to_der().ok()
}

/// `SigAlg` of outbound messages: RSA-SHA256 (CR-2).
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// Encodes and signs an outbound message for the Redirect binding: raw DEFLATE, base64,
/// percent-encoding, and an RSA-SHA256 signature over
/// `SAMLRequest=…[&RelayState=…]&SigAlg=…` exactly as sent (SAML Bindings §3.4.4.1).
/// Returns the query string, without `?`.
///
/// # Errors
///
/// OpenSSL failed, or the compressor failed writing to memory.
pub fn encode_signed(
    kind: MessageKind,
    xml: &str,
    relay_state: Option<&str>,
    key: &PKey<openssl::pkey::Private>,
) -> Result<String, EncodeError> {
    use std::io::Write;

    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater.write_all(xml.as_bytes())?;
    let message = STANDARD.encode(deflater.finish()?);
    let name = match kind {
        MessageKind::Request => "SAMLRequest",
        MessageKind::Response => "SAMLResponse",
    };
    let mut query = format!("{name}={}", percent(&message));
    if let Some(relay_state) = relay_state {
        query.push_str(&format!("&RelayState={}", percent(relay_state)));
    }
    query.push_str(&format!("&SigAlg={}", percent(RSA_SHA256)));
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), key)?;
    let signature = signer.sign_oneshot_to_vec(query.as_bytes())?;
    query.push_str(&format!(
        "&Signature={}",
        percent(&STANDARD.encode(signature))
    ));
    Ok(query)
}

/// Why an outbound message could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// OpenSSL failed.
    #[error("signing failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    /// The compressor failed.
    #[error("compression failed: {0}")]
    Compress(#[from] std::io::Error),
}

/// Percent-encodes a query value (the form-urlencoded set, `+` for space).
fn percent(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests;
