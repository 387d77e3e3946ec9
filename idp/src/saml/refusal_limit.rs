//! A per-source allowance for audited refusals of untrusted SAML messages (issue 4 §7).
//!
//! Every refused SAML message is an audit event, and appends to the audit chain are
//! serialised; so a client sending junk to `/saml/sso` or `/saml/slo` could slow every other
//! audited change. Refusals of messages that never proved where they came from (no registered
//! issuer, no valid signature, no logout handle) are therefore audited one by one only up to
//! `audit_saml_refusals_per_minute` per source address in a one-minute window, as the sign-in
//! throttle counts failures (`crate::signin::throttle`). Beyond that the source still gets
//! exactly the same refusal, but the event is only counted, by reason code.
//!
//! No count is dropped silently. A window's count leaves this map only to be written as one
//! `SAML_REFUSALS_SUPPRESSED` event: at the source's next audited refusal after the window
//! ended (in the same transaction as that refusal), or by the minute sweep of `portner serve`
//! ([`write_closed`]), or when the server stops ([`RefusalLimit::take_all`]). If writing
//! fails, the counts are put back ([`RefusalLimit::restore`]) and written at the next chance.
//! When the map is full, new sources are not tracked and so are audited one by one: the limit
//! fails open towards the audit trail, never towards losing a count. Only a crash loses the
//! counts of the windows still open (at most the last two minutes of suppressed junk).
//!
//! Refusals of requests from a registered SP with a valid signature never pass through here;
//! they are always audited. Counts live in memory per replica, like the sign-in throttle: with
//! several replicas a source gets the allowance on each.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::store::Store;

/// At most this many sources are tracked at once; further sources are audited one by one.
const MAX_TRACKED_SOURCES: usize = 100_000;
/// The length of a source's window.
const WINDOW: Duration = Duration::minutes(1);

/// The default allowance: refusals audited one by one per source and minute.
pub const DEFAULT_PER_MINUTE: u32 = 20;

/// One source's current window.
#[derive(Debug)]
struct Window {
    start: DateTime<Utc>,
    audited: u32,
    suppressed: u64,
    reasons: BTreeMap<&'static str, u64>,
}

impl Window {
    fn new(start: DateTime<Utc>) -> Self {
        Self {
            start,
            audited: 1,
            suppressed: 0,
            reasons: BTreeMap::new(),
        }
    }

    fn ended(&self, now: DateTime<Utc>) -> bool {
        now - self.start >= WINDOW
    }

    /// What this window suppressed, if anything.
    fn summary(self, source: IpAddr) -> Option<Suppressed> {
        (self.suppressed > 0).then_some(Suppressed {
            source,
            window_start: self.start,
            count: self.suppressed,
            reasons: self.reasons,
        })
    }
}

/// Refusals from one source in one window that were counted, not audited one by one.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Suppressed {
    /// The source address.
    pub source: IpAddr,
    /// When its window began.
    pub window_start: DateTime<Utc>,
    /// How many refusals were suppressed.
    pub count: u64,
    /// The count by reason code.
    pub reasons: BTreeMap<&'static str, u64>,
}

impl Suppressed {
    /// The audit event that records it.
    pub fn event(&self) -> AuditEvent {
        AuditEvent::SamlRefusalsSuppressed {
            window_start: self.window_start.to_rfc3339_opts(SecondsFormat::Secs, true),
            suppressed: self.count,
            reasons: self
                .reasons
                .iter()
                .map(|(reason, count)| ((*reason).to_owned(), *count))
                .collect(),
        }
    }

    /// The event's context: Portner itself, on behalf of the source address.
    pub fn context(&self) -> AuditContext {
        AuditContext {
            source: Some(self.source),
            ..AuditContext::system()
        }
    }
}

/// What to do with one refusal.
#[derive(Debug, Eq, PartialEq)]
pub enum Admission {
    /// Audit it; first write `closed`, the summary of the source's previous window, if any.
    Audit {
        /// The previous window's suppressed refusals, to write in the same transaction.
        closed: Option<Suppressed>,
    },
    /// Refuse it without an event of its own; it has been counted.
    Suppress,
}

#[derive(Debug, Default)]
struct Windows {
    open: HashMap<IpAddr, Window>,
    /// Summaries whose writing failed, written by the next sweep.
    unwritten: Vec<Suppressed>,
}

/// The per-source allowance; cheap to clone (the counts are shared).
#[derive(Clone, Debug)]
pub struct RefusalLimit {
    per_minute: u32,
    windows: Arc<Mutex<Windows>>,
}

impl Default for RefusalLimit {
    fn default() -> Self {
        Self::new(DEFAULT_PER_MINUTE)
    }
}

