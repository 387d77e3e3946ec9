//! Organisations: the CVR-registered employers whose employees Portner signs in.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ParseError, is_digits};

/// A CVR number: the eight-digit Danish business register number.
///
/// The modulus-11 check is not enforced: the register has issued numbers that fail it, and test
/// organisations use numbers starting with 9 that are not registered at all.
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cvr(String);

impl Cvr {
    /// The eight digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Cvr {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if is_digits(text, 8, 8) && !text.starts_with('0') {
            Ok(Self(text.to_owned()))
        } else {
            Err(ParseError::new(
                "cvr",
                "must be eight digits, not starting with 0",
            ))
        }
    }
}

/// The suffix after `@` in the `subjectNameId` that MitID Erhverv registers for each user
/// (`username@suffix`), usually the organisation's domain.
#[derive(Clone, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserIdSuffix(String);

impl UserIdSuffix {
    /// The suffix, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UserIdSuffix {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.to_ascii_lowercase();
        let allowed =
            |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b".-".contains(&byte);
        let well_formed = (1..=64).contains(&lower.len())
            && lower.bytes().all(allowed)
            && !lower.starts_with(['.', '-'])
            && !lower.ends_with(['.', '-'])
            && !lower.contains("..");
        if well_formed {
            Ok(Self(lower))
        } else {
            Err(ParseError::new(
                "suffix",
                "must be 1-64 letters, digits, dots or hyphens, like a domain name",
            ))
        }
    }
}

/// An SE number: the eight-digit VAT registration of a part of an organisation.
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct SeNumber(String);

impl SeNumber {
    /// The eight digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SeNumber {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if is_digits(text, 8, 8) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ParseError::new("se_number", "must be eight digits"))
        }
    }
}

/// A P-number: the ten-digit identifier of a production unit (physical workplace).
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct PNumber(String);

impl PNumber {
    /// The ten digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PNumber {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if is_digits(text, 10, 10) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ParseError::new("p_number", "must be ten digits"))
        }
    }
}

super::string_newtype_conversions!(Cvr, UserIdSuffix, SeNumber, PNumber);

/// An organisation as the store holds it.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Organisation {
    /// The CVR number; unique across the installation.
    pub cvr: Cvr,
    /// The registered name, shown to users and sent as `professional/orgName`.
    pub name: String,
    /// The suffix of the MitID Erhverv `subjectNameId` of this organisation's users.
    pub suffix: UserIdSuffix,
    /// SE numbers under the CVR, usable as right scopes.
    pub se_numbers: Vec<SeNumber>,
    /// P-units under the CVR, usable as right scopes.
    pub p_units: Vec<PNumber>,
    /// When the organisation was added.
    pub created_at: DateTime<Utc>,
}

/// What it takes to add an organisation.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct NewOrganisation {
    /// The CVR number.
    pub cvr: Cvr,
    /// The registered name, 1 to 200 characters.
    pub name: String,
    /// The `subjectNameId` suffix.
    pub suffix: UserIdSuffix,
    /// SE numbers, possibly none.
    pub se_numbers: Vec<SeNumber>,
    /// P-units, possibly none.
    pub p_units: Vec<PNumber>,
}

impl NewOrganisation {
    /// Checks the free-text name and assembles the value.
    ///
    /// # Errors
    ///
    /// The name is empty, longer than 200 characters or holds control characters.
    pub fn new(cvr: Cvr, name: &str, suffix: UserIdSuffix) -> Result<Self, ParseError> {
        let name = super::user::display_text(name, "name", 200)?;
        Ok(Self {
            cvr,
            name,
            suffix,
            se_numbers: Vec::new(),
            p_units: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvr_accepts_eight_digits_and_refuses_everything_else() {
        assert!("91234567".parse::<Cvr>().is_ok());
        for bad in [
            "1234567",
            "123456789",
            "0123456a",
            "01234567",
            "",
            "9123 4567",
        ] {
            assert!(bad.parse::<Cvr>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn suffix_is_lowercased_and_must_look_like_a_domain() {
        assert_eq!(
            "Example.DK".parse::<UserIdSuffix>().unwrap().as_str(),
            "example.dk"
        );
        for bad in ["", ".example", "example-", "a..b", "ex ample", "ex@ample"] {
            assert!(bad.parse::<UserIdSuffix>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn se_and_p_numbers_have_fixed_lengths() {
        assert!("12345678".parse::<SeNumber>().is_ok());
        assert!("1234567".parse::<SeNumber>().is_err());
        assert!("1234567890".parse::<PNumber>().is_ok());
        assert!("123456789".parse::<PNumber>().is_err());
    }
}
