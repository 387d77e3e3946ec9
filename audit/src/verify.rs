//! Walking the audit chain from its anchor, reporting the first break, and checking the signed
//! checkpoints against it.

use std::fmt;

use portner_shared::store::{Store, Tx};
use sqlx::Row;

use crate::checkpoint::{AuditVerifier, Checkpoint, Head, checkpoints_between};
use crate::{AuditError, AuditRecord, records};

/// How many records are read per round trip; bounds memory for chains of any length.
const PAGE: i64 = 1_000;

/// What verification found.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum ChainVerdict {
    /// Every record links to the one before and matches its hash, and the head agrees.
    Intact {
        /// How many records the chain holds from its anchor on.
        count: i64,
    },
    /// The chain is broken at `seq`.
    Broken {
        /// The first sequence number at which the chain does not hold.
        seq: i64,
        /// What is wrong there.
        problem: Break,
    },
}

/// The ways a chain can break.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Break {
    /// The record's content does not match its stored hash: it was edited.
    ContentChanged,
    /// The record does not link to the one before it: records were reordered, inserted or
    /// replaced.
    LinkBroken,
    /// The record with this sequence number is missing: deleted.
    Missing,
    /// The chain ends before the head says it should: its tail was deleted.
    Truncated,
    /// There are records beyond the head, or the head's hash differs from the last record's:
    /// records were appended or the head was edited outside Portner.
    HeadMismatch,
}

impl fmt::Display for Break {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::ContentChanged => "content does not match its hash (record edited)",
            Self::LinkBroken => "does not link to the previous record (reordered or inserted)",
            Self::Missing => "record missing (deleted)",
            Self::Truncated => "chain ends before its recorded head (tail deleted)",
            Self::HeadMismatch => "chain head disagrees with the records (appended or edited)",
        })
    }
}

/// Walks the chain from its anchor in sequence order and reports the first break, or the
/// count of records present.
///
/// The anchor is where the chain starts: sequence 0 and the zero hash until the first prune,
/// then the signed checkpoint pruning stopped at (LG-3). This function trusts the stored
/// anchor; [`verify_with_checkpoints`] also checks its signature and every other checkpoint.
/// Reads in pages inside one read transaction, so it sees one consistent snapshot while
/// appends continue.
///
/// # Errors
///
/// The store failed; that is not a verdict about the chain.
pub async fn verify(store: &Store) -> Result<ChainVerdict, AuditError> {
    let mut tx = store.read().await?;
    let verdict = walk(&mut tx, &mut |_| {}).await?;
    tx.rollback().await?;
    Ok(verdict)
}

/// What [`verify_with_checkpoints`] found: the chain's verdict and every checkpoint problem.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Verification {
    /// The chain walk's verdict.
    pub chain: ChainVerdict,
    /// How many checkpoints were checked.
    pub checkpoints_checked: usize,
    /// Every checkpoint that failed, in sequence order.
    pub checkpoint_problems: Vec<CheckpointProblem>,
}

impl Verification {
    /// Whether chain and checkpoints all hold.
    pub fn is_intact(&self) -> bool {
        matches!(self.chain, ChainVerdict::Intact { .. }) && self.checkpoint_problems.is_empty()
    }
}

/// A checkpoint that does not hold, and why.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CheckpointProblem {
    /// The checkpoint's sequence number.
    pub seq: i64,
    /// What is wrong.
    pub problem: CheckpointBreak,
}

/// The ways a checkpoint can fail.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CheckpointBreak {
    /// The signature does not verify with the audit certificate (forged, altered, or signed
    /// by another key).
    BadSignature,
    /// The chain's record at this sequence number has a different hash: the chain was
    /// rewritten after the checkpoint was signed.
    HashDiffers,
    /// The checkpoint lies beyond the chain's last record: the chain was truncated.
    BeyondHead,
    /// The checkpoint is in the external file but not in the database (deleted there), or
    /// differs from the database's copy.
    MissingFromStore,
    /// The anchor the chain starts from is not a stored, validly signed checkpoint.
    AnchorUnsigned,
}

impl fmt::Display for CheckpointBreak {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::BadSignature => "signature does not verify with the audit certificate",
            Self::HashDiffers => "hash disagrees with the chain (records rewritten)",
            Self::BeyondHead => "lies beyond the chain's last record (chain truncated)",
            Self::MissingFromStore => "in the external checkpoint file but not in the database",
            Self::AnchorUnsigned => "the chain's anchor is not a validly signed checkpoint",
        })
    }
}

