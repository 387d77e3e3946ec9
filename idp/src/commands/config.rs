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
            Ok(())
        }
    }
}
