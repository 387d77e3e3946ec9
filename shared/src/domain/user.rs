//! Users: the employees who sign in, and the values that identify them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Cvr, NsisLevel, ParseError, is_digits};

/// A user's stable identifier, a random UUID assigned when the user is created.
///
/// It is what logs and audit events record instead of names (STYLE.md 3.9).
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub struct UserId(Uuid);

impl UserId {
    /// A fresh random identifier.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The UUID.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

impl FromStr for UserId {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text)
            .map(Self)
            .map_err(|_| ParseError::new("user_id", "must be a UUID"))
    }
}

/// A username: unique across the installation, the part before `@` in the `subjectNameId`.
///
/// Stored lowercase, so `Alice` and `alice` are the same account.
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// The username, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Username {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.to_ascii_lowercase();
        let allowed =
            |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte);
        let starts_alphanumeric = lower
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
        if (1..=64).contains(&lower.len()) && lower.bytes().all(allowed) && starts_alphanumeric {
            Ok(Self(lower))
        } else {
            Err(ParseError::new(
                "username",
                "must be 1-64 letters a-z, digits, dots, hyphens or underscores, \
                 starting with a letter or digit",
            ))
        }
    }
}

/// An e-mail address, checked for shape only: one `@`, no spaces, at most 254 bytes (RFC 5321
/// §4.5.3.1.3). Whether it receives mail is not Portner's to decide at this point.
#[derive(Clone, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// The address as given, with the domain part lowercased.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rule = "must look like name@example.dk, at most 254 characters";
        let (local, domain) = text.split_once('@').ok_or(ParseError::new("email", rule))?;
        let plain = |part: &str| {
            !part.is_empty() && !part.contains('@') && part.chars().all(|c| c.is_ascii_graphic())
        };
        if text.len() <= 254 && plain(local) && plain(domain) && domain.contains('.') {
            Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
        } else {
            Err(ParseError::new("email", rule))
        }
    }
}

super::string_newtype_conversions!(Username, Email, Rid);

/// A Danish CPR number (personal identification number).
///
/// CPR numbers are personal data: `Debug` prints a placeholder, there is no `Display`, and the
/// store keeps them only encrypted ([`crate::crypto::FieldCipher`]). The date part is checked;
/// the modulus-11 check is not, because numbers issued since 2007 need not satisfy it.
#[derive(Clone, Eq, PartialEq)]
pub struct Cpr(String);

impl Cpr {
    /// The ten digits, for encryption or comparison. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cpr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Cpr(<redacted>)")
    }
}

impl FromStr for Cpr {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rule = "must be ten digits (DDMMYY-SSSS) with a valid date";
        let digits: String = text.chars().filter(|&c| c != '-').collect();
        if !is_digits(&digits, 10, 10) || text.len() > 11 {
            return Err(ParseError::new("cpr", rule));
        }
        let number = |range: std::ops::Range<usize>| digits[range].parse::<u32>().unwrap_or(0);
        // The century is ambiguous without the seventh digit's table; any century will do to
        // check that day and month exist, and 2000 is a leap year so 29 February passes.
        let year = 2000 + i32::try_from(number(4..6)).unwrap_or(0);
        if NaiveDate::from_ymd_opt(year, number(2..4), number(0..2)).is_none() {
            return Err(ParseError::new("cpr", rule));
        }
        Ok(Self(digits))
    }
}

/// Where a user is in their lifecycle.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Created, but has not yet activated with a one-time code.
    PendingActivation,
    /// Can sign in.
    Active,
    /// Temporarily locked, e.g. after too many wrong passwords.
    Locked,
    /// Switched off by an administrator or a sync; cannot sign in.
    Disabled,
}

impl UserStatus {
    /// The name used in the store and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PendingActivation => "pending_activation",
            Self::Active => "active",
            Self::Locked => "locked",
            Self::Disabled => "disabled",
        }
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.pad(self.as_str())
    }
}

impl FromStr for UserStatus {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "pending_activation" => Ok(Self::PendingActivation),
            "active" => Ok(Self::Active),
            "locked" => Ok(Self::Locked),
            "disabled" => Ok(Self::Disabled),
            _ => Err(ParseError::new("status", "unknown user status")),
        }
    }
}

