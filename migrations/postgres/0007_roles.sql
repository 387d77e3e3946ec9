-- Roles and the helpdesk (issue 5). Keep migrations/sqlite/0007_roles.sql in step.

-- Staff roles, each held in one organisation. A user may hold several roles, and the same
-- role in several organisations.
CREATE TABLE role_assignments (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_cvr     TEXT NOT NULL REFERENCES organisations (cvr),
    role        TEXT NOT NULL CHECK (role IN ('administrator', 'auditor', 'helpdesk')),
    granted_by  TEXT NOT NULL,
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, org_cvr, role)
);

-- The identity document a helpdesk operator checked (HD-1): passport, driving licence,
-- residence card or other. Older records and non-document methods leave it empty.
ALTER TABLE identity_proofings ADD COLUMN document_type TEXT;

-- A helpdesk operator asked the user to choose a new password at the next opportunity.
CREATE TABLE password_change_requirements (
    user_id      TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    required_by  TEXT NOT NULL,
    required_at  BIGINT NOT NULL
);

-- The helpdesk shows a user's recent sign-ins and lockouts from the audit trail.
CREATE INDEX audit_events_subject ON audit_events (subject, seq);
