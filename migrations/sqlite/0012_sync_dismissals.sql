-- An administrator may dismiss a failed sync action (issue 6, item 5): it stays in the outbox
-- with its reason for the record, but no longer counts as an open failure. Who dismissed it
-- and when are kept beside the audit event. Retrying clears both.
ALTER TABLE sync_outbox ADD COLUMN dismissed_at BIGINT;
ALTER TABLE sync_outbox ADD COLUMN dismissed_by TEXT;
