//! Signed checkpoints of the chain head (LG-5; EV-8).
//!
//! A hash chain alone cannot stop someone with write access from rewriting a record and
//! recomputing every later hash. A checkpoint closes that gap: it signs the head's sequence
//! number and hash with the audit key, which lives in the data folder and not in the
//! database, so a rewritten or truncated chain no longer matches a signature nobody without
//! the key can forge. Checkpoints are also appended to an optional external file, so that
//! deleting the newest checkpoints together with the chain's tail is detectable too.
//!
//! The signed message is `DOMAIN ‖ seq ‖ created_at ‖ len ‖ hash` (integers big-endian), an
//! RSA PKCS#1 v1.5 signature with SHA-256 (the digest CR-2 requires for SAML signatures, used
//! here for the same reason: it is what auditors' tools verify without extra options).
//!
//! Writing a checkpoint appends a `CHECKPOINT_WRITTEN` event in the same transaction, after
//! the checkpointed head, so the trail itself records when checkpoints were taken.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;
use portner_shared::store::{Store, Tx, millis};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{AuditContext, AuditError, AuditEvent, Subject};

/// Separates checkpoint signatures from any other use of the audit key.
const SIGNATURE_DOMAIN: &[u8] = b"portner-audit-checkpoint-v1\n";

/// The audit key and its certificate: signs checkpoints and evidence-pack manifests.
///
/// It also carries the certificates of earlier audit keys, retired by `portner audit key
/// rotate`: their private keys are gone, but the checkpoints they signed stay verifiable, so
/// [`AuditSigner::verifier`] trusts them for checkpoints (never for new manifests), and an
/// evidence pack carries those it needs.
///
/// `Debug` shows only the certificate fingerprints, never the key.
#[derive(Clone)]
pub struct AuditSigner {
    private_key: PKey<Private>,
    certificate: X509,
    retired: Vec<X509>,
}

impl AuditSigner {
    /// Wraps a private key and the certificate that belongs to it.
    ///
    /// # Errors
    ///
    /// [`AuditError::Key`] if the certificate's public key is not the private key's.
    pub fn new(private_key: PKey<Private>, certificate: X509) -> Result<Self, AuditError> {
        let public_key = certificate.public_key()?;
        if !public_key.public_eq(&private_key) {
            return Err(AuditError::Key(
                "the certificate does not match the audit key",
            ));
        }
        Ok(Self {
            private_key,
            certificate,
            retired: Vec::new(),
        })
    }

    /// The same signer, also trusting the retired audit certificates `retired` for the
    /// checkpoints they signed. The current certificate and repeats are left out.
    #[must_use]
    pub fn with_retired(mut self, retired: Vec<X509>) -> Self {
        let current = self.fingerprint();
        for certificate in retired {
            let fingerprint = certificate_fingerprint(&certificate);
            let known = fingerprint == current
                || self
                    .retired
                    .iter()
                    .any(|held| certificate_fingerprint(held) == fingerprint);
            if !known {
                self.retired.push(certificate);
            }
        }
        self
    }

    /// The retired audit certificates this signer's verifier trusts.
    pub fn retired(&self) -> &[X509] {
        &self.retired
    }

    /// The certificate, which verifiers need.
    pub fn certificate(&self) -> &X509 {
        &self.certificate
    }

    /// A verifier for this signer's certificate that also trusts the retired ones for
    /// checkpoints.
    ///
    /// # Errors
    ///
    /// OpenSSL failed to read a certificate.
    pub fn verifier(&self) -> Result<AuditVerifier, AuditError> {
        AuditVerifier::new(&self.certificate)?.trusting_retired(&self.retired)
    }

    /// SHA-256 of the certificate's DER encoding, lowercase hex.
    pub fn fingerprint(&self) -> String {
        certificate_fingerprint(&self.certificate)
    }

    /// Signs `message` (RSA or EC key, SHA-256).
    ///
    /// # Errors
    ///
    /// OpenSSL failed.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AuditError> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.private_key)?;
        signer.update(message)?;
        Ok(signer.sign_to_vec()?)
    }
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let retired: Vec<String> = self.retired.iter().map(certificate_fingerprint).collect();
        formatter
            .debug_struct("AuditSigner")
            .field("fingerprint", &self.fingerprint())
            .field("retired", &retired)
            .finish_non_exhaustive()
    }
}

