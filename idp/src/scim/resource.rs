//! The SCIM User resource (RFC 7643 §4.1) as Portner renders and reads it.
//!
//! Rendering maps a [`User`] to JSON: `userName`, `displayName`, one work e-mail in
//! `emails`, `active` (false only when the account is disabled; a locked or pending account is
//! still active in SCIM's sense), the `externalId` a client gave it, the enterprise
//! extension's `organization`, and Portner's extension with the CVR, lifecycle state, identity
//! level, whether a CPR number is on file, and the user's rights with their scopes (read-only:
//! rights are assigned in the administration console or the JSON API, where each assignment
//! is checked against the catalogue and the organisation's scopes). The CPR number itself is
//! never rendered: the domain reads it only through a separate, deliberate call, and SCIM has
//! no reason to make it.
//!
//! Reading turns a JSON document (a POST or PUT body, or the result of applying a PATCH) into
//! a [`UserInput`], parsing every value with the domain's own parsers, so SCIM accepts exactly
//! what the CLI and the consoles accept.

use chrono::{DateTime, SecondsFormat, Utc};
use portner_shared::domain::{
    Cpr, Email, RightAssignment, User, UserStatus, Username, parse_display_name,
};
use serde_json::{Value, json};

use super::error::{ScimError, ScimType};
use super::filter::member;
use super::schema::{ENTERPRISE, PORTNER, USER};

/// The longest `externalId` kept; IdM systems use GUIDs or employee numbers, far shorter.
const MAX_EXTERNAL_ID_CHARS: usize = 256;

/// The rule a userName breaks, as the domain states it (`Username`'s parser).
const USERNAME_RULE: &str = "A userName of 1-64 of a-z, 0-9, '.', '_', '-', starting with a \
                             letter or digit, is required.";

/// What rendering needs besides the user.
#[derive(Clone, Copy, Debug)]
pub struct RenderContext<'a> {
    /// The absolute `/scim/v2` URL, for `meta.location`.
    pub base: &'a str,
    /// The organisation's registered name, for the enterprise extension.
    pub organisation_name: &'a str,
}

/// The user as a SCIM resource.
pub fn render(
    user: &User,
    external_id: Option<&str>,
    rights: &[RightAssignment],
    context: RenderContext<'_>,
) -> Value {
    let rights: Vec<Value> = rights
        .iter()
        .map(|held| {
            let scope = format!("{}:{}", held.scope.kind(), held.scope.value());
            json!({"right": held.right.as_str(), "scope": scope})
        })
        .collect();
    let mut resource = json!({
        "schemas": [USER, ENTERPRISE, PORTNER],
        "id": user.id.to_string(),
        "userName": user.username.as_str(),
        "displayName": user.display_name,
        "active": user.status != UserStatus::Disabled,
        "emails": [{"value": user.email.as_str()}],
        ENTERPRISE: {"organization": context.organisation_name},
        PORTNER: {
            "cvr": user.org.as_str(),
            "status": user.status.as_str(),
            "identityLevel": user.identity_level.as_str(),
            "hasCpr": user.has_cpr,
            "rights": rights,
        },
        "meta": {
            "resourceType": "User",
            "created": timestamp(user.created_at),
            "lastModified": timestamp(user.updated_at),
            "version": etag(user),
            "location": location(context.base, user),
        }
    });
    if let (Some(external_id), Some(object)) = (external_id, resource.as_object_mut()) {
        object.insert("externalId".into(), external_id.into());
    }
    resource
}

/// The user's absolute URL (RFC 7644 §3.1 `Location`).
pub fn location(base: &str, user: &User) -> String {
    format!("{base}/Users/{}", user.id)
}

/// The user's weak entity tag (RFC 7644 §3.14, RFC 7232 §2.3), from the last change time in
/// milliseconds. Every write through [`crate::directory`] moves it, and SCIM writes move it
/// strictly forward (see `users::write_time`), so two versions never share a tag.
pub fn etag(user: &User) -> String {
    format!("W/\"{}\"", user.updated_at.timestamp_millis())
}

/// What a client asked a user to be, parsed.
#[derive(Debug)]
pub struct UserInput {
    /// `userName`.
    pub username: Username,
    /// `displayName`.
    pub display_name: String,
    /// The primary (or only, or first) address of `emails`.
    pub email: Email,
    /// `active`, when given.
    pub active: Option<bool>,
    /// `externalId`, when given.
    pub external_id: Option<String>,
    /// The Portner extension's `cpr`, when given.
    pub cpr: Option<Cpr>,
}

