//! Single sign-on end to end through the HTTP router (issue 4, items 3 to 5 and 7): a signed
//! Redirect AuthnRequest, sign-in with a soft passkey, the assertion posted to the ACS; then
//! SSO for a second request without a page, step-up, ForceAuthn, IsPassive, replay and
//! unknown issuers (AC-4 to AC-9, A6, RQ-8, SS-4).

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, SecondsFormat};
use openssl::pkey::PKey;
use portner_audit::AuditContext;
use portner_idp::saml::redirect::{MessageKind, decode, encode_signed};
use portner_idp::saml::registry::{EncryptionProfile, SpSettings, register};
use portner_shared::Clock;
use portner_shared::domain::{NsisLevel, SpProfile};
use portner_tests::TestStore;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use super::web::*;

const SP_METADATA: &str = include_str!("../../data/saml/sp-metadata.xml");
const SP_KEY: &str = include_str!("../../data/saml/sp-test.key");
const SP: &str = "https://sp.test.example.dk/saml";
const ACS: &str = "https://sp.test.example.dk/acs";
const EMAIL: &str = "https://data.gov.dk/model/core/eid/email";

/// A rig with the test SP registered (assertions unencrypted, so the test can read them; the
/// encrypted path is covered by the response builder's tests and the pysaml2 suite).
async fn sso_rig(store: TestStore) -> Rig {
    let rig = rig(store).await;
    let settings = SpSettings {
        encryption: EncryptionProfile::None,
        released_attributes: vec![EMAIL.to_owned()],
        ..SpSettings::default()
    };
    let context = AuditContext::cli();
    register(
        &rig.store.store,
        &rig.clock,
        &context,
        SP_METADATA,
        SpProfile::Own,
        None,
        &settings,
    )
    .await
    .unwrap();
    rig
}

/// The `/saml/sso` URL of a signed AuthnRequest with `id` and extra attributes.
fn sso_url(rig: &Rig, id: &str, extra: &str, relay_state: Option<&str>) -> String {
    signed_request_url(rig, SP, id, extra, "", relay_state)
}

/// The `/saml/sso` URL of an AuthnRequest from `issuer`, signed with the test SP's key, with
/// extra attributes on the root and extra children after the `Issuer`.
fn signed_request_url(
    rig: &Rig,
    issuer: &str,
    id: &str,
    attributes: &str,
    children: &str,
    relay_state: Option<&str>,
) -> String {
    let issued = rig.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{issued}\" Destination=\"{ORIGIN}/saml/sso\" \
         AssertionConsumerServiceURL=\"{ACS}\"{attributes}><saml:Issuer>{issuer}</saml:Issuer>\
         {children}</samlp:AuthnRequest>"
    );
    let key = PKey::private_key_from_pem(SP_KEY.as_bytes()).unwrap();
    let query = encode_signed(MessageKind::Request, &xml, relay_state, &key).unwrap();
    format!("/saml/sso?{query}")
}

/// The `/saml/slo` URL of LogoutRequest `id` from the test SP, signed over the query.
fn logout_url(
    rig: &Rig,
    id: &str,
    (name_id, session_index): (&str, &str),
    relay_state: Option<&str>,
) -> String {
    let issued = rig.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let xml = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{issued}\" Destination=\"{ORIGIN}/saml/slo\"><saml:Issuer>{SP}\
         </saml:Issuer><saml:NameID>{name_id}</saml:NameID>\
         <samlp:SessionIndex>{session_index}</samlp:SessionIndex></samlp:LogoutRequest>"
    );
    let key = PKey::private_key_from_pem(SP_KEY.as_bytes()).unwrap();
    let query = encode_signed(MessageKind::Request, &xml, relay_state, &key).unwrap();
    format!("/saml/slo?{query}")
}

/// Follows same-origin redirects; returns the last page.
async fn follow(rig: &Rig, browser: &mut Browser, path: &str) -> (Page, Vec<String>) {
    let mut visited = vec![path.to_owned()];
    let mut page = browser.get(&rig.router, path).await;
    while page.status == StatusCode::SEE_OTHER {
        let next = page.location.clone().unwrap();
        assert!(next.starts_with('/'), "redirect off-site: {next}");
        visited.push(next.clone());
        page = browser.get(&rig.router, &next).await;
    }
    (page, visited)
}

/// The decoded Response XML and the RelayState of a POST binding page.
fn posted(page: &Page) -> (String, Option<String>) {
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&format!("action=\"{ACS}\"")),
        "{}",
        page.body
    );
    let message = between(&page.body, "name=\"SAMLResponse\" value=\"", "\"");
    let xml = String::from_utf8(STANDARD.decode(message).unwrap()).unwrap();
    let relay_state = page
        .body
        .contains("name=\"RelayState\"")
        .then(|| between(&page.body, "name=\"RelayState\" value=\"", "\"").to_owned());
    (xml, relay_state)
}

