//! The auditor console's pages: `GET /audit` (chain status, periods, export form) and
//! `POST /audit/export` (the pack as a download, or the form again with its errors).
//!
//! Errors are tied to their fields (`aria-invalid`, `aria-describedby`) and listed in a
//! summary at the top that links to each field. Every form carries the CSRF token (ASVS 3.5);
//! every page and the pack itself are `no-store`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, html};
use portner_audit::evidence::{MonthCount, PeriodProblem, first_whole_day};
use portner_audit::{Break, ChainVerdict, CheckpointBreak};
use serde::Deserialize;

use super::{AuditDesk, ChainStatus, ExportError, Pack};
use crate::app::AppState;
use crate::console::access::{self, Operator};
use crate::console::page::{self, Lang, Text};
use crate::signin::SignInError;

/// `GET /audit`: the chain's status, the exportable months and the export form.
pub async fn overview(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
) -> Response {
    let lang = operator.lang;
    let Some(desk) = state.audit.clone() else {
        return notice(StatusCode::SERVICE_UNAVAILABLE, lang, Words::NotConfigured);
    };
    let status = match super::chain_status(&state, &desk).await {
        Ok(status) => status,
        Err(error) => return failed(lang, error),
    };
    let now = state.clock.now();
    let months = match portner_audit::evidence::months(&state.store, desk.retention(), now).await {
        Ok(months) => months,
        Err(error) => return failed(lang, error.into()),
    };
    let (token, cookie) = match page::csrf(&headers) {
        Ok(found) => found,
        Err(error) => return access::internal(lang, &error),
    };
    let earliest = earliest_start(&desk, now);
    let body = html! {
        (status_markup(lang, &status, &desk))
        (periods_markup(lang, &token, &months))
        (form_markup(lang, &token, &FormState::blank(earliest)))
    };
    page::respond(
        StatusCode::OK,
        page::frame(lang, Text::Audit, "/audit", body),
        cookie,
    )
}

/// The export form as submitted.
#[derive(Debug, Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// `POST /audit/export`: the pack as `application/zip`, or the form with its errors.
pub async fn export(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ExportForm>,
) -> Response {
    let lang = operator.lang;
    if !page::csrf_valid(&headers, &form.csrf) {
        return notice(StatusCode::FORBIDDEN, lang, Words::Forbidden);
    }
    let Some(desk) = state.audit.clone() else {
        return notice(StatusCode::SERVICE_UNAVAILABLE, lang, Words::NotConfigured);
    };
    let earliest = earliest_start(&desk, state.clock.now());
    let mut shown = FormState {
        from: form.from.trim().to_owned(),
        to: form.to.trim().to_owned(),
        earliest,
        from_error: None,
        to_error: None,
    };
    let from = parse_day(
        &shown.from,
        FieldError::FromMissing,
        FieldError::FromMalformed,
    );
    let to = parse_day(&shown.to, FieldError::ToMissing, FieldError::ToMalformed);
    let (from, to) = match (from, to) {
        (Ok(from), Ok(to)) => (from, to),
        (from, to) => {
            shown.from_error = from.err();
            shown.to_error = to.err();
            return form_page(lang, &form.csrf, &shown);
        }
    };

    match super::export(&state, &desk, &operator, from, to).await {
        Ok(pack) => download(pack),
        Err(ExportError::Period(problem)) => {
            match problem {
                PeriodProblem::BeforeRetention { .. } => {
                    shown.from_error = Some(FieldError::Period(problem));
                }
                PeriodProblem::Empty | PeriodProblem::TooLong { .. } => {
                    shown.to_error = Some(FieldError::Period(problem));
                }
            }
            form_page(lang, &form.csrf, &shown)
        }
        Err(ExportError::Busy) => notice(StatusCode::CONFLICT, lang, Words::Busy),
        Err(error) => failed(lang, error),
    }
}

/// The earliest date an export may start on now.
fn earliest_start(desk: &AuditDesk, now: DateTime<Utc>) -> DateTime<Utc> {
    first_whole_day(desk.retention().lifecycle_cutoff(now))
}

/// A form date, `YYYY-MM-DD` (what a date field submits), as midnight UTC.
fn parse_day(
    text: &str,
    missing: FieldError,
    malformed: FieldError,
) -> Result<DateTime<Utc>, FieldError> {
    if text.is_empty() {
        return Err(missing);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc())
        .ok_or(malformed)
}

