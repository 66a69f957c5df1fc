-- The back-office web app: people who log in, their sessions, and what they
-- did. Same portable style as 0001 (TEXT, BIGINT; ids made by loket;
-- timestamps as fixed-width UTC ISO-8601 text, so that they compare as text).

-- A person of one tenant. Roles: begeleider (daily registration),
-- backoffice (review, declarations), beheer (users and everything else).
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    username       TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,          -- argon2id PHC string; never the password
    failed_logins  BIGINT NOT NULL DEFAULT 0,
    locked_until   TEXT,                   -- after repeated failures
    created_at     TEXT NOT NULL,
    UNIQUE (tenant_id, username)
);

-- A logged-in browser. The cookie holds a random token; only its SHA-256 is
-- stored, so a copy of the database does not log anyone in.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    csrf_token  TEXT NOT NULL,             -- must come back with every form
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Who did what and when in the web app (resend, close, corrections, users).
-- `detail` is JSON and never holds a BSN or a name.
CREATE TABLE audit_log (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    actor         TEXT NOT NULL,           -- users.username
    action        TEXT NOT NULL,
    subject_kind  TEXT,
    subject_id    TEXT,
    detail        TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (tenant_id, subject_kind, subject_id);

-- The group or location a participant attends (the day-activity group, the
-- workplace): the daily registration lists a group's participants.
ALTER TABLE participants ADD COLUMN group_name TEXT;
