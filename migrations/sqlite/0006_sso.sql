-- Verified AuthnRequests waiting for the user to sign in (SS-4): the POST or Redirect request
-- is verified once, stored here, and continued with a same-origin GET that carries only a
-- random handle. The handle is stored hashed; a request is answered once and then deleted.
CREATE TABLE saml_pending_requests (
    handle_hash   BLOB PRIMARY KEY NOT NULL,
    request_json  TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX saml_pending_requests_expiry ON saml_pending_requests (expires_at);

-- Pairwise persistent NameIDs (NI-3, NI-5): one per user and SP, never changed.
CREATE TABLE saml_name_ids (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sp_entity_id TEXT NOT NULL,
    name_id     TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, sp_entity_id)
);

-- The SPs that received an assertion in a sign-in session, for single logout (RS-8, SL-1,
-- SL-2). Keyed by the session's correlation ID, which survives identifier rotation (SS-5).
CREATE TABLE saml_session_participants (
    correlation_id  TEXT NOT NULL,
    sp_entity_id    TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name_id         TEXT NOT NULL,
    name_id_format  TEXT NOT NULL,
    session_index   TEXT NOT NULL,
    issued_at       BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (correlation_id, sp_entity_id)
);
CREATE INDEX saml_session_participants_expiry ON saml_session_participants (expires_at);
