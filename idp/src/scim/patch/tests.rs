//! PATCH paths and operations on a document shaped like Portner's rendered users.

use serde_json::json;

use super::*;

fn user() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE, PORTNER],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "userName": "alice",
        "displayName": "Alice Hansen",
        "active": true,
        "emails": [{"value": "alice@testfirma.dk"}],
        PORTNER: {"cvr": "91234567", "status": "active"}
    })
}

fn patched(operations: Value) -> Result<Value, ScimError> {
    let body = json!({"schemas": [PATCH_OP], "Operations": operations});
    let operations = parse(&body, &USER_RULES)?;
    let mut document = user();
    apply(&mut document, &operations, &USER_RULES)?;
    Ok(document)
}

fn refused(operations: Value, expected: ScimType) {
    let error = patched(operations.clone()).unwrap_err();
    assert_eq!(error.scim_type(), Some(expected), "{operations}");
}

#[test]
fn replace_with_a_path_sets_simple_attributes_case_insensitively() {
    let document = patched(json!([
        {"op": "replace", "path": "displayname", "value": "Alice B. Hansen"},
        {"op": "Replace", "path": "active", "value": false}
    ]))
    .unwrap();
    assert_eq!(document["displayName"], "Alice B. Hansen");
    assert_eq!(document["active"], false);
}

#[test]
fn replace_without_a_path_merges_members_and_ignores_read_only_ones() {
    let document = patched(json!([{
        "op": "replace",
        "value": {"active": false, "externalId": "HR-1", "id": "other", "meta": {}}
    }]))
    .unwrap();
    assert_eq!(document["active"], false);
    assert_eq!(document["externalId"], "HR-1");
    assert_eq!(document["id"], "2819c223-7f76-453a-919d-413861904646");
}

#[test]
fn add_appends_to_multi_valued_attributes_and_sets_missing_ones() {
    let document = patched(json!([
        {"op": "add", "path": "emails", "value": [{"value": "a2@testfirma.dk"}]},
        {"op": "add", "path": "externalId", "value": "HR-2"}
    ]))
    .unwrap();
    assert_eq!(document["emails"].as_array().unwrap().len(), 2);
    assert_eq!(document["externalId"], "HR-2");
}

#[test]
fn value_paths_select_elements_and_their_sub_attributes() {
    let document = patched(json!([{
        "op": "replace",
        "path": "emails[value eq \"alice@testfirma.dk\"].value",
        "value": "alice.hansen@testfirma.dk"
    }]))
    .unwrap();
    assert_eq!(document["emails"][0]["value"], "alice.hansen@testfirma.dk");

    let document = patched(json!([{
        "op": "remove",
        "path": "emails[value ew \"testfirma.dk\"]"
    }]))
    .unwrap();
    assert_eq!(document["emails"], json!([]));
}

#[test]
fn add_through_an_unmatched_equality_filter_creates_the_element() {
    let document = patched(json!([{
        "op": "add",
        "path": "emails[type eq \"home\"].value",
        "value": "home@example.dk"
    }]))
    .unwrap();
    assert_eq!(
        document["emails"][1],
        json!({"type": "home", "value": "home@example.dk"})
    );
}

#[test]
fn the_one_address_is_reached_as_the_primary_work_address() {
    // The forms Entra ID and Okta send to change a user's work address.
    for (op, filter) in [
        ("replace", "type eq \"work\""),
        ("add", "type eq \"work\""),
        ("replace", "primary eq true"),
    ] {
        let document = patched(json!([{
            "op": op,
            "path": format!("emails[{filter}].value"),
            "value": "new@testfirma.dk"
        }]))
        .unwrap();
        assert_eq!(
            document["emails"],
            json!([{"value": "new@testfirma.dk"}]),
            "{op} {filter}"
        );
    }
}

#[test]
fn unmatched_filters_for_replace_and_remove_are_no_target() {
    refused(
        json!([{"op": "replace", "path": "emails[value eq \"x@y.dk\"].value", "value": "a@b.dk"}]),
        ScimType::NoTarget,
    );
    refused(
        json!([{"op": "remove", "path": "emails[value eq \"x@y.dk\"]"}]),
        ScimType::NoTarget,
    );
}

