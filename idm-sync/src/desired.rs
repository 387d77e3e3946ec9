//! The desired state of one user in MitID Erhverv, and the checks made before calling
//! (mitid-erhverv-idm-api.md §7.1, §7.6).

use chrono::{DateTime, Datelike, Utc};
use portner_shared::domain::{Cpr, Organisation, Rid, SyncMode, User, UserStatus};

use crate::api::{
    AuthenticatorType, CreateEmployee, IdentityAuthenticators, IdentityProfile, OrganizationProfile,
};

/// Surname sent when a name has one word (§3.2 E4 fallback, applied to E1 too \[P\]).
pub const UNKNOWN_SURNAME: &str = "ukendt";

/// Whether the user should exist and be active in MitID Erhverv (§7.1 `sync_enabled` and not
/// `locked`). A temporary lockout after wrong passwords is a sign-in matter, not a reason to
/// suspend the national identity; only `disabled` is.
pub fn should_be_active(user: &User) -> bool {
    user.status != UserStatus::Disabled
}

/// Whether the user belongs in MitID Erhverv: active as [`should_be_active`] says and, where
/// the organisation's sync is scoped to a group, a member of it (`in_scope`; issue 6, item 2).
/// A user who leaves the group is suspended, as a disabled one is, rather than deleted: taking
/// someone out of a group by mistake must not cost them their identity and its history.
pub fn belongs(user: &User, in_scope: bool) -> bool {
    in_scope && should_be_active(user)
}

/// The `subjectNameId` of a user: `username@suffix`, lowercase (§6 L2, L4). The IdP sends the
/// same string as NameID to NemLog-in.
pub fn subject_name_id(user: &User, org: &Organisation) -> String {
    format!("{}@{}", user.username.as_str(), org.suffix.as_str())
}

/// A user's name split for MitID Erhverv: trimmed, given names up to the last space, surname
/// after it, `ukendt` when there is one word (§7.6 "Names").
pub fn split_name(display_name: &str) -> (String, String) {
    let words: Vec<&str> = display_name.split_whitespace().collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => (rest.join(" "), (*last).to_owned()),
        Some((only, _)) => ((*only).to_owned(), UNKNOWN_SURNAME.to_owned()),
        None => (String::new(), UNKNOWN_SURNAME.to_owned()),
    }
}

/// A fingerprint of what E4 / E6 send (names as split, e-mail), SHA-256 hex, so that a link
/// can remember what MitID Erhverv was last told without keeping a copy of it.
pub fn profile_fingerprint(user: &User) -> String {
    let (given, surname) = split_name(&user.display_name);
    let text = format!("{given}\u{1f}{surname}\u{1f}{}", user.email.as_str().trim());
    hex::encode(openssl::sha::sha256(text.as_bytes()))
}

/// A local validation failure (§7.6): `Permanent`, no API call is made.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// The full year of birth a CPR number encodes, from the 7th digit (§7.6 century table).
pub fn birth_year(cpr: &Cpr) -> Option<i32> {
    let digits = cpr.expose().as_bytes();
    let year = i32::from(digits.get(4)?.checked_sub(b'0')?) * 10
        + i32::from(digits.get(5)?.checked_sub(b'0')?);
    let century = match digits.get(6)?.checked_sub(b'0')? {
        0..=3 => 1900,
        4 | 9 if year <= 36 => 2000,
        4 | 9 => 1900,
        5..=8 if year <= 57 => 2000,
        5..=8 => 1800,
        _ => return None,
    };
    Some(century + year)
}

/// Checks the §7.6 rules and builds the E1 request. A user migrating from NemID carries
/// their RID, which MitID Erhverv uses to keep their rights (issue 6 item 2).
///
/// # Errors
///
/// [`Invalid`] with a reason that holds no personal data.
pub fn create_request(
    user: &User,
    org: &Organisation,
    mode: SyncMode,
    cpr: Option<&Cpr>,
    rid: Option<&Rid>,
    now: DateTime<Utc>,
) -> Result<CreateEmployee, Invalid> {
    let cpr = cpr.ok_or_else(|| Invalid("the user has no CPR number on file".to_owned()))?;
    let year = birth_year(cpr).ok_or_else(|| Invalid("CPR number has no century".to_owned()))?;
    // Age >= 13 (§7.6), counted in whole years; the birthday within the year is not checked,
    // so someone turning 13 later this year passes a few months early. Written down: the
    // contract's rule is about eligibility, and MitID Erhverv checks it again.
    if now.year() - year < 13 {
        return Err(Invalid("the person is younger than 13".to_owned()));
    }
    let (given_name, surname) = split_name(&user.display_name);
    if given_name.is_empty() {
        return Err(Invalid("the user has no name".to_owned()));
    }
    let email = user.email.as_str().trim().to_owned();
    let (types, subject) = match mode {
        SyncMode::LocalIdp => (
            vec![AuthenticatorType::LocalIdentityProvider],
            Some(subject_name_id(user, org)),
        ),
        SyncMode::Light => (vec![AuthenticatorType::PrivateNemIdMitId], None),
    };
    Ok(CreateEmployee {
        identity_profile: IdentityProfile {
            status: "Pending".to_owned(),
            registered_ial: "Substantial".to_owned(),
            target_ial: "Substantial".to_owned(),
            given_name,
            surname,
            email_address: email,
            cpr_number: cpr.expose().to_owned(),
            rid: rid.map(|rid| rid.as_str().to_owned()),
            pseudonym: false,
            allow_qualified_certificate_issuance: false,
        },
        identity_organization_profile: OrganizationProfile {
            invoice_method_uuid: None,
        },
        identity_authenticators: IdentityAuthenticators {
            authenticator_types: types,
            subject_name_id: subject,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_on_the_last_space_and_are_trimmed() {
        assert_eq!(
            split_name("  Anne  Marie Hansen "),
            ("Anne Marie".into(), "Hansen".into())
        );
        assert_eq!(split_name("Madonna"), ("Madonna".into(), "ukendt".into()));
    }

    #[test]
    fn century_follows_the_seventh_digit() {
        let year = |text: &str| birth_year(&text.parse().unwrap());
        assert_eq!(year("0101901234"), Some(1990));
        assert_eq!(year("0101204234"), Some(2020));
        assert_eq!(year("0101504234"), Some(1950));
        assert_eq!(year("0101105234"), Some(2010));
        assert_eq!(year("0101705234"), Some(1870));
    }
}
