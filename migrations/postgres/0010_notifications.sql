-- Notices to users about changes to their sign-in (HD-5; ASVS 6.3.7): written in the same
-- transaction as the change, sent by the server's notification task through the configured
-- SMTP relay, retried, and given up (audited) after a day. The address is read when sending.
CREATE TABLE notifications (
    id               BIGSERIAL PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    sent_at          BIGINT,
    given_up_at      BIGINT,
    last_error       TEXT
);
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE sent_at IS NULL AND given_up_at IS NULL;