/// Checks signatures made by an [`AuditSigner`]; needs only the certificates.
///
/// Manifests and other messages are checked against the current certificate only; checkpoints
/// against the certificate their `key_fingerprint` names, the current one or a retired one
/// added with [`AuditVerifier::trusting_retired`].
#[derive(Clone)]
pub struct AuditVerifier {
    public_key: PKey<Public>,
    fingerprint: String,
    retired: Vec<(String, PKey<Public>)>,
}

impl AuditVerifier {
    /// A verifier for `certificate`.
    ///
    /// # Errors
    ///
    /// The certificate holds no usable public key.
    pub fn new(certificate: &X509) -> Result<Self, AuditError> {
        Ok(Self {
            public_key: certificate.public_key()?,
            fingerprint: certificate_fingerprint(certificate),
            retired: Vec::new(),
        })
    }

    /// The same verifier, also accepting checkpoints signed by the keys of `retired`.
    ///
    /// # Errors
    ///
    /// A certificate holds no usable public key.
    pub fn trusting_retired(mut self, retired: &[X509]) -> Result<Self, AuditError> {
        for certificate in retired {
            let fingerprint = certificate_fingerprint(certificate);
            let known = fingerprint == self.fingerprint
                || self.retired.iter().any(|(held, _)| *held == fingerprint);
            if !known {
                self.retired.push((fingerprint, certificate.public_key()?));
            }
        }
        Ok(self)
    }

    /// Fingerprints of the retired certificates trusted for checkpoints.
    pub fn retired_fingerprints(&self) -> Vec<String> {
        self.retired
            .iter()
            .map(|(fingerprint, _)| fingerprint.clone())
            .collect()
    }

    /// The certificate's SHA-256 fingerprint, lowercase hex.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether `signature` is this key's signature over `message`. A malformed signature is
    /// simply not valid.
    pub fn is_valid(&self, message: &[u8], signature: &[u8]) -> bool {
        signature_is_valid(&self.public_key, message, signature)
    }

    /// Whether the checkpoint's signature is valid for the trusted key its fingerprint names:
    /// the current one or a retired one.
    pub fn checkpoint_is_valid(&self, checkpoint: &Checkpoint) -> bool {
        let key = if checkpoint.key_fingerprint == self.fingerprint {
            Some(&self.public_key)
        } else {
            self.retired
                .iter()
                .find(|(fingerprint, _)| *fingerprint == checkpoint.key_fingerprint)
                .map(|(_, key)| key)
        };
        key.is_some_and(|key| {
            signature_is_valid(key, &checkpoint.signed_message(), &checkpoint.signature)
        })
    }
}

/// Whether `signature` is `key`'s SHA-256 signature over `message`; malformed is not valid.
fn signature_is_valid(key: &PKey<Public>, message: &[u8], signature: &[u8]) -> bool {
    let Ok(mut verifier) = Verifier::new(MessageDigest::sha256(), key) else {
        return false;
    };
    verifier.update(message).is_ok() && verifier.verify(signature).unwrap_or(false)
}

impl std::fmt::Debug for AuditVerifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AuditVerifier")
            .field("fingerprint", &self.fingerprint)
            .field("retired", &self.retired_fingerprints())
            .finish_non_exhaustive()
    }
}

/// A signed statement that the chain's record `seq` had hash `hash` at `created_at`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Checkpoint {
    /// The checkpointed record's sequence number.
    pub seq: i64,
    /// That record's hash.
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
    /// When the checkpoint was written, epoch milliseconds.
    pub created_at: i64,
    /// Fingerprint of the certificate whose key signed it.
    pub key_fingerprint: String,
    /// The signature over [`Checkpoint::signed_message`].
    #[serde(with = "hex_bytes")]
    pub signature: Vec<u8>,
}

impl Checkpoint {
    /// The bytes the signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut message = Vec::with_capacity(SIGNATURE_DOMAIN.len() + 52);
        message.extend_from_slice(SIGNATURE_DOMAIN);
        message.extend_from_slice(&self.seq.to_be_bytes());
        message.extend_from_slice(&self.created_at.to_be_bytes());
        let length = u32::try_from(self.hash.len()).unwrap_or(u32::MAX);
        message.extend_from_slice(&length.to_be_bytes());
        message.extend_from_slice(&self.hash);
        message
    }
}

