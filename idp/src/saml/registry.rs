//! The service-provider registry: registering an SP from its metadata with Portner's per-SP
//! settings, listing and removing SPs, each change audited in its transaction.

use portner_audit::{AuditContext, AuditError, AuditEvent, Subject};
use portner_shared::Clock;
use portner_shared::domain::{NsisLevel, ServiceProvider, SpProfile};
use portner_shared::store::{Store, StoreError};
use serde::{Deserialize, Serialize};

use super::sp_metadata::{MetadataError, SpMetadata};

/// How assertions are encrypted for an SP (CR-3, CR-4).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EncryptionProfile {
    /// OIOSAML 3: AES-256-GCM with RSA-OAEP, SHA-256 and MGF1-SHA256 (CR-3).
    #[default]
    Oiosaml3,
    /// Older SPs: AES-128-GCM with `rsa-oaep-mgf1p` (what pysaml2 through xmlsec1 decrypts).
    Legacy,
    /// No encryption; only for SPs that cannot decrypt, and never towards NemLog-in (RS-1).
    None,
}

impl std::str::FromStr for EncryptionProfile {
    type Err = RegistryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "oiosaml3" => Ok(Self::Oiosaml3),
            "legacy" => Ok(Self::Legacy),
            "none" => Ok(Self::None),
            _ => Err(RegistryError::Settings(
                "encryption must be oiosaml3, legacy or none",
            )),
        }
    }
}

impl EncryptionProfile {
    /// The name used on the command line and in forms.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Oiosaml3 => "oiosaml3",
            Self::Legacy => "legacy",
            Self::None => "none",
        }
    }
}

/// Portner's settings for one SP, stored as JSON beside its metadata.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpSettings {
    /// Assertion encryption.
    pub encryption: EncryptionProfile,
    /// Sign the Response as well as the Assertion (RS-2: off by default).
    pub sign_response: bool,
    /// Accept RSA-SHA1 request signatures from this SP (A12: off by default).
    pub allow_sha1: bool,
    /// The lowest NSIS level this SP is served at.
    pub minimum_level: NsisLevel,
    /// Extra attributes released to this SP beyond the OIOSAML 3 core set.
    pub released_attributes: Vec<String>,
}

impl Default for SpSettings {
    fn default() -> Self {
        Self {
            encryption: EncryptionProfile::Oiosaml3,
            sign_response: false,
            allow_sha1: false,
            minimum_level: NsisLevel::Substantial,
            released_attributes: Vec::new(),
        }
    }
}

/// Why a registry change was not made; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The metadata was refused.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The settings break a rule (e.g. no encryption towards NemLog-in).
    #[error("{0}")]
    Settings(&'static str),
    /// No SP with that entityID.
    #[error("no service provider with that entityID")]
    NotFound,
    /// The store failed, or the SP is registered already.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit event could not be written.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// Registers an SP from its metadata document.
///
/// # Errors
///
/// The metadata is refused, the settings are not allowed for the profile, or the entityID is
/// registered already (a conflict inside [`RegistryError::Store`]).
pub async fn register(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    metadata_xml: &str,
    profile: SpProfile,
    name: Option<&str>,
    settings: &SpSettings,
) -> Result<ServiceProvider, RegistryError> {
    let metadata = SpMetadata::parse(metadata_xml.as_bytes())?;
    if profile == SpProfile::Nemlogin && settings.encryption == EncryptionProfile::None {
        return Err(RegistryError::Settings(
            "NemLog-in requires encrypted assertions (RS-1)",
        ));
    }
    let releasable = |name: &String| {
        super::sso::RELEASABLE
            .iter()
            .any(|(known, _)| known == name)
    };
    if !settings.released_attributes.iter().all(releasable) {
        return Err(RegistryError::Settings(
            "unknown attribute; releasable are the e-mail, fullName and cprNumber attributes",
        ));
    }
    if profile == SpProfile::Nemlogin && !settings.released_attributes.is_empty() {
        return Err(RegistryError::Settings(
            "NemLog-in receives exactly the OIOSAML 3 core attributes (AT-6)",
        ));
    }
    if settings.encryption != EncryptionProfile::None && metadata.encryption_certificates.is_empty()
    {
        return Err(RegistryError::Settings(
            "the metadata has no encryption key",
        ));
    }
    let settings_json = serde_json::to_string(settings)
        .map_err(|_| RegistryError::Settings("settings could not be serialised"))?;
    let now = clock.now();
    let sp = ServiceProvider {
        entity_id: metadata.entity_id.clone(),
        name: name.unwrap_or(&metadata.entity_id).to_owned(),
        profile,
        metadata_xml: metadata_xml.to_owned(),
        settings_json,
        created_at: now,
    };

    let mut tx = store.begin().await?;
    tx.insert_service_provider(&sp).await?;
    let event = AuditEvent::ServiceProviderRegistered {
        entity_id: sp.entity_id.clone(),
        profile: profile.as_str().to_owned(),
        signing_certificates: metadata
            .signing_certificates
            .iter()
            .map(fingerprint)
            .collect(),
    };
    let subject = Subject::ServiceProvider(sp.entity_id.clone());
    portner_audit::append(&mut tx, now, context, &subject, &event).await?;
    tx.commit().await?;
    Ok(sp)
}

/// Removes an SP.
///
/// # Errors
///
/// [`RegistryError::NotFound`] if no SP has that entityID.
pub async fn remove(
    store: &Store,
    clock: &dyn Clock,
    context: &AuditContext,
    entity_id: &str,
) -> Result<(), RegistryError> {
    let now = clock.now();
    let mut tx = store.begin().await?;
    if !tx.delete_service_provider(entity_id).await? {
        return Err(RegistryError::NotFound);
    }
    let event = AuditEvent::ServiceProviderRemoved {
        entity_id: entity_id.to_owned(),
    };
    let subject = Subject::ServiceProvider(entity_id.to_owned());
    portner_audit::append(&mut tx, now, context, &subject, &event).await?;
    tx.commit().await?;
    Ok(())
}

fn fingerprint(certificate: &openssl::x509::X509) -> String {
    certificate
        .digest(openssl::hash::MessageDigest::sha256())
        .map(hex::encode)
        .unwrap_or_default()
}
