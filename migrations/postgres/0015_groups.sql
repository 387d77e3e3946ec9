-- Groups of users (issue 5 item 5, SCIM Groups; issue 6 item 2, a sync scoped to the members of
-- a configured group). Keep migrations/sqlite/0015_groups.sql in step.

-- A group belongs to one organisation. Its name is unique within the organisation without
-- regard to case (name_key holds it lowercased), because a sync scope names the group by it.
-- version counts changes, for the SCIM ETag (RFC 7644 §3.14).
CREATE TABLE user_groups (
    id            TEXT PRIMARY KEY NOT NULL,
    org_cvr       TEXT NOT NULL REFERENCES organisations (cvr),
    display_name  TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    external_id   TEXT,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (org_cvr, name_key)
);

-- Members are users of the group's organisation; deleting a user or a group removes the row.
CREATE TABLE user_group_members (
    group_id  TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX user_group_members_user ON user_group_members (user_id);

-- An organisation synced with a scope group sends only that group's members to MitID
-- Erhverv; without one, all its users (issue 6 item 2). A scope group cannot be deleted.
ALTER TABLE sync_organisations ADD COLUMN scope_group_id TEXT REFERENCES user_groups (id);
