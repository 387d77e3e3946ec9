-- Portner schema for PostgreSQL. Times are Unix epoch milliseconds (BIGINT), booleans are
-- 0/1 BIGINTs, UUIDs and JSON are TEXT: the portable subset that sqlx's Any driver carries
-- (specs/dependencies.md §6.1). Integers are BIGINT throughout, because Any decodes INTEGER
-- as i32. Keep migrations/sqlite/ in step.

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
    cpr_encrypted   BYTEA,
    cpr_lookup      BYTEA,
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
    credential_id    BYTEA PRIMARY KEY NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    credential_json  TEXT NOT NULL,
    level            TEXT NOT NULL,
    registered_at    BIGINT NOT NULL,
    last_used_at     BIGINT
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

CREATE TABLE identity_proofings (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       TEXT NOT NULL,
    reference    TEXT NOT NULL,
    level        TEXT NOT NULL,
    verified_by  TEXT NOT NULL,
    verified_at  BIGINT NOT NULL
);
CREATE INDEX identity_proofings_user ON identity_proofings (user_id);

CREATE TABLE sessions (
    id_hash       BYTEA PRIMARY KEY NOT NULL,
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
    id           BIGSERIAL PRIMARY KEY,
    org_cvr      TEXT NOT NULL REFERENCES organisations (cvr),
    action_json  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
    attempts     BIGINT NOT NULL,
    not_before   BIGINT NOT NULL,
    last_error   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX sync_outbox_due ON sync_outbox (state, not_before);

-- The audit chain (audit crate); see the SQLite migration for the design.
CREATE TABLE audit_events (
    seq          BIGINT PRIMARY KEY NOT NULL,
    occurred_at  BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    subject      TEXT NOT NULL,
    data         TEXT NOT NULL,
    prev_hash    BYTEA NOT NULL,
    hash         BYTEA NOT NULL
);

CREATE TABLE audit_head (
    id    BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Append-only in ordinary operation; the hash chain detects anyone who drops this trigger.
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
