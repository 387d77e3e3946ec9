//! The IdP's own metadata, served at `/saml/metadata` (MD-2, MD-5).
//!
//! Written with quick-xml's writer, which escapes every attribute and text value (RS-12), never
//! from a string template. Two variants: the full one for the organisation's own SPs (SSO over
//! Redirect and POST), and `?profile=mitid-erhverv`, the file uploaded in the MitID Erhverv
//! "Lokal IdP" wizard, which lists only the HTTP-Redirect SSO endpoint because NemLog-in uses
//! the first binding it finds (MD-4, MD-5).
//!
//! Not yet here, and written down in `docs/limitations.md`: a secondary key for rollover with
//! `portner keys rotate` (MD-3), the signature over the metadata itself (MD-2), and
//! `ContactPerson` (MD-6, optional).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::x509::X509;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::response::SigningKey;
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

/// Renders the metadata document.
///
/// # Errors
///
/// A certificate could not be encoded; not expected for certificates that loaded.
pub fn render(
    identity: &IdpIdentity,
    profile: MetadataProfile,
) -> Result<String, MetadataRenderError> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;

    let mut root = BytesStart::new("md:EntityDescriptor");
    root.push_attribute(("xmlns:md", METADATA_NS));
    root.push_attribute(("xmlns:ds", DSIG_NS));
    root.push_attribute(("xmlns:saml", super::ASSERTION_NS));
    root.push_attribute(("entityID", identity.entity_id.as_str()));
    writer.write_event(Event::Start(root))?;

    let mut descriptor = BytesStart::new("md:IDPSSODescriptor");
    descriptor.push_attribute(("WantAuthnRequestsSigned", "true"));
    descriptor.push_attribute(("protocolSupportEnumeration", PROTOCOL_NS));
    writer.write_event(Event::Start(descriptor))?;

    key_descriptor(&mut writer, "signing", &identity.signing.certificate)?;
    key_descriptor(&mut writer, "encryption", &identity.encryption_certificate)?;
    let slo = identity.slo_url();
    for binding in [BINDING_REDIRECT, BINDING_POST] {
        endpoint(
            &mut writer,
            "md:SingleLogoutService",
            binding,
            &slo,
            Some(&slo),
        )?;
    }
    for format in NAME_ID_FORMATS {
        text_element(&mut writer, "md:NameIDFormat", format)?;
    }
    let sso = identity.sso_url();
    endpoint(
        &mut writer,
        "md:SingleSignOnService",
        BINDING_REDIRECT,
        &sso,
        None,
    )?;
    if profile == MetadataProfile::Full {
        endpoint(
            &mut writer,
            "md:SingleSignOnService",
            BINDING_POST,
            &sso,
            None,
        )?;
    }
    for name in OFFERED_ATTRIBUTES {
        let mut attribute = BytesStart::new("saml:Attribute");
        attribute.push_attribute(("Name", name));
        attribute.push_attribute(("NameFormat", ATTRIBUTE_NAME_FORMAT));
        writer.write_event(Event::Empty(attribute))?;
    }

    writer.write_event(Event::End(BytesEnd::new("md:IDPSSODescriptor")))?;
    writer.write_event(Event::End(BytesEnd::new("md:EntityDescriptor")))?;
    String::from_utf8(writer.into_inner()).map_err(|_| MetadataRenderError)
}

/// The metadata could not be written.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("IdP metadata could not be rendered")]
pub struct MetadataRenderError;

impl From<std::io::Error> for MetadataRenderError {
    fn from(_: std::io::Error) -> Self {
        Self
    }
}

impl From<openssl::error::ErrorStack> for MetadataRenderError {
    fn from(_: openssl::error::ErrorStack) -> Self {
        Self
    }
}

type XmlWriter = Writer<Vec<u8>>;

fn key_descriptor(
    writer: &mut XmlWriter,
    usage: &str,
    certificate: &X509,
) -> Result<(), MetadataRenderError> {
    let mut descriptor = BytesStart::new("md:KeyDescriptor");
    descriptor.push_attribute(("use", usage));
    writer.write_event(Event::Start(descriptor))?;
    writer.write_event(Event::Start(BytesStart::new("ds:KeyInfo")))?;
    writer.write_event(Event::Start(BytesStart::new("ds:X509Data")))?;
    text_element(
        writer,
        "ds:X509Certificate",
        &STANDARD.encode(certificate.to_der()?),
    )?;
    writer.write_event(Event::End(BytesEnd::new("ds:X509Data")))?;
    writer.write_event(Event::End(BytesEnd::new("ds:KeyInfo")))?;
    writer.write_event(Event::End(BytesEnd::new("md:KeyDescriptor")))?;
    Ok(())
}

fn endpoint(
    writer: &mut XmlWriter,
    name: &str,
    binding: &str,
    location: &str,
    response_location: Option<&str>,
) -> Result<(), MetadataRenderError> {
    let mut element = BytesStart::new(name);
    element.push_attribute(("Binding", binding));
    element.push_attribute(("Location", location));
    if let Some(response_location) = response_location {
        element.push_attribute(("ResponseLocation", response_location));
    }
    writer.write_event(Event::Empty(element))?;
    Ok(())
}

fn text_element(writer: &mut XmlWriter, name: &str, text: &str) -> Result<(), MetadataRenderError> {
    writer.write_event(Event::Start(BytesStart::new(name)))?;
    writer.write_event(Event::Text(BytesText::new(text)))?;
    writer.write_event(Event::End(BytesEnd::new(name)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;
    use crate::saml::xml::{self, Limits};

    fn identity() -> IdpIdentity {
        let signing = KeyPair::generate("signing").unwrap();
        let encryption = KeyPair::generate("encryption").unwrap();
        IdpIdentity {
            entity_id: "https://saml.test.example.dk?a=1&b=\"2\"".into(),
            base_url: "https://login.test.example.dk".into(),
            signing: signing.signing_key(),
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
        assert_eq!(
            descriptor
                .children_named(METADATA_NS, "KeyDescriptor")
                .count(),
            2
        );
        assert_eq!(sso_bindings(&document), [BINDING_REDIRECT, BINDING_POST]);
        let attributes = descriptor.children_named(crate::saml::ASSERTION_NS, "Attribute");
        assert_eq!(attributes.count(), OFFERED_ATTRIBUTES.len());
    }

    #[test]
    fn the_mitid_erhverv_variant_lists_only_the_redirect_binding() {
        let rendered = render(&identity(), MetadataProfile::MitIdErhverv).unwrap();
        let document = xml::parse(rendered.as_bytes(), Limits::METADATA).unwrap();

        assert_eq!(sso_bindings(&document), [BINDING_REDIRECT]);
    }
}
