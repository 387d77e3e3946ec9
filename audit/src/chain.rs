//! Appending to the hash chain, and reading it back.
//!
//! Record `n` stores `hash_n = SHA-256(DOMAIN ‖ hash_{n-1} ‖ seq ‖ occurred_at ‖ kind ‖ actor ‖
//! subject ‖ data)`, with integers big-endian and each text length-prefixed, so that no two
//! different records share a canonical form. The hash before the first record is 32 zero
//! bytes. The hash is computed over the stored text, never over a re-serialisation, so
//! verification does not depend on JSON key order or library versions.

use chrono::{DateTime, Utc};
use portner_shared::store::{Tx, millis};
use serde_json::json;
use sqlx::Row;

use crate::{AuditContext, AuditError, AuditEvent, Subject};

/// Separates Portner's audit hashes from any other use of SHA-256 over similar bytes, and
/// versions the canonical form.
const HASH_DOMAIN: &[u8] = b"portner-audit-chain-v1\n";

/// One stored audit record, with its chain fields.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it happened, epoch milliseconds from the injected clock.
    pub occurred_at: i64,
    /// The event kind's stable code.
    pub kind: String,
    /// Who caused it.
    pub actor: String,
    /// What it concerns.
    pub subject: String,
    /// The event's fields, source and correlation ID as JSON.
    pub data: String,
    /// The previous record's hash.
    pub prev_hash: Vec<u8>,
    /// This record's hash.
    pub hash: Vec<u8>,
}

impl AuditRecord {
    /// Recomputes this record's hash from its content and `prev_hash`.
    pub fn computed_hash(&self) -> [u8; 32] {
        chain_hash(
            &self.prev_hash,
            self.seq,
            self.occurred_at,
            &self.kind,
            &self.actor,
            &self.subject,
            &self.data,
        )
    }
}

/// Appends an event to the chain inside `tx`, so it commits or vanishes with the change it
/// describes.
///
/// The first statement moves the chain head, which locks it: on PostgreSQL the row lock makes
/// concurrent appenders (from any number of processes) wait their turn until this transaction
/// ends, and on SQLite the writing transaction already holds the database's write lock. The
/// chain therefore never forks.
///
/// # Errors
///
/// The store failed; the caller's transaction must then be abandoned.
pub async fn append(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    subject: &Subject,
    event: &AuditEvent,
) -> Result<AuditRecord, AuditError> {
    let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(tx.connection())
        .await?;
    let seq: i64 = head.try_get("seq")?;
    let prev_hash: Vec<u8> = head.try_get("hash")?;

    let data = json!({
        "fields": event,
        "source": context.source.map(|address| address.to_string()),
        "correlation_id": context.correlation_id,
    });
    let mut record = AuditRecord {
        seq,
        occurred_at: millis(now),
        kind: event.kind().to_owned(),
        actor: context.actor.to_string(),
        subject: subject.to_string(),
        data: serde_json::to_string(&data)?,
        prev_hash,
        hash: Vec::new(),
    };
    record.hash = record.computed_hash().to_vec();

    sqlx::query(
        "INSERT INTO audit_events (seq, occurred_at, kind, actor, subject, data, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(record.seq)
    .bind(record.occurred_at)
    .bind(&record.kind)
    .bind(&record.actor)
    .bind(&record.subject)
    .bind(&record.data)
    .bind(record.prev_hash.clone())
    .bind(record.hash.clone())
    .execute(tx.connection())
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(record.hash.clone())
        .execute(tx.connection())
        .await?;
    Ok(record)
}

/// Up to `limit` records with sequence numbers above `after`, in chain order.
///
/// # Errors
///
/// The store failed or a row has columns of the wrong type.
pub async fn records(tx: &mut Tx, after: i64, limit: i64) -> Result<Vec<AuditRecord>, AuditError> {
    let rows = sqlx::query(
        "SELECT seq, occurred_at, kind, actor, subject, data, prev_hash, hash FROM audit_events \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(tx.connection())
    .await?;
    rows.iter().map(record_from_row).collect()
}

/// The newest `limit` records about `subject` whose kind is one of `kinds`, newest first:
/// what the helpdesk console shows as a user's recent sign-ins and lockouts. Served by the
/// `audit_events_subject` index, so it does not scan the chain.
///
/// # Errors
///
/// The store failed or a row has columns of the wrong type.
pub async fn recent_about(
    tx: &mut Tx,
    subject: &Subject,
    kinds: &[&str],
    limit: i64,
) -> Result<Vec<AuditRecord>, AuditError> {
    // The kinds come from code, but they are still bound, one placeholder each.
    let placeholders = (0..kinds.len())
        .map(|index| format!("${}", index + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT seq, occurred_at, kind, actor, subject, data, prev_hash, hash FROM audit_events \
         WHERE subject = $1 AND kind IN ({placeholders}) ORDER BY seq DESC LIMIT $2"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(subject.to_string())
        .bind(limit);
    for kind in kinds {
        query = query.bind(*kind);
    }
    let rows = query.fetch_all(tx.connection()).await?;
    rows.iter().map(record_from_row).collect()
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<AuditRecord, AuditError> {
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        occurred_at: row.try_get("occurred_at")?,
        kind: row.try_get("kind")?,
        actor: row.try_get("actor")?,
        subject: row.try_get("subject")?,
        data: row.try_get("data")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

fn chain_hash(
    prev_hash: &[u8],
    seq: i64,
    occurred_at: i64,
    kind: &str,
    actor: &str,
    subject: &str,
    data: &str,
) -> [u8; 32] {
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(HASH_DOMAIN);
    length_prefixed(&mut hasher, prev_hash);
    hasher.update(&seq.to_be_bytes());
    hasher.update(&occurred_at.to_be_bytes());
    for text in [kind, actor, subject, data] {
        length_prefixed(&mut hasher, text.as_bytes());
    }
    hasher.finish()
}

fn length_prefixed(hasher: &mut openssl::sha::Sha256, bytes: &[u8]) {
    // Audit fields are far below 4 GiB; saturating keeps the function total regardless.
    let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hasher.update(&length.to_be_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixes_keep_field_boundaries_apart() {
        let moved_boundary = chain_hash(&[0; 32], 1, 0, "AB", "C", "s", "{}");
        let original = chain_hash(&[0; 32], 1, 0, "A", "BC", "s", "{}");

        assert_ne!(moved_boundary, original);
    }
}
