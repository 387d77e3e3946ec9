//! Offline verification of an evidence pack: no database, only the zip file.
//!
//! Checks, and reports every problem with the file and place it concerns: the manifest's
//! signature against the pack's certificate (and, when given, the fingerprint the auditor
//! obtained out of band, since a forger could replace the certificate too); every file's
//! SHA-256 against the manifest, and files added or removed; each checkpoint's signature, by
//! the current certificate or a retired one the pack carries in `certificates/` (listed in the
//! signed manifest, so the current key vouches for it); the
//! event chain line by line (sequence gaps, added or repeated events, broken links, edited
//! content); and that the chain proof ends exactly at the signed checkpoint named in the
//! manifest.
//!
//! Every read is capped (entry count, declared and actual size, compression ratio, line
//! length), so a hostile archive cannot exhaust memory or disk (a "zip bomb").

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use openssl::x509::X509;

use super::{Manifest, PACK_FORMAT, PackRecord};
use crate::AuditError;
use crate::checkpoint::{AuditVerifier, Checkpoint};

/// Size limits for reading a pack.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct PackLimits {
    /// Most entries in the archive.
    pub max_entries: usize,
    /// Largest uncompressed `events.jsonl` or `chain-proof.jsonl`.
    pub max_events_bytes: u64,
    /// Largest uncompressed size of any other file.
    pub max_file_bytes: u64,
    /// Longest line of a JSON-lines file.
    pub max_line_bytes: usize,
    /// Largest ratio of uncompressed to compressed size.
    pub max_ratio: u64,
}

impl Default for PackLimits {
    fn default() -> Self {
        Self {
            max_entries: 64,
            max_events_bytes: 16 * 1024 * 1024 * 1024,
            max_file_bytes: 256 * 1024 * 1024,
            max_line_bytes: 1024 * 1024,
            // JSON lines of audit events compress about 5-15 times; 200 leaves a wide margin
            // while refusing the thousand-fold ratios of a zip bomb.
            max_ratio: 200,
        }
    }
}

/// One problem found in a pack: in which file, where, and what.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Finding {
    /// The file inside the pack.
    pub file: String,
    /// Where in it (a line and sequence number, a checkpoint), if it concerns one place.
    pub place: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.place {
            Some(place) => write!(formatter, "{}, {place}: {}", self.file, self.problem),
            None => write!(formatter, "{}: {}", self.file, self.problem),
        }
    }
}

/// The result of [`verify_pack`].
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PackVerdict {
    /// The manifest, if it could be read.
    pub manifest: Option<Manifest>,
    /// Fingerprint of the pack's certificate.
    pub fingerprint: String,
    /// Fingerprints of the retired audit certificates the pack carries for older checkpoints.
    pub retired_fingerprints: Vec<String>,
    /// Events read from `events.jsonl`.
    pub events: u64,
    /// Every problem; empty when the pack verifies.
    pub findings: Vec<Finding>,
}

impl PackVerdict {
    /// Whether the pack verified without any finding.
    pub fn is_verified(&self) -> bool {
        self.findings.is_empty() && self.manifest.is_some()
    }

    /// A short verdict for working papers.
    pub fn text(&self) -> String {
        match (&self.manifest, self.findings.is_empty()) {
            (Some(manifest), true) => {
                let mut text = format!(
                    "Evidence pack VERIFIED: {} events (sequence {}-{}), period {} to {}, \
                     chain anchored in checkpoint {} signed by the audit key with certificate \
                     SHA-256 {}; all {} files match the signed manifest.",
                    self.events,
                    manifest.first_seq,
                    manifest.last_seq,
                    manifest.period_from,
                    manifest.period_to,
                    manifest.checkpoint_seq,
                    self.fingerprint,
                    manifest.files.len()
                );
                if !self.retired_fingerprints.is_empty() {
                    text.push_str(&format!(
                        " Earlier checkpoints are signed by retired audit key(s) with \
                         certificate SHA-256 {}, carried in the pack under the signed manifest.",
                        self.retired_fingerprints.join(", ")
                    ));
                }
                text
            }
            _ => {
                let mut text = format!(
                    "Evidence pack FAILED verification: {} problem(s):",
                    self.findings.len()
                );
                for finding in &self.findings {
                    text.push_str(&format!("\n- {finding}"));
                }
                text
            }
        }
    }
}

