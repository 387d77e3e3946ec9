//! Configuration: typed, strict, layered and checked once (STYLE.md 3.13).
//!
//! Layers, each overriding the one before: built-in defaults, the TOML file, `PORTNER_*`
//! environment variables (a secret may instead come from `PORTNER_<KEY>_FILE`), then
//! command-line flags. The file format ([`ConfigFile`]) and the running configuration
//! ([`Config`]) are different types: [`load`] is the one fallible conversion between them, and
//! code that holds a `Config` never checks it again. Every failure is a [`ConfigError`] that
//! names the key and the problem on one line; the binary turns it into exit status 2.

mod keys;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use keys::{KEYS, KeyKind, KeySpec, key_for_env};

/// Environment variables with this prefix belong to the test suites, not to the server, and
/// are not reported as unknown.
const TEST_VARIABLE_PREFIX: &str = "PORTNER_TEST_";
/// The SQLite file's name inside the data folder, where the default `database_url` points.
pub const DATABASE_FILE: &str = "portner.db";
/// The only configuration format version so far.
const CURRENT_VERSION: i64 = 1;

/// A configuration that cannot be used. `key` is what the operator must fix: a key of the
/// file, an environment variable, a flag, or the file itself.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("configuration error: {key}: {problem}")]
pub struct ConfigError {
    /// The key, variable, flag or file at fault.
    pub key: String,
    /// What is wrong with it, in one line.
    pub problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        let problem: String = problem.into();
        // Library messages sometimes span lines; the contract is one line.
        let problem = problem.split_whitespace().collect::<Vec<_>>().join(" ");
        Self {
            key: key.into(),
            problem,
        }
    }
}

/// The configuration file as written. Every field is optional; unknown keys are errors.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// See [`KEYS`] for each field's meaning and default.
    pub version: Option<i64>,
    #[allow(missing_docs)]
    pub listen: Option<String>,
    #[allow(missing_docs)]
    pub public_url: Option<String>,
    #[allow(missing_docs)]
    pub saml_entity_id: Option<String>,
    #[allow(missing_docs)]
    pub data_dir: Option<PathBuf>,
    #[allow(missing_docs)]
    pub database_url: Option<Secret>,
    #[allow(missing_docs)]
    pub database_url_file: Option<PathBuf>,
    #[allow(missing_docs)]
    pub database_max_connections: Option<i64>,
    #[allow(missing_docs)]
    pub cpr_key: Option<Secret>,
    #[allow(missing_docs)]
    pub cpr_key_file: Option<PathBuf>,
    #[allow(missing_docs)]
    pub log_format: Option<String>,
    #[allow(missing_docs)]
    pub log_level: Option<String>,
    #[allow(missing_docs)]
    pub password_min_length: Option<i64>,
    #[allow(missing_docs)]
    pub password_history: Option<i64>,
    #[allow(missing_docs)]
    pub password_argon2_memory_kib: Option<i64>,
    #[allow(missing_docs)]
    pub password_argon2_iterations: Option<i64>,
    #[allow(missing_docs)]
    pub password_argon2_parallelism: Option<i64>,
    #[allow(missing_docs)]
    pub activation_code_hours: Option<i64>,
    #[allow(missing_docs)]
    pub session_idle_minutes: Option<i64>,
    #[allow(missing_docs)]
    pub session_lifetime_minutes: Option<i64>,
    #[allow(missing_docs)]
    pub session_password_fresh_minutes: Option<i64>,
    #[allow(missing_docs)]
    pub session_second_factor_fresh_minutes: Option<i64>,
    #[allow(missing_docs)]
    pub lockout_threshold: Option<i64>,
    #[allow(missing_docs)]
    pub lockout_minutes: Option<i64>,
    #[allow(missing_docs)]
    pub throttle_failures_per_minute: Option<i64>,
    #[allow(missing_docs)]
    pub helpdesk_in_person_level: Option<i64>,
    #[allow(missing_docs)]
    pub helpdesk_video_call_level: Option<i64>,
    #[allow(missing_docs)]
    pub helpdesk_call_back_level: Option<i64>,
    #[allow(missing_docs)]
    pub audit_checkpoint_interval_secs: Option<i64>,
    #[allow(missing_docs)]
    pub audit_checkpoint_events: Option<i64>,
    #[allow(missing_docs)]
    pub audit_checkpoint_file: Option<PathBuf>,
    #[allow(missing_docs)]
    pub audit_checkpoint_syslog: Option<PathBuf>,
    #[allow(missing_docs)]
    pub audit_retention_lifecycle_days: Option<i64>,
    #[allow(missing_docs)]
    pub audit_retention_saml_days: Option<i64>,
    #[allow(missing_docs)]
    pub audit_saml_refusals_per_minute: Option<i64>,
    #[allow(missing_docs)]
    pub sync_pkcs12_password: Option<Secret>,
    #[allow(missing_docs)]
    pub sync_pkcs12_password_file: Option<PathBuf>,
    #[allow(missing_docs)]
    pub sync_reconcile_interval_hours: Option<i64>,
    #[allow(missing_docs)]
    pub smtp_url: Option<Secret>,
    #[allow(missing_docs)]
    pub smtp_url_file: Option<PathBuf>,
    #[allow(missing_docs)]
    pub smtp_from: Option<String>,
}

