//! Verifying the enveloped XML signature of an inbound POST-binding message (AuthnRequest,
//! LogoutRequest) against keys from the SP's registered metadata (A1, A2, A12).
//!
//! [`verify_enveloped`] runs in this order, and refuses at the first failure:
//!
//! 1. **Shape** (A1). Exactly one `ds:Signature` in the document, a direct child of the root;
//!    its `SignedInfo` has exactly one `Reference`, whose `URI` is `#` and the root's `ID`, an
//!    ID that occurs once in the document. samael verifies the first signature it finds and
//!    hands back the whole document (D1), which let a genuinely signed request ride inside the
//!    `Extensions` of a forged one (samlify #634); with this shape the signed element is the
//!    element every field is read from.
//! 2. **Algorithms** (A12). Canonicalisation exclusive c14n without comments; transforms
//!    exactly enveloped-signature then exclusive c14n (no XPath, XSLT or XPointer, and no
//!    inclusive c14n by default); digests SHA-256/384/512; signatures RSA-SHA256/384/512 or
//!    ECDSA-SHA256. SHA-1 in either place only for an SP configured with `allow_sha1`. No
//!    `HMACOutputLength` or other parameters (CVE-2009-0217).
//! 3. **Key source** (A12). `KeyInfo` may only hold `X509Data`; a certificate there must carry
//!    one of the metadata keys. It only ever narrows the choice: the keys tried are the
//!    metadata keys, never a key from the message (the pysaml2 CVE-2021-21239 shape).
//! 4. **Digest.** The root without the `Signature` (enveloped transform), canonicalised by
//!    the private `c14n` module over the same tree the caller reads fields from, hashed, and
//!    compared in constant time with `DigestValue`.
//! 5. **Signature.** `SignedInfo` canonicalised (its in-scope namespaces come from the root
//!    and the `Signature`), verified against each metadata key of the matching type.
//!
//! libxml2 and xmlsec are not linked: the tree is Portner's strict parse (no DOCTYPE, capped),
//! and canonicalisation runs over it, so there is one parse and one view of the message. The
//! tests sign documents with the third-party `xmlsec1`, require this verifier to accept them,
//! and compare both canonical forms byte for byte with the ones `xmlsec1` digests and signs
//! (`--store-references`, `--store-signatures`).

mod c14n;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;

use super::DSIG_NS;
use super::redirect::{SignatureAlgorithm, verify_with};
use super::sp_metadata::SpMetadata;
use super::xml::Element;

const EXCLUSIVE_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// Most `PrefixList` entries accepted; real signers list a handful at most.
const MAX_INCLUSIVE_PREFIXES: usize = 16;

/// Why a signature was refused. Codes follow `security-tests.md` §0.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum SignatureError {
    /// There is no signature.
    #[error("signature missing")]
    Missing,
    /// The signature does not cover the message root alone, exactly once (A1).
    #[error("signature does not cover the message root")]
    Wrapped,
    /// An algorithm, transform or parameter outside the allow-list (A12).
    #[error("signature algorithm not allowed")]
    AlgorithmForbidden,
    /// `KeyInfo` carries a key, a reference, or a certificate not in the metadata (A12).
    #[error("signature key is not from metadata")]
    KeyUntrusted,
    /// The digest or the signature value does not verify with any metadata key.
    #[error("signature invalid")]
    Invalid,
}

impl SignatureError {
    /// The stable reason code for audit events.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Missing => "SIG_MISSING",
            Self::Wrapped => "SIG_WRAPPED",
            Self::AlgorithmForbidden => "SIG_ALG_FORBIDDEN",
            Self::KeyUntrusted => "KEY_UNTRUSTED",
            Self::Invalid => "SIG_INVALID",
        }
    }
}

