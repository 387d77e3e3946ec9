//! Retention: pruning whole segments of the chain up to a signed checkpoint (LG-3; EV-14).
//!
//! A hash chain cannot lose a record in the middle without breaking, so pruning removes a
//! prefix: every record from the current anchor up to a checkpoint, which then becomes the new
//! anchor that verification starts from. A prefix may go only when every record in it is past
//! its category's retention period: per-message SAML events (kinds starting with `SAML_`)
//! after 180 days, everything else (lifecycle and administration) after 13 months by default.
//!
//! Known shortcoming, by design of the chain: a SAML event is kept as long as the newest
//! lifecycle event in the same segment, so SAML messages usually live about 13 months rather
//! than 180 days. Both periods are minimums (LG-3 says "≥"), so this meets the requirement; it
//! keeps personal data longer than strictly needed, which an installation can address by
//! lowering `audit_retention_lifecycle_days` no further than its own policy allows.
//!
//! Pruning is refused when the requested cut is not a checkpoint, when the checkpoint's
//! signature does not verify, or when any record before it is still within retention. The
//! database triggers of migration 0003 allow deleting records only at or below the anchor and
//! moving the anchor only forward onto a stored checkpoint, so this module is the only path
//! by which records leave (see `docs/evidence.md`).

use chrono::{DateTime, Duration, Utc};
use portner_shared::store::{Store, Tx, millis};
use sqlx::Row;

use crate::checkpoint::{AuditVerifier, Checkpoint, checkpoints_between};
use crate::verify::anchor;
use crate::{AuditContext, AuditError, AuditEvent, Subject};

/// Kind codes with this prefix are per-message SAML events with the shorter retention.
pub const SAML_KIND_PREFIX: &str = "SAML_";

/// How long audit events are kept at least, in days.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct RetentionPolicy {
    /// Lifecycle and administration events: 396 days (13 months of 30.5 days, rounded up).
    pub lifecycle_days: i64,
    /// Per-message SAML events: 180 days (LG-3, NL-8).
    pub saml_days: i64,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            lifecycle_days: 396,
            saml_days: 180,
        }
    }
}

impl RetentionPolicy {
    /// The earliest instant whose lifecycle events must still be kept at `now`.
    pub fn lifecycle_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(self.lifecycle_days)
    }

    fn saml_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(self.saml_days)
    }
}

/// What a prune removed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PruneOutcome {
    /// The checkpoint that is now the anchor.
    pub anchor: Checkpoint,
    /// Lifecycle and administration records removed.
    pub removed_lifecycle: i64,
    /// Per-message SAML records removed.
    pub removed_saml: i64,
}

