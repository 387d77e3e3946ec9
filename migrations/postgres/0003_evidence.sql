-- Audit evidence (issue 7); see the SQLite migration for the design. Deleting audit records
-- is possible only at or below the anchor, and the anchor moves only forward onto a stored
-- checkpoint, which is the path `portner audit prune` takes.

CREATE TABLE audit_checkpoints (
    seq              BIGINT PRIMARY KEY NOT NULL,
    hash             BYTEA NOT NULL,
    created_at       BIGINT NOT NULL,
    key_fingerprint  TEXT NOT NULL,
    signature        BYTEA NOT NULL
);

-- Exports and pruning select records by time.
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);

CREATE TABLE audit_anchor (
    id    BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  BYTEA NOT NULL
);
INSERT INTO audit_anchor (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- The foundation's trigger calls this function for UPDATE and DELETE on audit_events.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.seq <= (SELECT seq FROM audit_anchor WHERE id = 1) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION audit_anchor_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq OR NOT EXISTS (
        SELECT 1 FROM audit_checkpoints WHERE seq = NEW.seq AND hash = NEW.hash
    ) THEN
        RAISE EXCEPTION 'the audit anchor moves only forward, onto a signed checkpoint';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_anchor_forward BEFORE UPDATE OR DELETE ON audit_anchor
    FOR EACH ROW EXECUTE FUNCTION audit_anchor_forward_only();

CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_checkpoints is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();