/// Answers the key step of a page with the soft passkey; returns where sign-in sends next.
async fn key_step(rig: &Rig, browser: &mut Browser, key: &mut SoftPasskey, page: &Page) -> Page {
    let response = assertion(key, page, ORIGIN);
    let token = csrf(page);
    let handle = ceremony(page);
    let action = between(
        &page.body,
        "id=\"webauthn-form\" method=\"post\" action=\"",
        "\"",
    )
    .replace("&amp;", "&");
    let fields = [
        ("csrf", token.as_str()),
        ("ceremony", handle.as_str()),
        ("credential", response.as_str()),
    ];
    browser.send(&rig.router, "POST", &action, &fields).await
}

/// Activates a user at Substantial and signs them out, so the browser has no session.
async fn activated_user(rig: &Rig, browser: &mut Browser, name: &str) -> SoftPasskey {
    let username = pending_user(rig, name).await;
    let code = issue(rig, &username, Some(NsisLevel::Substantial)).await;
    let key = activate(rig, browser, &username, &code).await;
    browser.cookies.remove("portner-session");
    key
}

/// Signs in from the login page of a pending request (password, then key); returns the page
/// the request ends on.
async fn sign_in(rig: &Rig, browser: &mut Browser, key: &mut SoftPasskey, login: &str) -> Page {
    let form = browser.get(&rig.router, login).await;
    let token = csrf(&form);
    let fields = [
        ("csrf", token.as_str()),
        ("username", "sofie"),
        ("password", PASSWORD),
    ];
    let step = browser.send(&rig.router, "POST", login, &fields).await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.body);
    let signed_in = key_step(rig, browser, key, &step).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let next = signed_in.location.unwrap();
    assert!(next.starts_with("/saml/continue?request="), "{next}");
    follow(rig, browser, &next).await.0
}

