use chrono::TimeZone;

use super::*;
use crate::saml::authn_request::RequestedContext;
use crate::saml::sp_metadata::Endpoint;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
}

fn request(force_authn: bool, is_passive: bool) -> VerifiedAuthnRequest {
    VerifiedAuthnRequest {
        id: "_r1".to_owned(),
        issuer: "https://sp.test.example.dk".to_owned(),
        issue_instant: start(),
        acs: Endpoint {
            binding: super::super::BINDING_POST.to_owned(),
            location: "https://sp.test.example.dk/acs".to_owned(),
            index: Some(0),
            is_default: true,
        },
        force_authn,
        is_passive,
        requested_context: None,
        requester_ids: Vec::new(),
        relay_state: None,
        name_id_format: None,
    }
}

fn with_levels(comparison: Comparison, levels: &[NsisLevel]) -> VerifiedAuthnRequest {
    VerifiedAuthnRequest {
        requested_context: Some(RequestedContext {
            comparison,
            levels: levels.to_vec(),
        }),
        ..request(false, false)
    }
}

fn factors(password_at: Option<i64>, key_at: Option<i64>) -> Factors {
    let at = |minutes: i64| start() + Duration::minutes(minutes);
    Factors {
        correlation_id: "c".to_owned(),
        identity_level: NsisLevel::Substantial,
        password_at: password_at.map(at),
        second_factor_at: key_at.map(at),
        credential_level: key_at.map(|_| NsisLevel::Substantial),
    }
}

fn decision(
    request: &VerifiedAuthnRequest,
    session: Option<&Factors>,
    now_minutes: i64,
) -> Decision {
    let requirement = Requirement::of(request, NsisLevel::Substantial);
    decide(
        request,
        requirement.as_ref(),
        start(),
        session,
        start() + Duration::minutes(now_minutes),
        &SignInSettings::default(),
    )
}

#[test]
fn a_fresh_two_factor_session_gets_its_assertion_without_a_page() {
    let session = factors(Some(-10), Some(-10));

    assert_eq!(
        decision(&request(false, false), Some(&session), 0),
        Decision::Issue(NsisLevel::Substantial)
    );
}

#[test]
fn without_a_session_the_user_signs_in_unless_the_request_is_passive() {
    assert_eq!(decision(&request(false, false), None, 0), Decision::SignIn);
    assert_eq!(
        decision(&request(false, true), None, 0),
        Decision::NoPassive
    );
}

#[test]
fn a_stale_key_with_a_fresh_password_asks_only_for_the_key() {
    // Second factor fresh for 60 minutes, password for 180 (SS-2).
    let session = factors(Some(-90), Some(-90));

    assert_eq!(
        decision(&request(false, false), Some(&session), 0),
        Decision::StepUp
    );
    assert_eq!(
        decision(&request(false, true), Some(&session), 0),
        Decision::NoPassive
    );
}

#[test]
fn a_stale_password_asks_for_everything() {
    let session = factors(Some(-200), Some(-30));

    assert_eq!(
        decision(&request(false, false), Some(&session), 0),
        Decision::SignIn
    );
}

#[test]
fn force_authn_counts_only_factors_given_after_the_request_arrived() {
    let before = factors(Some(-5), Some(-5));
    let after = factors(Some(1), Some(2));
    let only_key_after = factors(Some(-5), Some(2));

    assert_eq!(
        decision(&request(true, false), Some(&before), 3),
        Decision::SignIn
    );
    assert_eq!(
        decision(&request(true, false), Some(&after), 3),
        Decision::Issue(NsisLevel::Substantial)
    );
    assert_eq!(
        decision(&request(true, false), Some(&only_key_after), 3),
        Decision::SignIn
    );
}

#[test]
fn high_is_never_promised_and_minimum_low_is_met_by_substantial() {
    let session = factors(Some(-1), Some(-1));
    let high = with_levels(Comparison::Minimum, &[NsisLevel::High]);
    let low = with_levels(Comparison::Minimum, &[NsisLevel::Low]);

    assert_eq!(decision(&high, Some(&session), 0), Decision::NoAuthnContext);
    assert_eq!(Requirement::of(&high, NsisLevel::Low), None);
    assert_eq!(
        decision(&low, Some(&session), 0),
        Decision::Issue(NsisLevel::Substantial)
    );
}

#[test]
fn exact_asserts_the_highest_listed_level_not_above_the_achieved_one() {
    let exact_low = with_levels(Comparison::Exact, &[NsisLevel::Low]);
    let requirement = Requirement::of(&exact_low, NsisLevel::Low).unwrap();

    assert_eq!(
        requirement.asserted(NsisLevel::Substantial),
        Some(NsisLevel::Low)
    );
    assert_eq!(requirement.asserted(NsisLevel::None), None);
    // An SP configured for Substantial cannot be served "exactly Low".
    assert_eq!(Requirement::of(&exact_low, NsisLevel::Substantial), None);
}

#[test]
fn an_account_proofed_below_the_need_is_refused_instead_of_asked_again() {
    let mut session = factors(Some(-1), None);
    session.identity_level = NsisLevel::Low;
    let just_signed_in_with_low_key = Factors {
        credential_level: Some(NsisLevel::Low),
        ..factors(Some(1), Some(2))
    };

    assert_eq!(
        decision(&request(false, false), Some(&session), 0),
        Decision::NoAuthnContext
    );
    assert_eq!(
        decision(
            &request(false, false),
            Some(&just_signed_in_with_low_key),
            3
        ),
        Decision::NoAuthnContext
    );
}

#[test]
fn handles_are_exactly_32_lowercase_hex_digits() {
    assert!(RequestHandle::parse("0123456789abcdef0123456789abcdef").is_some());
    assert!(RequestHandle::parse("0123456789ABCDEF0123456789abcdef").is_none());
    assert!(RequestHandle::parse("0123456789abcdef").is_none());
    assert!(RequestHandle::parse("https://evil.example/0123456789ab").is_none());
    assert_eq!(
        RequestHandle::parse("0123456789abcdef0123456789abcdef")
            .unwrap()
            .continue_path(),
        "/saml/continue?request=0123456789abcdef0123456789abcdef"
    );
}