/// Walks the chain like [`verify`] and checks every stored checkpoint against it: each
/// signature with `verifier`, each hash against the chain's record at its sequence number,
/// the anchor's signature, and, when given, that every checkpoint of the external file is
/// also in the database unchanged.
///
/// Checkpoints are held in memory while the chain is walked (one per hour or 10,000 events,
/// about 9,000 a year at the defaults); records are not.
///
/// # Errors
///
/// The store failed.
pub async fn verify_with_checkpoints(
    store: &Store,
    verifier: &AuditVerifier,
    external: &[Checkpoint],
) -> Result<Verification, AuditError> {
    let mut tx = store.read().await?;
    let stored = checkpoints_between(&mut tx, 0, i64::MAX).await?;
    let anchor = anchor(&mut tx).await?;
    let mut problems = Vec::new();

    for checkpoint in &stored {
        if !verifier.checkpoint_is_valid(checkpoint) {
            problems.push(problem(checkpoint.seq, CheckpointBreak::BadSignature));
        }
    }
    for outside in external {
        if !stored.iter().any(|inside| inside == outside) {
            problems.push(problem(outside.seq, CheckpointBreak::MissingFromStore));
        }
    }
    if anchor.seq > 0 {
        let signed = stored.iter().any(|checkpoint| {
            checkpoint.seq == anchor.seq
                && checkpoint.hash == anchor.hash
                && verifier.checkpoint_is_valid(checkpoint)
        });
        if !signed {
            problems.push(problem(anchor.seq, CheckpointBreak::AnchorUnsigned));
        }
    }

    // Compare each retained checkpoint with the record the walk reaches at its seq.
    let wanted: std::collections::BTreeMap<i64, Vec<u8>> = stored
        .iter()
        .filter(|checkpoint| checkpoint.seq > anchor.seq)
        .map(|checkpoint| (checkpoint.seq, checkpoint.hash.clone()))
        .collect();
    let mut seen = std::collections::BTreeMap::new();
    let chain = walk(&mut tx, &mut |record: &AuditRecord| {
        if let Some(hash) = wanted.get(&record.seq) {
            seen.insert(record.seq, hash == &record.hash);
        }
    })
    .await?;
    tx.rollback().await?;

    for seq in wanted.keys() {
        match seen.get(seq) {
            Some(true) => {}
            Some(false) => problems.push(problem(*seq, CheckpointBreak::HashDiffers)),
            None => problems.push(problem(*seq, CheckpointBreak::BeyondHead)),
        }
    }
    problems.sort_by_key(|found| found.seq);
    Ok(Verification {
        chain,
        checkpoints_checked: stored.len() + external.len(),
        checkpoint_problems: problems,
    })
}

/// Where the chain starts: sequence 0 and the zero hash, or the checkpoint pruning stopped at.
///
/// # Errors
///
/// The store failed.
pub async fn anchor(tx: &mut Tx) -> Result<Head, AuditError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_anchor WHERE id = 1")
        .fetch_one(tx.connection())
        .await?;
    Ok(Head {
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
    })
}

/// Walks from the anchor to the head, calling `visit` for each record that checks out, and
/// stops at the first break. The walk stops early on a break, so a visitor sees only the
/// intact prefix.
async fn walk(
    tx: &mut Tx,
    visit: &mut (dyn FnMut(&AuditRecord) + Send),
) -> Result<ChainVerdict, AuditError> {
    let head = crate::checkpoint::head(tx).await?;
    let start = anchor(tx).await?;

    let mut expected_seq = start.seq + 1;
    let mut previous_hash = start.hash;
    loop {
        let page = records(tx, expected_seq - 1, PAGE).await?;
        let page_was_full = page.len() as i64 == PAGE;
        for record in page {
            if record.seq != expected_seq {
                return Ok(broken(expected_seq, Break::Missing));
            }
            if record.prev_hash != previous_hash {
                return Ok(broken(record.seq, Break::LinkBroken));
            }
            if record.computed_hash().as_slice() != record.hash.as_slice() {
                return Ok(broken(record.seq, Break::ContentChanged));
            }
            visit(&record);
            previous_hash = record.hash;
            expected_seq += 1;
        }
        if !page_was_full {
            break;
        }
    }

    let last_seq = expected_seq - 1;
    if last_seq < head.seq {
        return Ok(broken(expected_seq, Break::Truncated));
    }
    if last_seq > head.seq {
        return Ok(broken(head.seq + 1, Break::HeadMismatch));
    }
    if previous_hash != head.hash {
        return Ok(broken(last_seq, Break::HeadMismatch));
    }
    Ok(ChainVerdict::Intact {
        count: last_seq - start.seq,
    })
}

fn problem(seq: i64, problem: CheckpointBreak) -> CheckpointProblem {
    CheckpointProblem { seq, problem }
}

fn broken(seq: i64, problem: Break) -> ChainVerdict {
    ChainVerdict::Broken { seq, problem }
}
