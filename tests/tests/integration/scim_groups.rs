//! SCIM 2.0 Groups through the whole router, on both databases (issue 5 item 5): members that
//! are users of the client's organisation, filters, PATCH of members, ETags, the bad input a
//! provisioning client can send, and the MitID Erhverv sync scoped to a group (issue 6 item 2).

use axum::http::StatusCode;
use portner_shared::Clock;
use portner_shared::domain::{GroupId, SyncMode, SyncOrganisation};
use portner_tests::TestStore;
use portner_tests::sync::audit_count;
use serde_json::{Value, json};

use super::scim::{
    Answer, CVR, OTHER_CVR, create, etag, issue_token, organisation, patch_body, pending_actions,
    send, with_token,
};
use super::web::Rig;

on_both_backends!(
    groups_are_created_with_members_listed_filtered_and_read,
    patch_adds_and_removes_members_and_every_change_is_audited,
    bad_group_input_is_refused_and_changes_nothing,
    a_group_scoped_sync_follows_membership_and_keeps_its_scope_group,
);

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const BAD: StatusCode = StatusCode::BAD_REQUEST;

fn group_body(name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}).to_string()
}

async fn create_group(rig: &Rig, token: &str, name: &str, members: &[&str]) -> Answer {
    let body = group_body(name, members);
    let answer = send(
        &rig.router,
        "POST",
        "/scim/v2/Groups",
        token,
        Some(&body),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer
}

fn id(answer: &Answer) -> String {
    answer.body["id"].as_str().unwrap().to_owned()
}

fn group_path(answer: &Answer) -> String {
    format!("/scim/v2/Groups/{}", id(answer))
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["value"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    ids.sort();
    ids
}

async fn groups_are_created_with_members_listed_filtered_and_read(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let alice = id(&create(&rig, &token, "alice").await);
    let bob = id(&create(&rig, &token, "bob").await);

    let staff = create_group(&rig, &token, "Staff", &[&alice, &bob]).await;
    assert!(
        staff.headers["location"]
            .to_str()
            .unwrap()
            .ends_with(&group_path(&staff))
    );
    assert_eq!(staff.body["meta"]["resourceType"], "Group");
    assert_eq!(member_ids(&staff.body), sorted(&[&alice, &bob]));
    let reference = staff.body["members"][0]["$ref"].as_str().unwrap();
    let member = format!("/scim/v2{}", reference.split_once("/scim/v2").unwrap().1);
    let read_member = send(&rig.router, "GET", &member, &token, None, None).await;
    assert_eq!(read_member.status, StatusCode::OK);
    create_group(&rig, &token, "MitID users", &[&alice]).await;

    let query = "/scim/v2/Groups?filter=displayName%20eq%20%22MitID%20users%22";
    let found = send(&rig.router, "GET", query, &token, None, None).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["displayName"], "MitID users");

    let by_member = format!("/scim/v2/Groups?filter=members.value%20eq%20%22{bob}%22");
    let found = send(&rig.router, "GET", &by_member, &token, None, None).await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["displayName"], "Staff");

    let sorted_page = "/scim/v2/Groups?sortBy=displayName&sortOrder=descending&count=1";
    let page = send(&rig.router, "GET", sorted_page, &token, None, None).await;
    assert_eq!(page.body["totalResults"], 2);
    assert_eq!(page.body["Resources"][0]["displayName"], "Staff");

    let read = send(&rig.router, "GET", &group_path(&staff), &token, None, None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(etag(&read), etag(&staff));
    let projected = format!("{}?attributes=displayName", group_path(&staff));
    let projected = send(&rig.router, "GET", &projected, &token, None, None).await;
    assert!(projected.body.get("members").is_none());

    // Another organisation's client sees none of them.
    let other = organisation(&rig, OTHER_CVR).await;
    let other_token = issue_token(&rig, &other, "hr", rig.clock.now(), 30).await;
    let hidden = send(
        &rig.router,
        "GET",
        &group_path(&staff),
        &other_token,
        None,
        None,
    )
    .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let listed = send(
        &rig.router,
        "GET",
        "/scim/v2/Groups",
        &other_token,
        None,
        None,
    )
    .await;
    assert_eq!(listed.body["totalResults"], 0);

    // A search at the root covers users and groups together (RFC 7644 §3.4.3).
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "displayName sw \"Staff\" or userName eq \"alice\""
    })
    .to_string();
    let both = send(
        &rig.router,
        "POST",
        "/scim/v2/.search",
        &token,
        Some(&search),
        None,
    )
    .await;
    assert_eq!(both.body["totalResults"], 2, "{}", both.body);
}

