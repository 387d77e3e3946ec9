//! Operator logs through `tracing`: human-readable lines by default, JSON with
//! `--log-format json`. Written to standard error so that command output on standard output
//! stays machine-readable.

use portner_shared::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Library crates are held at `warn` so that their statement
/// logs (sqlx) do not drown Portner's own lines.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::new(format!("{level},sqlx=warn,hyper=warn,tower_http=warn"));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colours);
    // A subscriber may already be set when the CLI runs inside a test; keeping the first one
    // is the right outcome then, so the error is ignored.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
