//! SCIM PATCH (RFC 7644 §3.5.2): `add`, `replace` and `remove`, with or without a `path`,
//! applied to the rendered resource as a JSON document.
//!
//! Working on the document keeps this module free of Portner's domain: the result is read back
//! with [`super::resource::read`], the same reader a PUT body goes through, so a PATCH can never
//! set a value a PUT could not, and a PATCH whose result is invalid (one that removes the
//! `userName`, say) is refused before anything is written. Paths are `attr`, `attr.sub`,
//! `urn:…:attr` and value paths `attr[filter]` or `attr[filter].sub` (§3.5.2, `PATH` ABNF).

use serde_json::{Map, Value};

use super::error::{ScimError, ScimType};
use super::filter::{AttrPath, CompareOp, Filter, Literal};
use super::schema::{ENTERPRISE, GROUP, PATCH_OP, PORTNER, USER};

/// Most operations in one request; a provisioning client sends a handful.
const MAX_OPERATIONS: usize = 100;

/// Longest path accepted, in bytes.
const MAX_PATH_BYTES: usize = 1024;

/// What PATCH may do to one resource type's rendered form.
#[derive(Debug)]
pub struct Rules {
    /// The core schema's URN, which an attribute path may name.
    core: &'static str,
    /// The extensions whose URN a path or a value member may name.
    extensions: &'static [&'static str],
    /// Attributes no PATCH may name (RFC 7643 §3.1, §7: `readOnly`).
    read_only: &'static [&'static str],
    /// Attributes a resource always has; removing them is refused with `mutability` rather
    /// than ignored, so a client learns that the value stays.
    not_removable: &'static [&'static str],
    /// Multi-valued attributes the resource type keeps.
    multi_valued: &'static [&'static str],
}

/// Users: the common read-only attributes, the enterprise extension's `organization` and
/// the Portner extension's published attributes are read-only. A Portner user always has a
/// username, name, e-mail and `active` (an account is always either enabled or disabled; to
/// disable, replace `active` with false).
pub const USER_RULES: Rules = Rules {
    core: USER,
    extensions: &[ENTERPRISE, PORTNER],
    read_only: &[
        "id",
        "meta",
        "schemas",
        "organization",
        "cvr",
        "status",
        "identityLevel",
        "hasCpr",
        "rights",
    ],
    not_removable: &["userName", "displayName", "emails", "active"],
    multi_valued: &["emails"],
};

/// Groups (RFC 7643 §4.2): a name that stays, and members.
pub const GROUP_RULES: Rules = Rules {
    core: GROUP,
    extensions: &[],
    read_only: &["id", "meta", "schemas"],
    not_removable: &["displayName"],
    multi_valued: &["members"],
};

/// One PATCH operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    kind: OperationKind,
    path: Option<PatchPath>,
    value: Option<Value>,
}

/// RFC 7644 §3.5.2's three operations.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum OperationKind {
    Add,
    Remove,
    Replace,
}

/// A parsed `path`.
#[derive(Clone, Debug, PartialEq)]
struct PatchPath {
    attribute: AttrPath,
    /// The value filter of `attr[filter]` or `attr[filter].sub`.
    filter: Option<Filter>,
    /// The sub-attribute after a value filter.
    filter_sub: Option<String>,
}

/// Parses a PatchOp request body (RFC 7644 §3.5.2).
///
/// # Errors
///
/// 400 `invalidSyntax` if the body is not a PatchOp message or has no operations or too many;
/// 400 `invalidPath` for a malformed path; 400 `invalidValue` for an operation without the
/// value it needs.
pub fn parse(body: &Value, rules: &Rules) -> Result<Vec<Operation>, ScimError> {
    let syntax = |detail| ScimError::bad_request(ScimType::InvalidSyntax, detail);
    let names_patch_op = super::filter::member(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|schemas| schemas.iter().any(|schema| schema == PATCH_OP));
    if !names_patch_op {
        return Err(syntax("The body must be a PatchOp message."));
    }
    let operations = super::filter::member(body, "Operations")
        .and_then(Value::as_array)
        .filter(|operations| (1..=MAX_OPERATIONS).contains(&operations.len()))
        .ok_or_else(|| syntax("Operations must hold 1-100 operations."))?;
    operations
        .iter()
        .map(|body| operation(body, rules))
        .collect()
}

