//! Rolling the SAML signing key over (MD-3, MD-4) in the data folder.
//!
//! A rollover has two steps, so that no SP ever sees an assertion signed by a key it has not
//! been given: `portner keys rotate` writes the next pair as `signing-next.key` / `.crt`,
//! which the metadata then publishes beside the current certificate; once every SP and the
//! MitID Erhverv upload hold the new metadata, `portner keys rotate --promote` makes the next
//! key the current one. The retired pair stays in the folder as
//! `signing-retired-<UTC time>.key` / `.crt`, as evidence and for a rollback by hand.
//!
//! Promotion never deletes a private key and never leaves the folder without `signing.key`:
//! the current files are first hard-linked to their retired names, then the next files are
//! renamed over the current ones, each rename atomic. If it is interrupted between the two
//! renames (`signing.key` is the new key, `signing.crt` still the old certificate, which
//! the server refuses to start with), running the promotion again finishes it.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{DataDirError, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, read_optional, write_file};
use crate::keys::KeyPair;

const CURRENT: &str = "signing";
const NEXT: &str = "signing-next";

/// The outcome of a promotion, for the audit trail and the operator.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Promotion {
    /// Fingerprint of the certificate that signs from now on.
    pub fingerprint: String,
    /// Fingerprint of the certificate that was retired.
    pub retired_fingerprint: String,
    /// Where the retired pair was kept (the `.key` and `.crt` share this stem); `None` when
    /// this finished an interrupted promotion, whose first run kept it.
    pub retired_stem: Option<PathBuf>,
}

/// The next signing pair, if a rollover has been started.
///
/// # Errors
///
/// The files cannot be read, or they do not form a valid pair.
pub fn next_signing_key(root: &Path) -> Result<Option<KeyPair>, DataDirError> {
    let (key, certificate) = paths(root, NEXT);
    match (read_optional(&key)?, read_optional(&certificate)?) {
        (Some(key_pem), Some(certificate_pem)) => Ok(Some(KeyPair::from_pem(
            "signing-next",
            &key_pem,
            &certificate_pem,
        )?)),
        (None, None) => Ok(None),
        // Half a pair is either an interrupted promotion or damage: never guess.
        _ => Err(DataDirError::Rollover(
            "signing-next.key and signing-next.crt must both exist or both be absent; \
             if a promotion was interrupted, run `portner keys rotate --promote` again"
                .to_owned(),
        )),
    }
}

/// Generates the next signing pair (`portner keys rotate`).
///
/// # Errors
///
/// A rollover is already under way, or the files cannot be written.
pub fn start(root: &Path, common_name: &str) -> Result<KeyPair, DataDirError> {
    if next_signing_key(root)?.is_some() {
        return Err(DataDirError::Rollover(
            "a next signing key already exists; publish the metadata and then run \
             `portner keys rotate --promote`"
                .to_owned(),
        ));
    }
    let pair = KeyPair::generate(common_name)?;
    let (key, certificate) = paths(root, NEXT);
    // The certificate first: a crash after it leaves half a pair, which loading reports,
    // rather than a private key nobody knows about.
    write_file(&certificate, &pair.certificate_pem()?, PUBLIC_FILE_MODE)?;
    write_file(&key, &pair.private_key_pem()?, PRIVATE_FILE_MODE)?;
    Ok(pair)
}

/// Makes the next signing pair the current one (`portner keys rotate --promote`).
///
/// # Errors
///
/// No rollover is under way, or a file operation failed.
pub fn promote(root: &Path, now: DateTime<Utc>) -> Result<Promotion, DataDirError> {
    let (current_key, current_certificate) = paths(root, CURRENT);
    let (next_key, next_certificate) = paths(root, NEXT);
    if !next_key.exists() && next_certificate.exists() {
        return finish_interrupted(root);
    }
    let next = next_signing_key(root)?.ok_or_else(|| {
        DataDirError::Rollover("no next signing key: run `portner keys rotate` first".to_owned())
    })?;
    let current = KeyPair::from_pem(
        "signing",
        &read_required(&current_key)?,
        &read_required(&current_certificate)?,
    )?;

    let stem = root.join(format!("signing-retired-{}", now.format("%Y%m%dT%H%M%SZ")));
    link(&current_key, &stem.with_extension("key"))?;
    link(&current_certificate, &stem.with_extension("crt"))?;
    rename(&next_key, &current_key)?;
    rename(&next_certificate, &current_certificate)?;
    sync_folder(root)?;
    Ok(Promotion {
        fingerprint: next.fingerprint(),
        retired_fingerprint: current.fingerprint(),
        retired_stem: Some(stem),
    })
}