/// Verifies the pack at `path`. `expected_fingerprint`, when given, must be the SHA-256 of the
/// pack's certificate.
///
/// # Errors
///
/// Only when the file cannot be opened or is not a zip archive at all; everything wrong inside
/// a readable archive is a [`Finding`].
pub fn verify_pack(
    path: &Path,
    expected_fingerprint: Option<&str>,
    limits: PackLimits,
) -> Result<PackVerdict, AuditError> {
    let io_error = |source| AuditError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut verdict = PackVerdict {
        manifest: None,
        fingerprint: String::new(),
        retired_fingerprints: Vec::new(),
        events: 0,
        findings: Vec::new(),
    };
    // The zip library reads the whole central directory into memory; look at the entry count
    // the archive declares first, so a directory of millions of entries is never parsed.
    if let Some(declared) = declared_entries(&mut file).map_err(io_error)?
        && declared > limits.max_entries
    {
        let problem = format!(
            "declares {declared} entries; at most {} are read",
            limits.max_entries
        );
        verdict.findings.push(finding("(archive)", None, problem));
        return Ok(verdict);
    }
    let mut archive = zip::ZipArchive::new(file)?;
    if archive.len() > limits.max_entries {
        verdict.findings.push(finding(
            "(archive)",
            None,
            format!(
                "{} entries; at most {} are read",
                archive.len(),
                limits.max_entries
            ),
        ));
        return Ok(verdict);
    }

    let Some(verifier) = read_certificate(&mut archive, &mut verdict, expected_fingerprint, limits)
    else {
        return Ok(verdict);
    };
    let Some(manifest) = read_manifest(&mut archive, &mut verdict, &verifier, limits) else {
        return Ok(verdict);
    };
    check_file_list(&archive, &manifest, &mut verdict);

    let listed: BTreeMap<String, String> = manifest
        .files
        .iter()
        .map(|file| (file.name.clone(), file.sha256.clone()))
        .collect();
    let verifier = trust_retired(&mut archive, &mut verdict, verifier, &listed, limits);
    let checkpoints = read_checkpoints(&mut archive, &mut verdict, &verifier, &listed, limits);
    let mut chain = PackChain::new(&manifest, checkpoints);
    for name in ["events.jsonl", "chain-proof.jsonl"] {
        chain.in_proof = name == "chain-proof.jsonl";
        read_records(
            &mut archive,
            &mut verdict,
            name,
            &listed,
            &mut chain,
            limits,
        );
    }
    chain.finish(&manifest, &mut verdict);

    for (name, sha256) in &listed {
        if matches!(
            name.as_str(),
            "events.jsonl" | "chain-proof.jsonl" | "checkpoints.jsonl"
        ) {
            continue;
        }
        match read_capped(&mut archive, name, limits.max_file_bytes, limits) {
            Ok(bytes) => {
                compare_hash(&mut verdict, name, &bytes_hash(&bytes), sha256);
                if name == super::snapshot_check::FILE {
                    let findings = &mut verdict.findings;
                    super::snapshot_check::check(&bytes, &chain.snapshots, &manifest, findings);
                }
            }
            Err(problem) => verdict.findings.push(finding(name, None, problem)),
        }
    }
    verdict.events = chain.events;
    verdict.manifest = Some(manifest);
    Ok(verdict)
}

