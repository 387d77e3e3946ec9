//! The outbox worker (mitid-erhverv-idm-api.md §7.2, §7.3, §7.4).
//!
//! It claims due actions, runs them with bounded concurrency and a rate limit, and settles
//! each in one transaction with its audit event and link change. Every action re-reads the
//! desired state when it runs, so stale or cancelled intents end without a call. Transient
//! failures are retried with exponential backoff and full jitter, and after the attempt limit
//! the action is `failed` with its reason. Only one worker runs at a time: a PostgreSQL
//! advisory lock elects it across replicas, a process-wide mutex on SQLite.
//!
//! Crash safety: a crash between the remote success and the local commit leaves the row
//! `running`; the next worker returns it to `pending` marked `recovered`, and a recovered
//! CREATE first looks for the identity it may have made (CPR, then e-mail) before creating.
//! A 409 on create runs the re-link procedure in any case.
//!
//! Not built yet (written down here, where it would live): the circuit breaker (pause after 5
//! consecutive transient failures) and the quiet window of §7.3.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portner_audit::{AuditContext, AuditEvent, Subject};
use portner_shared::Clock;
use portner_shared::domain::{
    Cvr, Organisation, OutboxState, RightScope, SyncAction, SyncLink, SyncMode, SyncOrganisation,
    User, UserId,
};
use portner_shared::store::{ClaimedAction, Store, StoreError};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::api::{
    AuthenticatorType, EmployeeStatus, EmployeeSummary, RequestCredentials, RoleChange, Scope,
};
use crate::client::{ApiError, ClientConfig, ClientIdentity, IdmClient};
use crate::desired::{self, Invalid};
use crate::sim::faults::SeededRng;

pub mod schedule;

/// Tuning of the worker (§7.3 defaults: base 30 s, factor 2, cap 1 h, 10 attempts).
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Actions in flight at once.
    pub concurrency: usize,
    /// Actions started per second; 0 = unlimited.
    pub rate_per_second: u32,
    /// Attempts before `failed`.
    pub max_attempts: i64,
    /// First backoff ceiling.
    pub backoff_base: Duration,
    /// Largest backoff.
    pub backoff_cap: Duration,
    /// Wait for scheduled retries instead of returning when only future work is left.
    pub wait_for_retries: bool,
    /// Seed for the jitter.
    pub seed: u64,
    /// Connect timeout of the API client.
    pub connect_timeout: Duration,
    /// Read timeout of the API client.
    pub read_timeout: Duration,
    /// Password of PKCS#12 client certificates (configuration key `sync_pkcs12_password`).
    pub pkcs12_password: Option<portner_shared::config::Secret>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 1,
            rate_per_second: 0,
            max_attempts: 10,
            backoff_base: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(3600),
            wait_for_retries: false,
            seed: 0x5eed,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(180),
            pkcs12_password: None,
        }
    }
}

/// Why a drain stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An audit event could not be written.
    #[error(transparent)]
    Audit(#[from] portner_audit::AuditError),
    /// A worker task ended abnormally.
    #[error("worker task ended abnormally: {0}")]
    Task(String),
    /// Another replica holds the worker lock.
    #[error("another replica is running the sync worker")]
    Busy,
    /// The API refused the certificate after a token refresh (§2.5): the worker stops.
    #[error("MitID Erhverv refused the organisation certificate of {0} (401 after refresh)")]
    Unauthorized(Cvr),
    /// An organisation's client could not be built.
    #[error("sync settings of {org}: {problem}")]
    Settings {
        /// The organisation.
        org: Cvr,
        /// What is wrong.
        problem: String,
    },
}

/// Counts of one drain.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DrainReport {
    /// Actions that ended `succeeded` (including stale ones dropped).
    pub succeeded: u64,
    /// Transient failures scheduled for retry.
    pub retried: u64,
    /// Actions that ended `failed`.
    pub failed: u64,
    /// Crashed claims returned to the queue at start.
    pub recovered: u64,
}

/// Backoff with full jitter (§7.3): a delay drawn uniformly from
/// `[0, min(cap, base * 2^(attempt - 1))]`.
pub fn backoff(attempt: i64, base: Duration, cap: Duration, rng: &mut SeededRng) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let ceiling = base.saturating_mul(2u32.saturating_pow(exponent)).min(cap);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.next_u64() % ceiling_ms.saturating_add(1))
}

/// Serialises workers inside one SQLite process (§7.2: "in-process on SQLite").
static SQLITE_WORKER: Mutex<()> = Mutex::const_new(());

/// The worker's election while it is held: the process mutex and, on PostgreSQL, the open
/// transaction whose advisory lock keeps other replicas out.
struct Lease {
    _process: tokio::sync::MutexGuard<'static, ()>,
    postgres: Option<portner_shared::store::Tx>,
}

impl Lease {
    async fn release(self) -> Result<(), StoreError> {
        if let Some(lock_tx) = self.postgres {
            lock_tx.rollback().await?;
        }
        Ok(())
    }
}

/// What one action did, ready to be settled.
#[derive(Debug)]
enum Outcome {
    Done {
        outcome: String,
        employee_uuid: Option<String>,
        effects: Vec<Effect>,
    },
    Retry(ApiError),
    Failed {
        code: &'static str,
        reason: String,
        status: Option<u16>,
    },
    Unauthorized,
}