/// The chain head as stored: the last sequence number and its hash.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Head {
    /// The last sequence number; 0 for an empty chain.
    pub seq: i64,
    /// Its hash; 32 zero bytes for an empty chain.
    pub hash: Vec<u8>,
}

/// When to write the next checkpoint (defaults: hourly and every 10,000 events).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct CheckpointSchedule {
    /// Longest time between checkpoints while events arrive, in seconds.
    pub interval_secs: i64,
    /// Most events between checkpoints.
    pub every_events: i64,
}

impl Default for CheckpointSchedule {
    fn default() -> Self {
        Self {
            interval_secs: 3_600,
            every_events: 10_000,
        }
    }
}

/// Reads the chain head.
///
/// # Errors
///
/// The store failed.
pub async fn head(tx: &mut Tx) -> Result<Head, AuditError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(tx.connection())
        .await?;
    Ok(Head {
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
    })
}

/// Signs the current head, stores the checkpoint, records a `CHECKPOINT_WRITTEN` event and,
/// when `sink` names a file, appends the checkpoint there as one JSON line after the commit.
///
/// Returns `None` when nothing happened since the last checkpoint (the head is the last
/// checkpoint's own `CHECKPOINT_WRITTEN` event, or the chain is empty), so an idle
/// installation does not grow its chain by one event an hour.
///
/// # Errors
///
/// The store, the key or the sink file failed. A sink failure is reported after the
/// checkpoint was committed: the database keeps it, the file misses it.
pub async fn write_checkpoint(
    store: &Store,
    now: DateTime<Utc>,
    signer: &AuditSigner,
    sink: Option<&Path>,
) -> Result<Option<Checkpoint>, AuditError> {
    let mut tx = store.begin().await?;
    let current = head(&mut tx).await?;
    let last = last_checkpoint(&mut tx).await?;
    let nothing_new = match &last {
        Some(checkpoint) => current.seq <= checkpoint.seq + 1,
        None => current.seq == 0,
    };
    if nothing_new {
        tx.rollback().await?;
        return Ok(None);
    }

    let checkpoint = sign_head(&current, millis(now), signer)?;
    insert_checkpoint(&mut tx, &checkpoint).await?;
    let event = AuditEvent::CheckpointWritten {
        seq: checkpoint.seq,
        hash: hex::encode(&checkpoint.hash),
        key_fingerprint: checkpoint.key_fingerprint.clone(),
    };
    crate::append(
        &mut tx,
        now,
        &AuditContext::system(),
        &Subject::Installation,
        &event,
    )
    .await?;
    tx.commit().await?;

    if let Some(path) = sink {
        append_to_file(path, &checkpoint)?;
    }
    Ok(Some(checkpoint))
}

/// Whether a checkpoint is due under `schedule` at `now`: events arrived since the last one
/// and either enough of them or enough time has passed.
///
/// # Errors
///
/// The store failed.
pub async fn checkpoint_due(
    store: &Store,
    now: DateTime<Utc>,
    schedule: CheckpointSchedule,
) -> Result<bool, AuditError> {
    let mut tx = store.read().await?;
    let current = head(&mut tx).await?;
    let last = last_checkpoint(&mut tx).await?;
    tx.rollback().await?;

    let (last_seq, last_at) = match &last {
        Some(checkpoint) => (checkpoint.seq + 1, checkpoint.created_at),
        None => (0, i64::MIN),
    };
    let new_events = current.seq - last_seq;
    let elapsed_secs = millis(now).saturating_sub(last_at) / 1_000;
    Ok(new_events > 0
        && (new_events >= schedule.every_events || elapsed_secs >= schedule.interval_secs))
}

