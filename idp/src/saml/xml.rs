//! A strict, capped XML parser for inbound SAML messages and metadata.
//!
//! quick-xml reads the document once, without recovery: any well-formedness error rejects it.
//! A DOCTYPE is refused outright (A7: XXE, entity expansion), as are processing instructions
//! and entity references other than the five predefined ones and character references. Depth,
//! attributes per element and namespace declarations are capped (A8; RUSTSEC-2026-0194/0195
//! concern the same shapes in older quick-xml). The result is a small owned tree with
//! namespace-resolved names, which is the only view of a message the IdP reads fields from.
//!
//! Comments are dropped, and the text on either side of one is joined: `victim@x<!---->.evil`
//! reads as `victim@x.evil`, never `victim@x` (A10).
//!
//! The tree also keeps what exclusive canonicalisation needs to reproduce the signed form of an
//! inbound message (A1, [`super::dsig`]): prefixes as written, the namespace declarations made
//! on each element, and where character data sits between child elements. Signature checks and
//! field reads then work on one and the same parse, so no second parser can see a different
//! document (A1: "read only from the verified bytes").

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, QName, ResolveResult};

/// Caps applied while parsing (`security-tests.md` §3).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest document accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most attributes on one element (namespace declarations included).
    pub max_attributes: usize,
    /// Most namespace declarations in the whole document.
    pub max_namespaces: usize,
}

impl Limits {
    /// The limits for SAML protocol messages: 128 KiB, and 64 each for depth, attributes and
    /// namespace declarations.
    pub const MESSAGE: Self = Self {
        max_bytes: 128 * 1024,
        max_depth: 64,
        max_attributes: 64,
        max_namespaces: 64,
    };
    /// The limits for SP metadata, which carries certificates and many endpoints: 1 MiB.
    pub const METADATA: Self = Self {
        max_bytes: 1024 * 1024,
        max_depth: 64,
        max_attributes: 64,
        max_namespaces: 64,
    };
}

/// Why a document was refused. Each variant maps to a stable audit reason code.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum XmlError {
    /// Larger than [`Limits::max_bytes`].
    #[error("document too large")]
    TooLarge,
    /// Contains a DOCTYPE declaration.
    #[error("document type declarations are not accepted")]
    Doctype,
    /// Nested deeper than allowed, or has too many attributes or namespace declarations.
    #[error("document exceeds the structural limits")]
    LimitExceeded,
    /// Not well-formed, not UTF-8, has a processing instruction or an unknown entity.
    #[error("document is malformed")]
    Malformed,
}

impl XmlError {
    /// The stable reason code for audit events (`security-tests.md` §0).
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "TOO_LARGE",
            Self::Doctype => "DOCTYPE",
            Self::LimitExceeded => "LIMIT_EXCEEDED",
            Self::Malformed => "MALFORMED",
        }
    }
}

/// An element with its namespace-resolved name, attributes, text and child elements.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Element {
    /// The namespace URI, if the name is bound to one.
    pub namespace: Option<String>,
    /// The local name.
    pub name: String,
    /// Attributes other than namespace declarations.
    pub attributes: Vec<Attribute>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The element's own character data, concatenated (comments removed).
    pub text: String,
    /// The prefix the name was written with.
    pub prefix: Option<String>,
    /// Namespace declarations made on this element, in document order.
    pub declarations: Vec<Declaration>,
    /// The character data around the children: `text_runs[i]` precedes `children[i]`, and the
    /// last entry follows the last child. Parsed elements have `children.len() + 1` entries.
    pub text_runs: Vec<String>,
}

/// One namespace declaration (`xmlns="…"` or `xmlns:prefix="…"`).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Declaration {
    /// The declared prefix; `None` for the default namespace.
    pub prefix: Option<String>,
    /// The namespace URI; empty when the default namespace is undeclared (`xmlns=""`).
    pub uri: String,
}

/// One attribute.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Attribute {
    /// The namespace URI of a prefixed attribute; unprefixed attributes have none.
    pub namespace: Option<String>,
    /// The local name.
    pub name: String,
    /// The value, with entity and character references resolved.
    pub value: String,
    /// The prefix the name was written with.
    pub prefix: Option<String>,
}

impl Element {
    /// Whether this element is `namespace`:`name`.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.name == name
    }

    /// The value of the unprefixed attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|attribute| attribute.namespace.is_none() && attribute.name == name)
            .map(|attribute| attribute.value.as_str())
    }

    /// Child elements named `namespace`:`name`.
    pub fn children_named<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children
            .iter()
            .filter(move |child| child.is(namespace, name))
    }

    /// The one child named `namespace`:`name`; `None` if there are none or several.
    pub fn only_child(&self, namespace: &str, name: &str) -> Option<&Element> {
        let mut matches = self
            .children
            .iter()
            .filter(|child| child.is(namespace, name));
        let first = matches.next()?;
        matches.next().is_none().then_some(first)
    }

    /// The element's text if it has no child elements (no mixed content, A10), trimmed.
    pub fn simple_text(&self) -> Option<&str> {
        self.children.is_empty().then(|| self.text.trim())
    }
}

