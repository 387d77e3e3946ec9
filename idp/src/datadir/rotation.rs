//! Rotating the audit key (`portner audit key rotate`) and the trusted list of retired audit
//! certificates.
//!
//! A rotation keeps the outgoing certificate in `audit-retired/<sha256>.crt` (its private key
//! is discarded), so the checkpoints it signed stay verifiable: verifiers trust the current
//! certificate and every retired one for the checkpoints that name them, and evidence packs
//! carry the retired certificates their checkpoints need.
//!
//! The swap is made crash-safe in steps: the retired copy is written first; the new pair is
//! staged complete as `audit.next.key` and `audit.next.crt`; then the certificate and the key
//! are renamed into place, in that order. [`recover`] runs before the audit key is loaded and
//! finishes a swap that stopped between the two renames (the certificate in place already
//! belongs to the staged key) or discards a staged pair that never reached the certificate
//! rename. Either way the folder ends with a matching pair and the old certificate kept.

use std::fs::{self, DirBuilder};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use openssl::pkey::PKey;
use openssl::x509::X509;

use super::{
    DataDirError, FOLDER_MODE, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, read_optional, write_file,
};
use crate::keys::{KeyError, KeyPair};

/// The folder, inside the data folder, that keeps retired audit certificates.
pub const RETIRED_FOLDER: &str = "audit-retired";
/// The common name of generated audit certificates.
pub const AUDIT_COMMON_NAME: &str = "Portner audit key";
const NEXT_KEY: &str = "audit.next.key";
const NEXT_CERTIFICATE: &str = "audit.next.crt";

/// Replaces the audit key in `root` with a new one and keeps `current`'s certificate as
/// retired; returns the new pair.
///
/// # Errors
///
/// Key generation or a file operation failed. Before the certificate rename nothing has
/// changed but the retired copy; after it, [`recover`] completes the swap at the next start.
pub fn rotate(root: &Path, current: &KeyPair) -> Result<KeyPair, DataDirError> {
    let next = KeyPair::generate(AUDIT_COMMON_NAME)?;
    let retired = retired_folder(root);
    DirBuilder::new()
        .recursive(true)
        .mode(FOLDER_MODE)
        .create(&retired)
        .map_err(|source| io_error(&retired, source))?;
    let kept = retired.join(format!("{}.crt", current.fingerprint()));
    write_file(&kept, &current.certificate_pem()?, PUBLIC_FILE_MODE)?;

    write_file(
        &root.join(NEXT_KEY),
        &next.private_key_pem()?,
        PRIVATE_FILE_MODE,
    )?;
    write_file(
        &root.join(NEXT_CERTIFICATE),
        &next.certificate_pem()?,
        PUBLIC_FILE_MODE,
    )?;
    rename(&root.join(NEXT_CERTIFICATE), &root.join("audit.crt"))?;
    rename(&root.join(NEXT_KEY), &root.join("audit.key"))?;
    sync_folder(root)?;
    Ok(next)
}

/// Finishes or undoes a rotation that stopped half-way (see the module documentation).
///
/// # Errors
///
/// A file cannot be read, renamed or removed, or the staged key is damaged.
pub fn recover(root: &Path) -> Result<(), DataDirError> {
    let next_key_path = root.join(NEXT_KEY);
    let next_certificate_path = root.join(NEXT_CERTIFICATE);
    let Some(next_key_pem) = read_optional(&next_key_path)? else {
        return remove_if_present(&next_certificate_path);
    };
    let next_key = PKey::private_key_from_pem(&next_key_pem)
        .map_err(|_| KeyError::Malformed("audit.next.key"))?;
    let in_place = read_optional(&root.join("audit.crt"))?
        .and_then(|pem| X509::from_pem(&pem).ok())
        .and_then(|certificate| certificate.public_key().ok());
    if in_place.is_some_and(|key| key.public_eq(&next_key)) {
        tracing::warn!("completing an interrupted audit key rotation");
        rename(&next_key_path, &root.join("audit.key"))?;
        remove_if_present(&next_certificate_path)?;
    } else {
        tracing::warn!("discarding an audit key rotation that did not complete");
        remove_if_present(&next_key_path)?;
        remove_if_present(&next_certificate_path)?;
    }
    sync_folder(root)
}

/// The retired audit certificates kept in `root`, in file-name order.
///
/// # Errors
///
/// The folder cannot be read, or a certificate in it is damaged (an error rather than a
/// silent gap: a missing certificate would make its checkpoints fail verification).
pub fn retired(root: &Path) -> Result<Vec<X509>, DataDirError> {
    let folder = retired_folder(root);
    let entries = match fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(io_error(&folder, source)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|source| io_error(&folder, source))?.path();
        if path.extension().is_some_and(|extension| extension == "crt") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut certificates = Vec::new();
    for path in paths {
        let pem = fs::read(&path).map_err(|source| io_error(&path, source))?;
        let certificate =
            X509::from_pem(&pem).map_err(|_| DataDirError::RetiredCertificate { path })?;
        certificates.push(certificate);
    }
    Ok(certificates)
}

