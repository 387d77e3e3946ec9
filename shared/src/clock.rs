//! The injected clock.
//!
//! Validity windows, lockouts, timeouts and token lifetimes all take "now" from a [`Clock`]
//! value rather than from the system, so tests can pin time exactly and move it forward
//! (DESIGN.md, "Time is injected").

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock; what production code uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
///
/// Clones share the same instant, so a test can hand one clone to the code under test and keep
/// another to advance time.
#[derive(Clone, Debug)]
pub struct FixedClock {
    millis: Arc<AtomicI64>,
}

impl FixedClock {
    /// A clock fixed at `instant`, truncated to whole milliseconds (the store's resolution).
    pub fn at(instant: DateTime<Utc>) -> Self {
        Self {
            millis: Arc::new(AtomicI64::new(instant.timestamp_millis())),
        }
    }

    /// Moves the clock forward (or backward, for a negative duration).
    pub fn advance(&self, by: Duration) {
        self.millis
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        let millis = self.millis.load(Ordering::SeqCst);
        // An i64 of milliseconds that came from a valid DateTime always maps back; the epoch is
        // the harmless answer should a test advance the clock past chrono's range.
        Utc.timestamp_millis_opt(millis)
            .single()
            .unwrap_or_default()
    }
}

/// Converts a stored epoch-millisecond value back into a time.
///
/// Values outside chrono's range can only come from a corrupted row; they read as the epoch
/// rather than failing the whole query.
pub fn from_millis(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_advanced_and_clones_share_time() {
        let start = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        let clock = FixedClock::at(start);
        let handle = clock.clone();

        handle.advance(Duration::minutes(5));

        assert_eq!(clock.now(), start + Duration::minutes(5));
    }
}