#[derive(Debug)]
enum Effect {
    Link(SyncLink),
    RemoteStatus(UserId, String),
    Unlink(UserId),
    Adopted(UserId, String, &'static str),
    Finding {
        kind: &'static str,
        user: UserId,
        employee_uuid: String,
        detail: String,
    },
}

fn done(outcome: &str, uuid: Option<&str>, effects: Vec<Effect>) -> Outcome {
    Outcome::Done {
        outcome: outcome.to_owned(),
        employee_uuid: uuid.map(str::to_owned),
        effects,
    }
}

fn from_api(error: ApiError) -> Outcome {
    match error {
        ApiError::Unauthorized => Outcome::Unauthorized,
        error if error.is_transient() => Outcome::Retry(error),
        ApiError::Permanent { status, detail } => Outcome::Failed {
            code: "IDM_PERMANENT",
            reason: detail,
            status: Some(status),
        },
        other => Outcome::Failed {
            code: other.code(),
            reason: other.to_string(),
            status: None,
        },
    }
}

/// Everything an action needs to know about its user, read at execution time.
struct Context {
    user: Option<User>,
    org: Option<Organisation>,
    settings: Option<SyncOrganisation>,
    link: Option<SyncLink>,
    cpr: Option<portner_shared::domain::Cpr>,
    /// The user's NemID RID, read for a creation.
    rid: Option<portner_shared::domain::Rid>,
    desired_rights: Vec<(String, Scope)>,
    /// Whether the user is in the organisation's sync scope group, or there is none.
    in_scope: bool,
}

/// The outbox worker.
pub struct Worker {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: WorkerSettings,
    clients: std::sync::Mutex<HashMap<Cvr, Arc<IdmClient>>>,
    /// Organisation and sync settings, read once per drain rather than once per action.
    organisations: std::sync::Mutex<HashMap<Cvr, OrganisationContext>>,
    rng: std::sync::Mutex<SeededRng>,
    /// When each organisation's scheduled reconcile was last tried ([`schedule`]).
    reconcile_attempts: std::sync::Mutex<HashMap<Cvr, DateTime<Utc>>>,
}

type OrganisationContext = (Option<Organisation>, Option<SyncOrganisation>);

impl std::fmt::Debug for Worker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Worker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker over `store`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: WorkerSettings) -> Self {
        let rng = SeededRng::new(settings.seed);
        Self {
            store,
            clock,
            settings,
            clients: std::sync::Mutex::new(HashMap::new()),
            organisations: std::sync::Mutex::new(HashMap::new()),
            rng: std::sync::Mutex::new(rng),
            reconcile_attempts: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The API client of an organisation, built from its settings on first use.
    ///
    /// # Errors
    ///
    /// [`WorkerError::Settings`] if the certificate or roots cannot be read.
    pub fn client(&self, settings: &SyncOrganisation) -> Result<Arc<IdmClient>, WorkerError> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = clients.get(&settings.org) {
            return Ok(Arc::clone(client));
        }
        let problem = |problem: String| WorkerError::Settings {
            org: settings.org.clone(),
            problem,
        };
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|error| problem(format!("{}: {error}", path.display())))
        };
        let identity = match &settings.client_key_path {
            Some(key) => ClientIdentity::Pem {
                cert: read(&settings.client_cert_path)?,
                key: read(key)?,
            },
            None => ClientIdentity::Pkcs12 {
                der: read(&settings.client_cert_path)?,
                // The password comes from the configuration's secrets, never the database.
                password: self
                    .settings
                    .pkcs12_password
                    .as_ref()
                    .map(|secret| secret.expose().to_owned())
                    .unwrap_or_default(),
            },
        };
        let client = IdmClient::new(&ClientConfig {
            base_url: settings.base_url.clone(),
            identity,
            trust_roots_pem: read(&settings.trust_roots_path)?,
            connect_timeout: self.settings.connect_timeout,
            read_timeout: self.settings.read_timeout,
        })
        .map_err(|error| problem(error.to_string()))?;
        let client = Arc::new(client);
        clients.insert(settings.org.clone(), Arc::clone(&client));
        Ok(client)
    }

    /// Drains the outbox once: runs every due action (and, with `wait_for_retries`, waits for
    /// scheduled retries) and returns the counts. `progress` is called after each action with
    /// (settled so far, open actions at start).
    ///
    /// # Errors
    ///
    /// [`WorkerError::Busy`] if another replica runs the worker; [`WorkerError::Unauthorized`]
    /// if the API refuses a certificate; store and audit failures.
    pub async fn drain(
        self: &Arc<Self>,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<DrainReport, WorkerError> {
        let lease = self.elect().await?;
        let mut report = DrainReport::default();
        self.organisations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        let mut tx = self.store.begin().await?;
        report.recovered = tx.recover_sync_actions(self.clock.now()).await?;
        let total = open_actions(&mut tx).await?;
        tx.commit().await?;

        let result = self.run(&mut report, total, progress).await;
        lease.release().await?;
        result.map(|()| report)
    }

    /// Becomes the one worker: the process mutex, then the store's worker lock.
    ///
    /// # Errors
    ///
    /// [`WorkerError::Busy`] if another replica holds the lock; store failures.
    async fn elect(&self) -> Result<Lease, WorkerError> {
        let process = SQLITE_WORKER.lock().await;
        let mut lock_tx = self.store.begin().await?;
        if !lock_tx.try_sync_worker_lock().await? {
            return Err(WorkerError::Busy);
        }
        // On SQLite the lock transaction would hold the write lock; release it at once, the
        // process mutex above is the lock there.
        let postgres = match self.store.backend() {
            portner_shared::config::Backend::Sqlite => {
                lock_tx.commit().await?;
                None
            }
            portner_shared::config::Backend::Postgres => Some(lock_tx),
        };
        Ok(Lease {
            _process: process,
            postgres,
        })
    }

    async fn run(
        self: &Arc<Self>,
        report: &mut DrainReport,
        total: u64,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<(), WorkerError> {
        let concurrency = self.settings.concurrency.max(1);
        let mut interval = (self.settings.rate_per_second > 0).then(|| {
            let period = Duration::from_secs(1) / self.settings.rate_per_second;
            tokio::time::interval(period)
        });
        let mut tasks: JoinSet<Result<(ClaimedAction, Outcome), WorkerError>> = JoinSet::new();
        // Claimed ahead of the free slots, so that a claim rides in the settle transaction.
        let mut buffer: VecDeque<ClaimedAction> = VecDeque::new();
        let prefetch = concurrency * 2;
        let mut settled = 0;
        loop {
            // Bounded concurrency: never more than `concurrency` actions in flight.
            while tasks.len() < concurrency {
                let Some(claimed) = buffer.pop_front() else {
                    break;
                };
                if let Some(interval) = interval.as_mut() {
                    interval.tick().await;
                }
                let worker = Arc::clone(self);
                tasks.spawn(async move { worker.run_one(claimed).await });
            }
            if tasks.is_empty() {
                let want = i64::try_from(prefetch).unwrap_or(1);
                let mut tx = self.store.begin().await?;
                let claimed = tx.claim_sync_actions(self.clock.now(), want).await?;
                tx.commit().await?;
                if claimed.is_empty() && !self.wait_for_more().await? {
                    return Ok(());
                }
                buffer.extend(claimed);
                continue;
            }
            let Some(first) = tasks.join_next().await else {
                continue;
            };
            // Settle everything that has finished in one transaction: one commit (and one
            // fsync) for many actions. A crash before the commit leaves them `running`, and
            // recovery handles them like any other abandoned claim.
            let mut finished = vec![first];
            while let Some(more) = tasks.try_join_next() {
                finished.push(more);
            }
            let mut batch = Vec::with_capacity(finished.len());
            for joined in finished {
                let result = joined.map_err(|error| WorkerError::Task(error.to_string()))?;
                batch.push(result?);
            }
            let unauthorized = batch
                .iter()
                .find(|(_, outcome)| matches!(outcome, Outcome::Unauthorized))
                .map(|(claimed, _)| claimed.action.org.clone());
            let want = if unauthorized.is_some() {
                0
            } else {
                prefetch.saturating_sub(buffer.len() + tasks.len())
            };
            let (results, claimed) = self.settle_batch(batch, want).await?;
            buffer.extend(claimed);
            for result in results {
                match result {
                    Some(true) => report.succeeded += 1,
                    Some(false) => report.failed += 1,
                    None => report.retried += 1,
                }
                settled += 1;
            }
            progress(settled, total);
            if let Some(org) = unauthorized {
                self.settle_unauthorized(&org).await?;
                return Err(WorkerError::Unauthorized(org));
            }
        }
    }

    /// With nothing in flight: whether more work is (or will become) due; sleeps until it is.
    async fn wait_for_more(&self) -> Result<bool, WorkerError> {
        let mut tx = self.store.read().await?;
        let due = tx.next_sync_due().await?;
        tx.rollback().await?;
        let Some(due) = due else {
            return Ok(false);
        };
        let now = self.clock.now();
        if due <= now {
            return Ok(true);
        }
        if !self.settings.wait_for_retries {
            return Ok(false);
        }
        let wait = (due - now).to_std().unwrap_or_default();
        tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
        Ok(true)
    }

    /// Runs one action against the API; settling is the caller's (batched) job.
    async fn run_one(
        &self,
        claimed: ClaimedAction,
    ) -> Result<(ClaimedAction, Outcome), WorkerError> {
        let context = self.context(&claimed).await?;
        let outcome = match &context.settings {
            None => done("org_not_synced", None, Vec::new()),
            Some(settings) => {
                let client = self.client(settings)?;
                execute(&client, &claimed, &context, &self.store).await
            }
        };
        Ok((claimed, outcome))
    }

    /// HTTP requests sent by all of this worker's clients so far.
    pub fn requests_sent(&self) -> u64 {
        let clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .values()
            .map(|c| c.counters.requests.load(Ordering::Relaxed))
            .sum()
    }

    async fn context(&self, claimed: &ClaimedAction) -> Result<Context, WorkerError> {
        let user_id = claimed.action.action.user_id();
        let mut tx = self.store.read().await?;
        let user = tx.user(user_id).await?;
        let cached = self
            .organisations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&claimed.action.org)
            .cloned();
        let (org, settings) = match cached {
            Some(cached) => cached,
            None => {
                let org = tx.organisation(&claimed.action.org).await?;
                let settings = tx.sync_organisation(&claimed.action.org).await?;
                self.organisations
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(claimed.action.org.clone(), (org.clone(), settings.clone()));
                (org, settings)
            }
        };
        let link = tx.sync_link(user_id).await?;
        let in_scope = match settings.as_ref().and_then(|settings| settings.scope_group) {
            Some(group) => tx.is_group_member(group, user_id).await?,
            None => true,
        };
        let cpr = match (&user, &claimed.action.action) {
            // Also when linked: a REACTIVATE that finds the identity gone creates it again.
            (Some(_), SyncAction::UpsertUser { .. }) => tx.user_cpr(user_id).await?,
            _ => None,
        };
        let rid = match (&user, &claimed.action.action) {
            (Some(_), SyncAction::UpsertUser { .. }) => tx.user_rid(user_id).await?,
            _ => None,
        };
        let mut desired_rights = Vec::new();
        if matches!(claimed.action.action, SyncAction::SyncRights { .. }) {
            let imported: std::collections::HashSet<String> = tx
                .rights()
                .await?
                .into_iter()
                .filter(|right| right.source == portner_shared::domain::RightSource::MitIdErhverv)
                .map(|right| right.id.to_string())
                .collect();
            for assignment in tx.right_assignments(user_id).await? {
                let role = assignment.right.to_string();
                if imported.contains(&role) {
                    desired_rights.push((role, scope_of(&assignment.scope)));
                }
            }
        }
        tx.rollback().await?;
        Ok(Context {
            user,
            org,
            settings,
            link,
            cpr,
            rid,
            desired_rights,
            in_scope,
        })
    }

    /// Settles finished actions in one transaction. An `Unauthorized` outcome is left
    /// `running`; the next worker's recovery returns it to the queue.
    ///
    /// In the same transaction it claims up to `claim` more actions, which then include those
    /// that only became due by this settlement (the next action of a user just settled).
    async fn settle_batch(
        &self,
        batch: Vec<(ClaimedAction, Outcome)>,
        claim: usize,
    ) -> Result<(Vec<Option<bool>>, Vec<ClaimedAction>), WorkerError> {
        let mut tx = self.store.begin().await?;
        let mut results = Vec::with_capacity(batch.len());
        for (claimed, outcome) in batch {
            if matches!(outcome, Outcome::Unauthorized) {
                continue;
            }
            results.push(self.settle(&mut tx, &claimed, outcome).await?);
        }
        let claimed = if claim > 0 {
            let want = i64::try_from(claim).unwrap_or(1);
            tx.claim_sync_actions(self.clock.now(), want).await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        Ok((results, claimed))
    }

    async fn settle(
        &self,
        tx: &mut portner_shared::store::Tx,
        claimed: &ClaimedAction,
        outcome: Outcome,
    ) -> Result<Option<bool>, WorkerError> {
        let now = self.clock.now();
        let action = &claimed.action;
        let name = action.action.name().to_owned();
        let user_id = action.action.user_id();
        let subject = Subject::User(user_id);
        let context = AuditContext::system();
        let result = match outcome {
            Outcome::Done {
                outcome,
                employee_uuid,
                effects,
            } => {
                for effect in effects {
                    apply(tx, &action.org, effect, now, &context).await?;
                }
                tx.settle_sync_action(action.id, OutboxState::Succeeded, now, None, None, now)
                    .await?;
                let event = AuditEvent::SyncActionDone {
                    action: name,
                    user_id,
                    employee_uuid,
                    outcome,
                };
                portner_audit::append(tx, now, &context, &subject, &event).await?;
                Some(true)
            }
            Outcome::Retry(error) => {
                let attempt = action.attempts + 1;
                let status = match &error {
                    ApiError::Transient { status, .. } => *status,
                    _ => 0,
                };
                if attempt >= self.settings.max_attempts {
                    let reason = format!("gave up after {attempt} attempts: {error}");
                    self.fail(tx, claimed, error.code(), &reason, Some(status), now)
                        .await?;
                    Some(false)
                } else {
                    let delay = {
                        let mut rng = self
                            .rng
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        let settings = &self.settings;
                        backoff(
                            attempt,
                            settings.backoff_base,
                            settings.backoff_cap,
                            &mut rng,
                        )
                    };
                    let not_before = now + chrono::Duration::from_std(delay).unwrap_or_default();
                    let code = error.code();
                    tx.settle_sync_action(
                        action.id,
                        OutboxState::Pending,
                        not_before,
                        Some(code),
                        Some(status),
                        now,
                    )
                    .await?;
                    let event = AuditEvent::SyncActionRetried {
                        action: name,
                        user_id,
                        attempt,
                        error_code: code.to_owned(),
                        status,
                    };
                    portner_audit::append(tx, now, &context, &subject, &event).await?;
                    None
                }
            }
            Outcome::Failed {
                code,
                reason,
                status,
            } => {
                self.fail(tx, claimed, code, &reason, status, now).await?;
                Some(false)
            }
            Outcome::Unauthorized => None,
        };
        Ok(result)
    }

    async fn fail(
        &self,
        tx: &mut portner_shared::store::Tx,
        claimed: &ClaimedAction,
        code: &str,
        reason: &str,
        status: Option<u16>,
        now: DateTime<Utc>,
    ) -> Result<(), WorkerError> {
        let action = &claimed.action;
        let stored = format!("{code}: {}", truncate(reason, 2000));
        tx.settle_sync_action(
            action.id,
            OutboxState::Failed,
            now,
            Some(&stored),
            status,
            now,
        )
        .await?;
        let event = AuditEvent::SyncActionFailed {
            action: action.action.name().to_owned(),
            user_id: action.action.user_id(),
            error_code: code.to_owned(),
            reason: truncate(reason, 500).to_owned(),
        };
        let subject = Subject::User(action.action.user_id());
        portner_audit::append(tx, now, &AuditContext::system(), &subject, &event).await?;
        Ok(())
    }

    async fn settle_unauthorized(&self, org: &Cvr) -> Result<(), WorkerError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let event = AuditEvent::SyncUnauthorized { org: org.clone() };
        let subject = Subject::Organisation(org.clone());
        portner_audit::append(&mut tx, now, &AuditContext::system(), &subject, &event).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Drains the outbox every `every`, for ever: the worker inside `portner serve`; with
/// `reconcile_every`, each round also runs the reconciles that are due ([`schedule`]). On
/// PostgreSQL every replica runs this loop and the advisory lock lets one of them work; on
/// SQLite the single process runs it. Errors are logged and the next round tries again; an
/// `Unauthorized` stop has been audited by the drain itself.
pub async fn run_forever(
    worker: Arc<Worker>,
    every: Duration,
    reconcile_every: Option<chrono::Duration>,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Some(interval) = reconcile_every {
            match worker.reconcile_due(interval).await {
                Ok(_) | Err(WorkerError::Busy) => {}
                Err(error) => tracing::warn!(%error, "scheduled reconcile failed"),
            }
        }
        match worker.drain(&|_, _| {}).await {
            Ok(report) if report.succeeded + report.failed + report.retried > 0 => {
                tracing::info!(
                    succeeded = report.succeeded,
                    retried = report.retried,
                    failed = report.failed,
                    "sync outbox drained"
                );
            }
            Ok(_) => {}
            Err(WorkerError::Busy) => tracing::debug!("another replica runs the sync worker"),
            Err(error) => tracing::warn!(%error, "sync worker round failed"),
        }
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

async fn open_actions(tx: &mut portner_shared::store::Tx) -> Result<u64, StoreError> {
    let summary = tx.outbox_summary().await?;
    let open = summary
        .by_state
        .iter()
        .filter(|(state, _)| state == "pending" || state == "running")
        .map(|(_, count)| *count)
        .sum::<i64>();
    Ok(u64::try_from(open).unwrap_or(0))
}

fn scope_of(scope: &RightScope) -> Scope {
    let (kind, value) = match scope {
        RightScope::Cvr(cvr) => ("Cvr", cvr.as_str().to_owned()),
        RightScope::PUnit(p) => ("PU", p.as_str().to_owned()),
        RightScope::Se(se) => ("SE", se.as_str().to_owned()),
    };
    Scope {
        kind: kind.to_owned(),
        value,
    }
}

async fn apply(
    tx: &mut portner_shared::store::Tx,
    org: &Cvr,
    effect: Effect,
    now: DateTime<Utc>,
    context: &AuditContext,
) -> Result<(), WorkerError> {
    match effect {
        Effect::Link(link) => tx.set_sync_link(&link, now).await?,
        Effect::RemoteStatus(user, status) => tx.set_sync_link_status(user, &status, now).await?,
        Effect::Unlink(user) => {
            tx.delete_sync_link(user).await?;
        }
        Effect::Adopted(user, uuid, rule) => {
            let event = AuditEvent::SyncIdentityAdopted {
                user_id: user,
                employee_uuid: uuid,
                rule: rule.to_owned(),
            };
            portner_audit::append(tx, now, context, &Subject::User(user), &event).await?;
        }
        Effect::Finding {
            kind,
            user,
            employee_uuid,
            detail,
        } => {
            tx.record_sync_finding(org, kind, Some(user), Some(&employee_uuid), &detail, now)
                .await?;
            let event = AuditEvent::SyncDriftFound {
                finding: kind.to_owned(),
                user_id: Some(user),
                employee_uuid: Some(employee_uuid),
            };
            portner_audit::append(tx, now, context, &Subject::User(user), &event).await?;
        }
    }
    Ok(())
}

/// Runs one action against the API. Never writes the store: effects are returned for
/// [`Worker::settle`] to apply in one transaction with the outbox row and audit event.
async fn execute(
    client: &IdmClient,
    claimed: &ClaimedAction,
    context: &Context,
    store: &Store,
) -> Outcome {
    match &claimed.action.action {
        SyncAction::UpsertUser { .. } => upsert(client, claimed, context, store).await,
        SyncAction::SuspendUser { user_id } => suspend(client, *user_id, context).await,
        SyncAction::DeleteUser {
            user_id,
            employee_uuid,
        } => {
            let uuid = employee_uuid
                .clone()
                .or_else(|| context.link.as_ref().map(|link| link.employee_uuid.clone()));
            let Some(uuid) = uuid else {
                return done("not_linked", None, Vec::new());
            };
            match client.delete(&uuid).await {
                Ok(()) => done("deleted", Some(&uuid), vec![Effect::Unlink(*user_id)]),
                // §7.2: DELETE 404 = already deleted, done.
                Err(ApiError::NotFound) => done(
                    "already_deleted",
                    Some(&uuid),
                    vec![Effect::Unlink(*user_id)],
                ),
                Err(error) => from_api(error),
            }
        }
        SyncAction::SyncRights { .. } => rights(client, context).await,
    }
}

async fn suspend(client: &IdmClient, user_id: UserId, context: &Context) -> Outcome {
    let Some(user) = &context.user else {
        return done("user_gone", None, Vec::new());
    };
    if desired::belongs(user, context.in_scope) {
        // §7.2: a SUSPEND for a user who is active (or back in scope) again is a stale intent.
        return done("stale_dropped", None, Vec::new());
    }
    let Some(link) = &context.link else {
        return done("not_linked", None, Vec::new());
    };
    let uuid = link.employee_uuid.as_str();
    if link.remote_status == EmployeeStatus::Suspended.as_str() {
        return done("already_suspended", Some(uuid), Vec::new());
    }
    match client.suspend(uuid).await {
        Ok(()) => done(
            "suspended",
            Some(uuid),
            vec![Effect::RemoteStatus(user_id, "Suspended".to_owned())],
        ),
        // §7.2 [P]: SUSPEND 404 -> unlink, finding ACCOUNT_DELETED, done.
        Err(ApiError::NotFound) => done(
            "identity_gone",
            Some(uuid),
            vec![
                Effect::Unlink(user_id),
                Effect::Finding {
                    kind: "ACCOUNT_DELETED",
                    user: user_id,
                    employee_uuid: uuid.to_owned(),
                    detail: "identity gone when suspending".to_owned(),
                },
            ],
        ),
        Err(error) => from_api(error),
    }
}

async fn upsert(
    client: &IdmClient,
    claimed: &ClaimedAction,
    context: &Context,
    store: &Store,
) -> Outcome {
    let (Some(user), Some(org), Some(settings)) = (&context.user, &context.org, &context.settings)
    else {
        return done("user_gone", None, Vec::new());
    };
    if !desired::belongs(user, context.in_scope) {
        return done("stale_dropped", None, Vec::new());
    }
    let expected_subject = match settings.mode {
        SyncMode::LocalIdp => desired::subject_name_id(user, org),
        SyncMode::Light => String::new(),
    };
    let Some(link) = &context.link else {
        return create(client, claimed, context, user, org, settings, store).await;
    };
    let uuid = link.employee_uuid.clone();
    let mut effects = Vec::new();
    let mut outcome = "in_step";
    if link.remote_status == EmployeeStatus::Suspended.as_str() {
        match client.reactivate(&uuid).await {
            Ok(()) => {
                effects.push(Effect::RemoteStatus(user.id, "Active".to_owned()));
                outcome = "reactivated";
            }
            // §7.2: REACTIVATE 404 -> unlink, CREATE if still desired (the next upsert).
            Err(ApiError::NotFound) => {
                return recreate_after_gone(client, claimed, context, user, org, settings, store)
                    .await;
            }
            Err(error) => return from_api(error),
        }
    }
    // Switching light -> Local IdP, or a username change (§6 L11): bind the subject.
    if !expected_subject.is_empty() && !link.subject_name_id.eq_ignore_ascii_case(&expected_subject)
    {
        if let Err(error) = bind_subject(client, &uuid, &expected_subject).await {
            return from_api(error);
        }
        let mut relinked = link.clone();
        relinked.subject_name_id = expected_subject.clone();
        effects.push(Effect::Link(relinked));
        outcome = "subject_bound";
    }
    let fingerprint = desired::profile_fingerprint(user);
    if link.profile_hash != fingerprint {
        match update_profile(client, &uuid, user, context.cpr.as_ref()).await {
            Ok(()) => {}
            // §7.2: CHANGE_EMAIL 404 -> the identity is gone; the next reconcile reports it.
            Err(error) => return from_api(error),
        }
        let mut updated = link.clone();
        if !expected_subject.is_empty() {
            updated.subject_name_id = expected_subject;
        }
        updated.profile_hash = fingerprint;
        effects.push(Effect::Link(updated));
        outcome = "profile_updated";
    }
    done(outcome, Some(&uuid), effects)
}

async fn recreate_after_gone(
    client: &IdmClient,
    claimed: &ClaimedAction,
    context: &Context,
    user: &User,
    org: &Organisation,
    settings: &SyncOrganisation,
    store: &Store,
) -> Outcome {
    let gone = context
        .link
        .as_ref()
        .map(|link| link.employee_uuid.clone())
        .unwrap_or_default();
    let outcome = create(client, claimed, context, user, org, settings, store).await;
    match outcome {
        Outcome::Done {
            outcome,
            employee_uuid,
            mut effects,
        } => {
            effects.insert(
                0,
                Effect::Finding {
                    kind: "ACCOUNT_DELETED",
                    user: user.id,
                    employee_uuid: gone,
                    detail: "identity gone when reactivating; created again".to_owned(),
                },
            );
            Outcome::Done {
                outcome: format!("recreated_{outcome}"),
                employee_uuid,
                effects,
            }
        }
        other => other,
    }
}

async fn bind_subject(client: &IdmClient, uuid: &str, subject: &str) -> Result<(), ApiError> {
    let request = RequestCredentials {
        authenticator_setting_types: vec![AuthenticatorType::LocalIdentityProvider],
        authenticator_types_to_ship: Vec::new(),
        shared_credential_uuids: Vec::new(),
        subject_name_id: Some(subject.to_owned()),
    };
    client.request_credentials(uuid, &request).await
}

/// A new link. `created`: Portner sent the profile itself, so its fingerprint is known; an
/// adopted identity's profile is not, and the next upsert brings it in step.
fn new_link(
    user: &User,
    uuid: &str,
    status: &str,
    subject: &str,
    now: DateTime<Utc>,
    created: bool,
) -> Effect {
    Effect::Link(SyncLink {
        user_id: user.id,
        org: user.org.clone(),
        employee_uuid: uuid.to_owned(),
        remote_status: status.to_owned(),
        subject_name_id: subject.to_owned(),
        profile_hash: if created {
            desired::profile_fingerprint(user)
        } else {
            String::new()
        },
        linked_at: now,
    })
}

/// E6 then E4 when the names or e-mail changed since they were last sent (S14). Values are
/// trimmed and split exactly as for E1, so untrimmed input never reaches the API.
async fn update_profile(
    client: &IdmClient,
    uuid: &str,
    user: &User,
    cpr: Option<&portner_shared::domain::Cpr>,
) -> Result<(), ApiError> {
    let email = user.email.as_str().trim();
    client.change_email(uuid, email).await?;
    if let Some(cpr) = cpr {
        let (given_name, surname) = desired::split_name(&user.display_name);
        let update = crate::api::ProfileUpdate {
            registered_ial: "Substantial".to_owned(),
            target_ial: "Substantial".to_owned(),
            given_name,
            surname,
            cpr_number: cpr.expose().to_owned(),
            email_address: email.to_owned(),
        };
        client.update_profile(uuid, &update).await?;
    }
    Ok(())
}

async fn create(
    client: &IdmClient,
    claimed: &ClaimedAction,
    context: &Context,
    user: &User,
    org: &Organisation,
    settings: &SyncOrganisation,
    store: &Store,
) -> Outcome {
    let now = Utc::now();
    let (cpr, rid) = (context.cpr.as_ref(), context.rid.as_ref());
    let request = match desired::create_request(user, org, settings.mode, cpr, rid, now) {
        Ok(request) => request,
        Err(Invalid(reason)) => {
            return Outcome::Failed {
                code: "SYNC_INVALID",
                reason,
                status: None,
            };
        }
    };
    let subject = request
        .identity_authenticators
        .subject_name_id
        .clone()
        .unwrap_or_default();
    // A recovered claim may have created the identity before the crash: look first.
    if claimed.recovered {
        match relink(client, context, user, settings.mode, &subject, store, now).await {
            Ok(Some(outcome)) => return outcome,
            Ok(None) => {}
            Err(error) => return from_api(error),
        }
    }
    match client.create_employee(&request).await {
        Ok(uuid) => {
            let status = match settings.mode {
                SyncMode::LocalIdp => "Active",
                SyncMode::Light => "Pending",
            };
            done(
                "created",
                Some(&uuid),
                vec![new_link(user, &uuid, status, &subject, now, true)],
            )
        }
        Err(ApiError::Conflict(_)) => {
            match relink(client, context, user, settings.mode, &subject, store, now).await {
                Ok(Some(outcome)) => outcome,
                Ok(None) => Outcome::Failed {
                    code: "SYNC_CONFLICT_UNRESOLVED",
                    reason: "another MitID Erhverv account has the same CPR / username".to_owned(),
                    status: Some(409),
                },
                Err(error) => from_api(error),
            }
        }
        Err(error) => from_api(error),
    }
}

/// A candidate identity with its authenticators.
struct Candidate {
    summary: EmployeeSummary,
    local_id: Option<Option<String>>,
}

/// The re-link procedure (§7.4) with a fresh E3 lookup. `Ok(None)`: no identity to adopt.
async fn relink(
    client: &IdmClient,
    context: &Context,
    user: &User,
    mode: SyncMode,
    subject: &str,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Option<Outcome>, ApiError> {
    let Some(cpr) = &context.cpr else {
        return Ok(None);
    };
    let linked: std::collections::HashSet<String> = match linked_uuids(store, &user.org).await {
        Ok(linked) => linked,
        Err(error) => {
            return Ok(Some(Outcome::Failed {
                code: "SYNC_STORE",
                reason: error.to_string(),
                status: None,
            }));
        }
    };
    let email = user.email.as_str();
    let listed = client.search().await?;
    let mut candidates = Vec::new();
    for summary in listed.employees {
        let same_cpr = summary
            .profile
            .as_ref()
            .and_then(|profile| profile.cpr_number.as_deref())
            .is_some_and(|number| number == cpr.expose());
        // An identity already linked to another local user is never adopted (§7.4 [P]).
        if same_cpr && !linked.contains(&summary.uuid) {
            let list = client.authenticators(&summary.uuid).await?.authenticators;
            let local_id = list
                .iter()
                .find(|auth| auth.kind == AuthenticatorType::LocalIdentityProvider)
                .map(|auth| auth.id.clone());
            candidates.push(Candidate { summary, local_id });
        }
    }
    let status = |c: &Candidate| {
        c.summary
            .status
            .clone()
            .unwrap_or(EmployeeStatus::Other(String::new()))
    };
    let holds_subject = |c: &Candidate| {
        !subject.is_empty()
            && c.local_id
                .as_ref()
                .and_then(Option::as_deref)
                .is_some_and(|id| id.eq_ignore_ascii_case(subject))
    };
    let same_email = |c: &Candidate| {
        c.summary
            .email_address
            .as_deref()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
    };

    // RL1: active, local login bound to the wanted subject.
    let rl1: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| status(c) == EmployeeStatus::Active && holds_subject(c))
        .collect();
    if let Some(outcome) = adopt_single(&rl1, user, subject, "RL1", "Active", now, None) {
        return Ok(Some(outcome));
    }
    // RL2: active, no local login, same e-mail: adopt and bind.
    let rl2: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| status(c) == EmployeeStatus::Active && c.local_id.is_none() && same_email(c))
        .collect();
    if rl2.len() == 1 && mode == SyncMode::LocalIdp {
        bind_subject(client, &rl2[0].summary.uuid, subject).await?;
    }
    if let Some(outcome) = adopt_single(&rl2, user, subject, "RL2", "Active", now, None) {
        return Ok(Some(outcome));
    }
    // RL3: suspended, local login matches (narrowed by e-mail if several): adopt, reactivate.
    let mut rl3: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| status(c) == EmployeeStatus::Suspended && holds_subject(c))
        .collect();
    if rl3.len() > 1 {
        rl3.retain(|c| same_email(c));
    }
    if rl3.len() == 1 {
        client.reactivate(&rl3[0].summary.uuid).await?;
    }
    if let Some(outcome) = adopt_single(
        &rl3,
        user,
        subject,
        "RL3",
        "Active",
        now,
        Some("reactivated"),
    ) {
        return Ok(Some(outcome));
    }
    // Light mode: a pending identity with the same CPR and e-mail is the one made before.
    if mode == SyncMode::Light {
        let light: Vec<&Candidate> = candidates.iter().filter(|c| same_email(c)).collect();
        let remote_status = light
            .first()
            .map(|c| status(c).as_str().to_owned())
            .unwrap_or_default();
        if let Some(outcome) =
            adopt_single(&light, user, subject, "LIGHT", &remote_status, now, None)
        {
            return Ok(Some(outcome));
        }
    }
    if candidates.is_empty() {
        return Ok(None);
    }
    // Candidates exist but no rule chose exactly one: never guess (§7.4 [P]).
    Ok(Some(Outcome::Failed {
        code: "SYNC_CONFLICT_UNRESOLVED",
        reason: format!(
            "{} MitID Erhverv account(s) share the CPR number and none matches a re-link rule",
            candidates.len()
        ),
        status: Some(409),
    }))
}

fn adopt_single(
    survivors: &[&Candidate],
    user: &User,
    subject: &str,
    rule: &'static str,
    remote_status: &str,
    now: DateTime<Utc>,
    extra: Option<&str>,
) -> Option<Outcome> {
    match survivors {
        [one] => {
            let uuid = one.summary.uuid.as_str();
            let outcome = match extra {
                Some(extra) => format!("adopted_{rule}_{extra}"),
                None => format!("adopted_{rule}"),
            };
            Some(done(
                &outcome,
                Some(uuid),
                vec![
                    new_link(user, uuid, remote_status, subject, now, false),
                    Effect::Adopted(user.id, uuid.to_owned(), rule),
                ],
            ))
        }
        [] => None,
        _ => Some(Outcome::Failed {
            code: "SYNC_CONFLICT_AMBIGUOUS",
            reason: format!(
                "{} identities match re-link rule {rule}; not guessing",
                survivors.len()
            ),
            status: Some(409),
        }),
    }
}

async fn linked_uuids(
    store: &Store,
    org: &Cvr,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut tx = store.read().await?;
    let links = tx.sync_links(org).await?;
    tx.rollback().await?;
    Ok(links.into_iter().map(|link| link.employee_uuid).collect())
}

/// SET_RIGHTS (§7.2, §7.5 rights): R1 catalogue, R2 current, then the minimal R4/R3 set, one
/// role per call. Roles outside the catalogue and admin roles are never written.
async fn rights(client: &IdmClient, context: &Context) -> Outcome {
    let Some(link) = &context.link else {
        return done("not_linked", None, Vec::new());
    };
    let uuid = link.employee_uuid.as_str();
    let catalogue = match client.role_catalogue().await {
        Ok(catalogue) => catalogue,
        Err(error) => return from_api(error),
    };
    let known: std::collections::HashSet<&str> = catalogue
        .roles
        .iter()
        .map(|role| role.uuid.as_str())
        .collect();
    let current = match client.roles(uuid).await {
        Ok(current) => current,
        Err(error) => return from_api(error),
    };
    let current: std::collections::BTreeSet<(String, Scope)> = current
        .into_iter()
        .filter(|role| known.contains(role.uuid.as_str()))
        .filter_map(|role| role.scope.map(|scope| (role.uuid, scope)))
        .collect();
    let desired: std::collections::BTreeSet<(String, Scope)> = context
        .desired_rights
        .iter()
        .filter(|(role, _)| known.contains(role.as_str()))
        .cloned()
        .collect();
    let mut changes = 0;
    for (role, scope) in current.difference(&desired) {
        let change = RoleChange {
            scope: scope.clone(),
            role_uuids: vec![role.clone()],
        };
        if let Err(error) = client.remove_roles(uuid, &change).await {
            return from_api(error);
        }
        changes += 1;
    }
    for (role, scope) in desired.difference(&current) {
        let change = RoleChange {
            scope: scope.clone(),
            role_uuids: vec![role.clone()],
        };
        if let Err(error) = client.add_roles(uuid, &change).await {
            return from_api(error);
        }
        changes += 1;
    }
    done(&format!("rights_changed_{changes}"), Some(uuid), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s20_backoff_ceiling_doubles_up_to_the_cap() {
        let mut rng = SeededRng::new(7);
        let base = Duration::from_secs(30);
        let cap = Duration::from_secs(3600);
        for attempt in 1..=12 {
            let ceiling = (base * 2u32.pow(u32::try_from(attempt - 1).unwrap())).min(cap);
            for _ in 0..200 {
                let delay = backoff(attempt, base, cap, &mut rng);
                assert!(
                    delay <= ceiling,
                    "attempt {attempt}: {delay:?} > {ceiling:?}"
                );
            }
        }
        let spread: std::collections::HashSet<u128> = (0..50)
            .map(|_| backoff(5, base, cap, &mut rng).as_millis())
            .collect();
        assert!(spread.len() > 40, "full jitter spreads the delays");
    }
}
