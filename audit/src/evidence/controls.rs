//! The NSIS control matrix (EV-6, EV-15): each requirement of `oiosaml3-nsis.md` that concerns
//! the IdP, the Portner control that serves it, the value configured during the period, and the
//! evidence files and counts in this pack.
//!
//! Requirements whose controls belong to issues not merged yet (sign-in, helpdesk, sync) are
//! listed all the same, with the evidence files that will hold their events and the count
//! found; a zero count is itself information for the auditor.
//!
//! A control that rests on settings cites their keys; its row shows the values in force at the
//! period's start (the newest `CONFIGURATION_APPLIED` snapshot before it), every change during
//! the period with its time, and the values at its end, from [`PeriodHistory`]. Where no
//! snapshot precedes the period, the row says "not recorded before" and the start instead of
//! guessing from today's configuration.

use super::report::ReportContext;
use super::summary::Category;
use super::{csv_field, html_escape};
use crate::config_history::{Change, PeriodHistory, instant_text};

/// The settings a row cites.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Cited {
    /// The control rests on no setting.
    Nothing,
    /// These keys.
    Keys(&'static [&'static str]),
    /// Every setting: the row about the settings history itself.
    All,
}

/// A row's configured values over the period.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct ValueHistory {
    /// In force at the start; `None`: not recorded before it.
    pub(crate) at_start: Option<String>,
    /// Changes during the period.
    pub(crate) changes: Vec<Change>,
    /// In force at the end; `None`: not recorded before it.
    pub(crate) at_end: Option<String>,
}

/// One row of the matrix.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Control {
    pub(crate) requirement: &'static str,
    pub(crate) area: &'static str,
    pub(crate) requirement_text: &'static str,
    pub(crate) control: &'static str,
    pub(crate) configured: Option<ValueHistory>,
    pub(crate) evidence: &'static str,
    pub(crate) count: u64,
}

