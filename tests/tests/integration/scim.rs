//! SCIM 2.0 provisioning through the whole router, on both databases (issue 5, item 5):
//! bearer tokens, discovery, the Users lifecycle with filters, ETags and PATCH, and the bad
//! input the issue names, each answered with a SCIM error and leaving nothing changed.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::Duration;
use http_body_util::BodyExt;
use portner_audit::AuditContext;
use portner_shared::Clock;
use portner_shared::domain::{
    Cvr, NewOrganisation, SyncLink, SyncMode, SyncOrganisation, UserId, UserStatus,
};
use portner_tests::TestStore;
use portner_tests::sync::audit_count;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::web::{Rig, rig};

on_both_backends!(
    missing_malformed_unknown_expired_and_revoked_tokens_get_one_401,
    discovery_documents_describe_what_portner_serves,
    users_are_created_pending_read_and_listed_within_the_organisation,
    filters_sorting_and_paging_select_users,
    duplicate_usernames_and_bad_bodies_are_refused_and_change_nothing,
    patch_disables_and_re_enables_and_refuses_removing_the_username,
    if_match_mismatch_is_412_and_every_write_moves_the_etag,
    put_replaces_the_profile_and_delete_removes_the_user,
    a_cpr_number_is_stored_but_never_returned,
    scim_changes_feed_the_mitid_erhverv_outbox,
    assigned_rights_show_read_only_in_the_portner_extension,
);

pub(super) const CVR: &str = "91234567";
pub(super) const OTHER_CVR: &str = "92345678";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const PORTNER: &str = "urn:portner:params:scim:schemas:extension:portner:2.0:User";
/// A value path that matches none of the test users' addresses.
const UNMATCHED_EMAIL: &str = "emails[value eq \"x@y.dk\"].value";

/// A router answer, its JSON body parsed (`Null` when empty).
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Value,
}

impl Answer {
    pub(super) fn scim_type(&self) -> &str {
        self.body["scimType"].as_str().unwrap_or_default()
    }
}

pub(super) async fn send(
    router: &Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
    if_match: Option<&str>,
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/scim+json");
    if let Some(tag) = if_match {
        request = request.header(header::IF_MATCH, tag);
    }
    let request = request
        .body(body.map_or_else(Body::empty, |text| Body::from(text.to_owned())))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Answer {
        status,
        headers,
        body,
    }
}

pub(super) async fn organisation(rig: &Rig, cvr: &str) -> Cvr {
    let cvr: Cvr = cvr.parse().unwrap();
    let new = NewOrganisation::new(
        cvr.clone(),
        "Testfirma ApS",
        "testfirma.dk".parse().unwrap(),
    )
    .unwrap();
    portner_idp::directory::create_organisation(
        &rig.store.store,
        &rig.clock,
        &AuditContext::cli(),
        &new,
    )
    .await
    .unwrap();
    cvr
}

/// A rig with the test organisation and a token for it.
pub(super) async fn with_token(store: TestStore) -> (Rig, String) {
    let rig = rig(store).await;
    let cvr = organisation(&rig, CVR).await;
    let token = issue_token(&rig, &cvr, "hr", rig.clock.now(), 30).await;
    (rig, token)
}

pub(super) async fn issue_token(
    rig: &Rig,
    cvr: &Cvr,
    name: &str,
    at: chrono::DateTime<chrono::Utc>,
    days: u16,
) -> String {
    let (_, secret) = portner_idp::scim::token::create(
        &rig.store.store,
        at,
        &AuditContext::cli(),
        cvr,
        name.to_owned(),
        days,
    )
    .await
    .unwrap();
    secret.expose().to_owned()
}

fn user_body(username: &str) -> String {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": username,
        "displayName": format!("Person {username}"),
        "emails": [{"value": format!("{username}@testfirma.dk"), "primary": true}],
        "externalId": format!("HR-{username}")
    })
    .to_string()
}

