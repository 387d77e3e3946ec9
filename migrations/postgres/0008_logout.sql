-- Single logout in progress (SL-2): after the initiating SP's session ends, Portner sends a
-- LogoutRequest to each other SP of the session in turn through the browser, and answers the
-- initiator when the last one has replied. The browser carries only a random handle (as
-- RelayState); the state itself stays here, so nobody can skip or reorder the SPs.
CREATE TABLE saml_logouts (
    handle_hash  BYTEA PRIMARY KEY NOT NULL,
    state_json   TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX saml_logouts_expiry ON saml_logouts (expires_at);
