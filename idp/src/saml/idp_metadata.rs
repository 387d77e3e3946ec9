//! The IdP's own metadata, served at `/saml/metadata` (MD-2, MD-3, MD-5).
//!
//! Written in exclusive-canonical form with [`CanonicalWriter`], which escapes every value
//! (RS-12) and lets Portner sign the document it wrote without parsing it back; the enveloped
//! signature is the first child of `EntityDescriptor`, as the metadata schema places it
//! (SAML Metadata §2.3.2). Two variants: the full one for the organisation's own SPs (SSO over
//! Redirect and POST), and `?profile=mitid-erhverv`, the file uploaded in the MitID Erhverv
//! "Lokal IdP" wizard, which lists only the HTTP-Redirect SSO endpoint because NemLog-in uses
//! the first binding it finds (MD-4, MD-5).
//!
//! While a rollover is prepared (`portner keys rotate`), the next signing certificate is
//! published beside the current one, so SPs and the MitID Erhverv upload trust it before it
//! signs anything (MD-3). The optional `ContactPerson` (MD-6) is not emitted.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::x509::X509;

use super::canonical::CanonicalWriter;
use super::response::{ResponseError, SigningKey, enveloped_signature};
use super::{BINDING_POST, BINDING_REDIRECT, DSIG_NS, METADATA_NS, PROTOCOL_NS};

/// The attributes Portner offers (MD-2; AT-1, AT-2, AT-4, AT-5, AT-8 in `oiosaml3-nsis.md`).
pub const OFFERED_ATTRIBUTES: [&str; 6] = [
    "https://data.gov.dk/model/core/specVersion",
    "https://data.gov.dk/concept/core/nsis/loa",
    "https://data.gov.dk/model/core/eid/professional/cvr",
    "https://data.gov.dk/model/core/eid/professional/orgName",
    "https://data.gov.dk/model/core/eid/professional/uuid/persistent",
    "https://data.gov.dk/model/core/eid/privilegesIntermediate",
];
const ATTRIBUTE_NAME_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
const NAME_ID_FORMATS: [&str; 2] = [
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
];

/// Who the IdP is: its entityID, where it is reached, and its certificates.
#[derive(Clone, Debug)]
pub struct IdpIdentity {
    /// The entityID (MD-1).
    pub entity_id: String,
    /// The public base URL, without a trailing slash.
    pub base_url: String,
    /// The signing key and its certificate.
    pub signing: SigningKey,
    /// The certificate of the next signing key while a rollover is prepared (MD-3): published,
    /// never used to sign.
    pub next_signing_certificate: Option<X509>,
    /// The certificate SPs encrypt to.
    pub encryption_certificate: X509,
}

impl IdpIdentity {
    /// The single sign-on endpoint URL, for both bindings.
    pub fn sso_url(&self) -> String {
        format!("{}/saml/sso", self.base_url)
    }

    /// The single logout endpoint URL, for both bindings.
    pub fn slo_url(&self) -> String {
        format!("{}/saml/slo", self.base_url)
    }
}

/// Which variant of the metadata to produce.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum MetadataProfile {
    /// For the organisation's own SPs: Redirect and POST SSO endpoints.
    Full,
    /// For the MitID Erhverv upload: the Redirect SSO endpoint only (MD-5).
    MitIdErhverv,
}

/// Renders the signed metadata document.
///
/// # Errors
///
/// A value cannot be carried by XML, or signing failed; neither is expected for an identity
/// that loaded.
pub fn render(
    identity: &IdpIdentity,
    profile: MetadataProfile,
) -> Result<String, MetadataRenderError> {
    let id = document_id(&identity.entity_id);
    let mut head = CanonicalWriter::new();
    head.start(
        "md:EntityDescriptor",
        &[("md", METADATA_NS)],
        &[("ID", &id), ("entityID", &identity.entity_id)],
    )?;
    let head = head.finish();
    let head = head.trim_end_matches("</md:EntityDescriptor>").to_owned();

    let mut tail = CanonicalWriter::new();
    role_descriptor(&mut tail, identity, profile)?;
    let tail = format!("{}</md:EntityDescriptor>", tail.finish());

    let signature = enveloped_signature(&format!("{head}{tail}"), &id, &identity.signing)?;
    Ok(format!("{head}{signature}{tail}"))
}

