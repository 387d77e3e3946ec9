//! The MitID Erhverv sync's tables: per-organisation settings, user links, the outbox's claim
//! and settle path, drift findings and run history (mitid-erhverv-idm-api.md §6, §7).
//!
//! Claiming differs by backend: on PostgreSQL several replicas may race, so due rows are taken
//! with `FOR UPDATE SKIP LOCKED`; SQLite has one process, whose `BEGIN IMMEDIATE` write lock
//! already serialises claimers. Either way only the oldest open action of each user is due, so
//! a user's actions run strictly in order (§7.2) and a SUSPEND waits behind a pending CREATE.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{StoreError, Tx, column, millis, parsed, time};
use crate::config::Backend;
use crate::domain::{
    Cvr, OutboxAction, OutboxState, SyncAction, SyncFinding, SyncLink, SyncMode, SyncOrganisation,
    UserId,
};

const ENTITY: &str = "sync setting";
const LINK: &str = "sync link";
const OUTBOX: &str = "outbox action";

/// An action handed to the worker.
#[derive(Clone, Debug)]
pub struct ClaimedAction {
    /// The action as queued.
    pub action: OutboxAction,
    /// Whether an earlier claim of it was abandoned (a crash): a CREATE must then look for the
    /// identity it may already have made before creating one.
    pub recovered: bool,
}

/// Queue depth per state and the age of the oldest pending action.
#[derive(Clone, Debug, Default)]
pub struct OutboxSummary {
    /// (state, count).
    pub by_state: Vec<(String, i64)>,
    /// Creation time of the oldest pending action.
    pub oldest_pending: Option<DateTime<Utc>>,
}

