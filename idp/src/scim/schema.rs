//! The schema URNs Portner speaks and the discovery documents (RFC 7644 §4): what the
//! service provider supports (`ServiceProviderConfig`), which resources it serves
//! (`ResourceTypes`), and the attributes of each (`Schemas`, in RFC 7643 §7's format).
//!
//! Groups (RFC 7643 §4.2) are served with the core schema only: a name and members, which
//! are users of the same organisation.
//!
//! The published User schema lists only the attributes Portner keeps, with the mutability and
//! requiredness the domain imposes: a display name and one e-mail address are required
//! because every Portner user has them. A client that reads the schema (as the conformance
//! checker does) therefore sends only what Portner can store and return.
//!
//! One attribute is accepted but not published: the Portner extension's `cpr`. It can only be
//! set when a user is created, is never returned, and must be a real CPR number; a client that
//! fills every published attribute with generated values could not create users if it were
//! listed. It is documented in `docs/scim.md`.

use serde_json::{Value, json};

/// The core User schema (RFC 7643 §4.1).
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema (RFC 7643 §4.2).
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Portner's User extension: the CVR, lifecycle state, identity level and CPR.
pub const PORTNER: &str = "urn:portner:params:scim:schemas:extension:portner:2.0:User";
/// The ListResponse message (RFC 7644 §3.4.2).
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The PatchOp message (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Whether `urn` names a core schema, whose attributes sit at the top of a resource rather
/// than under the URN as an extension's do.
pub fn is_core(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(USER) || urn.eq_ignore_ascii_case(GROUP)
}

/// The most resources one list response holds; also `filter.maxResults`.
pub const MAX_PAGE_SIZE: usize = 200;

/// The body size Portner reads, also published as `bulk.maxPayloadSize` would be.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// `GET /ServiceProviderConfig` (RFC 7643 §5). `base` is the absolute `/scim/v2` URL.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_PAGE_SIZE},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A token from `portner scim token create`, sent as \
                            `Authorization: Bearer …` (RFC 6750).",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig")
        }
    })
}

/// The User resource type (RFC 7643 §6).
pub fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "An employee who signs in with Portner.",
        "schema": USER,
        "schemaExtensions": [
            {"schema": ENTERPRISE, "required": false},
            {"schema": PORTNER, "required": false}
        ],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
    })
}

/// The Group resource type (RFC 7643 §6).
pub fn group_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "A group of the organisation's users; one may scope the MitID Erhverv \
                        sync.",
        "schema": GROUP,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
    })
}

/// Every resource type Portner serves.
pub fn resource_types(base: &str) -> Vec<Value> {
    vec![user_resource_type(base), group_resource_type(base)]
}

/// Every schema Portner publishes, in the RFC 7643 §7 format.
pub fn schemas(base: &str) -> Vec<Value> {
    vec![
        user_schema(base),
        group_schema(base),
        enterprise_schema(base),
        portner_schema(base),
    ]
}

fn group_schema(base: &str) -> Value {
    let member_attributes = vec![
        Attribute::string("value", "The id of a user of the organisation.")
            .immutable()
            .build(),
        Attribute::reference("$ref", "The member's URL.", "User")
            .immutable()
            .build(),
        Attribute::string("type", "Always User: Portner groups hold users only.")
            .immutable()
            .canonical(&["User"])
            .build(),
    ];
    let attributes = vec![
        Attribute::string(
            "displayName",
            "The group's name, 1-200 characters, unique within the organisation.",
        )
        .required()
        .unique()
        .build(),
        Attribute::complex("members", "The users in the group.")
            .multi_valued()
            .sub_attributes(member_attributes)
            .build(),
    ];
    schema_document(base, GROUP, "Group", "Group", attributes)
}

fn user_schema(base: &str) -> Value {
    let email_value = Attribute::string("value", "The address.")
        .required()
        .build();
    let attributes = vec![
        // Immutable: the username is the first half of the subjectNameId registered in MitID
        // Erhverv, and Portner has no rename (RFC 7643 §7 lets the provider say so).
        Attribute::string(
            "userName",
            "Unique login name: 1-64 of a-z, 0-9, '.', '_', '-'.",
        )
        .required()
        .unique()
        .immutable()
        .build(),
        Attribute::string("displayName", "The name shown on pages, 1-200 characters.")
            .required()
            .build(),
        Attribute::boolean("active", "Whether the user may sign in; false disables.").build(),
        Attribute::complex("emails", "The work e-mail address; Portner keeps one.")
            .multi_valued()
            .required()
            .sub_attributes(vec![email_value])
            .build(),
    ];
    schema_document(base, USER, "User", "User Account", attributes)
}