/// The second rename of an interrupted promotion: `signing.key` already holds the next key.
fn finish_interrupted(root: &Path) -> Result<Promotion, DataDirError> {
    let (current_key, current_certificate) = paths(root, CURRENT);
    let (_, next_certificate) = paths(root, NEXT);
    let next = KeyPair::from_pem(
        "signing",
        &read_required(&current_key)?,
        &read_required(&next_certificate)?,
    )
    .map_err(|_| {
        DataDirError::Rollover(
            "signing-next.crt exists without its key and does not match signing.key; \
             restore the pair by hand from the signing-retired-* files"
                .to_owned(),
        )
    })?;
    let retired = openssl::x509::X509::from_pem(&read_required(&current_certificate)?)
        .map_err(|_| crate::keys::KeyError::Malformed("signing.crt"))?;
    let retired_digest = retired
        .digest(openssl::hash::MessageDigest::sha256())
        .map_err(crate::keys::KeyError::Library)?;
    let retired_fingerprint = hex::encode(retired_digest);
    rename(&next_certificate, &current_certificate)?;
    sync_folder(root)?;
    Ok(Promotion {
        fingerprint: next.fingerprint(),
        retired_fingerprint,
        retired_stem: None,
    })
}

fn paths(root: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        root.join(format!("{stem}.key")),
        root.join(format!("{stem}.crt")),
    )
}

fn read_required(path: &Path) -> Result<Vec<u8>, DataDirError> {
    fs::read(path).map_err(|source| DataDirError::Io {
        path: path.to_owned(),
        source,
    })
}

fn link(from: &Path, to: &Path) -> Result<(), DataDirError> {
    fs::hard_link(from, to).map_err(|source| DataDirError::Io {
        path: to.to_owned(),
        source,
    })
}

fn rename(from: &Path, to: &Path) -> Result<(), DataDirError> {
    fs::rename(from, to).map_err(|source| DataDirError::Io {
        path: to.to_owned(),
        source,
    })
}

/// Makes the renames durable: a rename is recorded in the folder, not in the file.
fn sync_folder(root: &Path) -> Result<(), DataDirError> {
    fs::File::open(root)
        .and_then(|folder| folder.sync_all())
        .map_err(|source| DataDirError::Io {
            path: root.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datadir::tests::config_for;

    fn prepared_folder() -> tempfile::TempDir {
        let folder = tempfile::tempdir().unwrap();
        crate::datadir::prepare(&config_for(folder.path())).unwrap();
        folder
    }

    #[test]
    fn a_rollover_publishes_the_next_key_then_promotes_it_and_keeps_the_old_one() {
        let folder = prepared_folder();
        let root = folder.path();
        let before = crate::datadir::prepare(&config_for(root)).unwrap();
        assert!(before.next_signing.is_none());

        let next = start(root, "next").unwrap();
        let during = crate::datadir::prepare(&config_for(root)).unwrap();
        assert_eq!(during.signing.fingerprint(), before.signing.fingerprint());
        let published = during.next_signing.as_ref().unwrap();
        assert_eq!(published.fingerprint(), next.fingerprint());
        assert!(
            start(root, "again").is_err(),
            "a second start must be refused"
        );

        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let promotion = promote(root, now).unwrap();
        let after = crate::datadir::prepare(&config_for(root)).unwrap();
        assert_eq!(after.signing.fingerprint(), next.fingerprint());
        assert!(after.next_signing.is_none());
        assert_eq!(promotion.retired_fingerprint, before.signing.fingerprint());
        let stem = promotion.retired_stem.unwrap();
        let retired = KeyPair::from_pem(
            "retired",
            &fs::read(stem.with_extension("key")).unwrap(),
            &fs::read(stem.with_extension("crt")).unwrap(),
        )
        .unwrap();
        assert_eq!(retired.fingerprint(), before.signing.fingerprint());
        assert!(promote(root, now).is_err(), "nothing left to promote");
    }

    #[test]
    fn an_interrupted_promotion_is_refused_at_start_and_finished_by_promoting_again() {
        let folder = prepared_folder();
        let root = folder.path();
        let before = crate::datadir::prepare(&config_for(root)).unwrap();
        let next = start(root, "next").unwrap();
        // The crash: the key was renamed, the certificate was not.
        fs::rename(root.join("signing-next.key"), root.join("signing.key")).unwrap();

        assert!(crate::datadir::prepare(&config_for(root)).is_err());
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let promotion = promote(root, now).unwrap();

        let after = crate::datadir::prepare(&config_for(root)).unwrap();
        assert_eq!(after.signing.fingerprint(), next.fingerprint());
        assert_eq!(promotion.retired_fingerprint, before.signing.fingerprint());
    }
}
