//! The command implementations behind [`crate::cli`], and the set-up they share: configuration,
//! logging, the runtime, and an opened, migrated data folder.

mod audit;
mod config;
mod org;
mod serve;
mod sync;
mod user;

use std::sync::Arc;

use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::config::{Config, ConfigError, Overrides};
use portner_shared::domain::ParseError;
use portner_shared::store::{Store, StoreError};
use portner_shared::{Clock, SystemClock};

use crate::cli::{Cli, Command, LogFormatArg};
use crate::datadir::{DataDirError, PreparedData};
use crate::directory::DirectoryError;

/// Why a command failed; decides the exit status.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The configuration is unusable: exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An argument is malformed: exit 2.
    #[error("invalid argument: {0}")]
    Argument(#[from] ParseError),
    /// The operation failed: exit 1.
    #[error("{0}")]
    Failed(String),
}

impl CommandError {
    /// The process exit status for this error.
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Argument(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}

impl From<StoreError> for CommandError {
    fn from(error: StoreError) -> Self {
        Self::Failed(error.to_string())
    }
}

impl From<DataDirError> for CommandError {
    fn from(error: DataDirError) -> Self {
        Self::Failed(format!("data folder: {error}"))
    }
}

impl From<DirectoryError> for CommandError {
    fn from(error: DirectoryError) -> Self {
        Self::Failed(error.to_string())
    }
}

impl From<portner_audit::AuditError> for CommandError {
    fn from(error: portner_audit::AuditError) -> Self {
        Self::Failed(format!("audit trail: {error}"))
    }
}

/// Loads the configuration, starts logging and a runtime, and runs the command.
pub fn run(cli: Cli) -> Result<(), CommandError> {
    let overrides = Overrides {
        listen: match &cli.command {
            Command::Serve(args) => args.listen.clone(),
            _ => None,
        },
        data_dir: cli.data_dir.clone(),
        log_format: cli.log_format.map(|format| match format {
            LogFormatArg::Human => "human".to_owned(),
            LogFormatArg::Json => "json".to_owned(),
        }),
    };
    let (config, warnings) =
        portner_shared::config::load(cli.config.as_deref(), std::env::vars(), &overrides)?;

    crate::logging::init(config.log_format, &config.log_level);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    if let Command::Config(command) = &cli.command {
        return config::run(command, &config);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            CommandError::Failed(format!("cannot start the async runtime: {error}"))
        })?;
    runtime.block_on(dispatch(cli.command, config))
}

async fn dispatch(command: Command, config: Config) -> Result<(), CommandError> {
    let environment = Environment::open(config).await?;
    let result = match command {
        Command::Serve(_) => serve::run(&environment).await,
        Command::Migrate => {
            println!("database schema is up to date");
            Ok(())
        }
        Command::Org(command) => org::run(command, &environment).await,
        Command::User(command) => user::run(command, &environment).await,
        Command::Audit(command) => audit::run(command, &environment).await,
        Command::Sync(command) => sync::run(command, &environment).await,
        Command::Config(_) => Ok(()),
    };
    environment.store.close().await;
    result
}

/// An opened installation: configuration, data folder, migrated store and clock.
#[derive(Debug)]
pub(crate) struct Environment {
    pub config: Config,
    pub data: PreparedData,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

impl Environment {
    /// Prepares the data folder, connects, migrates, and records keys generated just now.
    async fn open(config: Config) -> Result<Self, CommandError> {
        let data = crate::datadir::prepare(&config)?;
        let store = Store::connect(
            config.database_url.expose(),
            config.backend,
            config.database_max_connections,
            data.cipher.clone(),
        )
        .await
        .map_err(|error| CommandError::Failed(format!("cannot open the database: {error}")))?;
        store.migrate().await?;

        let environment = Self {
            config,
            data,
            store,
            clock: Arc::new(SystemClock),
        };
        environment.audit_generated_keys().await?;
        Ok(environment)
    }

    async fn audit_generated_keys(&self) -> Result<(), CommandError> {
        if self.data.generated.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        for key in &self.data.generated {
            let event = AuditEvent::KeyGenerated {
                purpose: key.purpose.to_owned(),
                fingerprint: key.fingerprint.clone(),
            };
            portner_audit::append(
                &mut tx,
                now,
                &AuditContext::system(),
                &Subject::Installation,
                &event,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