/// The newest checkpoint, if any.
///
/// # Errors
///
/// The store failed.
pub async fn last_checkpoint(tx: &mut Tx) -> Result<Option<Checkpoint>, AuditError> {
    let row = sqlx::query(
        "SELECT seq, hash, created_at, key_fingerprint, signature FROM audit_checkpoints \
         ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(tx.connection())
    .await?;
    row.map(|row| checkpoint_from_row(&row)).transpose()
}

/// Checkpoints with `from <= seq <= to`, in order.
///
/// # Errors
///
/// The store failed.
pub async fn checkpoints_between(
    tx: &mut Tx,
    from: i64,
    to: i64,
) -> Result<Vec<Checkpoint>, AuditError> {
    let rows = sqlx::query(
        "SELECT seq, hash, created_at, key_fingerprint, signature FROM audit_checkpoints \
         WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
    )
    .bind(from)
    .bind(to)
    .fetch_all(tx.connection())
    .await?;
    rows.iter().map(checkpoint_from_row).collect()
}

/// The first checkpoint at or after `seq`, if any.
///
/// # Errors
///
/// The store failed.
pub async fn checkpoint_at_or_after(
    tx: &mut Tx,
    seq: i64,
) -> Result<Option<Checkpoint>, AuditError> {
    let row = sqlx::query(
        "SELECT seq, hash, created_at, key_fingerprint, signature FROM audit_checkpoints \
         WHERE seq >= $1 ORDER BY seq LIMIT 1",
    )
    .bind(seq)
    .fetch_optional(tx.connection())
    .await?;
    row.map(|row| checkpoint_from_row(&row)).transpose()
}

/// Reads checkpoints written as JSON lines by the external sink. At most `max_bytes` are read;
/// a longer file is an error rather than a partial answer.
///
/// # Errors
///
/// The file cannot be read, is too long, or a line is not a checkpoint.
pub fn read_sink(path: &Path, max_bytes: u64) -> Result<Vec<Checkpoint>, AuditError> {
    use std::io::Read;

    let file = std::fs::File::open(path).map_err(|source| AuditError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut text = String::new();
    file.take(max_bytes + 1)
        .read_to_string(&mut text)
        .map_err(|source| AuditError::Io {
            path: path.display().to_string(),
            source,
        })?;
    if text.len() as u64 > max_bytes {
        return Err(AuditError::TooLarge {
            what: path.display().to_string(),
            limit: max_bytes,
        });
    }
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|_| AuditError::Malformed {
                what: path.display().to_string(),
                line: index + 1,
            })
        })
        .collect()
}

/// Sends the checkpoint to a local syslog socket (`/dev/log` or a relay's Unix datagram socket)
/// as one RFC 5424 message, facility 13 ("log audit"), severity 6 (informational), so a
/// syslog pipeline can ship it off the box (LG-5 "off-box shipping").
///
/// # Errors
///
/// The socket cannot be reached or refused the message.
pub fn send_to_syslog(socket: &Path, checkpoint: &Checkpoint) -> Result<(), AuditError> {
    // RFC 5424 §6.2.1: PRI = facility * 8 + severity = 13 * 8 + 6.
    const PRI: u8 = 110;

    let io_error = |source| AuditError::Io {
        path: socket.display().to_string(),
        source,
    };
    let timestamp = portner_shared::clock::from_millis(checkpoint.created_at)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty() && name.is_ascii() && !name.contains(' '))
        .unwrap_or_else(|| "-".to_owned());
    let message = format!(
        "<{PRI}>1 {timestamp} {host} portner - AUDIT_CHECKPOINT - {}",
        serde_json::to_string(checkpoint)?
    );
    let sender = std::os::unix::net::UnixDatagram::unbound().map_err(io_error)?;
    sender
        .send_to(message.as_bytes(), socket)
        .map_err(io_error)?;
    Ok(())
}

pub(crate) fn sign_head(
    current: &Head,
    created_at: i64,
    signer: &AuditSigner,
) -> Result<Checkpoint, AuditError> {
    let mut checkpoint = Checkpoint {
        seq: current.seq,
        hash: current.hash.clone(),
        created_at,
        key_fingerprint: signer.fingerprint(),
        signature: Vec::new(),
    };
    checkpoint.signature = signer.sign(&checkpoint.signed_message())?;
    Ok(checkpoint)
}

