//! The `portner` command line: argument definitions and exit codes.
//!
//! Exit status: 0 on success; 1 when the operation failed (a database error, a broken audit
//! chain, a username already taken); 2 for a usage or configuration error, always with one
//! line naming the key or argument at fault.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Portner: a Local IdP with embedded MitID Erhverv IdM sync.
#[derive(Debug, Parser)]
#[command(name = "portner", version, max_term_width = 100)]
pub struct Cli {
    /// Configuration file (TOML); environment variables and flags override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Data folder for the SQLite database and keys [default: ./portner-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Log output format [default: human].
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormatArg {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (creates and migrates the data folder on first start).
    Serve(ServeArgs),
    /// Create or update the database schema, then exit.
    Migrate,
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Audit trail commands.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage SAML service providers.
    #[command(subcommand)]
    Sp(SpCommand),
    /// The IdP's keys and the signing-key rollover.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// MitID Erhverv IdM sync.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// SCIM 2.0 provisioning clients.
    #[command(subcommand)]
    Scim(ScimCommand),
    /// JSON API (`/api/v1`) clients.
    #[command(subcommand)]
    Api(ApiCommand),
}

/// `portner serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, IP:port [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// `portner config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration and print the effective values (secrets hidden).
    Check,
}

/// `portner org …`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Register an organisation.
    Add(OrgAddArgs),
    /// List organisations.
    List(ListArgs),
}

/// `portner org add` flags.
#[derive(Debug, Args)]
pub struct OrgAddArgs {
    /// CVR number (eight digits).
    #[arg(long)]
    pub cvr: String,
    /// Registered name.
    #[arg(long)]
    pub name: String,
    /// Suffix of the MitID Erhverv subjectNameId (username@SUFFIX), e.g. the domain.
    #[arg(long)]
    pub suffix: String,
    /// SE number under the CVR; repeat for several.
    #[arg(long = "se", value_name = "SE")]
    pub se_numbers: Vec<String>,
    /// P-number of a production unit; repeat for several.
    #[arg(long = "p-unit", value_name = "P")]
    pub p_units: Vec<String>,
}

/// `--json` for listing commands.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `portner user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, pending activation. No password is read: users choose their own when
    /// they activate.
    Add(UserAddArgs),
    /// List users.
    List(UserListArgs),
    /// Show one user.
    Show(UserShowArgs),
    /// Disable a user and end their sessions.
    Disable(UsernameArg),
    /// Issue a one-time activation code for a pending user and print it with the link.
    ActivationCode(ActivationCodeArgs),
    /// Grant a staff role (administrator, helpdesk, auditor); bootstraps the first
    /// administrator.
    Grant(RoleArgs),
    /// Revoke a staff role.
    Revoke(RoleArgs),
    /// Create users from a CSV file (columns org, username, name, email, optionally cpr):
    /// all rows or, if any is broken, none.
    Import(UserImportArgs),
}

/// `portner user import` arguments.
#[derive(Debug, Args)]
pub struct UserImportArgs {
    /// The CSV file, UTF-8, with a header row.
    pub file: PathBuf,
    /// Check every row and report what would be rejected; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `portner user grant|revoke` arguments.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The username.
    pub username: String,
    /// administrator, helpdesk or auditor.
    pub role: String,
    /// CVR number of the organisation the role applies to [default: the user's own].
    #[arg(long)]
    pub org: Option<String>,
}

/// `portner user activation-code` flags.
#[derive(Debug, Args)]
pub struct ActivationCodeArgs {
    /// The username.
    pub username: String,
    /// How the identity was verified: authoritative_source, call_back, in_person, video_call.
    #[arg(long, value_name = "METHOD", requires_all = ["reference", "level"])]
    pub verified_by: Option<String>,
    /// Document or case reference of the verification (never a CPR number).
    #[arg(long, value_name = "REF", requires = "verified_by")]
    pub reference: Option<String>,
    /// NSIS level the verification supports: low, substantial or high.
    #[arg(long, value_name = "LEVEL", requires = "verified_by")]
    pub level: Option<String>,
}

