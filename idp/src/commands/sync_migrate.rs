//! `portner sync migrate`: migration from NemID medarbejdersignatur (issue 6, item 2).
//!
//! MitID Erhverv lists the identities it imported from NemID (M2, pending, no authenticator).
//! Each is matched to one local user that has no link yet, by the keys of
//! mitid-erhverv-idm-api.md §6 L8 in order: the RID, as stored on the user (`portner user add
//! --rid`, the `rid` column of `portner user import`) or given in Signaturcentralen's export of
//! usernames and RIDs (`--rid-file`); then the e-mail address; then the CPR number. An export
//! that gives a stored RID to another user is refused before anything is called. A key that
//! matches more than one user matches none, and a RID the export does not list (or lists for
//! a user that is already linked) falls through to the next key. A matched identity is
//! activated with Portner as Local IdP (M1) and bound to the user's `subjectNameId` (C2a),
//! then linked locally with `SYNC_IDENTITY_ADOPTED`. `--dry-run` prints the same table and
//! changes nothing.

use std::collections::HashMap;
use std::path::Path;

use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_idm_sync::api::{
    ActivationOrder, AuthenticatorType, EmployeeSummary, RequestCredentials,
};
use portner_idm_sync::desired;
use portner_idm_sync::worker::WorkerSettings;
use portner_shared::domain::{Cpr, Cvr, SyncLink, User, Username};

use super::sync::{failed, settings_for, worker};
use super::{CommandError, Environment};
use crate::cli::SyncMigrateArgs;

/// Most rows a RID export may hold; far above any organisation's employee count.
const MAX_RID_ROWS: usize = 1_000_000;
/// Longest RID accepted; NemID RIDs are short digit strings.
const MAX_RID_CHARS: usize = 32;

/// A local user without a link, with the CPR number if one is stored.
type Candidate = (User, Option<Cpr>);

/// How an identity was matched, for the table.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(super) enum Rule {
    Rid,
    Email,
    Cpr,
}

impl Rule {
    const fn label(self) -> &'static str {
        match self {
            Self::Rid => "RID",
            Self::Email => "e-mail",
            Self::Cpr => "CPR",
        }
    }
}

/// Reads Signaturcentralen's export: RID to username. Every broken row is named with its line.
///
/// # Errors
///
/// The file is missing, too large, not CSV with `username` and `rid` columns, or has a row
/// that is empty, too long, or repeats a RID or username.
pub(super) fn read_rid_file(path: &Path) -> Result<HashMap<String, Username>, CommandError> {
    let text = super::user_import::read_file(path)?;
    parse_rids(&text).map_err(|problem| failed(format!("{}: {problem}", path.display())))
}

fn parse_rids(text: &str) -> Result<HashMap<String, Username>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|error| error.to_string())?.clone();
    let position = |name: &str| {
        headers
            .iter()
            .position(|header| header.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("no `{name}` column"))
    };
    let (username_at, rid_at) = (position("username")?, position("rid")?);

    let mut rids = HashMap::new();
    let mut usernames = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        if index >= MAX_RID_ROWS {
            return Err(format!("more than {MAX_RID_ROWS} rows"));
        }
        let line = index.saturating_add(2);
        let record = record.map_err(|error| format!("line {line}: {error}"))?;
        let rid = record.get(rid_at).unwrap_or_default();
        if rid.is_empty() || rid.chars().count() > MAX_RID_CHARS {
            return Err(format!("line {line}: the RID is empty or too long"));
        }
        let username: Username = record
            .get(username_at)
            .unwrap_or_default()
            .parse()
            .map_err(|_| format!("line {line}: not a valid username"))?;
        if let Some(first) = usernames.insert(username.to_string(), line) {
            return Err(format!("line {line}: username repeated from line {first}"));
        }
        if rids.insert(rid.to_owned(), username).is_some() {
            return Err(format!("line {line}: RID repeated"));
        }
    }
    Ok(rids)
}