/// The entry count in the end-of-central-directory record (APPNOTE 4.3.16), if one is found
/// in the last 64 KiB (its comment is at most 65,535 bytes). A ZIP64 archive's count of
/// 0xFFFF is left to the library, which checks it against the same limit after parsing.
fn declared_entries(file: &mut File) -> std::io::Result<Option<usize>> {
    use std::io::{Seek, SeekFrom};

    const SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const RECORD: u64 = 22;
    let length = file.seek(SeekFrom::End(0))?;
    let tail_length = length.min(RECORD + 65_535);
    file.seek(SeekFrom::Start(length - tail_length))?;
    let mut tail = Vec::new();
    file.by_ref().take(tail_length).read_to_end(&mut tail)?;
    file.seek(SeekFrom::Start(0))?;

    let start = tail
        .windows(SIGNATURE.len())
        .rposition(|window| window == SIGNATURE);
    let count = start
        .and_then(|start| tail.get(start + 10..start + 12))
        .and_then(|bytes| <[u8; 2]>::try_from(bytes).ok())
        .map(u16::from_le_bytes);
    Ok(count.filter(|count| *count != u16::MAX).map(usize::from))
}

fn read_certificate(
    archive: &mut zip::ZipArchive<File>,
    verdict: &mut PackVerdict,
    expected_fingerprint: Option<&str>,
    limits: PackLimits,
) -> Option<AuditVerifier> {
    let bytes = match read_capped(archive, "certificate.pem", 64 * 1024, limits) {
        Ok(bytes) => bytes,
        Err(problem) => {
            verdict
                .findings
                .push(finding("certificate.pem", None, problem));
            return None;
        }
    };
    let verifier = X509::from_pem(&bytes)
        .ok()
        .and_then(|certificate| AuditVerifier::new(&certificate).ok());
    let Some(verifier) = verifier else {
        verdict.findings.push(finding(
            "certificate.pem",
            None,
            "not a certificate".to_owned(),
        ));
        return None;
    };
    verdict.fingerprint = verifier.fingerprint().to_owned();
    if let Some(expected) = expected_fingerprint {
        let expected = expected.replace(':', "").to_ascii_lowercase();
        if !portner_shared::crypto::constant_time_eq(
            expected.as_bytes(),
            verifier.fingerprint().as_bytes(),
        ) {
            verdict.findings.push(finding(
                "certificate.pem",
                None,
                format!(
                    "fingerprint {} is not the expected audit certificate {expected}",
                    verifier.fingerprint()
                ),
            ));
        }
    }
    Some(verifier)
}

/// The verifier, also trusting the retired certificates the manifest lists under
/// `certificates/`; each must be named by its own fingerprint. Their hashes are checked with
/// every other listed file.
fn trust_retired(
    archive: &mut zip::ZipArchive<File>,
    verdict: &mut PackVerdict,
    verifier: AuditVerifier,
    listed: &BTreeMap<String, String>,
    limits: PackLimits,
) -> AuditVerifier {
    let mut retired = Vec::new();
    for name in listed.keys() {
        let Some(stem) = name
            .strip_prefix(super::RETIRED_FOLDER)
            .and_then(|rest| rest.strip_suffix(".pem"))
        else {
            continue;
        };
        let certificate = read_capped(archive, name, 64 * 1024, limits)
            .ok()
            .and_then(|bytes| X509::from_pem(&bytes).ok());
        match certificate {
            Some(certificate)
                if crate::checkpoint::certificate_fingerprint(&certificate) == stem =>
            {
                retired.push(certificate);
            }
            Some(_) => verdict.findings.push(finding(
                name,
                None,
                "certificate fingerprint differs from its file name".to_owned(),
            )),
            None => verdict
                .findings
                .push(finding(name, None, "not a certificate".to_owned())),
        }
    }
    match verifier.clone().trusting_retired(&retired) {
        Ok(trusting) => {
            verdict.retired_fingerprints = trusting.retired_fingerprints();
            trusting
        }
        Err(_) => {
            verdict.findings.push(finding(
                super::RETIRED_FOLDER,
                None,
                "a retired certificate holds no usable key".to_owned(),
            ));
            verifier
        }
    }
}

