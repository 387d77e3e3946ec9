//! `report.html`: one self-contained, printable page for the auditor's working papers.
//!
//! No scripts, fonts, images or style sheets are fetched: the style is inline and the charts
//! are inline SVG drawn here, so the page renders the same offline and in print. Headings are
//! in Danish and English (EV-3 asks for Danish in the notification; the appendices may be
//! English). A chart with no events says so instead of drawing an empty frame.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::controls::{self, Control};
use super::inventory::{InventoryCounts, settings_html};
use super::summary::{Category, Tally};
use super::{ExportRequest, html_escape};
use crate::config_history::{PeriodHistory, instant_text};

/// Everything the report and the control matrix are drawn from.
#[derive(Debug)]
pub(crate) struct ReportContext<'a> {
    pub(crate) request: &'a ExportRequest,
    pub(crate) now: DateTime<Utc>,
    pub(crate) tally: &'a Tally,
    pub(crate) first_seq: i64,
    pub(crate) last_seq: i64,
    pub(crate) checkpoint_seq: i64,
    pub(crate) checkpoints: usize,
    pub(crate) fingerprint: String,
    pub(crate) verdict: &'a [String],
    pub(crate) inventory: &'a InventoryCounts,
    pub(crate) history: &'a PeriodHistory,
}

/// The page's style sheet, shared with `controls.html`.
pub(crate) const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#111;max-width:60em}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #999}\
table{border-collapse:collapse;width:100%;font-size:.85em}\
th,td{border:1px solid #bbb;padding:.3em;text-align:left;vertical-align:top;\
overflow-wrap:anywhere}\
td.num{text-align:right}figure{margin:1em 0;page-break-inside:avoid}\
.verdict{padding:.8em;border:2px solid;font-weight:bold}\
.ok{border-color:#2a7a2a;background:#eef8ee}.bad{border-color:#a52a2a;background:#fbeeee}\
@media print{body{margin:0}h2{page-break-after:avoid}}";

const LEVEL_COLOURS: [(&str, &str); 5] = [
    ("high", "#1b5e20"),
    ("substantial", "#2e7d32"),
    ("low", "#9e9d24"),
    ("none", "#bf360c"),
    ("unknown", "#757575"),
];

/// Renders the report.
pub(crate) fn html(context: &ReportContext<'_>, matrix: &[Control]) -> String {
    let days = period_days(context);
    let mut page = String::with_capacity(64 * 1024);
    page.push_str("<!DOCTYPE html><html lang=\"da\"><head><meta charset=\"utf-8\">");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width\">");
    page.push_str("<title>Revisionsrapport / Audit report – Portner</title>");
    page.push_str(&format!("<style>{STYLE}</style></head><body>"));
    page.push_str("<h1>Revisionsrapport / Audit report</h1>");
    page.push_str(&period_paragraph(context));

    page.push_str("<h2 id=\"verdict\">Verifikation / Verification</h2>");
    page.push_str(&verdict_html(context));

    page.push_str("<h2>Log-ind pr. dag efter niveau / Sign-ins per day by level</h2>");
    let sign_ins = context.tally.per_day(Category::SignIn);
    let series = LEVEL_COLOURS
        .iter()
        .map(|(level, colour)| (*level, *colour, series_for(&days, &sign_ins, Some(level))))
        .collect::<Vec<_>>();
    page.push_str(&bar_chart(
        "chart-sign-ins",
        "Sign-ins per day by level",
        &days,
        &series,
    ));

    for (id, heading, title, category, colour) in [
        (
            "chart-failures",
            "Fejlede log-ind / Failed sign-ins",
            "Failed sign-ins per day",
            Category::SignInFailure,
            "#c62828",
        ),
        (
            "chart-lockouts",
            "Spærringer / Lockouts",
            "Lockouts per day",
            Category::Lockout,
            "#6a1b9a",
        ),
        (
            "chart-helpdesk",
            "Helpdesk-handlinger / Helpdesk actions",
            "Helpdesk actions per day",
            Category::Helpdesk,
            "#1565c0",
        ),
    ] {
        page.push_str(&format!("<h2>{heading}</h2>"));
        let per_day = context.tally.per_day(category);
        let series = [(category.code(), colour, series_for(&days, &per_day, None))];
        page.push_str(&bar_chart(id, title, &days, &series));
    }

    page.push_str("<h2>Alle hændelser pr. dag / All events per day</h2>");
    let series = Category::ALL
        .iter()
        .enumerate()
        .map(|(index, category)| {
            let per_day = context.tally.per_day(*category);
            (
                category.code(),
                palette(index),
                series_for(&days, &per_day, None),
            )
        })
        .collect::<Vec<_>>();
    page.push_str(&bar_chart(
        "chart-all-events",
        "All events per day by category",
        &days,
        &series,
    ));
    page.push_str(&category_table(context.tally));

    page.push_str("<h2>Kontrolmatrix / Control matrix (NSIS)</h2>");
    page.push_str(&controls::table(matrix, context.history));
    page.push_str("<h2>Politik-øjebliksbilleder / Policy snapshots</h2>");
    page.push_str(&snapshots_html(context.history));
    page.push_str("<h2>Konfiguration ved eksport / Configuration at export time</h2>");
    page.push_str(&settings_html(&context.inventory.settings));
    page.push_str(&footer(context));
    page.push_str("</body></html>");
    page
}