/// The pack as a download; its file was unlinked already, so nothing is left behind.
fn download(pack: Pack) -> Response {
    let stream = tokio_util::io::ReaderStream::new(pack.file);
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(pack.size));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The name is built from two formatted dates: ASCII letters, digits and dashes only.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", pack.name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// Logs a failure and answers with the generic page.
fn failed(lang: Lang, error: ExportError) -> Response {
    let error = match error {
        ExportError::Audit(error) => SignInError::Audit(error),
        other => SignInError::Internal(other.to_string()),
    };
    access::internal(lang, &error)
}

/// A page holding one message.
fn notice(status: StatusCode, lang: Lang, words: Words) -> Response {
    let body = html! {
        p role="alert" { (words.text(lang)) }
        p { a href="/audit" { (Words::Back.text(lang)) } }
    };
    page::respond(status, page::frame(lang, Text::Audit, "/audit", body), None)
}

fn status_markup(lang: Lang, status: &ChainStatus, desk: &AuditDesk) -> Markup {
    let retired = desk.retired_fingerprints();
    let verification = &status.verification;
    let anchor = &status.anchor;
    html! {
        section aria-labelledby="chain-heading" {
            h2 id="chain-heading" { (Words::ChainStatus.text(lang)) }
            @match verification.chain {
                ChainVerdict::Intact { .. } if verification.is_intact() => {
                    p id="chain-verdict" role="status" { strong { (Words::Intact.text(lang)) } }
                }
                ChainVerdict::Intact { .. } => {
                    p id="chain-verdict" role="status" {
                        strong { (Words::CheckpointsFailed.text(lang)) }
                    }
                }
                ChainVerdict::Broken { seq, problem } => {
                    p id="chain-verdict" role="status" {
                        strong { (Words::Broken.text(lang)) } " "
                        (Words::AtRecord.text(lang)) " " span id="broken-seq" { (seq) } ": "
                        (break_text(lang, problem))
                    }
                }
            }
            @if !verification.checkpoint_problems.is_empty() {
                ul id="checkpoint-problems" {
                    @for found in &verification.checkpoint_problems {
                        li {
                            (Words::Checkpoint.text(lang)) " " (found.seq) ": "
                            (checkpoint_break_text(lang, found.problem))
                        }
                    }
                }
            }
            dl {
                dt { (Words::Records.text(lang)) }
                dd id="record-count" {
                    @match verification.chain {
                        ChainVerdict::Intact { count } => (count),
                        ChainVerdict::Broken { .. } => "–",
                    }
                }
                dt { (Words::Anchor.text(lang)) }
                dd id="anchor" {
                    (Words::Sequence.text(lang)) " " (anchor.seq)
                    @if anchor.seq == 0 { " (" (Words::ChainStart.text(lang)) ")" }
                    @else { ", SHA-256 " code { (hex::encode(&anchor.hash)) } }
                }
                dt { (Words::NewestCheckpoint.text(lang)) }
                dd id="newest-checkpoint" {
                    @match &status.newest {
                        Some(checkpoint) => {
                            (Words::Sequence.text(lang)) " " (checkpoint.seq) ", "
                            time datetime=(instant(checkpoint.created_at)) {
                                (instant(checkpoint.created_at))
                            }
                        }
                        None => (Words::NoCheckpoint.text(lang)),
                    }
                }
                dt { (Words::CheckpointsChecked.text(lang)) }
                dd id="checkpoints-checked" {
                    (verification.checkpoints_checked)
                    @if status.external_file { " (" (Words::WithFile.text(lang)) ")" }
                }
                dt { (Words::Fingerprint.text(lang)) }
                dd { code id="fingerprint" { (desk.fingerprint()) } }
                @if !retired.is_empty() {
                    dt { (Words::Retired.text(lang)) }
                    dd {
                        ul id="retired-fingerprints" {
                            @for fingerprint in &retired { li { code { (fingerprint) } } }
                        }
                    }
                }
            }
            p { small { (Words::FingerprintHint.text(lang)) } }
        }
    }
}

