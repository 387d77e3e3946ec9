//! The NSIS control matrix (EV-6, EV-15): each requirement of `oiosaml3-nsis.md` that concerns
//! the IdP, the Portner control that serves it, the value configured during the period, and the
//! evidence files and counts in this pack.
//!
//! Requirements whose controls belong to issues not merged yet (sign-in, helpdesk, sync) are
//! listed all the same, with the evidence files that will hold their events and the count
//! found; a zero count is itself information for the auditor. The "configured value" column
//! shows the setting at export time and, as its change history, the number of policy- or
//! configuration-change events in the period.

use super::report::ReportContext;
use super::summary::Category;
use super::{csv_field, html_escape};

/// One row of the matrix.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Control {
    pub(crate) requirement: &'static str,
    pub(crate) area: &'static str,
    pub(crate) requirement_text: &'static str,
    pub(crate) control: &'static str,
    pub(crate) configured: String,
    pub(crate) evidence: &'static str,
    pub(crate) count: u64,
}

/// Builds the matrix from the period's tallies and the settings.
pub(crate) fn matrix(context: &ReportContext<'_>) -> Vec<Control> {
    let tally = context.tally;
    let setting = |key: &str| {
        context
            .inventory
            .settings
            .iter()
            .find(|(name, _)| name == key)
            .map_or_else(
                || "not configurable in this build".to_owned(),
                |(_, value)| value.clone(),
            )
    };
    let changes = tally.count_kinds(&["POLICY", "CONFIG"]);
    let with_history = |value: String| format!("{value} ({changes} change events in period)");
    let row = |requirement, area, requirement_text, control, configured, evidence, count| Control {
        requirement,
        area,
        requirement_text,
        control,
        configured,
        evidence,
        count,
    };

    vec![
        row(
            "IP-2",
            "Identity proofing",
            "Substantial proofing rests on MitID at Substantial or High",
            "Identity proofing recorded per user with method and level (IDENTITY_PROOFING_RECORDED)",
            "-".to_owned(),
            "summaries/helpdesk-actions.csv; inventory/users.csv",
            tally.count_kinds(&["PROOFING"]),
        ),
        row(
            "IP-3",
            "Identity proofing",
            "In-person proofing without authoritative check gives NONE",
            "Proofing method and resulting level are audited; level stored on the user",
            "-".to_owned(),
            "summaries/helpdesk-actions.csv",
            tally.count(Category::Helpdesk),
        ),
        row(
            "IP-4",
            "Identity proofing",
            "Person bound to the organisation from an authoritative source",
            "Users belong to a registered organisation (CVR); creation audited (USER_CREATED)",
            "-".to_owned(),
            "inventory/users.csv; summaries/admin-changes.csv",
            tally.count_kinds(&["USER_CREATED", "ORGANISATION_CREATED"]),
        ),
        row(
            "AU-5",
            "Authenticators",
            "Authenticator level fixed by the session it was bound in",
            "Each credential stores the level of its registration session",
            "-".to_owned(),
            "inventory/credentials.csv",
            context.inventory.credentials,
        ),
        row(
            "AU-8",
            "Authenticators",
            "Suspension and revocation timely and effective",
            "Status changes end all sessions and are audited (USER_STATUS_CHANGED)",
            "-".to_owned(),
            "summaries/admin-changes.csv; summaries/sync-actions.csv",
            tally.count_kinds(&["STATUS_CHANGED", "REVOKED", "SUSPEND"]),
        ),
        row(
            "AU-9",
            "Authenticators",
            "Renewal and replacement meet the initial assurance",
            "Credential lifecycle events audited",
            "-".to_owned(),
            "summaries/credential-lifecycle.csv",
            tally.count(Category::Credential),
        ),
        row(
            "PW-1",
            "Authentication",
            "Password policy owned by the IdP (length >= 15)",
            "Password policy from configuration",
            with_history(setting("password_min_length")),
            "inventory/policy.json; summaries/credential-lifecycle.csv",
            tally.count_kinds(&["PASSWORD"]),
        ),
        row(
            "LK-1",
            "Authentication",
            "N wrong passwords lock the account for M minutes",
            "Lockout counters; lockouts audited",
            with_history(setting("lockout_threshold")),
            "summaries/failures-and-lockouts-by-day.csv",
            tally.count(Category::Lockout),
        ),
        row(
            "AU-3",
            "Authentication",
            "Resists guessing and replay: failures are counted and limited",
            "Failed sign-ins and rejected factors audited with reason",
            "-".to_owned(),
            "summaries/failures-and-lockouts-by-day.csv",
            tally.count(Category::SignInFailure),
        ),
        row(
            "SS-1",
            "Session handling",
            "Session level = min(identity, password, second factor)",
            "Sign-ins audited with the level achieved",
            "-".to_owned(),
            "summaries/sign-ins-by-day-and-level.csv",
            tally.count(Category::SignIn),
        ),
        row(
            "SS-2",
            "Session handling",
            "Password 180 min, second factor 60 min; expiry audited",
            "Session lifetimes from configuration",
            with_history(setting("session_password_minutes")),
            "inventory/policy.json; events.jsonl",
            tally.count_kinds(&["SESSION"]),
        ),
        row(
            "HD-1",
            "Helpdesk",
            "Registrant records the checked ID document",
            "Helpdesk proofing audited with method",
            "-".to_owned(),
            "summaries/helpdesk-actions.csv",
            tally.count(Category::Helpdesk),
        ),
        row(
            "HD-5",
            "Helpdesk",
            "Resets and unlocks audit-logged with the performer",
            "Actor recorded on every event",
            "-".to_owned(),
            "summaries/helpdesk-actions.csv; events.jsonl",
            tally.count_kinds(&["HELPDESK", "UNLOCK"]),
        ),
        row(
            "NL-6",
            "MitID Erhverv",
            "Users created, suspended and deleted through the IdM API",
            "Outbox actions and their results audited",
            "-".to_owned(),
            "summaries/sync-actions.csv",
            tally.count(Category::Sync),
        ),
        row(
            "LG-1",
            "Logging",
            "Security events are logged",
            "Typed audit events in a hash chain",
            "-".to_owned(),
            "events.jsonl; summaries/events-by-kind.csv",
            tally.total,
        ),
        row(
            "LG-3",
            "Logging",
            "Retention >= 13 months (lifecycle), >= 180 days (SAML)",
            "Pruning only whole segments up to a signed checkpoint (AUDIT_PRUNED)",
            with_history(format!(
                "lifecycle {} days, SAML {} days",
                context.request.retention.lifecycle_days, context.request.retention.saml_days
            )),
            "events.jsonl (AUDIT_PRUNED)",
            tally.count_kinds(&["AUDIT_PRUNED"]),
        ),
        row(
            "LG-5",
            "Logging",
            "Tamper evidence: hash chain, verifier, off-box copies",
            "Signed checkpoints of the chain head; signed evidence pack",
            with_history(format!(
                "every {} s or {} events",
                setting("audit_checkpoint_interval_secs"),
                setting("audit_checkpoint_events")
            )),
            "checkpoints.jsonl; chain-proof.jsonl; manifest.json; manifest.sig",
            context.checkpoints as u64,
        ),
        row(
            "LG-8",
            "Logging",
            "Access to the logs is restricted and itself logged",
            "Every export is an audit event (EVIDENCE_EXPORTED)",
            "-".to_owned(),
            "events.jsonl",
            tally.count_kinds(&["EVIDENCE_EXPORTED"]),
        ),
        row(
            "CR-6",
            "Keys",
            "Separate keys, access-restricted",
            "Keys generated into the data folder (mode 0600) and audited (KEY_GENERATED)",
            "-".to_owned(),
            "summaries/admin-changes.csv",
            tally.count_kinds(&["KEY_"]),
        ),
        row(
            "EV-7",
            "Evidence",
            "Settings with change history",
            "Policy snapshot and configuration-change events",
            with_history("see policy.json".to_owned()),
            "inventory/policy.json",
            context.inventory.settings.len() as u64,
        ),
        row(
            "EV-9",
            "Evidence",
            "Per person: level, proofing, authenticators",
            "User and credential inventories",
            "-".to_owned(),
            "inventory/users.csv; inventory/credentials.csv",
            context.inventory.users,
        ),
        row(
            "EV-10",
            "Evidence",
            "SP register and certificate change log",
            "Service-provider inventory with metadata hashes",
            "-".to_owned(),
            "inventory/service-providers.csv",
            context.inventory.service_providers,
        ),
        row(
            "EV-12",
            "Evidence",
            "Helpdesk activity report",
            "Helpdesk summary",
            "-".to_owned(),
            "summaries/helpdesk-actions.csv",
            tally.count(Category::Helpdesk),
        ),
        row(
            "EV-13",
            "Evidence",
            "Lockout and alarm statistics",
            "Failure and lockout summary",
            "-".to_owned(),
            "summaries/failures-and-lockouts-by-day.csv",
            tally.count(Category::SignInFailure) + tally.count(Category::Lockout),
        ),
        row(
            "EV-14",
            "Evidence",
            "Retention job log",
            "AUDIT_PRUNED events",
            "-".to_owned(),
            "events.jsonl",
            tally.count_kinds(&["AUDIT_PRUNED"]),
        ),
    ]
}

