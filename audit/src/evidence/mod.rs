//! The evidence pack: a period's audit events with everything an ISAE 3000 auditor needs to
//! check them without Portner's database (EV-6 – EV-15 in `oiosaml3-nsis.md`).
//!
//! [`export`] streams the period's records page by page into a zip archive, so memory stays
//! bounded whatever the period holds: only per-day tallies and the checkpoint list are kept.
//! The archive is written under a temporary name next to the target and renamed only after
//! the last byte is synced, so an interrupted export never leaves a file that looks complete.
//! [`verify_pack`] checks a pack offline.
//!
//! Pack layout (every file listed with its SHA-256 in `manifest.json`, which `manifest.sig`
//! signs with the audit key whose certificate is `certificate.pem`):
//!
//! | file | content |
//! | --- | --- |
//! | `events.jsonl` | the period's records with their chain fields, one per line |
//! | `chain-proof.jsonl` | records after the period up to the checkpoint that anchors it |
//! | `checkpoints.jsonl` | the signed checkpoints from the first event to that checkpoint |
//! | `summaries/*.csv` | counts by day, category, kind and level or method |
//! | `controls.csv`, `controls.html` | NSIS requirement → control → values at the period's
//! start, changes in it, values at its end → evidence |
//! | `policy-snapshots.jsonl` | the settings snapshots in force during the period |
//! | `inventory/*` | users, credentials, service providers, settings at export time |
//! | `report.html` | the printable report with charts, matrix and verdict |
//! | `certificates/<sha256>.pem` | retired audit certificates that signed checkpoints in it |
//!
//! [`months`] lists the calendar months within retention that hold events, for the auditor
//! console's list of periods; [`check_period_at`] is the period check [`export`] applies,
//! offered on its own so the console can tie each problem to its form field.
//!
//! Known shortcomings, written down here where they live: the inventories (users, credentials,
//! service providers, `inventory/policy.json`) describe the installation at export time, not
//! at the period's end, because users and credentials are not versioned yet. The settings the
//! control matrix cites are versioned: their history comes from the `CONFIGURATION_APPLIED`
//! snapshots (`crate::config_history`). The export runs blocking file I/O on the calling
//! task; the CLI calls it directly, and the auditor console (`idp/src/console/audit/`) runs it
//! on a blocking thread.

mod controls;
mod inventory;
mod pack;
mod periods;
mod report;
mod snapshot_check;
mod summary;
mod writer;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use portner_shared::store::{Store, Tx, millis};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::checkpoint::{
    AuditSigner, Checkpoint, checkpoint_at_or_after, checkpoints_between, head, sign_head,
};
use crate::config_history::PeriodHistory;
use crate::retention::RetentionPolicy;
use crate::verify::anchor;
use crate::{AuditContext, AuditError, AuditEvent, AuditRecord, Subject, records};

pub use pack::{Finding, PackLimits, PackVerdict, verify_pack};
pub use periods::{MonthCount, first_whole_day, months};
pub use summary::{Category, Tally};

use writer::PackWriter;

/// Version of the pack layout, in `manifest.json`.
pub const PACK_FORMAT: &str = "portner-evidence-pack-v1";
/// Where a pack keeps the retired audit certificates its checkpoints need.
pub const RETIRED_FOLDER: &str = "certificates/";
/// Records read per round trip while streaming.
const PAGE: i64 = 2_000;
/// Longest period one pack covers; keeps the per-day charts and tallies bounded.
pub const MAX_PERIOD_DAYS: i64 = 800;

/// What to export.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    /// Start of the period, inclusive.
    pub from: DateTime<Utc>,
    /// End of the period, exclusive.
    pub to: DateTime<Utc>,
    /// Where the pack goes; written as `<out>.partial` first.
    pub out: PathBuf,
    /// The retention policy in force (a period starting before it is refused).
    pub retention: RetentionPolicy,
    /// The configured values the control matrix and `inventory/policy.json` show, as
    /// `(key, value)`; secrets must not be among them.
    pub settings: Vec<(String, String)>,
}

