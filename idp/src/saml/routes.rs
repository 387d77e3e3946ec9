//! The SAML HTTP endpoints: the IdP metadata, single sign-on (`/saml/sso` and the same-origin
//! `/saml/continue` that follows sign-in), single logout (`/saml/slo`), and the auto-submit
//! script of the POST binding page.
//!
//! Every refused message is audited, as issue 4 asks; junk from anonymous clients only up to
//! a per-source allowance per minute, beyond which it is counted into one summary event
//! (`super::refusal_limit`), so a flood cannot queue every other audited change behind it.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::authn_request::{self, DEFAULT_SKEW};
use super::idp_metadata::{self, MetadataProfile};
use super::sso::{self, Next, RequestHandle, SsoError};
use super::{post, post_page, redirect};
use crate::app::AppState;
use crate::signin::html::Text;
use crate::signin::pages::{ClientAddress, Visitor};

/// The SAML routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml/metadata", get(metadata))
        .route("/saml/sso", get(sso_redirect).post(sso_post))
        .route("/saml/continue", get(continue_request))
        .route("/saml/slo", get(slo_redirect).post(slo_post))
        .route(post_page::AUTOSUBMIT_SCRIPT_PATH, get(autosubmit_script))
        .layer(DefaultBodyLimit::max(MAX_POST_BODY_BYTES))
}

#[derive(Debug, Deserialize)]
struct MetadataQuery {
    profile: Option<String>,
}

/// `GET /saml/metadata[?profile=mitid-erhverv]`.
async fn metadata(State(state): State<AppState>, Query(query): Query<MetadataQuery>) -> Response {
    let profile = match query.profile.as_deref() {
        None => MetadataProfile::Full,
        Some("mitid-erhverv") => MetadataProfile::MitIdErhverv,
        Some(_) => return (StatusCode::BAD_REQUEST, "unknown metadata profile").into_response(),
    };
    match idp_metadata::render(&state.identity, profile) {
        Ok(document) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            document,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "metadata rendering failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /saml/sso?SAMLRequest=…`: the HTTP-Redirect binding (SAML Bindings §3.4). The query
/// is taken raw, as received, because the signature covers those exact bytes (A3).
async fn sso_redirect(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let visitor = Visitor::of(&headers, address, &state.signin);
    let outcome = redirect_outcome(&state, &visitor, query.as_deref().unwrap_or_default()).await;
    answer(&visitor, outcome, state.signin.secure_cookies)
}

async fn redirect_outcome(
    state: &AppState,
    visitor: &Visitor,
    query: &str,
) -> Result<Next, SsoError> {
    let message = match redirect::decode(query) {
        Ok(message) if message.kind == redirect::MessageKind::Request => message,
        Ok(_) => return sso::refuse_untrusted(state, "MALFORMED", &visitor.origin).await,
        Err(error) => return sso::refuse_untrusted(state, error.code(), &visitor.origin).await,
    };

    // The verifier looks the issuer up synchronously; the registry is in the store, so the
    // issuer is read first from the same strictly parsed XML and its SP loaded.
    let sp = sso::registered_sp(state, &message.xml).await?;
    let verified = authn_request::verify_redirect(
        &message,
        &state.identity.sso_url(),
        state.clock.now(),
        DEFAULT_SKEW,
        |issuer| verifier_view(sp.as_ref(), issuer),
    );
    let registered = sp.as_ref().map(|sp| sp.registration.entity_id.as_str());
    match verified {
        Ok(request) => sso::accept(state, request, sp.as_ref(), arrival(visitor, "redirect")).await,
        Err(error) => {
            let relay_state = message.relay_state.as_deref();
            sso::refuse(state, registered, &error, relay_state, &visitor.origin).await
        }
    }
}

/// Largest POST body accepted at `/saml/sso`: the form value's cap and room for RelayState.
const MAX_POST_BODY_BYTES: usize = post::MAX_FORM_VALUE_BYTES + 4 * 1024;

/// `POST /saml/sso`: the HTTP-POST binding (SAML Bindings §3.5). This is a cross-site POST,
/// so the Lax session cookie is absent; the request is stored and continued by a same-origin
/// GET (SS-4).
async fn sso_post(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let visitor = Visitor::of(&headers, address, &state.signin);
    let outcome = post_outcome(&state, &visitor, &body).await;
    answer(&visitor, outcome, state.signin.secure_cookies)
}

async fn post_outcome(state: &AppState, visitor: &Visitor, body: &[u8]) -> Result<Next, SsoError> {
    let Some((message, relay_state)) = post_fields(body) else {
        return sso::refuse_untrusted(state, "PARAM_AMBIGUOUS", &visitor.origin).await;
    };
    let xml = match post::decode_form_value(&message) {
        Ok(xml) => xml,
        Err(error) => return sso::refuse_untrusted(state, error.code(), &visitor.origin).await,
    };
    let sp = sso::registered_sp(state, &xml).await?;
    let verified = authn_request::verify_post(
        &xml,
        relay_state.as_deref(),
        &state.identity.sso_url(),
        state.clock.now(),
        DEFAULT_SKEW,
        |issuer| verifier_view(sp.as_ref(), issuer),
    );
    let registered = sp.as_ref().map(|sp| sp.registration.entity_id.as_str());
    match verified {
        Ok(request) => sso::accept(state, request, sp.as_ref(), arrival(visitor, "post")).await,
        Err(error) => {
            let relay_state = relay_state.as_deref();
            sso::refuse(state, registered, &error, relay_state, &visitor.origin).await
        }
    }
}

/// How a verified request arrived, for [`sso::accept`].
fn arrival<'a>(visitor: &'a Visitor, binding: &'a str) -> sso::Arrival<'a> {
    sso::Arrival {
        binding,
        skew: DEFAULT_SKEW,
        origin: &visitor.origin,
        session_cookie: visitor.session_cookie.as_deref(),
    }
}

/// `SAMLRequest` exactly once and `RelayState` at most once; anything else is ambiguous (A3).
fn post_fields(body: &[u8]) -> Option<(String, Option<String>)> {
    let mut message = None;
    let mut relay_state = None;
    for (name, value) in url::form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "SAMLRequest" => &mut message,
            "RelayState" => &mut relay_state,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return None;
        }
    }
    Some((message?, relay_state))
}