/// Values given as command-line flags; the last layer.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log-format`.
    pub log_format: Option<String>,
}

/// Text that must never be printed: `Debug` shows a placeholder.
#[derive(Clone, Deserialize, Eq, PartialEq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("<redacted>")
    }
}

/// Which database the store runs on.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Backend {
    /// SQLite file: the embedded default, one process.
    Sqlite,
    /// PostgreSQL: several replicas share it.
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    ///
    /// # Errors
    ///
    /// The scheme is neither `sqlite:` nor `postgres:`/`postgresql:`.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(ConfigError::new(
                "database_url",
                "must start with sqlite:// or postgres://",
            ))
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The running configuration: every value present and checked.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// The base URL users reach Portner at, without a trailing slash.
    pub public_url: String,
    /// The IdP's SAML entityID.
    pub saml_entity_id: String,
    /// The data folder, as an absolute path.
    pub data_dir: PathBuf,
    /// The store's URL; may hold a password.
    pub database_url: Secret,
    /// Which database `database_url` names.
    pub backend: Backend,
    /// Pool size.
    pub database_max_connections: u32,
    /// The CPR key as hex, or `None` to use (and on first start generate) the key file in the
    /// data folder.
    pub cpr_key: Option<Secret>,
    /// Log output format.
    pub log_format: LogFormat,
    /// Least severe level logged.
    pub log_level: String,
    /// Sign-in policy: passwords, sessions, lockout.
    pub signin: SignInSettings,
    /// Audit checkpoints and retention (issue 7).
    pub audit: AuditSettings,
    /// Password of PKCS#12 system certificates for the MitID Erhverv sync, if any.
    pub sync_pkcs12_password: Option<Secret>,
    /// Hours between the reconciles `serve` runs per sync organisation; 0 turns the schedule
    /// off (reconcile then runs only on demand).
    pub sync_reconcile_interval_hours: u32,
    /// The SMTP relay notices to users go through (`smtp://`, `smtps://`), if any; may hold
    /// credentials.
    pub smtp_url: Option<Secret>,
    /// The sender of notices, e.g. `Portner <noreply@example.dk>`.
    pub smtp_from: Option<String>,
}

/// Settings of the audit trail's checkpoints and retention (LG-3, LG-5).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuditSettings {
    /// Longest time between checkpoints while events arrive, in seconds.
    pub checkpoint_interval_secs: i64,
    /// Events after which a checkpoint is written sooner.
    pub checkpoint_events: i64,
    /// Where checkpoints are also appended, if anywhere.
    pub checkpoint_file: Option<PathBuf>,
    /// The syslog socket checkpoints are also sent to, if any.
    pub checkpoint_syslog: Option<PathBuf>,
    /// Days lifecycle and administration events are kept at least.
    pub retention_lifecycle_days: i64,
    /// Days per-message SAML events are kept at least.
    pub retention_saml_days: i64,
    /// Refusals of untrusted SAML messages audited one by one per source address and minute;
    /// beyond that they are counted into one summary event.
    pub saml_refusals_per_minute: i64,
}

