//! Writing XML that is already in Exclusive XML Canonicalization form (exc-c14n, W3C
//! Recommendation 2002), so that Portner can digest and sign what it writes without parsing it
//! back (performance.md §5.1: keep the key loaded, canonicalise only what is signed).
//!
//! The writer enforces the canonical rules that matter for the documents Portner builds:
//! every element has an explicit end tag; each namespace is declared on the element that first
//! uses it in its branch, and nowhere else; attributes are written in canonical order (the
//! caller passes them sorted, which [`CanonicalWriter::start`] checks in debug builds); text
//! and attribute values are escaped exactly as canonical XML escapes them (§2.3 of the C14N
//! recommendation), and characters XML cannot carry are refused, not emitted (A11, RS-12).
//! No XML declaration, comments, processing instructions or whitespace between elements.
//!
//! This is only correct for documents built through this writer. Documents from elsewhere (SP
//! signatures) are canonicalised from their parsed tree by [`super::dsig`], never with this
//! module. Every signed output is cross-checked by the third-party `xmlsec1` in the tests.

/// A character that XML 1.0 cannot carry (NUL, other C0 controls, U+FFFE, U+FFFF) was in a
/// value; the document is not produced.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[error("a value holds a character XML cannot carry")]
pub struct UnrepresentableCharacter;

/// Builds canonical XML into a string.
#[derive(Debug, Default)]
pub struct CanonicalWriter {
    output: String,
    open: Vec<&'static str>,
}

impl CanonicalWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens `name` with namespace declarations `namespaces` (prefix, URI; sorted by prefix)
    /// and attributes (name, value; in canonical order: unprefixed names in code-point order).
    ///
    /// # Errors
    ///
    /// A value holds a character XML cannot carry.
    pub fn start(
        &mut self,
        name: &'static str,
        namespaces: &[(&str, &str)],
        attributes: &[(&str, &str)],
    ) -> Result<(), UnrepresentableCharacter> {
        debug_assert!(namespaces.windows(2).all(|pair| pair[0].0 < pair[1].0));
        debug_assert!(attributes.windows(2).all(|pair| pair[0].0 < pair[1].0));
        self.output.push('<');
        self.output.push_str(name);
        for (prefix, uri) in namespaces {
            self.output.push_str(" xmlns:");
            self.output.push_str(prefix);
            self.output.push_str("=\"");
            escape_attribute(uri, &mut self.output)?;
            self.output.push('"');
        }
        for (attribute, value) in attributes {
            self.output.push(' ');
            self.output.push_str(attribute);
            self.output.push_str("=\"");
            escape_attribute(value, &mut self.output)?;
            self.output.push('"');
        }
        self.output.push('>');
        self.open.push(name);
        Ok(())
    }

    /// Writes escaped character data.
    ///
    /// # Errors
    ///
    /// The text holds a character XML cannot carry.
    pub fn text(&mut self, text: &str) -> Result<(), UnrepresentableCharacter> {
        escape_text(text, &mut self.output)
    }

    /// Appends markup that is already canonical (a signed assertion placed into a response).
    pub fn raw(&mut self, canonical: &str) {
        self.output.push_str(canonical);
    }

    /// Closes the innermost open element.
    pub fn end(&mut self) {
        if let Some(name) = self.open.pop() {
            self.output.push_str("</");
            self.output.push_str(name);
            self.output.push('>');
        }
    }

    /// `start`, `text`, `end` in one call.
    ///
    /// # Errors
    ///
    /// A value holds a character XML cannot carry.
    pub fn element(
        &mut self,
        name: &'static str,
        namespaces: &[(&str, &str)],
        attributes: &[(&str, &str)],
        text: &str,
    ) -> Result<(), UnrepresentableCharacter> {
        self.start(name, namespaces, attributes)?;
        self.text(text)?;
        self.end();
        Ok(())
    }

    /// The document so far, closing any element left open.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.end();
        }
        self.output
    }
}

fn check(character: char) -> Result<(), UnrepresentableCharacter> {
    if super::xml::is_xml_char(character) {
        Ok(())
    } else {
        Err(UnrepresentableCharacter)
    }
}

/// C14N §2.3 text: `&`, `<`, `>` and CR are replaced; quotes stay literal.
fn escape_text(text: &str, output: &mut String) -> Result<(), UnrepresentableCharacter> {
    for character in text.chars() {
        check(character)?;
        match character {
            '&' => output.push_str("&amp;"),
            '<' => output.push_str("&lt;"),
            '>' => output.push_str("&gt;"),
            '\r' => output.push_str("&#xD;"),
            other => output.push(other),
        }
    }
    Ok(())
}

/// C14N §2.3 attribute values: `&`, `<`, `"`, TAB, LF and CR are replaced; `>` stays.
fn escape_attribute(value: &str, output: &mut String) -> Result<(), UnrepresentableCharacter> {
    for character in value.chars() {
        check(character)?;
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_the_canonical_way_and_elements_get_end_tags() {
        let mut writer = CanonicalWriter::new();
        writer
            .start("a", &[("p", "urn:p")], &[("x", "1 < 2 & \"3\" >\t\n")])
            .unwrap();
        writer
            .element("b", &[], &[], "R&D <lab> \"q\" 'a'\r")
            .unwrap();
        writer.start("c", &[], &[]).unwrap();

        let document = writer.finish();

        assert_eq!(
            document,
            "<a xmlns:p=\"urn:p\" x=\"1 &lt; 2 &amp; &quot;3&quot; >&#x9;&#xA;\">\
             <b>R&amp;D &lt;lab&gt; \"q\" 'a'&#xD;</b><c></c></a>"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_are_refused() {
        for bad in ["nul\u{0}", "bell\u{7}", "\u{fffe}", "\u{ffff}"] {
            let mut writer = CanonicalWriter::new();
            assert_eq!(
                writer.element("a", &[], &[], bad),
                Err(UnrepresentableCharacter)
            );
            let mut writer = CanonicalWriter::new();
            assert_eq!(
                writer.start("a", &[], &[("x", bad)]),
                Err(UnrepresentableCharacter)
            );
        }
    }
}