fn verifier_view(
    sp: Option<&sso::LoadedSp>,
    issuer: &str,
) -> Option<super::authn_request::RegisteredSp> {
    sp.filter(|sp| sp.registration.entity_id == issuer)
        .map(sso::LoadedSp::verifier_view)
}

/// `GET /saml/slo?SAMLRequest=…`: SP-initiated single logout over the Redirect binding. A
/// GET without a valid signed message changes nothing (SL-6).
async fn slo_redirect(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let visitor = Visitor::of(&headers, address, &state.signin);
    let query = query.as_deref().unwrap_or_default();
    let outcome = super::slo::logout_redirect(&state, query, &visitor.origin).await;
    answer(&visitor, outcome, state.signin.secure_cookies)
}

/// `POST /saml/slo`: SP-initiated single logout over the POST binding.
async fn slo_post(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let visitor = Visitor::of(&headers, address, &state.signin);
    let origin = &visitor.origin;
    let outcome = match slo_fields(&body) {
        Some((SloField::Request(message), relay_state)) => {
            let relay_state = relay_state.as_deref();
            super::slo::logout_post(&state, &message, relay_state, origin).await
        }
        Some((SloField::Response(message), relay_state)) => {
            let relay_state = relay_state.as_deref();
            super::slo::logout_response_post(&state, &message, relay_state, origin).await
        }
        None => sso::refuse_untrusted(&state, "PARAM_AMBIGUOUS", origin).await,
    };
    answer(&visitor, outcome, state.signin.secure_cookies)
}

/// The message posted to `/saml/slo`.
enum SloField {
    /// A LogoutRequest from an SP that starts a logout.
    Request(String),
    /// An SP's LogoutResponse to a LogoutRequest Portner passed on.
    Response(String),
}

/// Exactly one `SAMLRequest` or `SAMLResponse`, and `RelayState` at most once; anything else
/// is ambiguous (A3).
fn slo_fields(body: &[u8]) -> Option<(SloField, Option<String>)> {
    let mut request = None;
    let mut response = None;
    let mut relay_state = None;
    for (name, value) in url::form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "SAMLRequest" => &mut request,
            "SAMLResponse" => &mut response,
            "RelayState" => &mut relay_state,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return None;
        }
    }
    let field = match (request, response) {
        (Some(request), None) => SloField::Request(request),
        (None, Some(response)) => SloField::Response(response),
        _ => return None,
    };
    Some((field, relay_state))
}

#[derive(Debug, Deserialize)]
struct ContinueQuery {
    request: Option<String>,
}