/// Builds the matrix from the period's tallies and configuration history.
pub(crate) fn matrix(context: &ReportContext<'_>) -> Vec<Control> {
    let tally = context.tally;
    let history = context.history;
    let row = |requirement, area, requirement_text, control, cited, evidence, count| Control {
        requirement,
        area,
        requirement_text,
        control,
        configured: value_history(history, cited),
        evidence,
        count,
    };

    vec![
        row(
            "IP-2",
            "Identity proofing",
            "Substantial proofing rests on MitID at Substantial or High",
            "Identity proofing recorded per user, method and level (IDENTITY_PROOFING_RECORDED)",
            Cited::Nothing,
            "summaries/helpdesk-actions.csv; inventory/users.csv",
            tally.count_kinds(&["PROOFING"]),
        ),
        row(
            "IP-3",
            "Identity proofing",
            "In-person proofing without authoritative check gives NONE",
            "Proofing method and resulting level are audited; level stored on the user",
            Cited::Nothing,
            "summaries/helpdesk-actions.csv",
            tally.count(Category::Helpdesk),
        ),
        row(
            "IP-4",
            "Identity proofing",
            "Person bound to the organisation from an authoritative source",
            "Users belong to a registered organisation (CVR); creation audited (USER_CREATED)",
            Cited::Nothing,
            "inventory/users.csv; summaries/admin-changes.csv",
            tally.count_kinds(&["USER_CREATED", "ORGANISATION_CREATED"]),
        ),
        row(
            "AU-5",
            "Authenticators",
            "Authenticator level fixed by the session it was bound in",
            "Each credential stores the level of its registration session",
            Cited::Keys(&["webauthn_user_verification"]),
            "inventory/credentials.csv",
            context.inventory.credentials,
        ),
        row(
            "AU-8",
            "Authenticators",
            "Suspension and revocation timely and effective",
            "Status changes end all sessions and are audited (USER_STATUS_CHANGED)",
            Cited::Nothing,
            "summaries/admin-changes.csv; summaries/sync-actions.csv",
            tally.count_kinds(&["STATUS_CHANGED", "REVOKED", "SUSPEND"]),
        ),
        row(
            "AU-9",
            "Authenticators",
            "Renewal and replacement meet the initial assurance",
            "Credential lifecycle events audited",
            Cited::Keys(&["activation_code_hours", "helpdesk_code_valid_minutes"]),
            "summaries/credential-lifecycle.csv",
            tally.count(Category::Credential),
        ),
        row(
            "PW-1",
            "Authentication",
            "Password policy owned by the IdP (length >= 15)",
            "Password policy from configuration",
            Cited::Keys(&["password_min_length", "password_history"]),
            "inventory/policy.json; summaries/credential-lifecycle.csv",
            tally.count_kinds(&["PASSWORD"]),
        ),
        row(
            "LK-1",
            "Authentication",
            "N wrong passwords lock the account for M minutes",
            "Lockout counters; lockouts audited",
            Cited::Keys(&["lockout_threshold", "lockout_minutes"]),
            "summaries/failures-and-lockouts-by-day.csv",
            tally.count(Category::Lockout),
        ),
        row(
            "AU-3",
            "Authentication",
            "Resists guessing and replay: failures are counted and limited",
            "Failed sign-ins and rejected factors audited with reason",
            Cited::Keys(&["throttle_failures_per_minute", "lockout_threshold"]),
            "summaries/failures-and-lockouts-by-day.csv",
            tally.count(Category::SignInFailure),
        ),
        row(
            "SS-1",
            "Session handling",
            "Session level = min(identity, password, second factor)",
            "Sign-ins audited with the level achieved",
            Cited::Keys(&["webauthn_user_verification"]),
            "summaries/sign-ins-by-day-and-level.csv",
            tally.count(Category::SignIn),
        ),
        row(
            "SS-2",
            "Session handling",
            "Password 180 min, second factor 60 min; expiry audited",
            "Session lifetimes from configuration",
            Cited::Keys(&[
                "session_password_fresh_minutes",
                "session_second_factor_fresh_minutes",
                "session_idle_minutes",
                "session_lifetime_minutes",
            ]),
            "inventory/policy.json; events.jsonl",
            tally.count_kinds(&["SESSION"]),
        ),
        row(
            "TM-1",
            "Session handling",
            "Clock skew 3-5 minutes; short assertion validity (TM-1 - TM-3)",
            "SAML validity windows and the IdP's entityID",
            Cited::Keys(&[
                "saml_clock_skew_minutes",
                "saml_assertion_lifetime_minutes",
                "saml_entity_id",
            ]),
            "events.jsonl (SAML_RESPONSE_ISSUED)",
            tally.count_kinds(&["SAML_RESPONSE_ISSUED"]),
        ),
        row(
            "HD-1",
            "Helpdesk",
            "Registrant records the checked ID document",
            "Helpdesk proofing audited with method, within the method's ceiling",
            Cited::Keys(&[
                "helpdesk_verification_valid_minutes",
                "helpdesk_in_person_level",
                "helpdesk_video_call_level",
                "helpdesk_call_back_level",
            ]),
            "summaries/helpdesk-actions.csv",
            tally.count(Category::Helpdesk),
        ),
        row(
            "HD-5",
            "Helpdesk",
            "Resets and unlocks audit-logged with the performer",
            "Actor recorded on every event",
            Cited::Nothing,
            "summaries/helpdesk-actions.csv; events.jsonl",
            tally.count_kinds(&["HELPDESK", "UNLOCK"]),
        ),
        row(
            "NL-6",
            "MitID Erhverv",
            "Users created, suspended and deleted through the IdM API",
            "Outbox actions and their results audited",
            Cited::Keys(&["sync_reconcile_interval_hours"]),
            "summaries/sync-actions.csv",
            tally.count(Category::Sync),
        ),
        row(
            "LG-1",
            "Logging",
            "Security events are logged",
            "Typed audit events in a hash chain",
            Cited::Nothing,
            "events.jsonl; summaries/events-by-kind.csv",
            tally.total,
        ),
        row(
            "LG-3",
            "Logging",
            "Retention >= 13 months (lifecycle), >= 180 days (SAML)",
            "Pruning only whole segments up to a signed checkpoint (AUDIT_PRUNED)",
            Cited::Keys(&[
                "audit_retention_lifecycle_days",
                "audit_retention_saml_days",
            ]),
            "events.jsonl (AUDIT_PRUNED)",
            tally.count_kinds(&["AUDIT_PRUNED"]),
        ),
        row(
            "LG-5",
            "Logging",
            "Tamper evidence: hash chain, verifier, off-box copies",
            "Signed checkpoints of the chain head; signed evidence pack",
            Cited::Keys(&[
                "audit_checkpoint_interval_secs",
                "audit_checkpoint_events",
                "audit_checkpoint_file",
                "audit_checkpoint_syslog",
            ]),
            "checkpoints.jsonl; chain-proof.jsonl; manifest.json; manifest.sig",
            context.checkpoints as u64,
        ),
        row(
            "LG-8",
            "Logging",
            "Access to the logs is restricted and itself logged",
            "Every export is an audit event (EVIDENCE_EXPORTED)",
            Cited::Nothing,
            "events.jsonl",
            tally.count_kinds(&["EVIDENCE_EXPORTED"]),
        ),
        row(
            "CR-6",
            "Keys",
            "Separate keys, access-restricted",
            "Keys generated into the data folder (mode 0600) and audited (KEY_GENERATED)",
            Cited::Nothing,
            "summaries/admin-changes.csv",
            tally.count_kinds(&["KEY_"]),
        ),
        row(
            "EV-7",
            "Evidence",
            "Settings with change history",
            "Settings snapshot at every start with changed values (CONFIGURATION_APPLIED)",
            Cited::All,
            "policy-snapshots.jsonl; inventory/policy.json",
            history.in_force().count() as u64,
        ),
        row(
            "EV-9",
            "Evidence",
            "Per person: level, proofing, authenticators",
            "User and credential inventories",
            Cited::Nothing,
            "inventory/users.csv; inventory/credentials.csv",
            context.inventory.users,
        ),
        row(
            "EV-10",
            "Evidence",
            "SP register and certificate change log",
            "Service-provider inventory with metadata hashes",
            Cited::Nothing,
            "inventory/service-providers.csv",
            context.inventory.service_providers,
        ),
        row(
            "EV-12",
            "Evidence",
            "Helpdesk activity report",
            "Helpdesk summary",
            Cited::Nothing,
            "summaries/helpdesk-actions.csv",
            tally.count(Category::Helpdesk),
        ),
        row(
            "EV-13",
            "Evidence",
            "Lockout and alarm statistics",
            "Failure and lockout summary",
            Cited::Nothing,
            "summaries/failures-and-lockouts-by-day.csv",
            tally.count(Category::SignInFailure) + tally.count(Category::Lockout),
        ),
        row(
            "EV-14",
            "Evidence",
            "Retention job log",
            "AUDIT_PRUNED events",
            Cited::Nothing,
            "events.jsonl",
            tally.count_kinds(&["AUDIT_PRUNED"]),
        ),
    ]
}

