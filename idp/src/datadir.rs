//! The data folder: where the embedded default keeps its SQLite database and generated keys.
//!
//! On first use the folder is created (mode 0700) and filled with an RSA-3072 signing key, an
//! encryption key, the audit key that signs checkpoints and evidence packs (kept apart from the
//! SAML keys so that rolling those over never invalidates the audit trail's signatures), each
//! with a self-signed certificate, and, unless configured, the CPR field key. Private files
//! are mode 0600 and are written to a temporary name and renamed, so a crash never leaves half
//! a key. Later starts load the same files; nothing is regenerated.
//!
//! The audit key alone can be replaced on purpose ([`rotation`], `portner audit key
//! rotate`); the certificates it replaced stay in `audit-retired/` and are loaded as trusted
//! for the checkpoints they signed.

pub mod rotation;

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use portner_shared::config::{Backend, Config, DATABASE_FILE};
use portner_shared::crypto::{CryptoError, FieldCipher};

use crate::keys::{KeyError, KeyPair};

pub mod rollover;

const PRIVATE_FILE_MODE: u32 = 0o600;
const PUBLIC_FILE_MODE: u32 = 0o644;
const FOLDER_MODE: u32 = 0o700;

/// Why the data folder could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// A file or folder could not be created, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A key file is damaged or does not match its certificate.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A signing-key rollover cannot go on as asked; the message says what to do.
    #[error("{0}")]
    Rollover(String),
    /// A retired audit certificate in `audit-retired/` is damaged.
    #[error("{path}: not a certificate (retired audit certificates must stay readable)")]
    RetiredCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The CPR key file does not hold a valid key.
    #[error("{path}: {source}")]
    CprKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        source: CryptoError,
    },
}

/// A key that this start generated, for the audit trail.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GeneratedKey {
    /// `signing`, `encryption`, `audit` or `cpr`.
    pub purpose: &'static str,
    /// The certificate fingerprint, for asymmetric keys.
    pub fingerprint: Option<String>,
}

/// The keys of a prepared data folder.
#[derive(Debug)]
pub struct PreparedData {
    /// The folder, absolute.
    pub root: PathBuf,
    /// Signs assertions and metadata.
    pub signing: KeyPair,
    /// The next signing key while a rollover is prepared: published, not yet signing.
    pub next_signing: Option<KeyPair>,
    /// Decrypts what SPs encrypt to the IdP.
    pub encryption: KeyPair,
    /// Signs audit checkpoints and evidence packs (LG-5).
    pub audit: KeyPair,
    /// Certificates of earlier audit keys, still trusted for the checkpoints they signed.
    pub audit_retired: Vec<openssl::x509::X509>,
    /// Encrypts CPR numbers at rest.
    pub cipher: FieldCipher,
    /// Keys generated just now; empty on every later start.
    pub generated: Vec<GeneratedKey>,
}

/// Creates the folder and its keys if missing, and loads them.
///
/// # Errors
///
/// A file cannot be written or read, or a key file is damaged.
pub fn prepare(config: &Config) -> Result<PreparedData, DataDirError> {
    let root = config.data_dir.clone();
    DirBuilder::new()
        .recursive(true)
        .mode(FOLDER_MODE)
        .create(&root)
        .map_err(|source| DataDirError::Io {
            path: root.clone(),
            source,
        })?;

    let mut generated = Vec::new();
    let signing = key_pair(&root, "signing", "Portner signing key", &mut generated)?;
    let next_signing = rollover::next_signing_key(&root)?;
    let encryption = key_pair(
        &root,
        "encryption",
        "Portner encryption key",
        &mut generated,
    )?;
    rotation::recover(&root)?;
    let audit = key_pair(&root, "audit", rotation::AUDIT_COMMON_NAME, &mut generated)?;
    let audit_retired = rotation::retired(&root)?;
    let cipher = match &config.cpr_key {
        Some(key) => {
            FieldCipher::from_hex(key.expose()).map_err(|source| DataDirError::CprKey {
                path: "cpr_key".into(),
                source,
            })?
        }
        None => cpr_key_file(&config.cpr_key_path(), &mut generated)?,
    };
    // Only the default database file is Portner's to create; a configured SQLite path
    // elsewhere is the operator's.
    let default_database = root.join(DATABASE_FILE);
    let uses_default =
        config.database_url.expose() == portner_shared::config::default_database_url(&root);
    if config.backend == Backend::Sqlite && uses_default {
        create_private_file(&default_database)?;
    }
    Ok(PreparedData {
        root,
        signing,
        next_signing,
        encryption,
        audit,
        audit_retired,
        cipher,
        generated,
    })
}