async fn sign_in_then_single_sign_on(store: TestStore) {
    let rig = sso_rig(store).await;
    let mut browser = Browser::new(20);
    let mut key = activated_user(&rig, &mut browser, "sofie").await;

    // First request: no session, so the browser is sent to sign in and comes back.
    let relay_state = "state with spaces & <marks>";
    let url = sso_url(&rig, "_first", "", Some(relay_state));
    let (login, visited) = follow(&rig, &mut browser, &url).await;
    assert!(
        visited[1].starts_with("/saml/continue?request="),
        "{visited:?}"
    );
    assert!(visited[2].starts_with("/login?request="), "{visited:?}");
    let page = sign_in(&rig, &mut browser, &mut key, visited.last().unwrap()).await;
    assert!(login.body.contains("name=\"password\""));
    let (xml, returned_state) = posted(&page);
    assert_eq!(
        returned_state.as_deref(),
        Some("state with spaces &amp; &lt;marks&gt;")
    );
    assert!(xml.contains("InResponseTo=\"_first\""), "{xml}");
    assert!(xml.contains(&format!("Destination=\"{ACS}\"")), "{xml}");
    assert!(
        xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success"),
        "{xml}"
    );
    assert!(
        xml.contains("https://data.gov.dk/model/core/eid/professional/uuid/"),
        "{xml}"
    );
    assert!(xml.contains(">Substantial<"), "{xml}");
    assert!(xml.contains(">91234567<"), "{xml}");
    assert!(xml.contains(">OIO-SAML-3.0<"), "{xml}");
    assert!(
        xml.contains(EMAIL) && xml.contains(">sofie@testfirma.dk<"),
        "{xml}"
    );
    assert!(
        !xml.contains("fullName"),
        "only configured attributes are released"
    );
    let name_id = between(&xml, "nameid-format:persistent\">", "<").to_owned();
    let certificate = rig.identity.signing.certificate.to_der().unwrap();
    assert!(
        xml.contains(&STANDARD.encode(certificate)),
        "signed with the IdP key"
    );

    // Second request in the same session: the assertion comes without a page, straight from
    // /saml/sso (no detour through /saml/continue), with the same pairwise NameID (NI-5).
    let (page, visited) = follow(&rig, &mut browser, &sso_url(&rig, "_second", "", None)).await;
    assert_eq!(visited.len(), 1, "{visited:?}");
    let (xml, returned_state) = posted(&page);
    assert!(xml.contains("InResponseTo=\"_second\""));
    assert!(xml.contains(&name_id));
    assert_eq!(returned_state, None);

    // The same request again is a replay (A6): refused on Portner's page, echoing nothing.
    let replay = browser
        .get(&rig.router, &sso_url(&rig, "_second", "", None))
        .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(!replay.body.contains("_second"));

    // 40 minutes on, the session still serves; 25 more, and the key (60 minutes) is stale
    // while the password (180) is not and the session was used within its idle limit: only
    // the key is asked for (AC-9, SS-2).
    rig.clock.advance(Duration::minutes(40));
    let (page, _) = follow(&rig, &mut browser, &sso_url(&rig, "_later", "", None)).await;
    assert!(posted(&page).0.contains("InResponseTo=\"_later\""));
    rig.clock.advance(Duration::minutes(25));
    let (page, visited) = follow(&rig, &mut browser, &sso_url(&rig, "_third", "", None)).await;
    assert!(
        visited.last().unwrap().ends_with("&step=key"),
        "{visited:?}"
    );
    assert!(!page.body.contains("name=\"password\""), "{}", page.body);
    let signed_in = key_step(&rig, &mut browser, &mut key, &page).await;
    let next = signed_in.location.unwrap();
    let (xml, _) = posted(&follow(&rig, &mut browser, &next).await.0);
    assert!(xml.contains("InResponseTo=\"_third\"") && xml.contains(">Substantial<"));

    // Single logout from the SP with the NameID and SessionIndex it was given (SL-1): the
    // session ends and a LogoutResponse signed over the query goes to the SP's endpoint.
    let session_index = between(&xml, "SessionIndex=\"", "\"").to_owned();
    let logout = logout_url(&rig, "_logout", (&name_id, &session_index), Some("bye"));
    let answered = browser.get(&rig.router, &logout).await;
    assert_eq!(answered.status, StatusCode::SEE_OTHER);
    let location = answered.location.unwrap();
    let query = location
        .strip_prefix("https://sp.test.example.dk/slo?")
        .unwrap();
    let message = decode(query).unwrap();
    let idp_key = rig.identity.signing.certificate.public_key().unwrap();
    message
        .signature
        .unwrap()
        .verify(&[idp_key], false)
        .unwrap();
    let response = String::from_utf8(message.xml).unwrap();
    assert!(response.contains("InResponseTo=\"_logout\"") && response.contains("status:Success"));
    assert_eq!(message.relay_state.as_deref(), Some("bye"));
    let (after, _) = follow(&rig, &mut browser, &sso_url(&rig, "_after", "", None)).await;
    assert!(after.body.contains("name=\"password\""), "signed out");

    // The same message again is a replay (A17): refused, nothing answered.
    let replayed = browser.get(&rig.router, &logout).await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST);

    // A fresh logout for the ended session, or naming another user's NameID, finds no
    // session of that SP: answered with Requester.
    let other_user = "https://data.gov.dk/model/core/eid/professional/uuid/x";
    for (id, named) in [("_again", name_id.as_str()), ("_other", other_user)] {
        let url = logout_url(&rig, id, (named, &session_index), None);
        let again = browser.get(&rig.router, &url).await;
        let query = again
            .location
            .unwrap()
            .split_once('?')
            .unwrap()
            .1
            .to_owned();
        let response = String::from_utf8(decode(&query).unwrap().xml).unwrap();
        assert!(response.contains("status:Requester"), "{response}");
    }

    // A LogoutResponse is never accepted at the logout endpoint: none is outstanding.
    let unsolicited = logout.replace("SAMLRequest=", "SAMLResponse=");
    let refused = browser.get(&rig.router, &unsolicited).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    let kinds = audit_kinds(&rig).await;
    let count = |kind: &str| kinds.iter().filter(|k| k.starts_with(kind)).count();
    assert_eq!(count("SAML_LOGOUT"), 3);
    assert_eq!(count("SAML_REQUEST_ACCEPTED"), 5);
    assert_eq!(count("SAML_RESPONSE_ISSUED"), 4);
    // The replayed AuthnRequest and LogoutRequest, and the unsolicited LogoutResponse.
    let refusals: Vec<&String> = kinds
        .iter()
        .filter(|k| k.starts_with("SAML_REQUEST_REFUSED"))
        .collect();
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    assert_eq!(
        refusals.iter().filter(|k| k.contains("\"REPLAY\"")).count(),
        2
    );
    assert!(refusals[2].contains("\"LOGOUT_UNKNOWN\""), "{refusals:?}");
}