/// What an export produced.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ExportSummary {
    /// The finished pack.
    pub path: PathBuf,
    /// Events in the period.
    pub events: u64,
    /// First sequence number in the pack (the next one to come when the period is empty).
    pub first_seq: i64,
    /// Last sequence number in the pack.
    pub last_seq: i64,
    /// The checkpoint the chain proof reaches.
    pub checkpoint_seq: i64,
    /// SHA-256 of `manifest.json`, hex; recorded in the `EVIDENCE_EXPORTED` event.
    pub manifest_sha256: String,
    /// The checkpoint the export wrote for itself, if it had to; the caller sends it to the
    /// configured sinks like any other.
    pub new_checkpoint: Option<Checkpoint>,
}

/// The manifest: what the pack holds and the hash of every file. Signed as written.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`PACK_FORMAT`].
    pub format: String,
    /// When the pack was made, RFC 3339.
    pub created_at: String,
    /// Start of the period, RFC 3339, inclusive.
    pub period_from: String,
    /// End of the period, RFC 3339, exclusive.
    pub period_to: String,
    /// Events in `events.jsonl`.
    pub events: u64,
    /// First sequence number in `events.jsonl`.
    pub first_seq: i64,
    /// Last sequence number in `events.jsonl`.
    pub last_seq: i64,
    /// The checkpoint `chain-proof.jsonl` ends at.
    pub checkpoint_seq: i64,
    /// Fingerprint of `certificate.pem`.
    pub key_fingerprint: String,
    /// Every other file of the pack.
    pub files: Vec<ManifestFile>,
}

/// One file in the manifest.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Path inside the archive.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// One record as a line of `events.jsonl` or `chain-proof.jsonl`: the stored fields exactly,
/// so the hash can be recomputed, plus the time in readable form.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PackRecord {
    /// Sequence number.
    pub seq: i64,
    /// Epoch milliseconds, as hashed.
    pub occurred_at: i64,
    /// The same instant, RFC 3339, for readers.
    pub time: String,
    /// Kind code.
    pub kind: String,
    /// Actor.
    pub actor: String,
    /// Subject.
    pub subject: String,
    /// The stored JSON text, as hashed.
    pub data: String,
    /// Previous record's hash, hex.
    #[serde(with = "crate::checkpoint::hex_bytes")]
    pub prev_hash: Vec<u8>,
    /// This record's hash, hex.
    #[serde(with = "crate::checkpoint::hex_bytes")]
    pub hash: Vec<u8>,
}

impl PackRecord {
    /// The chain record this line describes.
    pub fn to_record(&self) -> AuditRecord {
        AuditRecord {
            seq: self.seq,
            occurred_at: self.occurred_at,
            kind: self.kind.clone(),
            actor: self.actor.clone(),
            subject: self.subject.clone(),
            data: self.data.clone(),
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        }
    }
}

/// The same line as [`PackRecord`], serialised from a borrowed record without copying it.
#[derive(Serialize)]
struct PackRecordRef<'a> {
    seq: i64,
    occurred_at: i64,
    time: String,
    kind: &'a str,
    actor: &'a str,
    subject: &'a str,
    data: &'a str,
    #[serde(with = "crate::checkpoint::hex_bytes")]
    prev_hash: &'a [u8],
    #[serde(with = "crate::checkpoint::hex_bytes")]
    hash: &'a [u8],
}

impl<'a> PackRecordRef<'a> {
    fn from_record(record: &'a AuditRecord) -> Self {
        Self {
            seq: record.seq,
            occurred_at: record.occurred_at,
            time: rfc3339(record.occurred_at),
            kind: &record.kind,
            actor: &record.actor,
            subject: &record.subject,
            data: &record.data,
            prev_hash: &record.prev_hash,
            hash: &record.hash,
        }
    }
}

/// Progress reports while exporting: `(records written, records to write)`.
pub type Progress<'a> = &'a mut (dyn FnMut(u64, u64) + Send);

