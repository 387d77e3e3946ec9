-- Tokens of JSON API clients (issue 5, item 4; /api/v1). A token belongs to one staff user and
-- acts with that user's roles, within the access table, so the API grants nothing the console
-- would not; its scope narrows it further (read: GET only). Only the SHA-256 of the token is
-- kept and looked up; each expires and can be revoked. A deleted user takes their tokens along.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    scope       TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    token_hash  BLOB NOT NULL UNIQUE,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    UNIQUE (user_id, name)
);