/// Applies `operations` in order to `document`. On error `document` may be partly changed;
/// the caller drops it, so a refused PATCH writes nothing.
///
/// # Errors
///
/// 400 `mutability` for a path naming a read-only attribute or removing a required one;
/// 400 `noTarget` when a value filter matches nothing; 400 `invalidValue` for a value of the
/// wrong shape.
pub fn apply(
    document: &mut Value,
    operations: &[Operation],
    rules: &Rules,
) -> Result<(), ScimError> {
    for operation in operations {
        match &operation.path {
            Some(path) => {
                apply_at(
                    document,
                    operation.kind,
                    path,
                    operation.value.as_ref(),
                    rules,
                )?;
            }
            None => apply_without_path(document, operation, rules)?,
        }
    }
    Ok(())
}

fn operation(body: &Value, rules: &Rules) -> Result<Operation, ScimError> {
    let kind = match super::filter::member(body, "op").and_then(Value::as_str) {
        Some(op) if op.eq_ignore_ascii_case("add") => OperationKind::Add,
        Some(op) if op.eq_ignore_ascii_case("remove") => OperationKind::Remove,
        Some(op) if op.eq_ignore_ascii_case("replace") => OperationKind::Replace,
        _ => {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                "op must be add, remove or replace.",
            ));
        }
    };
    let mut value = super::filter::member(body, "value").cloned();
    let path = match super::filter::member(body, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(path)) => match extension_urn(path, rules) {
            // A path naming a whole extension addresses the extension's attributes, as a
            // value object under that URN would without a path.
            Some(urn) => {
                if kind == OperationKind::Remove {
                    return Err(mutability("The extension's attributes are read-only."));
                }
                value = value.map(|value| Value::Object(Map::from_iter([(urn.to_owned(), value)])));
                None
            }
            None => Some(parse_path(path)?),
        },
        Some(_) => return Err(invalid_path()),
    };
    // §3.5.2.2: remove needs a path; add and replace need a value.
    match (kind, &path, &value) {
        (OperationKind::Remove, None, _) => Err(ScimError::bad_request(
            ScimType::NoTarget,
            "A remove operation needs a path.",
        )),
        (OperationKind::Add | OperationKind::Replace, _, None) => {
            Err(invalid_value("add and replace need a value."))
        }
        _ => Ok(Operation { kind, path, value }),
    }
}

/// The extension a path names as a whole, if it does.
fn extension_urn(path: &str, rules: &Rules) -> Option<&'static str> {
    rules
        .extensions
        .iter()
        .copied()
        .find(|urn| urn.eq_ignore_ascii_case(path))
}

fn parse_path(text: &str) -> Result<PatchPath, ScimError> {
    if text.len() > MAX_PATH_BYTES {
        return Err(invalid_path());
    }
    let Some((head, rest)) = text.split_once('[') else {
        let attribute = AttrPath::parse(text).ok_or_else(invalid_path)?;
        return Ok(PatchPath {
            attribute,
            filter: None,
            filter_sub: None,
        });
    };
    let (inner, tail) = rest.rsplit_once(']').ok_or_else(invalid_path)?;
    let attribute = AttrPath::parse(head)
        .filter(|attribute| attribute.sub.is_none())
        .ok_or_else(invalid_path)?;
    let filter_sub = match tail {
        "" => None,
        _ => Some(
            tail.strip_prefix('.')
                .filter(|sub| AttrPath::parse(sub).is_some_and(|path| path.sub.is_none()))
                .ok_or_else(invalid_path)?
                .to_owned(),
        ),
    };
    let filter = Filter::parse(inner).map_err(|_| {
        ScimError::bad_request(ScimType::InvalidPath, "The path's filter is invalid.")
    })?;
    Ok(PatchPath {
        attribute,
        filter: Some(filter),
        filter_sub,
    })
}