impl Config {
    /// Where the generated CPR key lives when none is configured.
    pub fn cpr_key_path(&self) -> PathBuf {
        self.data_dir.join("cpr.key")
    }
}

/// Sign-in policy (issue 3) and the helpdesk's identity-verification method ceilings (issue 5);
/// each value checked against its documented range.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SignInSettings {
    /// Shortest password accepted (8-256). Unit: characters.
    pub password_min_length: u32,
    /// How many earlier passwords may not be reused (0-24). Unit: passwords.
    pub password_history: u32,
    /// Argon2id memory cost for new password hashes (8192-1048576). Unit: KiB.
    pub password_argon2_memory_kib: u32,
    /// Argon2id time cost for new password hashes (1-20). Unit: passes.
    pub password_argon2_iterations: u32,
    /// Argon2id parallelism for new password hashes (1-16). Unit: lanes.
    pub password_argon2_parallelism: u32,
    /// How long a one-time activation code works (1-720). Unit: hours.
    pub activation_code_hours: u32,
    /// A session unused this long ends (5-1440). Unit: minutes.
    pub session_idle_minutes: u32,
    /// Absolute lifetime of a session (10-10080). Unit: minutes.
    pub session_lifetime_minutes: u32,
    /// How long the password factor counts towards the session level (SS-2, 10-1440).
    /// Unit: minutes.
    pub session_password_fresh_minutes: u32,
    /// How long the WebAuthn factor counts towards the session level (SS-2, 10-1440).
    /// Unit: minutes.
    pub session_second_factor_fresh_minutes: u32,
    /// Wrong passwords in a row that lock an account (LK-1, 3-100). Unit: attempts.
    pub lockout_threshold: u32,
    /// How long such a lock lasts (1-1440). Unit: minutes.
    pub lockout_minutes: u32,
    /// Failed sign-ins one source address may make per minute before it is slowed
    /// (10-10000). Unit: attempts.
    pub throttle_failures_per_minute: u32,
    /// The highest identity level a helpdesk verification in person with photo ID supports:
    /// 0 not offered, 1 Low, 2 Substantial (issue 5 item 2; IP-3).
    pub helpdesk_in_person_level: u32,
    /// The same for a video call with photo ID (0-2).
    pub helpdesk_video_call_level: u32,
    /// The same for a call-back to a registered number (0-1: it proves control of a number,
    /// not identity, so never Substantial).
    pub helpdesk_call_back_level: u32,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            password_min_length: 12,
            password_history: 5,
            password_argon2_memory_kib: 19456,
            password_argon2_iterations: 2,
            password_argon2_parallelism: 1,
            activation_code_hours: 72,
            session_idle_minutes: 60,
            session_lifetime_minutes: 720,
            session_password_fresh_minutes: 180,
            session_second_factor_fresh_minutes: 60,
            lockout_threshold: 5,
            lockout_minutes: 5,
            throttle_failures_per_minute: 30,
            helpdesk_in_person_level: 2,
            helpdesk_video_call_level: 2,
            helpdesk_call_back_level: 1,
        }
    }
}

