//! The command implementations behind [`crate::cli`], and the set-up they share: configuration,
//! logging, the runtime, and an opened, migrated data folder.

/// Writes one line of command output to standard output. A closed pipe (`portner … | head`)
/// ends the output quietly instead of panicking as `println!` would.
macro_rules! out {
    ($($argument:tt)*) => {
        $crate::commands::write_line(format_args!($($argument)*))
    };
}

mod api;
mod audit;
mod config;
mod keys;
mod org;
mod scim;
mod serve;
mod sp;
mod sync;
mod sync_migrate;
mod user;
mod user_import;

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
    /// A command-line value is unusable: exit 2.
    #[error("invalid argument: {0}")]
    Usage(String),
    /// The operation failed: exit 1.
    #[error("{0}")]
    Failed(String),
}

impl CommandError {
    /// The process exit status for this error.
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Argument(_) | Self::Usage(_) => 2,
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
        Self::Failed(format!("audit trail: {error} [{}]", error.code()))
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
    // An auditor verifies a pack on a machine without Portner's data folder or database.
    if let Command::Audit(crate::cli::AuditCommand::VerifyPack(args)) = &cli.command {
        return audit::verify_pack(args);
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
            out!("database schema is up to date");
            Ok(())
        }
        Command::Org(command) => org::run(command, &environment).await,
        Command::User(command) => user::run(command, &environment).await,
        Command::Audit(command) => audit::run(command, &environment).await,
        Command::Sp(command) => sp::run(command, &environment).await,
        Command::Keys(command) => keys::run(command, &environment).await,
        Command::Sync(command) => sync::run(command, &environment).await,
        Command::Scim(command) => scim::run(command, &environment).await,
        Command::Api(command) => api::run(command, &environment).await,
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

    /// The IdP's SAML identity from the configuration and the data folder's certificates.
    pub fn identity(&self) -> crate::saml::idp_metadata::IdpIdentity {
        crate::saml::idp_metadata::IdpIdentity {
            entity_id: self.config.saml_entity_id.clone(),
            base_url: self.config.public_url.clone(),
            signing: self.data.signing.signing_key(),
            next_signing_certificate: self
                .data
                .next_signing
                .as_ref()
                .map(|next| next.certificate.clone()),
            encryption_certificate: self.data.encryption.certificate.clone(),
        }
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

/// Backs [`out!`]: writes a line, ignoring a reader that went away.
pub(crate) fn write_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_fmt(line)
        .and_then(|()| stdout.write_all(b"\n"));
}

/// How a token listing names a token's state.
fn token_state(revoked: bool, usable: bool) -> &'static str {
    match (revoked, usable) {
        (true, _) => "revoked",
        (false, false) => "expired",
        (false, true) => "usable",
    }
}

/// Prints `value` as indented JSON on standard output, for `--json` listings.
fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<(), CommandError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| CommandError::Failed(format!("cannot write JSON: {error}")))?;
    out!("{text}");
    Ok(())
}
