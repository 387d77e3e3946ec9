//! SAML 2.0 for OIOSAML 3: the guard rails around everything the IdP reads and writes.
//!
//! Every inbound message passes, in this order: a size cap on the raw bytes, a strict
//! well-formedness parse with caps on depth, attributes and namespace declarations and no
//! DOCTYPE ([`xml`]), binding-specific decoding with its own caps ([`redirect`]), and only then
//! signature checks against keys from the SP's registered metadata ([`sp_metadata`]). Nothing
//! from a message is trusted before that. Limits follow `security-tests.md` §3.
//!
//! POST-binding messages carry an enveloped XML signature, verified by [`dsig`] over an
//! exclusive canonical form of the same strict tree (A1).
//!
//! A verified request reaches sign-in only through [`sso`], which stores it server-side and
//! answers it once with the assertion ([`response`]) on the POST page ([`post_page`]);
//! [`slo`] ends a session at an SP's request.

pub mod authn_request;
pub mod canonical;
pub mod dsig;
pub mod idp_metadata;
pub mod post;
pub mod post_page;
pub mod redirect;
pub mod refusal_limit;
pub mod registry;
pub mod response;
pub mod routes;
pub mod slo;
pub mod sp_metadata;
pub mod sso;
#[cfg(test)]
pub(crate) mod test_support;
pub mod xml;

/// SAML protocol namespace (SAML Core §2.1... §3).
pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// SAML assertion namespace.
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// SAML metadata namespace.
pub const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// XML Signature namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// HTTP-Redirect binding identifier (SAML Bindings §3.4).
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// HTTP-POST binding identifier (SAML Bindings §3.5).
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
