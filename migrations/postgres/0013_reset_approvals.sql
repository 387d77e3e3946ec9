-- A second operator's approval before a lost second factor is replaced (HD-3; ASVS 6.4.4).
-- Keep migrations/sqlite/0013_reset_approvals.sql in step.
--
-- Operator A, having verified the caller (proofing_id), asks for a reset of an active or
-- locked account; the request waits here until a second helpdesk operator of the same
-- organisation approves it. A then issues the code, which marks the approval used in the
-- same transaction. A request lives as long as the verification it rests on (expires_at).
-- Operators are stored as user IDs; the audit trail names them as actors.
CREATE TABLE reset_approvals (
    id            BIGSERIAL PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    proofing_id   BIGINT NOT NULL REFERENCES identity_proofings (id) ON DELETE CASCADE,
    requested_by  TEXT NOT NULL,
    reason        TEXT NOT NULL,
    requested_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    approved_by   TEXT,
    approved_at   BIGINT,
    used_at       BIGINT,
    CHECK (approved_by IS NULL OR approved_by <> requested_by),
    CHECK ((approved_by IS NULL) = (approved_at IS NULL)),
    CHECK (used_at IS NULL OR approved_at IS NOT NULL)
);
CREATE INDEX reset_approvals_user ON reset_approvals (user_id);
CREATE INDEX reset_approvals_open ON reset_approvals (expires_at) WHERE used_at IS NULL;