#[test]
fn extension_attributes_are_reached_by_urn_and_removal_of_absent_ones_is_quiet() {
    let document = patched(json!([{
        "op": "add",
        "path": format!("{PORTNER}:cpr"),
        "value": "0101901234"
    }]))
    .unwrap();
    assert_eq!(document[PORTNER]["cpr"], "0101901234");
    assert_eq!(document[PORTNER]["cvr"], "91234567");

    let document =
        patched(json!([{"op": "remove", "path": format!("{ENTERPRISE}:manager")}])).unwrap();
    assert!(document.get(ENTERPRISE).is_none());

    let document =
        patched(json!([{"op": "add", "value": {PORTNER: {"cpr": "0101901234"}}}])).unwrap();
    assert_eq!(document[PORTNER]["cpr"], "0101901234");
}

#[test]
fn a_path_naming_a_whole_extension_reaches_its_attributes() {
    let document = patched(json!([{
        "op": "replace",
        "path": PORTNER,
        "value": {"cpr": "0101901234", "status": "ignored"}
    }]))
    .unwrap();
    assert_eq!(document[PORTNER]["cpr"], "0101901234");
    assert_eq!(document[PORTNER]["status"], "active");
}

#[test]
fn read_only_and_required_attributes_are_refused_with_mutability() {
    let status = format!("{PORTNER}:status");
    let has_cpr = format!("{PORTNER}:hasCpr");
    let organization = format!("{ENTERPRISE}:organization");
    for path in [
        "id",
        "meta",
        "schemas",
        &status,
        &has_cpr,
        &organization,
        "META.version",
    ] {
        refused(
            json!([{"op": "replace", "path": path, "value": "x"}]),
            ScimType::Mutability,
        );
    }
    for path in [
        "userName",
        "USERNAME",
        "displayName",
        "emails",
        "active",
        ENTERPRISE,
    ] {
        refused(
            json!([{"op": "remove", "path": path}]),
            ScimType::Mutability,
        );
    }
}

#[test]
fn malformed_messages_and_paths_are_refused() {
    let not_patch = json!({"schemas": ["x"], "Operations": [{"op": "add", "value": {}}]});
    assert_eq!(
        parse(&not_patch, &USER_RULES).unwrap_err().scim_type(),
        Some(ScimType::InvalidSyntax)
    );
    let empty = json!({"schemas": [PATCH_OP], "Operations": []});
    assert_eq!(
        parse(&empty, &USER_RULES).unwrap_err().scim_type(),
        Some(ScimType::InvalidSyntax)
    );
    let operations = vec![json!({"op": "remove", "path": "x"}); 101];
    let many = json!({"schemas": [PATCH_OP], "Operations": operations});
    assert_eq!(
        parse(&many, &USER_RULES).unwrap_err().scim_type(),
        Some(ScimType::InvalidSyntax)
    );

    refused(
        json!([{"op": "move", "path": "x", "value": 1}]),
        ScimType::InvalidSyntax,
    );
    refused(json!([{"op": "remove"}]), ScimType::NoTarget);
    refused(
        json!([{"op": "add", "path": "displayName"}]),
        ScimType::InvalidValue,
    );
    refused(json!([{"op": "add", "value": "x"}]), ScimType::InvalidValue);
    for path in [
        "",
        "1x",
        "emails[",
        "emails[value eq]",
        "emails[value pr]x",
        "a.b.c",
        "urn:x:y",
    ] {
        refused(
            json!([{"op": "replace", "path": path, "value": "x"}]),
            ScimType::InvalidPath,
        );
    }
    refused(
        json!([{"op": "replace", "path": "x".repeat(2000), "value": 1}]),
        ScimType::InvalidPath,
    );
}

proptest::proptest! {
    #[test]
    fn arbitrary_paths_and_values_never_panic(
        path in "[a-zA-Z.:\\[\\]\" =0-9]{0,80}",
        op in proptest::sample::select(vec!["add", "replace", "remove"]),
        value in proptest::sample::select(vec![
            json!(null), json!(true), json!("x"), json!([]), json!({}), json!([{"value": 1}]),
        ]),
    ) {
        let _ = patched(json!([{"op": op, "path": path, "value": value}]));
    }
}