/// The sign-in and identity-verification policies an administrator may change while Portner
/// runs (issue 5 item 4), as
/// `(key, lowest, highest)`: the same keys and ranges the configuration file is held to. The
/// Argon2id parameters and the per-source throttle are not among them: they are built into
/// the password hasher and the throttle at start.
pub const EDITABLE_POLICIES: [(&str, u32, u32); 12] = [
    ("password_min_length", 8, 256),
    ("password_history", 0, 24),
    ("activation_code_hours", 1, 720),
    ("session_idle_minutes", 5, 1440),
    ("session_lifetime_minutes", 10, 10080),
    ("session_password_fresh_minutes", 10, 1440),
    ("session_second_factor_fresh_minutes", 10, 1440),
    ("lockout_threshold", 3, 100),
    ("lockout_minutes", 1, 1440),
    ("helpdesk_in_person_level", 0, 2),
    ("helpdesk_video_call_level", 0, 2),
    ("helpdesk_call_back_level", 0, 1),
];

impl SignInSettings {
    /// The value of an editable policy ([`EDITABLE_POLICIES`]), or `None` for any other key.
    pub fn policy(&self, key: &str) -> Option<u32> {
        let mut copy = *self;
        copy.slot(key).map(|value| *value)
    }

    /// These settings with the editable policy `key` set to `value`, or `None` when the key
    /// is not editable or the value is outside its range.
    pub fn with_policy(mut self, key: &str, value: u32) -> Option<Self> {
        let (_, low, high) = EDITABLE_POLICIES.iter().find(|(name, ..)| *name == key)?;
        if !(*low..=*high).contains(&value) {
            return None;
        }
        *self.slot(key)? = value;
        Some(self)
    }

    /// The field behind an editable policy key: the one place that maps keys to fields.
    fn slot(&mut self, key: &str) -> Option<&mut u32> {
        Some(match key {
            "password_min_length" => &mut self.password_min_length,
            "password_history" => &mut self.password_history,
            "activation_code_hours" => &mut self.activation_code_hours,
            "session_idle_minutes" => &mut self.session_idle_minutes,
            "session_lifetime_minutes" => &mut self.session_lifetime_minutes,
            "session_password_fresh_minutes" => &mut self.session_password_fresh_minutes,
            "session_second_factor_fresh_minutes" => &mut self.session_second_factor_fresh_minutes,
            "lockout_threshold" => &mut self.lockout_threshold,
            "lockout_minutes" => &mut self.lockout_minutes,
            "helpdesk_in_person_level" => &mut self.helpdesk_in_person_level,
            "helpdesk_video_call_level" => &mut self.helpdesk_video_call_level,
            "helpdesk_call_back_level" => &mut self.helpdesk_call_back_level,
            _ => return None,
        })
    }
}

/// An optional whole number with its default, checked against an inclusive range.
fn bounded(
    key: &str,
    given: Option<i64>,
    default: u32,
    low: u32,
    high: u32,
) -> Result<u32, ConfigError> {
    let value = given.unwrap_or(i64::from(default));
    u32::try_from(value)
        .ok()
        .filter(|value| (low..=high).contains(value))
        .ok_or_else(|| ConfigError::new(key, format!("must be {low}-{high}")))
}

/// Builds the running configuration from the file (if any), the environment and the flags.
///
/// `environment` is passed in rather than read here, so tests are independent of the process
/// environment. The returned warnings name `PORTNER_*` variables that match no key; the caller
/// logs them once logging is up.
///
/// # Errors
///
/// The first problem found, naming its key.
pub fn load(
    file: Option<&Path>,
    environment: impl IntoIterator<Item = (String, String)>,
    overrides: &Overrides,
) -> Result<(Config, Vec<String>), ConfigError> {
    let mut table = match file {
        Some(path) => read_file(path)?,
        None => toml::Table::new(),
    };
    let warnings = apply_environment(&mut table, environment)?;
    apply_overrides(&mut table, overrides);

    let parsed: ConfigFile =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|error| {
            let key = error.path().to_string();
            let key = if key == "." {
                "configuration".to_owned()
            } else {
                key
            };
            ConfigError::new(key, error.inner().to_string())
        })?;
    Ok((resolve(parsed)?, warnings))
}

fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigError::new(&shown, format!("cannot read the file: {error}")))?;
    toml::from_str::<toml::Table>(&text).map_err(|error| {
        let line = error
            .span()
            .map(|span| text[..span.start].lines().count().max(1));
        let place = line
            .map(|line| format!(" (line {line})"))
            .unwrap_or_default();
        ConfigError::new(format!("{shown}{place}"), error.message())
    })
}

