//! The security-relevant settings in force, as the control matrix cites them (EV-7), and their
//! history: `portner serve` records a `CONFIGURATION_APPLIED` snapshot at start when they
//! differ from the newest one in the audit trail (`portner_audit::config_history`).
//!
//! Most values come from the configuration file and environment; a few are fixed in this
//! build (the helpdesk's windows, the SAML validity windows, WebAuthn user verification) and
//! are listed all the same, so that a release that changes one shows as a change in the
//! history. Secrets (database URL, CPR key, PKCS#12 password) are never among them: the
//! snapshot is evidence handed to auditors.

use chrono::{DateTime, Utc};
use portner_audit::config_history::{Applied, record_if_changed};
use portner_audit::{AuditContext, AuditError};
use portner_shared::config::Config;
use portner_shared::store::Store;

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

/// Records the settings of `config` as Portner itself (`system`) when they differ from the
/// newest snapshot in the trail; what `portner serve` does before it serves a request.
///
/// # Errors
///
/// The store failed or the newest snapshot is unreadable.
pub async fn record_configuration(
    store: &Store,
    now: DateTime<Utc>,
    config: &Config,
) -> Result<Applied, AuditError> {
    record_if_changed(store, now, &AuditContext::system(), &settings(config)).await
}