impl Tx {
    /// Adds or replaces an organisation's sync settings.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the organisation does not exist.
    pub async fn upsert_sync_organisation(
        &mut self,
        settings: &SyncOrganisation,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let path = |p: &PathBuf| p.to_string_lossy().into_owned();
        sqlx::query(
            "INSERT INTO sync_organisations (org_cvr, mode, base_url, client_cert_path, \
             client_key_path, trust_roots_path, default_email, scope_group_id, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             ON CONFLICT (org_cvr) DO UPDATE SET mode = $2, base_url = $3, \
             client_cert_path = $4, client_key_path = $5, trust_roots_path = $6, \
             default_email = $7, scope_group_id = $8, updated_at = $9",
        )
        .bind(settings.org.as_str())
        .bind(settings.mode.as_str())
        .bind(&settings.base_url)
        .bind(path(&settings.client_cert_path))
        .bind(settings.client_key_path.as_ref().map(path))
        .bind(path(&settings.trust_roots_path))
        .bind(settings.default_email.as_deref())
        .bind(settings.scope_group.map(|group| group.to_string()))
        .bind(millis(now))
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(ENTITY, error))?;
        Ok(())
    }

    /// An organisation's sync settings, or `None` if it is not synced.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn sync_organisation(
        &mut self,
        org: &Cvr,
    ) -> Result<Option<SyncOrganisation>, StoreError> {
        let row = sqlx::query(
            "SELECT org_cvr, mode, base_url, client_cert_path, client_key_path, \
             trust_roots_path, default_email, scope_group_id FROM sync_organisations \
             WHERE org_cvr = $1",
        )
        .bind(org.as_str())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(settings_from_row).transpose()
    }

    /// Every synced organisation.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn sync_organisations(&mut self) -> Result<Vec<SyncOrganisation>, StoreError> {
        let rows = sqlx::query(
            "SELECT org_cvr, mode, base_url, client_cert_path, client_key_path, \
             trust_roots_path, default_email, scope_group_id FROM sync_organisations \
             ORDER BY org_cvr",
        )
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(settings_from_row).collect()
    }

    /// The user's link, if any.
    ///
    /// # Errors
    ///
    /// The database failed, or the row is damaged.
    pub async fn sync_link(&mut self, user: UserId) -> Result<Option<SyncLink>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, org_cvr, employee_uuid, remote_status, subject_name_id, \
             profile_hash, linked_at FROM sync_links WHERE user_id = $1",
        )
        .bind(user.to_string())
        .fetch_optional(self.connection())
        .await?;
        row.as_ref().map(link_from_row).transpose()
    }

    /// Every link of an organisation.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn sync_links(&mut self, org: &Cvr) -> Result<Vec<SyncLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, org_cvr, employee_uuid, remote_status, subject_name_id, \
             profile_hash, linked_at FROM sync_links WHERE org_cvr = $1 ORDER BY user_id",
        )
        .bind(org.as_str())
        .fetch_all(self.connection())
        .await?;
        rows.iter().map(link_from_row).collect()
    }

    /// Creates or replaces a user's link.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if the employee UUID is linked to another user: an identity is
    /// never adopted twice (§7.4).
    pub async fn set_sync_link(
        &mut self,
        link: &SyncLink,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sync_links (user_id, org_cvr, employee_uuid, remote_status, \
             subject_name_id, profile_hash, linked_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $8, $6, $7) \
             ON CONFLICT (user_id) DO UPDATE SET employee_uuid = $3, remote_status = $4, \
             subject_name_id = $5, profile_hash = $8, updated_at = $7",
        )
        .bind(link.user_id.to_string())
        .bind(link.org.as_str())
        .bind(&link.employee_uuid)
        .bind(&link.remote_status)
        .bind(&link.subject_name_id)
        .bind(millis(link.linked_at))
        .bind(millis(now))
        .bind(&link.profile_hash)
        .execute(self.connection())
        .await
        .map_err(|error| StoreError::from_database(LINK, error))?;
        Ok(())
    }

    /// Records the remote status Portner just set or saw.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn set_sync_link_status(
        &mut self,
        user: UserId,
        remote_status: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sync_links SET remote_status = $2, updated_at = $3 WHERE user_id = $1")
            .bind(user.to_string())
            .bind(remote_status)
            .bind(millis(now))
            .execute(self.connection())
            .await?;
        Ok(())
    }

    /// Removes a user's link (identity gone, §7.2 404 rules).
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn delete_sync_link(&mut self, user: UserId) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM sync_links WHERE user_id = $1")
            .bind(user.to_string())
            .execute(self.connection())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Queues an action unless an equal one (same idempotency key) is already pending; call
    /// it in the transaction of the change that causes it. Returns the new row's ID, or `None`
    /// when the pending one covers it.
    ///
    /// # Errors
    ///
    /// [`StoreError::MissingReference`] if the organisation does not exist.
    pub async fn enqueue_sync(
        &mut self,
        org: &Cvr,
        action: &SyncAction,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let action_json =
            serde_json::to_string(action).map_err(|error| StoreError::corrupt(OUTBOX, error))?;
        let row = sqlx::query(
            "INSERT INTO sync_outbox (org_cvr, action_json, state, attempts, not_before, \
             created_at, user_id, dedupe_key, recovered, updated_at) \
             VALUES ($1, $2, 'pending', 0, $3, $3, $4, $5, 0, $3) \
             ON CONFLICT (dedupe_key) WHERE state = 'pending' DO NOTHING RETURNING id",
        )
        .bind(org.as_str())
        .bind(action_json)
        .bind(millis(now))
        .bind(action.user_id().to_string())
        .bind(action.dedupe_key())
        .fetch_optional(self.connection())
        .await
        .map_err(|error| StoreError::from_database(OUTBOX, error))?;
        row.map(|row| column(&row, "id", OUTBOX)).transpose()
    }

    /// Tries to become the one worker (PostgreSQL: a transaction-scoped advisory lock, held
    /// until this transaction ends). Always true on SQLite, where the caller serialises
    /// in-process instead.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn try_sync_worker_lock(&mut self) -> Result<bool, StoreError> {
        if self.backend() == Backend::Sqlite {
            return Ok(true);
        }
        // Advisory locks belong to the whole database, so the key pairs Portner's class
        // (0x504F5253, "PORS") with the schema: one installation per schema, as the test
        // suites run many side by side in one database (§7.2, DESIGN.md).
        let row = sqlx::query(
            "SELECT CAST(CASE WHEN pg_try_advisory_xact_lock(1347375699, \
             hashtext(current_schema())) THEN 1 ELSE 0 END AS BIGINT) AS got",
        )
        .fetch_one(self.connection())
        .await?;
        let got: i64 = column(&row, "got", OUTBOX)?;
        Ok(got == 1)
    }

    /// Returns actions left `running` by a crashed worker to `pending`, marked recovered. Only
    /// the lock holder calls it, so every `running` row it sees is abandoned.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn recover_sync_actions(&mut self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE sync_outbox SET state = 'pending', recovered = 1, updated_at = $1 \
             WHERE state = 'running'",
        )
        .bind(millis(now))
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected())
    }

    /// Claims up to `limit` due actions (oldest first, at most one per user) and marks them
    /// `running`.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn claim_sync_actions(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedAction>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // One statement: the due rows (oldest first, none of a user with an earlier open
        // action) are marked running and returned.
        let statement = format!(
            "UPDATE sync_outbox SET state = 'running', updated_at = $1 WHERE id IN (\
             SELECT o.id FROM sync_outbox o WHERE o.state = 'pending' AND o.not_before <= $1 \
             AND NOT EXISTS (SELECT 1 FROM sync_outbox p WHERE p.user_id = o.user_id \
             AND p.id < o.id AND p.state IN ('pending', 'running')) ORDER BY o.id LIMIT $2{lock}) \
             RETURNING id, org_cvr, action_json, state, attempts, not_before, last_error, \
             created_at, recovered"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(millis(now))
            .bind(limit)
            .fetch_all(self.connection())
            .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let recovered: i64 = column(row, "recovered", OUTBOX)?;
            claimed.push(ClaimedAction {
                action: outbox_from_row(row)?,
                recovered: recovered == 1,
            });
        }
        claimed.sort_by_key(|claimed| claimed.action.id);
        Ok(claimed)
    }

    /// Records an attempt's outcome: state, earliest next try, error and HTTP status.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn settle_sync_action(
        &mut self,
        id: i64,
        state: OutboxState,
        not_before: DateTime<Utc>,
        last_error: Option<&str>,
        last_status: Option<u16>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sync_outbox SET state = $2, attempts = attempts + 1, not_before = $3, \
             last_error = $4, last_status = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(millis(not_before))
        .bind(last_error)
        .bind(last_status.map(i64::from))
        .bind(millis(now))
        .execute(self.connection())
        .await?;
        Ok(())
    }

    /// Puts a failed action back in the queue (admin "retry", §7.3).
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn retry_sync_action(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE sync_outbox SET state = 'pending', attempts = 0, not_before = $2, \
             updated_at = $2, dismissed_at = NULL, dismissed_by = NULL \
             WHERE id = $1 AND state = 'failed'",
        )
        .bind(id)
        .bind(millis(now))
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The earliest retry time among pending actions, if any are pending.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn next_sync_due(&mut self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(not_before) AS due FROM sync_outbox WHERE state IN ('pending', 'running')",
        )
        .fetch_one(self.connection())
        .await?;
        let due: Option<i64> = row.try_get("due").unwrap_or(None);
        Ok(due.map(crate::clock::from_millis))
    }

    /// Queue depth by state and the oldest pending action.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn outbox_summary(&mut self) -> Result<OutboxSummary, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM sync_outbox GROUP BY state ORDER BY state",
        )
        .fetch_all(self.connection())
        .await?;
        let mut by_state = Vec::new();
        for row in &rows {
            by_state.push((column(row, "state", OUTBOX)?, column(row, "n", OUTBOX)?));
        }
        let oldest = sqlx::query(
            "SELECT MIN(created_at) AS oldest FROM sync_outbox WHERE state = 'pending'",
        )
        .fetch_one(self.connection())
        .await?;
        let oldest: Option<i64> = oldest.try_get("oldest").unwrap_or(None);
        Ok(OutboxSummary {
            by_state,
            oldest_pending: oldest.map(crate::clock::from_millis),
        })
    }

    /// Opens a finding, or refreshes `last_seen` of the open one of the same kind and user.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn record_sync_finding(
        &mut self,
        org: &Cvr,
        kind: &str,
        user: Option<UserId>,
        employee_uuid: Option<&str>,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let user_text = user.map(|user| user.to_string());
        let updated = sqlx::query(
            "UPDATE sync_findings SET last_seen = $5, detail = $4 WHERE org_cvr = $1 \
             AND kind = $2 AND COALESCE(user_id, '') = COALESCE($3, '') AND resolved_at IS NULL",
        )
        .bind(org.as_str())
        .bind(kind)
        .bind(user_text.as_deref())
        .bind(detail)
        .bind(millis(now))
        .execute(self.connection())
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO sync_findings (org_cvr, kind, user_id, employee_uuid, detail, \
                 first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(org.as_str())
            .bind(kind)
            .bind(user_text.as_deref())
            .bind(employee_uuid)
            .bind(detail)
            .bind(millis(now))
            .execute(self.connection())
            .await?;
        }
        Ok(())
    }

    /// Closes open findings of an organisation last seen before `before` (not seen again by
    /// the reconcile that just ran).
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn resolve_sync_findings(
        &mut self,
        org: &Cvr,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE sync_findings SET resolved_at = $3 WHERE org_cvr = $1 AND last_seen < $2 \
             AND resolved_at IS NULL",
        )
        .bind(org.as_str())
        .bind(millis(before))
        .bind(millis(now))
        .execute(self.connection())
        .await?;
        Ok(result.rows_affected())
    }

    /// Open findings of an organisation.
    ///
    /// # Errors
    ///
    /// The database failed, or a row is damaged.
    pub async fn open_sync_findings(&mut self, org: &Cvr) -> Result<Vec<SyncFinding>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, org_cvr, kind, user_id, employee_uuid, detail, first_seen, last_seen \
             FROM sync_findings WHERE org_cvr = $1 AND resolved_at IS NULL ORDER BY id",
        )
        .bind(org.as_str())
        .fetch_all(self.connection())
        .await?;
        rows.iter()
            .map(|row| {
                let user: Option<String> = column(row, "user_id", "sync finding")?;
                Ok(SyncFinding {
                    id: column(row, "id", "sync finding")?,
                    org: parsed(row, "org_cvr", "sync finding")?,
                    kind: column(row, "kind", "sync finding")?,
                    user_id: user
                        .map(|text| text.parse())
                        .transpose()
                        .map_err(|error| StoreError::corrupt("sync finding", error))?,
                    employee_uuid: column(row, "employee_uuid", "sync finding")?,
                    detail: column(row, "detail", "sync finding")?,
                    first_seen: time(row, "first_seen", "sync finding")?,
                    last_seen: time(row, "last_seen", "sync finding")?,
                })
            })
            .collect()
    }

    /// Records a finished drain or reconcile run with a JSON summary.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn record_sync_run(
        &mut self,
        org: &Cvr,
        kind: &str,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        summary: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sync_runs (org_cvr, kind, started_at, finished_at, summary) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(org.as_str())
        .bind(kind)
        .bind(millis(started_at))
        .bind(millis(finished_at))
        .bind(summary)
        .execute(self.connection())
        .await?;
        Ok(())
    }

    /// The last run of a kind for an organisation: (finished at, summary JSON).
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn last_sync_run(
        &mut self,
        org: &Cvr,
        kind: &str,
    ) -> Result<Option<(DateTime<Utc>, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT finished_at, summary FROM sync_runs WHERE org_cvr = $1 AND kind = $2 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(org.as_str())
        .bind(kind)
        .fetch_optional(self.connection())
        .await?;
        row.map(|row| {
            Ok((
                time(&row, "finished_at", "sync run")?,
                column(&row, "summary", "sync run")?,
            ))
        })
        .transpose()
    }

    /// How many sync audit events of each kind the trail holds: durable counters for metrics
    /// that survive restarts and agree across replicas.
    ///
    /// # Errors
    ///
    /// The database failed.
    pub async fn sync_event_counts(&mut self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) AS n FROM audit_events WHERE kind LIKE 'SYNC_%' \
             GROUP BY kind ORDER BY kind",
        )
        .fetch_all(self.connection())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    column(row, "kind", "audit event")?,
                    column(row, "n", "audit event")?,
                ))
            })
            .collect()
    }
}

