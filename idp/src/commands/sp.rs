//! `portner sp add|list|remove`.
//!
//! Metadata is the only source of an SP's keys and endpoints (MD-9), so where it comes from is a
//! trust decision: a file the operator chose, or an `https://` URL whose server certificate
//! chains to the system's roots or to the one CA given with `--metadata-ca`. Plain `http://`
//! is refused, redirects may not leave https, and the body is capped while it streams in.

use portner_audit::AuditContext;
use portner_shared::domain::ServiceProvider;

use super::{CommandError, Environment};
use crate::cli::{SpAddArgs, SpCommand};
use crate::saml::registry::{self, EncryptionProfile, RegistryError, SpSettings};

/// Largest metadata file read; the parser caps it again (1 MiB).
const MAX_METADATA_FILE_BYTES: u64 = 1024 * 1024;
/// How long fetching metadata from a URL may take in all.
const METADATA_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// Redirects followed when fetching metadata (each must stay on https).
const METADATA_MAX_REDIRECTS: usize = 3;

pub(super) async fn run(command: SpCommand, environment: &Environment) -> Result<(), CommandError> {
    match command {
        SpCommand::Add(args) => add(args, environment).await,
        SpCommand::List(args) => {
            let mut tx = environment.store.read().await?;
            let providers = tx.service_providers().await?;
            tx.rollback().await?;
            if args.json {
                return super::print_json(&providers.iter().map(listing).collect::<Vec<_>>());
            }
            out!("{:<10} {:<48} NAME", "PROFILE", "ENTITY ID");
            for sp in &providers {
                out!(
                    "{:<10} {:<48} {}",
                    sp.profile.as_str(),
                    sp.entity_id,
                    sp.name
                );
            }
            Ok(())
        }
        SpCommand::Remove(args) => {
            let context = AuditContext::cli();
            let clock = environment.clock.as_ref();
            registry::remove(&environment.store, clock, &context, &args.entity_id)
                .await
                .map_err(registry_error)?;
            out!("service provider {} removed", args.entity_id);
            Ok(())
        }
    }
}

async fn add(args: SpAddArgs, environment: &Environment) -> Result<(), CommandError> {
    let profile = args.profile.parse()?;
    let settings = SpSettings {
        encryption: args.encryption.parse::<EncryptionProfile>().map_err(|_| {
            CommandError::Failed("--encryption must be oiosaml3, legacy or none".into())
        })?,
        sign_response: args.sign_response,
        allow_sha1: args.allow_sha1,
        minimum_level: args.minimum_level.parse()?,
        released_attributes: args.attributes,
    };
    let metadata = if args.metadata.starts_with("https://") {
        fetch_metadata(&args.metadata, args.metadata_ca.as_deref()).await?
    } else if args.metadata.starts_with("http://") {
        return Err(CommandError::Usage(
            "metadata URLs must use https: the metadata carries the SP's keys (MD-9)".into(),
        ));
    } else {
        read_metadata(std::path::Path::new(&args.metadata))?
    };

    let sp = registry::register(
        &environment.store,
        environment.clock.as_ref(),
        &AuditContext::cli(),
        &metadata,
        profile,
        args.name.as_deref(),
        &settings,
    )
    .await
    .map_err(registry_error)?;
    out!(
        "service provider {} registered ({})",
        sp.entity_id,
        sp.profile.as_str()
    );
    Ok(())
}

fn read_metadata(path: &std::path::Path) -> Result<String, CommandError> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|error| CommandError::Failed(format!("{shown}: {error}")))?
        .len();
    if size > MAX_METADATA_FILE_BYTES {
        return Err(CommandError::Failed(format!("{shown}: larger than 1 MiB")));
    }
    std::fs::read_to_string(path).map_err(|error| CommandError::Failed(format!("{shown}: {error}")))
}

/// Fetches metadata over https, streaming the body and stopping at the cap.
async fn fetch_metadata(
    url: &str,
    ca_file: Option<&std::path::Path>,
) -> Result<String, CommandError> {
    let failed = |what: &str, error: &dyn std::fmt::Display| {
        CommandError::Failed(format!("{url}: {what}: {error}"))
    };
    let mut builder = reqwest::Client::builder()
        .tls_backend_native()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::limited(METADATA_MAX_REDIRECTS))
        .timeout(METADATA_FETCH_TIMEOUT);
    if let Some(ca_file) = ca_file {
        let pem = std::fs::read(ca_file)
            .map_err(|error| CommandError::Failed(format!("{}: {error}", ca_file.display())))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|error| CommandError::Failed(format!("{}: {error}", ca_file.display())))?;
        builder = builder.tls_certs_only(roots);
    }
    let client = builder
        .build()
        .map_err(|error| failed("cannot set up the client", &error))?;

    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|error| failed("cannot fetch", &error))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(failed("the server answered", &response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| failed("the transfer failed", &error))?
    {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > MAX_METADATA_FILE_BYTES {
            return Err(CommandError::Failed(format!("{url}: larger than 1 MiB")));
        }
    }
    String::from_utf8(body).map_err(|_| CommandError::Failed(format!("{url}: not UTF-8")))
}

fn registry_error(error: RegistryError) -> CommandError {
    CommandError::Failed(error.to_string())
}

fn listing(sp: &ServiceProvider) -> serde_json::Value {
    let settings: serde_json::Value = serde_json::from_str(&sp.settings_json).unwrap_or_default();
    serde_json::json!({
        "entity_id": sp.entity_id,
        "name": sp.name,
        "profile": sp.profile.as_str(),
        "settings": settings,
        "created_at": sp.created_at,
    })
}