async fn insert_checkpoint(tx: &mut Tx, checkpoint: &Checkpoint) -> Result<(), AuditError> {
    sqlx::query(
        "INSERT INTO audit_checkpoints (seq, hash, created_at, key_fingerprint, signature) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(checkpoint.seq)
    .bind(checkpoint.hash.clone())
    .bind(checkpoint.created_at)
    .bind(&checkpoint.key_fingerprint)
    .bind(checkpoint.signature.clone())
    .execute(tx.connection())
    .await?;
    Ok(())
}

fn checkpoint_from_row(row: &sqlx::any::AnyRow) -> Result<Checkpoint, AuditError> {
    Ok(Checkpoint {
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
        created_at: row.try_get("created_at")?,
        key_fingerprint: row.try_get("key_fingerprint")?,
        signature: row.try_get("signature")?,
    })
}

/// Appends the checkpoint to the external file as one JSON line with `O_APPEND`, so concurrent
/// writers never interleave inside a line and nothing earlier in the file is rewritten.
///
/// # Errors
///
/// The file cannot be opened, written or synced.
pub fn append_to_file(path: &Path, checkpoint: &Checkpoint) -> Result<(), AuditError> {
    let io_error = |source| AuditError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut line = serde_json::to_vec(checkpoint)?;
    line.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_error)?;
    file.write_all(&line).map_err(io_error)?;
    file.sync_data().map_err(io_error)
}

/// SHA-256 of a certificate's DER encoding, lowercase hex.
pub fn certificate_fingerprint(certificate: &X509) -> String {
    certificate
        .digest(MessageDigest::sha256())
        .map(hex::encode)
        .unwrap_or_default()
}

/// Serialises byte strings as lowercase hex in JSON.
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<T, S>(bytes: &T, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: AsRef<[u8]> + ?Sized,
        S: Serializer,
    {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;

    pub(crate) fn test_signer() -> AuditSigner {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test").unwrap();
        let name = name.build();
        let mut builder = X509::builder().unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(&name).unwrap();
        builder.set_pubkey(&key).unwrap();
        builder
            .set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        builder
            .set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        builder.sign(&key, MessageDigest::sha256()).unwrap();
        AuditSigner::new(key, builder.build()).unwrap()
    }

    #[test]
    fn a_checkpoint_verifies_and_any_changed_field_does_not() {
        let signer = test_signer();
        let head = Head {
            seq: 7,
            hash: vec![9; 32],
        };
        let checkpoint = sign_head(&head, 1_000, &signer).unwrap();
        let verifier = signer.verifier().unwrap();

        assert!(verifier.checkpoint_is_valid(&checkpoint));
        let mut moved = checkpoint.clone();
        moved.seq = 8;
        assert!(!verifier.checkpoint_is_valid(&moved));
        let mut rehashed = checkpoint.clone();
        rehashed.hash[0] ^= 1;
        assert!(!verifier.checkpoint_is_valid(&rehashed));
        assert!(
            !test_signer()
                .verifier()
                .unwrap()
                .checkpoint_is_valid(&checkpoint)
        );
    }

    #[test]
    fn a_checkpoint_reaches_syslog_as_one_rfc5424_message() {
        let folder = tempfile::tempdir().unwrap();
        let socket = folder.path().join("log.sock");
        let receiver = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
        let head = Head {
            seq: 42,
            hash: vec![7; 32],
        };
        let checkpoint = sign_head(&head, 1_764_763_200_000, &test_signer()).unwrap();

        send_to_syslog(&socket, &checkpoint).unwrap();

        let mut buffer = vec![0; 4096];
        let length = receiver.recv(&mut buffer).unwrap();
        let message = String::from_utf8(buffer[..length].to_vec()).unwrap();
        assert!(
            message.starts_with("<110>1 2025-12-03T12:00:00.000Z "),
            "{message}"
        );
        let json = message.split(" AUDIT_CHECKPOINT - ").nth(1).unwrap();
        assert_eq!(
            serde_json::from_str::<Checkpoint>(json).unwrap(),
            checkpoint
        );
    }

    #[test]
    fn the_signer_never_prints_its_key() {
        let signer = test_signer();

        let debug = format!("{signer:?}");

        assert!(debug.contains(&signer.fingerprint()));
        assert!(!debug.contains("PRIVATE"));
    }
}
