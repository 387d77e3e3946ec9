//! The HTTP-POST binding (SAML Bindings §3.5) for inbound messages: decoding the form field,
//! and the structural checks that must hold before any XML signature is trusted.
//!
//! samael verifies the first `ds:Signature` it finds anywhere and then hands back a parse of
//! the whole document (D1), which lets a captured, genuinely signed request ride inside the
//! `Extensions` of a forged one (A1; samlify #634). So before the signature is verified,
//! the message must have exactly one `ds:Signature`, as a direct child of the root, whose
//! `SignedInfo` has exactly one `Reference`, with `URI` equal to `#` and the root's `ID`, that
//! ID occurring once in the document (SAML Core §5.4.2), with only the enveloped-signature
//! and exclusive-c14n transforms (no comments variant, no XPath or XSLT), allow-listed
//! algorithms, and a `KeyInfo` that can at most point at a certificate, never carry a key of
//! its own (A12).
//!
//! The cryptographic verification of a POST signature (exclusive canonicalisation, digest,
//! RSA) is not built yet: it needs xmlsec through samael, and is written down in
//! `docs/limitations.md`. Until then `/saml/sso` accepts the Redirect binding only.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::DSIG_NS;
use super::xml::Element;

/// Longest `SAMLRequest`/`SAMLResponse` form value accepted (`security-tests.md` §3).
pub const MAX_FORM_VALUE_BYTES: usize = 256 * 1024;
/// Largest decoded message accepted.
pub const MAX_DECODED_BYTES: usize = 128 * 1024;

const EXCLUSIVE_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SIGNATURE_ALGORITHMS: [&str; 4] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
];
const DIGEST_ALGORITHMS: [&str; 3] = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

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

/// Checks that the message's one signature is shaped to cover exactly the root (A1, A12).
///
/// # Errors
///
/// The first structural rule the message breaks.
pub fn check_signature_shape(root: &Element) -> Result<(), PostError> {
    let root_id = root.attribute("ID").ok_or(PostError::SignatureWrapped)?;
    match count_signatures(root) {
        0 => return Err(PostError::SignatureMissing),
        1 => {}
        _ => return Err(PostError::SignatureWrapped),
    }
    let signature = root
        .only_child(DSIG_NS, "Signature")
        .ok_or(PostError::SignatureWrapped)?;
    if count_ids(root, root_id) != 1 {
        return Err(PostError::SignatureWrapped);
    }

    let signed_info = signature
        .only_child(DSIG_NS, "SignedInfo")
        .ok_or(PostError::SignatureWrapped)?;
    let canonicalisation = algorithm(signed_info, "CanonicalizationMethod")?;
    if canonicalisation != EXCLUSIVE_C14N {
        return Err(PostError::AlgorithmForbidden);
    }
    if !SIGNATURE_ALGORITHMS.contains(&algorithm(signed_info, "SignatureMethod")?) {
        return Err(PostError::AlgorithmForbidden);
    }
    let reference = signed_info
        .only_child(DSIG_NS, "Reference")
        .ok_or(PostError::SignatureWrapped)?;
    if reference.attribute("URI") != Some(&format!("#{root_id}")) {
        return Err(PostError::SignatureWrapped);
    }
    check_transforms(reference)?;
    if !DIGEST_ALGORITHMS.contains(&algorithm(reference, "DigestMethod")?) {
        return Err(PostError::AlgorithmForbidden);
    }
    check_key_info(signature)
}

fn count_signatures(element: &Element) -> usize {
    let own = usize::from(element.is(DSIG_NS, "Signature"));
    own + element.children.iter().map(count_signatures).sum::<usize>()
}

/// How many elements carry `id` in an ID-like attribute. Counting every spelling that some
/// library treats as an ID keeps a duplicate from slipping past one of them.
fn count_ids(element: &Element, id: &str) -> usize {
    let own = element
        .attributes
        .iter()
        .filter(|attribute| ["ID", "Id", "id", "AssertionID"].contains(&attribute.name.as_str()))
        .filter(|attribute| attribute.value == id)
        .count();
    own + element
        .children
        .iter()
        .map(|child| count_ids(child, id))
        .sum::<usize>()
}

fn algorithm<'a>(parent: &'a Element, name: &str) -> Result<&'a str, PostError> {
    parent
        .only_child(DSIG_NS, name)
        .and_then(|method| method.attribute("Algorithm"))
        .ok_or(PostError::SignatureWrapped)
}

/// Only enveloped-signature and exclusive c14n, each at most once.
fn check_transforms(reference: &Element) -> Result<(), PostError> {
    let Some(transforms) = reference.only_child(DSIG_NS, "Transforms") else {
        return Ok(());
    };
    let mut seen = Vec::new();
    for transform in &transforms.children {
        let algorithm = transform
            .attribute("Algorithm")
            .ok_or(PostError::AlgorithmForbidden)?;
        let allowed = transform.is(DSIG_NS, "Transform")
            && [ENVELOPED, EXCLUSIVE_C14N].contains(&algorithm)
            && !seen.contains(&algorithm);
        if !allowed {
            return Err(PostError::AlgorithmForbidden);
        }
        seen.push(algorithm);
    }
    Ok(())
}

/// `KeyInfo` may hold `X509Data` (used only to pick among metadata certificates) and nothing
/// that supplies or fetches a key.
fn check_key_info(signature: &Element) -> Result<(), PostError> {
    let Some(key_info) = signature.only_child(DSIG_NS, "KeyInfo") else {
        return Ok(());
    };
    if key_info
        .children
        .iter()
        .all(|child| child.is(DSIG_NS, "X509Data"))
    {
        Ok(())
    } else {
        Err(PostError::KeyUntrusted)
    }
}

#[cfg(test)]
mod tests;