/// Lays `PORTNER_*` variables over the file's table, reading each by its key's type.
fn apply_environment(
    table: &mut toml::Table,
    environment: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, ConfigError> {
    let mut warnings = Vec::new();
    let mut set_by_environment = Vec::new();
    for (variable, text) in environment {
        if !variable.starts_with("PORTNER_") || variable.starts_with(TEST_VARIABLE_PREFIX) {
            continue;
        }
        let Some((key, is_file)) = key_for_env(&variable) else {
            warnings.push(format!(
                "{variable} matches no configuration key and is ignored"
            ));
            continue;
        };
        // An environment value replaces the file's value in either form (inline or `_file`).
        table.remove(key.name);
        table.remove(&format!("{}_file", key.name));
        let (name, value) = if is_file {
            (format!("{}_file", key.name), toml::Value::String(text))
        } else {
            (
                key.name.to_owned(),
                environment_value(key, &variable, text)?,
            )
        };
        if set_by_environment.contains(&key.name) {
            let problem = format!(
                "set both {} and {}_FILE; give one",
                key.env_name(),
                key.env_name()
            );
            return Err(ConfigError::new(variable, problem));
        }
        set_by_environment.push(key.name);
        table.insert(name, value);
    }
    Ok(warnings)
}

fn environment_value(
    key: &KeySpec,
    variable: &str,
    text: String,
) -> Result<toml::Value, ConfigError> {
    match key.kind {
        KeyKind::Text => Ok(toml::Value::String(text)),
        KeyKind::Integer => text
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| ConfigError::new(variable, "must be a whole number")),
    }
}

fn apply_overrides(table: &mut toml::Table, overrides: &Overrides) {
    let text = |value: &str| toml::Value::String(value.to_owned());
    if let Some(listen) = &overrides.listen {
        table.insert("listen".into(), text(listen));
    }
    if let Some(data_dir) = &overrides.data_dir {
        table.insert("data_dir".into(), text(&data_dir.to_string_lossy()));
    }
    if let Some(log_format) = &overrides.log_format {
        table.insert("log_format".into(), text(log_format));
    }
}

