//! The security-relevant settings in force, as the control matrix cites them (EV-7), and their
//! history: `portner serve` records a `CONFIGURATION_APPLIED` snapshot at start when they
//! differ from the newest one in the audit trail (`portner_audit::config_history`).
//!
//! Most values come from the configuration file and environment; the editable sign-in policies
//! ([`portner_shared::config::EDITABLE_POLICIES`]) may be changed by an administrator at run
//! time ([`change_policies`]), which records a new snapshot in the same transaction; a few are
//! fixed in this build (the helpdesk's windows, the SAML validity windows, WebAuthn user
//! verification) and are listed all the same, so that a release that changes one shows as a
//! change in the history. Secrets (database URL, CPR key, PKCS#12 password) are never among
//! them: the snapshot is evidence handed to auditors.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use portner_audit::config_history::{self, Applied, record_if_changed};
use portner_audit::{AuditContext, AuditError, AuditEvent, Subject};
use portner_shared::config::{Config, SignInSettings};
use portner_shared::store::{Store, StoreError};

use crate::signin::live_policy::{self, LivePolicy};

/// Every setting the control matrix cites, `(key, value)`, keys as in `docs/configuration.md`
/// (built-in values under their own names). No secrets.
pub fn settings(config: &Config) -> Vec<(String, String)> {
    let signin = &config.signin;
    let audit = &config.audit;
    let path = |path: &Option<std::path::PathBuf>| {
        path.as_ref()
            .map_or_else(|| "none".to_owned(), |path| path.display().to_string())
    };
    let pairs: Vec<(&str, String)> = vec![
        ("public_url", config.public_url.clone()),
        ("saml_entity_id", config.saml_entity_id.clone()),
        (
            "password_min_length",
            signin.password_min_length.to_string(),
        ),
        ("password_history", signin.password_history.to_string()),
        (
            "password_argon2_memory_kib",
            signin.password_argon2_memory_kib.to_string(),
        ),
        (
            "password_argon2_iterations",
            signin.password_argon2_iterations.to_string(),
        ),
        (
            "password_argon2_parallelism",
            signin.password_argon2_parallelism.to_string(),
        ),
        (
            "activation_code_hours",
            signin.activation_code_hours.to_string(),
        ),
        (
            "session_idle_minutes",
            signin.session_idle_minutes.to_string(),
        ),
        (
            "session_lifetime_minutes",
            signin.session_lifetime_minutes.to_string(),
        ),
        (
            "session_password_fresh_minutes",
            signin.session_password_fresh_minutes.to_string(),
        ),
        (
            "session_second_factor_fresh_minutes",
            signin.session_second_factor_fresh_minutes.to_string(),
        ),
        ("lockout_threshold", signin.lockout_threshold.to_string()),
        ("lockout_minutes", signin.lockout_minutes.to_string()),
        (
            "throttle_failures_per_minute",
            signin.throttle_failures_per_minute.to_string(),
        ),
        (
            "helpdesk_in_person_level",
            signin.helpdesk_in_person_level.to_string(),
        ),
        (
            "helpdesk_video_call_level",
            signin.helpdesk_video_call_level.to_string(),
        ),
        (
            "helpdesk_call_back_level",
            signin.helpdesk_call_back_level.to_string(),
        ),
        (
            "audit_checkpoint_interval_secs",
            audit.checkpoint_interval_secs.to_string(),
        ),
        (
            "audit_checkpoint_events",
            audit.checkpoint_events.to_string(),
        ),
        ("audit_checkpoint_file", path(&audit.checkpoint_file)),
        ("audit_checkpoint_syslog", path(&audit.checkpoint_syslog)),
        (
            "audit_retention_lifecycle_days",
            audit.retention_lifecycle_days.to_string(),
        ),
        (
            "audit_retention_saml_days",
            audit.retention_saml_days.to_string(),
        ),
        (
            "sync_reconcile_interval_hours",
            config.sync_reconcile_interval_hours.to_string(),
        ),
        // Fixed in this build (see the module documentation).
        ("webauthn_user_verification", "required".to_owned()),
        (
            "helpdesk_verification_valid_minutes",
            crate::console::helpdesk::VERIFICATION_VALID_MINUTES.to_string(),
        ),
        (
            "helpdesk_code_valid_minutes",
            crate::console::helpdesk::CODE_VALID_MINUTES.to_string(),
        ),
        (
            "saml_clock_skew_minutes",
            crate::saml::authn_request::DEFAULT_SKEW
                .num_minutes()
                .to_string(),
        ),
        (
            "saml_assertion_lifetime_minutes",
            crate::saml::sso::ASSERTION_LIFETIME
                .num_minutes()
                .to_string(),
        ),
    ];
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// `pairs` with the editable sign-in policies as `signin` holds them: the file's values with
/// the administrators' overrides.
pub fn with_policy(pairs: Vec<(String, String)>, signin: &SignInSettings) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(key, value)| {
            let value = signin.policy(&key).map_or(value, |live| live.to_string());
            (key, value)
        })
        .collect()
}

