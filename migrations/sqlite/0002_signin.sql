-- Sign-in (issue 3): activation codes, WebAuthn ceremony state, lockout counters, password
-- history, and a flag on credentials whose signature counter went backwards (W6).
-- Keep migrations/postgres/0002_signin.sql in step.

-- One-time activation codes, stored as SHA-256 of the code. Each rests on an identity-proofing
-- record (or none, which caps the account at Low) and carries that record's level.
CREATE TABLE activation_codes (
    code_hash    BLOB PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    proofing_id  BIGINT,
    level        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX activation_codes_user ON activation_codes (user_id);

-- WebAuthn ceremony state (webauthn-rs's registration or authentication state), kept
-- server-side so any replica can finish a ceremony; keyed by SHA-256 of a random handle.
CREATE TABLE webauthn_ceremonies (
    handle_hash   BLOB PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL,
    state_json    TEXT NOT NULL,
    context_json  TEXT NOT NULL,
    expires_at    BIGINT NOT NULL
);

-- Failed password attempts since the last success, and the end of a running lockout (LK-1).
CREATE TABLE sign_in_failures (
    user_id       TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failures      BIGINT NOT NULL,
    locked_until  BIGINT,
    updated_at    BIGINT NOT NULL
);

-- Earlier password hashes, for the history rule of the password policy.
CREATE TABLE password_history (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    phc_hash  TEXT NOT NULL,
    set_at    BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, set_at);

ALTER TABLE webauthn_credentials ADD COLUMN flagged_at BIGINT;
