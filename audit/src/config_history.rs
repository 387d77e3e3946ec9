//! Configuration history (EV-7 "settings with change history", LG-1 configuration changes).
//!
//! Portner reads its configuration at start from a file and the environment; there is no
//! command that changes policy while it runs. So the history of the security-relevant settings
//! is a series of snapshots: [`record_if_changed`] writes a `CONFIGURATION_APPLIED` event with
//! every setting the control matrix cites when `portner serve` starts with values that differ
//! from the newest snapshot in the chain, and writes nothing when they are the same, so
//! restarts do not flood the trail. Being chain records, the snapshots are covered by the
//! checkpoints like every other event.
//!
//! [`PeriodHistory`] answers, for an export period, which values were in force at its start
//! (the newest snapshot before it), which changes happened during it and when, and what was in
//! force at its end. Where no snapshot exists before the start, it says so rather than guess.
//!
//! Known shortcomings, also in `docs/evidence.md`: a snapshot says what the starting server
//! applied, not when an operator edited the file; a server that keeps running after its file
//! was edited still applies the recorded values. With several replicas started with different
//! files, each start that differs from the newest snapshot records one, so the history then
//! alternates between them (which is itself a finding).
//!
//! Pruning removes old snapshots with their segment; it therefore carries the snapshot in
//! force at the new anchor past the cut as a `CONFIGURATION_CARRIED_FORWARD` record with the
//! original's sequence number and time ([`to_carry`], [`carry_event`]), and [`in_force`] falls
//! back on it when no applied snapshot remains before a period.

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use portner_shared::store::{Store, Tx, millis};
use serde::Serialize;
use sqlx::Row;

use crate::{AuditContext, AuditError, AuditEvent, Subject};

/// The kind code of a snapshot.
pub const KIND: &str = "CONFIGURATION_APPLIED";
/// The kind code of a snapshot that pruning carried past the new anchor.
pub const CARRIED_KIND: &str = "CONFIGURATION_CARRIED_FORWARD";
/// Most snapshots one period may hold; one is written per start with changed settings, so
/// this is far above any real period and keeps the export's memory bounded.
pub const MAX_SNAPSHOTS: i64 = 10_000;

/// One recorded snapshot of the settings.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Snapshot {
    /// The record's sequence number.
    pub seq: i64,
    /// When it was recorded, epoch milliseconds.
    pub occurred_at: i64,
    /// The record's hash, hex, so a reader with the chain can find it.
    pub hash: String,
    /// Every setting, key to value.
    pub settings: BTreeMap<String, String>,
    /// The keys that differ from the snapshot before it.
    pub changed: Vec<String>,
    /// For a snapshot whose record was pruned: the `CONFIGURATION_CARRIED_FORWARD` record that
    /// keeps it (`seq`, `occurred_at` and `changed` are then the original's; `hash` the copy's).
    pub carried_by: Option<i64>,
}

