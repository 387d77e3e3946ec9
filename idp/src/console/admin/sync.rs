//! The sync page of the administration console (`/admin/sync`, issue 6 item 5): for each
//! organisation the administrator administers that syncs with MitID Erhverv, what
//! `portner sync status` shows (queue depth by state, open failures with their reasons, the
//! last reconcile, open drift findings, linked users) and a retry or dismiss form for each
//! failed action. The decisions go through [`crate::sync_queue`], which audits them.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use portner_shared::domain::{Cvr, OutboxAction, Role, SyncFinding, SyncOrganisation};
use portner_shared::store::StoreError;
use serde::Deserialize;

use crate::app::AppState;
use crate::console::access::{self, Operator};
use crate::console::page::{self, ConsoleText, Lang, Text};
use crate::sync_queue::{self, QueueError, Scope};

/// Open failures shown per organisation, oldest first.
const FAILURES_SHOWN: i64 = 100;

/// One synced organisation as the page shows it.
struct OrgView {
    settings: SyncOrganisation,
    counts: Vec<(String, i64)>,
    failures: Vec<OutboxAction>,
    last_reconcile: Option<(DateTime<Utc>, String)>,
    findings: Vec<SyncFinding>,
    linked: usize,
}

/// The sync page.
pub async fn overview(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
) -> Response {
    let lang = operator.lang;
    let organisations = operator.organisations(Role::Administrator);
    let views = match load(&state, &organisations).await {
        Ok(views) => views,
        Err(error) => return access::internal(lang, &error.into()),
    };
    let (token, cookie) = match page::csrf(&headers) {
        Ok(found) => found,
        Err(error) => return access::internal(lang, &error),
    };

    let body = html! {
        @if views.is_empty() {
            p id="no-sync" { (lang.console(Text::NoSync)) }
        }
        @for view in &views {
            (org_markup(lang, &token, view))
        }
    };
    let frame = page::frame(lang, Text::Sync, "/admin/sync", body);
    page::respond(StatusCode::OK, frame, cookie)
}

async fn load(state: &AppState, organisations: &[Cvr]) -> Result<Vec<OrgView>, StoreError> {
    let mut tx = state.store.read().await?;
    let mut views = Vec::new();
    for org in organisations {
        let Some(settings) = tx.sync_organisation(org).await? else {
            continue;
        };
        views.push(OrgView {
            counts: tx.outbox_counts_of(org).await?,
            failures: tx.open_failures_of(org, FAILURES_SHOWN).await?,
            last_reconcile: tx.last_sync_run(org, "reconcile").await?,
            findings: tx.open_sync_findings(org).await?,
            linked: tx.sync_links(org).await?.len(),
            settings,
        });
    }
    tx.rollback().await?;
    Ok(views)
}

fn org_markup(lang: Lang, token: &str, view: &OrgView) -> Markup {
    let org = &view.settings.org;
    html! {
        section aria-labelledby={ "org-" (org) } {
            h2 id={ "org-" (org) } { (org) " (" (view.settings.mode.as_str()) ")" }
            dl {
                dt { (lang.console(Text::Linked)) } dd { (view.linked) }
                dt { (lang.console(Text::LastReconcile)) }
                dd {
                    @match &view.last_reconcile {
                        Some((at, summary)) => { (at.to_rfc3339()) ": " (summary) }
                        None => { (lang.console(Text::Never)) }
                    }
                }
            }
            h3 { (lang.console(Text::Queue)) }
            table {
                thead { tr {
                    th scope="col" { (lang.console(Text::Status)) }
                    th scope="col" { (lang.console(Text::Count)) }
                } }
                tbody {
                    @for (state, count) in &view.counts {
                        tr { td { (state) } td { (count) } }
                    }
                }
            }
            h3 { (lang.console(Text::OpenFailures)) }
            (failures_markup(lang, token, &view.failures))
            h3 { (lang.console(Text::Drift)) }
            @if view.findings.is_empty() {
                p { (lang.console(Text::NoDrift)) }
            } @else {
                ul {
                    @for finding in &view.findings {
                        li { code { (finding.kind) } ": " (finding.detail) }
                    }
                }
            }
        }
    }
}

fn failures_markup(lang: Lang, token: &str, failures: &[OutboxAction]) -> Markup {
    if failures.is_empty() {
        return html! { p { (lang.console(Text::NoFailures)) } };
    }
    html! {
        table class="failures" {
            thead { tr {
                th scope="col" { "#" }
                th scope="col" { (lang.console(Text::Action)) }
                th scope="col" { (lang.console(Text::User)) }
                th scope="col" { (lang.console(Text::Reason)) }
                th scope="col" { (lang.console(Text::Decision)) }
            } }
            tbody {
                @for action in failures {
                    tr {
                        td { (action.id) }
                        td { (action.action.name()) }
                        td { (action.action.user_id()) }
                        td { (action.last_error.as_deref().unwrap_or("-")) }
                        td { (decision_forms(lang, token, action.id)) }
                    }
                }
            }
        }
    }
}

fn decision_forms(lang: Lang, token: &str, id: i64) -> Markup {
    html! {
        form method="post" action={ "/admin/sync/actions/" (id) "/retry" } {
            input type="hidden" name="csrf" value=(token);
            button type="submit" { (lang.console(Text::Retry)) }
        }
        form method="post" action={ "/admin/sync/actions/" (id) "/dismiss" } {
            input type="hidden" name="csrf" value=(token);
            button type="submit" { (lang.console(Text::Dismiss)) }
        }
    }
}

/// A retry or dismiss form: only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    /// Defaulted, so a form without it is refused as forged (403) rather than malformed.
    #[serde(default)]
    csrf: String,
}

/// Puts a failed action back in the queue.
pub async fn retry(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DecisionForm>,
) -> Response {
    decide(&state, &operator, &id, &headers, &form, Decision::Retry).await
}

/// Dismisses a failed action.
pub async fn dismiss(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DecisionForm>,
) -> Response {
    decide(&state, &operator, &id, &headers, &form, Decision::Dismiss).await
}

#[derive(Clone, Copy, Debug)]
enum Decision {
    Retry,
    Dismiss,
}

async fn decide(
    state: &AppState,
    operator: &Operator,
    id: &str,
    headers: &HeaderMap,
    form: &DecisionForm,
    decision: Decision,
) -> Response {
    let lang = operator.lang;
    if !page::csrf_valid(headers, &form.csrf) {
        return page::message(StatusCode::FORBIDDEN, lang, Text::Forbidden);
    }
    let Ok(id) = id.parse::<i64>() else {
        return page::message(StatusCode::NOT_FOUND, lang, Text::NoSuchAction);
    };
    let organisations = operator.organisations(Role::Administrator);
    let scope = Scope::Organisations(&organisations);
    let context = operator.origin.audit(Some(operator.user.id));
    let (store, clock) = (&state.store, state.clock.as_ref());
    let result = match decision {
        Decision::Retry => sync_queue::requeue(store, clock, &context, id, scope).await,
        Decision::Dismiss => sync_queue::dismiss(store, clock, &context, id, scope).await,
    };
    match result {
        Ok(_) => Redirect::to("/admin/sync").into_response(),
        Err(QueueError::NotFound) => page::message(StatusCode::NOT_FOUND, lang, Text::NoSuchAction),
        Err(QueueError::NotFailed) => page::message(StatusCode::CONFLICT, lang, Text::NotAllowed),
        Err(QueueError::Store(error)) => access::internal(lang, &error.into()),
        Err(QueueError::Audit(error)) => access::internal(lang, &error.into()),
    }
}
