//! `portner scim token create|list|revoke` through the real binary: the token is printed once
//! and never listed, names are unique per organisation, and refusals are clear (issue 5,
//! item 5).

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

    let created = succeeds(
        &data,
        &[
            "scim", "token", "create", "--org", "91234567", "--name", "hr", "--days", "30",
        ],
    );
    let secret = created
        .lines()
        .find(|line| line.starts_with("portner_scim_"))
        .unwrap_or_else(|| panic!("no token printed: {created}"));
    assert!(created.contains("not shown again"), "{created}");

    let listed = succeeds(&data, &["scim", "token", "list"]);
    assert!(
        listed.contains("hr") && listed.contains("usable"),
        "{listed}"
    );
    assert!(!listed.contains(secret), "the list shows the secret");
    let json = succeeds(
        &data,
        &["scim", "token", "list", "--json", "--org", "91234567"],
    );
    assert!(
        !json.contains(secret) && json.contains("\"name\": \"hr\""),
        "{json}"
    );

    let again = portner(
        &data,
        &[
            "scim", "token", "create", "--org", "91234567", "--name", "hr",
        ],
    );
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));

    let revoked = succeeds(
        &data,
        &[
            "scim", "token", "revoke", "--org", "91234567", "--name", "hr",
        ],
    );
    assert!(revoked.contains("is revoked"), "{revoked}");
    let twice = succeeds(
        &data,
        &[
            "scim", "token", "revoke", "--org", "91234567", "--name", "hr",
        ],
    );
    assert!(twice.contains("nothing changed"), "{twice}");
    let listed = succeeds(&data, &["scim", "token", "list"]);
    assert!(listed.contains("revoked"), "{listed}");
}

#[test]
fn bad_arguments_and_unknown_organisations_or_tokens_are_refused() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let org = ["org", "add", "--cvr", "91234567", "--name", "Testfirma ApS"];
    succeeds(&data, &[&org[..], &["--suffix", "testfirma.dk"]].concat());

    for days in ["0", "731"] {
        let output = portner(
            &data,
            &[
                "scim", "token", "create", "--org", "91234567", "--name", "hr", "--days", days,
            ],
        );
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    }
    let no_name = portner(
        &data,
        &[
            "scim", "token", "create", "--org", "91234567", "--name", " ",
        ],
    );
    assert_eq!(no_name.status.code(), Some(2), "{}", text(&no_name));
    let bad_cvr = portner(
        &data,
        &["scim", "token", "create", "--org", "12", "--name", "hr"],
    );
    assert_eq!(bad_cvr.status.code(), Some(2), "{}", text(&bad_cvr));
    let no_org = portner(
        &data,
        &[
            "scim", "token", "create", "--org", "92345678", "--name", "hr",
        ],
    );
    assert_eq!(no_org.status.code(), Some(1), "{}", text(&no_org));
    let no_token = portner(
        &data,
        &[
            "scim", "token", "revoke", "--org", "91234567", "--name", "x",
        ],
    );
    assert_eq!(no_token.status.code(), Some(1), "{}", text(&no_token));
}