fn read_manifest(
    archive: &mut zip::ZipArchive<File>,
    verdict: &mut PackVerdict,
    verifier: &AuditVerifier,
    limits: PackLimits,
) -> Option<Manifest> {
    let manifest_bytes = match read_capped(archive, "manifest.json", limits.max_file_bytes, limits)
    {
        Ok(bytes) => bytes,
        Err(problem) => {
            verdict
                .findings
                .push(finding("manifest.json", None, problem));
            return None;
        }
    };
    let signature = read_capped(archive, "manifest.sig", 64 * 1024, limits)
        .ok()
        .and_then(|text| hex::decode(text.trim_ascii()).ok());
    match signature {
        Some(signature) if verifier.is_valid(&manifest_bytes, &signature) => {}
        Some(_) => verdict.findings.push(finding(
            "manifest.json",
            None,
            "signature (manifest.sig) does not verify with certificate.pem".to_owned(),
        )),
        None => verdict.findings.push(finding(
            "manifest.sig",
            None,
            "missing or not a hex signature".to_owned(),
        )),
    }
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(manifest) => manifest,
        Err(error) => {
            verdict.findings.push(finding(
                "manifest.json",
                None,
                format!("malformed: {error}"),
            ));
            return None;
        }
    };
    if manifest.format != PACK_FORMAT {
        verdict.findings.push(finding(
            "manifest.json",
            None,
            format!("format {} is not {PACK_FORMAT}", manifest.format),
        ));
    }
    if manifest.key_fingerprint != verifier.fingerprint() {
        verdict.findings.push(finding(
            "manifest.json",
            None,
            "names another audit certificate than certificate.pem".to_owned(),
        ));
    }
    Some(manifest)
}

fn check_file_list(
    archive: &zip::ZipArchive<File>,
    manifest: &Manifest,
    verdict: &mut PackVerdict,
) {
    let present: BTreeSet<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|name| name.into_owned())
        .collect();
    let listed: BTreeSet<&str> = manifest
        .files
        .iter()
        .map(|file| file.name.as_str())
        .collect();
    for name in &present {
        let unlisted = matches!(name.as_str(), "manifest.json" | "manifest.sig");
        if !unlisted && !listed.contains(name.as_str()) {
            verdict.findings.push(finding(
                name,
                None,
                "added: not listed in the manifest".to_owned(),
            ));
        }
    }
    for name in &listed {
        if !present.contains(*name) {
            verdict.findings.push(finding(
                name,
                None,
                "removed: listed in the manifest but missing".to_owned(),
            ));
        }
    }
}

fn read_checkpoints(
    archive: &mut zip::ZipArchive<File>,
    verdict: &mut PackVerdict,
    verifier: &AuditVerifier,
    listed: &BTreeMap<String, String>,
    limits: PackLimits,
) -> BTreeMap<i64, Checkpoint> {
    let name = "checkpoints.jsonl";
    let mut checkpoints = BTreeMap::new();
    let bytes = match read_capped(archive, name, limits.max_file_bytes, limits) {
        Ok(bytes) => bytes,
        Err(problem) => {
            verdict.findings.push(finding(name, None, problem));
            return checkpoints;
        }
    };
    if let Some(expected) = listed.get(name) {
        compare_hash(verdict, name, &bytes_hash(&bytes), expected);
    }
    for (index, line) in bytes.split(|byte| *byte == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let place = format!("line {}", index + 1);
        let Ok(checkpoint) = serde_json::from_slice::<Checkpoint>(line) else {
            verdict
                .findings
                .push(finding(name, Some(place), "not a checkpoint".to_owned()));
            continue;
        };
        if !verifier.checkpoint_is_valid(&checkpoint) {
            verdict.findings.push(finding(
                name,
                Some(format!("{place}, checkpoint {}", checkpoint.seq)),
                "signature does not verify with certificate.pem or a retired certificate in \
                 certificates/"
                    .to_owned(),
            ));
        }
        checkpoints.insert(checkpoint.seq, checkpoint);
    }
    checkpoints
}

/// The chain as it is read from the pack.
struct PackChain {
    expected_seq: i64,
    previous_hash: Option<Vec<u8>>,
    checkpoints: BTreeMap<i64, Checkpoint>,
    matched: BTreeSet<i64>,
    events: u64,
    last_seq: Option<i64>,
    last_hash: Option<Vec<u8>>,
    in_proof: bool,
    snapshots: super::snapshot_check::SeenSnapshots,
}