async fn force_authn_passive_and_unknown_issuers(store: TestStore) {
    let rig = sso_rig(store).await;
    let mut browser = Browser::new(21);
    let mut key = activated_user(&rig, &mut browser, "sofie").await;

    // IsPassive without a session: a signed NoPassive error Response to the ACS (AC-7).
    let passive = sso_url(&rig, "_passive", " IsPassive=\"true\"", Some("rs"));
    let (xml, returned_state) = posted(&follow(&rig, &mut browser, &passive).await.0);
    assert!(xml.contains("status:NoPassive") && xml.contains("InResponseTo=\"_passive\""));
    assert!(xml.contains("<ds:Signature"), "{xml}");
    assert_eq!(returned_state.as_deref(), Some("rs"));

    // Sign in once, then ForceAuthn: the whole sign-in again despite the fresh session.
    let (_, visited) = follow(&rig, &mut browser, &sso_url(&rig, "_a", "", None)).await;
    sign_in(&rig, &mut browser, &mut key, visited.last().unwrap()).await;
    rig.clock.advance(Duration::minutes(1));
    let forced = sso_url(&rig, "_forced", " ForceAuthn=\"true\"", None);
    let (login, visited) = follow(&rig, &mut browser, &forced).await;
    assert!(login.body.contains("name=\"password\""), "{visited:?}");
    let (xml, _) = posted(&sign_in(&rig, &mut browser, &mut key, visited.last().unwrap()).await);
    assert!(xml.contains("InResponseTo=\"_forced\""));

    // High cannot be delivered (AC-4): NoAuthnContext, even with a good session.
    let high = "<samlp:RequestedAuthnContext Comparison=\"minimum\"><saml:AuthnContextClassRef>\
        https://data.gov.dk/concept/core/nsis/loa/High</saml:AuthnContextClassRef>\
        </samlp:RequestedAuthnContext>";
    let url = signed_request_url(&rig, SP, "_high", "", high, None);
    let (xml, _) = posted(&follow(&rig, &mut browser, &url).await.0);
    assert!(xml.contains("status:NoAuthnContext"), "{xml}");

    // Registration refuses attributes Portner does not know how to release.
    let bogus_attribute = SpSettings {
        released_attributes: vec!["https://example.dk/anything".to_owned()],
        ..SpSettings::default()
    };
    let context = AuditContext::cli();
    let metadata = SP_METADATA.replace(SP, "https://other.test.example.dk/saml");
    let refused = register(
        &rig.store.store,
        &rig.clock,
        &context,
        &metadata,
        SpProfile::Own,
        None,
        &bogus_attribute,
    )
    .await;
    assert!(refused.is_err());

    // A continue handle that names nothing, and a request from an unregistered SP.
    let bogus = browser
        .get(
            &rig.router,
            "/saml/continue?request=0123456789abcdef0123456789abcdef",
        )
        .await;
    assert_eq!(bogus.status, StatusCode::BAD_REQUEST);
    let unknown = signed_request_url(&rig, "https://evil.example/sp", "_x", "", "", None);
    let refused = browser.get(&rig.router, &unknown).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(!refused.body.contains("evil.example"));
}

/// The second SP: the test SP's metadata under another entityID (same keys and endpoints).
const OTHER_SP: &str = "https://other.test.example.dk/saml";

/// A LogoutResponse from `issuer` to Portner's request `in_response_to`, signed over the
/// query with the test SP's key, carrying Portner's handle back as RelayState.
fn logout_answer_url(rig: &Rig, issuer: &str, in_response_to: &str, handle: &str) -> String {
    let issued = rig.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let xml = format!(
        "<samlp:LogoutResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_answer\" Version=\"2.0\" \
         IssueInstant=\"{issued}\" Destination=\"{ORIGIN}/saml/slo\" \
         InResponseTo=\"{in_response_to}\"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status>\
         <samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>\
         </samlp:Status></samlp:LogoutResponse>"
    );
    let key = PKey::private_key_from_pem(SP_KEY.as_bytes()).unwrap();
    let query = encode_signed(MessageKind::Response, &xml, Some(handle), &key).unwrap();
    format!("/saml/slo?{query}")
}

/// Signs in at both SPs, then logs out at the first: returns the redirect that passes the
/// logout on to the second SP.
async fn logout_passed_on(
    rig: &Rig,
    browser: &mut Browser,
    key: &mut SoftPasskey,
    round: u8,
) -> String {
    let passed_on = logout_started(rig, browser, key, round).await;
    assert_eq!(passed_on.status, StatusCode::SEE_OTHER);
    passed_on.location.unwrap()
}

/// Signs in at both SPs, then logs out at the first over Redirect: returns the page that
/// passes the logout on to the second SP.
async fn logout_started(
    rig: &Rig,
    browser: &mut Browser,
    key: &mut SoftPasskey,
    round: u8,
) -> Page {
    let (_, visited) = follow(
        rig,
        browser,
        &sso_url(rig, &format!("_one{round}"), "", None),
    )
    .await;
    let (xml, _) = posted(&sign_in(rig, browser, key, visited.last().unwrap()).await);
    let name_id = between(&xml, "nameid-format:persistent\">", "<").to_owned();
    let session_index = between(&xml, "SessionIndex=\"", "\"").to_owned();
    let (page, _) = follow(
        rig,
        browser,
        &signed_request_url(rig, OTHER_SP, &format!("_two{round}"), "", "", None),
    )
    .await;
    assert!(
        posted(&page)
            .0
            .contains(&format!("InResponseTo=\"_two{round}\""))
    );

    let logout = logout_url(
        rig,
        &format!("_bye{round}"),
        (&name_id, &session_index),
        Some("rs"),
    );
    browser.get(&rig.router, &logout).await
}

