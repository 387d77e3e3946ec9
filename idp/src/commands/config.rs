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
            Ok(())
        }
    }
}
