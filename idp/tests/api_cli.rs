//! `portner api token create|list|revoke` through the real binary: the token is printed once
//! and never listed, names are unique per user, scope and validity are checked, revoking is
//! idempotent, and refusals are clear (issue 5, item 4).

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;

use cli::{portner, succeeds, text};

#[test]
fn a_token_is_shown_once_listed_without_its_secret_and_revoked() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let org = ["org", "add", "--cvr", "91234567", "--name", "Testfirma ApS"];
    succeeds(&data, &[&org[..], &["--suffix", "testfirma.dk"]].concat());
    let user = [
        "user",
        "add",
        "--org",
        "91234567",
        "--username",
        "boss",
        "--name",
        "Boss",
    ];
    succeeds(
        &data,
        &[&user[..], &["--email", "boss@testfirma.dk"]].concat(),
    );

    let create = [
        "api", "token", "create", "--user", "boss", "--name", "report",
    ];
    let created = succeeds(&data, &create);
    let secret = created
        .lines()
        .find(|line| line.starts_with("portner_api_"))
        .unwrap_or_else(|| panic!("no token printed: {created}"));
    assert!(
        created.contains("read") && created.contains("not shown again"),
        "{created}"
    );

    let listed = succeeds(&data, &["api", "token", "list", "--user", "boss"]);
    assert!(
        listed.contains("report") && listed.contains("usable"),
        "{listed}"
    );
    assert!(!listed.contains(secret), "the list shows the secret");
    let json = succeeds(&data, &["api", "token", "list", "--user", "boss", "--json"]);
    assert!(
        !json.contains(secret) && json.contains("\"scope\": \"read\""),
        "{json}"
    );

    let again = portner(&data, &create);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    let bad_scope = portner(&data, &[&create[..], &["--scope", "admin"]].concat());
    assert_ne!(bad_scope.status.code(), Some(0), "{}", text(&bad_scope));
    let too_long = portner(&data, &[&create[..], &["--days", "400"]].concat());
    assert_ne!(too_long.status.code(), Some(0), "{}", text(&too_long));
    let nobody = portner(
        &data,
        &["api", "token", "create", "--user", "ghost", "--name", "x"],
    );
    assert_eq!(nobody.status.code(), Some(1), "{}", text(&nobody));

    let revoke = [
        "api", "token", "revoke", "--user", "boss", "--name", "report",
    ];
    assert!(succeeds(&data, &revoke).contains("is revoked"));
    assert!(succeeds(&data, &revoke).contains("already revoked"));
    let listed = succeeds(&data, &["api", "token", "list", "--user", "boss"]);
    assert!(listed.contains("revoked"), "{listed}");
}
