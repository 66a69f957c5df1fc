-- NEN 7513: who looked at, exported, changed or downloaded which
-- participant's data, when and from where; and the AVG retention mark.
-- Same portable style as 0001 (TEXT only; ids made by loket; timestamps as
-- fixed-width UTC ISO-8601 text, so that they compare as text).
--
-- Append-only: loket has no UPDATE or DELETE of this table anywhere, and
-- Store::open adds a trigger on each backend that refuses them
-- (store::guards; a trigger's syntax differs per backend, so it cannot be
-- in this shared file). The log holds loket's participant id, never a BSN
-- or a participant's name, so retention leaves it as it is.
CREATE TABLE access_log (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    participant_id  TEXT NOT NULL REFERENCES participants(id),
    actor           TEXT NOT NULL,     -- users.username, api-token:<hash prefix> or system:<job>
    actor_name      TEXT NOT NULL,     -- the user's display name ('' for a token or the system)
    role            TEXT NOT NULL,     -- begeleider | backoffice | beheer | api | systeem
    kind            TEXT NOT NULL,     -- view | export | change | download | pseudonymise
    object          TEXT NOT NULL,     -- the page or call (route template) and the object's id
    peer            TEXT,              -- the socket peer address, when known
    created_at      TEXT NOT NULL
);
CREATE INDEX access_log_participant ON access_log (tenant_id, participant_id, created_at);
CREATE INDEX access_log_time ON access_log (tenant_id, created_at);
CREATE INDEX access_log_actor ON access_log (tenant_id, actor, created_at);

-- When retention replaced the participant's BSN by a pseudonym and removed
-- name and contact (record::retention); NULL while the data are whole.
ALTER TABLE participants ADD COLUMN pseudonymised_at TEXT;
