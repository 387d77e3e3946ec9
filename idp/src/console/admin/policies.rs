//! Sign-in policies changed from the administration console and `/api/v1/policies` (issue 5
//! item 4): the keys of [`EDITABLE_POLICIES`], each set to a value within its range or
//! returned to the configuration file's value, through [`crate::policy::change_policies`]
//! (`POLICY_CHANGED` and a new configuration snapshot, in one transaction).
//!
//! The policy is one for the installation, like the configuration file it overrides, so any
//! administrator may change it; each change names them as its actor. Written down in
//! `docs/limitations.md`.

use std::collections::HashMap;

use axum::extract::{MatchedPath, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portner_shared::config::{EDITABLE_POLICIES, SignInSettings};

use super::{AdminError, context};
use crate::app::AppState;
use crate::console::access::Operator;
use crate::console::page::{self, ConsoleText, Lang, Text};
use crate::policy::{PolicyChange, PolicyError};

/// Applies `changes` as the operator.
///
/// # Errors
///
/// [`AdminError::BadInput`] naming the first key that is not editable or whose value is out
/// of range; nothing is written then.
pub async fn change_policies(
    state: &AppState,
    operator: &Operator,
    changes: &[PolicyChange],
) -> Result<Vec<(String, u32)>, AdminError> {
    let now = state.clock.now();
    let context = context(operator);
    let policy = &state.signin.policy;
    crate::policy::change_policies(policy, &state.store, now, &context, changes)
        .await
        .map_err(|error| match error {
            PolicyError::Invalid(key) => AdminError::BadInput(static_key(&key)),
            PolicyError::Store(error) => error.into(),
            PolicyError::Audit(error) => AdminError::Internal(error.into()),
        })
}

/// The key as the table spells it, for an error that must name a `'static` field.
fn static_key(key: &str) -> &'static str {
    EDITABLE_POLICIES
        .iter()
        .find(|(name, ..)| *name == key)
        .map_or("policy", |(name, ..)| name)
}

/// Reads the policy form: one field per editable key, empty for the file's value. Fields
/// that are not editable keys are refused, so a typo never passes unnoticed.
///
/// # Errors
///
/// [`AdminError::BadInput`] naming the field.
pub fn from_form(form: &HashMap<String, String>) -> Result<Vec<PolicyChange>, AdminError> {
    let mut changes = Vec::new();
    for (field, text) in form {
        if field == "csrf" {
            continue;
        }
        let key = EDITABLE_POLICIES
            .iter()
            .find(|(name, ..)| name == field)
            .map(|(name, ..)| *name)
            .ok_or(AdminError::BadInput("policy"))?;
        let text = text.trim();
        let value = if text.is_empty() {
            None
        } else {
            Some(text.parse().map_err(|_| AdminError::BadInput(key))?)
        };
        changes.push((key.to_owned(), value));
    }
    changes.sort();
    Ok(changes)
}

/// `POST /admin/policies`: changes the sign-in policies, then shows the overview.
pub async fn update(
    State(state): State<AppState>,
    operator: Operator,
    matched: MatchedPath,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let csrf = form.get("csrf").map_or("", String::as_str);
    let result = if page::csrf_valid(&headers, csrf) {
        match from_form(&form) {
            Ok(changes) => change_policies(&state, &operator, &changes).await,
            Err(error) => Err(error),
        }
    } else {
        Err(AdminError::BadInput("csrf"))
    };
    match result {
        Ok(_) => Redirect::to("/admin#policies").into_response(),
        Err(error) => super::pages::fail(&state, &operator, &Method::POST, &matched, error).await,
    }
}

/// What the policy form shows: the values in force, the file's, and the overrides held.
#[derive(Debug)]
pub struct PolicyView {
    /// In force now.
    pub current: SignInSettings,
    /// The configuration file's.
    pub file: SignInSettings,
    /// The administrators' overrides, by key.
    pub overrides: HashMap<String, i64>,
}

/// The form: each editable key with its range, the value in force, the file's value and the
/// override, if any, as the field's value.
pub fn form_markup(lang: Lang, token: &str, view: &PolicyView) -> Markup {
    html! {
        h3 { (lang.console(Text::EditPolicies)) }
        p { small { (lang.console(Text::EditPoliciesHint)) } }
        form method="post" action="/admin/policies" {
            input type="hidden" name="csrf" value=(token);
            table id="policy-form" {
                thead { tr {
                    th scope="col" { (lang.console(Text::Setting)) }
                    th scope="col" { (lang.console(Text::InForce)) }
                    th scope="col" { (lang.console(Text::FileValue)) }
                    th scope="col" { (lang.console(Text::Override)) }
                } }
                tbody {
                    @for (key, low, high) in EDITABLE_POLICIES {
                        @let field = format!("policy-{key}");
                        @let held = view.overrides.get(key).map(i64::to_string);
                        tr {
                            td { label for=(field) { code { (key) } } }
                            td { (view.current.policy(key).unwrap_or_default()) }
                            td { (view.file.policy(key).unwrap_or_default()) }
                            td {
                                input id=(field) name=(key) type="number" min=(low) max=(high)
                                    value=[held];
                            }
                        }
                    }
                }
            }
            button type="submit" { (lang.console(Text::SavePolicies)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_values_and_empty_fields_and_refuses_strangers() {
        let form: HashMap<String, String> = [
            ("csrf", "t"),
            ("password_min_length", " 14 "),
            ("lockout_threshold", ""),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
        let changes = from_form(&form).unwrap();
        assert_eq!(
            changes,
            [
                ("lockout_threshold".to_owned(), None),
                ("password_min_length".to_owned(), Some(14))
            ]
        );
        let mut bad = form.clone();
        bad.insert("password_min_length".into(), "many".into());
        assert!(matches!(
            from_form(&bad),
            Err(AdminError::BadInput("password_min_length"))
        ));
        let mut stranger = form;
        stranger.insert("password_argon2_memory_kib".into(), "8192".into());
        assert!(matches!(
            from_form(&stranger),
            Err(AdminError::BadInput("policy"))
        ));
    }
}