/// `portner user add` flags.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// CVR number of the user's organisation.
    #[arg(long)]
    pub org: String,
    /// Username, unique across the installation.
    #[arg(long)]
    pub username: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Work e-mail address.
    #[arg(long)]
    pub email: String,
    /// CPR number; stored encrypted, never printed.
    #[arg(long)]
    pub cpr: Option<String>,
    /// NemID employee-signature RID of a user migrating from NemID; MitID Erhverv creation
    /// passes it so that the user keeps their rights.
    #[arg(long)]
    pub rid: Option<String>,
}

/// `portner user list` flags.
#[derive(Debug, Args)]
pub struct UserListArgs {
    /// Only users of this organisation (CVR).
    #[arg(long)]
    pub org: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `portner user show` flags.
#[derive(Debug, Args)]
pub struct UserShowArgs {
    /// The username.
    pub username: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A username argument.
#[derive(Debug, Args)]
pub struct UsernameArg {
    /// The username.
    pub username: String,
}

/// `portner sp …`.
#[derive(Debug, Subcommand)]
pub enum SpCommand {
    /// Register a service provider from its SAML metadata (a file or an https URL).
    Add(SpAddArgs),
    /// List registered service providers.
    List(ListArgs),
    /// Remove a service provider.
    Remove(SpRemoveArgs),
}

/// `portner sp add` flags.
#[derive(Debug, Args)]
pub struct SpAddArgs {
    /// The SP's metadata: an XML file, or an `https://` URL to fetch it from.
    #[arg(long, value_name = "FILE|URL")]
    pub metadata: String,
    /// Trust only this CA certificate (PEM) for an https metadata URL, instead of the
    /// system's roots (for an SP with a certificate from a private CA).
    #[arg(long, value_name = "FILE")]
    pub metadata_ca: Option<PathBuf>,
    /// `own` for the organisation's own SPs, `nemlogin` for NemLog-in.
    #[arg(long, default_value = "own")]
    pub profile: String,
    /// A name for consoles and reports [default: the entityID].
    #[arg(long)]
    pub name: Option<String>,
    /// Assertion encryption: `oiosaml3` (AES-256-GCM, RSA-OAEP), `legacy` (AES-128-GCM,
    /// rsa-oaep-mgf1p) or `none`.
    #[arg(long, default_value = "oiosaml3")]
    pub encryption: String,
    /// Sign the whole Response too, not only the Assertion.
    #[arg(long)]
    pub sign_response: bool,
    /// Accept RSA-SHA1 request signatures from this SP (weak; for old SPs only).
    #[arg(long)]
    pub allow_sha1: bool,
    /// The lowest NSIS level this SP is served at.
    #[arg(long, default_value = "substantial")]
    pub minimum_level: String,
    /// An attribute to release beyond the OIOSAML 3 core set (repeatable; own SPs only):
    /// `https://data.gov.dk/model/core/eid/email`, `…/fullName` or `…/cprNumber`.
    #[arg(long = "attribute", value_name = "NAME")]
    pub attributes: Vec<String>,
}

/// `portner sp remove` arguments.
#[derive(Debug, Args)]
pub struct SpRemoveArgs {
    /// The SP's entityID.
    pub entity_id: String,
}

/// `portner audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the audit chain and check every signed checkpoint; exit 0 if all hold, 1 with the
    /// first broken record and each failing checkpoint otherwise.
    Verify(AuditVerifyArgs),
    /// Sign the chain head now (also done by `serve` hourly and every 10,000 events).
    Checkpoint,
    /// Export the evidence pack of a period as a signed zip file.
    Export(AuditExportArgs),
    /// Verify an evidence pack offline (needs no database) and print a verdict.
    VerifyPack(AuditVerifyPackArgs),
    /// Remove audit records past retention, up to a signed checkpoint.
    Prune(AuditPruneArgs),
    /// Print the audit certificate's SHA-256 fingerprint, to give auditors out of band; or
    /// `rotate` the audit key.
    Key(AuditKeyArgs),
}

/// `portner audit key [rotate]`.
#[derive(Debug, Args)]
pub struct AuditKeyArgs {
    /// What to do; without one, print the fingerprint.
    #[command(subcommand)]
    pub action: Option<AuditKeyCommand>,
}

/// `portner audit key …`.
#[derive(Debug, Subcommand)]
pub enum AuditKeyCommand {
    /// Replace the audit key with a new one. The old certificate is kept in `audit-retired/`
    /// and stays trusted for the checkpoints it signed; a checkpoint with the old key seals
    /// the chain first, and one with the new key covers the rotation's event. Restart `serve`
    /// (every replica, after copying the key files) so it signs with the new key.
    Rotate,
}

/// `portner audit verify` flags.
#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// Also compare with the external checkpoint file [default: audit_checkpoint_file].
    #[arg(long, value_name = "FILE")]
    pub checkpoint_file: Option<PathBuf>,
}

