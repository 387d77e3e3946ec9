//! `portner user import FILE.csv [--dry-run]` (issue 5, item 6): users from a CSV file.
//!
//! The file is RFC 4180 CSV in UTF-8 with a header naming the columns `org`, `username`,
//! `name` and `email`, and optionally `cpr` and `rid` (a NemID RID), in any order; any other
//! column is refused, so a misspelt header never drops a field silently. Every row is checked
//! before anything is written: the values parse as they do for `portner user add`, the
//! organisation exists, and neither the username nor the RID is taken in the directory or by
//! an earlier row. If any row fails, the command lists every failing row with its line and
//! reason and imports nothing; otherwise all users are created in one transaction, each with
//! its sync action and audit event. A dry run does the same checks and writes nothing. Files
//! are capped at 64 MiB and 100,000 rows.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use portner_audit::AuditContext;
use portner_shared::domain::{Cpr, Cvr, Email, NewUser, Rid, Username};

use super::{CommandError, Environment};
use crate::cli::UserImportArgs;

/// Largest file read.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Most rows imported at once.
const MAX_ROWS: usize = 100_000;
/// The columns a file must have, and the one it may have.
const REQUIRED: [&str; 4] = ["org", "username", "name", "email"];
const OPTIONAL: [&str; 2] = ["cpr", "rid"];

/// A row that cannot be imported: its line in the file and why.
#[derive(Debug, Eq, PartialEq)]
struct Rejection {
    line: u64,
    reason: String,
}

pub(super) async fn run(
    args: UserImportArgs,
    environment: &Environment,
) -> Result<(), CommandError> {
    let text = read_file(&args.file)?;
    let (rows, mut rejections) = parse(&text)?;
    let total = rows.len() + rejections.len();
    rejections.extend(check_against_directory(&rows, environment).await?);
    rejections.sort_by_key(|rejection| rejection.line);

    for rejection in &rejections {
        out!("line {}: {}", rejection.line, rejection.reason);
    }
    if !rejections.is_empty() {
        return Err(CommandError::Failed(format!(
            "nothing imported: {} of {total} rows rejected (listed above)",
            rejections.len()
        )));
    }
    if args.dry_run {
        out!("dry run: all {total} rows would be imported; nothing was written");
        return Ok(());
    }

    let users: Vec<NewUser> = rows.into_iter().map(|(_, user)| user).collect();
    let bar = progress_bar(users.len());
    let created = crate::directory::create_users(
        &environment.store,
        environment.clock.as_ref(),
        &AuditContext::cli(),
        &users,
        &mut |done| bar.set_position(u64::try_from(done).unwrap_or(u64::MAX)),
    )
    .await?;
    bar.finish_and_clear();
    out!("{created} users imported, pending activation");
    Ok(())
}

pub(super) fn read_file(path: &Path) -> Result<String, CommandError> {
    let shown = path.display();
    let file = std::fs::File::open(path)
        .map_err(|error| CommandError::Failed(format!("{shown}: {error}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| CommandError::Failed(format!("{shown}: {error}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(CommandError::Failed(format!("{shown}: larger than 64 MiB")));
    }
    String::from_utf8(bytes).map_err(|_| CommandError::Failed(format!("{shown}: not UTF-8")))
}

/// The rows that parse, with their lines, and the rejections of those that do not.
type Parsed = (Vec<(u64, NewUser)>, Vec<Rejection>);

fn parse(text: &str) -> Result<Parsed, CommandError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let columns = columns(&mut reader)?;

    let mut rows = Vec::new();
    let mut rejections = Vec::new();
    let mut seen_usernames: HashMap<String, u64> = HashMap::new();
    let mut seen_rids: HashMap<Rid, u64> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        if index >= MAX_ROWS {
            return Err(CommandError::Failed(format!(
                "more than {MAX_ROWS} rows; import the file in parts"
            )));
        }
        let line = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(2);
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(line, csv::Position::line);
                rejections.push(Rejection {
                    line,
                    reason: format!("not a valid CSV row: {error}"),
                });
                continue;
            }
        };
        let user = match new_user(&columns, &record) {
            Ok(user) => user,
            Err(reason) => {
                rejections.push(Rejection { line, reason });
                continue;
            }
        };
        let username = user.username.as_str().to_lowercase();
        if let Some(first) = seen_usernames.insert(username, line) {
            rejections.push(Rejection {
                line,
                reason: format!("username {} repeats line {first}", user.username),
            });
        } else if let Some(first) = user.rid.clone().and_then(|rid| seen_rids.insert(rid, line)) {
            rejections.push(Rejection {
                line,
                reason: format!("rid repeats line {first}"),
            });
        } else {
            rows.push((line, user));
        }
    }
    Ok((rows, rejections))
}

/// Where each known column is; refuses a header that lacks one or names an unknown one.
fn columns(reader: &mut csv::Reader<&[u8]>) -> Result<HashMap<String, usize>, CommandError> {
    let header = reader
        .headers()
        .map_err(|error| CommandError::Failed(format!("the header is not valid CSV: {error}")))?;
    let mut columns = HashMap::new();
    for (index, name) in header.iter().enumerate() {
        let name = name.to_ascii_lowercase();
        if !REQUIRED.contains(&name.as_str()) && !OPTIONAL.contains(&name.as_str()) {
            return Err(CommandError::Failed(format!(
                "unknown column {name:?} in the header; columns are {}, and optionally {}",
                REQUIRED.join(", "),
                OPTIONAL.join(", ")
            )));
        }
        if columns.insert(name.clone(), index).is_some() {
            return Err(CommandError::Failed(format!(
                "column {name:?} appears twice"
            )));
        }
    }
    if let Some(missing) = REQUIRED.iter().find(|name| !columns.contains_key(**name)) {
        return Err(CommandError::Failed(format!(
            "the header has no {missing:?} column"
        )));
    }
    Ok(columns)
}

