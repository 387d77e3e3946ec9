-- Portner schema for SQLite. Times are Unix epoch milliseconds (BIGINT), booleans are 0/1
-- INTEGERs, UUIDs and JSON are TEXT: the portable subset that sqlx's Any driver carries
-- (specs/dependencies.md §6.1). Keep migrations/postgres/ in step.

CREATE TABLE organisations (
    cvr         TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    suffix      TEXT NOT NULL,
    se_numbers  TEXT NOT NULL,
    p_units     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY NOT NULL,
    org_cvr         TEXT NOT NULL REFERENCES organisations (cvr),
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    email           TEXT NOT NULL,
    cpr_encrypted   BLOB,
    cpr_lookup      BLOB,
    status          TEXT NOT NULL
        CHECK (status IN ('pending_activation', 'active', 'locked', 'disabled')),
    identity_level  TEXT NOT NULL CHECK (identity_level IN ('none', 'low', 'substantial', 'high')),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX users_org ON users (org_cvr);
CREATE INDEX users_cpr_lookup ON users (cpr_lookup);

CREATE TABLE rights (
    id      TEXT PRIMARY KEY NOT NULL,
    name    TEXT NOT NULL,
    source  TEXT NOT NULL CHECK (source IN ('local', 'mitid_erhverv'))
);

CREATE TABLE right_assignments (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    right_id     TEXT NOT NULL REFERENCES rights (id),
    scope_kind   TEXT NOT NULL CHECK (scope_kind IN ('cvr', 'pu', 'se')),
    scope_value  TEXT NOT NULL,
    granted_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, right_id, scope_kind, scope_value)
);

CREATE TABLE password_credentials (
    user_id   TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    phc_hash  TEXT NOT NULL,
    set_at    BIGINT NOT NULL
);

CREATE TABLE webauthn_credentials (
    credential_id    BLOB PRIMARY KEY NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    credential_json  TEXT NOT NULL,
    level            TEXT NOT NULL,
    registered_at    BIGINT NOT NULL,
    last_used_at     BIGINT
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

CREATE TABLE identity_proofings (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       TEXT NOT NULL,
    reference    TEXT NOT NULL,
    level        TEXT NOT NULL,
    verified_by  TEXT NOT NULL,
    verified_at  BIGINT NOT NULL
);
CREATE INDEX identity_proofings_user ON identity_proofings (user_id);

CREATE TABLE sessions (
    id_hash       BLOB PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    level         TEXT NOT NULL,
    factors_json  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE service_providers (
    entity_id      TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    profile        TEXT NOT NULL CHECK (profile IN ('nemlogin', 'own')),
    metadata_xml   TEXT NOT NULL,
    settings_json  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE sync_outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_cvr      TEXT NOT NULL REFERENCES organisations (cvr),
    action_json  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
    attempts     BIGINT NOT NULL,
    not_before   BIGINT NOT NULL,
    last_error   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX sync_outbox_due ON sync_outbox (state, not_before);

-- The audit chain (audit crate). Each record's hash covers its canonical content and the
-- previous record's hash; audit_head holds the last sequence number and hash, and every append
-- updates it first, which serialises appenders (a write lock on SQLite, a row lock on
-- PostgreSQL).
CREATE TABLE audit_events (
    seq          BIGINT PRIMARY KEY NOT NULL,
    occurred_at  BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    subject      TEXT NOT NULL,
    data         TEXT NOT NULL,
    prev_hash    BLOB NOT NULL,
    hash         BLOB NOT NULL
);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- Append-only in ordinary operation. Someone with database access can drop these triggers:
-- the hash chain is what detects that; the triggers stop accidents and careless tools.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