/// `portner audit export` flags.
#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Start of the period (UTC): YYYY-MM-DD or RFC 3339, inclusive.
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// End of the period (UTC): YYYY-MM-DD or RFC 3339, exclusive.
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// The zip file to write; must not exist.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// No progress bar (for scripts).
    #[arg(long)]
    pub quiet: bool,
}

/// `portner audit verify-pack` flags.
#[derive(Debug, Args)]
pub struct AuditVerifyPackArgs {
    /// The evidence pack.
    pub pack: PathBuf,
    /// The audit certificate's SHA-256 fingerprint, obtained out of band (`portner audit key`).
    #[arg(long, value_name = "HEX")]
    pub expect_fingerprint: Option<String>,
}

/// `portner audit prune` flags.
#[derive(Debug, Args)]
pub struct AuditPruneArgs {
    /// Prune through this checkpoint's sequence number [default: the newest eligible one].
    #[arg(long, value_name = "SEQ")]
    pub through: Option<i64>,
}

/// `portner keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the fingerprints of the current keys and of a next signing key.
    Status,
    /// Start a signing-key rollover (the next key is published, not used), or finish it.
    Rotate(KeysRotateArgs),
}

/// `portner keys rotate` flags.
#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    /// Make the published next key the signing key (run once every SP holds the metadata).
    #[arg(long)]
    pub promote: bool,
}

/// `portner sync …` (issue 6).
#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Turn sync on (or change its settings) for an organisation and queue its active users.
    Enable(SyncEnableArgs),
    /// Dry run: the queued actions and what a reconcile would find and repair.
    Plan(SyncPlanArgs),
    /// Drain the outbox once, with a progress bar.
    Run(SyncRunArgs),
    /// Queue depth by state, oldest pending, failures with reasons, last reconcile, drift.
    Status(ListArgs),
    /// Put a failed action back in the queue.
    Retry(SyncRetryArgs),
    /// Activate imported NemID identities and bind them to their local users.
    Migrate(SyncMigrateArgs),
    /// Import the MitID Erhverv role catalogue into the rights catalogue, so that its roles
    /// can be assigned (a reconcile also does this).
    ImportRights(SyncPlanArgs),
}

/// `portner sync enable` flags.
#[derive(Debug, Args)]
pub struct SyncEnableArgs {
    /// CVR of the organisation.
    #[arg(long)]
    pub org: String,
    /// `light` (users activate with private MitID) or `local_idp` (created activated).
    #[arg(long, default_value = "local_idp")]
    pub mode: String,
    /// IdM API base URL.
    #[arg(long, default_value = "https://services.nemlog-in.dk")]
    pub base_url: String,
    /// System certificate: PKCS#12 file (password: configuration key
    /// sync_pkcs12_password), or a PEM
    /// certificate with --client-key.
    #[arg(long, value_name = "FILE")]
    pub client_cert: PathBuf,
    /// PEM private key for a PEM certificate.
    #[arg(long, value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// PEM bundle of the server roots to trust (no others are trusted).
    #[arg(long, value_name = "FILE")]
    pub trust_roots: PathBuf,
    /// Sync only the members of this group of the organisation (by name); without it, all
    /// the organisation's users.
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
}