/// Writes the evidence pack for `request` and records an `EVIDENCE_EXPORTED` event.
///
/// When no checkpoint covers the period's last event yet, one is written first (with its
/// `CHECKPOINT_WRITTEN` event), so the chain proof always ends at a signed checkpoint.
///
/// # Errors
///
/// [`AuditError::Period`] for an empty or reversed period, one longer than 800 days, or one
/// that starts before the retention limit; otherwise the store, the key or the file system
/// failed. On every error the temporary file is removed and `request.out` is untouched.
pub async fn export(
    store: &Store,
    now: DateTime<Utc>,
    context: &AuditContext,
    signer: &AuditSigner,
    request: &ExportRequest,
    progress: Progress<'_>,
) -> Result<ExportSummary, AuditError> {
    check_period(request, now)?;
    let (checkpoint, new_checkpoint) = ensure_checkpoint(store, now, signer).await?;
    let partial = partial_path(&request.out);

    let result = write_pack(store, now, signer, request, &checkpoint, &partial, progress).await;
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            // Best effort: a leftover partial file is harmless (its name says so), but tidy.
            let _ignored = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, &request.out).map_err(|source| AuditError::Io {
        path: request.out.display().to_string(),
        source,
    })?;

    let mut tx = store.begin().await?;
    let event = AuditEvent::EvidenceExported {
        from: millis(request.from),
        to: millis(request.to),
        first_seq: summary.first_seq,
        last_seq: summary.last_seq,
        manifest_sha256: summary.manifest_sha256.clone(),
    };
    crate::append(&mut tx, now, context, &Subject::Installation, &event).await?;
    tx.commit().await?;
    Ok(ExportSummary {
        path: request.out.clone(),
        new_checkpoint,
        ..summary
    })
}

/// The temporary name an export writes to before the final rename.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn check_period(request: &ExportRequest, now: DateTime<Utc>) -> Result<(), AuditError> {
    check_period_at(request.from, request.to, request.retention, now)
        .map_err(|problem| AuditError::Period(problem.to_string()))
}

/// Why a period cannot be exported; [`export`] reports it as [`AuditError::Period`] with this
/// text, and the auditor console maps each case to a message tied to its form field.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PeriodProblem {
    /// The end is not after the start.
    Empty,
    /// Longer than [`MAX_PERIOD_DAYS`].
    TooLong {
        /// The longest period allowed, in days.
        max_days: i64,
    },
    /// The start lies before the retention limit, so events of the period may be pruned.
    BeforeRetention {
        /// The requested start.
        from: DateTime<Utc>,
        /// The earliest instant still within retention.
        limit: DateTime<Utc>,
        /// The retention period, in days.
        days: i64,
    },
}

impl std::fmt::Display for PeriodProblem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => formatter.write_str("the period is empty: --to must be after --from"),
            Self::TooLong { max_days } => write!(
                formatter,
                "the period is longer than {max_days} days; export it in parts"
            ),
            Self::BeforeRetention { from, limit, days } => write!(
                formatter,
                "the period starts {} but the retention period ({days} days, \
                 audit_retention_lifecycle_days) reaches back only to {}; events before that \
                 may have been pruned, so a pack for this period could not be complete",
                from.format("%Y-%m-%d"),
                limit.format("%Y-%m-%d"),
            ),
        }
    }
}