/// The history of the cited values, `None` for a row that cites none.
fn value_history(history: &PeriodHistory, cited: Cited) -> Option<ValueHistory> {
    match cited {
        Cited::Nothing => None,
        Cited::Keys(keys) => Some(ValueHistory {
            at_start: history.value_at_start(keys),
            changes: history.changes(keys),
            at_end: history.value_at_end(keys),
        }),
        // Every key would make an unreadable cell: name the snapshots and the keys each
        // changed instead; `policy-snapshots.jsonl` holds the values.
        Cited::All => {
            let name = |snapshot: &crate::config_history::Snapshot| {
                format!(
                    "snapshot {} of {}",
                    snapshot.seq,
                    time_text(snapshot.occurred_at)
                )
            };
            let mut before = history.at_start.as_ref().map(name);
            let mut changes = Vec::new();
            for snapshot in &history.during {
                let after = format!(
                    "{} (changed: {})",
                    name(snapshot),
                    snapshot.changed.join(", ")
                );
                changes.push(Change {
                    occurred_at: snapshot.occurred_at,
                    seq: snapshot.seq,
                    before: before.replace(name(snapshot)),
                    after,
                });
            }
            Some(ValueHistory {
                at_start: history.at_start.as_ref().map(name),
                changes,
                at_end: before,
            })
        }
    }
}