/// `portner sync plan` flags.
#[derive(Debug, Args)]
pub struct SyncPlanArgs {
    /// Only this organisation.
    #[arg(long)]
    pub org: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `portner sync run` flags.
#[derive(Debug, Args)]
pub struct SyncRunArgs {
    /// Actions in flight at once (§1: one per organisation is the safe default).
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Actions started per second; 0 = unlimited.
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
    /// Attempts before an action is marked failed.
    #[arg(long, default_value_t = 10)]
    pub max_attempts: i64,
    /// First backoff ceiling in milliseconds (§7.3: 30000).
    #[arg(long, default_value_t = 30_000)]
    pub backoff_ms: u64,
    /// Wait for scheduled retries instead of leaving them for the next run.
    #[arg(long)]
    pub wait: bool,
    /// Reconcile every synced organisation first.
    #[arg(long)]
    pub reconcile: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `portner sync retry` arguments.
#[derive(Debug, Args)]
pub struct SyncRetryArgs {
    /// The action's ID, as `portner sync status` shows it.
    pub id: i64,
}

/// `portner sync migrate` flags.
#[derive(Debug, Args)]
pub struct SyncMigrateArgs {
    /// CVR of the organisation.
    #[arg(long)]
    pub org: String,
    /// List the matches without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Signaturcentralen's export of NemID RIDs: a CSV file with the columns `username` and
    /// `rid`, matched before e-mail and CPR (mitid-erhverv-idm-api.md §6 L8).
    #[arg(long, value_name = "FILE.csv")]
    pub rid_file: Option<std::path::PathBuf>,
}

/// `portner scim …` (issue 5, item 5).
#[derive(Debug, Subcommand)]
pub enum ScimCommand {
    /// Bearer tokens of SCIM clients.
    #[command(subcommand)]
    Token(ScimTokenCommand),
}

/// `portner scim token …`.
#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Create a token for a SCIM client of one organisation and print it once.
    Create(ScimTokenCreateArgs),
    /// List tokens (never their secrets).
    List(ScimTokenListArgs),
    /// Revoke a token; the client is refused from the next request on.
    Revoke(ScimTokenRevokeArgs),
}

/// `portner scim token create` flags.
#[derive(Debug, Args)]
pub struct ScimTokenCreateArgs {
    /// CVR number of the organisation the client provisions users in.
    #[arg(long)]
    pub org: String,
    /// A name for the client, unique within the organisation, e.g. `hr-system`.
    #[arg(long)]
    pub name: String,
    /// Days until the token expires, 1-730.
    #[arg(long, default_value_t = 90)]
    pub days: u16,
}

/// `portner scim token list` flags.
#[derive(Debug, Args)]
pub struct ScimTokenListArgs {
    /// Only tokens of this organisation (CVR).
    #[arg(long)]
    pub org: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `portner scim token revoke` flags.
#[derive(Debug, Args)]
pub struct ScimTokenRevokeArgs {
    /// CVR number of the token's organisation.
    #[arg(long)]
    pub org: String,
    /// The token's name.
    #[arg(long)]
    pub name: String,
}

/// `portner api …` (issue 5, item 4).
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Tokens of JSON API clients.
    #[command(subcommand)]
    Token(ApiTokenCommand),
}

/// `portner api token …`.
#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Create a token acting as a staff user, with that user's roles, and print it once.
    Create(ApiTokenCreateArgs),
    /// List a user's tokens (never their secrets).
    List(ApiTokenListArgs),
    /// Revoke a token; the client is refused from the next request on.
    Revoke(ApiTokenRevokeArgs),
}

/// `portner api token create` flags.
#[derive(Debug, Args)]
pub struct ApiTokenCreateArgs {
    /// The staff user the token acts as.
    #[arg(long)]
    pub user: String,
    /// A name for the token, unique for the user, e.g. `hr-report`.
    #[arg(long)]
    pub name: String,
    /// `read` (GET only) or `write`.
    #[arg(long, default_value = "read")]
    pub scope: String,
    /// Days until the token expires, 1-365.
    #[arg(long, default_value_t = 90)]
    pub days: u16,
}

/// `portner api token list` flags.
#[derive(Debug, Args)]
pub struct ApiTokenListArgs {
    /// The user whose tokens to list.
    #[arg(long)]
    pub user: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `portner api token revoke` flags.
#[derive(Debug, Args)]
pub struct ApiTokenRevokeArgs {
    /// The token's user.
    #[arg(long)]
    pub user: String,
    /// The token's name.
    #[arg(long)]
    pub name: String,
}

/// Parses the process's arguments, runs the command and returns its exit status.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match crate::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("portner: {error}");
            ExitCode::from(error.exit_status())
        }
    }
}
