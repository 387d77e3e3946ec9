-- NemID employee-signature RIDs of users migrating from NemID (issue 6 item 2): MitID Erhverv
-- creation passes a user's RID so that they keep their rights, and `portner sync migrate`
-- matches imported identities to users by it. Kept apart from the users table, as the CPR
-- number's lookup is, so that only the code that needs it reads it. Keep
-- migrations/sqlite/0017_user_rids.sql in step.
CREATE TABLE user_rids (
    user_id  TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rid      TEXT NOT NULL UNIQUE
);