fn invalid_path() -> ScimError {
    ScimError::bad_request(
        ScimType::InvalidPath,
        "The path is not a valid attribute path.",
    )
}

fn invalid_value(detail: &'static str) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

fn mutability(detail: &'static str) -> ScimError {
    ScimError::bad_request(ScimType::Mutability, detail)
}

/// §3.5.2.1/§3.5.2.3 without a path: the value is an object whose members are applied as if
/// each were named by a path; a member named by an extension URN holds that extension's
/// attributes. Read-only members are ignored rather than refused, as clients often send back a
/// whole resource.
fn apply_without_path(
    document: &mut Value,
    operation: &Operation,
    rules: &Rules,
) -> Result<(), ScimError> {
    let Some(Value::Object(members)) = &operation.value else {
        return Err(invalid_value(
            "Without a path, the value must be an object.",
        ));
    };
    for (name, value) in members {
        let is_extension = extension_urn(name, rules).is_some();
        if is_extension {
            let Value::Object(attributes) = value else {
                return Err(invalid_value("An extension's value must be an object."));
            };
            for (attribute, value) in attributes {
                apply_member(
                    document,
                    operation.kind,
                    &format!("{name}:{attribute}"),
                    value,
                    rules,
                )?;
            }
        } else {
            apply_member(document, operation.kind, name, value, rules)?;
        }
    }
    Ok(())
}

fn apply_member(
    document: &mut Value,
    kind: OperationKind,
    name: &str,
    value: &Value,
    rules: &Rules,
) -> Result<(), ScimError> {
    let attribute = AttrPath::parse(name).ok_or_else(invalid_path)?;
    if is_read_only(&attribute, rules) {
        return Ok(());
    }
    let path = PatchPath {
        attribute,
        filter: None,
        filter_sub: None,
    };
    apply_at(document, kind, &path, Some(value), rules)
}

fn is_read_only(attribute: &AttrPath, rules: &Rules) -> bool {
    rules
        .read_only
        .iter()
        .any(|name| name.eq_ignore_ascii_case(&attribute.name))
}

fn apply_at(
    document: &mut Value,
    kind: OperationKind,
    path: &PatchPath,
    value: Option<&Value>,
    rules: &Rules,
) -> Result<(), ScimError> {
    let attribute = &path.attribute;
    if is_read_only(attribute, rules) {
        return Err(mutability("The attribute is read-only."));
    }
    let removes_required = kind == OperationKind::Remove
        && attribute.sub.is_none()
        && path.filter.is_none()
        && rules
            .not_removable
            .iter()
            .any(|name| name.eq_ignore_ascii_case(&attribute.name));
    if removes_required {
        return Err(mutability(
            "This attribute cannot be removed, only replaced.",
        ));
    }
    let container = container(document, attribute.urn.as_deref(), kind, rules)?;
    let Some(container) = container else {
        // Removing from an extension the resource does not have removes nothing.
        return Ok(());
    };
    match &path.filter {
        None => apply_plain(container, kind, attribute, value, rules),
        Some(filter) => apply_filtered(container, kind, path, filter, value),
    }
}

/// The object an attribute lives in: the resource for the core schema, or the extension's
/// object, created for add and replace.
fn container<'a>(
    document: &'a mut Value,
    urn: Option<&str>,
    kind: OperationKind,
    rules: &Rules,
) -> Result<Option<&'a mut Map<String, Value>>, ScimError> {
    let root = document
        .as_object_mut()
        .ok_or_else(|| invalid_value("The resource is not an object."))?;
    let Some(urn) = urn.filter(|urn| !urn.eq_ignore_ascii_case(rules.core)) else {
        return Ok(Some(root));
    };
    let known = extension_urn(urn, rules).ok_or_else(invalid_path)?;
    if kind == OperationKind::Remove && !root.contains_key(known) {
        return Ok(None);
    }
    let extension = root
        .entry(known)
        .or_insert_with(|| Value::Object(Map::new()));
    if !extension.is_object() {
        *extension = Value::Object(Map::new());
    }
    Ok(extension.as_object_mut())
}

