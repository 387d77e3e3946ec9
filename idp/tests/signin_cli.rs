//! `portner user activation-code` through the real binary: the code, the link, the Low cap
//! without identity proofing, and clear refusals (issue 3, item 2).

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;

use cli::{portner, text};

#[test]
fn activation_codes_print_code_and_link_and_say_when_the_account_is_capped_at_low() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let org = ["org", "add", "--cvr", "91234567", "--name", "Testfirma ApS"];
    assert!(
        portner(&data, &[&org[..], &["--suffix", "testfirma.dk"]].concat())
            .status
            .success()
    );
    let user = [
        "user",
        "add",
        "--org",
        "91234567",
        "--username",
        "ida",
        "--name",
        "Ida Test",
    ];
    let added = portner(
        &data,
        &[&user[..], &["--email", "ida@testfirma.dk"]].concat(),
    );
    assert!(added.status.success(), "{}", text(&added));

    let unproofed = portner(&data, &["user", "activation-code", "ida"]);
    let printed = text(&unproofed);
    assert!(unproofed.status.success(), "{printed}");
    assert!(
        printed.contains("link: https://idp.testfirma.dk/activate"),
        "{printed}"
    );
    assert!(printed.contains("at most NSIS Low"), "{printed}");
    let code = printed
        .lines()
        .find_map(|line| line.strip_prefix("activation code for ida: "))
        .unwrap();
    assert_eq!(code.len(), 29);

    let incomplete = portner(
        &data,
        &[
            "user",
            "activation-code",
            "ida",
            "--verified-by",
            "in_person",
        ],
    );
    assert_eq!(incomplete.status.code(), Some(2), "{}", text(&incomplete));
    let bad_level = [
        "user",
        "activation-code",
        "ida",
        "--verified-by",
        "in_person",
        "--reference",
        "pas",
        "--level",
        "medium",
    ];
    let refused = portner(&data, &bad_level);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("level"));

    let proofed = [
        "user",
        "activation-code",
        "ida",
        "--verified-by",
        "video_call",
        "--reference",
        "case 42",
        "--level",
        "substantial",
    ];
    let issued = portner(&data, &proofed);
    assert!(text(&issued).contains("identity level after activation: substantial"));
    let unknown = portner(&data, &["user", "activation-code", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown).contains("no user named nobody"));
}