fn enterprise_schema(base: &str) -> Value {
    let attributes = vec![
        Attribute::string("organization", "The organisation's registered name.")
            .read_only()
            .build(),
    ];
    schema_document(
        base,
        ENTERPRISE,
        "EnterpriseUser",
        "Enterprise User",
        attributes,
    )
}

fn portner_schema(base: &str) -> Value {
    let attributes = vec![
        Attribute::string("cvr", "The organisation's CVR number.")
            .read_only()
            .build(),
        Attribute::string("status", "pending_activation, active, locked or disabled.")
            .read_only()
            .build(),
        Attribute::string(
            "identityLevel",
            "The NSIS identity level: none, low, substantial \
                                            or high.",
        )
        .read_only()
        .build(),
        Attribute::boolean(
            "hasCpr",
            "Whether a CPR number is on file (it is never returned).",
        )
        .read_only()
        .build(),
        Attribute::complex(
            "rights",
            "The user's rights, each within a scope of the organisation; assigned in the \
             administration console or the JSON API.",
        )
        .multi_valued()
        .read_only()
        .sub_attributes(vec![
            Attribute::string("right", "The right's catalogue key.")
                .read_only()
                .build(),
            Attribute::string("scope", "cvr:CVR, pu:P-NUMBER or se:SE-NUMBER.")
                .read_only()
                .build(),
        ])
        .build(),
    ];
    schema_document(base, PORTNER, "PortnerUser", "Portner User", attributes)
}

fn schema_document(
    base: &str,
    id: &str,
    name: &str,
    description: &str,
    attributes: Vec<Value>,
) -> Value {
    json!({
        "schemas": [SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}
    })
}

/// An attribute definition (RFC 7643 §7), built with the defaults of §2.2 where Portner has
/// no reason to differ.
struct Attribute(serde_json::Map<String, Value>);

impl Attribute {
    fn new(name: &str, kind: &str, description: &str) -> Self {
        let mut map = serde_json::Map::new();
        map.insert("name".into(), name.into());
        map.insert("type".into(), kind.into());
        map.insert("multiValued".into(), false.into());
        map.insert("description".into(), description.into());
        map.insert("required".into(), false.into());
        map.insert("caseExact".into(), false.into());
        map.insert("mutability".into(), "readWrite".into());
        map.insert("returned".into(), "default".into());
        map.insert("uniqueness".into(), "none".into());
        Self(map)
    }

    fn string(name: &str, description: &str) -> Self {
        Self::new(name, "string", description)
    }

    fn boolean(name: &str, description: &str) -> Self {
        Self::new(name, "boolean", description)
    }

    fn complex(name: &str, description: &str) -> Self {
        Self::new(name, "complex", description)
    }

    fn reference(name: &str, description: &str, target: &str) -> Self {
        let mut attribute = Self::new(name, "reference", description);
        attribute.0.insert("referenceTypes".into(), json!([target]));
        attribute
    }

    fn required(mut self) -> Self {
        self.0.insert("required".into(), true.into());
        self
    }

    fn unique(mut self) -> Self {
        self.0.insert("uniqueness".into(), "server".into());
        self
    }

    fn read_only(mut self) -> Self {
        self.0.insert("mutability".into(), "readOnly".into());
        self
    }

    fn immutable(mut self) -> Self {
        self.0.insert("mutability".into(), "immutable".into());
        self
    }

    fn multi_valued(mut self) -> Self {
        self.0.insert("multiValued".into(), true.into());
        self
    }

    fn canonical(mut self, values: &[&str]) -> Self {
        self.0.insert("canonicalValues".into(), json!(values));
        self
    }

    fn sub_attributes(mut self, attributes: Vec<Value>) -> Self {
        self.0.insert("subAttributes".into(), attributes.into());
        self
    }

    fn build(self) -> Value {
        Value::Object(self.0)
    }
}
