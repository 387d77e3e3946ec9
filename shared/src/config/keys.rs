//! The table of configuration keys: name, type, default, unit and meaning.
//!
//! One table serves three purposes: mapping `PORTNER_*` environment variables onto keys (with
//! the right type), warning about variables that match no key, and checking that
//! `docs/configuration.md` documents every key (a test reads the file).

/// The type of a key's value, which decides how an environment variable's text is read.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum KeyKind {
    /// Free text (addresses, paths, URLs).
    Text,
    /// A whole number.
    Integer,
}

/// One documented configuration key.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// The key as written in the TOML file.
    pub name: &'static str,
    /// How to read it from the environment.
    pub kind: KeyKind,
    /// Whether it is a secret: then it may also come from `<key>_file` / `PORTNER_<KEY>_FILE`,
    /// and it never appears in `Debug` output or logs.
    pub secret: bool,
    /// The default, as documentation shows it.
    pub default: &'static str,
    /// One line on what it does, with its unit.
    pub meaning: &'static str,
}

impl KeySpec {
    /// The environment variable that overrides this key, e.g. `PORTNER_LISTEN`.
    pub fn env_name(&self) -> String {
        format!("PORTNER_{}", self.name.to_ascii_uppercase())
    }
}

/// Every key Portner reads. Keep `docs/configuration.md` in step; a test checks it.
pub const KEYS: &[KeySpec] = &[
    KeySpec {
        name: "version",
        kind: KeyKind::Integer,
        secret: false,
        default: "1",
        meaning: "Format version of the configuration file; only 1 exists.",
    },
    KeySpec {
        name: "listen",
        kind: KeyKind::Text,
        secret: false,
        default: "127.0.0.1:8080",
        meaning: "Socket address (IP:port) the HTTP server listens on.",
    },
    KeySpec {
        name: "public_url",
        kind: KeyKind::Text,
        secret: false,
        default: "http://localhost:<port>",
        meaning: "Base URL users and service providers reach Portner at (http or https).",
    },
    KeySpec {
        name: "saml_entity_id",
        kind: KeyKind::Text,
        secret: false,
        default: "<public_url>",
        meaning: "The IdP's SAML entityID (MD-1), an http(s) URL such as https://saml.example.dk.",
    },
    KeySpec {
        name: "data_dir",
        kind: KeyKind::Text,
        secret: false,
        default: "./portner-data",
        meaning: "Folder for the SQLite database and generated keys; created if missing.",
    },
    KeySpec {
        name: "database_url",
        kind: KeyKind::Text,
        secret: true,
        default: "sqlite://<data_dir>/portner.db",
        meaning: "sqlite:// or postgres:// URL of the store.",
    },
    KeySpec {
        name: "database_max_connections",
        kind: KeyKind::Integer,
        secret: false,
        default: "8",
        meaning: "Connections in the store's pool (1-1000).",
    },
    KeySpec {
        name: "cpr_key",
        kind: KeyKind::Text,
        secret: true,
        default: "generated into <data_dir>/cpr.key",
        meaning: "64 hex characters (32 bytes): the AES-256-GCM key for CPR numbers at rest.",
    },
    KeySpec {
        name: "log_format",
        kind: KeyKind::Text,
        secret: false,
        default: "human",
        meaning: "Log output: human (readable lines) or json (one object per line).",
    },
    KeySpec {
        name: "log_level",
        kind: KeyKind::Text,
        secret: false,
        default: "info",
        meaning: "Least severe level logged: error, warn, info, debug or trace.",
    },
    // Sign-in (issue 3).
    KeySpec {
        name: "password_min_length",
        kind: KeyKind::Integer,
        secret: false,
        default: "12",
        meaning: "Shortest password accepted (8-256).",
    },
    KeySpec {
        name: "password_history",
        kind: KeyKind::Integer,
        secret: false,
        default: "5",
        meaning: "How many earlier passwords may not be reused (0-24).",
    },
    KeySpec {
        name: "password_argon2_memory_kib",
        kind: KeyKind::Integer,
        secret: false,
        default: "19456",
        meaning: "Argon2id memory cost for new password hashes (8192-1048576).",
    },
    KeySpec {
        name: "password_argon2_iterations",
        kind: KeyKind::Integer,
        secret: false,
        default: "2",
        meaning: "Argon2id time cost for new password hashes (1-20).",
    },
    KeySpec {
        name: "password_argon2_parallelism",
        kind: KeyKind::Integer,
        secret: false,
        default: "1",
        meaning: "Argon2id parallelism for new password hashes (1-16).",
    },
    KeySpec {
        name: "activation_code_hours",
        kind: KeyKind::Integer,
        secret: false,
        default: "72",
        meaning: "How long a one-time activation code works (1-720).",
    },
    KeySpec {
        name: "session_idle_minutes",
        kind: KeyKind::Integer,
        secret: false,
        default: "60",
        meaning: "A session unused this long ends (5-1440).",
    },
    KeySpec {
        name: "session_lifetime_minutes",
        kind: KeyKind::Integer,
        secret: false,
        default: "720",
        meaning: "Absolute lifetime of a session (10-10080).",
    },
    KeySpec {
        name: "session_password_fresh_minutes",
        kind: KeyKind::Integer,
        secret: false,
        default: "180",
        meaning: "How long the password factor counts towards the session level (SS-2, 10-1440).",
    },
    KeySpec {
        name: "session_second_factor_fresh_minutes",
        kind: KeyKind::Integer,
        secret: false,
        default: "60",
        meaning: "How long the WebAuthn factor counts towards the session level (SS-2, 10-1440).",
    },
    KeySpec {
        name: "lockout_threshold",
        kind: KeyKind::Integer,
        secret: false,
        default: "5",
        meaning: "Wrong passwords in a row that lock an account (LK-1, 3-100).",
    },
    KeySpec {
        name: "lockout_minutes",
        kind: KeyKind::Integer,
        secret: false,
        default: "5",
        meaning: "How long such a lock lasts (1-1440).",
    },
    KeySpec {
        name: "throttle_failures_per_minute",
        kind: KeyKind::Integer,
        secret: false,
        default: "30",
        meaning: "Failed sign-ins one source address may make per minute before it is slowed \
                  (10-10000).",
    },
    // The helpdesk's identity-verification methods (issue 5).
    KeySpec {
        name: "helpdesk_in_person_level",
        kind: KeyKind::Integer,
        secret: false,
        default: "2",
        meaning: "Highest level a verification in person with photo ID supports: 0 not \
                  offered, 1 Low, 2 Substantial.",
    },
    KeySpec {
        name: "helpdesk_video_call_level",
        kind: KeyKind::Integer,
        secret: false,
        default: "2",
        meaning: "Highest level a verification on a video call with photo ID supports: 0 not \
                  offered, 1 Low, 2 Substantial.",
    },
    KeySpec {
        name: "helpdesk_call_back_level",
        kind: KeyKind::Integer,
        secret: false,
        default: "1",
        meaning: "Highest level a call-back to a registered number supports: 0 not offered, \
                  1 Low.",
    },
    // Audit evidence (issue 7).
    KeySpec {
        name: "audit_checkpoint_interval_secs",
        kind: KeyKind::Integer,
        secret: false,
        default: "3600",
        meaning: "Seconds between signed audit checkpoints while events arrive (60-86400).",
    },
    KeySpec {
        name: "audit_checkpoint_events",
        kind: KeyKind::Integer,
        secret: false,
        default: "10000",
        meaning: "Events after which a checkpoint is written sooner (1-1000000).",
    },
    KeySpec {
        name: "audit_checkpoint_file",
        kind: KeyKind::Text,
        secret: false,
        default: "none",
        meaning: "File checkpoints are also appended to, one JSON line each (off-box sink).",
    },
    KeySpec {
        name: "audit_checkpoint_syslog",
        kind: KeyKind::Text,
        secret: false,
        default: "none",
        meaning: "Unix datagram socket (e.g. /dev/log) checkpoints are also sent to as syslog.",
    },
    KeySpec {
        name: "audit_retention_lifecycle_days",
        kind: KeyKind::Integer,
        secret: false,
        default: "396",
        meaning: "Days lifecycle and administration events are kept at least (>= 396).",
    },
    KeySpec {
        name: "audit_retention_saml_days",
        kind: KeyKind::Integer,
        secret: false,
        default: "180",
        meaning: "Days per-message SAML events are kept at least (>= 180).",
    },
    KeySpec {
        name: "audit_saml_refusals_per_minute",
        kind: KeyKind::Integer,
        secret: false,
        default: "20",
        meaning: "Refusals of untrusted SAML messages audited one by one per source address \
                  and minute; the rest are counted into one summary event (1-100000).",
    },
    KeySpec {
        name: "sync_pkcs12_password",
        kind: KeyKind::Text,
        secret: true,
        default: "empty",
        meaning: "Password of the MitID Erhverv system certificates given as PKCS#12 files.",
    },
    KeySpec {
        name: "sync_reconcile_interval_hours",
        kind: KeyKind::Integer,
        secret: false,
        default: "24",
        meaning: "Hours between the reconciles serve runs per sync organisation (0: on demand).",
    },
    KeySpec {
        name: "smtp_url",
        kind: KeyKind::Text,
        secret: true,
        default: "none",
        meaning: "SMTP relay for notices to users: smtp://HOST:PORT[?tls=required] or smtps://.",
    },
    KeySpec {
        name: "smtp_from",
        kind: KeyKind::Text,
        secret: false,
        default: "none",
        meaning: "Sender address of notices to users, e.g. Portner <noreply@example.dk>.",
    },
];

/// Finds the key an environment variable names, and whether it names the key's `_FILE` form.
pub fn key_for_env(variable: &str) -> Option<(&'static KeySpec, bool)> {
    KEYS.iter().find_map(|key| {
        let env_name = key.env_name();
        if variable == env_name {
            Some((key, false))
        } else if key.secret && variable.strip_suffix("_FILE") == Some(env_name.as_str()) {
            Some((key, true))
        } else {
            None
        }
    })
}
