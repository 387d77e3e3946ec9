-- Audit evidence (issue 7): signed checkpoints of the chain head, the anchor the chain starts
-- from after pruning, and the one path by which old records may leave audit_events.
--
-- How pruning stays the only way out (LG-3, LG-5): a record may be deleted only when its
-- sequence number is at or below the anchor, and the anchor may only move forward onto a
-- stored checkpoint with the same hash. `portner audit prune` (audit/src/retention.rs) moves
-- the anchor, deletes the records up to it and appends an AUDIT_PRUNED event, all in one
-- transaction. Anyone with database access can still drop these triggers; the signed
-- checkpoints (and the external checkpoint file) are what make that detectable.

CREATE TABLE audit_checkpoints (
    seq              BIGINT PRIMARY KEY NOT NULL,
    hash             BLOB NOT NULL,
    created_at       BIGINT NOT NULL,
    key_fingerprint  TEXT NOT NULL,
    signature        BLOB NOT NULL
);

-- Exports and pruning select records by time.
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);

CREATE TABLE audit_anchor (
    id    INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  BLOB NOT NULL
);
INSERT INTO audit_anchor (id, seq, hash) VALUES (1, 0, zeroblob(32));

DROP TRIGGER audit_events_no_delete;

CREATE TRIGGER audit_events_delete_only_up_to_anchor BEFORE DELETE ON audit_events
WHEN OLD.seq > (SELECT seq FROM audit_anchor WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_anchor_moves_forward_onto_checkpoint BEFORE UPDATE ON audit_anchor
WHEN NEW.seq < OLD.seq
    OR NOT EXISTS (
        SELECT 1 FROM audit_checkpoints WHERE seq = NEW.seq AND hash = NEW.hash
    )
BEGIN
    SELECT RAISE(ABORT, 'the audit anchor moves only forward, onto a signed checkpoint');
END;

CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_anchor
BEGIN
    SELECT RAISE(ABORT, 'the audit anchor cannot be deleted');
END;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
