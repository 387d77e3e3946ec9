//! The HTTP-POST binding (SAML Bindings §3.5) for inbound messages: decoding the form field,
//! and the error codes of the binding.
//!
//! The message's enveloped signature is verified by [`super::dsig::verify_enveloped`]: first
//! the structural rules against signature wrapping (A1: one `ds:Signature`, a direct child of
//! the root, one `Reference` to the root's unique `ID`), then the algorithm allow-list and the
//! key source (A12), then digest and signature over the exclusive canonical form.
//! [`check_signature_shape`] runs the first two steps alone.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::dsig::{self, SignatureError};
use super::xml::Element;

/// Longest `SAMLRequest`/`SAMLResponse` form value accepted (`security-tests.md` §3).
pub const MAX_FORM_VALUE_BYTES: usize = 256 * 1024;
/// Largest decoded message accepted.
pub const MAX_DECODED_BYTES: usize = 128 * 1024;

/// Why a POST message was refused. Codes follow `security-tests.md` §0.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum PostError {
    /// The form value or the decoded message is too large.
    #[error("message too large")]
    TooLarge,
    /// The form value is not base64.
    #[error("message encoding is malformed")]
    Malformed,
    /// There is no signature.
    #[error("signature missing")]
    SignatureMissing,
    /// The signature does not cover the root element alone, exactly once (A1).
    #[error("signature does not cover the message root")]
    SignatureWrapped,
    /// An algorithm or transform outside the allow-list.
    #[error("signature algorithm not allowed")]
    AlgorithmForbidden,
    /// `KeyInfo` carries a key or a reference instead of selecting a metadata certificate.
    #[error("signature key is not from metadata")]
    KeyUntrusted,
    /// The digest or the signature value does not verify with any metadata key.
    #[error("signature invalid")]
    SignatureInvalid,
}

impl From<SignatureError> for PostError {
    fn from(error: SignatureError) -> Self {
        match error {
            SignatureError::Missing => Self::SignatureMissing,
            SignatureError::Wrapped => Self::SignatureWrapped,
            SignatureError::AlgorithmForbidden => Self::AlgorithmForbidden,
            SignatureError::KeyUntrusted => Self::KeyUntrusted,
            SignatureError::Invalid => Self::SignatureInvalid,
        }
    }
}

impl PostError {
    /// The stable reason code for audit events.
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "TOO_LARGE",
            Self::Malformed => "MALFORMED",
            Self::SignatureMissing => "SIG_MISSING",
            Self::SignatureWrapped => "SIG_WRAPPED",
            Self::AlgorithmForbidden => "SIG_ALG_FORBIDDEN",
            Self::KeyUntrusted => "KEY_UNTRUSTED",
            Self::SignatureInvalid => "SIG_INVALID",
        }
    }
}

/// Decodes the base64 form value. Line breaks and spaces, which some SPs insert every 76
/// characters, are removed first; any other non-alphabet byte is refused.
///
/// # Errors
///
/// Too large before or after decoding, or not base64.
pub fn decode_form_value(value: &str) -> Result<Vec<u8>, PostError> {
    if value.len() > MAX_FORM_VALUE_BYTES {
        return Err(PostError::TooLarge);
    }
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let decoded = STANDARD.decode(compact).map_err(|_| PostError::Malformed)?;
    if decoded.len() > MAX_DECODED_BYTES {
        return Err(PostError::TooLarge);
    }
    Ok(decoded)
}

/// Checks that the message's one signature is shaped to cover exactly the root (A1) with
/// allow-listed algorithms and no key of its own (A12), without any cryptography. SHA-1 is
/// refused here; [`super::dsig::verify_enveloped`] does the full verification.
///
/// # Errors
///
/// The first structural rule the message breaks.
pub fn check_signature_shape(root: &Element) -> Result<(), PostError> {
    dsig::check_shape(root, false).map_err(PostError::from)
}

#[cfg(test)]
mod tests;
