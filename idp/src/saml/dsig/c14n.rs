//! Exclusive XML Canonicalization 1.0 without comments (W3C Recommendation, 18 July 2002) over
//! the strict tree of [`crate::saml::xml`], for verifying inbound enveloped signatures (A1).
//!
//! The tree has already refused what would make canonicalisation ambiguous: DOCTYPE (so no
//! default attributes or entity expansion), processing instructions, characters outside XML
//! 1.0, references in namespace URIs, and duplicate expanded attribute names. Comments are
//! gone from the tree, which is what the "without comments" variant asks for; `#WithComments`
//! is refused before this module is reached. What remains is:
//!
//! - an element is written with an explicit end tag, its namespace declarations sorted by
//!   prefix (the default namespace first), then its attributes sorted by namespace URI (none
//!   first) and local name;
//! - a namespace declaration is written where it is *visibly utilised* (the element's own
//!   prefix, or a prefix of one of its attributes; an unprefixed element utilises the default
//!   namespace), or listed in `InclusiveNamespaces PrefixList`, and only when the nearest
//!   output ancestor did not already write the same prefix with the same URI (§3, Exc-C14N);
//! - `xmlns=""` is written only to undo a default namespace an output ancestor wrote;
//! - text and attribute values are escaped as C14N 1.0 §2.3 says.
//!
//! The escaping mirrors [`crate::saml::canonical`] on purpose rather than sharing it: that
//! writer refuses characters it cannot emit, while here the parser has refused them already.

use std::collections::BTreeMap;

use crate::saml::xml::Element;

/// Prefix (`""` for the default namespace) to namespace URI.
type Namespaces<'a> = BTreeMap<&'a str, &'a str>;

/// The `PrefixList` token that stands for the default namespace.
const DEFAULT_TOKEN: &str = "#default";

/// Canonicalises `apex` and its descendants, leaving out the subtree `omit` (the
/// enveloped-signature transform) if given.
///
/// `ancestors` are the apex's ancestors from the root down: their namespace declarations are
/// in scope at the apex, though none of them is output. `inclusive` is the `PrefixList` of an
/// `InclusiveNamespaces` element (`#default` for the default namespace).
pub(super) fn exclusive(
    ancestors: &[&Element],
    apex: &Element,
    omit: Option<&Element>,
    inclusive: &[String],
) -> String {
    let mut scope = Namespaces::new();
    for ancestor in ancestors {
        declare(&mut scope, ancestor);
    }
    let inclusive: Vec<&str> = inclusive
        .iter()
        .map(|prefix| match prefix.as_str() {
            DEFAULT_TOKEN => "",
            prefix => prefix,
        })
        .collect();
    let context = Context {
        omit,
        inclusive: &inclusive,
    };
    let mut output = String::new();
    render(&context, apex, &scope, &Namespaces::new(), &mut output);
    output
}

struct Context<'c> {
    omit: Option<&'c Element>,
    inclusive: &'c [&'c str],
}

fn declare<'a>(scope: &mut Namespaces<'a>, element: &'a Element) {
    for declaration in &element.declarations {
        let prefix = declaration.prefix.as_deref().unwrap_or("");
        scope.insert(prefix, declaration.uri.as_str());
    }
}

/// Writes one element. `inherited` is the namespace scope of its parent, `rendered` what the
/// output ancestors have written. Depth is bounded by the parser's cap (`Limits::max_depth`).
fn render<'a>(
    context: &Context<'a>,
    element: &'a Element,
    inherited: &Namespaces<'a>,
    rendered: &Namespaces<'a>,
    output: &mut String,
) {
    let mut scope = inherited.clone();
    declare(&mut scope, element);
    let written = namespaces_to_write(context, element, &scope, rendered);

    output.push('<');
    push_name(element.prefix.as_deref(), &element.name, output);
    for (prefix, uri) in &written {
        output.push_str(" xmlns");
        if !prefix.is_empty() {
            output.push(':');
            output.push_str(prefix);
        }
        output.push_str("=\"");
        escape_attribute(uri, output);
        output.push('"');
    }
    write_attributes(element, output);
    output.push('>');

    let mut rendered = rendered.clone();
    rendered.extend(written);
    for (index, child) in element.children.iter().enumerate() {
        escape_text(text_run(element, index), output);
        if context.omit.is_some_and(|omit| std::ptr::eq(omit, child)) {
            continue;
        }
        render(context, child, &scope, &rendered, output);
    }
    escape_text(text_run(element, element.children.len()), output);

    output.push_str("</");
    push_name(element.prefix.as_deref(), &element.name, output);
    output.push('>');
}