/// Digest algorithms accepted in `DigestMethod`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum DigestAlgorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            "http://www.w3.org/2000/09/xmldsig#sha1" => Some(Self::Sha1),
            "http://www.w3.org/2001/04/xmlenc#sha256" => Some(Self::Sha256),
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Some(Self::Sha384),
            "http://www.w3.org/2001/04/xmlenc#sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn message_digest(self) -> MessageDigest {
        match self {
            Self::Sha1 => MessageDigest::sha1(),
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
            Self::Sha512 => MessageDigest::sha512(),
        }
    }
}

/// The parts of a signature that passed the shape and algorithm checks.
struct Checked<'a> {
    signature: &'a Element,
    signed_info: &'a Element,
    signed_info_prefixes: Vec<String>,
    reference_prefixes: Vec<String>,
    signature_algorithm: SignatureAlgorithm,
    digest_algorithm: DigestAlgorithm,
}

/// Verifies the enveloped signature of the message `root` with the SP's metadata `keys`.
/// SHA-1 (as digest or signature) passes only when `allow_sha1` is set for this SP.
///
/// On success, the whole root element except its `ds:Signature` is covered by the signature,
/// and the caller may read any field from `root`.
///
/// # Errors
///
/// The first rule the message breaks, in the order of the module documentation.
pub fn verify_enveloped(
    root: &Element,
    keys: &[PKey<Public>],
    allow_sha1: bool,
) -> Result<(), SignatureError> {
    let checked = check(root, allow_sha1)?;
    check_key_info(checked.signature, keys)?;

    let forms = canonical_forms(root, &checked);
    let reference = child(checked.signed_info, "Reference")?;
    let computed = hash(
        checked.digest_algorithm.message_digest(),
        forms.root.as_bytes(),
    )
    .map_err(|_| SignatureError::Invalid)?;
    let claimed = base64_text(child(reference, "DigestValue")?)?;
    if claimed.len() != computed.len() || !openssl::memcmp::eq(&claimed, &computed) {
        return Err(SignatureError::Invalid);
    }

    let signature_value = base64_text(child(checked.signature, "SignatureValue")?)?;
    let verified = keys
        .iter()
        .filter(|key| key.id() == checked.signature_algorithm.key_type())
        .any(|key| {
            verify_with(
                key,
                checked.signature_algorithm,
                forms.signed_info.as_bytes(),
                &signature_value,
            )
        });
    if verified {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

/// The two octet streams a signature covers.
struct CanonicalForms {
    /// The root without its `Signature`: what `DigestValue` is the digest of.
    root: String,
    /// `SignedInfo`: what `SignatureValue` signs.
    signed_info: String,
}

/// Applies the reference's transforms (enveloped, then exclusive c14n) to the root, and the
/// canonicalisation method to `SignedInfo`, whose in-scope namespaces come from the root and
/// the `Signature`.
fn canonical_forms(root: &Element, checked: &Checked<'_>) -> CanonicalForms {
    CanonicalForms {
        root: c14n::exclusive(
            &[],
            root,
            Some(checked.signature),
            &checked.reference_prefixes,
        ),
        signed_info: c14n::exclusive(
            &[root, checked.signature],
            checked.signed_info,
            None,
            &checked.signed_info_prefixes,
        ),
    }
}

/// The public keys of an SP's metadata signing certificates, the only keys
/// [`verify_enveloped`] should be given (A12). A certificate whose key OpenSSL cannot read is
/// left out, so it can verify nothing.
pub fn metadata_keys(metadata: &SpMetadata) -> Vec<PKey<Public>> {
    metadata
        .signing_certificates
        .iter()
        .filter_map(|certificate| certificate.public_key().ok())
        .collect()
}

/// Checks the shape (A1) and the algorithms (A12) without any cryptography.
///
/// # Errors
///
/// The first structural or algorithm rule the message breaks.
pub fn check_shape(root: &Element, allow_sha1: bool) -> Result<(), SignatureError> {
    let checked = check(root, allow_sha1)?;
    check_key_info_shape(checked.signature)
}

fn check(root: &Element, allow_sha1: bool) -> Result<Checked<'_>, SignatureError> {
    let root_id = root.attribute("ID").ok_or(SignatureError::Wrapped)?;
    match count_signatures(root) {
        0 => return Err(SignatureError::Missing),
        1 => {}
        _ => return Err(SignatureError::Wrapped),
    }
    let signature = root
        .only_child(DSIG_NS, "Signature")
        .ok_or(SignatureError::Wrapped)?;
    if count_ids(root, root_id) != 1 {
        return Err(SignatureError::Wrapped);
    }
    check_signature_children(signature)?;

    let signed_info = child(signature, "SignedInfo")?;
    let signed_info_prefixes = canonicalisation(child(signed_info, "CanonicalizationMethod")?)?;
    let signature_algorithm = signature_algorithm(signed_info, allow_sha1)?;
    let reference = child(signed_info, "Reference")?;
    if signed_info.children.len() != 3 {
        return Err(SignatureError::Wrapped);
    }
    if reference.attribute("URI") != Some(&format!("#{root_id}")) {
        return Err(SignatureError::Wrapped);
    }
    let reference_prefixes = check_transforms(reference)?;
    let digest_algorithm = digest_algorithm(reference, allow_sha1)?;
    Ok(Checked {
        signature,
        signed_info,
        signed_info_prefixes,
        reference_prefixes,
        signature_algorithm,
        digest_algorithm,
    })
}

/// `Signature` holds `SignedInfo`, `SignatureValue` and at most a `KeyInfo`: an `Object` has
/// no use in SAML and is where XSW1 hides the original message.
fn check_signature_children(signature: &Element) -> Result<(), SignatureError> {
    let allowed = ["SignedInfo", "SignatureValue", "KeyInfo"];
    for name in allowed {
        if signature.children_named(DSIG_NS, name).count() > 1 {
            return Err(SignatureError::Wrapped);
        }
    }
    let only_allowed = signature
        .children
        .iter()
        .all(|child| allowed.iter().any(|name| child.is(DSIG_NS, name)));
    if only_allowed {
        Ok(())
    } else {
        Err(SignatureError::Wrapped)
    }
}

fn child<'a>(parent: &'a Element, name: &str) -> Result<&'a Element, SignatureError> {
    parent
        .only_child(DSIG_NS, name)
        .ok_or(SignatureError::Wrapped)
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