async fn logout_is_passed_on_to_the_other_sps_of_the_session(store: TestStore) {
    let rig = sso_rig(store).await;
    let metadata = SP_METADATA.replace(SP, OTHER_SP);
    let settings = SpSettings {
        encryption: EncryptionProfile::None,
        ..SpSettings::default()
    };
    let context = AuditContext::cli();
    let clock = &rig.clock;
    register(
        &rig.store.store,
        clock,
        &context,
        &metadata,
        SpProfile::Own,
        None,
        &settings,
    )
    .await
    .unwrap();
    let mut browser = Browser::new(22);
    let mut key = activated_user(&rig, &mut browser, "sofie").await;
    let idp_key = rig.identity.signing.certificate.public_key().unwrap();

    // Portner passes the logout on to the other SP with a LogoutRequest signed over the
    // query, naming that SP's NameID and SessionIndex (SL-2).
    let location = logout_passed_on(&rig, &mut browser, &mut key, 1).await;
    let query = location
        .strip_prefix("https://sp.test.example.dk/slo?")
        .unwrap();
    let message = decode(query).unwrap();
    message
        .signature
        .as_ref()
        .unwrap()
        .verify(std::slice::from_ref(&idp_key), false)
        .unwrap();
    let request = String::from_utf8(message.xml.clone()).unwrap();
    assert!(request.contains("<samlp:LogoutRequest") && request.contains("SessionIndex"));
    let handle = message.relay_state.clone().unwrap();
    let request_id = between(&request, " ID=\"", "\"").to_owned();

    // A forged answer (wrong InResponseTo) is not a confirmation: the initiator hears
    // PartialLogout (SL-3, SL-4), and the handle is spent.
    let forged = logout_answer_url(&rig, OTHER_SP, "_someone_else", &handle);
    let answered = browser.get(&rig.router, &forged).await;
    let query = answered.location.unwrap();
    let query = query
        .strip_prefix("https://sp.test.example.dk/slo?")
        .unwrap();
    let response = String::from_utf8(decode(query).unwrap().xml).unwrap();
    assert!(response.contains("status:PartialLogout") && response.contains("\"_bye1\""));
    let late = logout_answer_url(&rig, OTHER_SP, &request_id, &handle);
    let again = browser.get(&rig.router, &late).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);

    // A second session, logged out again: this time the other SP confirms, and the initiator
    // hears plain Success with its RelayState.
    rig.clock.advance(Duration::seconds(5));
    let location = logout_passed_on(&rig, &mut browser, &mut key, 2).await;
    let query = location
        .strip_prefix("https://sp.test.example.dk/slo?")
        .unwrap();
    let message = decode(query).unwrap();
    let request = String::from_utf8(message.xml).unwrap();
    let request_id = between(&request, " ID=\"", "\"").to_owned();
    let handle = message.relay_state.unwrap();
    let confirmed = logout_answer_url(&rig, OTHER_SP, &request_id, &handle);
    let answered = browser.get(&rig.router, &confirmed).await;
    let location = answered.location.unwrap();
    let query = location
        .strip_prefix("https://sp.test.example.dk/slo?")
        .unwrap();
    let final_message = decode(query).unwrap();
    final_message
        .signature
        .unwrap()
        .verify(&[idp_key], false)
        .unwrap();
    let response = String::from_utf8(final_message.xml).unwrap();
    assert!(response.contains("status:Success") && !response.contains("PartialLogout"));
    assert_eq!(final_message.relay_state.as_deref(), Some("rs"));
}

/// The sweep `portner serve` runs every minute forgets what has expired and nothing else.
async fn expired_saml_state_is_swept(store: TestStore) {
    let clock = portner_tests::fixed_clock();
    let now = clock.now();
    let minute = Duration::minutes(1);
    let mut tx = store.store.begin().await.unwrap();
    tx.remember_request_id(SP, "_old", now - minute)
        .await
        .unwrap();
    tx.remember_request_id(SP, "_live", now + minute)
        .await
        .unwrap();
    let pending = portner_shared::domain::PendingSamlRequest {
        handle_hash: vec![1; 32],
        request_json: "{}".to_owned(),
        received_at: now - Duration::minutes(31),
        expires_at: now - minute,
    };
    tx.insert_pending_saml_request(&pending).await.unwrap();
    tx.put_saml_logout(&[2; 32], "{}", now - minute)
        .await
        .unwrap();
    tx.put_saml_logout(&[3; 32], "{}", now + minute)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let removed = portner_idp::saml::sso::sweep_expired(&store.store, now)
        .await
        .unwrap();

    assert_eq!(removed, 3);
    let mut tx = store.store.begin().await.unwrap();
    assert!(
        tx.remember_request_id(SP, "_old", now + minute)
            .await
            .unwrap()
    );
    assert!(
        !tx.remember_request_id(SP, "_live", now + minute)
            .await
            .unwrap()
    );
    assert!(tx.pending_saml_request(&[1; 32]).await.unwrap().is_none());
    assert!(tx.take_saml_logout(&[3; 32], now).await.unwrap().is_some());
    tx.commit().await.unwrap();
}

