//! Walking the audit chain and reporting the first break.

use std::fmt;

use portner_shared::store::Store;
use sqlx::Row;

use crate::{AuditError, records};

/// How many records are read per round trip; bounds memory for chains of any length.
const PAGE: i64 = 1_000;
const ZERO_HASH: [u8; 32] = [0; 32];

/// What verification found.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum ChainVerdict {
    /// Every record links to the one before and matches its hash, and the head agrees.
    Intact {
        /// How many records the chain holds.
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

/// Walks the whole chain in sequence order and reports the first break, or the count.
///
/// Reads in pages inside one read transaction, so it sees one consistent snapshot while
/// appends continue.
///
/// # Errors
///
/// The store failed; that is not a verdict about the chain.
pub async fn verify(store: &Store) -> Result<ChainVerdict, AuditError> {
    let mut tx = store.read().await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(tx.connection())
        .await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: Vec<u8> = head.try_get("hash")?;

    let mut expected_seq = 1;
    let mut previous_hash = ZERO_HASH.to_vec();
    loop {
        let page = records(&mut tx, expected_seq - 1, PAGE).await?;
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
            previous_hash = record.hash;
            expected_seq += 1;
        }
        if !page_was_full {
            break;
        }
    }
    tx.rollback().await?;

    let count = expected_seq - 1;
    if count < head_seq {
        return Ok(broken(expected_seq, Break::Truncated));
    }
    if count > head_seq {
        return Ok(broken(head_seq + 1, Break::HeadMismatch));
    }
    if previous_hash != head_hash {
        return Ok(broken(count, Break::HeadMismatch));
    }
    Ok(ChainVerdict::Intact { count })
}

fn broken(seq: i64, problem: Break) -> ChainVerdict {
    ChainVerdict::Broken { seq, problem }
}