fn algorithm<'a>(parent: &'a Element, name: &str) -> Result<&'a str, SignatureError> {
    child(parent, name)?
        .attribute("Algorithm")
        .ok_or(SignatureError::Wrapped)
}

fn signature_algorithm(
    signed_info: &Element,
    allow_sha1: bool,
) -> Result<SignatureAlgorithm, SignatureError> {
    let method = child(signed_info, "SignatureMethod")?;
    let algorithm = algorithm(signed_info, "SignatureMethod")?;
    let algorithm =
        SignatureAlgorithm::from_uri(algorithm).ok_or(SignatureError::AlgorithmForbidden)?;
    // A parameter such as HMACOutputLength has no place in an asymmetric method.
    if !method.children.is_empty() || (algorithm == SignatureAlgorithm::RsaSha1 && !allow_sha1) {
        return Err(SignatureError::AlgorithmForbidden);
    }
    Ok(algorithm)
}

fn digest_algorithm(
    reference: &Element,
    allow_sha1: bool,
) -> Result<DigestAlgorithm, SignatureError> {
    let method = child(reference, "DigestMethod")?;
    let algorithm = DigestAlgorithm::from_uri(algorithm(reference, "DigestMethod")?)
        .ok_or(SignatureError::AlgorithmForbidden)?;
    if !method.children.is_empty() || (algorithm == DigestAlgorithm::Sha1 && !allow_sha1) {
        return Err(SignatureError::AlgorithmForbidden);
    }
    Ok(algorithm)
}

