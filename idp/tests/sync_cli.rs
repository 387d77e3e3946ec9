//! `portner sync enable|plan|run|status` against the simulator, through the real binary
//! (issue 6 "Done when": plan and run create activated users matching the desired state).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use portner_idm_sync::api::CatalogueRole;
use portner_idm_sync::sim::{SimConfig, SimOrganisation, Simulator};
use portner_shared::crypto::FieldCipher;
use serde_json::Value;

const CVR: &str = "91234567";

fn portner(data: &Path, cpr_key: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_portner"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("PORTNER_CPR_KEY", cpr_key)
        .env("PORTNER_LOG_LEVEL", "error")
        .output()
        .unwrap();
    // Errors are written to stderr; a test reads both.
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_run_and_status_create_activated_users() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let cpr_key = FieldCipher::generate_hex().unwrap();
    let role = |uuid: &str, name: &str| CatalogueRole {
        uuid: uuid.into(),
        name: Some(name.into()),
        description: None,
        is_basic_package: None,
    };
    let org = SimOrganisation {
        cvr: CVR.into(),
        se_numbers: vec![],
        p_units: vec![],
        catalogue: vec![
            role("6f1c9a52-0000-4000-8000-000000000001", "Digital Post"),
            role("a key with spaces", "Refused"),
        ],
    };
    let sim = Simulator::start(SimConfig {
        organisations: vec![org],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let cert = sim.client_cert(CVR).unwrap();
    let (pem, key, roots) = (
        folder.path().join("c.pem"),
        folder.path().join("c.key"),
        folder.path().join("ca.pem"),
    );
    std::fs::write(&pem, &cert.cert_pem).unwrap();
    std::fs::write(&key, &cert.key_pem).unwrap();
    std::fs::write(&roots, &sim.ca.root.cert_pem).unwrap();

    let run = |args: &[&str]| portner(&data, &cpr_key, args);
    assert!(
        run(&[
            "org",
            "add",
            "--cvr",
            CVR,
            "--name",
            "K",
            "--suffix",
            "k.example.dk"
        ])
        .0
    );
    for (name, cpr) in [("anna", "0101801234"), ("bo", "0202811234")] {
        let email = format!("{name}@k.example.dk");
        let added = run(&[
            "user",
            "add",
            "--org",
            CVR,
            "--username",
            name,
            "--name",
            "Anna Bo Hansen",
            "--email",
            &email,
            "--cpr",
            cpr,
        ]);
        assert!(added.0);
    }
    let enable = [
        "sync",
        "enable",
        "--org",
        CVR,
        "--base-url",
        &sim.base_url(),
        "--client-cert",
        pem.to_str().unwrap(),
        "--client-key",
        key.to_str().unwrap(),
        "--trust-roots",
        roots.to_str().unwrap(),
    ];
    // A scope group that does not exist is refused, and the sync stays off.
    let (ok, out) = run(&[&enable[..], &["--group", "Nobody"]].concat());
    assert!(!ok && out.contains("has no group named"), "{out}");
    let (ok, out) = run(&enable);
    assert!(ok, "{out}");
    assert!(out.contains("2 users queued"), "{out}");

    let (ok, out) = run(&["sync", "plan", "--json"]);
    assert!(ok, "{out}");
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["queued"].as_array().unwrap().len(), 2);
    assert!(
        sim.state().employees_of(CVR).is_empty(),
        "a plan changes nothing remotely"
    );

    let (ok, out) = run(&["sync", "run", "--quiet"]);
    assert!(ok, "{out}");
    assert!(out.contains("2 succeeded"), "{out}");

    // The role catalogue becomes assignable rights; a key Portner cannot store is skipped,
    // and a second import finds nothing new.
    let (ok, out) = run(&["sync", "import-rights", "--org", CVR]);
    assert!(ok, "{out}");
    assert!(
        out.contains("2 roles offered, 1 added, 0 renamed, 1 skipped"),
        "{out}"
    );
    let (ok, out) = run(&["sync", "import-rights", "--json"]);
    assert!(ok, "{out}");
    let imports: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(imports[0]["import"]["added"], 0, "{out}");

    let mut ids: Vec<String> = sim
        .state()
        .employees_of(CVR)
        .iter()
        .map(|e| {
            assert_eq!(e.status, "Active");
            e.local_id().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["anna@k.example.dk", "bo@k.example.dk"]);

    let (ok, out) = run(&["sync", "status", "--json"]);
    assert!(ok, "{out}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["organisations"][0]["linked"], 2);
    let (ok, out) = run(&["sync", "retry", "1"]);
    assert!(!ok, "a succeeded action cannot be retried: {out}");
    let (ok, out) = run(&["sync", "plan", "--json"]);
    assert!(ok);
    let plan: Value = serde_json::from_str(&out).unwrap();
    let report = &plan["organisations"][0]["report"];
    assert_eq!(report["repairs"].as_array().unwrap().len(), 0, "{out}");
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_activates_imported_identities_and_binds_them() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let cpr_key = FieldCipher::generate_hex().unwrap();
    let org = SimOrganisation {
        cvr: CVR.into(),
        se_numbers: vec![],
        p_units: vec![],
        catalogue: vec![],
    };
    let sim = Simulator::start(SimConfig {
        organisations: vec![org],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let cert = sim.client_cert(CVR).unwrap();
    let (pem, key, roots) = (
        folder.path().join("c.pem"),
        folder.path().join("c.key"),
        folder.path().join("ca.pem"),
    );
    std::fs::write(&pem, &cert.cert_pem).unwrap();
    std::fs::write(&key, &cert.key_pem).unwrap();
    std::fs::write(&roots, &sim.ca.root.cert_pem).unwrap();
    // An identity imported from NemID: pending, with a RID, no authenticator.
    let imported = portner_idm_sync::sim::SimEmployee {
        status: "Pending".into(),
        given_name: "Carl".into(),
        surname: "Nielsen".into(),
        cpr: "0303751234".into(),
        email: "carl@k.example.dk".into(),
        rid: Some("12345678".into()),
        ..Default::default()
    };
    let uuid = sim.state().seed_employee(CVR, imported);

    let run = |args: &[&str]| portner(&data, &cpr_key, args);
    assert!(
        run(&[
            "org",
            "add",
            "--cvr",
            CVR,
            "--name",
            "K",
            "--suffix",
            "k.example.dk"
        ])
        .0
    );
    let (ok, out) = run(&[
        "sync",
        "enable",
        "--org",
        CVR,
        "--base-url",
        &sim.base_url(),
        "--client-cert",
        pem.to_str().unwrap(),
        "--client-key",
        key.to_str().unwrap(),
        "--trust-roots",
        roots.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    // The local user, with the same e-mail and no CPR. Its queued CREATE is not drained here;
    // once migration has linked the user, that action only brings the profile in step.
    assert!(
        run(&[
            "user",
            "add",
            "--org",
            CVR,
            "--username",
            "carl",
            "--name",
            "Carl Nielsen",
            "--email",
            "carl@k.example.dk"
        ])
        .0
    );

    // Signaturcentralen's export names the RID's owner: a second local user with another
    // e-mail. The RID is matched first, so the identity goes to her, not to carl.
    assert!(
        run(&[
            "user",
            "add",
            "--org",
            CVR,
            "--username",
            "cnielsen",
            "--name",
            "Carla Nielsen",
            "--email",
            "carla@k.example.dk"
        ])
        .0
    );
    let rid_file = folder.path().join("rids.csv");
    std::fs::write(&rid_file, "username,rid\ncnielsen,12345678\n").unwrap();
    let rid_path = rid_file.to_str().unwrap();
    let (ok, out) = run(&[
        "sync",
        "migrate",
        "--org",
        CVR,
        "--dry-run",
        "--rid-file",
        rid_path,
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("cnielsen") && out.contains("RID"), "{out}");
    std::fs::write(
        &rid_file,
        "username,rid\ncnielsen,12345678\nanna,12345678\n",
    )
    .unwrap();
    let (ok, _) = run(&[
        "sync",
        "migrate",
        "--org",
        CVR,
        "--dry-run",
        "--rid-file",
        rid_path,
    ]);
    assert!(!ok, "a RID listed twice is refused");

    let (ok, out) = run(&["sync", "migrate", "--org", CVR, "--dry-run"]);
    assert!(ok, "{out}");
    assert!(out.contains(&uuid) && out.contains("e-mail"), "{out}");
    assert!(
        out.contains("1 of 1 imported identities would be activated"),
        "{out}"
    );
    assert_eq!(
        sim.state().employees_of(CVR)[0].status,
        "Pending",
        "a dry run changes nothing"
    );

    // A RID stored on a user counts as the export's would, and an export may not move it.
    let (ok, out) = run(&[
        "user",
        "add",
        "--org",
        CVR,
        "--username",
        "stored",
        "--name",
        "Carl Stored",
        "--email",
        "stored@k.example.dk",
        "--rid",
        "12345678",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["sync", "migrate", "--org", CVR, "--dry-run"]);
    assert!(ok && out.contains("stored") && out.contains("RID"), "{out}");
    std::fs::write(&rid_file, "username,rid\ncnielsen,12345678\n").unwrap();
    let moving = ["sync", "migrate", "--org", CVR, "--rid-file", rid_path];
    let (ok, out) = run(&moving);
    assert!(!ok && out.contains("holds"), "{out}");

    let (ok, out) = run(&["sync", "migrate", "--org", CVR]);
    assert!(ok, "{out}");

    let remote = sim.state().employees_of(CVR)[0].clone();
    assert_eq!(remote.status, "Active");
    assert_eq!(remote.local_id(), Some("stored@k.example.dk"));
    let (ok, out) = run(&["sync", "status", "--json"]);
    assert!(ok);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["organisations"][0]["linked"], 1);
}