/// The key under which `name` is stored, matching case-insensitively (RFC 7643 §2.1), or
/// `name` itself for a new member.
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|key| key.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

fn apply_plain(
    container: &mut Map<String, Value>,
    kind: OperationKind,
    attribute: &AttrPath,
    value: Option<&Value>,
    rules: &Rules,
) -> Result<(), ScimError> {
    let key = key_of(container, &attribute.name);
    let multi = rules
        .multi_valued
        .iter()
        .any(|name| name.eq_ignore_ascii_case(&attribute.name));
    match (&attribute.sub, kind, value) {
        (None, OperationKind::Remove, Some(Value::Array(listed))) if multi => {
            remove_listed(container, &key, listed);
        }
        (None, OperationKind::Remove, _) => {
            container.remove(&key);
        }
        (None, OperationKind::Add, Some(value)) => add(container, key, multi, value),
        (None, OperationKind::Replace, Some(value)) => {
            container.insert(key, wrap_if_multi(multi, value));
        }
        (Some(sub), kind, value) => set_sub(container, key, sub, kind, value),
        (None, _, None) => return Err(invalid_value("add and replace need a value.")),
    }
    Ok(())
}

/// A remove of a multi-valued attribute that lists values, as some clients send to take
/// members out of a group (`{"op": "remove", "path": "members", "value": [{"value": id}]}`):
/// §3.5.2.2 has no such form, but the intent is plain, so only the listed elements go,
/// matched on their `value`.
fn remove_listed(container: &mut Map<String, Value>, key: &str, listed: &[Value]) {
    let value_of = |element: &Value| super::filter::member(element, "value").cloned();
    let gone: Vec<Value> = listed.iter().filter_map(value_of).collect();
    if let Some(Value::Array(elements)) = container.get_mut(key) {
        elements.retain(|element| value_of(element).is_none_or(|value| !gone.contains(&value)));
    }
}

/// §3.5.2.1: adding to a multi-valued attribute appends; to a complex one merges; otherwise
/// it sets.
fn add(container: &mut Map<String, Value>, key: String, multi: bool, value: &Value) {
    match (container.get_mut(&key), value) {
        (Some(Value::Array(existing)), Value::Array(added)) => existing.extend(added.clone()),
        (Some(Value::Array(existing)), added) => existing.push(added.clone()),
        (Some(Value::Object(existing)), Value::Object(added)) => {
            for (name, value) in added {
                let name = key_of(existing, name);
                existing.insert(name, value.clone());
            }
        }
        _ => {
            container.insert(key, wrap_if_multi(multi, value));
        }
    }
}

fn wrap_if_multi(multi: bool, value: &Value) -> Value {
    match value {
        Value::Array(_) => value.clone(),
        _ if multi => Value::Array(vec![value.clone()]),
        _ => value.clone(),
    }
}

/// `attr.sub` without a filter: on a complex attribute the sub-attribute itself; on a
/// multi-valued one, the sub-attribute of every element.
fn set_sub(
    container: &mut Map<String, Value>,
    key: String,
    sub: &str,
    kind: OperationKind,
    value: Option<&Value>,
) {
    let target = container
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    let mut elements: Vec<&mut Value> = match target {
        Value::Array(items) => items.iter_mut().collect(),
        other => vec![other],
    };
    for element in &mut elements {
        if !element.is_object() {
            **element = Value::Object(Map::new());
        }
        if let Some(object) = element.as_object_mut() {
            let name = key_of(object, sub);
            match value {
                Some(value) if kind != OperationKind::Remove => {
                    object.insert(name, value.clone());
                }
                _ => {
                    object.remove(&name);
                }
            }
        }
    }
}