/// A `CanonicalizationMethod` or `Transform` for exclusive c14n, with its optional
/// `InclusiveNamespaces` prefix list.
fn canonicalisation(method: &Element) -> Result<Vec<String>, SignatureError> {
    if method.attribute("Algorithm") != Some(EXCLUSIVE_C14N) {
        return Err(SignatureError::AlgorithmForbidden);
    }
    match method.children.as_slice() {
        [] => Ok(Vec::new()),
        [inclusive] if inclusive.is(EXCLUSIVE_C14N, "InclusiveNamespaces") => {
            inclusive_prefixes(inclusive)
        }
        _ => Err(SignatureError::AlgorithmForbidden),
    }
}

fn inclusive_prefixes(inclusive: &Element) -> Result<Vec<String>, SignatureError> {
    let list = inclusive
        .attribute("PrefixList")
        .ok_or(SignatureError::AlgorithmForbidden)?;
    let prefixes: Vec<String> = list.split_ascii_whitespace().map(str::to_owned).collect();
    if prefixes.len() > MAX_INCLUSIVE_PREFIXES || !inclusive.children.is_empty() {
        return Err(SignatureError::AlgorithmForbidden);
    }
    Ok(prefixes)
}

/// Exactly enveloped-signature, then exclusive c14n. Without the enveloped transform the digest
/// would cover the signature itself; without exclusive c14n last, XML Signature falls back to
/// inclusive c14n, which Portner does not implement. Returns the reference's prefix list.
fn check_transforms(reference: &Element) -> Result<Vec<String>, SignatureError> {
    let transforms = child(reference, "Transforms")?;
    let [enveloped, exclusive] = transforms.children.as_slice() else {
        return Err(SignatureError::AlgorithmForbidden);
    };
    let enveloped_ok = enveloped.is(DSIG_NS, "Transform")
        && enveloped.attribute("Algorithm") == Some(ENVELOPED)
        && enveloped.children.is_empty();
    if !enveloped_ok || !exclusive.is(DSIG_NS, "Transform") {
        return Err(SignatureError::AlgorithmForbidden);
    }
    canonicalisation(exclusive)
}

/// `KeyInfo` may hold `X509Data` (used only to narrow the metadata keys) and nothing that
/// supplies or fetches a key.
fn check_key_info_shape(signature: &Element) -> Result<(), SignatureError> {
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
        Err(SignatureError::KeyUntrusted)
    }
}

/// Any certificate in `KeyInfo` must carry one of the metadata keys. Only the certificate's
/// public key is compared; its validity and issuer play no part (metadata is the trust).
fn check_key_info(signature: &Element, keys: &[PKey<Public>]) -> Result<(), SignatureError> {
    check_key_info_shape(signature)?;
    let certificates = signature
        .children_named(DSIG_NS, "KeyInfo")
        .flat_map(|key_info| key_info.children_named(DSIG_NS, "X509Data"))
        .flat_map(|data| data.children_named(DSIG_NS, "X509Certificate"));
    for certificate in certificates {
        let der = base64_text(certificate).map_err(|_| SignatureError::KeyUntrusted)?;
        let key = X509::from_der(&der)
            .and_then(|certificate| certificate.public_key())
            .map_err(|_| SignatureError::KeyUntrusted)?;
        if !keys.iter().any(|trusted| trusted.public_eq(&key)) {
            return Err(SignatureError::KeyUntrusted);
        }
    }
    Ok(())
}

/// Base64 element content; line breaks (and the `&#13;` some Java signers add) are skipped.
fn base64_text(element: &Element) -> Result<Vec<u8>, SignatureError> {
    if !element.children.is_empty() {
        return Err(SignatureError::Invalid);
    }
    let compact: String = element
        .text
        .chars()
        .filter(|character| !character.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(compact)
        .map_err(|_| SignatureError::Invalid)
}

#[cfg(test)]
mod tests;