pub(super) async fn create(rig: &Rig, token: &str, username: &str) -> Answer {
    let answer = send(
        &rig.router,
        "POST",
        "/scim/v2/Users",
        token,
        Some(&user_body(username)),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer
}

pub(super) fn user_path(answer: &Answer) -> String {
    format!("/scim/v2/Users/{}", answer.body["id"].as_str().unwrap())
}

pub(super) fn etag(answer: &Answer) -> String {
    answer.headers[header::ETAG].to_str().unwrap().to_owned()
}

pub(super) fn patch_body(operations: Value) -> String {
    json!({"schemas": [PATCH_OP], "Operations": operations}).to_string()
}

async fn missing_malformed_unknown_expired_and_revoked_tokens_get_one_401(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let cvr: Cvr = CVR.parse().unwrap();
    let long_ago = rig.clock.now() - Duration::days(40);
    let expired = issue_token(&rig, &cvr, "old", long_ago, 30).await;
    let revoked = issue_token(&rig, &cvr, "gone", rig.clock.now(), 30).await;
    let context = AuditContext::cli();
    portner_idp::scim::token::revoke(&rig.store.store, rig.clock.now(), &context, &cvr, "gone")
        .await
        .unwrap();

    let mut bodies = Vec::new();
    let forged = format!("{token}x");
    for presented in [
        "",
        "not-a-token",
        "portner_scim_AAAA",
        &forged,
        &expired,
        &revoked,
    ] {
        let answer = send(&rig.router, "GET", "/scim/v2/Users", presented, None, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{presented:?}");
        assert!(answer.headers.contains_key(header::WWW_AUTHENTICATE));
        bodies.push(answer.body);
    }
    let basic = Request::get("/scim/v2/Users")
        .header(header::AUTHORIZATION, "Basic dXNlcjpwYXNz")
        .body(Body::empty())
        .unwrap();
    let response = rig.router.clone().oneshot(basic).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    bodies.push(serde_json::from_slice(&bytes).unwrap());

    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "{bodies:?}"
    );
    assert_eq!(
        bodies[0]["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(bodies[0]["status"], "401");

    let allowed = send(&rig.router, "GET", "/scim/v2/Users", &token, None, None).await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(audit_count(&rig.store.store, "SCIM_TOKEN_CREATED").await, 3);
    assert_eq!(audit_count(&rig.store.store, "SCIM_TOKEN_REVOKED").await, 1);
}

async fn discovery_documents_describe_what_portner_serves(store: TestStore) {
    let (rig, token) = with_token(store).await;

    let config = send(
        &rig.router,
        "GET",
        "/scim/v2/ServiceProviderConfig",
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(
        config.headers[header::CONTENT_TYPE],
        "application/scim+json"
    );
    assert_eq!(config.body["patch"]["supported"], true);
    assert_eq!(config.body["bulk"]["supported"], false);
    assert_eq!(config.body["etag"]["supported"], true);
    assert_eq!(config.body["filter"]["maxResults"], 200);

    let types = send(
        &rig.router,
        "GET",
        "/scim/v2/ResourceTypes",
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(types.body["totalResults"], 2);
    assert_eq!(types.body["Resources"][0]["endpoint"], "/Users");
    assert_eq!(types.body["Resources"][1]["endpoint"], "/Groups");
    let user_type = send(
        &rig.router,
        "GET",
        "/scim/v2/ResourceTypes/User",
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(user_type.body["schema"], USER_SCHEMA);

    let schemas = send(&rig.router, "GET", "/scim/v2/Schemas", &token, None, None).await;
    let ids: Vec<&str> = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|schema| schema["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            USER_SCHEMA,
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            PORTNER
        ]
    );
    let user = send(
        &rig.router,
        "GET",
        &format!("/scim/v2/Schemas/{USER_SCHEMA}"),
        &token,
        None,
        None,
    )
    .await;
    let user_name = &user.body["attributes"][0];
    assert_eq!(user_name["name"], "userName");
    assert_eq!(user_name["mutability"], "immutable");
    assert_eq!(user_name["uniqueness"], "server");

    let nowhere = send(&rig.router, "GET", "/scim/v2/Roles", &token, None, None).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.body["status"], "404");
}

async fn users_are_created_pending_read_and_listed_within_the_organisation(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let created = create(&rig, &token, "alice").await;

    let location = created.headers[header::LOCATION].to_str().unwrap();
    assert_eq!(
        location,
        format!("http://localhost:8080{}", user_path(&created))
    );
    assert!(etag(&created).starts_with("W/\""), "{}", etag(&created));
    assert_eq!(created.body["userName"], "alice");
    assert_eq!(created.body["active"], true);
    assert_eq!(created.body["externalId"], "HR-alice");
    assert_eq!(created.body[PORTNER]["status"], "pending_activation");
    assert_eq!(created.body[PORTNER]["cvr"], CVR);
    assert_eq!(created.body["meta"]["version"], etag(&created));

    let read = send(&rig.router, "GET", &user_path(&created), &token, None, None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, created.body);
    assert_eq!(etag(&read), etag(&created));

    let mut tx = rig.store.store.read().await.unwrap();
    let stored = tx
        .user_by_username(&"alice".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(stored.status, UserStatus::PendingActivation);
    assert_eq!(audit_count(&rig.store.store, "USER_CREATED").await, 1);

    // Another organisation's client sees none of it.
    let other = organisation(&rig, OTHER_CVR).await;
    let stranger = issue_token(&rig, &other, "hr", rig.clock.now(), 30).await;
    let hidden = send(
        &rig.router,
        "GET",
        &user_path(&created),
        &stranger,
        None,
        None,
    )
    .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let listed = send(&rig.router, "GET", "/scim/v2/Users", &stranger, None, None).await;
    assert_eq!(listed.body["totalResults"], 0);
    let patched = send(
        &rig.router,
        "PATCH",
        &user_path(&created),
        &stranger,
        Some(&patch_body(
            json!([{"op": "replace", "path": "active", "value": false}]),
        )),
        None,
    )
    .await;
    assert_eq!(patched.status, StatusCode::NOT_FOUND);
    let deleted = send(
        &rig.router,
        "DELETE",
        &user_path(&created),
        &stranger,
        None,
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);

    let unknown = send(
        &rig.router,
        "GET",
        "/scim/v2/Users/not-a-uuid",
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

async fn filters_sorting_and_paging_select_users(store: TestStore) {
    let (rig, token) = with_token(store).await;
    for name in ["carol", "alice", "bob", "bo.jensen"] {
        create(&rig, &token, name).await;
    }
    let list = |query: &'static str| {
        let router = rig.router.clone();
        let token = token.clone();
        async move {
            let answer = send(
                &router,
                "GET",
                &format!("/scim/v2/Users?{query}"),
                &token,
                None,
                None,
            )
            .await;
            assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.body);
            let names: Vec<String> = answer.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|user| user["userName"].as_str().unwrap().to_owned())
                .collect();
            (answer.body["totalResults"].as_u64().unwrap(), names)
        }
    };

    assert_eq!(
        list("filter=userName%20eq%20%22BOB%22").await,
        (1, vec!["bob".to_owned()])
    );
    let (total, names) =
        list("filter=userName%20sw%20%22bo%22&sortBy=userName&sortOrder=descending").await;
    assert_eq!(
        (total, names),
        (2, vec!["bob".to_owned(), "bo.jensen".to_owned()])
    );
    let (total, names) =
        list("filter=emails.value%20co%20%22carol%40%22%20or%20externalId%20eq%20%22HR-alice%22")
            .await;
    assert_eq!(total, 2);
    assert_eq!(names, ["alice", "carol"]);
    let (total, names) =
        list("filter=not%20(userName%20sw%20%22b%22)%20and%20active%20eq%20true").await;
    assert_eq!((total, names.len()), (2, 2));
    let (total, names) = list("startIndex=2&count=2").await;
    assert_eq!(total, 4);
    assert_eq!(names, ["bo.jensen", "bob"]);

    for query in [
        "filter=userName%20eq",
        "filter=userName%20xx%20%22a%22",
        "filter=(userName%20pr",
    ] {
        let answer = send(
            &rig.router,
            "GET",
            &format!("/scim/v2/Users?{query}"),
            &token,
            None,
            None,
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.scim_type(), "invalidFilter", "{query}");
    }

    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "displayName co \"carol\"",
        "attributes": ["userName"]
    });
    let found = send(
        &rig.router,
        "POST",
        "/scim/v2/Users/.search",
        &token,
        Some(&search.to_string()),
        None,
    )
    .await;
    assert_eq!(found.body["totalResults"], 1);
    assert!(found.body["Resources"][0].get("displayName").is_none());
}

async fn duplicate_usernames_and_bad_bodies_are_refused_and_change_nothing(store: TestStore) {
    let (rig, token) = with_token(store).await;
    create(&rig, &token, "alice").await;
    let before = audit_count(&rig.store.store, "USER_CREATED").await;

    let duplicate = send(
        &rig.router,
        "POST",
        "/scim/v2/Users",
        &token,
        Some(&user_body("ALICE")),
        None,
    )
    .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.scim_type(), "uniqueness");

    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            "{not json".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalidSyntax",
        ),
        ("[]".to_owned(), StatusCode::BAD_REQUEST, "invalidSyntax"),
        (
            json!({"userName": "x"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalidSyntax",
        ),
        (
            json!({"schemas": [USER_SCHEMA], "userName": "bad name", "displayName": "B",
                   "emails": [{"value": "b@testfirma.dk"}]})
            .to_string(),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({"schemas": [USER_SCHEMA], "userName": "bob", "displayName": "Bob"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            format!(
                "{{\"schemas\":[\"{USER_SCHEMA}\"],\"pad\":\"{}\"}}",
                "x".repeat(70_000)
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "",
        ),
    ];
    for (body, status, scim_type) in cases {
        let answer = send(
            &rig.router,
            "POST",
            "/scim/v2/Users",
            &token,
            Some(&body),
            None,
        )
        .await;
        assert_eq!(answer.status, status, "{}", answer.body);
        assert_eq!(answer.scim_type(), scim_type);
        assert_eq!(
            answer.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }

    let listed = send(&rig.router, "GET", "/scim/v2/Users", &token, None, None).await;
    assert_eq!(listed.body["totalResults"], 1);
    assert_eq!(audit_count(&rig.store.store, "USER_CREATED").await, before);
}

async fn patch_disables_and_re_enables_and_refuses_removing_the_username(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let created = create(&rig, &token, "alice").await;
    let path = user_path(&created);

    let disable = patch_body(json!([{"op": "Replace", "value": {"active": false}}]));
    let disabled = send(&rig.router, "PATCH", &path, &token, Some(&disable), None).await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert_eq!(disabled.body["active"], false);
    assert_eq!(disabled.body[PORTNER]["status"], "disabled");
    assert_eq!(
        audit_count(&rig.store.store, "USER_STATUS_CHANGED").await,
        1
    );

    // Never activated, so re-enabling brings it back to pending activation, not active.
    let enable = patch_body(json!([{"op": "replace", "path": "active", "value": true}]));
    let enabled = send(&rig.router, "PATCH", &path, &token, Some(&enable), None).await;
    assert_eq!(enabled.body["active"], true);
    assert_eq!(enabled.body[PORTNER]["status"], "pending_activation");

    let rename = patch_body(json!([
        {"op": "replace", "path": "displayName", "value": "Alice Hansen"},
        {"op": "add", "path": "emails[type eq \"work\"].value", "value": "ah@testfirma.dk"},
        {"op": "remove", "path": "externalId"}
    ]));
    let renamed = send(&rig.router, "PATCH", &path, &token, Some(&rename), None).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["displayName"], "Alice Hansen");
    assert_eq!(
        renamed.body["emails"],
        json!([{"value": "ah@testfirma.dk"}])
    );
    assert!(renamed.body.get("externalId").is_none());
    assert_eq!(
        audit_count(&rig.store.store, "USER_PROFILE_CHANGED").await,
        1
    );

    let before = send(&rig.router, "GET", &path, &token, None, None).await;
    let profile_events = audit_count(&rig.store.store, "USER_PROFILE_CHANGED").await;
    let status_events = audit_count(&rig.store.store, "USER_STATUS_CHANGED").await;
    let refused = [
        (json!([{"op": "remove", "path": "userName"}]), "mutability"),
        (
            json!([{"op": "replace", "path": "userName", "value": "mallory"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": "ok"},
                {"op": "replace", "path": "id", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": UNMATCHED_EMAIL, "value": "a@b.dk"}]),
            "noTarget",
        ),
        (
            json!([{"op": "replace", "path": "emails", "value": [{"value": "nope"}]}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "emails[", "value": 1}]),
            "invalidPath",
        ),
    ];
    for (operations, scim_type) in refused {
        let body = patch_body(operations.clone());
        let answer = send(&rig.router, "PATCH", &path, &token, Some(&body), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{operations}");
        assert_eq!(answer.scim_type(), scim_type, "{operations}");
    }
    let malformed = send(
        &rig.router,
        "PATCH",
        &path,
        &token,
        Some("{\"Operations\":"),
        None,
    )
    .await;
    assert_eq!(malformed.scim_type(), "invalidSyntax");
    let after = send(&rig.router, "GET", &path, &token, None, None).await;
    assert_eq!(after.body, before.body, "a refused PATCH changed the user");
    let profile_after = audit_count(&rig.store.store, "USER_PROFILE_CHANGED").await;
    let status_after = audit_count(&rig.store.store, "USER_STATUS_CHANGED").await;
    assert_eq!(
        (profile_after, status_after),
        (profile_events, status_events)
    );
}

async fn if_match_mismatch_is_412_and_every_write_moves_the_etag(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let created = create(&rig, &token, "alice").await;
    let path = user_path(&created);
    let first = etag(&created);

    // The rig's clock stands still: the ETag must move all the same.
    let change =
        patch_body(json!([{"op": "replace", "path": "displayName", "value": "A. Hansen"}]));
    let changed = send(
        &rig.router,
        "PATCH",
        &path,
        &token,
        Some(&change),
        Some(&first),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let second = etag(&changed);
    assert_ne!(second, first);

    let stale = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Stale"}]));
    let refused = send(
        &rig.router,
        "PATCH",
        &path,
        &token,
        Some(&stale),
        Some(&first),
    )
    .await;
    assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(refused.body["status"], "412");
    let put = send(
        &rig.router,
        "PUT",
        &path,
        &token,
        Some(&user_body("alice")),
        Some(&first),
    )
    .await;
    assert_eq!(put.status, StatusCode::PRECONDITION_FAILED);
    let delete = send(&rig.router, "DELETE", &path, &token, None, Some(&first)).await;
    assert_eq!(delete.status, StatusCode::PRECONDITION_FAILED);

    let read = send(&rig.router, "GET", &path, &token, None, None).await;
    assert_eq!(read.body["displayName"], "A. Hansen");
    let any = send(&rig.router, "PATCH", &path, &token, Some(&stale), Some("*")).await;
    assert_eq!(any.status, StatusCode::OK);
    let strong = second.trim_start_matches("W/").to_owned();
    let third = etag(&any);
    let listed = format!("\"nope\", {third}");
    let by_list = send(&rig.router, "DELETE", &path, &token, None, Some(&listed)).await;
    assert_eq!(by_list.status, StatusCode::NO_CONTENT, "{strong}");
}

async fn put_replaces_the_profile_and_delete_removes_the_user(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let created = create(&rig, &token, "alice").await;
    let path = user_path(&created);

    let replacement = json!({
        "schemas": [USER_SCHEMA],
        "id": "ignored",
        "userName": "alice",
        "displayName": "Alice Hansen",
        "emails": [{"value": "alice.hansen@testfirma.dk"}],
        "active": false
    });
    let replaced = send(
        &rig.router,
        "PUT",
        &path,
        &token,
        Some(&replacement.to_string()),
        None,
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body["id"], created.body["id"]);
    assert_eq!(
        replaced.body["emails"][0]["value"],
        "alice.hansen@testfirma.dk"
    );
    assert_eq!(replaced.body["active"], false);
    assert!(
        replaced.body.get("externalId").is_none(),
        "PUT keeps an omitted externalId"
    );

    let mut renamed = replacement.clone();
    renamed["userName"] = json!("alicia");
    let refused = send(
        &rig.router,
        "PUT",
        &path,
        &token,
        Some(&renamed.to_string()),
        None,
    )
    .await;
    assert_eq!(refused.scim_type(), "mutability");

    let deleted = send(&rig.router, "DELETE", &path, &token, None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = send(&rig.router, "GET", &path, &token, None, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = send(&rig.router, "DELETE", &path, &token, None, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(audit_count(&rig.store.store, "USER_DELETED").await, 1);

    let mut tx = rig.store.store.read().await.unwrap();
    let row = sqlx::query("SELECT actor FROM audit_events WHERE kind = 'USER_DELETED'")
        .fetch_one(tx.connection())
        .await
        .unwrap();
    let actor: String = sqlx::Row::get(&row, "actor");
    assert!(actor.starts_with("scim:"), "{actor}");
}

async fn a_cpr_number_is_stored_but_never_returned(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let cpr = "0101901234";
    let body = json!({
        "schemas": [USER_SCHEMA, PORTNER],
        "userName": "alice",
        "displayName": "Alice",
        "emails": [{"value": "alice@testfirma.dk"}],
        PORTNER: {"cpr": "010190-1234"}
    });
    let created = send(
        &rig.router,
        "POST",
        "/scim/v2/Users",
        &token,
        Some(&body.to_string()),
        None,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body[PORTNER]["hasCpr"], true);
    assert!(!created.body.to_string().contains(cpr));
    let listed = send(&rig.router, "GET", "/scim/v2/Users", &token, None, None).await;
    assert!(!listed.body.to_string().contains(cpr));

    // The same number again is accepted on PUT; another is refused.
    let path = user_path(&created);
    let same = send(
        &rig.router,
        "PUT",
        &path,
        &token,
        Some(&body.to_string()),
        None,
    )
    .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    let mut other = body.clone();
    other[PORTNER]["cpr"] = json!("0202901234");
    let refused = send(
        &rig.router,
        "PUT",
        &path,
        &token,
        Some(&other.to_string()),
        None,
    )
    .await;
    assert_eq!(refused.scim_type(), "mutability");
    let filtered = send(
        &rig.router,
        "GET",
        &format!("/scim/v2/Users?filter={PORTNER}:cpr%20pr"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(
        filtered.body["totalResults"], 0,
        "the CPR number is not filterable"
    );
}

/// The pending outbox actions, as `name:user` idempotency keys with their action JSON.
pub(super) async fn pending_actions(rig: &Rig) -> Vec<(String, Value)> {
    let mut tx = rig.store.store.read().await.unwrap();
    let rows = sqlx::query(
        "SELECT dedupe_key, action_json FROM sync_outbox WHERE state = 'pending' ORDER BY id",
    )
    .fetch_all(tx.connection())
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    rows.iter()
        .map(|row| {
            let key: String = sqlx::Row::get(row, "dedupe_key");
            let action: String = sqlx::Row::get(row, "action_json");
            (key, serde_json::from_str(&action).unwrap())
        })
        .collect()
}

async fn scim_changes_feed_the_mitid_erhverv_outbox(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let settings = SyncOrganisation {
        org: CVR.parse().unwrap(),
        mode: SyncMode::LocalIdp,
        base_url: "https://idm.invalid".to_owned(),
        client_cert_path: "client.pem".into(),
        client_key_path: None,
        trust_roots_path: "ca.pem".into(),
        default_email: None,
        scope_group: None,
    };
    let mut tx = rig.store.store.begin().await.unwrap();
    tx.upsert_sync_organisation(&settings, rig.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let created = create(&rig, &token, "alice").await;
    let id: UserId = created.body["id"].as_str().unwrap().parse().unwrap();
    let keys = |actions: Vec<(String, Value)>| -> Vec<String> {
        actions.into_iter().map(|(key, _)| key).collect()
    };
    assert_eq!(
        keys(pending_actions(&rig).await),
        [format!("upsert_user:{id}")]
    );

    let disable = patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    let path = user_path(&created);
    send(&rig.router, "PATCH", &path, &token, Some(&disable), None).await;
    assert!(keys(pending_actions(&rig).await).contains(&format!("suspend_user:{id}")));

    // Linked to an identity in MitID Erhverv: deleting queues its deletion by employee UUID.
    let link = SyncLink {
        user_id: id,
        org: CVR.parse().unwrap(),
        employee_uuid: "5d3e5a77-0c39-4c0b-a6a6-d6f7b5b1c001".to_owned(),
        remote_status: "Suspended".to_owned(),
        subject_name_id: "alice@testfirma.dk".to_owned(),
        profile_hash: String::new(),
        linked_at: rig.clock.now(),
    };
    let mut tx = rig.store.store.begin().await.unwrap();
    tx.set_sync_link(&link, rig.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    let deleted = send(&rig.router, "DELETE", &path, &token, None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let actions = pending_actions(&rig).await;
    let (_, deletion) = actions
        .iter()
        .find(|(key, _)| *key == format!("delete_user:{id}"))
        .unwrap();
    assert_eq!(deletion["employee_uuid"], link.employee_uuid);
}

async fn assigned_rights_show_read_only_in_the_portner_extension(store: TestStore) {
    use portner_shared::domain::{RightId, RightScope};
    let (rig, token) = with_token(store).await;
    let created = create(&rig, &token, "alice").await;
    let path = user_path(&created);
    assert_eq!(created.body[PORTNER]["rights"], json!([]));

    let context = AuditContext::cli();
    let right: RightId = "intranet.editor".parse().unwrap();
    let clock = &rig.clock;
    portner_idp::directory::define_local_right(&rig.store.store, clock, &context, &right, "Editor")
        .await
        .unwrap();
    let id: UserId = created.body["id"].as_str().unwrap().parse().unwrap();
    let mut tx = rig.store.store.begin().await.unwrap();
    let user = tx.user(id).await.unwrap().unwrap();
    let scope = RightScope::Cvr(CVR.parse().unwrap());
    portner_idp::directory::assign_right_in(&mut tx, clock.now(), &context, &user, &right, &scope)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let read = send(&rig.router, "GET", &path, &token, None, None).await;
    let held = json!([{"right": "intranet.editor", "scope": format!("cvr:{CVR}")}]);
    assert_eq!(read.body[PORTNER]["rights"], held, "{}", read.body);
    let filter = format!("{PORTNER}:rights.right eq \"intranet.editor\"");
    let query = format!(
        "/scim/v2/Users?filter={}",
        url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
    );
    let found = send(&rig.router, "GET", &query, &token, None, None).await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);

    // Rights are not written through SCIM: a PATCH naming them is refused, a PUT that sends
    // others leaves them as they are.
    let patch = patch_body(
        json!([{"op": "replace", "path": format!("{PORTNER}:rights"),
                                   "value": []}]),
    );
    let refused = send(&rig.router, "PATCH", &path, &token, Some(&patch), None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.scim_type(), "mutability");
    let mut replacement = read.body.clone();
    replacement[PORTNER]["rights"] = json!([]);
    let put = replacement.to_string();
    let replaced = send(&rig.router, "PUT", &path, &token, Some(&put), None).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body[PORTNER]["rights"], held);
}