/// `xmlsec1`, or `None` when it is missing outside CI (under CI a missing one fails).
fn xmlsec1() -> Option<std::path::PathBuf> {
    let found = ["/usr/bin/xmlsec1", "/usr/local/bin/xmlsec1"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|path| path.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "xmlsec1 is required under CI"
        );
        println!("skipped: xmlsec1 is not installed");
    }
    found
}

/// Runs `xmlsec1` with `arguments` and `document` as its input file; the output on success.
fn xmlsec1_run(xmlsec1: &std::path::Path, arguments: &[&str], document: &str) -> Option<String> {
    let folder = tempfile::tempdir().unwrap();
    let input = folder.path().join("in.xml");
    let output_path = folder.path().join("out.xml");
    std::fs::write(&input, document).unwrap();
    let mut command = std::process::Command::new(xmlsec1);
    command.args(
        arguments
            .iter()
            .map(|argument| argument.replace("FOLDER", &folder.path().display().to_string())),
    );
    std::fs::write(folder.path().join("key.pem"), SP_KEY).unwrap();
    std::fs::write(folder.path().join("sp.crt"), SP_CERTIFICATE).unwrap();
    let output = command
        .arg("--output")
        .arg(&output_path)
        .arg(&input)
        .output()
        .unwrap();
    output
        .status
        .success()
        .then(|| std::fs::read_to_string(&output_path).unwrap_or_default())
}

const SP_CERTIFICATE: &str = include_str!("../../data/saml/sp-test.crt");
const LOGOUT_REQUEST: &str = "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest";
const LOGOUT_RESPONSE: &str = "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse";

/// Whether `xmlsec1` verifies `document`'s enveloped signature on `node` with only the IdP's
/// certificate trusted (`security-tests.md` §7.3).
fn idp_signature_verifies(
    rig: &Rig,
    xmlsec1: &std::path::Path,
    document: &str,
    node: &str,
) -> bool {
    let folder = tempfile::tempdir().unwrap();
    let certificate = folder.path().join("idp.crt");
    let pem = rig.identity.signing.certificate.to_pem().unwrap();
    std::fs::write(&certificate, pem).unwrap();
    let certificate = certificate.display().to_string();
    let arguments = [
        "--verify",
        "--enabled-reference-uris",
        "empty,same-doc",
        "--enabled-key-data",
        "raw-x509-cert",
        "--pubkey-cert-pem",
        &certificate,
        "--id-attr:ID",
        node,
    ];
    xmlsec1_run(xmlsec1, &arguments, document).is_some()
}

/// A LogoutResponse from `issuer` to `in_response_to` with an enveloped signature made by
/// `xmlsec1` with the test SP's key: the form fields of a POST-binding answer.
fn posted_logout_answer(
    rig: &Rig,
    xmlsec1: &std::path::Path,
    issuer: &str,
    in_response_to: &str,
) -> String {
    let issued = rig.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let template = format!(
        "<samlp:LogoutResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_answer\" Version=\"2.0\" \
         IssueInstant=\"{issued}\" Destination=\"{ORIGIN}/saml/slo\" \
         InResponseTo=\"{in_response_to}\"><saml:Issuer>{issuer}</saml:Issuer>\
         <ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"#_answer\"><ds:Transforms><ds:Transform \
         Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/><ds:Transform \
         Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms><ds:DigestMethod \
         Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue/></ds:Reference>\
         </ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>\
         </ds:Signature><samlp:Status><samlp:StatusCode \
         Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
         </samlp:LogoutResponse>"
    );
    let arguments = [
        "--sign",
        "--privkey-pem",
        "FOLDER/key.pem,FOLDER/sp.crt",
        "--id-attr:ID",
        LOGOUT_RESPONSE,
    ];
    xmlsec1_run(xmlsec1, &arguments, &template).unwrap()
}