/// A stable ID for the document, so that the same keys and endpoints give the same bytes.
fn document_id(entity_id: &str) -> String {
    let digest = openssl::sha::sha256(entity_id.as_bytes());
    format!("_{}", hex::encode(&digest[..16]))
}

fn role_descriptor(
    writer: &mut CanonicalWriter,
    identity: &IdpIdentity,
    profile: MetadataProfile,
) -> Result<(), MetadataRenderError> {
    writer.start(
        "md:IDPSSODescriptor",
        &[],
        &[
            ("WantAuthnRequestsSigned", "true"),
            ("protocolSupportEnumeration", PROTOCOL_NS),
        ],
    )?;
    key_descriptor(writer, "signing", &identity.signing.certificate)?;
    if let Some(next) = &identity.next_signing_certificate {
        key_descriptor(writer, "signing", next)?;
    }
    key_descriptor(writer, "encryption", &identity.encryption_certificate)?;

    let slo = identity.slo_url();
    for binding in [BINDING_REDIRECT, BINDING_POST] {
        let attributes = [
            ("Binding", binding),
            ("Location", slo.as_str()),
            ("ResponseLocation", slo.as_str()),
        ];
        writer.element("md:SingleLogoutService", &[], &attributes, "")?;
    }
    for format in NAME_ID_FORMATS {
        writer.element("md:NameIDFormat", &[], &[], format)?;
    }
    let sso = identity.sso_url();
    let bindings = match profile {
        MetadataProfile::Full => &[BINDING_REDIRECT, BINDING_POST][..],
        MetadataProfile::MitIdErhverv => &[BINDING_REDIRECT][..],
    };
    for binding in bindings {
        let attributes = [("Binding", *binding), ("Location", sso.as_str())];
        writer.element("md:SingleSignOnService", &[], &attributes, "")?;
    }
    for name in OFFERED_ATTRIBUTES {
        // Each Attribute declares the saml prefix itself: in canonical form a namespace is
        // declared where it is first used in its branch.
        writer.element(
            "saml:Attribute",
            &[("saml", super::ASSERTION_NS)],
            &[("Name", name), ("NameFormat", ATTRIBUTE_NAME_FORMAT)],
            "",
        )?;
    }
    writer.end();
    Ok(())
}