/// The position in `unlinked` of the one user `identity` matches, and by which key (see the
/// module docs).
pub(super) fn match_identity(
    identity: &EmployeeSummary,
    unlinked: &[Candidate],
    rids: &HashMap<String, Username>,
) -> Option<(usize, Rule)> {
    let by_rid = identity
        .rid
        .as_deref()
        .and_then(|rid| rids.get(rid))
        .and_then(|username| {
            unlinked
                .iter()
                .position(|(user, _)| &user.username == username)
        });
    if let Some(index) = by_rid {
        return Some((index, Rule::Rid));
    }

    let email = identity.email_address.as_deref().unwrap_or_default().trim();
    let same_email = |(user, _): &Candidate| {
        !email.is_empty() && user.email.as_str().eq_ignore_ascii_case(email)
    };
    if let Some(index) = only(unlinked, same_email) {
        return index.map(|index| (index, Rule::Email));
    }

    let cpr = identity
        .profile
        .as_ref()
        .and_then(|p| p.cpr_number.as_deref())?;
    let same_cpr = |(_, stored): &Candidate| stored.as_ref().is_some_and(|s| s.expose() == cpr);
    only(unlinked, same_cpr)
        .flatten()
        .map(|index| (index, Rule::Cpr))
}

/// `None` when no candidate passes `test`, `Some(Some(index))` when exactly one does, and
/// `Some(None)` when several do (an ambiguous key decides nothing, and is not passed over
/// for a weaker one either).
fn only(unlinked: &[Candidate], test: impl Fn(&Candidate) -> bool) -> Option<Option<usize>> {
    let mut found = unlinked
        .iter()
        .enumerate()
        .filter(|(_, candidate)| test(candidate));
    let (first, _) = found.next()?;
    Some(found.next().is_none().then_some(first))
}

/// The command.
pub(super) async fn migrate(
    args: SyncMigrateArgs,
    environment: &Environment,
) -> Result<(), CommandError> {
    let org: Cvr = args.org.parse()?;
    let mut rids = stored_rids(environment, &org).await?;
    if let Some(path) = &args.rid_file {
        merge_rid_file(&mut rids, read_rid_file(path)?)?;
    }
    let settings = settings_for(environment, Some(org.as_str()))
        .await?
        .remove(0);
    let worker = worker(environment, WorkerSettings::default());
    let client = worker.client(&settings).map_err(failed)?;
    let imported = client.migrated_identities().await.map_err(failed)?;
    let (organisation, unlinked) = unlinked_users(environment, &org).await?;

    out!("{:<38} {:<24} MATCHED BY", "IDENTITY", "LOCAL USER");
    let mut unlinked = unlinked;
    let mut matched = 0;
    for identity in &imported.employees {
        let Some((index, rule)) = match_identity(identity, &unlinked, &rids) else {
            out!("{:<38} {:<24} no unique match", identity.uuid, "-");
            continue;
        };
        // A user is matched once: the next identity chooses among the rest.
        let (user, _) = unlinked.swap_remove(index);
        out!(
            "{:<38} {:<24} {}",
            identity.uuid,
            user.username.as_str(),
            rule.label()
        );
        matched += 1;
        if args.dry_run {
            continue;
        }
        let subject = desired::subject_name_id(&user, &organisation);
        bind(&client, identity, &subject).await?;
        link(environment, &user, &org, identity, subject, rule).await?;
    }

    let verb = if args.dry_run {
        "would be activated"
    } else {
        "activated and bound"
    };
    out!(
        "{matched} of {} imported identities {verb}",
        imported.employees.len()
    );
    Ok(())
}

async fn unlinked_users(
    environment: &Environment,
    org: &Cvr,
) -> Result<(portner_shared::domain::Organisation, Vec<Candidate>), CommandError> {
    let mut tx = environment.store.read().await?;
    let organisation = tx
        .organisation(org)
        .await?
        .ok_or_else(|| failed("no such organisation"))?;
    let mut unlinked = Vec::new();
    for user in tx.users(Some(org)).await? {
        if tx.sync_link(user.id).await?.is_none() {
            let cpr = tx.user_cpr(user.id).await?;
            unlinked.push((user, cpr));
        }
    }
    tx.rollback().await?;
    Ok((organisation, unlinked))
}