/// The value of the hidden form field `name` on an auto-submitting page, HTML-unescaped.
fn form_field(page: &Page, name: &str) -> String {
    between(&page.body, &format!("name=\"{name}\" value=\""), "\"")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// A logout is passed on to an SP whose metadata offers only an HTTP-POST logout endpoint:
/// Portner posts it a LogoutRequest with an enveloped signature (checked by xmlsec1), and
/// takes its answer back over POST, refusing a forged one (SL-2, SL-3, SL-4, A17).
async fn logout_is_passed_on_by_post_to_a_post_only_sp(store: TestStore) {
    let Some(xmlsec1) = xmlsec1() else {
        return;
    };
    let rig = sso_rig(store).await;
    let redirect = "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\"\n        \
                    Location=\"https://sp.test.example.dk/slo\"";
    assert!(SP_METADATA.contains(redirect));
    let metadata = SP_METADATA.replace(SP, OTHER_SP).replace(
        redirect,
        "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"https://other.test.example.dk/slo\"",
    );
    let settings = SpSettings {
        encryption: EncryptionProfile::None,
        ..SpSettings::default()
    };
    let context = AuditContext::cli();
    let clock = &rig.clock;
    let profile = SpProfile::Own;
    register(
        &rig.store.store,
        clock,
        &context,
        &metadata,
        profile,
        None,
        &settings,
    )
    .await
    .unwrap();
    let mut browser = Browser::new(23);
    let mut key = activated_user(&rig, &mut browser, "sofie").await;

    // The LogoutRequest goes on the auto-submitting page to the POST endpoint, with the
    // handle as RelayState; xmlsec1 accepts its signature with only the IdP certificate, and
    // refuses it once the NameID is altered.
    let page = logout_started(&rig, &mut browser, &mut key, 1).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("action=\"https://other.test.example.dk/slo\"")
    );
    let request = STANDARD.decode(form_field(&page, "SAMLRequest")).unwrap();
    let request = String::from_utf8(request).unwrap();
    assert!(request.starts_with("<samlp:LogoutRequest ") && request.contains("SessionIndex"));
    assert!(request.contains("Destination=\"https://other.test.example.dk/slo\""));
    assert!(idp_signature_verifies(
        &rig,
        &xmlsec1,
        &request,
        LOGOUT_REQUEST
    ));
    let altered = request.replace(
        "nameid-format:persistent\">",
        "nameid-format:persistent\">x",
    );
    assert!(!idp_signature_verifies(
        &rig,
        &xmlsec1,
        &altered,
        LOGOUT_REQUEST
    ));
    let handle = form_field(&page, "RelayState");
    let request_id = between(&request, " ID=\"", "\"").to_owned();

    // An answer altered after signing is no confirmation: the initiator hears PartialLogout
    // over its Redirect endpoint, and the handle is spent.
    let signed = posted_logout_answer(&rig, &xmlsec1, OTHER_SP, &request_id);
    let forged = signed.replace(
        "</samlp:Status>",
        "<samlp:StatusMessage>ok</samlp:StatusMessage></samlp:Status>",
    );
    assert_ne!(forged, signed);
    let fields = |xml: &str| STANDARD.encode(xml);
    let form = [
        ("SAMLResponse", fields(&forged)),
        ("RelayState", handle.clone()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answered = browser.send(&rig.router, "POST", "/saml/slo", &form).await;
    let location = answered.location.unwrap();
    let query = location
        .strip_prefix("https://sp.test.example.dk/slo?")
        .unwrap();
    let response = String::from_utf8(decode(query).unwrap().xml).unwrap();
    assert!(response.contains("status:PartialLogout") && response.contains("\"_bye1\""));
    let refusals = events_of(&rig, "SAML_REQUEST_REFUSED").await;
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(refusals[0].contains("\"SIG_INVALID\"") && refusals[0].contains(OTHER_SP));
    let late = [("SAMLResponse", fields(&signed)), ("RelayState", handle)];
    let late: Vec<(&str, &str)> = late.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let again = browser.send(&rig.router, "POST", "/saml/slo", &late).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);

    // A second session: the POST-only SP confirms with a signed answer over POST, and the
    // initiator hears plain Success with its RelayState.
    rig.clock.advance(Duration::seconds(5));
    let page = logout_started(&rig, &mut browser, &mut key, 2).await;
    let request = STANDARD.decode(form_field(&page, "SAMLRequest")).unwrap();
    let request = String::from_utf8(request).unwrap();
    let request_id = between(&request, " ID=\"", "\"").to_owned();
    let handle = form_field(&page, "RelayState");
    let signed = posted_logout_answer(&rig, &xmlsec1, OTHER_SP, &request_id);
    let form = [("SAMLResponse", fields(&signed)), ("RelayState", handle)];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answered = browser.send(&rig.router, "POST", "/saml/slo", &form).await;
    let location = answered.location.unwrap();
    let query = location
        .strip_prefix("https://sp.test.example.dk/slo?")
        .unwrap();
    let final_message = decode(query).unwrap();
    let response = String::from_utf8(final_message.xml).unwrap();
    assert!(response.contains("status:Success") && !response.contains("PartialLogout"));
    assert_eq!(final_message.relay_state.as_deref(), Some("rs"));
}

/// Audit events of `kind`, with their data.
async fn events_of(rig: &Rig, kind: &str) -> Vec<String> {
    let prefix = format!("{kind} ");
    audit_kinds(rig)
        .await
        .into_iter()
        .filter(|event| event.starts_with(&prefix))
        .collect()
}

/// The `/saml/sso` URL of an AuthnRequest the test SP signed validly, addressed to another
/// IdP's Destination.
fn misaddressed_request_url(rig: &Rig) -> String {
    let issued = rig.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_elsewhere\" \
         Version=\"2.0\" IssueInstant=\"{issued}\" \
         Destination=\"https://elsewhere.example.dk/saml/sso\" \
         AssertionConsumerServiceURL=\"{ACS}\"><saml:Issuer>{SP}</saml:Issuer>\
         </samlp:AuthnRequest>"
    );
    let key = PKey::private_key_from_pem(SP_KEY.as_bytes()).unwrap();
    let query = encode_signed(MessageKind::Request, &xml, None, &key).unwrap();
    format!("/saml/sso?{query}")
}