/// The metadata could not be written.
#[derive(Debug, thiserror::Error)]
#[error("IdP metadata could not be rendered: {0}")]
pub struct MetadataRenderError(#[from] ResponseError);

impl From<super::canonical::UnrepresentableCharacter> for MetadataRenderError {
    fn from(error: super::canonical::UnrepresentableCharacter) -> Self {
        Self(ResponseError::Unrepresentable(error))
    }
}

impl From<openssl::error::ErrorStack> for MetadataRenderError {
    fn from(error: openssl::error::ErrorStack) -> Self {
        Self(ResponseError::Crypto(error))
    }
}

fn key_descriptor(
    writer: &mut CanonicalWriter,
    usage: &str,
    certificate: &X509,
) -> Result<(), MetadataRenderError> {
    let encoded = STANDARD.encode(certificate.to_der()?);
    writer.start("md:KeyDescriptor", &[], &[("use", usage)])?;
    writer.start("ds:KeyInfo", &[("ds", DSIG_NS)], &[])?;
    writer.start("ds:X509Data", &[], &[])?;
    writer.element("ds:X509Certificate", &[], &[], &encoded)?;
    writer.end();
    writer.end();
    writer.end();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::keys::KeyPair;
    use crate::saml::test_support::xmlsec1;
    use crate::saml::xml::{self, Limits};

    fn identity() -> IdpIdentity {
        let signing = KeyPair::generate("signing").unwrap();
        let encryption = KeyPair::generate("encryption").unwrap();
        IdpIdentity {
            entity_id: "https://saml.test.example.dk?a=1&b=\"2\"".into(),
            base_url: "https://login.test.example.dk".into(),
            signing: signing.signing_key(),
            next_signing_certificate: None,
            encryption_certificate: encryption.certificate,
        }
    }

    fn sso_bindings(document: &xml::Element) -> Vec<String> {
        let descriptor = document
            .only_child(METADATA_NS, "IDPSSODescriptor")
            .unwrap();
        descriptor
            .children_named(METADATA_NS, "SingleSignOnService")
            .map(|service| service.attribute("Binding").unwrap().to_owned())
            .collect()
    }

    fn key_uses(document: &xml::Element) -> Vec<String> {
        let descriptor = document
            .only_child(METADATA_NS, "IDPSSODescriptor")
            .unwrap();
        descriptor
            .children_named(METADATA_NS, "KeyDescriptor")
            .map(|key| key.attribute("use").unwrap().to_owned())
            .collect()
    }

    #[test]
    fn full_metadata_parses_strictly_and_escapes_the_entity_id() {
        let identity = identity();

        let rendered = render(&identity, MetadataProfile::Full).unwrap();
        let document = xml::parse(rendered.as_bytes(), Limits::METADATA).unwrap();

        assert_eq!(
            document.attribute("entityID"),
            Some(identity.entity_id.as_str())
        );
        let descriptor = document
            .only_child(METADATA_NS, "IDPSSODescriptor")
            .unwrap();
        assert_eq!(
            descriptor.attribute("WantAuthnRequestsSigned"),
            Some("true")
        );
        assert_eq!(key_uses(&document), ["signing", "encryption"]);
        assert_eq!(sso_bindings(&document), [BINDING_REDIRECT, BINDING_POST]);
        let attributes = descriptor.children_named(crate::saml::ASSERTION_NS, "Attribute");
        assert_eq!(attributes.count(), OFFERED_ATTRIBUTES.len());
        assert!(document.only_child(DSIG_NS, "Signature").is_some());
        assert_eq!(rendered, render(&identity, MetadataProfile::Full).unwrap());
    }

    #[test]
    fn the_mitid_erhverv_variant_lists_only_the_redirect_binding() {
        let rendered = render(&identity(), MetadataProfile::MitIdErhverv).unwrap();
        let document = xml::parse(rendered.as_bytes(), Limits::METADATA).unwrap();

        assert_eq!(sso_bindings(&document), [BINDING_REDIRECT]);
    }

    #[test]
    fn a_rollover_publishes_the_next_signing_certificate_beside_the_current_one() {
        let next = KeyPair::generate("next").unwrap();
        let identity = IdpIdentity {
            next_signing_certificate: Some(next.certificate.clone()),
            ..identity()
        };

        let rendered = render(&identity, MetadataProfile::MitIdErhverv).unwrap();
        let document = xml::parse(rendered.as_bytes(), Limits::METADATA).unwrap();

        assert_eq!(key_uses(&document), ["signing", "signing", "encryption"]);
        let next_der = STANDARD.encode(next.certificate.to_der().unwrap());
        assert!(rendered.contains(&next_der));
    }

    /// MD-2: the signature verifies in `xmlsec1` with only the current signing certificate
    /// trusted (security-tests.md §7.3 flags), and an edited copy does not.
    #[test]
    fn xmlsec1_verifies_the_metadata_signature_and_refuses_an_edited_copy() {
        let Some(xmlsec1) = xmlsec1() else { return };
        let identity = identity();
        let rendered = render(&identity, MetadataProfile::Full).unwrap();
        let edited = rendered.replace("/saml/sso", "/evil/sso");
        let folder = tempfile::tempdir().unwrap();
        let certificate = folder.path().join("idp.crt");
        std::fs::write(&certificate, identity.signing.certificate.to_pem().unwrap()).unwrap();

        let verifies = |document: &str| {
            let path = folder.path().join("metadata.xml");
            std::fs::write(&path, document).unwrap();
            Command::new(&xmlsec1)
                .args(["--verify", "--enabled-reference-uris", "same-doc"])
                .args(["--enabled-key-data", "raw-x509-cert", "--pubkey-cert-pem"])
                .arg(&certificate)
                .args([
                    "--id-attr:ID",
                    "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
                ])
                .arg(&path)
                .output()
                .unwrap()
                .status
                .success()
        };

        assert!(verifies(&rendered), "xmlsec1 refused Portner's metadata");
        assert!(!verifies(&edited), "xmlsec1 accepted edited metadata");
    }
}