/// The file's sign-in settings with the overrides in the store, for commands that run
/// without a server (`portner audit export`).
///
/// # Errors
///
/// The store failed.
pub async fn effective_signin(
    store: &Store,
    file: SignInSettings,
) -> Result<SignInSettings, StoreError> {
    let overrides = live_policy::read_overrides(store).await?;
    Ok(live_policy::overlay(file, &overrides))
}

/// Records the settings of `config`, with the sign-in policy in force `signin`, as Portner
/// itself (`system`) when they differ from the newest snapshot in the trail; what `portner
/// serve` does before it serves a request.
///
/// # Errors
///
/// The store failed or the newest snapshot is unreadable.
pub async fn record_configuration(
    store: &Store,
    now: DateTime<Utc>,
    config: &Config,
    signin: &SignInSettings,
) -> Result<Applied, AuditError> {
    let pairs = with_policy(settings(config), signin);
    record_if_changed(store, now, &AuditContext::system(), &pairs).await
}

/// Why a policy change was not made. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The key is not an editable policy, or the value is outside its range (names the key).
    #[error("{0}: not an editable policy value")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit trail failed.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// One change of an editable sign-in policy: `Some(value)` overrides the file's value,
/// `None` returns the key to it.
pub type PolicyChange = (String, Option<u32>);

/// Applies `changes` in one transaction: each that changes something is written with
/// `POLICY_CHANGED`, and one `CONFIGURATION_APPLIED` snapshot holds the new values; then they
/// are in force on this replica (the others read them within `live_policy::REFRESH_EVERY`).
/// Every change is checked before anything is written. Returns the keys changed with the
/// value now in force (empty when the request changed nothing, and nothing was written).
///
/// # Errors
///
/// [`PolicyError::Invalid`] naming the first key that is not editable or whose value is out of
/// its range.
pub async fn change_policies(
    policy: &LivePolicy,
    store: &Store,
    now: DateTime<Utc>,
    context: &AuditContext,
    changes: &[PolicyChange],
) -> Result<Vec<(String, u32)>, PolicyError> {
    let file = policy.file();
    for (key, value) in changes {
        let valid = match value {
            Some(value) => file.with_policy(key, *value).is_some(),
            None => file.policy(key).is_some(),
        };
        if !valid {
            return Err(PolicyError::Invalid(key.clone()));
        }
    }

    let mut tx = store.begin().await?;
    let mut overrides: BTreeMap<String, i64> = tx.policy_overrides().await?.into_iter().collect();
    let mut done = Vec::new();
    for (key, value) in changes {
        let before = overrides.get(key).copied();
        if before == value.map(i64::from) {
            continue;
        }
        let from_file = file.policy(key).unwrap_or_default();
        let from = before
            .and_then(|held| u32::try_from(held).ok())
            .unwrap_or(from_file);
        let to = value.unwrap_or(from_file);
        match value {
            Some(value) => {
                let actor = context.actor.to_string();
                tx.set_policy_override(key, i64::from(*value), now, &actor)
                    .await?;
                overrides.insert(key.clone(), i64::from(*value));
            }
            None => {
                tx.delete_policy_override(key).await?;
                overrides.remove(key);
            }
        }
        let event = AuditEvent::PolicyChanged {
            key: key.clone(),
            from,
            to,
            overridden: value.is_some(),
        };
        portner_audit::append(&mut tx, now, context, &Subject::Installation, &event).await?;
        done.push((key.clone(), to));
    }
    if done.is_empty() {
        tx.rollback().await?;
        return Ok(done);
    }
    record_changes(&mut tx, now, context, &done).await?;
    tx.commit().await?;

    let overrides: Vec<(String, i64)> = overrides.into_iter().collect();
    policy.apply(&overrides);
    Ok(done)
}

/// Records the snapshot in force with the changed values, so the policy history and the
/// evidence pack's control matrix show the change from this moment.
async fn record_changes(
    tx: &mut portner_shared::store::Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    changed: &[(String, u32)],
) -> Result<(), AuditError> {
    let in_force = config_history::in_force(tx, i64::MAX, i64::MAX).await?;
    let mut settings = in_force
        .map(|snapshot| snapshot.settings)
        .unwrap_or_default();
    for (key, value) in changed {
        settings.insert(key.clone(), value.to_string());
    }
    let pairs: Vec<(String, String)> = settings.into_iter().collect();
    config_history::record_if_changed_in(tx, now, context, &pairs).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_settings_show_the_policy_in_force() {
        let pairs = vec![
            ("public_url".to_owned(), "https://idp.example.dk".to_owned()),
            ("password_min_length".to_owned(), "12".to_owned()),
        ];
        let signin = SignInSettings::default()
            .with_policy("password_min_length", 20)
            .unwrap();
        let recorded = with_policy(pairs, &signin);
        assert_eq!(recorded[0].1, "https://idp.example.dk");
        assert_eq!(recorded[1].1, "20");
    }
}