/// Junk from one anonymous source is audited one by one only up to the allowance per minute;
/// the rest gets the same answer and is summarised in one event, at the source's next audited
/// refusal or by the sweep. Refusals of validly signed requests are always audited.
async fn anonymous_junk_is_summarised_beyond_the_allowance(store: TestStore) {
    let rig = sso_rig(store).await;
    let allowance = portner_idp::saml::refusal_limit::DEFAULT_PER_MINUTE as usize;
    let mut flooder = Browser::new(30);
    let mut neighbour = Browser::new(31);

    // A flood of junk at both endpoints and bindings: every message is refused alike.
    for round in 0..allowance + 7 {
        let page = match round % 3 {
            0 => flooder.get(&rig.router, "/saml/sso?SAMLRequest=junk").await,
            1 => {
                flooder
                    .get(&rig.router, "/saml/slo?SAMLResponse=junk")
                    .await
            }
            _ => {
                let form = [("SAMLRequest", "PHg+")];
                flooder.send(&rig.router, "POST", "/saml/slo", &form).await
            }
        };
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "round {round}");
        assert!(page.location.is_none());
    }
    // Another source still has its own allowance.
    let page = neighbour
        .get(&rig.router, "/saml/sso?SAMLRequest=junk")
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        events_of(&rig, "SAML_REQUEST_REFUSED").await.len(),
        allowance + 1
    );

    // Over its allowance, the flooder's validly signed request that is refused all the same
    // (addressed to another Destination) is audited with its issuer.
    let page = flooder
        .get(&rig.router, &misaddressed_request_url(&rig))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let refusals = events_of(&rig, "SAML_REQUEST_REFUSED").await;
    assert_eq!(refusals.len(), allowance + 2);
    assert!(refusals.last().unwrap().contains(SP), "{refusals:?}");
    assert!(events_of(&rig, "SAML_REFUSALS_SUPPRESSED").await.is_empty());

    // The minute over, the flooder's next junk is audited together with the summary of the
    // seven refusals that were only counted.
    rig.clock.advance(Duration::seconds(61));
    let page = flooder.get(&rig.router, "/saml/sso?SAMLRequest=junk").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let summaries = events_of(&rig, "SAML_REFUSALS_SUPPRESSED").await;
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert!(summaries[0].contains("\"suppressed\":7"), "{summaries:?}");
    assert!(summaries[0].contains("192.0.2.30"), "{summaries:?}");
    assert_eq!(
        events_of(&rig, "SAML_REQUEST_REFUSED").await.len(),
        allowance + 3
    );

    // A source that goes quiet after its flood is summarised by the sweep instead.
    for _ in 0..allowance + 2 {
        neighbour
            .get(&rig.router, "/saml/sso?SAMLRequest=junk")
            .await;
    }
    let now = rig.clock.now();
    let closed = rig.saml_refusals.take_closed(now);
    assert!(closed.is_empty(), "the neighbour's window is still open");
    rig.clock.advance(Duration::seconds(61));
    let now = rig.clock.now();
    let closed = rig.saml_refusals.take_closed(now);
    let written = portner_idp::saml::refusal_limit::write_closed(
        &rig.store.store,
        &rig.saml_refusals,
        closed,
        now,
    )
    .await
    .unwrap();
    assert_eq!(written, 1);
    let summaries = events_of(&rig, "SAML_REFUSALS_SUPPRESSED").await;
    assert_eq!(summaries.len(), 2, "{summaries:?}");
    assert!(summaries[1].contains("192.0.2.31"), "{summaries:?}");
    // Its first window suppressed nothing and left no summary; this one suppressed two.
    assert!(summaries[1].contains("\"suppressed\":2"), "{summaries:?}");
    assert!(rig.saml_refusals.take_all().is_empty());
}

on_both_backends!(
    anonymous_junk_is_summarised_beyond_the_allowance,
    logout_is_passed_on_by_post_to_a_post_only_sp,
    expired_saml_state_is_swept,
    sign_in_then_single_sign_on,
    force_authn_passive_and_unknown_issuers,
    logout_is_passed_on_to_the_other_sps_of_the_session,
);