/// The RIDs stored on the organisation's users, RID to username.
async fn stored_rids(
    environment: &Environment,
    org: &Cvr,
) -> Result<HashMap<String, Username>, CommandError> {
    let mut tx = environment.store.read().await?;
    let held = tx.organisation_rids(org).await?;
    let usernames: HashMap<_, _> = tx
        .users(Some(org))
        .await?
        .into_iter()
        .map(|user| (user.id, user.username))
        .collect();
    tx.rollback().await?;
    Ok(held
        .into_iter()
        .filter_map(|(rid, user_id)| Some((rid, usernames.get(&user_id)?.clone())))
        .collect())
}

/// Adds an export's RIDs to the stored ones.
///
/// # Errors
///
/// The export gives a stored RID to another user: one of the two is wrong, and guessing
/// could activate someone's identity for another person.
fn merge_rid_file(
    rids: &mut HashMap<String, Username>,
    from_file: HashMap<String, Username>,
) -> Result<(), CommandError> {
    for (rid, username) in from_file {
        match rids.get(&rid) {
            Some(held) if *held != username => {
                return Err(failed(format!(
                    "the RID file gives {username} a RID the directory holds for {held}"
                )));
            }
            _ => {
                rids.insert(rid, username);
            }
        }
    }
    Ok(())
}

/// M1 then C2a: activate with Portner as Local IdP and bind the `subjectNameId`.
async fn bind(
    client: &portner_idm_sync::client::IdmClient,
    identity: &EmployeeSummary,
    subject: &str,
) -> Result<(), CommandError> {
    let order = ActivationOrder {
        authenticator_setting_types: vec![AuthenticatorType::LocalIdentityProvider],
        user_uuids: vec![identity.uuid.clone()],
    };
    client.activate(&order).await.map_err(failed)?;
    let request = RequestCredentials {
        authenticator_setting_types: vec![AuthenticatorType::LocalIdentityProvider],
        authenticator_types_to_ship: Vec::new(),
        shared_credential_uuids: Vec::new(),
        subject_name_id: Some(subject.to_owned()),
    };
    client
        .request_credentials(&identity.uuid, &request)
        .await
        .map_err(failed)
}

