//! The reconcile schedule inside `portner serve` (issue 6, item 4: "on a schedule (default
//! nightly) and on demand"; mitid-erhverv-idm-api.md §7.4).
//!
//! Each round of the server's worker asks which sync organisations were last reconciled
//! longer ago than the configured interval (`sync_reconcile_interval_hours`, default 24) and
//! reconciles those, under the worker's own election so that one replica does it. The time of
//! the last reconcile is the one the store records for every reconcile, also those run with
//! `portner sync run --reconcile`, so a restart neither repeats nor skips one. A reconcile that
//! fails (the API is down, a certificate expired) is logged and tried again after
//! [`RETRY_AFTER`], not every round: a full read is the most expensive call the sync makes.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use portner_shared::domain::SyncOrganisation;

use super::{Worker, WorkerError};
use crate::reconcile;

/// How long a failed scheduled reconcile waits before the next try.
pub const RETRY_AFTER: Duration = Duration::hours(1);

impl Worker {
    /// Reconciles every sync organisation whose last reconcile is older than `interval`, or
    /// that was never reconciled; returns how many reconciles succeeded.
    ///
    /// # Errors
    ///
    /// [`WorkerError::Busy`] if another replica holds the worker lock; store failures. A
    /// failed reconcile of one organisation is logged, not returned, so the others still run.
    pub async fn reconcile_due(self: &Arc<Self>, interval: Duration) -> Result<u64, WorkerError> {
        let lease = self.elect().await?;
        let result = self.reconcile_due_organisations(interval).await;
        lease.release().await?;
        result
    }

    async fn reconcile_due_organisations(&self, interval: Duration) -> Result<u64, WorkerError> {
        let now = self.clock.now();
        let due = self.due_organisations(interval, now).await?;

        let mut succeeded = 0;
        for settings in due {
            self.note_attempt(&settings, now);
            let outcome = match self.client(&settings) {
                Ok(client) => reconcile::reconcile(&self.store, &client, &settings, now)
                    .await
                    .map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            };
            match outcome {
                Ok(report) => {
                    succeeded += 1;
                    tracing::info!(
                        org = %settings.org,
                        findings = report.findings.len(),
                        repairs = report.repairs.len(),
                        "scheduled reconcile done"
                    );
                }
                Err(error) => {
                    tracing::warn!(org = %settings.org, %error, "scheduled reconcile failed");
                }
            }
        }
        Ok(succeeded)
    }

    /// The organisations whose reconcile is due and not tried within [`RETRY_AFTER`].
    async fn due_organisations(
        &self,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<SyncOrganisation>, WorkerError> {
        let mut read = self.store.read().await?;
        let mut due = Vec::new();
        for settings in read.sync_organisations().await? {
            let last = read.last_sync_run(&settings.org, "reconcile").await?;
            let stale = last.is_none_or(|(at, _)| now - at >= interval);
            if stale && !self.tried_recently(&settings, now) {
                due.push(settings);
            }
        }
        read.rollback().await?;
        Ok(due)
    }

    fn tried_recently(&self, settings: &SyncOrganisation, now: DateTime<Utc>) -> bool {
        let attempts = self
            .reconcile_attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        attempts
            .get(&settings.org)
            .is_some_and(|at| now - *at < RETRY_AFTER)
    }

    fn note_attempt(&self, settings: &SyncOrganisation, now: DateTime<Utc>) {
        self.reconcile_attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(settings.org.clone(), now);
    }
}