impl PackChain {
    fn new(manifest: &Manifest, checkpoints: BTreeMap<i64, Checkpoint>) -> Self {
        Self {
            expected_seq: manifest.first_seq,
            previous_hash: None,
            checkpoints,
            matched: BTreeSet::new(),
            events: 0,
            last_seq: None,
            last_hash: None,
            in_proof: false,
            snapshots: super::snapshot_check::SeenSnapshots::default(),
        }
    }

    fn check(&mut self, file: &str, line: usize, record: &PackRecord, findings: &mut Vec<Finding>) {
        if !self.in_proof {
            self.snapshots.note(record);
        }
        let place = Some(format!("line {line}, seq {}", record.seq));
        if record.seq > self.expected_seq {
            findings.push(finding(
                file,
                place.clone(),
                format!(
                    "sequence {} expected, {} found: event(s) removed",
                    self.expected_seq, record.seq
                ),
            ));
        } else if record.seq < self.expected_seq {
            findings.push(finding(
                file,
                place.clone(),
                format!(
                    "sequence {} expected, {} found: event added or repeated",
                    self.expected_seq, record.seq
                ),
            ));
        } else if self
            .previous_hash
            .as_ref()
            .is_some_and(|previous| previous != &record.prev_hash)
        {
            findings.push(finding(
                file,
                place.clone(),
                "does not link to the previous event (reordered or inserted)".to_owned(),
            ));
        }
        if record.to_record().computed_hash().as_slice() != record.hash.as_slice() {
            findings.push(finding(
                file,
                place.clone(),
                "content does not match its hash (event edited)".to_owned(),
            ));
        }
        if super::rfc3339(record.occurred_at) != record.time {
            findings.push(finding(
                file,
                place,
                "time disagrees with occurred_at".to_owned(),
            ));
        }
        if let Some(checkpoint) = self.checkpoints.get(&record.seq) {
            self.matched.insert(record.seq);
            if checkpoint.hash != record.hash {
                findings.push(finding(
                    "checkpoints.jsonl",
                    Some(format!("checkpoint {}", record.seq)),
                    format!("hash disagrees with {file} line {line}"),
                ));
            }
        }
        if !self.in_proof {
            self.events += 1;
        }
        self.expected_seq = record.seq + 1;
        self.previous_hash = Some(record.hash.clone());
        self.last_seq = Some(record.seq);
        self.last_hash = Some(record.hash.clone());
    }

    fn finish(&self, manifest: &Manifest, verdict: &mut PackVerdict) {
        if self.events != manifest.events {
            verdict.findings.push(finding(
                "events.jsonl",
                None,
                format!(
                    "{} events, the manifest says {}",
                    self.events, manifest.events
                ),
            ));
        }
        let Some(anchor) = self.checkpoints.get(&manifest.checkpoint_seq) else {
            verdict.findings.push(finding(
                "checkpoints.jsonl",
                Some(format!("checkpoint {}", manifest.checkpoint_seq)),
                "the checkpoint the manifest names is missing".to_owned(),
            ));
            return;
        };
        if self.last_seq.is_some() && self.last_seq != Some(anchor.seq) {
            verdict.findings.push(finding(
                "chain-proof.jsonl",
                None,
                format!(
                    "the chain ends at {} and does not reach checkpoint {}",
                    self.last_seq.unwrap_or_default(),
                    anchor.seq
                ),
            ));
        } else if self
            .last_hash
            .as_ref()
            .is_some_and(|hash| hash != &anchor.hash)
        {
            verdict.findings.push(finding(
                "chain-proof.jsonl",
                Some(format!("checkpoint {}", anchor.seq)),
                "the chain's last hash is not the checkpoint's".to_owned(),
            ));
        }
        for seq in self.checkpoints.keys() {
            let inside = *seq >= manifest.first_seq && *seq <= manifest.checkpoint_seq;
            if self.last_seq.is_some() && (!inside || !self.matched.contains(seq)) {
                verdict.findings.push(finding(
                    "checkpoints.jsonl",
                    Some(format!("checkpoint {seq}")),
                    "no event with this sequence number in the pack (checkpoint swapped or added)"
                        .to_owned(),
                ));
            }
        }
    }
}