/// Reads a User document. Attributes Portner does not keep are ignored, and so are read-only
/// ones (`id`, `meta`, the extensions' read-only values): RFC 7644 §3.5.1 lets a replacement
/// carry them without effect.
///
/// # Errors
///
/// 400 `invalidSyntax` if the document is not an object; 400 `invalidValue` if a required
/// attribute is missing or a value is refused by the domain's rules.
pub fn read(document: &Value) -> Result<UserInput, ScimError> {
    if !document.is_object() {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "The body must be a JSON object.",
        ));
    }
    let username = required_string(document, "userName", USERNAME_RULE)?
        .parse()
        .map_err(|_| invalid(USERNAME_RULE))?;
    let display_name = required_string(document, "displayName", "A displayName is required.")?;
    let display_name = parse_display_name(display_name)
        .map_err(|_| invalid("The displayName must be 1-200 printable characters."))?;
    Ok(UserInput {
        username,
        display_name,
        email: primary_email(document)?,
        active: active(document)?,
        external_id: external_id(document)?,
        cpr: cpr(document)?,
    })
}

pub(super) fn invalid(detail: &'static str) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

pub(super) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn required_string<'a>(
    document: &'a Value,
    name: &str,
    detail: &'static str,
) -> Result<&'a str, ScimError> {
    member(document, name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(detail))
}

/// RFC 7643 §2.4: of several addresses the one marked `primary` counts; Portner keeps one.
fn primary_email(document: &Value) -> Result<Email, ScimError> {
    let missing = "One e-mail address is required in emails.";
    let emails = match member(document, "emails") {
        Some(Value::Array(emails)) => emails,
        _ => return Err(invalid(missing)),
    };
    let is_primary = |email: &&Value| member(email, "primary") == Some(&Value::Bool(true));
    let chosen = emails
        .iter()
        .find(is_primary)
        .or_else(|| emails.first())
        .ok_or_else(|| invalid(missing))?;
    member(chosen, "value")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(missing))?
        .parse()
        .map_err(|_| invalid("The e-mail address must look like name@example.dk."))
}

fn active(document: &Value) -> Result<Option<bool>, ScimError> {
    match member(document, "active") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(active)) => Ok(Some(*active)),
        // Some clients send booleans as strings (a known Entra ID habit); accept the two
        // unambiguous spellings only.
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid("active must be true or false.")),
    }
}

pub(super) fn external_id(document: &Value) -> Result<Option<String>, ScimError> {
    match member(document, "externalId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text))
            if (1..=MAX_EXTERNAL_ID_CHARS).contains(&text.chars().count())
                && !text.chars().any(char::is_control) =>
        {
            Ok(Some(text.clone()))
        }
        Some(_) => Err(invalid("externalId must be 1-256 printable characters.")),
    }
}

fn cpr(document: &Value) -> Result<Option<Cpr>, ScimError> {
    let value = member(document, PORTNER).and_then(|extension| member(extension, "cpr"));
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => text
            .parse()
            .map(Some)
            .map_err(|_| invalid("cpr must be ten digits with a valid date.")),
        Some(_) => Err(invalid("cpr must be ten digits with a valid date.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        json!({
            "schemas": [USER],
            "userName": "Alice",
            "displayName": "Alice Hansen",
            "emails": [
                {"value": "private@example.dk"},
                {"value": "alice@testfirma.dk", "primary": true}
            ],
            "active": false,
            "externalId": "HR-1",
            PORTNER: {"cpr": "010190-1234"}
        })
    }

    #[test]
    fn a_document_is_read_with_the_domain_parsers_and_the_primary_email() {
        let input = read(&document()).unwrap();
        assert_eq!(input.username.as_str(), "alice");
        assert_eq!(input.display_name, "Alice Hansen");
        assert_eq!(input.email.as_str(), "alice@testfirma.dk");
        assert_eq!(input.active, Some(false));
        assert_eq!(input.external_id.as_deref(), Some("HR-1"));
        assert_eq!(input.cpr.unwrap().expose(), "0101901234");
    }

    #[test]
    fn attribute_names_are_case_insensitive() {
        let input = read(&json!({
            "USERNAME": "bob",
            "displayname": "Bob",
            "Emails": [{"Value": "bob@testfirma.dk"}]
        }))
        .unwrap();
        assert_eq!(input.username.as_str(), "bob");
        assert_eq!(input.active, None);
    }

    #[test]
    fn missing_or_refused_values_are_invalid_value_errors() {
        let cases: Vec<(&str, Value)> = vec![
            ("userName", Value::Null),
            ("userName", json!("bad name")),
            ("userName", json!(7)),
            ("displayName", Value::Null),
            ("displayName", json!("line\nbreak")),
            ("emails", json!([])),
            ("emails", json!([{"value": "not-an-address"}])),
            ("emails", json!("alice@testfirma.dk")),
            ("active", json!("maybe")),
            ("externalId", json!("")),
            ("externalId", json!("x".repeat(257))),
            (PORTNER, json!({"cpr": "3201901234"})),
        ];
        for (name, value) in cases {
            let mut changed = document();
            if value.is_null() {
                changed.as_object_mut().unwrap().remove(name);
            } else {
                changed[name] = value;
            }
            let error = read(&changed).unwrap_err();
            assert_eq!(error.scim_type(), Some(ScimType::InvalidValue), "{name}");
        }
        let error = read(&json!([1])).unwrap_err();
        assert_eq!(error.scim_type(), Some(ScimType::InvalidSyntax));
    }
}