/// The user a row describes, or why it describes none.
fn new_user(
    columns: &HashMap<String, usize>,
    record: &csv::StringRecord,
) -> Result<NewUser, String> {
    let field = |name: &str| -> &str {
        columns
            .get(name)
            .and_then(|index| record.get(*index))
            .unwrap_or_default()
    };
    let org: Cvr = field("org")
        .parse()
        .map_err(|error| format!("org: {error}"))?;
    let username: Username = field("username")
        .parse()
        .map_err(|error| format!("username: {error}"))?;
    let email: Email = field("email")
        .parse()
        .map_err(|error| format!("email: {error}"))?;
    let cpr = match field("cpr") {
        "" => None,
        text => Some(
            text.parse::<Cpr>()
                .map_err(|_| "cpr: not a valid CPR number".to_owned())?,
        ),
    };
    let rid = match field("rid") {
        "" => None,
        text => Some(text.parse::<Rid>().map_err(|error| format!("{error}"))?),
    };
    let new = NewUser::new(org, username, field("name"), email, cpr);
    Ok(new.map_err(|error| format!("{error}"))?.with_rid(rid))
}

/// Rows whose organisation does not exist or whose username is taken already.
async fn check_against_directory(
    rows: &[(u64, NewUser)],
    environment: &Environment,
) -> Result<Vec<Rejection>, CommandError> {
    let mut tx = environment.store.read().await?;
    let organisations: HashSet<Cvr> = tx
        .organisations()
        .await?
        .into_iter()
        .map(|organisation| organisation.cvr)
        .collect();
    let bar = progress_bar(rows.len());
    let mut rejections = Vec::new();
    for (line, user) in rows {
        if !organisations.contains(&user.org) {
            rejections.push(Rejection {
                line: *line,
                reason: format!("org: no organisation {} is registered", user.org),
            });
        } else if tx.user_by_username(&user.username).await?.is_some() {
            rejections.push(Rejection {
                line: *line,
                reason: format!("username {} exists already", user.username),
            });
        } else if let Some(rid) = &user.rid
            && tx.rid_holder(rid).await?.is_some()
        {
            rejections.push(Rejection {
                line: *line,
                reason: "rid: held by another user already".to_owned(),
            });
        }
        bar.inc(1);
    }
    tx.rollback().await?;
    bar.finish_and_clear();
    Ok(rejections)
}

/// A bar on standard error for `total` rows; indicatif hides it when that is not a terminal.
fn progress_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(u64::try_from(total).unwrap_or(u64::MAX));
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec}") {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_broken_row_is_named_with_its_line_and_good_rows_parse() {
        let text = "username,org,name,email,cpr\n\
                    alma,91234567,Alma Test,alma@testfirma.dk,\n\
                    bo,9123,Bo Test,bo@testfirma.dk,\n\
                    \"carl\",91234567,\"Test, Carl\",carl@testfirma.dk,\n\
                    dina,91234567,Dina Test,not-an-address,\n\
                    ALMA,91234567,Alma Igen,alma2@testfirma.dk,\n\
                    eva,91234567,Eva Test\n\
                    finn,91234567,Finn Test,finn@testfirma.dk,12345\n";

        let (rows, rejections) = parse(text).unwrap();

        let lines: Vec<u64> = rows.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 4]);
        assert_eq!(rows[1].1.display_name, "Test, Carl");
        let rejected: Vec<u64> = rejections.iter().map(|rejection| rejection.line).collect();
        assert_eq!(rejected, [3, 5, 6, 7, 8], "{rejections:?}");
        assert!(rejections[0].reason.starts_with("org:"));
        assert!(rejections[2].reason.contains("repeats line 2"));
        assert!(rejections[3].reason.starts_with("not a valid CSV row"));
    }

    #[test]
    fn rids_are_read_checked_and_not_repeated() {
        let text = "username,org,name,email,rid\n\
                    alma,91234567,Alma Test,alma@testfirma.dk,12345678\n\
                    bo,91234567,Bo Test,bo@testfirma.dk,12345678\n\
                    carl,91234567,Carl Test,carl@testfirma.dk,not a rid\n\
                    dina,91234567,Dina Test,dina@testfirma.dk,\n";

        let (rows, rejections) = parse(text).unwrap();

        let lines: Vec<u64> = rows.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 5]);
        assert_eq!(rows[0].1.rid.as_ref().map(Rid::as_str), Some("12345678"));
        assert_eq!(rows[1].1.rid, None);
        assert_eq!(rejections[0].reason, "rid repeats line 2");
        assert!(rejections[1].reason.starts_with("rid:"), "{rejections:?}");
    }

    #[test]
    fn a_header_with_an_unknown_or_missing_column_is_refused() {
        for header in [
            "org,username,name,mail\n",
            "org,username,name\n",
            "org,org,name,email\n",
        ] {
            assert!(parse(header).is_err(), "{header}");
        }
    }
}