/// `GET /saml/continue?request=<handle>`: same-origin, so the session cookie is present.
async fn continue_request(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Query(query): Query<ContinueQuery>,
) -> Response {
    let visitor = Visitor::of(&headers, address, &state.signin);
    let Some(handle) = query.request.as_deref().and_then(RequestHandle::parse) else {
        return answer(&visitor, Ok(Next::ErrorPage), state.signin.secure_cookies);
    };
    let outcome = sso::continue_request(
        &state,
        &handle,
        visitor.session_cookie.as_deref(),
        &visitor.origin,
    )
    .await;
    answer(&visitor, outcome, state.signin.secure_cookies)
}

/// Turns the flow's answer into HTTP.
fn answer(visitor: &Visitor, outcome: Result<Next, SsoError>, secure: bool) -> Response {
    match outcome {
        Ok(Next::Redirect(path)) => Redirect::to(&path).into_response(),
        Ok(Next::Logout(location)) => {
            clear_session_cookie(Redirect::to(&location).into_response(), secure)
        }
        Ok(Next::Post {
            action,
            message_base64,
            relay_state,
        }) => {
            let field = post_page::FormField::Response;
            post_response(&action, field, &message_base64, relay_state.as_deref())
        }
        Ok(Next::LogoutPost {
            action,
            field,
            message_base64,
            relay_state,
        }) => {
            let page = post_response(&action, field, &message_base64, relay_state.as_deref());
            clear_session_cookie(page, secure)
        }
        Ok(Next::ErrorPage) => visitor.error_page(StatusCode::BAD_REQUEST, Text::SamlRefused),
        Err(error) => {
            tracing::error!(%error, "single sign-on failed");
            visitor.error_page(StatusCode::INTERNAL_SERVER_ERROR, Text::SamlFailed)
        }
    }
}

