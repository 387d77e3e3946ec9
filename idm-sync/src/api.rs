//! The wire types of the MitID Erhverv IdM API (mitid-erhverv-idm-api.md §3.2, §4).
//!
//! Every field not proven required is an `Option`, unknown response fields are collected in
//! `extra` (and logged once by the client, §1 "Unknown response fields"), and string enums carry
//! an `Other` catch-all so that a value the contract does not list never fails a whole read
//! (§8). Requests are sent in one consistent camelCase casing (§11).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Declares a PascalCase string enum with an `Other(String)` catch-all (§4, §8).
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Eq, Hash, PartialEq, Deserialize, Serialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this contract does not list; kept verbatim.
            Other(String),
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $($text => Self::$variant,)*
                    _ => {
                        note_unknown(stringify!($name), &text);
                        Self::Other(text)
                    }
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => $text.to_owned(),)*
                    $name::Other(text) => text,
                }
            }
        }

        impl $name {
            /// The wire form.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(text) => text,
                }
            }
        }
    };
}

/// Logs an unknown enum value or response field once per process (§1: real responses carry
/// more than any client reads; the first sighting is worth a line, the thousandth is not).
pub fn note_unknown(kind: &str, name: &str) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let key = format!("{kind}:{name}");
    let first = SEEN
        .get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .map(|mut seen| seen.len() < 1024 && seen.insert(key))
        .unwrap_or(false);
    if first {
        // The name only, never the value: unknown fields may hold personal data.
        tracing::info!(kind, name = %truncate(name, 64), "unknown IdM API value tolerated");
    }
}

/// Logs the names of unknown fields collected in a response's `extra` map once each.
pub fn note_extra(kind: &str, extra: &BTreeMap<String, Value>) {
    for key in extra.keys() {
        note_unknown(kind, key);
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

string_enum! {
    /// An identity's status (§4).
    EmployeeStatus {
        /// Usable.
        Active = "Active",
        /// Suspended by the organisation.
        Suspended = "Suspended",
        /// Created or imported, awaiting activation.
        Pending = "Pending",
    }
}

string_enum! {
    /// An authenticator type as requested (E1, C2) or read (C1) (§4).
    AuthenticatorType {
        /// Login through the organisation's Local IdP, bound by `subjectNameId`.
        LocalIdentityProvider = "LocalIdentityProvider",
        /// Request side: the person may also use their private MitID.
        PrivateNemIdMitId = "PrivateNemIdMitId",
        /// Read side: the private MitID authenticator (naming asymmetry, §4).
        PrivateMitId = "PrivateMitId",
    }
}

string_enum! {
    /// The kind of a rights scope (§3.2 R3/R4).
    ScopeType {
        /// The whole organisation; value = CVR.
        Cvr = "Cvr",
        /// A production unit; value = P-number.
        Pu = "PU",
        /// An SE number.
        Se = "SE",
    }
}

/// A1 response.
#[derive(Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// The opaque bearer token.
    pub access_token: String,
    /// Not interpreted.
    pub token_type: Option<String>,
    /// Lifetime in seconds.
    pub expires_in: Option<i64>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// E1 request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateEmployee {
    /// The identity's profile.
    pub identity_profile: IdentityProfile,
    /// Organisation-specific settings.
    pub identity_organization_profile: OrganizationProfile,
    /// How the person will log in.
    pub identity_authenticators: IdentityAuthenticators,
}

/// E1 `identityProfile`. `Debug` hides the CPR number.
#[derive(Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityProfile {
    /// `Pending` on create.
    pub status: String,
    /// `Substantial`.
    pub registered_ial: String,
    /// `Substantial`.
    pub target_ial: String,
    /// Given name(s), trimmed.
    pub given_name: String,
    /// Surname, trimmed; `ukendt` when the name has one word.
    pub surname: String,
    /// Required by MitID Erhverv.
    pub email_address: String,
    /// Ten digits.
    pub cpr_number: String,
    /// Legacy NemID RID, for migrated users only.
    pub rid: Option<String>,
    /// Name and address protection with pseudonyms enabled.
    pub pseudonym: bool,
    /// Whether the person may be issued a qualified certificate.
    pub allow_qualified_certificate_issuance: bool,
}

impl std::fmt::Debug for IdentityProfile {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IdentityProfile")
            .field("status", &self.status)
            .field("cpr_number", &"<redacted>")
            .field("rid", &self.rid.as_ref().map(|_| "<present>"))
            .finish_non_exhaustive()
    }
}

/// E1 `identityOrganizationProfile`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationProfile {
    /// EAN / invoice method; semantics unknown (§11).
    pub invoice_method_uuid: Option<String>,
}

/// E1 `identityAuthenticators`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityAuthenticators {
    /// `LocalIdentityProvider`, optionally `PrivateNemIdMitId`.
    pub authenticator_types: Vec<AuthenticatorType>,
    /// `username@suffix` (§6 L2).
    pub subject_name_id: Option<String>,
}

/// E1 response.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedEmployee {
    /// The new identity's UUID.
    pub employee_uuid: String,
}

/// E2 response.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeRecord {
    /// The identity's UUID.
    pub uuid: String,
    /// Profile subset.
    pub identity_profile: Option<RecordProfile>,
    /// Organisation permissions.
    pub identity_permissions: Option<Permissions>,
    /// Fields this contract does not read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// E2 `identityProfile` subset.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordProfile {
    /// Status.
    pub status: Option<EmployeeStatus>,
    /// Legacy RID.
    pub rid: Option<String>,
    /// Qualified certificate flag.
    pub allow_qualified_certificate_issuance: Option<bool>,
    /// Administrator roles; mirrored, never written.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// E2 `identityPermissions`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Permissions {
    /// May represent the organisation.
    pub authorized_to_represent: Option<bool>,
    /// May sign on behalf of the organisation.
    pub allow_signing: Option<bool>,
}