/// Records the link and its audit event in one transaction.
async fn link(
    environment: &Environment,
    user: &User,
    org: &Cvr,
    identity: &EmployeeSummary,
    subject_name_id: String,
    rule: Rule,
) -> Result<(), CommandError> {
    let now = environment.clock.now();
    let mut tx = environment.store.begin().await?;
    let link = SyncLink {
        user_id: user.id,
        org: org.clone(),
        employee_uuid: identity.uuid.clone(),
        remote_status: "Active".to_owned(),
        subject_name_id,
        profile_hash: String::new(),
        linked_at: now,
    };
    tx.set_sync_link(&link, now).await?;
    let event = AuditEvent::SyncIdentityAdopted {
        user_id: user.id,
        employee_uuid: identity.uuid.clone(),
        rule: format!("MIGRATION_{}", rule.label().to_uppercase().replace('-', "")),
    };
    let context = AuditContext::cli();
    portner_audit::append(&mut tx, now, &context, &Subject::User(user.id), &event).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use portner_idm_sync::api::SummaryProfile;
    use portner_shared::domain::{NsisLevel, UserId, UserStatus};

    use super::*;

    fn candidate(username: &str, email: &str, cpr: Option<&str>) -> Candidate {
        let user = User {
            id: UserId::random(),
            org: "91234567".parse().unwrap(),
            username: username.parse().unwrap(),
            display_name: "Test Person".to_owned(),
            email: email.parse().unwrap(),
            has_cpr: cpr.is_some(),
            status: UserStatus::PendingActivation,
            identity_level: NsisLevel::Low,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        (user, cpr.map(|cpr| cpr.parse().unwrap()))
    }

    fn identity(rid: Option<&str>, email: &str, cpr: Option<&str>) -> EmployeeSummary {
        EmployeeSummary {
            uuid: "b3d0c2a4-0000-4000-8000-000000000001".to_owned(),
            rid: rid.map(str::to_owned),
            email_address: Some(email.to_owned()),
            profile: Some(SummaryProfile {
                cpr_number: cpr.map(str::to_owned),
                ..SummaryProfile::default()
            }),
            ..EmployeeSummary::default()
        }
    }

    #[test]
    fn the_rid_wins_then_the_email_then_the_cpr() {
        let unlinked = [
            candidate("anna", "anna@k.example.dk", Some("0101701234")),
            candidate("bent", "shared@k.example.dk", None),
            candidate("carl", "carl@k.example.dk", Some("0202801234")),
        ];
        let rids = parse_rids("username,rid\ncarl,12345678\n").unwrap();

        // The RID points at carl although the e-mail is anna's.
        let by_rid = identity(Some("12345678"), "anna@k.example.dk", None);
        assert_eq!(
            match_identity(&by_rid, &unlinked, &rids),
            Some((2, Rule::Rid))
        );
        // An unknown RID falls through to the e-mail, then to the CPR number.
        let by_email = identity(Some("99999999"), "ANNA@k.example.dk", None);
        assert_eq!(
            match_identity(&by_email, &unlinked, &rids),
            Some((0, Rule::Email))
        );
        let by_cpr = identity(None, "someone@else.dk", Some("0202801234"));
        assert_eq!(
            match_identity(&by_cpr, &unlinked, &rids),
            Some((2, Rule::Cpr))
        );
        let nothing = identity(None, "someone@else.dk", Some("0303901234"));
        assert_eq!(match_identity(&nothing, &unlinked, &rids), None);
    }

    #[test]
    fn an_ambiguous_key_matches_no_one() {
        let unlinked = [
            candidate("anna", "shared@k.example.dk", Some("0101701234")),
            candidate("bent", "shared@k.example.dk", None),
        ];
        // Two users share the e-mail: no match, and the CPR is not tried instead.
        let shared = identity(None, "shared@k.example.dk", Some("0101701234"));
        assert_eq!(match_identity(&shared, &unlinked, &HashMap::new()), None);
    }

    #[test]
    fn an_export_may_add_rids_but_not_move_a_stored_one() {
        let anna: Username = "anna".parse().unwrap();
        let mut rids = HashMap::from([("111".to_owned(), anna.clone())]);
        let agreeing = parse_rids("username,rid\nanna,111\nbent,222\n").unwrap();
        merge_rid_file(&mut rids, agreeing).unwrap();
        assert_eq!(rids.len(), 2);
        let moving = parse_rids("username,rid\nbent,111\n").unwrap();
        assert!(merge_rid_file(&mut rids, moving).is_err());
        assert_eq!(rids["111"], anna);
    }

    #[test]
    fn broken_rid_files_are_refused_with_their_line() {
        let missing = parse_rids("user,rid\nanna,1\n").unwrap_err();
        assert!(missing.contains("`username`"), "{missing}");
        let empty = parse_rids("username,rid\nanna,\n").unwrap_err();
        assert!(empty.starts_with("line 2"), "{empty}");
        let repeated = parse_rids("rid,username\n1,anna\n2,anna\n").unwrap_err();
        assert_eq!(repeated, "line 3: username repeated from line 2");
        let same_rid = parse_rids("username,rid\nanna,1\nbent,1\n").unwrap_err();
        assert_eq!(same_rid, "line 3: RID repeated");
        let bad_name = parse_rids("username,rid\nnot a name!,1\n").unwrap_err();
        assert!(bad_name.contains("line 2"), "{bad_name}");
        let long = format!("username,rid\nanna,{}\n", "9".repeat(40));
        assert!(parse_rids(&long).is_err());
        let good = parse_rids("Username,RID\nanna,1\n").unwrap();
        assert_eq!(good["1"].as_str(), "anna");
    }
}
