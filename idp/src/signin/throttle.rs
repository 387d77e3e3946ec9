//! Per-source throttling of failed sign-ins (LK-2, ASVS 6.1.1).
//!
//! Account lockout stops guessing against one account; this stops one address from guessing
//! across many. Counts live in memory per replica: an attacker spreading over replicas gets
//! at most replicas × the limit, which is still bounded. Known shortcoming: the map is not
//! shared between replicas; moving it to the store would cost a write per failed attempt.
//! Requests refused by the throttle are not audited one by one (a flood would otherwise
//! serialise on the audit chain); the failures that caused the throttling are.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// At most this many addresses are tracked; when full, windows that have ended are dropped,
/// and if none have, the map is cleared (failing open on memory, never on the account lock).
const MAX_TRACKED_SOURCES: usize = 100_000;

/// Per source: when its current window began and the failures counted in it.
type Windows = HashMap<IpAddr, (DateTime<Utc>, u32)>;

/// Failed attempts per source address within a one-minute window.
#[derive(Clone, Debug)]
pub struct Throttle {
    limit: u32,
    windows: Arc<Mutex<Windows>>,
}

impl Throttle {
    /// A throttle allowing `limit` failures per source per minute.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Whether `source` has used up its failures for the current minute.
    pub fn is_throttled(&self, source: Option<IpAddr>, now: DateTime<Utc>) -> bool {
        let Some(source) = source else { return false };
        let Ok(windows) = self.windows.lock() else {
            return false;
        };
        windows.get(&source).is_some_and(|(start, count)| {
            now - *start < Duration::minutes(1) && *count >= self.limit
        })
    }

    /// Counts one failure from `source`.
    pub fn record_failure(&self, source: Option<IpAddr>, now: DateTime<Utc>) {
        let Some(source) = source else { return };
        let Ok(mut windows) = self.windows.lock() else {
            return;
        };
        if windows.len() >= MAX_TRACKED_SOURCES {
            windows.retain(|_, (start, _)| now - *start < Duration::minutes(1));
            if windows.len() >= MAX_TRACKED_SOURCES {
                windows.clear();
            }
        }
        let entry = windows.entry(source).or_insert((now, 0));
        if now - entry.0 >= Duration::minutes(1) {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_slowed_after_its_limit_until_the_minute_passes() {
        let throttle = Throttle::new(3);
        let source = Some(IpAddr::from([192, 0, 2, 7]));
        let other = Some(IpAddr::from([192, 0, 2, 8]));
        let now = Utc::now();

        for _ in 0..3 {
            assert!(!throttle.is_throttled(source, now));
            throttle.record_failure(source, now);
        }

        assert!(throttle.is_throttled(source, now));
        assert!(!throttle.is_throttled(other, now));
        assert!(!throttle.is_throttled(source, now + Duration::seconds(61)));
    }
}