/// An event time as the matrix shows it.
fn time_text(millis: i64) -> String {
    portner_shared::clock::from_millis(millis)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// The three value cells of a row in English: start, changes, end.
fn value_cells(control: &Control, history: &PeriodHistory) -> [String; 3] {
    let Some(values) = &control.configured else {
        return ["n/a".to_owned(), "n/a".to_owned(), "n/a".to_owned()];
    };
    let unknown = |instant| format!("not recorded before {}", instant_text(instant));
    let changes = if values.changes.is_empty() {
        "none".to_owned()
    } else {
        values
            .changes
            .iter()
            .map(|change| {
                format!(
                    "{}: {} -> {}",
                    time_text(change.occurred_at),
                    change
                        .before
                        .clone()
                        .unwrap_or_else(|| "not recorded".to_owned()),
                    change.after
                )
            })
            .collect::<Vec<_>>()
            .join(" | ")
    };
    [
        values
            .at_start
            .clone()
            .unwrap_or_else(|| unknown(history.from)),
        changes,
        values.at_end.clone().unwrap_or_else(|| unknown(history.to)),
    ]
}

/// The matrix as CSV.
pub(crate) fn csv(matrix: &[Control], history: &PeriodHistory) -> String {
    let mut text = String::from(
        "requirement,area,requirement_text,portner_control,value_at_period_start,\
         changes_in_period,value_at_period_end,evidence,count\n",
    );
    for control in matrix {
        let [start, changes, end] = value_cells(control, history);
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            control.requirement,
            csv_field(control.area),
            csv_field(control.requirement_text),
            csv_field(control.control),
            csv_field(&start),
            csv_field(&changes),
            csv_field(&end),
            csv_field(control.evidence),
            control.count
        ));
    }
    text
}

/// One value cell in HTML: Danish and English where the text is Portner's own.
fn value_html(value: Option<&String>, instant: chrono::DateTime<chrono::Utc>) -> String {
    value.map_or_else(
        || {
            let when = instant_text(instant);
            format!(
                "<em class=\"unrecorded\">ikke registreret før {when} / not recorded before \
                 {when}</em>"
            )
        },
        |text| html_escape(text),
    )
}

/// The changes cell in HTML: one list item per change, time first.
fn changes_html(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "ingen / none".to_owned();
    }
    let mut html = String::from("<ul class=\"changes\">");
    for change in changes {
        let before = change
            .before
            .as_deref()
            .map_or_else(|| "ikke registreret / not recorded".to_owned(), html_escape);
        html.push_str(&format!(
            "<li><time>{}</time>: {before} → {}</li>",
            html_escape(&time_text(change.occurred_at)),
            html_escape(&change.after)
        ));
    }
    html.push_str("</ul>");
    html
}

/// The matrix as an HTML table (used in both `controls.html` and the report).
pub(crate) fn table(matrix: &[Control], history: &PeriodHistory) -> String {
    let mut html = String::from(
        "<table id=\"control-matrix\"><thead><tr><th>Krav / Requirement</th>\
         <th>Område / Area</th><th>Kontrol i Portner / Portner control</th>\
         <th>Værdi ved periodens start / Value at period start</th>\
         <th>Ændringer i perioden / Changes in period</th>\
         <th>Værdi ved periodens slut / Value at period end</th>\
         <th>Evidens / Evidence</th><th>Antal / Count</th></tr></thead><tbody>",
    );
    for control in matrix {
        let (start, changes, end) = match &control.configured {
            None => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
            Some(values) => (
                value_html(values.at_start.as_ref(), history.from),
                changes_html(&values.changes),
                value_html(values.at_end.as_ref(), history.to),
            ),
        };
        html.push_str(&format!(
            "<tr><td><strong>{}</strong><br>{}</td><td>{}</td><td>{}</td><td>{start}</td>\
             <td>{changes}</td><td>{end}</td><td><code>{}</code></td>\
             <td class=\"num\">{}</td></tr>",
            html_escape(control.requirement),
            html_escape(control.requirement_text),
            html_escape(control.area),
            html_escape(control.control),
            html_escape(control.evidence),
            control.count
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// A standalone page with the matrix.
pub(crate) fn html_page(matrix: &[Control], history: &PeriodHistory) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"da\"><head><meta charset=\"utf-8\">\
         <title>Kontrolmatrix / Control matrix</title><style>{}</style></head><body>\
         <h1>Kontrolmatrix / Control matrix (NSIS)</h1>{}</body></html>",
        super::report::STYLE,
        table(matrix, history)
    )
}