async fn patch_adds_and_removes_members_and_every_change_is_audited(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let alice = id(&create(&rig, &token, "alice").await);
    let bob = id(&create(&rig, &token, "bob").await);
    let carol = id(&create(&rig, &token, "carol").await);
    let group = create_group(&rig, &token, "Staff", &[&alice]).await;
    let path = group_path(&group);

    let add = patch_body(json!([
        {"op": "add", "path": "members", "value": [{"value": bob}, {"value": carol}]}
    ]));
    let added = send(
        &rig.router,
        "PATCH",
        &path,
        &token,
        Some(&add),
        Some(&etag(&group)),
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!(member_ids(&added.body), sorted(&[&alice, &bob, &carol]));
    assert_ne!(etag(&added), etag(&group));

    // The RFC's value-filter form, and the list form some clients send.
    let remove = patch_body(json!([
        {"op": "remove", "path": format!("members[value eq \"{alice}\"]")},
        {"op": "remove", "path": "members", "value": [{"value": bob}]}
    ]));
    let removed = send(&rig.router, "PATCH", &path, &token, Some(&remove), None).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(member_ids(&removed.body), sorted(&[&carol]));

    let rename = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Crew"}]));
    let renamed = send(&rig.router, "PATCH", &path, &token, Some(&rename), None).await;
    assert_eq!(renamed.body["displayName"], "Crew");

    // A stale version is refused and changes nothing.
    let stale = send(
        &rig.router,
        "PATCH",
        &path,
        &token,
        Some(&add),
        Some(&etag(&group)),
    )
    .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);

    let put = group_body("Crew", &[&alice]);
    let replaced = send(&rig.router, "PUT", &path, &token, Some(&put), None).await;
    assert_eq!(member_ids(&replaced.body), sorted(&[&alice]));

    let store = &rig.store.store;
    assert_eq!(audit_count(store, "GROUP_CREATED").await, 1);
    assert_eq!(audit_count(store, "GROUP_MEMBER_ADDED").await, 4);
    assert_eq!(audit_count(store, "GROUP_MEMBER_REMOVED").await, 3);
    assert_eq!(audit_count(store, "GROUP_CHANGED").await, 1);

    let deleted = send(&rig.router, "DELETE", &path, &token, None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(audit_count(store, "GROUP_DELETED").await, 1);
    assert_eq!(audit_count(store, "GROUP_MEMBER_REMOVED").await, 4);
    let gone = send(&rig.router, "GET", &path, &token, None, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let user = format!("/scim/v2/Users/{alice}");
    let still_there = send(&rig.router, "GET", &user, &token, None, None).await;
    assert_eq!(still_there.status, StatusCode::OK);
}

async fn bad_group_input_is_refused_and_changes_nothing(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let alice = id(&create(&rig, &token, "alice").await);
    let group = create_group(&rig, &token, "Staff", &[&alice]).await;
    let path = group_path(&group);
    let other = organisation(&rig, OTHER_CVR).await;
    let other_token = issue_token(&rig, &other, "hr", rig.clock.now(), 30).await;
    let stranger = id(&create(&rig, &other_token, "stranger").await);

    let refusals = [
        (
            "POST",
            "/scim/v2/Groups".to_owned(),
            group_body("staff", &[]),
            StatusCode::CONFLICT,
        ),
        (
            "POST",
            "/scim/v2/Groups".to_owned(),
            group_body("New", &[&stranger]),
            BAD,
        ),
        (
            "POST",
            "/scim/v2/Groups".to_owned(),
            group_body("New", &["x"]),
            BAD,
        ),
        (
            "POST",
            "/scim/v2/Groups".to_owned(),
            group_body(" ", &[]),
            BAD,
        ),
        ("POST", "/scim/v2/Groups".to_owned(), "{".to_owned(), BAD),
        (
            "POST",
            "/scim/v2/Groups".to_owned(),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "displayName": "New"})
            .to_string(),
            BAD,
        ),
        ("PUT", path.clone(), group_body("Staff", &[&stranger]), BAD),
        (
            "PATCH",
            path.clone(),
            patch_body(json!([{"op": "remove", "path": "displayName"}])),
            BAD,
        ),
        (
            "PATCH",
            path.clone(),
            patch_body(json!([{"op": "replace", "path": "id", "value": "x"}])),
            BAD,
        ),
        (
            "PATCH",
            path.clone(),
            patch_body(json!([{"op": "remove", "path": "members[value eq"}])),
            BAD,
        ),
    ];
    for (method, uri, body, status) in refusals {
        let answer = send(&rig.router, method, &uri, &token, Some(&body), None).await;
        assert_eq!(answer.status, status, "{method} {body}: {}", answer.body);
        assert_eq!(
            answer.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
    let taken = send(
        &rig.router,
        "POST",
        "/scim/v2/Groups",
        &token,
        Some(&group_body("STAFF", &[])),
        None,
    )
    .await;
    assert_eq!(taken.scim_type(), "uniqueness");

    let unchanged = send(&rig.router, "GET", &path, &token, None, None).await;
    assert_eq!(etag(&unchanged), etag(&group));
    assert_eq!(member_ids(&unchanged.body), [alice]);
    let listed = send(&rig.router, "GET", "/scim/v2/Groups", &token, None, None).await;
    assert_eq!(listed.body["totalResults"], 1);
    assert_eq!(audit_count(&rig.store.store, "GROUP_CREATED").await, 1);
    assert_eq!(audit_count(&rig.store.store, "GROUP_MEMBER_ADDED").await, 1);
}

async fn a_group_scoped_sync_follows_membership_and_keeps_its_scope_group(store: TestStore) {
    let (rig, token) = with_token(store).await;
    let group = create_group(&rig, &token, "MitID", &[]).await;
    let group_id: GroupId = id(&group).parse().unwrap();
    let settings = SyncOrganisation {
        org: CVR.parse().unwrap(),
        mode: SyncMode::LocalIdp,
        base_url: "https://idm.invalid".to_owned(),
        client_cert_path: "client.pem".into(),
        client_key_path: None,
        trust_roots_path: "ca.pem".into(),
        default_email: None,
        scope_group: Some(group_id),
    };
    let mut tx = rig.store.store.begin().await.unwrap();
    tx.upsert_sync_organisation(&settings, rig.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let keys = |actions: Vec<(String, Value)>| -> Vec<String> {
        actions.into_iter().map(|(key, _)| key).collect()
    };

    // Outside the group, a new user is not sent to MitID Erhverv.
    let alice = id(&create(&rig, &token, "alice").await);
    assert!(keys(pending_actions(&rig).await).is_empty());

    let join = patch_body(json!([{"op": "add", "path": "members", "value": [{"value": alice}]}]));
    let path = group_path(&group);
    send(&rig.router, "PATCH", &path, &token, Some(&join), None).await;
    assert_eq!(
        keys(pending_actions(&rig).await),
        [format!("upsert_user:{alice}")]
    );

    let leave = patch_body(json!([{"op": "remove", "path": "members"}]));
    send(&rig.router, "PATCH", &path, &token, Some(&leave), None).await;
    assert!(keys(pending_actions(&rig).await).contains(&format!("suspend_user:{alice}")));

    // Another group's membership is not the sync's concern.
    let other = create_group(&rig, &token, "Other", &[&alice]).await;
    let before = pending_actions(&rig).await.len();
    let other_path = group_path(&other);
    send(&rig.router, "DELETE", &other_path, &token, None, None).await;
    assert_eq!(pending_actions(&rig).await.len(), before);

    // The scope group itself cannot be deleted: that would suspend everyone in it.
    let refused = send(&rig.router, "DELETE", &path, &token, None, None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let still_there = send(&rig.router, "GET", &path, &token, None, None).await;
    assert_eq!(still_there.status, StatusCode::OK);
}