fn instant(millis: i64) -> String {
    portner_shared::clock::from_millis(millis).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn periods_markup(lang: Lang, token: &str, months: &[MonthCount]) -> Markup {
    html! {
        section aria-labelledby="periods-heading" {
            h2 id="periods-heading" { (Words::Periods.text(lang)) }
            @if months.is_empty() {
                p { (Words::NoPeriods.text(lang)) }
            } @else {
                table id="periods" {
                    thead { tr {
                        th scope="col" { (Words::Month.text(lang)) }
                        th scope="col" { (Words::Period.text(lang)) }
                        th scope="col" { (Words::Events.text(lang)) }
                        th scope="col" { (Words::Export.text(lang)) }
                    } }
                    tbody {
                        @for month in months {
                            (month_row(lang, token, month))
                        }
                    }
                }
            }
        }
    }
}

/// One month with a button that exports exactly it.
fn month_row(lang: Lang, token: &str, month: &MonthCount) -> Markup {
    let from = month.from.format("%Y-%m-%d").to_string();
    let to = month.to.format("%Y-%m-%d").to_string();
    html! {
        tr {
            th scope="row" { (month.month) }
            td { (from) " – " (to) }
            td { (month.events) }
            td {
                form method="post" action="/audit/export" {
                    input type="hidden" name="csrf" value=(token);
                    input type="hidden" name="from" value=(from);
                    input type="hidden" name="to" value=(to);
                    button type="submit" aria-label={
                        (Words::ExportMonth.text(lang)) " " (month.month)
                    } { (Words::Export.text(lang)) }
                }
            }
        }
    }
}

/// What the export form shows: the entered values and their errors.
#[derive(Debug)]
struct FormState {
    from: String,
    to: String,
    earliest: DateTime<Utc>,
    from_error: Option<FieldError>,
    to_error: Option<FieldError>,
}

impl FormState {
    fn blank(earliest: DateTime<Utc>) -> Self {
        Self {
            from: String::new(),
            to: String::new(),
            earliest,
            from_error: None,
            to_error: None,
        }
    }
}

/// The export form alone, with its errors: the answer to a refused export (400).
fn form_page(lang: Lang, token: &str, shown: &FormState) -> Response {
    let errors = [("from", &shown.from_error), ("to", &shown.to_error)];
    let body = html! {
        div id="error-summary" role="alert" tabindex="-1" {
            h2 { (Words::ErrorSummary.text(lang)) }
            ul {
                @for (field, error) in errors {
                    @if let Some(error) = error {
                        li { a href={ "#" (field) } { (error.text(lang)) } }
                    }
                }
            }
        }
        (form_markup(lang, token, shown))
        p { a href="/audit" { (Words::Back.text(lang)) } }
    };
    page::respond(
        StatusCode::BAD_REQUEST,
        page::frame(lang, Text::Audit, "/audit", body),
        None,
    )
}

fn form_markup(lang: Lang, token: &str, shown: &FormState) -> Markup {
    let earliest = shown.earliest.format("%Y-%m-%d").to_string();
    html! {
        section aria-labelledby="export-heading" {
            h2 id="export-heading" { (Words::ExportPack.text(lang)) }
            p id="export-hint" { (Words::ExportHint.text(lang)) " " (earliest) "." }
            form method="post" action="/audit/export" aria-describedby="export-hint" {
                input type="hidden" name="csrf" value=(token);
                (date_field(lang, "from", Words::From, &shown.from, &earliest,
                    shown.from_error.as_ref()))
                (date_field(lang, "to", Words::To, &shown.to, &earliest,
                    shown.to_error.as_ref()))
                button type="submit" { (Words::ExportPack.text(lang)) }
            }
        }
    }
}

fn date_field(
    lang: Lang,
    name: &str,
    label: Words,
    value: &str,
    earliest: &str,
    error: Option<&FieldError>,
) -> Markup {
    let error_id = format!("{name}-error");
    html! {
        p {
            label for=(name) { (label.text(lang)) } br;
            @if let Some(error) = error {
                span id=(error_id) class="error" { (error.text(lang)) } br;
                input id=(name) name=(name) type="date" required min=(earliest) value=(value)
                    aria-invalid="true" aria-describedby=(error_id);
            } @else {
                input id=(name) name=(name) type="date" required min=(earliest) value=(value);
            }
        }
    }
}

fn break_text(lang: Lang, problem: Break) -> String {
    let danish = match problem {
        Break::ContentChanged => "indholdet passer ikke med sin hash (hændelsen er ændret)",
        Break::LinkBroken => "hænger ikke sammen med den forrige hændelse (flyttet eller indsat)",
        Break::Missing => "hændelsen mangler (slettet)",
        Break::Truncated => "kæden slutter før sit registrerede hoved (halen er slettet)",
        Break::HeadMismatch => "kædens hoved passer ikke med hændelserne (tilføjet eller ændret)",
    };
    match lang {
        Lang::Da => danish.to_owned(),
        Lang::En => problem.to_string(),
    }
}

fn checkpoint_break_text(lang: Lang, problem: CheckpointBreak) -> String {
    let danish = match problem {
        CheckpointBreak::BadSignature => {
            "signaturen kan ikke verificeres med revisionscertifikatet"
        }
        CheckpointBreak::HashDiffers => "hashen afviger fra kæden (hændelser er omskrevet)",
        CheckpointBreak::BeyondHead => "ligger efter kædens sidste hændelse (kæden er afkortet)",
        CheckpointBreak::MissingFromStore => {
            "findes i den eksterne checkpoint-fil, men ikke i databasen"
        }
        CheckpointBreak::AnchorUnsigned => "kædens anker er ikke et gyldigt signeret checkpoint",
    };
    match lang {
        Lang::Da => danish.to_owned(),
        Lang::En => problem.to_string(),
    }
}

/// What is wrong with one field of the export form.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum FieldError {
    FromMissing,
    FromMalformed,
    ToMissing,
    ToMalformed,
    /// The period check refused the dates (reversed, too long, before retention).
    Period(PeriodProblem),
}

