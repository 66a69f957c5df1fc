-- The end of a participant's care as the provider registers it (death, a
-- move, outflow to another domain, ...): the next engine run stops every
-- started allocation of the participant with the matching RedenBeeindiging.
CREATE TABLE participant_ends (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    participant_id  TEXT NOT NULL REFERENCES participants(id),
    end_date        TEXT NOT NULL,
    reason          TEXT NOT NULL,     -- overlijden | verhuizing | ander_domein | ...
    reason_code     TEXT NOT NULL,     -- RedenBeeindiging (WMO588 / JW588)
    registered_by   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    processed_at    TEXT
);
CREATE INDEX participant_ends_open ON participant_ends (participant_id, processed_at);
