//! Domain types: organisations, users, rights, staff roles, authenticators, identity proofing,
//! sessions, service providers, the sync outbox, SCIM clients, groups and API tokens.
//!
//! Values that arrive from outside (a CVR number, a username, an e-mail address) are parsed into
//! newtypes once, at the edge, so that code further in never meets an invalid one (STYLE.md 3.3,
//! "parse, don't validate"). Parsing fails with a [`ParseError`] that names the field.

mod api_token;
mod authenticator;
mod group;
mod nsis;
mod organisation;
mod outbox;
mod proofing;
mod right;
mod role;
mod scim;
mod service_provider;
mod session;
mod signin;
mod sync;
mod user;

pub use api_token::{ApiScope, ApiToken, ApiTokenId};
pub use authenticator::{PasswordCredential, WebAuthnCredential};
pub use group::{Group, GroupId, GroupMember, GroupName};
pub use nsis::NsisLevel;
pub use organisation::{Cvr, NewOrganisation, Organisation, PNumber, SeNumber, UserIdSuffix};
pub use outbox::{OutboxAction, OutboxState, SyncAction};
pub use proofing::{IdDocument, IdentityProofing, ProofingMethod, ResetApproval};
pub use right::{Right, RightAssignment, RightId, RightScope, RightSource};
pub use role::{Role, RoleAssignment};
pub use scim::{ScimToken, ScimTokenId, scim_client_name};
pub use service_provider::{PendingSamlRequest, SamlParticipant, ServiceProvider, SpProfile};
pub use session::Session;
pub use signin::{ActivationCode, SignInFailures, WebAuthnCeremony};
pub use sync::{SyncFinding, SyncLink, SyncMode, SyncOrganisation};
pub use user::{Cpr, Email, NewUser, Rid, User, UserId, UserStatus, Username, parse_display_name};

/// Implements the string conversions serde and `Display` need for a parsed string newtype.
macro_rules! string_newtype_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = ParseError;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.pad(&self.0)
            }
        }
    )*};
}

pub(crate) use string_newtype_conversions;

/// A value from outside did not have the required form.
///
/// The message names the field and the rule, never the rejected value, because the value may
/// be personal data (a CPR number) that must not reach logs.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct ParseError {
    /// The field that was rejected, as users name it (`cvr`, `username`).
    pub field: &'static str,
    /// The rule the value broke, phrased for the person who typed it.
    pub rule: &'static str,
}

impl ParseError {
    pub(crate) const fn new(field: &'static str, rule: &'static str) -> Self {
        Self { field, rule }
    }
}

/// Whether `text` is `min..=max` ASCII digits.
pub(crate) fn is_digits(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len()) && text.bytes().all(|byte| byte.is_ascii_digit())
}