/// The matrix as CSV.
pub(crate) fn csv(matrix: &[Control]) -> String {
    let mut text = String::from(
        "requirement,area,requirement_text,portner_control,configured_value,evidence,count\n",
    );
    for control in matrix {
        text.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            control.requirement,
            csv_field(control.area),
            csv_field(control.requirement_text),
            csv_field(control.control),
            csv_field(&control.configured),
            csv_field(control.evidence),
            control.count
        ));
    }
    text
}

/// The matrix as an HTML table (used in both `controls.html` and the report).
pub(crate) fn table(matrix: &[Control]) -> String {
    let mut html = String::from(
        "<table id=\"control-matrix\"><thead><tr><th>Krav / Requirement</th>\
         <th>Område / Area</th><th>Kontrol i Portner / Portner control</th>\
         <th>Konfigureret værdi / Configured value</th><th>Evidens / Evidence</th>\
         <th>Antal / Count</th></tr></thead><tbody>",
    );
    for control in matrix {
        html.push_str(&format!(
            "<tr><td><strong>{}</strong><br>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><code>{}</code></td><td class=\"num\">{}</td></tr>",
            html_escape(control.requirement),
            html_escape(control.requirement_text),
            html_escape(control.area),
            html_escape(control.control),
            html_escape(&control.configured),
            html_escape(control.evidence),
            control.count
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// A standalone page with the matrix.
pub(crate) fn html_page(matrix: &[Control]) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"da\"><head><meta charset=\"utf-8\">\
         <title>Kontrolmatrix / Control matrix</title><style>{}</style></head><body>\
         <h1>Kontrolmatrix / Control matrix (NSIS)</h1>{}</body></html>",
        super::report::STYLE,
        table(matrix)
    )
}