/// Where retired audit certificates are kept.
pub fn retired_folder(root: &Path) -> PathBuf {
    root.join(RETIRED_FOLDER)
}

fn rename(from: &Path, to: &Path) -> Result<(), DataDirError> {
    fs::rename(from, to).map_err(|source| io_error(to, source))
}

fn remove_if_present(path: &Path) -> Result<(), DataDirError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(io_error(path, source)),
    }
}

/// Makes the renames durable: a rename is an update of the folder.
fn sync_folder(root: &Path) -> Result<(), DataDirError> {
    fs::File::open(root)
        .and_then(|folder| folder.sync_all())
        .map_err(|source| io_error(root, source))
}

fn io_error(path: &Path, source: std::io::Error) -> DataDirError {
    DataDirError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder_with_audit_key() -> (tempfile::TempDir, KeyPair) {
        let folder = tempfile::tempdir().unwrap();
        let pair = KeyPair::generate(AUDIT_COMMON_NAME).unwrap();
        write_file(
            &folder.path().join("audit.key"),
            &pair.private_key_pem().unwrap(),
            PRIVATE_FILE_MODE,
        )
        .unwrap();
        write_file(
            &folder.path().join("audit.crt"),
            &pair.certificate_pem().unwrap(),
            PUBLIC_FILE_MODE,
        )
        .unwrap();
        (folder, pair)
    }

    fn load(root: &Path) -> KeyPair {
        let key = fs::read(root.join("audit.key")).unwrap();
        let certificate = fs::read(root.join("audit.crt")).unwrap();
        KeyPair::from_pem("audit", &key, &certificate).unwrap()
    }

    #[test]
    fn rotation_installs_a_new_pair_and_keeps_the_old_certificate() {
        let (folder, old) = folder_with_audit_key();

        let new = rotate(folder.path(), &old).unwrap();

        let loaded = load(folder.path());
        assert_eq!(loaded.fingerprint(), new.fingerprint());
        assert_ne!(new.fingerprint(), old.fingerprint());
        let kept = retired(folder.path()).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].to_der().unwrap(), old.certificate.to_der().unwrap());
        assert!(!folder.path().join(NEXT_KEY).exists());
        let mode = fs::metadata(folder.path().join("audit.key"))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );

        // A second rotation keeps both earlier certificates.
        rotate(folder.path(), &new).unwrap();
        assert_eq!(retired(folder.path()).unwrap().len(), 2);
    }

    #[test]
    fn a_swap_stopped_between_the_renames_is_completed() {
        let (folder, _old) = folder_with_audit_key();
        let root = folder.path();
        let next = KeyPair::generate(AUDIT_COMMON_NAME).unwrap();
        // The certificate was renamed into place; the key was still staged.
        write_file(
            &root.join(NEXT_KEY),
            &next.private_key_pem().unwrap(),
            PRIVATE_FILE_MODE,
        )
        .unwrap();
        write_file(
            &root.join("audit.crt"),
            &next.certificate_pem().unwrap(),
            PUBLIC_FILE_MODE,
        )
        .unwrap();

        recover(root).unwrap();

        assert_eq!(load(root).fingerprint(), next.fingerprint());
        assert!(!root.join(NEXT_KEY).exists());
    }

    #[test]
    fn a_staged_pair_that_never_reached_the_swap_is_discarded() {
        let (folder, old) = folder_with_audit_key();
        let root = folder.path();
        let next = KeyPair::generate(AUDIT_COMMON_NAME).unwrap();
        write_file(
            &root.join(NEXT_KEY),
            &next.private_key_pem().unwrap(),
            PRIVATE_FILE_MODE,
        )
        .unwrap();
        write_file(
            &root.join(NEXT_CERTIFICATE),
            &next.certificate_pem().unwrap(),
            PUBLIC_FILE_MODE,
        )
        .unwrap();

        recover(root).unwrap();

        assert_eq!(load(root).fingerprint(), old.fingerprint());
        assert!(!root.join(NEXT_KEY).exists());
        assert!(!root.join(NEXT_CERTIFICATE).exists());
    }

    #[test]
    fn a_damaged_retired_certificate_is_an_error() {
        let (folder, _) = folder_with_audit_key();
        let kept = retired_folder(folder.path());
        fs::create_dir(&kept).unwrap();
        fs::write(kept.join("0000.crt"), b"not a certificate").unwrap();

        let error = retired(folder.path()).unwrap_err();

        assert!(error.to_string().contains("0000.crt"), "{error}");
    }
}