/// A user as the store holds it. The CPR number is not part of it: reading it is a separate,
/// deliberate call.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct User {
    /// Stable identifier.
    pub id: UserId,
    /// The organisation the user belongs to.
    pub org: Cvr,
    /// Unique username.
    pub username: Username,
    /// The name shown on pages and released as an attribute.
    pub display_name: String,
    /// Work e-mail address.
    pub email: Email,
    /// Whether an encrypted CPR number is on file.
    pub has_cpr: bool,
    /// Lifecycle state.
    pub status: UserStatus,
    /// The identity-assurance level the account's proofing supports (AU-5, IP-*).
    pub identity_level: NsisLevel,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user was last changed.
    pub updated_at: DateTime<Utc>,
}

/// What it takes to create a user.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// The organisation; must exist.
    pub org: Cvr,
    /// Unique username.
    pub username: Username,
    /// Display name, 1 to 200 characters.
    pub display_name: String,
    /// Work e-mail address.
    pub email: Email,
    /// Optional CPR number, stored encrypted.
    pub cpr: Option<Cpr>,
    /// The person's NemID employee-signature RID, for users migrating from NemID: MitID
    /// Erhverv creation passes it so that they keep their rights (issue 6 item 2).
    pub rid: Option<Rid>,
}

impl NewUser {
    /// Checks the free-text display name and assembles the value.
    ///
    /// # Errors
    ///
    /// The display name is empty, too long or holds control characters.
    pub fn new(
        org: Cvr,
        username: Username,
        display_name: &str,
        email: Email,
        cpr: Option<Cpr>,
    ) -> Result<Self, ParseError> {
        let display_name = display_text(display_name, "name", 200)?;
        Ok(Self {
            org,
            username,
            display_name,
            email,
            cpr,
            rid: None,
        })
    }

    /// The same user with a NemID RID.
    #[must_use]
    pub fn with_rid(mut self, rid: Option<Rid>) -> Self {
        self.rid = rid;
        self
    }
}

/// A NemID employee-signature RID: the identifier of a person's legacy NemID
/// medarbejdersignatur, 1-32 ASCII letters or digits. Unique across the installation.
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rid(String);

impl Rid {
    /// The RID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Rid {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if (1..=32).contains(&text.len()) && text.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ParseError::new("rid", "must be 1-32 letters or digits"))
        }
    }
}

/// Checks a display name the way [`NewUser::new`] does, for changes to an existing user.
///
/// # Errors
///
/// The display name is empty, longer than 200 characters or holds control characters.
pub fn parse_display_name(text: &str) -> Result<String, ParseError> {
    display_text(text, "name", 200)
}

/// Trims free text and refuses empty, overlong or control-character input.
///
/// Control characters are refused rather than stripped: they have no place in a name, and
/// CR/LF in particular would let a value forge lines in a log (LG-7).
pub(crate) fn display_text(
    text: &str,
    field: &'static str,
    max_chars: usize,
) -> Result<String, ParseError> {
    let trimmed = text.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > max_chars || trimmed.chars().any(char::is_control) {
        return Err(ParseError::new(field, "must be 1-200 printable characters"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_restricted_to_a_safe_alphabet() {
        assert_eq!(
            "Alice.Hansen".parse::<Username>().unwrap().as_str(),
            "alice.hansen"
        );
        for bad in ["", "-alice", "alice@x", "al ice", "ålice", &"a".repeat(65)] {
            assert!(bad.parse::<Username>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn email_needs_one_at_and_a_dotted_domain() {
        assert_eq!(
            "A.B@Example.DK".parse::<Email>().unwrap().as_str(),
            "A.B@example.dk"
        );
        for bad in ["ab", "a@b", "a@@b.dk", "a b@c.dk", "@c.dk", "a@"] {
            assert!(bad.parse::<Email>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn cpr_checks_digits_and_date_and_never_shows_in_debug() {
        let cpr: Cpr = "010190-1234".parse().unwrap();
        assert_eq!(cpr.expose(), "0101901234");
        assert_eq!(format!("{cpr:?}"), "Cpr(<redacted>)");
        assert!("2902001234".parse::<Cpr>().is_ok());
        for bad in [
            "3201901234",
            "0113901234",
            "010190123",
            "01019012345",
            "01-01-901234",
        ] {
            assert!(bad.parse::<Cpr>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn display_names_refuse_control_characters_instead_of_logging_them() {
        assert!(display_text("Alice\nLOGIN_SUCCESS admin", "name", 200).is_err());
        assert_eq!(
            display_text("  R&D <lab>  ", "name", 200).unwrap(),
            "R&D <lab>"
        );
    }
}
