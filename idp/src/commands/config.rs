//! `portner config check`: prints the effective configuration, secrets hidden.

use portner_shared::config::Config;

use super::CommandError;
use crate::cli::ConfigCommand;

pub(super) fn run(command: &ConfigCommand, config: &Config) -> Result<(), CommandError> {
    match command {
        ConfigCommand::Check => {
            out!("configuration is valid");
            out!("listen                    {}", config.listen);
            out!("public_url                {}", config.public_url);
            out!("data_dir                  {}", config.data_dir.display());
            out!(
                "database                  {:?} (URL hidden)",
                config.backend
            );
            out!(
                "database_max_connections  {}",
                config.database_max_connections
            );
            let cpr_key = if config.cpr_key.is_some() {
                "configured"
            } else {
                "data folder"
            };
            out!("cpr_key                   {cpr_key}");
            out!("log_format                {:?}", config.log_format);
            out!("log_level                 {}", config.log_level);
            print_audit(&config.audit);
            Ok(())
        }
    }
}

fn print_audit(audit: &portner_shared::config::AuditSettings) {
    let file = audit
        .checkpoint_file
        .as_ref()
        .map_or_else(|| "none".to_owned(), |path| path.display().to_string());
    out!(
        "audit_checkpoint_interval_secs  {}",
        audit.checkpoint_interval_secs
    );
    out!(
        "audit_checkpoint_events         {}",
        audit.checkpoint_events
    );
    out!("audit_checkpoint_file           {file}");
    let syslog = audit
        .checkpoint_syslog
        .as_ref()
        .map_or_else(|| "none".to_owned(), |path| path.display().to_string());
    out!("audit_checkpoint_syslog         {syslog}");
    out!(
        "audit_retention_lifecycle_days  {}",
        audit.retention_lifecycle_days
    );
    out!(
        "audit_retention_saml_days       {}",
        audit.retention_saml_days
    );
}