/// Fills defaults, reads secret files and checks every value.
fn resolve(file: ConfigFile) -> Result<Config, ConfigError> {
    let version = file.version.unwrap_or(CURRENT_VERSION);
    if version != CURRENT_VERSION {
        return Err(ConfigError::new(
            "version",
            format!("must be {CURRENT_VERSION}"),
        ));
    }

    let audit = resolve_audit(&file)?;
    let listen_text = file.listen.unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listen: SocketAddr = listen_text
        .parse()
        .map_err(|_| ConfigError::new("listen", "must be IP:port, e.g. 127.0.0.1:8080"))?;
    let public_url = resolve_public_url(file.public_url, listen)?;
    let saml_entity_id = file.saml_entity_id.unwrap_or_else(|| public_url.clone());
    let parsed_entity_id = url::Url::parse(&saml_entity_id);
    if !parsed_entity_id.is_ok_and(|url| ["http", "https"].contains(&url.scheme())) {
        return Err(ConfigError::new(
            "saml_entity_id",
            "must be an http or https URL (MD-1)",
        ));
    }

    let data_dir = file
        .data_dir
        .unwrap_or_else(|| PathBuf::from("./portner-data"));
    let data_dir = std::path::absolute(&data_dir)
        .map_err(|error| ConfigError::new("data_dir", error.to_string()))?;

    let database_url = secret_value("database_url", file.database_url, file.database_url_file)?
        .unwrap_or_else(|| Secret::new(default_database_url(&data_dir)));
    let backend = Backend::from_url(database_url.expose())?;

    let connections = file.database_max_connections.unwrap_or(8);
    let database_max_connections = u32::try_from(connections)
        .ok()
        .filter(|count| (1..=1000).contains(count))
        .ok_or_else(|| ConfigError::new("database_max_connections", "must be 1-1000"))?;

    let cpr_key = secret_value("cpr_key", file.cpr_key, file.cpr_key_file)?;
    if cpr_key.is_none() && backend == Backend::Postgres {
        // Replicas sharing one PostgreSQL must share the key, so none may invent its own.
        return Err(ConfigError::new(
            "cpr_key",
            "required with PostgreSQL (replicas share it)",
        ));
    }
    if let Some(key) = &cpr_key {
        crate::crypto::FieldCipher::from_hex(key.expose())
            .map_err(|error| ConfigError::new("cpr_key", error.to_string()))?;
    }

    let log_format = match file.log_format.as_deref().unwrap_or("human") {
        "human" => LogFormat::Human,
        "json" => LogFormat::Json,
        _ => return Err(ConfigError::new("log_format", "must be human or json")),
    };
    let log_level = file.log_level.unwrap_or_else(|| "info".to_owned());
    if !["error", "warn", "info", "debug", "trace"].contains(&log_level.as_str()) {
        return Err(ConfigError::new(
            "log_level",
            "must be error, warn, info, debug or trace",
        ));
    }

    let signin = SignInSettings {
        password_min_length: bounded("password_min_length", file.password_min_length, 12, 8, 256)?,
        password_history: bounded("password_history", file.password_history, 5, 0, 24)?,
        password_argon2_memory_kib: bounded(
            "password_argon2_memory_kib",
            file.password_argon2_memory_kib,
            19456,
            8192,
            1048576,
        )?,
        password_argon2_iterations: bounded(
            "password_argon2_iterations",
            file.password_argon2_iterations,
            2,
            1,
            20,
        )?,
        password_argon2_parallelism: bounded(
            "password_argon2_parallelism",
            file.password_argon2_parallelism,
            1,
            1,
            16,
        )?,
        activation_code_hours: bounded(
            "activation_code_hours",
            file.activation_code_hours,
            72,
            1,
            720,
        )?,
        session_idle_minutes: bounded(
            "session_idle_minutes",
            file.session_idle_minutes,
            60,
            5,
            1440,
        )?,
        session_lifetime_minutes: bounded(
            "session_lifetime_minutes",
            file.session_lifetime_minutes,
            720,
            10,
            10080,
        )?,
        session_password_fresh_minutes: bounded(
            "session_password_fresh_minutes",
            file.session_password_fresh_minutes,
            180,
            10,
            1440,
        )?,
        session_second_factor_fresh_minutes: bounded(
            "session_second_factor_fresh_minutes",
            file.session_second_factor_fresh_minutes,
            60,
            10,
            1440,
        )?,
        lockout_threshold: bounded("lockout_threshold", file.lockout_threshold, 5, 3, 100)?,
        lockout_minutes: bounded("lockout_minutes", file.lockout_minutes, 5, 1, 1440)?,
        throttle_failures_per_minute: bounded(
            "throttle_failures_per_minute",
            file.throttle_failures_per_minute,
            30,
            10,
            10000,
        )?,
        helpdesk_in_person_level: bounded(
            "helpdesk_in_person_level",
            file.helpdesk_in_person_level,
            2,
            0,
            2,
        )?,
        helpdesk_video_call_level: bounded(
            "helpdesk_video_call_level",
            file.helpdesk_video_call_level,
            2,
            0,
            2,
        )?,
        helpdesk_call_back_level: bounded(
            "helpdesk_call_back_level",
            file.helpdesk_call_back_level,
            1,
            0,
            1,
        )?,
    };

    Ok(Config {
        listen,
        public_url,
        saml_entity_id,
        data_dir,
        database_url,
        backend,
        database_max_connections,
        cpr_key,
        log_format,
        log_level,
        signin,
        audit,
        sync_pkcs12_password: secret_value(
            "sync_pkcs12_password",
            file.sync_pkcs12_password,
            file.sync_pkcs12_password_file,
        )?,
        sync_reconcile_interval_hours: bounded(
            "sync_reconcile_interval_hours",
            file.sync_reconcile_interval_hours,
            24,
            0,
            24 * 366,
        )?,
        smtp_url: secret_value("smtp_url", file.smtp_url, file.smtp_url_file)?,
        smtp_from: file.smtp_from,
    })
    .and_then(|config| match (&config.smtp_url, &config.smtp_from) {
        (Some(_), None) => Err(ConfigError::new("smtp_from", "is required with smtp_url")),
        _ => Ok(config),
    })
}