/// `response` with the session cookie cleared: a logout has ended the session.
fn clear_session_cookie(mut response: Response, secure: bool) -> Response {
    let cleared = crate::signin::SessionCookie::clear(secure);
    if let Ok(value) = HeaderValue::from_str(&cleared) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The POST binding page with its own CSP (form-action the endpoint's origin only) and no
/// caching (TM-4: a message is delivered once and never cached).
fn post_response(
    action: &str,
    field: post_page::FormField,
    message_base64: &str,
    relay_state: Option<&str>,
) -> Response {
    let page = post_page::render(action, field, message_base64, relay_state);
    let mut response = axum::response::Html(page).into_response();
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&post_page::content_security_policy(action)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /saml/autosubmit.js`: the one script the POST binding page loads.
async fn autosubmit_script() -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=3600"),
    ];
    (headers, post_page::AUTOSUBMIT_SCRIPT).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{app, test_support};
    use crate::saml::test_support as test_support_saml;

    #[tokio::test]
    async fn metadata_is_served_as_saml_metadata_in_both_variants() {
        let (store, _folder) = test_support::store().await;
        let router = app(test_support::state(store));

        let full = test_support::get(router.clone(), "/saml/metadata").await;
        let upload =
            test_support::get(router.clone(), "/saml/metadata?profile=mitid-erhverv").await;
        let unknown = test_support::get(router, "/saml/metadata?profile=other").await;

        assert_eq!(
            (full.0, full.1.as_str()),
            (StatusCode::OK, "application/samlmetadata+xml")
        );
        assert!(full.2.contains("entityID=\"https://saml.test.example.dk\""));
        assert!(full.2.contains("https://login.test.example.dk/saml/sso"));
        assert_eq!(full.2.matches("<md:SingleSignOnService ").count(), 2);
        assert_eq!(upload.2.matches("<md:SingleSignOnService ").count(), 1);
        assert_eq!(unknown.0, StatusCode::BAD_REQUEST);
    }

    /// A POST-binding AuthnRequest from the test SP, issued now, signed by xmlsec1.
    fn posted_request(xmlsec1: &std::path::Path) -> String {
        posted_message(xmlsec1, "AuthnRequest", "sso", "")
    }

    /// A protocol message `kind` to endpoint `path`, from the test SP, issued now, with
    /// `body` after the signature, signed by xmlsec1.
    fn posted_message(xmlsec1: &std::path::Path, kind: &str, path: &str, body: &str) -> String {
        let issued = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let signature = test_support_saml::SIGNATURE_TEMPLATE
            .replace("SIGNATURE_METHOD", test_support_saml::RSA_SHA256)
            .replace("DIGEST_METHOD", "http://www.w3.org/2001/04/xmlenc#sha256");
        let template = format!(
            "<samlp:{kind} xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_req1\" \
             Version=\"2.0\" IssueInstant=\"{issued}\" \
             Destination=\"https://login.test.example.dk/saml/{path}\">\
             <saml:Issuer>https://sp.test.example.dk/saml</saml:Issuer>{signature}{body}\
             </samlp:{kind}>"
        );
        let key = test_support_saml::sp_key()
            .private_key_to_pem_pkcs8()
            .unwrap();
        let certificate = test_support_saml::SP_CERTIFICATE.as_bytes();
        let node = format!("urn:oasis:names:tc:SAML:2.0:protocol:{kind}");
        test_support_saml::xmlsec1_sign(xmlsec1, &template, &key, certificate, &node)
    }

    /// The whole router over a fresh store with the test SP registered.
    async fn router_with_test_sp() -> (Router, tempfile::TempDir) {
        let (store, folder) = test_support::store().await;
        let context = portner_audit::AuditContext::cli();
        let settings = super::super::registry::SpSettings::default();
        let profile = portner_shared::domain::SpProfile::Own;
        let metadata = test_support_saml::SP_METADATA;
        let clock = portner_shared::SystemClock;
        super::super::registry::register(
            &store, &clock, &context, metadata, profile, None, &settings,
        )
        .await
        .unwrap();
        (app(test_support::state(store)), folder)
    }

    async fn post_form(router: Router, body: String) -> (StatusCode, Option<String>) {
        post_form_to(router, "/saml/sso", body).await
    }

    async fn post_form_to(
        router: Router,
        path: &str,
        body: String,
    ) -> (StatusCode, Option<String>) {
        use tower::ServiceExt;
        let request = axum::http::Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body))
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|value| value.to_str().unwrap().to_owned());
        (response.status(), location)
    }

    #[tokio::test]
    async fn a_signed_post_request_is_stored_and_continued_by_a_same_origin_get() {
        let Some(xmlsec1) = test_support_saml::xmlsec1() else {
            return;
        };
        let (router, _folder) = router_with_test_sp().await;
        let signed = posted_request(&xmlsec1);
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &signed);
        let field = |value: &str| {
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        };

        let accepted = post_form(
            router.clone(),
            format!("SAMLRequest={}&RelayState=r", field(&encoded)),
        )
        .await;
        let tampered = signed.replace(
            "https://sp.test.example.dk/saml<",
            "https://sp.test.example.dk/saml<!---->",
        );
        let tampered = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            tampered.replace("Version=\"2.0\"", "Version=\"2.0\" ForceAuthn=\"true\""),
        );
        let refused = post_form(router.clone(), format!("SAMLRequest={}", field(&tampered))).await;
        let twice = post_form(
            router,
            format!("SAMLRequest=a&SAMLRequest={}", field(&encoded)),
        )
        .await;

        assert_eq!(accepted.0, StatusCode::SEE_OTHER);
        assert!(accepted.1.unwrap().starts_with("/saml/continue?request="));
        assert_eq!(refused, (StatusCode::BAD_REQUEST, None));
        assert_eq!(twice, (StatusCode::BAD_REQUEST, None));
    }

    #[tokio::test]
    async fn a_signed_post_logout_request_is_answered_over_redirect_and_a_forged_one_refused() {
        let Some(xmlsec1) = test_support_saml::xmlsec1() else {
            return;
        };
        let (router, _folder) = router_with_test_sp().await;
        let body = "<saml:NameID>https://data.gov.dk/model/core/eid/professional/uuid/x\
                    </saml:NameID><samlp:SessionIndex>_unknown</samlp:SessionIndex>";
        let signed = posted_message(&xmlsec1, "LogoutRequest", "slo", body);
        let form = |xml: &str| {
            let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, xml);
            let value: String = url::form_urlencoded::byte_serialize(encoded.as_bytes()).collect();
            format!("SAMLRequest={value}")
        };

        let answered = post_form_to(router.clone(), "/saml/slo", form(&signed)).await;
        let forged = signed.replace("_unknown", "_other");
        let refused = post_form_to(router, "/saml/slo", form(&forged)).await;

        // No session has that index: the SP is told so with a signed Requester status.
        assert_eq!(answered.0, StatusCode::SEE_OTHER);
        let location = answered.1.unwrap();
        let query = location
            .strip_prefix("https://sp.test.example.dk/slo?")
            .unwrap();
        let response = redirect::decode(query).unwrap();
        let xml = String::from_utf8(response.xml).unwrap();
        assert!(xml.contains("status:Requester") && xml.contains("InResponseTo=\"_req1\""));
        assert_eq!(refused, (StatusCode::BAD_REQUEST, None));
    }

    /// The test SP's metadata with its one logout endpoint offered over HTTP-POST only.
    fn post_only_metadata() -> String {
        let redirect = "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\"\n        \
                        Location=\"https://sp.test.example.dk/slo\"";
        let metadata = test_support_saml::SP_METADATA;
        assert!(metadata.contains(redirect));
        metadata.replace(
            redirect,
            "Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
             Location=\"https://sp.test.example.dk/slo\"",
        )
    }

    #[tokio::test]
    async fn a_post_only_initiator_is_answered_by_post_with_a_signature_xmlsec1_accepts() {
        use tower::ServiceExt;
        let Some(xmlsec1) = test_support_saml::xmlsec1() else {
            return;
        };
        let (store, _folder) = test_support::store().await;
        let context = portner_audit::AuditContext::cli();
        let settings = super::super::registry::SpSettings::default();
        let profile = portner_shared::domain::SpProfile::Own;
        let clock = portner_shared::SystemClock;
        let metadata = post_only_metadata();
        super::super::registry::register(
            &store, &clock, &context, &metadata, profile, None, &settings,
        )
        .await
        .unwrap();
        let state = test_support::state(store);
        let certificate = state.identity.signing.certificate.to_pem().unwrap();
        let router = app(state);
        let body = "<saml:NameID>https://data.gov.dk/model/core/eid/professional/uuid/x\
                    </saml:NameID><samlp:SessionIndex>_unknown</samlp:SessionIndex>";
        let signed = posted_message(&xmlsec1, "LogoutRequest", "slo", body);
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &signed);
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("SAMLRequest", &encoded)
            .append_pair("RelayState", "a&\"b")
            .finish();
        let request = axum::http::Request::post("/saml/slo")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(form))
            .unwrap();

        let response = router.oneshot(request).await.unwrap();

        // No session has that index, so the SP hears Requester, on the auto-submitting page
        // to its POST endpoint, with the session cookie cleared and RelayState returned.
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("form-action https://sp.test.example.dk;"));
        let cookie = headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.contains("Max-Age=0"), "{cookie}");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let page = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(page.contains("action=\"https://sp.test.example.dk/slo\""));
        assert!(page.contains("name=\"RelayState\" value=\"a&amp;&quot;b\""));
        assert!(!page.contains("<script>") && page.contains("<button type=\"submit\">"));
        let value = page
            .split("name=\"SAMLResponse\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        let xml =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value).unwrap();
        let xml = String::from_utf8(xml).unwrap();
        assert!(xml.starts_with("<samlp:LogoutResponse "));
        assert!(xml.contains("status:Requester") && xml.contains("InResponseTo=\"_req1\""));
        assert!(xml.contains("Destination=\"https://sp.test.example.dk/slo\""));

        // The independent verifier accepts the enveloped signature, and refuses it once the
        // status is altered.
        let node = "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse";
        assert!(test_support_saml::xmlsec1_verifies(
            &xmlsec1,
            &xml,
            &certificate,
            node
        ));
        let altered = xml.replace("status:Requester", "status:Success");
        assert!(!test_support_saml::xmlsec1_verifies(
            &xmlsec1,
            &altered,
            &certificate,
            node
        ));
    }

    #[tokio::test]
    async fn a_posted_message_must_be_exactly_one_request_or_response() {
        let (router, _folder) = router_with_test_sp().await;

        let both = post_form_to(
            router.clone(),
            "/saml/slo",
            "SAMLRequest=a&SAMLResponse=b".into(),
        );
        let neither = post_form_to(router.clone(), "/saml/slo", "RelayState=a".into());
        let unsolicited = post_form_to(router, "/saml/slo", "SAMLResponse=PHg%2B".into());

        assert_eq!(both.await, (StatusCode::BAD_REQUEST, None));
        assert_eq!(neither.await, (StatusCode::BAD_REQUEST, None));
        assert_eq!(unsolicited.await, (StatusCode::BAD_REQUEST, None));
    }

    #[tokio::test]
    async fn the_autosubmit_script_is_served_as_javascript() {
        let (store, _folder) = test_support::store().await;

        let (status, content_type, body) =
            test_support::get(app(test_support::state(store)), "/saml/autosubmit.js").await;

        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/javascript"));
        assert!(body.contains("submit()"));
    }
}