/// The snapshots in force during the period, with the keys each changed; the values are in
/// `policy-snapshots.jsonl` and the matrix.
fn snapshots_html(history: &PeriodHistory) -> String {
    let mut html = String::new();
    if history.at_start.is_none() {
        let when = instant_text(history.from);
        html.push_str(&format!(
            "<p>Ingen indstillinger registreret før {when}. / No settings recorded before \
             {when}.</p>"
        ));
    }
    if history.at_start.is_none() && history.during.is_empty() {
        return html;
    }
    html.push_str(
        "<table id=\"policy-snapshots\"><thead><tr><th>Post / Record</th>\
         <th>Tidspunkt / Time</th><th>Gælder / In force</th>\
         <th>Ændrede nøgler / Changed keys</th></tr></thead><tbody>",
    );
    for (role, snapshot) in history.in_force() {
        let role = if role == "at_period_start" {
            "ved periodens start / at period start"
        } else {
            "anvendt i perioden / applied in period"
        };
        let time = portner_shared::clock::from_millis(snapshot.occurred_at)
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string();
        html.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td>{time}</td><td>{role}</td><td>{}</td></tr>",
            snapshot.seq,
            html_escape(&snapshot.changed.join(", "))
        ));
    }
    html.push_str("</tbody></table>");
    html
}

fn period_paragraph(context: &ReportContext<'_>) -> String {
    format!(
        "<p>Periode / Period: <strong>{}</strong> – <strong>{}</strong> (UTC, slut ekskl. / \
         end exclusive). Udarbejdet / Prepared: {}. Hændelser / Events: <strong>{}</strong> \
         (sekvens / sequence {} – {}). Brugere / Users: {} ({} på Betydelig / at Substantial). \
         Loginmidler / Credentials: {}. Tjenesteudbydere / Service providers: {}.</p>",
        context.request.from.format("%Y-%m-%d %H:%M"),
        context.request.to.format("%Y-%m-%d %H:%M"),
        context.now.format("%Y-%m-%d %H:%M"),
        context.tally.total,
        context.first_seq,
        context.last_seq,
        context.inventory.users,
        context.inventory.users_substantial,
        context.inventory.credentials,
        context.inventory.service_providers,
    )
}

fn verdict_html(context: &ReportContext<'_>) -> String {
    if context.verdict.is_empty() {
        format!(
            "<p class=\"verdict ok\" id=\"verdict-text\">VERIFICERET / VERIFIED: {} hændelser / \
             events, hash-kæden er intakt og forankret i signeret checkpoint / the hash chain is \
             intact and anchored in signed checkpoint {} (audit key SHA-256 {}).</p>\
             <p>Kontrollér selv pakken / Check the pack yourself: <code>portner audit \
             verify-pack PACK.zip --expect-fingerprint {}</code></p>",
            context.tally.total,
            context.checkpoint_seq,
            html_escape(&context.fingerprint),
            html_escape(&context.fingerprint),
        )
    } else {
        let items: String = context
            .verdict
            .iter()
            .map(|problem| format!("<li>{}</li>", html_escape(problem)))
            .collect();
        format!(
            "<p class=\"verdict bad\" id=\"verdict-text\">FEJL / FAILED: kæden holder ikke / the \
             chain does not hold.</p><ul>{items}</ul>"
        )
    }
}

fn footer(context: &ReportContext<'_>) -> String {
    format!(
        "<h2>Om pakken / About the pack</h2><p>Alle filer er opført med SHA-256 i \
         <code>manifest.json</code>, som er signeret med revisionsnøglen \
         (<code>manifest.sig</code>, certifikat <code>certificate.pem</code>, SHA-256 {}). / Every file is listed with its \
         SHA-256 in <code>manifest.json</code>, signed with the audit key.</p>",
        html_escape(&context.fingerprint)
    )
}