/// The namespace declarations `element` must carry in the canonical form (Exc-C14N §3).
fn namespaces_to_write<'a>(
    context: &Context<'a>,
    element: &'a Element,
    scope: &Namespaces<'a>,
    rendered: &Namespaces<'a>,
) -> Namespaces<'a> {
    let own = element.prefix.as_deref().unwrap_or("");
    let from_attributes = element
        .attributes
        .iter()
        .filter_map(|attribute| attribute.prefix.as_deref());
    let candidates = std::iter::once(own)
        .chain(from_attributes)
        .chain(context.inclusive.iter().copied());

    let mut written = Namespaces::new();
    for prefix in candidates {
        // The `xml` prefix is bound by definition and never declared.
        if prefix == "xml" {
            continue;
        }
        let in_scope = scope.get(prefix).copied();
        let before = rendered.get(prefix).copied();
        let needed = if prefix.is_empty() {
            // No default namespace and `xmlns=""` are the same; write only a change.
            let uri = in_scope.unwrap_or("");
            (uri != before.unwrap_or("")).then_some(uri)
        } else {
            // A listed prefix that is not in scope has no namespace node to write.
            in_scope.filter(|uri| before != Some(*uri))
        };
        if let Some(uri) = needed {
            written.insert(prefix, uri);
        }
    }
    written
}

/// Attributes in canonical order: by namespace URI, unqualified ones first, then local name.
fn write_attributes(element: &Element, output: &mut String) {
    let mut attributes: Vec<_> = element.attributes.iter().collect();
    attributes.sort_by(|a, b| {
        let key_a = (a.namespace.as_deref().unwrap_or(""), a.name.as_str());
        let key_b = (b.namespace.as_deref().unwrap_or(""), b.name.as_str());
        key_a.cmp(&key_b)
    });
    for attribute in attributes {
        output.push(' ');
        push_name(attribute.prefix.as_deref(), &attribute.name, output);
        output.push_str("=\"");
        escape_attribute(&attribute.value, output);
        output.push('"');
    }
}

fn push_name(prefix: Option<&str>, local: &str, output: &mut String) {
    if let Some(prefix) = prefix {
        output.push_str(prefix);
        output.push(':');
    }
    output.push_str(local);
}

fn text_run(element: &Element, index: usize) -> &str {
    element.text_runs.get(index).map_or("", String::as_str)
}

/// C14N §2.3 text: `&`, `<`, `>` and CR are replaced.
fn escape_text(text: &str, output: &mut String) {
    for character in text.chars() {
        match character {
            '&' => output.push_str("&amp;"),
            '<' => output.push_str("&lt;"),
            '>' => output.push_str("&gt;"),
            '\r' => output.push_str("&#xD;"),
            other => output.push(other),
        }
    }
}

/// C14N §2.3 attribute values: `&`, `<`, `"`, TAB, LF and CR are replaced.
fn escape_attribute(value: &str, output: &mut String) {
    for character in value.chars() {
        match character {
            '&' => output.push_str("&amp;"),
            '<' => output.push_str("&lt;"),
            '"' => output.push_str("&quot;"),
            '\t' => output.push_str("&#x9;"),
            '\n' => output.push_str("&#xA;"),
            '\r' => output.push_str("&#xD;"),
            other => output.push(other),
        }
    }
}