impl Snapshot {
    /// The values of `keys` as `key = value; …`, with "not recorded" for a key this snapshot
    /// lacks (one written by an older build).
    pub fn values(&self, keys: &[&str]) -> String {
        keys.iter()
            .map(|key| {
                let value = self
                    .settings
                    .get(*key)
                    .map_or("not recorded", String::as_str);
                format!("{key} = {value}")
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What [`record_if_changed`] did.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Applied {
    /// The settings differed from the newest snapshot (or none existed): this one was written.
    Recorded(Snapshot),
    /// The settings equal this newest snapshot; nothing was written.
    Unchanged(Snapshot),
}

/// Records a snapshot of `settings` unless the newest snapshot holds exactly the same values.
///
/// The chain head is locked before the newest snapshot is read, so two replicas starting at
/// once cannot both record the same change.
///
/// # Errors
///
/// The store failed, or the newest snapshot is unreadable ([`AuditError::Snapshot`]).
pub async fn record_if_changed(
    store: &Store,
    now: DateTime<Utc>,
    context: &AuditContext,
    settings: &[(String, String)],
) -> Result<Applied, AuditError> {
    let mut tx = store.begin().await?;
    let applied = record_if_changed_in(&mut tx, now, context, settings).await?;
    match applied {
        Applied::Recorded(_) => tx.commit().await?,
        Applied::Unchanged(_) => tx.rollback().await?,
    }
    Ok(applied)
}

/// [`record_if_changed`] on the caller's transaction, so that a change and the snapshot that
/// records it commit together (a policy changed in the console). The caller commits.
///
/// # Errors
///
/// As [`record_if_changed`].
pub async fn record_if_changed_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    context: &AuditContext,
    settings: &[(String, String)],
) -> Result<Applied, AuditError> {
    let current: BTreeMap<String, String> = settings.iter().cloned().collect();
    // A no-op write takes the head's row lock on PostgreSQL (SQLite's writer already holds
    // the database's), which `append` would take anyway: the read below then sees every
    // snapshot committed before it.
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
        .execute(tx.connection())
        .await?;
    let previous = in_force(tx, i64::MAX, i64::MAX).await?;
    let changed = changed_keys(
        previous.as_ref().map(|snapshot| &snapshot.settings),
        &current,
    );
    if let Some(previous) = previous
        && changed.is_empty()
    {
        return Ok(Applied::Unchanged(previous));
    }
    let event = AuditEvent::ConfigurationApplied {
        settings: current.clone(),
        changed: changed.clone(),
    };
    let record = crate::append(tx, now, context, &Subject::Installation, &event).await?;
    Ok(Applied::Recorded(Snapshot {
        seq: record.seq,
        occurred_at: record.occurred_at,
        hash: hex::encode(&record.hash),
        settings: current,
        changed,
        carried_by: None,
    }))
}

/// Keys whose value differs between `previous` and `current`, including keys only one has.
fn changed_keys(
    previous: Option<&BTreeMap<String, String>>,
    current: &BTreeMap<String, String>,
) -> Vec<String> {
    let Some(previous) = previous else {
        return current.keys().cloned().collect();
    };
    let mut keys: Vec<String> = current
        .iter()
        .filter(|(key, value)| previous.get(*key) != Some(*value))
        .map(|(key, _)| key.clone())
        .collect();
    keys.extend(
        previous
            .keys()
            .filter(|key| !current.contains_key(*key))
            .cloned(),
    );
    keys.sort();
    keys
}

/// The newest snapshot recorded before `before` (epoch ms) at or below sequence `max_seq`.
///
/// # Errors
///
/// The store failed or the snapshot is unreadable.
pub async fn newest(
    tx: &mut Tx,
    before: i64,
    max_seq: i64,
) -> Result<Option<Snapshot>, AuditError> {
    let row = sqlx::query(
        "SELECT seq, occurred_at, kind, data, hash FROM audit_events \
         WHERE kind = $1 AND seq <= $2 AND occurred_at < $3 ORDER BY seq DESC LIMIT 1",
    )
    .bind(KIND)
    .bind(max_seq)
    .bind(before)
    .fetch_optional(tx.connection())
    .await?;
    row.as_ref().map(snapshot_from_row).transpose()
}

/// The snapshots with sequence numbers in `first..=last`, oldest first: an export passes its
/// period's range, so these are exactly the snapshots in its `events.jsonl`.
///
/// # Errors
///
/// The store failed, a snapshot is unreadable, or the range holds more than
/// [`MAX_SNAPSHOTS`] ([`AuditError::Period`]).
pub async fn between(tx: &mut Tx, first: i64, last: i64) -> Result<Vec<Snapshot>, AuditError> {
    let rows = sqlx::query(
        "SELECT seq, occurred_at, kind, data, hash FROM audit_events \
         WHERE kind = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4",
    )
    .bind(KIND)
    .bind(first)
    .bind(last)
    .bind(MAX_SNAPSHOTS + 1)
    .fetch_all(tx.connection())
    .await?;
    if rows.len() as i64 > MAX_SNAPSHOTS {
        return Err(AuditError::Period(format!(
            "the period holds more than {MAX_SNAPSHOTS} configuration snapshots; export it in \
             parts"
        )));
    }
    rows.iter().map(snapshot_from_row).collect()
}

/// The `limit` newest applied snapshots, newest first (the consoles' change history).
///
/// # Errors
///
/// The store failed or a snapshot is unreadable.
pub async fn newest_applied(tx: &mut Tx, limit: i64) -> Result<Vec<Snapshot>, AuditError> {
    let rows = sqlx::query(
        "SELECT seq, occurred_at, kind, data, hash FROM audit_events \
         WHERE kind = $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(KIND)
    .bind(limit)
    .fetch_all(tx.connection())
    .await?;
    rows.iter().map(snapshot_from_row).collect()
}

/// The snapshot in force before `before` (epoch ms): the newest `CONFIGURATION_APPLIED` at or
/// below sequence `max_seq`, or, when pruning removed every such one, the newest carried-forward
/// copy of a snapshot applied before `before` (wherever the copy lies in the chain). Records
/// that remain are always newer than any carried one, whose original was pruned.
///
/// # Errors
///
/// The store failed or a snapshot is unreadable.
pub async fn in_force(
    tx: &mut Tx,
    before: i64,
    max_seq: i64,
) -> Result<Option<Snapshot>, AuditError> {
    if let Some(applied) = newest(tx, before, max_seq).await? {
        return Ok(Some(applied));
    }
    // Carried copies are written once per prune; bounded all the same.
    let rows = sqlx::query(
        "SELECT seq, occurred_at, kind, data, hash FROM audit_events \
         WHERE kind = $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(CARRIED_KIND)
    .bind(MAX_SNAPSHOTS)
    .fetch_all(tx.connection())
    .await?;
    for row in &rows {
        let snapshot = snapshot_from_row(row)?;
        if snapshot.occurred_at < before {
            return Ok(Some(snapshot));
        }
    }
    Ok(None)
}

/// Called by pruning inside its transaction, before the records up to `through` are removed:
/// the snapshot in force at `through` (an applied one, or a carried copy) if it is about to
/// be removed, so that the caller can carry it forward with [`carry_event`].
///
/// # Errors
///
/// The store failed or the snapshot is unreadable.
pub async fn to_carry(tx: &mut Tx, through: i64) -> Result<Option<Snapshot>, AuditError> {
    if let Some(applied) = newest(tx, i64::MAX, through).await? {
        return Ok(Some(applied));
    }
    let row = sqlx::query(
        "SELECT seq, occurred_at, kind, data, hash FROM audit_events \
         WHERE kind = $1 AND seq <= $2 ORDER BY seq DESC LIMIT 1",
    )
    .bind(CARRIED_KIND)
    .bind(through)
    .fetch_optional(tx.connection())
    .await?;
    row.as_ref().map(snapshot_from_row).transpose()
}

/// The event that carries `snapshot` past a prune.
pub fn carry_event(snapshot: &Snapshot) -> AuditEvent {
    AuditEvent::ConfigurationCarriedForward {
        settings: snapshot.settings.clone(),
        changed: snapshot.changed.clone(),
        applied_seq: snapshot.seq,
        applied_at: snapshot.occurred_at,
    }
}

fn snapshot_from_row(row: &sqlx::any::AnyRow) -> Result<Snapshot, AuditError> {
    let seq: i64 = row.try_get("seq")?;
    let occurred_at: i64 = row.try_get("occurred_at")?;
    let kind: String = row.try_get("kind")?;
    let data: String = row.try_get("data")?;
    let hash: Vec<u8> = row.try_get("hash")?;
    let fields = parse_data(&data).ok_or(AuditError::Snapshot { seq })?;
    let (seq, occurred_at, carried_by) = if kind == CARRIED_KIND {
        let original = fields.original.ok_or(AuditError::Snapshot { seq })?;
        (original.0, original.1, Some(seq))
    } else {
        (seq, occurred_at, None)
    };
    Ok(Snapshot {
        seq,
        occurred_at,
        hash: hex::encode(hash),
        settings: fields.settings,
        changed: fields.changed,
        carried_by,
    })
}

/// What a stored snapshot record holds.
#[derive(Debug)]
struct Fields {
    settings: BTreeMap<String, String>,
    changed: Vec<String>,
    /// `(applied_seq, applied_at)` of a carried copy.
    original: Option<(i64, i64)>,
}

/// The fields of a stored record's `data` (as `append` writes it).
fn parse_data(data: &str) -> Option<Fields> {
    let value: serde_json::Value = serde_json::from_str(data).ok()?;
    let fields = value.get("fields")?;
    let settings = fields
        .get("settings")?
        .as_object()?
        .iter()
        .map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect::<Option<BTreeMap<_, _>>>()?;
    let changed = fields
        .get("changed")?
        .as_array()?
        .iter()
        .map(|key| key.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()?;
    let original = fields
        .get("applied_seq")
        .and_then(serde_json::Value::as_i64)
        .zip(fields.get("applied_at").and_then(serde_json::Value::as_i64));
    Some(Fields {
        settings,
        changed,
        original,
    })
}

/// The snapshots that concern an export period.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PeriodHistory {
    /// Start of the period, inclusive.
    pub from: DateTime<Utc>,
    /// End of the period, exclusive.
    pub to: DateTime<Utc>,
    /// The newest snapshot before the period: the values in force at its start.
    pub at_start: Option<Snapshot>,
    /// The snapshots recorded during the period, oldest first.
    pub during: Vec<Snapshot>,
}

/// One change of a control's values during the period.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Change {
    /// When the new values were applied, epoch milliseconds.
    pub occurred_at: i64,
    /// The snapshot's sequence number.
    pub seq: i64,
    /// The values before, `None` when none were recorded.
    pub before: Option<String>,
    /// The values after.
    pub after: String,
}

impl PeriodHistory {
    /// Reads the snapshots for the period `[from, to)` whose events are the sequence numbers
    /// `first..=last` (`last < first` when it holds none): the newest snapshot before both
    /// the period's start and its first event, and those among its events.
    ///
    /// # Errors
    ///
    /// As [`in_force`] and [`between`].
    pub async fn read(
        tx: &mut Tx,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        first: i64,
        last: i64,
    ) -> Result<Self, AuditError> {
        let at_start = in_force(tx, millis(from), first - 1).await?;
        let during = between(tx, first, last).await?;
        Ok(Self {
            from,
            to,
            at_start,
            during,
        })
    }

    /// The values of `keys` in force at the period's start, if recorded.
    pub fn value_at_start(&self, keys: &[&str]) -> Option<String> {
        self.at_start.as_ref().map(|snapshot| snapshot.values(keys))
    }

    /// Each snapshot in the period that changed the values of `keys`, with before and after.
    pub fn changes(&self, keys: &[&str]) -> Vec<Change> {
        let mut before = self.value_at_start(keys);
        let mut changes = Vec::new();
        for snapshot in &self.during {
            let after = snapshot.values(keys);
            if before.as_ref() != Some(&after) {
                changes.push(Change {
                    occurred_at: snapshot.occurred_at,
                    seq: snapshot.seq,
                    before: before.clone(),
                    after: after.clone(),
                });
                before = Some(after);
            }
        }
        changes
    }

    /// The values of `keys` in force at the period's end, if recorded.
    pub fn value_at_end(&self, keys: &[&str]) -> Option<String> {
        self.during
            .last()
            .or(self.at_start.as_ref())
            .map(|snapshot| snapshot.values(keys))
    }

    /// The snapshots in force during the period: the one at its start, then those within it.
    pub fn in_force(&self) -> impl Iterator<Item = (&'static str, &Snapshot)> {
        self.at_start
            .iter()
            .map(|snapshot| ("at_period_start", snapshot))
            .chain(
                self.during
                    .iter()
                    .map(|snapshot| ("applied_in_period", snapshot)),
            )
    }
}

/// An instant as a date when it is midnight UTC, otherwise with the time: how the matrix
/// names the period's bounds ("not recorded before 2026-01-01").
pub fn instant_text(instant: DateTime<Utc>) -> String {
    if instant.num_seconds_from_midnight() == 0 && instant.nanosecond() == 0 {
        instant.format("%Y-%m-%d").to_string()
    } else {
        instant.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn snapshot(seq: i64, pairs: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            seq,
            occurred_at: seq * 1000,
            hash: String::new(),
            settings: map(pairs),
            changed: Vec::new(),
            carried_by: None,
        }
    }

    #[test]
    fn changed_keys_include_new_changed_and_removed_keys() {
        let before = map(&[("a", "1"), ("b", "2"), ("gone", "x")]);
        let after = map(&[("a", "1"), ("b", "3"), ("new", "y")]);
        assert_eq!(changed_keys(Some(&before), &after), ["b", "gone", "new"]);
        assert!(changed_keys(Some(&after), &after).is_empty());
        assert_eq!(changed_keys(None, &after), ["a", "b", "new"]);
    }

    #[test]
    fn a_history_reports_only_changes_of_the_cited_keys() {
        let history = PeriodHistory {
            from: DateTime::UNIX_EPOCH,
            to: DateTime::UNIX_EPOCH,
            at_start: Some(snapshot(1, &[("a", "1"), ("b", "1")])),
            during: vec![
                snapshot(5, &[("a", "1"), ("b", "2")]),
                snapshot(9, &[("a", "3"), ("b", "2")]),
            ],
        };
        let changes = history.changes(&["a"]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].seq, 9);
        assert_eq!(changes[0].before.as_deref(), Some("a = 1"));
        assert_eq!(changes[0].after, "a = 3");
        assert_eq!(history.value_at_end(&["b"]).as_deref(), Some("b = 2"));
        assert_eq!(
            history.value_at_start(&["c"]).as_deref(),
            Some("c = not recorded")
        );
    }

    #[test]
    fn without_an_earlier_snapshot_the_start_is_unknown() {
        let history = PeriodHistory {
            from: DateTime::UNIX_EPOCH,
            to: DateTime::UNIX_EPOCH,
            at_start: None,
            during: vec![snapshot(5, &[("a", "1")])],
        };
        assert_eq!(history.value_at_start(&["a"]), None);
        let changes = history.changes(&["a"]);
        assert_eq!(changes[0].before, None);
        assert_eq!(history.value_at_end(&["a"]).as_deref(), Some("a = 1"));
    }

    #[test]
    fn stored_data_is_read_back() {
        let data = concat!(
            r#"{"fields":{"event":"configuration_applied","settings":{"a":"1"},"#,
            r#""changed":["a"]},"source":null,"correlation_id":null}"#
        );
        let fields = parse_data(data).unwrap();
        assert_eq!(fields.settings, map(&[("a", "1")]));
        assert_eq!(fields.changed, ["a"]);
        assert_eq!(fields.original, None);
        assert!(parse_data(r#"{"fields":{"settings":{"a":1},"changed":[]}}"#).is_none());
    }
}
