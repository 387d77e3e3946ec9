-- MitID Erhverv IdM sync (issue 6; mitid-erhverv-idm-api.md §6, §7). Keep
-- migrations/postgres/0004_sync.sql in step.

-- Which organisations are synced, how (§7.1 modes), and how to reach their tenant. The client
-- certificate is referenced by file path; the secret itself never enters the database.
CREATE TABLE sync_organisations (
    org_cvr            TEXT PRIMARY KEY NOT NULL REFERENCES organisations (cvr),
    mode               TEXT NOT NULL CHECK (mode IN ('light', 'local_idp')),
    base_url           TEXT NOT NULL,
    client_cert_path   TEXT NOT NULL,
    client_key_path    TEXT,
    trust_roots_path   TEXT NOT NULL,
    default_email      TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

-- The primary link (§6 L1): the employee UUID of each synced user, and what Portner last set
-- remotely, so stale or cancelled intents need no call (§7.2).
CREATE TABLE sync_links (
    user_id         TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_cvr         TEXT NOT NULL REFERENCES organisations (cvr),
    employee_uuid   TEXT NOT NULL UNIQUE,
    remote_status   TEXT NOT NULL,
    subject_name_id TEXT NOT NULL,
    profile_hash    TEXT NOT NULL,
    linked_at       BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Outbox extensions (§7.2): the user an action concerns (for per-user ordering), an
-- idempotency key (one pending row per key), whether the row was recovered from a crashed
-- claim (then CREATE looks before it leaps), the last HTTP status and the last change time.
ALTER TABLE sync_outbox ADD COLUMN user_id TEXT;
ALTER TABLE sync_outbox ADD COLUMN dedupe_key TEXT;
ALTER TABLE sync_outbox ADD COLUMN recovered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_outbox ADD COLUMN last_status BIGINT;
ALTER TABLE sync_outbox ADD COLUMN updated_at BIGINT;
CREATE UNIQUE INDEX sync_outbox_pending_key ON sync_outbox (dedupe_key) WHERE state = 'pending';
CREATE INDEX sync_outbox_user ON sync_outbox (user_id, id);
-- The claim walks pending rows in id order and stops at its limit, instead of sorting every
-- pending row on each claim.
CREATE INDEX sync_outbox_claim ON sync_outbox (state, id);

-- Reconcile drift findings (§7.5), open until resolved.
CREATE TABLE sync_findings (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    org_cvr        TEXT NOT NULL REFERENCES organisations (cvr),
    kind           TEXT NOT NULL,
    user_id        TEXT,
    employee_uuid  TEXT,
    detail         TEXT NOT NULL,
    first_seen     BIGINT NOT NULL,
    last_seen      BIGINT NOT NULL,
    resolved_at    BIGINT
);
CREATE INDEX sync_findings_open ON sync_findings (org_cvr, resolved_at);

-- One row per reconcile or drain run, for `portner sync status`.
CREATE TABLE sync_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_cvr      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('drain', 'reconcile')),
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT NOT NULL,
    summary      TEXT NOT NULL
);
