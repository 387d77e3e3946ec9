//! The filter grammar and its evaluation, against a resource shaped like Portner's users.

use serde_json::json;

use super::*;

fn alice() -> Value {
    json!({
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "HR-Alice",
        "userName": "alice",
        "displayName": "Alice Hansen",
        "active": true,
        "emails": [{"value": "alice@testfirma.dk"}],
        "urn:portner:params:scim:schemas:extension:portner:2.0:User": {"status": "active"},
        "meta": {"lastModified": "2026-12-04T10:00:00Z"}
    })
}

fn holds(filter: &str) -> bool {
    Filter::parse(filter).unwrap().matches(&alice())
}

fn refused(filter: &str) {
    let error = Filter::parse(filter).unwrap_err();
    assert_eq!(
        error.scim_type(),
        Some(ScimType::InvalidFilter),
        "{filter:?}"
    );
    assert_eq!(error.status().as_u16(), 400, "{filter:?}");
}

#[test]
fn comparison_operators_work_on_strings_ignoring_case_where_rfc_7643_allows() {
    assert!(holds(r#"userName eq "ALICE""#));
    assert!(holds(r#"USERNAME Eq "alice""#));
    assert!(!holds(r#"userName eq "bob""#));
    assert!(holds(r#"userName ne "bob""#));
    assert!(holds(r#"displayName co "hans""#));
    assert!(holds(r#"displayName sw "Ali""#));
    assert!(holds(r#"displayName ew "sen""#));
    assert!(holds(r#"externalId eq "HR-Alice""#));
    assert!(
        !holds(r#"externalId eq "hr-alice""#),
        "externalId is caseExact"
    );
    assert!(holds(r#"id eq "2819c223-7f76-453a-919d-413861904646""#));
}

#[test]
fn emails_match_by_value_with_or_without_the_sub_attribute() {
    assert!(holds(r#"emails eq "alice@testfirma.dk""#));
    assert!(holds(r#"emails.value co "@testfirma""#));
    assert!(holds(r#"emails[value ew ".dk"]"#));
    assert!(!holds(r#"emails[value ew ".com"]"#));
}

#[test]
fn presence_booleans_dates_and_extension_urns_are_understood() {
    assert!(holds("externalId pr"));
    assert!(!holds("nickName pr"));
    assert!(holds("active eq true"));
    assert!(!holds("active eq false"));
    assert!(holds(r#"meta.lastModified gt "2026-12-04T09:59:59+00:00""#));
    assert!(!holds(r#"meta.lastModified gt "2026-12-04T10:00:00Z""#));
    assert!(holds(
        r#"urn:portner:params:scim:schemas:extension:portner:2.0:User:status eq "active""#
    ));
    assert!(holds(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice""#
    ));
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_and_not_group() {
    // false and false or true: `and` first, so the whole holds.
    assert!(holds(
        r#"userName eq "bob" and active eq true or displayName sw "Alice""#
    ));
    // With the parentheses the `and` comes last and fails.
    assert!(!holds(
        r#"userName eq "bob" and (active eq true or displayName sw "Alice")"#
    ));
    assert!(holds(r#"not (userName eq "bob")"#));
    assert!(!holds(r#"not(userName eq "alice")"#));
    assert!(holds(r#"((userName eq "alice"))"#));
}

#[test]
fn string_literals_are_json_strings_with_escapes_and_spaces() {
    assert!(holds(r#"displayName eq "Alice Hansen""#));
    assert!(holds(r#"displayName eq "Alice\u0020Hansen""#));
    assert!(!holds(r#"displayName eq "Alice \"Hansen\"""#));
}

#[test]
fn malformed_filters_are_refused_as_invalid_filter() {
    for filter in [
        "",
        "userName",
        r#"userName eq"#,
        r#"userName zz "x""#,
        r#"userName eq "unterminated"#,
        r#"(userName eq "a""#,
        r#"userName eq "a")"#,
        r#"userName eq "a" and"#,
        r#"userName eq "a" extra"#,
        r#"userName co 1"#,
        r#"active gt true"#,
        r#"1abc eq "a""#,
        r#"emails.value[value eq "a"]"#,
        r#"userName eq bob"#,
        r#"userName eq "a" "b""#,
    ] {
        refused(filter);
    }
}

#[test]
fn overlong_and_deeply_nested_filters_are_refused_before_recursing() {
    refused(&format!(
        r#"userName eq "{}""#,
        "a".repeat(MAX_FILTER_BYTES)
    ));
    let deep = format!("{}userName pr{}", "(".repeat(17), ")".repeat(17));
    refused(&deep);
    let nots = format!("{}userName pr{}", "not (".repeat(17), ")".repeat(17));
    refused(&nots);
    let ok = format!("{}userName pr{}", "(".repeat(16), ")".repeat(16));
    assert!(holds(&ok));
}

#[test]
fn hostile_input_never_panics() {
    for filter in [
        "\"",
        "[",
        "]",
        "(",
        ")",
        "not",
        "not (",
        "emails[",
        "emails[]",
        "a.b.c eq \"x\"",
        "urn: eq \"x\"",
        "ü eq \"x\"",
        "userName eq \"\\ud800\"",
        "\u{0} pr",
        "userName eq 1e999",
    ] {
        let _ = Filter::parse(filter);
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        if let Ok(filter) = Filter::parse(&text) {
            let _ = filter.matches(&alice());
        }
    }

    #[test]
    fn token_soup_never_panics_and_every_refusal_is_invalid_filter(
        words in proptest::collection::vec(
            proptest::sample::select(vec![
                "userName", "emails.value", "emails", "[", "]", "(", ")", "not", "and", "or",
                "eq", "co", "sw", "pr", "gt", "\"a\"", "\"", "true", "null", "1.5", "\\",
                "urn:x:y", " ",
            ]),
            0..40,
        )
    ) {
        let text = words.join(" ");
        match Filter::parse(&text) {
            Ok(filter) => {
                let _ = filter.matches(&alice());
            }
            Err(error) => {
                proptest::prop_assert_eq!(error.scim_type(), Some(ScimType::InvalidFilter));
            }
        }
    }
}
