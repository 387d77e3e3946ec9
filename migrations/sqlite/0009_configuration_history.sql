-- Configuration history (EV-7): `portner serve` looks up the newest CONFIGURATION_APPLIED
-- snapshot at every start, and an export the snapshots around its period. This index serves
-- both without scanning the chain.
CREATE INDEX audit_events_kind ON audit_events (kind, seq);