/// Removes the records up to a checkpoint and makes it the anchor, in one transaction with an
/// `AUDIT_PRUNED` event.
///
/// With `through = Some(seq)`, `seq` must be a stored checkpoint beyond the current anchor
/// whose segment is entirely past retention; with `None`, the newest such checkpoint is
/// chosen, and `Ok(None)` says there is none.
///
/// # Errors
///
/// [`AuditError::NotACheckpoint`] when `seq` is not a checkpoint beyond the anchor (pruning
/// never cuts between checkpoints), [`AuditError::RetentionNotReached`] when a record before
/// it is still within retention, [`AuditError::Key`] when its signature does not verify, or
/// the store failed. Nothing is removed in any of these cases.
pub async fn prune(
    store: &Store,
    now: DateTime<Utc>,
    context: &AuditContext,
    verifier: &AuditVerifier,
    policy: RetentionPolicy,
    through: Option<i64>,
) -> Result<Option<PruneOutcome>, AuditError> {
    let mut tx = store.begin().await?;
    let start = anchor(&mut tx).await?;
    let blocker = first_record_within_retention(&mut tx, start.seq, now, policy).await?;
    let candidates = checkpoints_between(&mut tx, start.seq + 1, i64::MAX).await?;

    let chosen = match through {
        Some(seq) => {
            let Some(checkpoint) = candidates.iter().find(|checkpoint| checkpoint.seq == seq)
            else {
                return Err(AuditError::NotACheckpoint { seq });
            };
            if blocker.is_some_and(|blocking_seq| blocking_seq <= seq) {
                return Err(AuditError::RetentionNotReached {
                    seq,
                    blocking_seq: blocker.unwrap_or(seq),
                });
            }
            checkpoint.clone()
        }
        None => {
            let eligible = candidates.iter().rev().find(|checkpoint| {
                blocker.is_none_or(|blocking_seq| checkpoint.seq < blocking_seq)
            });
            match eligible {
                Some(checkpoint) => checkpoint.clone(),
                None => return Ok(None),
            }
        }
    };
    if !verifier.checkpoint_is_valid(&chosen) {
        return Err(AuditError::Key(
            "the checkpoint's signature does not verify; not pruning",
        ));
    }

    let (removed_lifecycle, removed_saml) =
        count_by_category(&mut tx, start.seq, chosen.seq).await?;
    let carried = crate::config_history::to_carry(&mut tx, chosen.seq).await?;
    move_anchor_and_delete(&mut tx, &chosen).await?;
    let event = AuditEvent::AuditPruned {
        through_seq: chosen.seq,
        anchor_hash: hex::encode(&chosen.hash),
        removed_lifecycle,
        removed_saml,
    };
    crate::append(&mut tx, now, context, &Subject::Installation, &event).await?;
    // The configuration in force at the cut must outlive it (EV-7): a copy, same transaction.
    if let Some(snapshot) = carried {
        let event = crate::config_history::carry_event(&snapshot);
        crate::append(&mut tx, now, context, &Subject::Installation, &event).await?;
    }
    tx.commit().await?;

    Ok(Some(PruneOutcome {
        anchor: chosen,
        removed_lifecycle,
        removed_saml,
    }))
}

/// The lowest sequence number after `after` whose record is still within its retention.
async fn first_record_within_retention(
    tx: &mut Tx,
    after: i64,
    now: DateTime<Utc>,
    policy: RetentionPolicy,
) -> Result<Option<i64>, AuditError> {
    let row = sqlx::query(
        "SELECT MIN(seq) AS seq FROM audit_events WHERE seq > $1 AND ( \
           (substr(kind, 1, 5) = $2 AND occurred_at >= $3) \
           OR (substr(kind, 1, 5) <> $2 AND occurred_at >= $4))",
    )
    .bind(after)
    .bind(SAML_KIND_PREFIX)
    .bind(millis(policy.saml_cutoff(now)))
    .bind(millis(policy.lifecycle_cutoff(now)))
    .fetch_one(tx.connection())
    .await?;
    Ok(row.try_get::<Option<i64>, _>("seq")?)
}

async fn count_by_category(
    tx: &mut Tx,
    after: i64,
    through: i64,
) -> Result<(i64, i64), AuditError> {
    let row = sqlx::query(
        "SELECT \
           CAST(COALESCE(SUM(CASE WHEN substr(kind, 1, 5) = $3 THEN 0 ELSE 1 END), 0) \
             AS BIGINT) AS lifecycle, \
           CAST(COALESCE(SUM(CASE WHEN substr(kind, 1, 5) = $3 THEN 1 ELSE 0 END), 0) \
             AS BIGINT) AS saml \
         FROM audit_events WHERE seq > $1 AND seq <= $2",
    )
    .bind(after)
    .bind(through)
    .bind(SAML_KIND_PREFIX)
    .fetch_one(tx.connection())
    .await?;
    Ok((row.try_get("lifecycle")?, row.try_get("saml")?))
}

/// Moves the anchor first: the delete trigger allows removing only records at or below it.
async fn move_anchor_and_delete(tx: &mut Tx, checkpoint: &Checkpoint) -> Result<(), AuditError> {
    sqlx::query("UPDATE audit_anchor SET seq = $1, hash = $2 WHERE id = 1")
        .bind(checkpoint.seq)
        .bind(checkpoint.hash.clone())
        .execute(tx.connection())
        .await?;
    sqlx::query("DELETE FROM audit_events WHERE seq <= $1")
        .bind(checkpoint.seq)
        .execute(tx.connection())
        .await?;
    Ok(())
}
