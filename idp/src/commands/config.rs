//! `portner config check`: prints the effective configuration, secrets hidden.

use portner_shared::config::Config;

use super::CommandError;
use crate::cli::ConfigCommand;

pub(super) fn run(command: &ConfigCommand, config: &Config) -> Result<(), CommandError> {
    match command {
        ConfigCommand::Check => {
            println!("configuration is valid");
            println!("listen                    {}", config.listen);
            println!("public_url                {}", config.public_url);
            println!("data_dir                  {}", config.data_dir.display());
            println!(
                "database                  {:?} (URL hidden)",
                config.backend
            );
            println!(
                "database_max_connections  {}",
                config.database_max_connections
            );
            let cpr_key = if config.cpr_key.is_some() {
                "configured"
            } else {
                "data folder"
            };
            println!("cpr_key                   {cpr_key}");
            println!("log_format                {:?}", config.log_format);
            println!("log_level                 {}", config.log_level);
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
    println!(
        "audit_checkpoint_interval_secs  {}",
        audit.checkpoint_interval_secs
    );
    println!(
        "audit_checkpoint_events         {}",
        audit.checkpoint_events
    );
    println!("audit_checkpoint_file           {file}");
    let syslog = audit
        .checkpoint_syslog
        .as_ref()
        .map_or_else(|| "none".to_owned(), |path| path.display().to_string());
    println!("audit_checkpoint_syslog         {syslog}");
    println!(
        "audit_retention_lifecycle_days  {}",
        audit.retention_lifecycle_days
    );
    println!(
        "audit_retention_saml_days       {}",
        audit.retention_saml_days
    );
}
