-- SCIM 2.0 provisioning (issue 5, item 5). Keep migrations/postgres/0011_scim.sql in step.

-- Bearer tokens of SCIM clients (an organisation's IdM or HR system). Only the SHA-256 of the
-- token is kept, so a copy of the database does not let anyone provision; the token is looked
-- up by that hash. Each token acts in exactly one organisation, and stops working at its
-- expiry or when revoked.
CREATE TABLE scim_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    org_cvr     TEXT NOT NULL REFERENCES organisations (cvr),
    name        TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    UNIQUE (org_cvr, name)
);

-- The `externalId` a SCIM client gave a user (RFC 7643 §3.1): the client's own identifier,
-- kept verbatim and returned, never interpreted by Portner.
CREATE TABLE scim_external_ids (
    user_id      TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    external_id  TEXT NOT NULL
);