/// E3 request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// 0 = all (as the public clients send).
    pub max_count: i64,
    /// Sent as `false`; meaning unknown (§11).
    pub remove_uuid_from_result_set: bool,
}

/// E3 / M2 response.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeList {
    /// The employees.
    #[serde(default)]
    pub employees: Vec<EmployeeSummary>,
}

/// One employee in E3 / M2. `Debug` hides the CPR number.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeSummary {
    /// Numeric id: a cache key, never a link key (§6 L7).
    pub id: Option<i64>,
    /// The employee UUID.
    pub uuid: String,
    /// Status.
    pub status: Option<EmployeeStatus>,
    /// E-mail.
    pub email_address: Option<String>,
    /// Legacy RID.
    pub rid: Option<String>,
    /// Names and CPR.
    pub profile: Option<SummaryProfile>,
    /// Fields this contract does not read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl std::fmt::Debug for EmployeeSummary {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EmployeeSummary")
            .field("uuid", &self.uuid)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// E3 `profile`.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryProfile {
    /// Given name(s).
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// CPR number.
    pub cpr_number: Option<String>,
}

impl std::fmt::Debug for SummaryProfile {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SummaryProfile(<redacted>)")
    }
}

/// E4 / E5 request.
#[derive(Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUpdate {
    /// `Substantial`.
    pub registered_ial: String,
    /// `Substantial`.
    pub target_ial: String,
    /// Given name(s), trimmed.
    pub given_name: String,
    /// Surname, trimmed.
    pub surname: String,
    /// CPR number.
    pub cpr_number: String,
    /// E-mail.
    pub email_address: String,
}

impl std::fmt::Debug for ProfileUpdate {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ProfileUpdate(<redacted>)")
    }
}

/// E6 request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailUpdate {
    /// The new address, trimmed.
    pub email_address: String,
}

/// E10 request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowSigning {
    /// The desired permission.
    pub allow_signing: bool,
}

/// C1 response.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorList {
    /// The authenticators.
    #[serde(default)]
    pub authenticators: Vec<Authenticator>,
}

/// One authenticator in C1.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Authenticator {
    /// The authenticator's own UUID (for C3).
    pub uuid: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: AuthenticatorType,
    /// Status; values unknown (§11).
    pub status: Option<String>,
    /// For `LocalIdentityProvider`: the registered `subjectNameId`.
    pub id: Option<String>,
}

/// C2 request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestCredentials {
    /// `LocalIdentityProvider` (bind) or `PrivateNemIdMitId` (add private MitID).
    pub authenticator_setting_types: Vec<AuthenticatorType>,
    /// Always empty.
    pub authenticator_types_to_ship: Vec<String>,
    /// Always empty.
    pub shared_credential_uuids: Vec<String>,
    /// For the bind variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_name_id: Option<String>,
}

/// M1 request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivationOrder {
    /// `LocalIdentityProvider`.
    pub authenticator_setting_types: Vec<AuthenticatorType>,
    /// The identities to activate.
    pub user_uuids: Vec<String>,
}

/// R1 response.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleCatalogue {
    /// Assignable roles.
    #[serde(default)]
    pub roles: Vec<CatalogueRole>,
}

/// One role in R1.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogueRole {
    /// Role UUID.
    pub uuid: String,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Part of the basic package.
    pub is_basic_package: Option<bool>,
}

/// One assignment in R2's bare array.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedRole {
    /// Role UUID.
    pub uuid: String,
    /// Name.
    pub name: Option<String>,
    /// Scope.
    pub scope: Option<Scope>,
}

/// A rights scope.
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub struct Scope {
    /// `Cvr`, `PU` or `SE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The CVR, P-number or SE number.
    pub value: String,
}

/// R3 / R4 request.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleChange {
    /// Where the roles apply.
    pub scope: Scope,
    /// The roles (Portner sends one per call, as RC does).
    pub role_uuids: Vec<String>,
}

/// One SE number in R5.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeNumberEntry {
    /// The SE number.
    pub se_number: String,
}

/// One production unit in R6.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductionUnit {
    /// P-number.
    pub p_number: i64,
    /// Owning CVR.
    pub cvr_number: Option<String>,
    /// Name.
    pub name: Option<String>,
}

/// The endpoint paths (§3.1), relative to the base URL.
pub mod paths {
    /// A1.
    pub const AUTHENTICATE: &str = "/api/administration/idmlogin/tls/authenticate";
    /// E1.
    pub const EMPLOYEE: &str = "/api/administration/identity/employee";
    /// E3.
    pub const SEARCH: &str = "/api/administration/identity/employee/search";
    /// M1.
    pub const ACTIVATION_ORDERS: &str = "/api/admin/organization-activation/activation-orders";
    /// M2.
    pub const MIGRATED: &str = "/api/admin/organization-activation/migrated-identities/0";
    /// R1.
    pub const CATALOGUE: &str = "/api/administration/rights/categorizedRoles";
    /// R5.
    pub const SE_NUMBERS: &str = "/api/administration/organization/senumber";
    /// R6.
    pub const PRODUCTION_UNITS: &str = "/api/administration/organization/productionunits";

    /// E2, E9: one employee.
    pub fn employee(uuid: &str) -> String {
        format!("{EMPLOYEE}/{uuid}")
    }

    /// E4..E8, E10, C1, C2: a sub-resource of one employee.
    pub fn employee_sub(uuid: &str, sub: &str) -> String {
        format!("{EMPLOYEE}/{uuid}/{sub}")
    }

    /// R2..R4.
    pub fn rights(uuid: &str) -> String {
        format!("/api/administration/rights/identity/{uuid}/roles")
    }
}