fn read_records(
    archive: &mut zip::ZipArchive<File>,
    verdict: &mut PackVerdict,
    name: &str,
    listed: &BTreeMap<String, String>,
    chain: &mut PackChain,
    limits: PackLimits,
) {
    let entry = match open_checked(archive, name, limits.max_events_bytes, limits) {
        Ok(entry) => entry,
        Err(problem) => {
            verdict.findings.push(finding(name, None, problem));
            return;
        }
    };
    let mut reader = BufReader::new(HashingReader {
        inner: entry.take(limits.max_events_bytes + 1),
        hasher: openssl::sha::Sha256::new(),
        size: 0,
    });
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(limits.max_line_bytes as u64 + 1)
            .read_until(b'\n', &mut line);
        match read {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => {
                verdict
                    .findings
                    .push(finding(name, None, format!("unreadable: {error}")));
                return;
            }
        }
        number += 1;
        if line.len() > limits.max_line_bytes {
            verdict.findings.push(finding(
                name,
                Some(format!("line {number}")),
                "line too long".to_owned(),
            ));
            return;
        }
        match serde_json::from_slice::<PackRecord>(line.trim_ascii_end()) {
            Ok(record) => chain.check(name, number, &record, &mut verdict.findings),
            Err(_) => verdict.findings.push(finding(
                name,
                Some(format!("line {number}")),
                "not an event record".to_owned(),
            )),
        }
    }
    let hashing = reader.into_inner();
    if hashing.size > limits.max_events_bytes {
        verdict
            .findings
            .push(finding(name, None, "larger than the size limit".to_owned()));
    }
    if let Some(expected) = listed.get(name) {
        compare_hash(
            verdict,
            name,
            &hex::encode(hashing.hasher.finish()),
            expected,
        );
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: openssl::sha::Sha256,
    size: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buffer)?;
        let read = buffer.get(..count).unwrap_or_default();
        self.hasher.update(read);
        self.size += count as u64;
        Ok(count)
    }
}

/// Opens an entry after checking its declared size and compression ratio.
fn open_checked<'a>(
    archive: &'a mut zip::ZipArchive<File>,
    name: &str,
    max_bytes: u64,
    limits: PackLimits,
) -> Result<zip::read::ZipFile<'a, File>, String> {
    let entry = archive
        .by_name(name)
        .map_err(|_| "missing from the archive".to_owned())?;
    if entry.size() > max_bytes {
        return Err(format!(
            "declares {} bytes, more than the limit {max_bytes}",
            entry.size()
        ));
    }
    if entry.size() > 4096 && entry.size() / entry.compressed_size().max(1) > limits.max_ratio {
        return Err("compression ratio too high (possible zip bomb)".to_owned());
    }
    Ok(entry)
}

/// Reads a whole entry, never more than `max_bytes` whatever its header declares.
fn read_capped(
    archive: &mut zip::ZipArchive<File>,
    name: &str,
    max_bytes: u64,
    limits: PackLimits,
) -> Result<Vec<u8>, String> {
    let entry = open_checked(archive, name, max_bytes, limits)?;
    let mut bytes = Vec::new();
    entry
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("unreadable: {error}"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!("larger than the limit of {max_bytes} bytes"));
    }
    Ok(bytes)
}

fn compare_hash(verdict: &mut PackVerdict, name: &str, actual: &str, expected: &str) {
    if actual != expected {
        verdict.findings.push(finding(
            name,
            None,
            "SHA-256 differs from the signed manifest (file changed)".to_owned(),
        ));
    }
}

fn bytes_hash(bytes: &[u8]) -> String {
    hex::encode(openssl::sha::sha256(bytes))
}

fn finding(file: &str, place: Option<String>, problem: String) -> Finding {
    Finding {
        file: file.to_owned(),
        place,
        problem,
    }
}
