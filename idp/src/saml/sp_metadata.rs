//! Service-provider metadata: the only source of an SP's keys and endpoints (MD-9).
//!
//! samael's extractor returns only the first ACS and only if it uses HTTP-POST (D13), so
//! Portner reads metadata itself, through the strict parser, into a model that keeps every
//! endpoint with its index and default flag. A `KeyDescriptor` without `use` counts for both
//! signing and encryption (MD-9); keys are never taken from message `KeyInfo` (A12).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::x509::X509;

use super::xml::{self, Element, Limits};
use super::{BINDING_POST, DSIG_NS, METADATA_NS};

/// Why metadata was refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum MetadataError {
    /// Not acceptable XML (see [`xml::XmlError`]).
    #[error("metadata is not acceptable XML: {0}")]
    Xml(#[from] xml::XmlError),
    /// Well-formed, but not the metadata of exactly one SP as Portner needs it.
    #[error("metadata is incomplete: {0}")]
    Invalid(&'static str),
}

/// An endpoint of the SP.
#[derive(Clone, Debug, Eq, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Endpoint {
    /// The binding URI.
    pub binding: String,
    /// The URL, exactly as registered.
    pub location: String,
    /// The index, for AssertionConsumerService entries.
    pub index: Option<u16>,
    /// Whether `isDefault="true"`.
    pub is_default: bool,
}

/// What Portner uses of an SP's metadata.
#[derive(Clone, Debug)]
pub struct SpMetadata {
    /// The SP's entityID.
    pub entity_id: String,
    /// Every AssertionConsumerService, in document order.
    pub assertion_consumer_services: Vec<Endpoint>,
    /// Every SingleLogoutService.
    pub single_logout_services: Vec<Endpoint>,
    /// Certificates for verifying the SP's signatures (several during rollover).
    pub signing_certificates: Vec<X509>,
    /// Certificates for encrypting assertions to the SP.
    pub encryption_certificates: Vec<X509>,
    /// Whether the SP says it signs its AuthnRequests.
    pub authn_requests_signed: bool,
}

/// Why no ACS could be chosen for a request; the request fails before sign-in (RQ-8).
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum AcsError {
    /// The requested URL or index matches no HTTP-POST ACS of this SP (A4).
    #[error("the requested assertion consumer service is not registered for this SP")]
    Mismatch,
}

impl SpMetadata {
    /// Parses an `EntityDescriptor` with one `SPSSODescriptor`.
    ///
    /// # Errors
    ///
    /// The XML is unacceptable, or required parts (entityID, an HTTP-POST ACS, a signing key)
    /// are missing or malformed.
    pub fn parse(bytes: &[u8]) -> Result<Self, MetadataError> {
        let root = xml::parse(bytes, Limits::METADATA)?;
        if !root.is(METADATA_NS, "EntityDescriptor") {
            return Err(MetadataError::Invalid(
                "the root must be one md:EntityDescriptor",
            ));
        }
        let entity_id = root
            .attribute("entityID")
            .filter(|id| !id.is_empty() && id.len() <= 1024)
            .ok_or(MetadataError::Invalid("entityID is missing"))?
            .to_owned();
        let descriptor =
            root.only_child(METADATA_NS, "SPSSODescriptor")
                .ok_or(MetadataError::Invalid(
                    "exactly one SPSSODescriptor is required",
                ))?;

        let assertion_consumer_services = endpoints(descriptor, "AssertionConsumerService")?;
        if !assertion_consumer_services
            .iter()
            .any(|acs| acs.binding == BINDING_POST)
        {
            return Err(MetadataError::Invalid(
                "no HTTP-POST AssertionConsumerService",
            ));
        }
        let (signing_certificates, encryption_certificates) = certificates(descriptor)?;
        if signing_certificates.is_empty() {
            return Err(MetadataError::Invalid("no signing key"));
        }
        Ok(Self {
            entity_id,
            assertion_consumer_services,
            single_logout_services: endpoints(descriptor, "SingleLogoutService")?,
            signing_certificates,
            encryption_certificates,
            authn_requests_signed: descriptor.attribute("AuthnRequestsSigned") == Some("true"),
        })
    }

