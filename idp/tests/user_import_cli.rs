//! `portner user import` through the real binary (issue 5, item 6): a file with broken rows
//! changes nothing and names every broken row; a dry run writes nothing; a good file of
//! 10,000 users is imported whole, each user with its audit record.

// Test helpers outside #[test] functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;

use std::fmt::Write as _;
use std::path::Path;

use cli::{portner, succeeds, text};

const HEADER: &str = "org,username,name,email\n";

fn users(data: &Path) -> usize {
    let listed = succeeds(data, &["user", "list", "--json"]);
    serde_json::from_str::<Vec<serde_json::Value>>(&listed)
        .unwrap()
        .len()
}

fn good_rows(count: usize) -> String {
    let mut file = HEADER.to_owned();
    for index in 0..count {
        writeln!(
            file,
            "91234567,user{index},\"Test, Bruger {index}\",user{index}@testfirma.dk"
        )
        .unwrap();
    }
    file
}

#[test]
fn broken_rows_change_nothing_a_dry_run_writes_nothing_and_10000_users_import_whole() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let org = ["org", "add", "--cvr", "91234567", "--name", "Testfirma ApS"];
    succeeds(&data, &[&org[..], &["--suffix", "testfirma.dk"]].concat());

    let broken = folder.path().join("broken.csv");
    let mut rows = good_rows(3);
    rows.push_str("98765432,nobody,No Org,nobody@testfirma.dk\n");
    rows.push_str("91234567,user1,Twice,twice@testfirma.dk\n");
    rows.push_str("91234567,bad,Bad Mail,not-an-address\n");
    std::fs::write(&broken, rows).unwrap();
    let refused = portner(&data, &["user", "import", broken.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let report = text(&refused);
    for expected in [
        "line 5: org: no organisation 98765432",
        "line 6: username user1 repeats line 3",
        "line 7: email:",
        "nothing imported: 3 of 6 rows rejected",
    ] {
        assert!(report.contains(expected), "{expected}: {report}");
    }
    assert_eq!(users(&data), 0);

    let good = folder.path().join("good.csv");
    std::fs::write(&good, good_rows(10_000)).unwrap();
    let dry = succeeds(
        &data,
        &["user", "import", "--dry-run", good.to_str().unwrap()],
    );
    assert!(dry.contains("all 10000 rows would be imported"), "{dry}");
    assert_eq!(users(&data), 0);

    let imported = succeeds(&data, &["user", "import", good.to_str().unwrap()]);
    assert!(imported.contains("10000 users imported"), "{imported}");
    assert_eq!(users(&data), 10_000);
    let verified = succeeds(&data, &["audit", "verify"]);
    assert!(verified.contains("audit chain OK"), "{verified}");

    let again = portner(&data, &["user", "import", good.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("line 2: username user0 exists already"));
    assert_eq!(users(&data), 10_000);
}