/// Parses `bytes` strictly within `limits`.
///
/// # Errors
///
/// The document is too large, has a DOCTYPE, exceeds a structural cap, or is malformed.
pub fn parse(bytes: &[u8], limits: Limits) -> Result<Element, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::Malformed)?;
    // quick-xml does not check the XML character range, so NUL and friends are refused here,
    // before anything reads the text.
    if !text.chars().all(is_xml_char) {
        return Err(XmlError::Malformed);
    }
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    // The resolver counts bindings in scope; the document-wide count is kept below as well.
    reader
        .resolver_mut()
        .set_max_namespace_bindings(limits.max_namespaces);

    let mut stack: Vec<Element> = Vec::new();
    let mut namespaces = 0;
    let mut root = None;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(|error| match error {
            quick_xml::Error::Namespace(_) => XmlError::LimitExceeded,
            _ => XmlError::Malformed,
        })?;
        let namespace = namespace_of(&resolved)?;
        match event {
            // A second root element.
            Event::Start(_) | Event::Empty(_) if root.is_some() => return Err(XmlError::Malformed),
            Event::Start(start) => {
                let element = open(&reader, &start, namespace, &limits, &mut namespaces)?;
                stack.push(element);
                if stack.len() > limits.max_depth {
                    return Err(XmlError::LimitExceeded);
                }
            }
            Event::Empty(start) => {
                let element = open(&reader, &start, namespace, &limits, &mut namespaces)?;
                close(&mut stack, element, &mut root);
            }
            Event::End(_) => {
                let element = stack.pop().ok_or(XmlError::Malformed)?;
                close(&mut stack, element, &mut root);
            }
            Event::Text(text) => append_text(&mut stack, &text.xml10_content())?,
            Event::CData(data) => {
                append_text(&mut stack, &data.xml10_content())?;
            }
            Event::GeneralRef(reference) => {
                let character = resolve_reference(&reference)?;
                append_text(&mut stack, character.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::PI(_) => return Err(XmlError::Malformed),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    match (root, stack.is_empty()) {
        (Some(root), true) => Ok(root),
        _ => Err(XmlError::Malformed),
    }
}

/// Whether XML 1.0 §2.2 allows `character`: no C0 controls but tab, LF and CR, and neither
/// U+FFFE nor U+FFFF (surrogates cannot occur in a Rust `char`).
pub fn is_xml_char(character: char) -> bool {
    let control = character < ' ' && !matches!(character, '\t' | '\n' | '\r');
    !control && character != '\u{fffe}' && character != '\u{ffff}'
}

fn namespace_of(resolved: &ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match resolved {
        ResolveResult::Bound(namespace) => Ok(Some(namespace.as_ref().to_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(_) => Err(XmlError::Malformed),
    }
}

/// Builds an element from its start tag, counting attributes and namespace declarations.
fn open(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    namespace: Option<String>,
    limits: &Limits,
    namespaces: &mut usize,
) -> Result<Element, XmlError> {
    let name = start.local_name().as_ref().to_owned();
    let mut element = Element {
        namespace,
        name,
        prefix: prefix_of(start.name()),
        text_runs: vec![String::new()],
        ..Element::default()
    };

    for (count, attribute) in start.attributes().enumerate() {
        if count >= limits.max_attributes {
            return Err(XmlError::LimitExceeded);
        }
        let attribute = attribute.map_err(|_| XmlError::Malformed)?;
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|_| XmlError::Malformed)?;
        if let Some(binding) = attribute.key.as_namespace_binding() {
            *namespaces += 1;
            if *namespaces > limits.max_namespaces {
                return Err(XmlError::LimitExceeded);
            }
            element
                .declarations
                .push(declaration(binding, &attribute.value, value)?);
            continue;
        }
        let (resolved, local) = reader.resolver().resolve_attribute(attribute.key);
        element.attributes.push(Attribute {
            namespace: namespace_of(&resolved)?,
            name: local.as_ref().to_owned(),
            value: value.into_owned(),
            prefix: prefix_of(attribute.key),
        });
    }
    check_distinct_attributes(&element.attributes)?;
    Ok(element)
}

fn prefix_of(name: QName<'_>) -> Option<String> {
    name.prefix().map(|prefix| prefix.as_ref().to_owned())
}

/// A namespace declaration. The resolver keeps the raw value while the tree keeps the parsed
/// one, so a value whose two forms differ (a reference or white space in a namespace URI) is
/// refused: both views must name the same namespace.
fn declaration(
    binding: PrefixDeclaration<'_>,
    raw: &str,
    parsed: std::borrow::Cow<'_, str>,
) -> Result<Declaration, XmlError> {
    if raw != parsed {
        return Err(XmlError::Malformed);
    }
    let prefix = match binding {
        PrefixDeclaration::Default => None,
        PrefixDeclaration::Named(prefix) => Some(prefix.to_owned()),
    };
    Ok(Declaration {
        prefix,
        uri: parsed.into_owned(),
    })
}

/// Two attributes with the same expanded name under different prefixes (`a:x` and `b:x` with
/// `a` and `b` bound to one URI) break XML Namespaces §6.3; quick-xml only compares the names
/// as written.
fn check_distinct_attributes(attributes: &[Attribute]) -> Result<(), XmlError> {
    for (index, attribute) in attributes.iter().enumerate() {
        let duplicate = attributes[..index]
            .iter()
            .any(|other| other.namespace == attribute.namespace && other.name == attribute.name);
        if duplicate {
            return Err(XmlError::Malformed);
        }
    }
    Ok(())
}

fn close(stack: &mut [Element], element: Element, root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(element);
            parent.text_runs.push(String::new());
        }
        None => *root = Some(element),
    }
}

/// Text outside the root element may only be white space.
fn append_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            if let Some(run) = element.text_runs.last_mut() {
                run.push_str(text);
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError::Malformed),
    }
}

/// Resolves `&…;`: character references and the five predefined entities only. Anything else
/// would need a DTD, and DTDs are refused.
fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> Result<char, XmlError> {
    if let Some(character) = reference
        .resolve_char_ref()
        .map_err(|_| XmlError::Malformed)?
    {
        return Ok(character);
    }
    match reference.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(XmlError::Malformed),
    }
}

#[cfg(test)]
mod tests;