impl FieldError {
    fn text(self, lang: Lang) -> String {
        let (da, en) = match self {
            Self::FromMissing => (
                "Angiv en startdato.".to_owned(),
                "Enter a start date.".to_owned(),
            ),
            Self::FromMalformed => (
                "Skriv startdatoen som ÅÅÅÅ-MM-DD, fx 2026-01-01.".to_owned(),
                "Write the start date as YYYY-MM-DD, e.g. 2026-01-01.".to_owned(),
            ),
            Self::ToMissing => (
                "Angiv en slutdato.".to_owned(),
                "Enter an end date.".to_owned(),
            ),
            Self::ToMalformed => (
                "Skriv slutdatoen som ÅÅÅÅ-MM-DD, fx 2026-02-01.".to_owned(),
                "Write the end date as YYYY-MM-DD, e.g. 2026-02-01.".to_owned(),
            ),
            Self::Period(problem) => period_text(problem),
        };
        match lang {
            Lang::Da => da,
            Lang::En => en,
        }
    }
}

/// A refused period in Danish and English.
fn period_text(problem: PeriodProblem) -> (String, String) {
    match problem {
        PeriodProblem::Empty => (
            "Slutdatoen skal ligge efter startdatoen.".to_owned(),
            "The end date must be after the start date.".to_owned(),
        ),
        PeriodProblem::TooLong { max_days } => (
            format!("Perioden er længere end {max_days} dage. Eksportér den i dele."),
            format!("The period is longer than {max_days} days. Export it in parts."),
        ),
        PeriodProblem::BeforeRetention { limit, days, .. } => {
            let first = first_whole_day(limit).format("%Y-%m-%d");
            (
                format!(
                    "Perioden begynder før opbevaringsgrænsen ({days} dage): hændelser før \
                     {first} kan være slettet, så pakken ville ikke være fuldstændig. Vælg \
                     {first} eller senere."
                ),
                format!(
                    "The period starts before the retention limit ({days} days): events \
                     before {first} may have been pruned, so the pack could not be complete. \
                     Choose {first} or later."
                ),
            )
        }
    }
}

/// The console's own texts, in Danish and English.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Words {
    Anchor,
    AtRecord,
    Back,
    Broken,
    Busy,
    ChainStart,
    ChainStatus,
    Checkpoint,
    CheckpointsChecked,
    CheckpointsFailed,
    ErrorSummary,
    Events,
    Export,
    ExportHint,
    ExportMonth,
    ExportPack,
    Fingerprint,
    FingerprintHint,
    Forbidden,
    From,
    Intact,
    Month,
    NewestCheckpoint,
    NoCheckpoint,
    NoPeriods,
    NotConfigured,
    Period,
    Periods,
    Records,
    Retired,
    Sequence,
    To,
    WithFile,
}

