//! `portner user grant|revoke` through the real binary: bootstrapping the first
//! administrator, idempotent grants, per-organisation roles and clear refusals (issue 5).

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;

use cli::{portner, succeeds, text};

#[test]
fn grant_and_revoke_bootstrap_roles_and_refuse_what_does_not_exist() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    for (cvr, suffix) in [("91234567", "testfirma.dk"), ("92345678", "andenfirma.dk")] {
        let org = ["org", "add", "--cvr", cvr, "--name", "Testfirma ApS"];
        succeeds(&data, &[&org[..], &["--suffix", suffix]].concat());
    }
    let user = ["user", "add", "--org", "91234567", "--username", "ida"];
    succeeds(
        &data,
        &[
            &user[..],
            &["--name", "Ida Test", "--email", "ida@testfirma.dk"],
        ]
        .concat(),
    );

    let granted = succeeds(&data, &["user", "grant", "ida", "administrator"]);
    assert!(
        granted.contains("ida is now administrator of 91234567"),
        "{granted}"
    );
    let again = succeeds(&data, &["user", "grant", "ida", "administrator"]);
    assert!(again.contains("already"), "{again}");
    let elsewhere = succeeds(
        &data,
        &["user", "grant", "ida", "helpdesk", "--org", "92345678"],
    );
    assert!(elsewhere.contains("helpdesk of 92345678"), "{elsewhere}");

    let revoked = succeeds(&data, &["user", "revoke", "ida", "administrator"]);
    assert!(revoked.contains("no longer administrator"), "{revoked}");
    let absent = succeeds(&data, &["user", "revoke", "ida", "auditor"]);
    assert!(absent.contains("nothing changed"), "{absent}");

    let bad_role = portner(&data, &["user", "grant", "ida", "root"]);
    assert_eq!(bad_role.status.code(), Some(2), "{}", text(&bad_role));
    assert!(text(&bad_role).contains("role"));
    let nobody = portner(&data, &["user", "grant", "nobody", "auditor"]);
    assert_eq!(nobody.status.code(), Some(1), "{}", text(&nobody));
    let no_org = portner(
        &data,
        &["user", "grant", "ida", "auditor", "--org", "93456789"],
    );
    assert_eq!(no_org.status.code(), Some(1), "{}", text(&no_org));
}