fn category_table(tally: &Tally) -> String {
    let mut html = String::from(
        "<table id=\"category-counts\"><thead><tr><th>Kategori / Category</th>\
         <th>Antal / Count</th></tr></thead><tbody>",
    );
    for category in Category::ALL {
        html.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            html_escape(category.label()),
            tally.count(category)
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// Every UTC day of the period up to the export time.
fn period_days(context: &ReportContext<'_>) -> Vec<String> {
    let end = context.request.to.min(context.now + Duration::days(1));
    let mut day = context.request.from.date_naive();
    let mut days = Vec::new();
    while day <= end.date_naive() && days.len() <= 800 {
        days.push(day.format("%Y-%m-%d").to_string());
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    days
}

fn series_for(
    days: &[String],
    per_day: &BTreeMap<(String, String), u64>,
    detail: Option<&str>,
) -> Vec<u64> {
    days.iter()
        .map(|day| {
            per_day
                .iter()
                .filter(|((found_day, found_detail), _)| {
                    found_day == day && detail.is_none_or(|wanted| wanted == found_detail)
                })
                .map(|(_, count)| count)
                .sum()
        })
        .collect()
}

/// A stacked bar chart, one bar per day, as inline SVG with a text alternative.
fn bar_chart(id: &str, title: &str, days: &[String], series: &[(&str, &str, Vec<u64>)]) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 180.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 20.0;

    let totals: Vec<u64> = (0..days.len())
        .map(|index| {
            series
                .iter()
                .filter_map(|(_, _, values)| values.get(index))
                .sum()
        })
        .collect();
    let maximum = totals.iter().copied().max().unwrap_or(0);
    let mut svg = format!(
        "<figure id=\"{id}\"><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         width=\"{WIDTH}\" height=\"{}\" viewBox=\"0 0 {WIDTH} {}\" aria-labelledby=\"{id}-title\">\
         <title id=\"{id}-title\">{}</title>\
         <rect x=\"{LEFT}\" y=\"0\" width=\"{}\" height=\"{HEIGHT}\" \
         fill=\"#fafafa\" stroke=\"#ccc\"/>",
        HEIGHT + BOTTOM,
        HEIGHT + BOTTOM,
        html_escape(title),
        WIDTH - LEFT,
    );
    if maximum == 0 {
        svg.push_str(&format!(
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">\
             Ingen hændelser i perioden / No events in the period</text>",
            LEFT + (WIDTH - LEFT) / 2.0,
            HEIGHT / 2.0
        ));
    } else {
        let slot = (WIDTH - LEFT) / days.len().max(1) as f64;
        let bar = (slot * 0.8).max(0.5);
        for index in 0..days.len() {
            let mut top = HEIGHT;
            for (_, colour, values) in series {
                let value = values.get(index).copied().unwrap_or(0);
                if value == 0 {
                    continue;
                }
                let height = HEIGHT * value as f64 / maximum as f64;
                top -= height;
                svg.push_str(&format!(
                    "<rect class=\"bar\" x=\"{:.2}\" y=\"{top:.2}\" width=\"{bar:.2}\" \
                     height=\"{height:.2}\" fill=\"{colour}\"><title>{}: {value}</title></rect>",
                    LEFT + slot * index as f64,
                    days.get(index).map(String::as_str).unwrap_or_default()
                ));
            }
        }
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"12\" text-anchor=\"end\" font-size=\"11\">{maximum}</text>",
            LEFT - 4.0
        ));
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        svg.push_str(&format!(
            "<text x=\"{LEFT}\" y=\"{}\" font-size=\"11\">{first}</text>\
             <text x=\"{WIDTH}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{last}</text>",
            HEIGHT + 15.0,
            HEIGHT + 15.0
        ));
    }
    svg.push_str("</svg><figcaption>");
    let legend: Vec<String> = series
        .iter()
        .map(|(name, colour, values)| {
            format!(
                "<span style=\"color:{colour}\">■</span> {} ({})",
                html_escape(name),
                values.iter().sum::<u64>()
            )
        })
        .collect();
    svg.push_str(&legend.join(" · "));
    svg.push_str("</figcaption></figure>");
    svg
}

fn palette(index: usize) -> &'static str {
    const COLOURS: [&str; 11] = [
        "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#1565c0", "#00838f", "#4e342e", "#ad1457",
        "#546e7a", "#9e9d24", "#757575",
    ];
    COLOURS
        .get(index % COLOURS.len())
        .copied()
        .unwrap_or("#757575")
}
