//! `portner sp add|list|remove`.

use portner_audit::AuditContext;
use portner_shared::domain::ServiceProvider;

use super::{CommandError, Environment};
use crate::cli::{SpAddArgs, SpCommand};
use crate::saml::registry::{self, EncryptionProfile, RegistryError, SpSettings};

/// Largest metadata file read; the parser caps it again (1 MiB).
const MAX_METADATA_FILE_BYTES: u64 = 1024 * 1024;

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
        encryption: match args.encryption.as_str() {
            "oiosaml3" => EncryptionProfile::Oiosaml3,
            "legacy" => EncryptionProfile::Legacy,
            "none" => EncryptionProfile::None,
            _ => {
                return Err(CommandError::Failed(
                    "--encryption must be oiosaml3, legacy or none".into(),
                ));
            }
        },
        sign_response: args.sign_response,
        allow_sha1: args.allow_sha1,
        minimum_level: args.minimum_level.parse()?,
        released_attributes: args.attributes,
    };
    let metadata = read_metadata(&args.metadata)?;

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
