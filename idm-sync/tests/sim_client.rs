//! The client against the simulator over mutual TLS: contract scenarios that need no store
//! (mitid-erhverv-idm-api.md §9.6 S1 remote half, S7, S12, S13, S15, S16, S22, S23).

// Test helpers outside #[test] functions may unwrap too (clippy.toml allows it in tests).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::time::Duration;

use portner_idm_sync::api::{
    AuthenticatorType, CatalogueRole, CreateEmployee, IdentityAuthenticators, IdentityProfile,
    OrganizationProfile, RequestCredentials, RoleChange, Scope,
};
use portner_idm_sync::client::{ApiError, ClientConfig, ClientIdentity, IdmClient};
use portner_idm_sync::sim::certs::{PKCS12_PASSWORD, TestCa};
use portner_idm_sync::sim::{FaultKind, FaultRule, SimConfig, SimOrganisation, Simulator, Trigger};

const CVR: &str = "91234567";
const ROLE: &str = "6f1c9a52-0000-4000-8000-000000000001";

async fn simulator() -> Simulator {
    let org = SimOrganisation {
        cvr: CVR.to_owned(),
        se_numbers: vec!["91111111".to_owned()],
        p_units: vec![9_000_000_001],
        catalogue: vec![CatalogueRole {
            uuid: ROLE.to_owned(),
            name: Some("Digital Post".to_owned()),
            description: None,
            is_basic_package: Some(false),
        }],
    };
    Simulator::start(SimConfig {
        organisations: vec![org],
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn client_for(sim: &Simulator, identity: ClientIdentity) -> IdmClient {
    IdmClient::new(&ClientConfig {
        base_url: sim.base_url(),
        identity,
        trust_roots_pem: sim.ca.root.cert_pem.clone(),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
    })
    .unwrap()
}

fn client(sim: &Simulator) -> IdmClient {
    let cert = sim.client_cert(CVR).unwrap();
    client_for(
        sim,
        ClientIdentity::Pkcs12 {
            der: cert.pkcs12_der.clone(),
            password: PKCS12_PASSWORD.to_owned(),
        },
    )
}

fn create_request(cpr: &str, subject: &str) -> CreateEmployee {
    CreateEmployee {
        identity_profile: IdentityProfile {
            status: "Pending".to_owned(),
            registered_ial: "Substantial".to_owned(),
            target_ial: "Substantial".to_owned(),
            given_name: "Test".to_owned(),
            surname: "Testesen".to_owned(),
            email_address: "test@example.dk".to_owned(),
            cpr_number: cpr.to_owned(),
            rid: None,
            pseudonym: false,
            allow_qualified_certificate_issuance: false,
        },
        identity_organization_profile: OrganizationProfile {
            invoice_method_uuid: None,
        },
        identity_authenticators: IdentityAuthenticators {
            authenticator_types: vec![AuthenticatorType::LocalIdentityProvider],
            subject_name_id: Some(subject.to_owned()),
        },
    }
}

#[tokio::test]
async fn s1_create_binds_the_local_idp_login_over_mtls() {
    let sim = simulator().await;
    let client = client(&sim);

    let uuid = client
        .create_employee(&create_request("0101901111", "alice@example.dk"))
        .await
        .unwrap();

    let authenticators = client.authenticators(&uuid).await.unwrap().authenticators;
    assert_eq!(authenticators.len(), 1);
    assert_eq!(
        authenticators[0].kind,
        AuthenticatorType::LocalIdentityProvider
    );
    assert_eq!(authenticators[0].id.as_deref(), Some("alice@example.dk"));
    let record = client.employee(&uuid).await.unwrap();
    assert_eq!(
        record.identity_profile.unwrap().status.unwrap().as_str(),
        "Active"
    );
}

#[tokio::test]
async fn s1_second_create_with_same_cpr_is_a_conflict() {
    let sim = simulator().await;
    let client = client(&sim);
    client
        .create_employee(&create_request("0101901111", "alice@example.dk"))
        .await
        .unwrap();

    let again = client
        .create_employee(&create_request("0101901111", "other@example.dk"))
        .await;

    assert!(matches!(again, Err(ApiError::Conflict(_))), "{again:?}");
}

#[tokio::test]
async fn s7_delete_twice_gives_not_found_the_second_time() {
    let sim = simulator().await;
    let client = client(&sim);
    let uuid = client
        .create_employee(&create_request("0101901111", "a@example.dk"))
        .await
        .unwrap();

    client.delete(&uuid).await.unwrap();
    let second = client.delete(&uuid).await;

    assert!(matches!(second, Err(ApiError::NotFound)));
    assert!(sim.state().employees_of(CVR).is_empty());
}

#[tokio::test]
async fn s12_private_mitid_added_read_back_and_revoked() {
    let sim = simulator().await;
    let client = client(&sim);
    let uuid = client
        .create_employee(&create_request("0101901111", "a@example.dk"))
        .await
        .unwrap();
    let request = RequestCredentials {
        authenticator_setting_types: vec![AuthenticatorType::PrivateNemIdMitId],
        authenticator_types_to_ship: vec![],
        shared_credential_uuids: vec![],
        subject_name_id: None,
    };

    client.request_credentials(&uuid, &request).await.unwrap();
    client.request_credentials(&uuid, &request).await.unwrap();
    let list = client.authenticators(&uuid).await.unwrap().authenticators;
    let private: Vec<_> = list
        .iter()
        .filter(|a| a.kind == AuthenticatorType::PrivateMitId)
        .collect();
    assert_eq!(private.len(), 1, "repeat is a no-op");
    client
        .revoke_credential(&uuid, &private[0].uuid)
        .await
        .unwrap();

    let list = client.authenticators(&uuid).await.unwrap().authenticators;
    assert!(
        list.iter()
            .all(|a| a.kind != AuthenticatorType::PrivateMitId)
    );
}

#[tokio::test]
async fn s15_rights_scopes_and_delete_with_body() {
    let sim = simulator().await;
    let client = client(&sim);
    let uuid = client
        .create_employee(&create_request("0101901111", "a@example.dk"))
        .await
        .unwrap();
    let change = |kind: &str, value: &str| RoleChange {
        scope: Scope {
            kind: kind.to_owned(),
            value: value.to_owned(),
        },
        role_uuids: vec![ROLE.to_owned()],
    };

    client.add_roles(&uuid, &change("Cvr", CVR)).await.unwrap();
    client
        .add_roles(&uuid, &change("PU", "9000000001"))
        .await
        .unwrap();
    client
        .add_roles(&uuid, &change("SE", "91111111"))
        .await
        .unwrap();
    client
        .remove_roles(&uuid, &change("PU", "9000000001"))
        .await
        .unwrap();
    let foreign = client.add_roles(&uuid, &change("SE", "99999999")).await;

    assert!(matches!(
        foreign,
        Err(ApiError::Permanent { status: 400, .. })
    ));
    let roles = client.roles(&uuid).await.unwrap();
    let mut scopes: Vec<String> = roles
        .iter()
        .map(|r| r.scope.clone().unwrap().kind)
        .collect();
    scopes.sort();
    assert_eq!(scopes, ["Cvr", "SE"]);
    assert_eq!(client.role_catalogue().await.unwrap().roles.len(), 1);
    assert_eq!(client.se_numbers().await.unwrap()[0].se_number, "91111111");
    assert_eq!(
        client.production_units().await.unwrap()[0].p_number,
        9_000_000_001
    );
}

#[tokio::test]
async fn s13_allow_signing_toggle_reads_back() {
    let sim = simulator().await;
    let client = client(&sim);
    let uuid = client
        .create_employee(&create_request("0101901111", "a@example.dk"))
        .await
        .unwrap();

    client.set_allow_signing(&uuid, true).await.unwrap();

    let record = client.employee(&uuid).await.unwrap();
    assert_eq!(
        record.identity_permissions.unwrap().allow_signing,
        Some(true)
    );
}

#[tokio::test]
async fn s16_token_expiry_mid_run_refreshes_once_and_repeats() {
    let sim = simulator().await;
    let client = client(&sim);
    client.search().await.unwrap();
    sim.set_faults(vec![FaultRule::new(
        "/employee/search",
        Trigger::Nth { n: 1 },
        FaultKind::TokenExpiry,
    )]);

    let list = client.search().await.unwrap();

    assert!(list.employees.is_empty());
    assert_eq!(
        client
            .counters
            .tokens
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert_eq!(
        client
            .counters
            .unauthorized_refreshes
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn s22_unknown_response_fields_and_enum_values_are_tolerated() {
    let sim = simulator().await;
    sim.state().extra_fields = true;
    let client = client(&sim);
    let uuid = client
        .create_employee(&create_request("0101901111", "a@example.dk"))
        .await
        .unwrap();
    sim.state().employee_mut(CVR, &uuid).unwrap().status = "Frozen".to_owned();

    let record = client.employee(&uuid).await.unwrap();

    assert_eq!(
        record.identity_profile.unwrap().status.unwrap().as_str(),
        "Frozen"
    );
    assert!(
        !record.extra.is_empty(),
        "the simulator added an unknown field"
    );
}

#[tokio::test]
async fn s22_simulator_binds_keys_case_insensitively() {
    let sim = simulator().await;
    let mut state = sim.state();
    state.issue_token(CVR);
    let body = serde_json::json!({ "registeredIAL": "Substantial", "GIVENNAME": "Test",
        "surname": "T", "cprNumber": "0101901111", "EmailAddress": "t@example.dk" });
    let uuid = state.seed_employee(CVR, Default::default());

    let reply = state.handle(
        CVR,
        "PUT",
        &format!("/api/administration/identity/employee/{uuid}/profile"),
        &portner_idm_sync::sim::state::lower_keys(body),
    );

    assert_eq!(reply.status, 200);
    assert_eq!(state.employees_of(CVR)[0].given_name, "Test");
}

#[tokio::test]
async fn s23_wrong_ca_client_certificate_gets_no_token() {
    let sim = simulator().await;
    let stranger = TestCa::generate("Some other CA")
        .unwrap()
        .client(CVR)
        .unwrap();
    let client = client_for(
        &sim,
        ClientIdentity::Pem {
            cert: stranger.cert_pem.clone(),
            key: stranger.key_pem.clone(),
        },
    );

    let result = client.authenticate().await;

    assert!(
        matches!(result, Err(ApiError::Transient { status: 0, .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn s23_server_outside_the_trust_roots_is_refused() {
    let sim = simulator().await;
    let cert = sim.client_cert(CVR).unwrap();
    let other_root = TestCa::generate("Unrelated root").unwrap();
    let client = IdmClient::new(&ClientConfig {
        base_url: sim.base_url(),
        identity: ClientIdentity::Pem {
            cert: cert.cert_pem.clone(),
            key: cert.key_pem.clone(),
        },
        trust_roots_pem: other_root.root.cert_pem.clone(),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
    })
    .unwrap();

    assert!(client.authenticate().await.is_err());
    assert!(sim.state().tokens.is_empty());
}