/// The audit keys, each within bounds. The retention floors are LG-3's minimums (13 months,
/// 180 days), so a configuration cannot shorten them below what NSIS evidence needs.
fn resolve_audit(file: &ConfigFile) -> Result<AuditSettings, ConfigError> {
    let bounded = |key: &str, value: Option<i64>, default: i64, low: i64, high: i64| {
        let value = value.unwrap_or(default);
        if (low..=high).contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::new(key, format!("must be {low}-{high}")))
        }
    };
    Ok(AuditSettings {
        checkpoint_interval_secs: bounded(
            "audit_checkpoint_interval_secs",
            file.audit_checkpoint_interval_secs,
            3_600,
            60,
            86_400,
        )?,
        checkpoint_events: bounded(
            "audit_checkpoint_events",
            file.audit_checkpoint_events,
            10_000,
            1,
            1_000_000,
        )?,
        checkpoint_file: file.audit_checkpoint_file.clone(),
        checkpoint_syslog: file.audit_checkpoint_syslog.clone(),
        retention_lifecycle_days: bounded(
            "audit_retention_lifecycle_days",
            file.audit_retention_lifecycle_days,
            396,
            396,
            36_500,
        )?,
        retention_saml_days: bounded(
            "audit_retention_saml_days",
            file.audit_retention_saml_days,
            180,
            180,
            36_500,
        )?,
        saml_refusals_per_minute: bounded(
            "audit_saml_refusals_per_minute",
            file.audit_saml_refusals_per_minute,
            20,
            1,
            100_000,
        )?,
    })
}

/// The public URL, or a default for a loopback listener: `http://localhost:PORT`, because
/// browsers refuse WebAuthn on IP-literal origins and treat only `localhost` as a secure
/// context without TLS (`security-tests.md` §7.3). A listener reachable from elsewhere has no
/// sensible default: users reach it through a name and TLS that only the operator knows.
fn resolve_public_url(given: Option<String>, listen: SocketAddr) -> Result<String, ConfigError> {
    let text = match given {
        Some(text) => text,
        None if listen.ip().is_loopback() => format!("http://localhost:{}", listen.port()),
        None => {
            return Err(ConfigError::new(
                "public_url",
                "required when listen is not a loopback address: the https URL users reach",
            ));
        }
    };
    let url = url::Url::parse(&text)
        .map_err(|error| ConfigError::new("public_url", format!("not a URL: {error}")))?;
    let plain = url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    if !["http", "https"].contains(&url.scheme()) || url.host().is_none() || !plain {
        return Err(ConfigError::new(
            "public_url",
            "must be an http or https URL without credentials, query or fragment",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A secret given inline or as a file, never both.
fn secret_value(
    key: &str,
    inline: Option<Secret>,
    file: Option<PathBuf>,
) -> Result<Option<Secret>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            key,
            format!("give {key} or {key}_file, not both"),
        )),
        (Some(secret), None) => Ok(Some(secret)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|error| {
                let problem = format!("cannot read secret file {}: {error}", path.display());
                ConfigError::new(format!("{key}_file"), problem)
            })?;
            Ok(Some(Secret::new(text.trim_end_matches(['\n', '\r']))))
        }
        (None, None) => Ok(None),
    }
}

/// The embedded default: the SQLite file in the data folder.
pub fn default_database_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(DATABASE_FILE).display()
    )
}

#[cfg(test)]
mod tests;
