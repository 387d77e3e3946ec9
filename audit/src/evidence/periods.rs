//! The calendar months an auditor can export: those within the retention period that hold
//! events, with their counts (issue 7, item 6).
//!
//! A month is counted from its first day (or from the first whole day within retention, for
//! the month the retention limit falls in) to the first day of the next month, so each line
//! is a period [`super::export`] accepts as it stands. Counts use the index on
//! `occurred_at` (migration 0003), one range count per month: about fourteen at the default
//! retention of 396 days.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use portner_shared::store::{Store, millis};
use sqlx::Row;

use crate::AuditError;
use crate::retention::RetentionPolicy;
use crate::verify::anchor;

/// One exportable month and how many events it holds.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MonthCount {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Start of the period, inclusive: the first of the month, or the first whole day within
    /// retention.
    pub from: DateTime<Utc>,
    /// End of the period, exclusive: the first of the next month.
    pub to: DateTime<Utc>,
    /// Events in the period.
    pub events: i64,
}

/// The months from the first whole day within retention up to the month of `now` that hold
/// events, oldest first. Records at or before the chain's anchor (pruned) are not counted.
///
/// # Errors
///
/// The store failed.
pub async fn months(
    store: &Store,
    retention: RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<MonthCount>, AuditError> {
    let first_day = first_whole_day(retention.lifecycle_cutoff(now));
    let mut tx = store.read().await?;
    let start = anchor(&mut tx).await?;
    let mut found = Vec::new();
    let mut month_start = first_of_month(first_day);
    while month_start <= now {
        let Some(next) = month_start.checked_add_months(Months::new(1)) else {
            break;
        };
        let from = month_start.max(first_day);
        let row = sqlx::query(
            "SELECT COUNT(*) AS events FROM audit_events \
             WHERE seq > $1 AND occurred_at >= $2 AND occurred_at < $3",
        )
        .bind(start.seq)
        .bind(millis(from))
        .bind(millis(next))
        .fetch_one(tx.connection())
        .await?;
        let events: i64 = row.try_get("events")?;
        if events > 0 {
            found.push(MonthCount {
                month: month_start.format("%Y-%m").to_string(),
                from,
                to: next,
                events,
            });
        }
        month_start = next;
    }
    tx.rollback().await?;
    Ok(found)
}

/// The first midnight (UTC) at or after `instant`: the earliest date an export may start on.
pub fn first_whole_day(instant: DateTime<Utc>) -> DateTime<Utc> {
    let day = instant.date_naive();
    let start = midnight(day);
    if start >= instant {
        return start;
    }
    day.checked_add_days(Days::new(1)).map_or(start, midnight)
}

fn first_of_month(instant: DateTime<Utc>) -> DateTime<Utc> {
    let day = instant.date_naive();
    NaiveDate::from_ymd_opt(day.year(), day.month(), 1).map_or(instant, midnight)
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_time(chrono::NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_whole_day_rounds_up_to_midnight() {
        let noon = Utc.with_ymd_and_hms(2025, 11, 2, 12, 0, 0).unwrap();
        let next = Utc.with_ymd_and_hms(2025, 11, 3, 0, 0, 0).unwrap();
        assert_eq!(first_whole_day(noon), next);
        assert_eq!(first_whole_day(next), next);
        assert_eq!(
            first_of_month(noon),
            Utc.with_ymd_and_hms(2025, 11, 1, 0, 0, 0).unwrap()
        );
    }
}
