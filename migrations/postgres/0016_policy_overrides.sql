-- Sign-in policies an administrator changed in the console or through /api/v1 (issue 5
-- item 4). A row overrides the configuration file's value for one key of EDITABLE_POLICIES
-- (shared/src/config/mod.rs); removing the row returns the key to the file's value. Every
-- replica reads this table, so a change reaches them all. Keep
-- migrations/sqlite/0016_policy_overrides.sql in step.
CREATE TABLE policy_overrides (
    key         TEXT PRIMARY KEY NOT NULL,
    value       BIGINT NOT NULL,
    changed_at  BIGINT NOT NULL,
    changed_by  TEXT NOT NULL
);