/// `attr[filter]` and `attr[filter].sub` (§3.5.2.1–§3.5.2.3).
fn apply_filtered(
    container: &mut Map<String, Value>,
    kind: OperationKind,
    path: &PatchPath,
    filter: &Filter,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let key = key_of(container, &path.attribute.name);
    let elements = match container.get_mut(&key) {
        Some(Value::Array(elements)) => elements,
        Some(_) => return Err(invalid_path()),
        None => {
            container.insert(key.clone(), Value::Array(Vec::new()));
            match container.get_mut(&key) {
                Some(Value::Array(elements)) => elements,
                _ => return Err(invalid_path()),
            }
        }
    };
    let is_emails = path.attribute.name.eq_ignore_ascii_case("emails");
    let matched: Vec<usize> = (0..elements.len())
        .filter(|&index| {
            elements.get(index).is_some_and(|element| {
                if is_emails {
                    filter.matches(&as_work_address(element))
                } else {
                    filter.matches(element)
                }
            })
        })
        .collect();
    if matched.is_empty() {
        return add_unmatched(elements, kind, path, filter, value);
    }
    match (kind, &path.filter_sub) {
        (OperationKind::Remove, None) => {
            let mut index = 0;
            elements.retain(|_| {
                let keep = !matched.contains(&index);
                index += 1;
                keep
            });
        }
        (_, sub) => {
            for index in matched {
                if let Some(element) = elements.get_mut(index) {
                    update_element(element, kind, sub.as_deref(), value)?;
                }
            }
        }
    }
    Ok(())
}

/// An `emails` element as a value filter sees it. Portner keeps one address, the user's
/// primary work address, and renders only its `value`; clients that address it the common way,
/// `emails[type eq "work"].value` or `emails[primary eq true]`, must reach that one address
/// rather than add a second that would be dropped.
fn as_work_address(element: &Value) -> Value {
    let mut element = element.clone();
    if let Some(object) = element.as_object_mut() {
        if !object.keys().any(|key| key.eq_ignore_ascii_case("type")) {
            object.insert("type".into(), "work".into());
        }
        if !object.keys().any(|key| key.eq_ignore_ascii_case("primary")) {
            object.insert("primary".into(), true.into());
        }
    }
    element
}

/// A value filter that matched nothing. §3.5.2 asks for `noTarget`; but `add` with an equality
/// filter, as in `emails[type eq "work"].value`, is how common clients create the element the
/// filter describes, so Portner creates it.
fn add_unmatched(
    elements: &mut Vec<Value>,
    kind: OperationKind,
    path: &PatchPath,
    filter: &Filter,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let no_target = || ScimError::bad_request(ScimType::NoTarget, "The filter matched nothing.");
    let Filter::Compare(field, CompareOp::Eq, Literal::String(text)) = filter else {
        return Err(no_target());
    };
    if kind != OperationKind::Add || field.sub.is_some() || field.urn.is_some() {
        return Err(no_target());
    }
    let mut element = Map::new();
    element.insert(field.name.clone(), Value::String(text.clone()));
    let mut element = Value::Object(element);
    update_element(&mut element, kind, path.filter_sub.as_deref(), value)?;
    elements.push(element);
    Ok(())
}

fn update_element(
    element: &mut Value,
    kind: OperationKind,
    sub: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let object = element
        .as_object_mut()
        .ok_or_else(|| invalid_value("The filtered attribute's values must be objects."))?;
    match (sub, kind, value) {
        (Some(sub), OperationKind::Remove, _) => {
            let name = key_of(object, sub);
            object.remove(&name);
        }
        (Some(sub), _, Some(value)) => {
            let name = key_of(object, sub);
            object.insert(name, value.clone());
        }
        (None, _, Some(Value::Object(members))) => {
            if kind == OperationKind::Replace {
                object.clear();
            }
            for (name, value) in members {
                let name = key_of(object, name);
                object.insert(name, value.clone());
            }
        }
        _ => {
            return Err(invalid_value(
                "The value does not fit the filtered attribute.",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
