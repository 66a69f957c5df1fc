-- Daily registrations: per tenant, participant and day who was there and for
-- how long, or why not. Same portable style as 0001 (TEXT, BIGINT; ids made
-- by loket; timestamps and dates as ISO-8601 text).
--
-- A correction never overwrites: the new version is inserted and the version
-- it replaces gets superseded_by (the new id) and superseded_at. The current
-- version of a (tenant, participant, day, allocation-or-none) is the one with
-- superseded_by NULL, and there is at most one.

CREATE TABLE registrations (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    participant_id  TEXT NOT NULL REFERENCES participants(id),
    day             TEXT NOT NULL,             -- YYYY-MM-DD
    allocation_id   TEXT REFERENCES allocations(id), -- NULL: not tied to one allocation
    present         BIGINT NOT NULL,           -- 1 present, 0 absent
    absence_reason  TEXT,                      -- sick | holiday | no_show | other (absent only)
    time_from       TEXT,                      -- HH:MM
    time_to         TEXT,                      -- HH:MM (24:00 allowed), after time_from
    minutes         BIGINT,                    -- registered time: time_to - time_from, or the hours given
    dagdelen        BIGINT,                    -- number of dagdelen
    activity        TEXT,                      -- activity or workplace (houtwerkplaats, kas, ...)
    registered_by   TEXT NOT NULL,             -- free name given with the registration
    source          TEXT NOT NULL,             -- 'api' or 'import:<file name>:<line>'
    created_at      TEXT NOT NULL,             -- when loket stored this version
    superseded_by   TEXT REFERENCES registrations(id) DEFERRABLE INITIALLY DEFERRED,
    superseded_at   TEXT
);
CREATE UNIQUE INDEX registrations_current
    ON registrations (tenant_id, participant_id, day, (COALESCE(allocation_id, '')))
    WHERE superseded_by IS NULL;
CREATE INDEX registrations_day ON registrations (tenant_id, day);
CREATE INDEX registrations_participant ON registrations (participant_id, day);