fn settings_from_row(row: &AnyRow) -> Result<SyncOrganisation, StoreError> {
    let key: Option<String> = column(row, "client_key_path", ENTITY)?;
    let scope_group: Option<String> = column(row, "scope_group_id", ENTITY)?;
    let scope_group = scope_group
        .map(|id| id.parse())
        .transpose()
        .map_err(|error| StoreError::corrupt(ENTITY, error))?;
    Ok(SyncOrganisation {
        org: parsed(row, "org_cvr", ENTITY)?,
        mode: parsed::<SyncMode>(row, "mode", ENTITY)?,
        base_url: column(row, "base_url", ENTITY)?,
        client_cert_path: PathBuf::from(column::<String>(row, "client_cert_path", ENTITY)?),
        client_key_path: key.map(PathBuf::from),
        trust_roots_path: PathBuf::from(column::<String>(row, "trust_roots_path", ENTITY)?),
        default_email: column(row, "default_email", ENTITY)?,
        scope_group,
    })
}

fn link_from_row(row: &AnyRow) -> Result<SyncLink, StoreError> {
    Ok(SyncLink {
        user_id: parsed(row, "user_id", LINK)?,
        org: parsed(row, "org_cvr", LINK)?,
        employee_uuid: column(row, "employee_uuid", LINK)?,
        remote_status: column(row, "remote_status", LINK)?,
        subject_name_id: column(row, "subject_name_id", LINK)?,
        profile_hash: column(row, "profile_hash", LINK)?,
        linked_at: time(row, "linked_at", LINK)?,
    })
}

fn outbox_from_row(row: &AnyRow) -> Result<OutboxAction, StoreError> {
    let action_json: String = column(row, "action_json", OUTBOX)?;
    let action = serde_json::from_str(&action_json)
        .map_err(|error| StoreError::corrupt(OUTBOX, format!("action_json: {error}")))?;
    Ok(OutboxAction {
        id: column(row, "id", OUTBOX)?,
        org: parsed(row, "org_cvr", OUTBOX)?,
        action,
        state: parsed(row, "state", OUTBOX)?,
        attempts: column(row, "attempts", OUTBOX)?,
        not_before: time(row, "not_before", OUTBOX)?,
        last_error: column(row, "last_error", OUTBOX)?,
        created_at: time(row, "created_at", OUTBOX)?,
    })
}
