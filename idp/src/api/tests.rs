//! `/api/v1` through the whole router: tokens acting as their owner within the access table,
//! read-only scope, every unusable token answered alike, JSON errors that change nothing, and
//! an OpenAPI document that lists exactly the API's routes.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use portner_audit::AuditContext;
use portner_shared::domain::{ApiScope, Role, User, UserStatus};
use serde_json::Value;
use tower::ServiceExt;

use super::token;
use crate::console::access::{RULES, Verb};
use crate::console::test_support::Rig;

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    json: &str,
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = if json.is_empty() {
        Body::empty()
    } else {
        Body::from(json.to_owned())
    };
    let response = router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|value| value.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        challenge,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn token_for(rig: &Rig, user: &User, name: &str, scope: ApiScope) -> String {
    let context = AuditContext::cli();
    let now = Utc::now();
    let store = &rig.state.store;
    let (_, secret) = token::create(store, now, &context, &user.username, name.into(), scope, 30)
        .await
        .unwrap();
    secret.expose().to_owned()
}

async fn user_count(rig: &Rig) -> usize {
    let mut tx = rig.state.store.read().await.unwrap();
    let users = tx.users(None).await.unwrap();
    tx.rollback().await.unwrap();
    users.len()
}

#[tokio::test]
async fn a_write_token_manages_users_and_roles_as_its_owner_on_the_record() {
    let rig = Rig::new().await;
    let boss = rig.user("91234567", "boss", &[Role::Administrator]).await;
    let secret = token_for(&rig, &boss, "hr-sync", ApiScope::Write).await;
    let router = rig.router();
    let api = |method: &'static str, path: String, json: &str| {
        let (router, secret, json) = (router.clone(), secret.clone(), json.to_owned());
        async move { call(&router, method, &path, Some(&secret), &json).await }
    };

    let new = r#"{"organisation":"91234567","username":"ny","display_name":"Ny Ansat",
                  "email":"ny@testfirma.dk"}"#;
    let created = api("POST", "/api/v1/users".into(), new).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(created.json()["status"], "pending_activation");

    let grant = r#"{"role":"helpdesk","change":"grant"}"#;
    let granted = api("POST", format!("/api/v1/users/{id}/roles"), grant).await;
    assert_eq!(granted.status, StatusCode::NO_CONTENT, "{}", granted.body);
    let shown = api("GET", format!("/api/v1/users/{id}"), "").await;
    assert_eq!(shown.json()["roles"], serde_json::json!(["helpdesk"]));
    let again = api("POST", format!("/api/v1/users/{id}/roles"), grant).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let disable = r#"{"change":"disable"}"#;
    let disabled = api("POST", format!("/api/v1/users/{id}/status"), disable).await;
    assert_eq!(disabled.json()["status"], "disabled", "{}", disabled.body);
    let listed = api("GET", "/api/v1/users?q=ny".into(), "").await;
    let listed = listed.json();
    let usernames: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["username"].as_str().unwrap())
        .collect();
    assert_eq!(usernames, ["ny"]);
    let profile = r#"{"display_name":"Ny Navn","email":"ny.navn@testfirma.dk"}"#;
    let edited = api("POST", format!("/api/v1/users/{id}/profile"), profile).await;
    assert_eq!(
        edited.json()["email"],
        "ny.navn@testfirma.dk",
        "{}",
        edited.body
    );
    let wrong = api(
        "POST",
        format!("/api/v1/users/{id}/delete"),
        r#"{"confirm":"x"}"#,
    )
    .await;
    assert_eq!(wrong.json()["field"], "confirm");
    let entry = r#"{"right":"intranet.editor","name":"Intranet editor"}"#;
    let defined = api("POST", "/api/v1/rights".into(), entry).await;
    assert_eq!(defined.status, StatusCode::CREATED, "{}", defined.body);
    let catalogue = api("GET", "/api/v1/rights".into(), "").await;
    assert_eq!(catalogue.json()[0]["source"], "local", "{}", catalogue.body);
    let assign = r#"{"right":"intranet.editor","scope":"cvr:91234567","change":"assign"}"#;
    let assigned = api("POST", format!("/api/v1/users/{id}/rights"), assign).await;
    assert_eq!(assigned.status, StatusCode::NO_CONTENT, "{}", assigned.body);
    let held = api("GET", format!("/api/v1/users/{id}/rights"), "").await;
    assert_eq!(held.json()[0]["scope"], "cvr:91234567", "{}", held.body);
    let organisation = r#"{"name":"Testfirma A/S","se_numbers":["91111111"],"p_units":[]}"#;
    let changed = api(
        "POST",
        "/api/v1/organisations/91234567".into(),
        organisation,
    )
    .await;
    assert_eq!(
        changed.json()["se_numbers"][0],
        "91111111",
        "{}",
        changed.body
    );
    let scoped = r#"{"right":"intranet.editor","scope":"se:91111111","change":"assign"}"#;
    let assigned = api("POST", format!("/api/v1/users/{id}/rights"), scoped).await;
    assert_eq!(assigned.status, StatusCode::NO_CONTENT, "{}", assigned.body);
    let removing = r#"{"name":"Testfirma A/S","se_numbers":[]}"#;
    let in_use = api("POST", "/api/v1/organisations/91234567".into(), removing).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert_eq!(in_use.json()["error"], "IN_USE");
    let bad = r#"{"name":"Testfirma A/S","p_units":["12"]}"#;
    let refused = api("POST", "/api/v1/organisations/91234567".into(), bad).await;
    assert_eq!(refused.json()["field"], "p_units", "{}", refused.body);
    let listed = api("GET", "/api/v1/organisations".into(), "").await;
    assert_eq!(listed.json()[0]["name"], "Testfirma A/S", "{}", listed.body);
    assert_eq!(
        listed.json()[0]["se_numbers"],
        serde_json::json!(["91111111"])
    );
    let change = r#"{"changes":{"password_min_length":14,"lockout_minutes":null}}"#;
    let changed = api("POST", "/api/v1/policies".into(), change).await;
    assert_eq!(
        changed.json(),
        serde_json::json!({"changed": {"password_min_length": 14}}),
        "{}",
        changed.body
    );
    let stranger = r#"{"changes":{"password_argon2_memory_kib":8192}}"#;
    let refused = api("POST", "/api/v1/policies".into(), stranger).await;
    assert_eq!(refused.json()["field"], "policy", "not an editable key");
    let negative = r#"{"changes":{"password_min_length":-1}}"#;
    let refused = api("POST", "/api/v1/policies".into(), negative).await;
    assert_eq!(refused.json()["field"], "body");
    assert_eq!(rig.state.signin.settings().password_min_length, 14);
    let metadata = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/saml/sp-metadata.xml"
    ));
    let registration = serde_json::json!({"metadata": metadata, "name": "Intranet"}).to_string();
    let registered = api("POST", "/api/v1/service-providers".into(), &registration).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    assert_eq!(registered.json()["encryption"], "oiosaml3");
    let twice = api("POST", "/api/v1/service-providers".into(), &registration).await;
    assert_eq!(twice.json()["error"], "SP_REGISTERED");
    let listed = api("GET", "/api/v1/service-providers".into(), "").await;
    assert_eq!(listed.json()[0]["name"], "Intranet", "{}", listed.body);
    let removal = r#"{"entity_id":"https://sp.test.example.dk/saml",
                      "confirm":"https://sp.test.example.dk/saml"}"#;
    let removed = api("POST", "/api/v1/service-providers/remove".into(), removal).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let policies = api("GET", "/api/v1/policies".into(), "").await;
    assert_eq!(policies.status, StatusCode::OK);
    assert!(policies.json()["history"].is_array());

    // The trail names the token's owner as the actor of every change.
    let trail = rig.audit().await;
    let actor = format!("user:{}", boss.id);
    for kind in [
        "USER_CREATED",
        "ROLE_GRANTED",
        "USER_STATUS_CHANGED",
        "ORGANISATION_CHANGED",
        "POLICY_CHANGED",
        "SERVICE_PROVIDER_REGISTERED",
        "SERVICE_PROVIDER_REMOVED",
    ] {
        let line = trail
            .iter()
            .rev()
            .find(|line| line.starts_with(kind))
            .unwrap();
        assert!(line.contains(&actor), "{line}");
    }
    assert!(
        trail
            .iter()
            .any(|line| line.starts_with("API_TOKEN_CREATED"))
    );

    let deleted = api(
        "POST",
        format!("/api/v1/users/{id}/delete"),
        r#"{"confirm":"ny"}"#,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let gone = api("GET", format!("/api/v1/users/{id}"), "").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn read_tokens_only_read_and_unusable_tokens_all_look_alike() {
    let rig = Rig::new().await;
    let boss = rig.user("91234567", "boss", &[Role::Administrator]).await;
    let reader = token_for(&rig, &boss, "report", ApiScope::Read).await;
    let router = rig.router();

    let listed = call(&router, "GET", "/api/v1/users", Some(&reader), "").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let new = r#"{"organisation":"91234567","username":"x","display_name":"X","email":"x@t.dk"}"#;
    let write = call(&router, "POST", "/api/v1/users", Some(&reader), new).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.json()["error"], "TOKEN_SCOPE");
    assert!(
        rig.audit()
            .await
            .iter()
            .any(|line| line.contains("TOKEN_SCOPE"))
    );

    // Missing, garbage, a SCIM token, expired and revoked: one answer.
    let context = AuditContext::cli();
    let store = &rig.state.store;
    let long_ago = Utc::now() - Duration::days(40);
    let username = &boss.username;
    let (_, expired) = token::create(
        store,
        long_ago,
        &context,
        username,
        "old".into(),
        ApiScope::Write,
        30,
    )
    .await
    .unwrap();
    let revoked = token_for(&rig, &boss, "gone", ApiScope::Write).await;
    token::revoke(store, Utc::now(), &context, username, "gone")
        .await
        .unwrap();
    let org = rig.org("91234567").await;
    let (_, scim) = crate::scim::token::create(store, Utc::now(), &context, &org, "hr".into(), 30)
        .await
        .unwrap();
    let unusable = [
        None,
        Some("portner_api_nonsense"),
        Some(scim.expose()),
        Some(expired.expose()),
        Some(revoked.as_str()),
    ];
    for presented in unusable {
        let answer = call(&router, "GET", "/api/v1/users", presented, "").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{presented:?}");
        assert_eq!(answer.body, r#"{"error":"AUTHENTICATION_REQUIRED"}"#);
        assert_eq!(answer.challenge.as_deref(), Some("Bearer"));
    }

    // A token acts with its owner's roles and status, as they are now.
    let helper = rig.user("91234567", "helper", &[Role::Helpdesk]).await;
    let helpers = token_for(&rig, &helper, "desk", ApiScope::Write).await;
    let refused = call(&router, "GET", "/api/v1/users", Some(&helpers), "").await;
    assert_eq!(refused.json()["error"], "ROLE_MISSING");
    let mut tx = rig.state.store.begin().await.unwrap();
    tx.set_user_status(boss.id, UserStatus::Disabled, Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let disabled = call(&router, "GET", "/api/v1/users", Some(&reader), "").await;
    assert_eq!(disabled.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_bodies_and_refusals_get_json_errors_and_change_nothing() {
    let rig = Rig::new().await;
    let boss = rig.user("91234567", "boss", &[Role::Administrator]).await;
    let outsider = rig.user("92345678", "outsider", &[]).await;
    let secret = token_for(&rig, &boss, "hr-sync", ApiScope::Write).await;
    let router = rig.router();
    let before = user_count(&rig).await;

    let cases = [
        (
            "/api/v1/users",
            "{not json",
            StatusCode::BAD_REQUEST,
            "BAD_INPUT",
        ),
        (
            "/api/v1/users",
            r#"{"organisation":"91234567"}"#,
            StatusCode::BAD_REQUEST,
            "BAD_INPUT",
        ),
        (
            "/api/v1/users",
            r#"{"organisation":"92345678","username":"y","display_name":"Y","email":"y@t.dk"}"#,
            StatusCode::FORBIDDEN,
            "WRONG_ORGANISATION",
        ),
        (
            "/api/v1/users",
            r#"{"organisation":"91234567","username":"boss","display_name":"B","email":"b@t.dk"}"#,
            StatusCode::CONFLICT,
            "USERNAME_TAKEN",
        ),
    ];
    for (path, json, status, code) in cases {
        let answer = call(&router, "POST", path, Some(&secret), json).await;
        assert_eq!(answer.status, status, "{json}: {}", answer.body);
        assert_eq!(answer.json()["error"], code, "{json}");
    }
    let own = format!("/api/v1/users/{}/roles", boss.id);
    let drop_own = r#"{"role":"administrator","change":"revoke"}"#;
    let answer = call(&router, "POST", &own, Some(&secret), drop_own).await;
    assert_eq!(answer.json()["error"], "SELF_SERVICE");
    let foreign = format!("/api/v1/users/{}", outsider.id);
    let answer = call(&router, "GET", &foreign, Some(&secret), "").await;
    assert_eq!(answer.json()["error"], "WRONG_ORGANISATION");
    let unknown = call(&router, "GET", "/api/v1/users/not-an-id", Some(&secret), "").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let status = format!("/api/v1/users/{}/status", outsider.id);
    let answer = call(
        &router,
        "POST",
        &status,
        Some(&secret),
        r#"{"change":"explode"}"#,
    )
    .await;
    assert_eq!(answer.json()["field"], "status");
    let huge = format!(r#"{{"organisation":"{}"}}"#, "9".repeat(64 * 1024));
    let answer = call(&router, "POST", "/api/v1/users", Some(&secret), &huge).await;
    assert!(answer.status.is_client_error(), "{}", answer.status);
    assert_eq!(user_count(&rig).await, before);
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_api_routes() {
    let rig = Rig::new().await;
    let answer = call(&rig.router(), "GET", "/api/v1/openapi.json", None, "").await;
    assert_eq!(answer.status, StatusCode::OK);
    let document = answer.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());

    let paths = document["paths"].as_object().unwrap();
    let api_rules: Vec<_> = RULES
        .iter()
        .filter(|rule| rule.route.starts_with("/api/"))
        .collect();
    for rule in &api_rules {
        let method = match rule.verb {
            Verb::Get => "get",
            Verb::Post => "post",
        };
        assert!(
            paths[rule.route][method].is_object(),
            "{method} {} undocumented",
            rule.route
        );
    }
    let documented: usize = paths
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        api_rules.len(),
        "documented routes without a rule"
    );
}