/// Checks a period as [`export`] does at `now`: not empty or reversed, at most 800 days, and
/// not starting before the lifecycle retention limit.
///
/// # Errors
///
/// The [`PeriodProblem`] found first, in that order.
pub fn check_period_at(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    retention: RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<(), PeriodProblem> {
    if to <= from {
        return Err(PeriodProblem::Empty);
    }
    if to - from > Duration::days(MAX_PERIOD_DAYS) {
        return Err(PeriodProblem::TooLong {
            max_days: MAX_PERIOD_DAYS,
        });
    }
    let limit = retention.lifecycle_cutoff(now);
    if from < limit {
        return Err(PeriodProblem::BeforeRetention {
            from,
            limit,
            days: retention.lifecycle_days,
        });
    }
    Ok(())
}

/// The checkpoint at the head, written now if the newest one is older than the head (then also
/// returned as the second value).
async fn ensure_checkpoint(
    store: &Store,
    now: DateTime<Utc>,
    signer: &AuditSigner,
) -> Result<(Checkpoint, Option<Checkpoint>), AuditError> {
    let mut tx = store.begin().await?;
    let current = head(&mut tx).await?;
    if let Some(existing) = checkpoint_at_or_after(&mut tx, current.seq).await? {
        tx.rollback().await?;
        return Ok((existing, None));
    }
    let checkpoint = sign_head(&current, millis(now), signer)?;
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
    Ok((checkpoint.clone(), Some(checkpoint)))
}

/// The period's sequence range `(first, last)`; `last < first` when it holds no events.
async fn period_range(
    tx: &mut Tx,
    request: &ExportRequest,
    checkpoint_seq: i64,
) -> Result<(i64, i64), AuditError> {
    let start = anchor(tx).await?;
    let row = sqlx::query(
        "SELECT MIN(seq) AS first, MAX(seq) AS last FROM audit_events \
         WHERE seq > $1 AND seq <= $2 AND occurred_at >= $3 AND occurred_at < $4",
    )
    .bind(start.seq)
    .bind(checkpoint_seq)
    .bind(millis(request.from))
    .bind(millis(request.to))
    .fetch_one(tx.connection())
    .await?;
    let first: Option<i64> = row.try_get("first")?;
    let last: Option<i64> = row.try_get("last")?;
    Ok(match (first, last) {
        (Some(first), Some(last)) => (first, last),
        _ => (checkpoint_seq + 1, checkpoint_seq),
    })
}

async fn write_pack(
    store: &Store,
    now: DateTime<Utc>,
    signer: &AuditSigner,
    request: &ExportRequest,
    checkpoint: &Checkpoint,
    partial: &Path,
    progress: Progress<'_>,
) -> Result<ExportSummary, AuditError> {
    let mut tx = store.read().await?;
    let (first_seq, last_seq) = period_range(&mut tx, request, checkpoint.seq).await?;
    let total = u64::try_from(checkpoint.seq - first_seq + 1).unwrap_or(0);
    let mut pack = PackWriter::create(partial)?;

    // Events of the period, then the records linking them to the checkpoint.
    let mut walk = ChainWalk::new(first_seq);
    let mut tally = Tally::default();
    pack.start("events.jsonl")?;
    stream_records(
        &mut tx,
        &mut pack,
        &mut walk,
        first_seq,
        last_seq,
        &mut |record| tally.add(record),
        progress,
        total,
    )
    .await?;
    pack.start("chain-proof.jsonl")?;
    let proof_from = last_seq.max(first_seq - 1) + 1;
    stream_records(
        &mut tx,
        &mut pack,
        &mut walk,
        proof_from,
        checkpoint.seq,
        &mut |_| {},
        progress,
        total,
    )
    .await?;

    let low = first_seq.min(checkpoint.seq);
    let checkpoints = checkpoints_between(&mut tx, low, checkpoint.seq).await?;
    pack.start("checkpoints.jsonl")?;
    for stored in &checkpoints {
        pack.write_json_line(stored)?;
    }
    let verdict = walk.verdict(&checkpoints, checkpoint, &signer.verifier()?);

    summary_files(&mut pack, &tally)?;
    let inventory = inventory::write(&mut tx, &mut pack, &request.settings).await?;
    let history =
        PeriodHistory::read(&mut tx, request.from, request.to, first_seq, last_seq).await?;
    tx.rollback().await?;
    policy_snapshots(&mut pack, &history)?;

    let context = report::ReportContext {
        request,
        now,
        tally: &tally,
        first_seq,
        last_seq,
        checkpoint_seq: checkpoint.seq,
        checkpoints: checkpoints.len(),
        fingerprint: signer.fingerprint(),
        verdict: &verdict,
        inventory: &inventory,
        history: &history,
    };
    let matrix = controls::matrix(&context);
    pack.start("controls.csv")?;
    pack.write(controls::csv(&matrix, &history).as_bytes())?;
    pack.start("controls.html")?;
    pack.write(controls::html_page(&matrix, &history).as_bytes())?;
    pack.start("report.html")?;
    pack.write(report::html(&context, &matrix).as_bytes())?;
    pack.start("certificate.pem")?;
    pack.write(&signer.certificate().to_pem()?)?;
    retired_certificates(&mut pack, signer, &checkpoints)?;

    let manifest = Manifest {
        format: PACK_FORMAT.to_owned(),
        created_at: now.to_rfc3339(),
        period_from: request.from.to_rfc3339(),
        period_to: request.to.to_rfc3339(),
        events: tally.total,
        first_seq,
        last_seq,
        checkpoint_seq: checkpoint.seq,
        key_fingerprint: signer.fingerprint(),
        files: pack.files().to_vec(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let signature = signer.sign(&manifest_bytes)?;
    pack.start_unlisted("manifest.json")?;
    pack.write(&manifest_bytes)?;
    pack.start_unlisted("manifest.sig")?;
    pack.write(hex::encode(signature).as_bytes())?;
    pack.finish()?;

    Ok(ExportSummary {
        path: partial.to_owned(),
        events: tally.total,
        first_seq,
        last_seq,
        checkpoint_seq: checkpoint.seq,
        manifest_sha256: hex::encode(openssl::sha::sha256(&manifest_bytes)),
        new_checkpoint: None,
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "one streaming step that needs the transaction, the archive, the chain check, \
              the range, the tally and the progress; bundling them would only rename them"
)]
async fn stream_records(
    tx: &mut Tx,
    pack: &mut PackWriter,
    walk: &mut ChainWalk,
    from: i64,
    to: i64,
    visit: &mut (dyn FnMut(&AuditRecord) + Send),
    progress: Progress<'_>,
    total: u64,
) -> Result<(), AuditError> {
    let mut after = from - 1;
    while after < to {
        let page = records(tx, after, PAGE.min(to - after)).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            walk.check(record);
            visit(record);
            pack.write_json_line(&PackRecordRef::from_record(record))?;
        }
        progress(walk.seen, total);
    }
    Ok(())
}

/// Checks the chain while it streams past, for the report's verdict.
#[derive(Debug)]
struct ChainWalk {
    expected_seq: i64,
    previous_hash: Option<Vec<u8>>,
    seen: u64,
    problems: Vec<String>,
    last_hash: Option<Vec<u8>>,
}

impl ChainWalk {
    fn new(first_seq: i64) -> Self {
        Self {
            expected_seq: first_seq,
            previous_hash: None,
            seen: 0,
            problems: Vec::new(),
            last_hash: None,
        }
    }

    fn check(&mut self, record: &AuditRecord) {
        if record.seq != self.expected_seq {
            self.problems
                .push(format!("record {} missing", self.expected_seq));
        }
        if self
            .previous_hash
            .as_ref()
            .is_some_and(|previous| previous != &record.prev_hash)
        {
            self.problems
                .push(format!("record {} does not link", record.seq));
        }
        if record.computed_hash().as_slice() != record.hash.as_slice() {
            self.problems
                .push(format!("record {} was edited", record.seq));
        }
        self.expected_seq = record.seq + 1;
        self.previous_hash = Some(record.hash.clone());
        self.last_hash = Some(record.hash.clone());
        self.seen += 1;
    }

    fn verdict(
        &self,
        checkpoints: &[Checkpoint],
        anchor: &Checkpoint,
        verifier: &crate::AuditVerifier,
    ) -> Vec<String> {
        let mut problems = self.problems.clone();
        for checkpoint in checkpoints {
            if !verifier.checkpoint_is_valid(checkpoint) {
                problems.push(format!("checkpoint {} signature invalid", checkpoint.seq));
            }
        }
        if self.seen > 0 && self.last_hash.as_ref() != Some(&anchor.hash) {
            problems.push(format!("chain does not reach checkpoint {}", anchor.seq));
        }
        problems
    }
}

/// Adds `certificates/<fingerprint>.pem` for each retired audit certificate that signed one of
/// the pack's checkpoints, so `verify-pack` can check them offline. The manifest, signed with
/// the current key, covers these files: the current key vouches for its predecessors.
fn retired_certificates(
    pack: &mut PackWriter,
    signer: &AuditSigner,
    checkpoints: &[Checkpoint],
) -> Result<(), AuditError> {
    let used: std::collections::BTreeSet<&str> = checkpoints
        .iter()
        .map(|checkpoint| checkpoint.key_fingerprint.as_str())
        .collect();
    for certificate in signer.retired() {
        let fingerprint = crate::checkpoint::certificate_fingerprint(certificate);
        if used.contains(fingerprint.as_str()) {
            pack.start(&format!("{RETIRED_FOLDER}{fingerprint}.pem"))?;
            pack.write(&certificate.to_pem()?)?;
        }
    }
    Ok(())
}

/// One line of `policy-snapshots.jsonl`.
#[derive(Serialize)]
struct SnapshotLine<'a> {
    /// `at_period_start` (the newest snapshot before the period) or `applied_in_period`.
    in_force: &'static str,
    seq: i64,
    occurred_at: i64,
    time: String,
    hash: &'a str,
    changed: &'a [String],
    settings: &'a std::collections::BTreeMap<String, String>,
    /// For a snapshot whose record was pruned: the record that carries it forward.
    #[serde(skip_serializing_if = "Option::is_none")]
    carried_forward_by: Option<i64>,
}

/// Writes `policy-snapshots.jsonl`: the settings snapshots in force during the period. A
/// snapshot applied in the period is also in `events.jsonl`; the one in force at its start
/// lies before it, so its `seq` and `hash` let a reader with the chain find it.
fn policy_snapshots(pack: &mut PackWriter, history: &PeriodHistory) -> Result<(), AuditError> {
    pack.start("policy-snapshots.jsonl")?;
    for (in_force, snapshot) in history.in_force() {
        pack.write_json_line(&SnapshotLine {
            in_force,
            seq: snapshot.seq,
            occurred_at: snapshot.occurred_at,
            time: rfc3339(snapshot.occurred_at),
            hash: &snapshot.hash,
            changed: &snapshot.changed,
            settings: &snapshot.settings,
            carried_forward_by: snapshot.carried_by,
        })?;
    }
    Ok(())
}

fn summary_files(pack: &mut PackWriter, tally: &Tally) -> Result<(), AuditError> {
    pack.start("summaries/events-by-kind.csv")?;
    pack.write(b"kind,category,count\n")?;
    for (kind, count) in &tally.by_kind {
        let line = format!(
            "{},{},{count}\n",
            csv_field(kind),
            Category::of(kind).code()
        );
        pack.write(line.as_bytes())?;
    }
    let files = [
        (
            "summaries/sign-ins-by-day-and-level.csv",
            &[Category::SignIn][..],
            "level",
        ),
        (
            "summaries/failures-and-lockouts-by-day.csv",
            &[Category::SignInFailure, Category::Lockout][..],
            "detail",
        ),
        (
            "summaries/credential-lifecycle.csv",
            &[Category::Credential][..],
            "detail",
        ),
        (
            "summaries/helpdesk-actions.csv",
            &[Category::Helpdesk][..],
            "method",
        ),
        (
            "summaries/admin-changes.csv",
            &[Category::Admin, Category::Lifecycle][..],
            "detail",
        ),
        (
            "summaries/sync-actions.csv",
            &[Category::Sync][..],
            "detail",
        ),
    ];
    for (name, categories, detail_header) in files {
        pack.start(name)?;
        pack.write(format!("day,category,kind,{detail_header},count\n").as_bytes())?;
        for ((day, category, kind, detail), count) in &tally.by_key {
            if categories.contains(category) {
                let line = format!(
                    "{day},{},{},{},{count}\n",
                    category.code(),
                    csv_field(kind),
                    csv_field(detail)
                );
                pack.write(line.as_bytes())?;
            }
        }
    }
    Ok(())
}

/// A CSV field: quoted when needed, and with a leading apostrophe when it would start a
/// spreadsheet formula (CSV injection), since auditors open these files in spreadsheets.
pub(crate) fn csv_field(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The UTC day of an epoch-millisecond instant, `YYYY-MM-DD`.
pub(crate) fn day_of(millis: i64) -> String {
    portner_shared::clock::from_millis(millis)
        .format("%Y-%m-%d")
        .to_string()
}

fn rfc3339(millis: i64) -> String {
    portner_shared::clock::from_millis(millis).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