/// Creates an empty file with mode 0600 if none exists, so that SQLite (which gives its WAL and
/// shared-memory files the database file's mode) never creates the database world-readable.
fn create_private_file(path: &Path) -> Result<(), DataDirError> {
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(DataDirError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Loads `<purpose>.key` and `<purpose>.crt`, generating what is missing.
fn key_pair(
    root: &Path,
    purpose: &'static str,
    common_name: &str,
    generated: &mut Vec<GeneratedKey>,
) -> Result<KeyPair, DataDirError> {
    let key_path = root.join(format!("{purpose}.key"));
    let certificate_path = root.join(format!("{purpose}.crt"));

    let pair = match (read_optional(&key_path)?, read_optional(&certificate_path)?) {
        (Some(key_pem), Some(certificate_pem)) => {
            return Ok(KeyPair::from_pem(purpose, &key_pem, &certificate_pem)?);
        }
        // The key survived and its certificate was lost: keep the key, which SPs may already
        // trust through a certificate they hold, and issue a new certificate for it.
        (Some(key_pem), None) => {
            let private_key = openssl::pkey::PKey::private_key_from_pem(&key_pem)
                .map_err(|_| KeyError::Malformed(purpose))?;
            KeyPair::recertify(private_key, common_name)?
        }
        (None, _) => KeyPair::generate(common_name)?,
    };

    write_file(&key_path, &pair.private_key_pem()?, PRIVATE_FILE_MODE)?;
    write_file(
        &certificate_path,
        &pair.certificate_pem()?,
        PUBLIC_FILE_MODE,
    )?;
    generated.push(GeneratedKey {
        purpose,
        fingerprint: Some(pair.fingerprint()),
    });
    Ok(pair)
}

fn cpr_key_file(
    path: &Path,
    generated: &mut Vec<GeneratedKey>,
) -> Result<FieldCipher, DataDirError> {
    let key_hex = match read_optional(path)? {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => {
            let key_hex = FieldCipher::generate_hex().map_err(|source| DataDirError::CprKey {
                path: path.to_owned(),
                source,
            })?;
            write_file(path, key_hex.as_bytes(), PRIVATE_FILE_MODE)?;
            generated.push(GeneratedKey {
                purpose: "cpr",
                fingerprint: None,
            });
            key_hex
        }
    };
    FieldCipher::from_hex(&key_hex).map_err(|source| DataDirError::CprKey {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, DataDirError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(DataDirError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `bytes` to `path` with `mode`, through a temporary file and a rename, so the file is
/// either absent or complete.
pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DataDirError> {
    let temporary = path.with_extension("partial");
    let io_error = |source| DataDirError::Io {
        path: path.to_owned(),
        source,
    };

    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .map_err(io_error)?;
    // The mode given to open() applies only when the file is created; a leftover partial file
    // from a crash keeps its old mode unless it is set again.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_error)?;
    file.write_all(bytes).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    fs::rename(&temporary, path).map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn config_for(folder: &Path) -> Config {
        let overrides = portner_shared::config::Overrides {
            data_dir: Some(folder.to_owned()),
            ..Default::default()
        };
        portner_shared::config::load(None, Vec::new(), &overrides)
            .unwrap()
            .0
    }

    #[test]
    fn first_use_generates_private_files_with_mode_0600_and_later_uses_reload_them() {
        let folder = tempfile::tempdir().unwrap();
        let config = config_for(&folder.path().join("data"));

        let first = prepare(&config).unwrap();
        let second = prepare(&config).unwrap();

        assert_eq!(first.generated.len(), 4);
        assert!(second.generated.is_empty());
        assert_eq!(first.signing.fingerprint(), second.signing.fingerprint());
        for name in [
            "signing.key",
            "encryption.key",
            "audit.key",
            "cpr.key",
            DATABASE_FILE,
        ] {
            let mode = fs::metadata(config.data_dir.join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let folder_mode = fs::metadata(&config.data_dir).unwrap().permissions().mode();
        assert_eq!(folder_mode & 0o777, 0o700);
    }

    #[test]
    fn a_database_configured_elsewhere_is_not_created_in_the_data_folder() {
        let folder = tempfile::tempdir().unwrap();
        let elsewhere = format!("sqlite://{}/other.db", folder.path().display());
        let overrides = portner_shared::config::Overrides {
            data_dir: Some(folder.path().join("data")),
            ..Default::default()
        };
        let environment = vec![("PORTNER_DATABASE_URL".to_owned(), elsewhere)];
        let config = portner_shared::config::load(None, environment, &overrides)
            .unwrap()
            .0;

        prepare(&config).unwrap();

        assert!(!config.data_dir.join(DATABASE_FILE).exists());
    }

    #[test]
    fn a_lost_certificate_is_reissued_for_the_same_key() {
        let folder = tempfile::tempdir().unwrap();
        let config = config_for(folder.path());
        let first = prepare(&config).unwrap();
        fs::remove_file(folder.path().join("signing.crt")).unwrap();

        let second = prepare(&config).unwrap();

        assert!(
            second
                .signing
                .private_key
                .public_eq(&first.signing.private_key)
        );
        assert_eq!(second.generated.len(), 1);
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_silent_regeneration() {
        let folder = tempfile::tempdir().unwrap();
        let config = config_for(folder.path());
        prepare(&config).unwrap();
        fs::write(folder.path().join("encryption.key"), b"not a key").unwrap();

        let error = prepare(&config).unwrap_err();

        assert!(error.to_string().contains("encryption"), "{error}");
    }
}
