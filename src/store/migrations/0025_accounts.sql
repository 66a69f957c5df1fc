-- Account administration (web::auth owns users and sessions): a beheer
-- user deactivates an account instead of deleting it (the audit trail and
-- the access log keep naming it), and a reset password is temporary: its
-- user must choose their own at the next login.
ALTER TABLE users ADD COLUMN deactivated_at TEXT;
ALTER TABLE users ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;