    /// Chooses the ACS a response goes to (SAML Profiles §4.1.4.1; RQ-4, A4): an exact,
    /// byte-for-byte match of the requested URL against an HTTP-POST ACS of this SP, or the
    /// HTTP-POST ACS with the requested index, or, when neither is requested, the default
    /// (the one marked `isDefault`, else the first HTTP-POST one). No prefix, case-folding or
    /// normalising comparison.
    ///
    /// # Errors
    ///
    /// [`AcsError::Mismatch`] if the request names an ACS that is not registered, or names
    /// both a URL and an index.
    pub fn select_acs(&self, url: Option<&str>, index: Option<u16>) -> Result<&Endpoint, AcsError> {
        let mut post = self
            .assertion_consumer_services
            .iter()
            .filter(|acs| acs.binding == BINDING_POST);
        let chosen = match (url, index) {
            (Some(url), None) => post.find(|acs| acs.location == url),
            (None, Some(index)) => post.find(|acs| acs.index == Some(index)),
            (None, None) => {
                let candidates: Vec<&Endpoint> = post.collect();
                candidates
                    .iter()
                    .find(|acs| acs.is_default)
                    .or(candidates.first())
                    .copied()
            }
            (Some(_), Some(_)) => None,
        };
        chosen.ok_or(AcsError::Mismatch)
    }
}

fn endpoints(descriptor: &Element, name: &str) -> Result<Vec<Endpoint>, MetadataError> {
    descriptor
        .children_named(METADATA_NS, name)
        .map(|element| {
            let binding = element
                .attribute("Binding")
                .ok_or(MetadataError::Invalid("endpoint without Binding"))?;
            let location = element
                .attribute("Location")
                .ok_or(MetadataError::Invalid("endpoint without Location"))?;
            if !(location.starts_with("https://") || location.starts_with("http://"))
                || location.contains('#')
            {
                return Err(MetadataError::Invalid(
                    "endpoint Location must be an http(s) URL without fragment",
                ));
            }
            let index = element
                .attribute("index")
                .map(|index| {
                    index
                        .parse::<u16>()
                        .map_err(|_| MetadataError::Invalid("endpoint index is not a number"))
                })
                .transpose()?;
            Ok(Endpoint {
                binding: binding.to_owned(),
                location: location.to_owned(),
                index,
                is_default: element.attribute("isDefault") == Some("true"),
            })
        })
        .collect()
}

/// Splits the descriptor's keys by `use`; a key without `use` serves both (MD-9).
fn certificates(descriptor: &Element) -> Result<(Vec<X509>, Vec<X509>), MetadataError> {
    let mut signing = Vec::new();
    let mut encryption = Vec::new();
    for key_descriptor in descriptor.children_named(METADATA_NS, "KeyDescriptor") {
        let certificate = key_certificate(key_descriptor)?;
        match key_descriptor.attribute("use") {
            Some("signing") => signing.push(certificate),
            Some("encryption") => encryption.push(certificate),
            None => {
                signing.push(certificate.clone());
                encryption.push(certificate);
            }
            Some(_) => {
                return Err(MetadataError::Invalid(
                    "KeyDescriptor use must be signing or encryption",
                ));
            }
        }
    }
    Ok((signing, encryption))
}

fn key_certificate(key_descriptor: &Element) -> Result<X509, MetadataError> {
    let text = key_descriptor
        .only_child(DSIG_NS, "KeyInfo")
        .and_then(|key_info| key_info.only_child(DSIG_NS, "X509Data"))
        .and_then(|data| data.only_child(DSIG_NS, "X509Certificate"))
        .and_then(Element::simple_text)
        .ok_or(MetadataError::Invalid(
            "KeyDescriptor without one X509Certificate",
        ))?;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD
        .decode(compact)
        .map_err(|_| MetadataError::Invalid("certificate is not base64"))?;
    X509::from_der(&der).map_err(|_| MetadataError::Invalid("certificate is not X.509"))
}

#[cfg(test)]
mod tests;
