//! The SCIM Group resource (RFC 7643 §4.2) as Portner renders and reads it.
//!
//! A Portner group holds users of its organisation, never other groups, so every member is
//! rendered with `type` `User`, and a member of any other type is refused on reading. Members
//! carry `value`, `$ref` and `type`, the sub-attributes of RFC 7643 §8.7.1; no `display`,
//! which a client would have to send back unchanged on every PUT.

use std::collections::BTreeSet;

use portner_shared::domain::{Group, GroupMember, GroupName, UserId};
use serde_json::{Value, json};

use super::error::{ScimError, ScimType};
use super::filter::member;
use super::resource::{external_id, invalid, timestamp};
use super::schema::GROUP;

/// The group as a SCIM resource. `base` is the absolute `/scim/v2` URL.
pub fn render(group: &Group, members: &[GroupMember], base: &str) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|member| {
            json!({
                "value": member.user_id.to_string(),
                "type": "User",
                "$ref": format!("{base}/Users/{}", member.user_id),
            })
        })
        .collect();
    let mut resource = json!({
        "schemas": [GROUP],
        "id": group.id.to_string(),
        "displayName": group.name.as_str(),
        "members": members,
        "meta": {
            "resourceType": "Group",
            "created": timestamp(group.created_at),
            "lastModified": timestamp(group.updated_at),
            "version": etag(group),
            "location": location(base, group),
        }
    });
    if let (Some(external_id), Some(object)) = (&group.external_id, resource.as_object_mut()) {
        object.insert("externalId".into(), external_id.as_str().into());
    }
    resource
}

/// The group's absolute URL (RFC 7644 §3.1 `Location`).
pub fn location(base: &str, group: &Group) -> String {
    format!("{base}/Groups/{}", group.id)
}

/// The group's weak entity tag (RFC 7644 §3.14), from its version, which every change to
/// the group or its membership moves on by one.
pub fn etag(group: &Group) -> String {
    format!("W/\"{}\"", group.version)
}

/// What a client asked a group to be, parsed. Members are user IDs; the caller checks that
/// they are users of the client's organisation.
#[derive(Debug)]
pub struct GroupInput {
    /// `displayName`.
    pub name: GroupName,
    /// `externalId`, when given.
    pub external_id: Option<String>,
    /// The `value` of every member, without repeats.
    pub members: BTreeSet<UserId>,
}

/// Reads a Group document; read-only and unknown attributes are ignored (RFC 7644 §3.5.1).
///
/// # Errors
///
/// 400 `invalidSyntax` if the document is not an object; 400 `invalidValue` for a missing or
/// refused name, or a member that is not a user's ID.
pub fn read(document: &Value) -> Result<GroupInput, ScimError> {
    if !document.is_object() {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "The body must be a JSON object.",
        ));
    }
    let name_rule = "A displayName of 1-200 printable characters is required.";
    let name = member(document, "displayName")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(name_rule))?
        .parse()
        .map_err(|_| invalid(name_rule))?;
    Ok(GroupInput {
        name,
        external_id: external_id(document)?,
        members: members(document)?,
    })
}

fn members(document: &Value) -> Result<BTreeSet<UserId>, ScimError> {
    let listed = match member(document, "members") {
        None | Some(Value::Null) => return Ok(BTreeSet::new()),
        Some(Value::Array(listed)) => listed,
        Some(_) => return Err(invalid("members must be a list.")),
    };
    listed.iter().map(member_id).collect()
}

fn member_id(element: &Value) -> Result<UserId, ScimError> {
    let kind = member(element, "type").and_then(Value::as_str);
    if kind.is_some_and(|kind| !kind.eq_ignore_ascii_case("User")) {
        return Err(invalid("A Portner group holds users only."));
    }
    member(element, "value")
        .and_then(Value::as_str)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| invalid("Each member's value must be the id of a user."))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use portner_shared::domain::GroupId;

    use super::*;

    fn group() -> Group {
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        Group {
            id: GroupId::random(),
            org: "91234567".parse().unwrap(),
            name: "MitID".parse().unwrap(),
            external_id: Some("AD-7".into()),
            version: 3,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_rendered_group_reads_back_as_itself() {
        let alice = GroupMember {
            user_id: UserId::random(),
            username: "alice".into(),
        };
        let resource = render(
            &group(),
            std::slice::from_ref(&alice),
            "https://idp/scim/v2",
        );
        assert_eq!(resource["members"][0]["type"], "User");
        assert_eq!(resource["meta"]["version"], "W/\"3\"");
        let input = read(&resource).unwrap();
        assert_eq!(input.name.as_str(), "MitID");
        assert_eq!(input.external_id.as_deref(), Some("AD-7"));
        assert_eq!(input.members, BTreeSet::from([alice.user_id]));
    }

    #[test]
    fn names_members_and_shapes_are_checked() {
        let refused = [
            json!({"members": []}),
            json!({"displayName": " ", "members": []}),
            json!({"displayName": "G", "members": {"value": "x"}}),
            json!({"displayName": "G", "members": [{"value": "not-a-uuid"}]}),
            json!({"displayName": "G", "members": [{"value": UserId::random().to_string(),
                                                   "type": "Group"}]}),
        ];
        for document in refused {
            let error = read(&document).unwrap_err();
            assert_eq!(
                error.scim_type(),
                Some(ScimType::InvalidValue),
                "{document}"
            );
        }
        let error = read(&json!("G")).unwrap_err();
        assert_eq!(error.scim_type(), Some(ScimType::InvalidSyntax));
    }
}