impl RefusalLimit {
    /// An allowance of `per_minute` audited refusals per source and minute.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Arc::new(Mutex::new(Windows::default())),
        }
    }

    /// Counts one untrusted refusal from `source` for `reason` and says whether to audit it.
    /// Without a known source, or if the lock is poisoned, it is audited.
    pub fn admit(
        &self,
        source: Option<IpAddr>,
        reason: &'static str,
        now: DateTime<Utc>,
    ) -> Admission {
        let audit = Admission::Audit { closed: None };
        let Some(source) = source else { return audit };
        let Ok(mut windows) = self.windows.lock() else {
            return audit;
        };
        let tracked = windows.open.len();
        match windows.open.get_mut(&source) {
            Some(window) if window.ended(now) => {
                let ended = std::mem::replace(window, Window::new(now));
                Admission::Audit {
                    closed: ended.summary(source),
                }
            }
            Some(window) if window.audited < self.per_minute => {
                window.audited += 1;
                audit
            }
            Some(window) => {
                window.suppressed = window.suppressed.saturating_add(1);
                let count = window.reasons.entry(reason).or_insert(0);
                *count = count.saturating_add(1);
                Admission::Suppress
            }
            None if tracked >= MAX_TRACKED_SOURCES => audit,
            None => {
                windows.open.insert(source, Window::new(now));
                audit
            }
        }
    }

    /// Removes the windows that have ended and returns what they suppressed, with any
    /// summaries put back after a failed write.
    pub fn take_closed(&self, now: DateTime<Utc>) -> Vec<Suppressed> {
        self.take(|window| window.ended(now))
    }

    /// Removes every window, ended or not, and returns what they suppressed (at shutdown).
    pub fn take_all(&self) -> Vec<Suppressed> {
        self.take(|_| true)
    }

    fn take(&self, due: impl Fn(&Window) -> bool) -> Vec<Suppressed> {
        let Ok(mut windows) = self.windows.lock() else {
            return Vec::new();
        };
        let mut taken = std::mem::take(&mut windows.unwritten);
        let sources: Vec<IpAddr> = windows
            .open
            .iter()
            .filter(|(_, window)| due(window))
            .map(|(source, _)| *source)
            .collect();
        for source in sources {
            if let Some(summary) = windows
                .open
                .remove(&source)
                .and_then(|window| window.summary(source))
            {
                taken.push(summary);
            }
        }
        taken
    }

    /// Puts back summaries that could not be written, for the next sweep.
    pub fn restore(&self, summaries: impl IntoIterator<Item = Suppressed>) {
        if let Ok(mut windows) = self.windows.lock() {
            windows.unwritten.extend(summaries);
        }
    }
}

/// Writes the summaries of ended windows in one transaction; on failure they are put back.
/// `portner serve` runs it every minute and, with [`RefusalLimit::take_all`], at shutdown.
/// Returns how many summaries were written.
///
/// # Errors
///
/// The store or the audit trail failed; nothing was lost.
pub async fn write_closed(
    store: &Store,
    limit: &RefusalLimit,
    summaries: Vec<Suppressed>,
    now: DateTime<Utc>,
) -> Result<usize, super::sso::SsoError> {
    if summaries.is_empty() {
        return Ok(0);
    }
    let written = write(store, &summaries, now).await;
    match written {
        Ok(()) => Ok(summaries.len()),
        Err(error) => {
            limit.restore(summaries);
            Err(error)
        }
    }
}

async fn write(
    store: &Store,
    summaries: &[Suppressed],
    now: DateTime<Utc>,
) -> Result<(), super::sso::SsoError> {
    let mut tx = store.begin().await?;
    for summary in summaries {
        let (context, event) = (summary.context(), summary.event());
        portner_audit::append(&mut tx, now, &context, &Subject::Installation, &event).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]

    use super::*;

    #[test]
    fn a_source_over_its_allowance_is_counted_and_summarised_once_its_window_ends() {
        let limit = RefusalLimit::new(2);
        let source = Some(IpAddr::from([192, 0, 2, 7]));
        let other = Some(IpAddr::from([192, 0, 2, 8]));
        let now = Utc::now();
        let audit = || Admission::Audit { closed: None };

        assert_eq!(limit.admit(source, "MALFORMED", now), audit());
        assert_eq!(limit.admit(source, "MALFORMED", now), audit());
        assert_eq!(limit.admit(source, "MALFORMED", now), Admission::Suppress);
        assert_eq!(limit.admit(source, "SIG_INVALID", now), Admission::Suppress);
        assert_eq!(limit.admit(source, "MALFORMED", now), Admission::Suppress);
        assert_eq!(limit.admit(other, "MALFORMED", now), audit());
        assert_eq!(limit.admit(None, "MALFORMED", now), audit());
        assert!(limit.take_closed(now + Duration::seconds(59)).is_empty());

        // The source's next refusal after the window carries the summary along.
        let later = now + Duration::seconds(61);
        let Admission::Audit {
            closed: Some(summary),
        } = limit.admit(source, "MALFORMED", later)
        else {
            panic!("the next refusal did not carry the summary");
        };
        assert_eq!(summary.count, 3);
        assert_eq!(summary.window_start, now);
        let reasons: Vec<_> = summary.reasons.into_iter().collect();
        assert_eq!(reasons, vec![("MALFORMED", 2), ("SIG_INVALID", 1)]);
        // The other source suppressed nothing, so its ended window yields no summary.
        assert!(limit.take_closed(later).is_empty());
    }

    #[test]
    fn the_sweep_takes_ended_windows_and_a_failed_write_is_taken_again() {
        let limit = RefusalLimit::new(1);
        let source = Some(IpAddr::from([192, 0, 2, 9]));
        let now = Utc::now();
        limit.admit(source, "MALFORMED", now);
        limit.admit(source, "MALFORMED", now);

        let taken = limit.take_closed(now + Duration::minutes(1));
        assert_eq!(taken.len(), 1);
        limit.restore(taken.clone());
        assert_eq!(limit.take_closed(now), taken);
        assert!(limit.take_all().is_empty());

        // A fresh window starts with a full allowance again.
        assert_eq!(
            limit.admit(source, "MALFORMED", now + Duration::minutes(1)),
            Admission::Audit { closed: None }
        );
    }

    #[test]
    fn windows_still_open_are_taken_at_shutdown() {
        let limit = RefusalLimit::new(1);
        let source = Some(IpAddr::from([192, 0, 2, 10]));
        let now = Utc::now();
        limit.admit(source, "TOO_LARGE", now);
        limit.admit(source, "TOO_LARGE", now);

        let taken = limit.take_all();

        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].count, 1);
    }
}