impl Words {
    fn text(self, lang: Lang) -> &'static str {
        let (da, en) = self.both();
        match lang {
            Lang::Da => da,
            Lang::En => en,
        }
    }

    const fn both(self) -> (&'static str, &'static str) {
        match self {
            Self::Anchor => ("Anker", "Anchor"),
            Self::AtRecord => ("ved hændelse", "at record"),
            Self::Back => ("Tilbage til revision", "Back to audit"),
            Self::Broken => ("Kæden er BRUDT", "The chain is BROKEN"),
            Self::Busy => (
                "En anden eksport kører. Prøv igen, når den er færdig.",
                "Another export is running. Try again when it has finished.",
            ),
            Self::ChainStart => ("kædens begyndelse", "start of the chain"),
            Self::ChainStatus => ("Kædens status", "Chain status"),
            Self::Checkpoint => ("Checkpoint", "Checkpoint"),
            Self::CheckpointsChecked => ("Kontrollerede checkpoints", "Checkpoints checked"),
            Self::CheckpointsFailed => (
                "Kæden hænger sammen, men checkpoints fejler (se nedenfor).",
                "The chain links up, but checkpoints fail (see below).",
            ),
            Self::ErrorSummary => ("Ret følgende", "Please correct the following"),
            Self::Events => ("Hændelser", "Events"),
            Self::Export => ("Eksportér", "Export"),
            Self::ExportHint => (
                "Datoer er UTC; startdatoen er med, slutdatoen er ikke. Pakken kan kontrolleres \
                 uden Portners database med portner audit verify-pack. Tidligste startdato \
                 inden for opbevaringsperioden:",
                "Dates are UTC; the start date is included, the end date is not. The pack can \
                 be checked without Portner's database with portner audit verify-pack. \
                 Earliest start date within retention:",
            ),
            Self::ExportMonth => ("Eksportér bevispakke for", "Export evidence pack for"),
            Self::ExportPack => ("Eksportér bevispakke", "Export evidence pack"),
            Self::Fingerprint => (
                "Revisionscertifikatets SHA-256-fingeraftryk",
                "Audit certificate SHA-256 fingerprint",
            ),
            Self::FingerprintHint => (
                "Sammenlign fingeraftrykket med det, organisationen har givet dig ad anden vej: \
                 kun det viser, at en pakke kommer fra denne installation.",
                "Compare the fingerprint with the one the organisation gave you by other \
                 means: only that shows a pack comes from this installation.",
            ),
            Self::Forbidden => (
                "Formularen er udløbet eller ugyldig. Hent siden igen.",
                "The form has expired or is invalid. Load the page again.",
            ),
            Self::From => ("Fra (med)", "From (included)"),
            Self::Intact => (
                "Kæden er intakt: hver hændelse hænger sammen med den forrige og passer med sin \
                 hash, og alle checkpoints er gyldigt signeret.",
                "The chain is intact: every record links to the one before and matches its \
                 hash, and every checkpoint is validly signed.",
            ),
            Self::Month => ("Måned", "Month"),
            Self::NewestCheckpoint => ("Nyeste checkpoint", "Newest checkpoint"),
            Self::NoCheckpoint => ("ingen endnu", "none yet"),
            Self::NoPeriods => (
                "Ingen hændelser inden for opbevaringsperioden.",
                "No events within the retention period.",
            ),
            Self::NotConfigured => (
                "Revisionskonsollen er ikke sat op i denne server: revisionsnøglen mangler.",
                "The audit console is not set up in this server: the audit key is missing.",
            ),
            Self::Period => ("Periode", "Period"),
            Self::Periods => ("Perioder", "Periods"),
            Self::Records => ("Hændelser fra ankeret", "Records from the anchor"),
            Self::Retired => (
                "Tidligere revisionscertifikater (gælder for ældre checkpoints)",
                "Retired audit certificates (trusted for older checkpoints)",
            ),
            Self::Sequence => ("sekvens", "sequence"),
            Self::To => ("Til (ikke med)", "To (not included)"),
            Self::WithFile => (
                "inklusive den eksterne checkpoint-fil",
                "including the external checkpoint file",
            ),
        }
    }
}
