-- Outcomes: what a participant develops toward, measured once and reported
-- to every financier (record::outcomes owns these tables). Same portable
-- style as 0001 (TEXT, BIGINT; ids made by loket; dates YYYY-MM-DD and
-- timestamps as fixed-width UTC ISO-8601 text). Outcome data are special
-- personal data: they name loket's participant id, never a BSN or a name.

-- One measurement with an instrument (schemas/instruments/<instrument>.toml)
-- on one day. The instrument's version is stored with it, so a later
-- edition of the file does not change what this measurement meant. A
-- measurement is evidence (a results claim names it), so it is never
-- changed: a correction is a new measurement that supersedes it.
CREATE TABLE measurements (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    participant_id      TEXT NOT NULL REFERENCES participants(id),
    instrument          TEXT NOT NULL,
    instrument_version  TEXT NOT NULL,
    measured_on         TEXT NOT NULL,
    scored_by           TEXT NOT NULL,     -- users.username, or api-token:<hash prefix>
    scored_by_name      TEXT NOT NULL,     -- the display name at the time ('' for a token)
    evaluation_id       TEXT,              -- the evaluation it was taken in, if any
    superseded_by       TEXT,              -- the correcting measurement
    created_at          TEXT NOT NULL
);
CREATE INDEX measurements_participant
    ON measurements (tenant_id, participant_id, instrument, measured_on);

-- The scores of a measurement, one per domain scored (a domain left out
-- was not scored this time).
CREATE TABLE measurement_scores (
    measurement_id  TEXT NOT NULL REFERENCES measurements(id),
    domain          TEXT NOT NULL,
    score           BIGINT NOT NULL,
    note            TEXT,
    PRIMARY KEY (measurement_id, domain)
);

-- A goal agreed with the participant, in their words, and the domains it
-- concerns.
CREATE TABLE goals (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    participant_id  TEXT NOT NULL REFERENCES participants(id),
    text            TEXT NOT NULL,
    agreed_on       TEXT NOT NULL,
    status          TEXT NOT NULL,         -- open | reached | stopped
    closed_on       TEXT,                  -- reached or stopped on
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX goals_participant ON goals (tenant_id, participant_id);

CREATE TABLE goal_domains (
    goal_id     TEXT NOT NULL REFERENCES goals(id),
    instrument  TEXT NOT NULL,
    domain      TEXT NOT NULL,
    PRIMARY KEY (goal_id, instrument, domain)
);

-- An evaluation with the participant: it looks back on a period (the day
-- notes of that period are shown on its form), records a measurement, the
-- progress on each open goal and the next step.
CREATE TABLE evaluations (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    participant_id  TEXT NOT NULL REFERENCES participants(id),
    held_on         TEXT NOT NULL,
    period_from     TEXT NOT NULL,
    period_to       TEXT NOT NULL,
    next_step       TEXT NOT NULL DEFAULT '',
    satisfaction    BIGINT,                -- the participant's own mark, 1-10 (CBS: cliënttevredenheid)
    written_by      TEXT NOT NULL,
    written_by_name TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX evaluations_participant ON evaluations (tenant_id, participant_id, held_on);

CREATE TABLE evaluation_goals (
    evaluation_id  TEXT NOT NULL REFERENCES evaluations(id),
    goal_id        TEXT NOT NULL REFERENCES goals(id),
    progress       TEXT NOT NULL,          -- none | some | much | reached | stopped
    note           TEXT,
    PRIMARY KEY (evaluation_id, goal_id)
);

-- A participant's own evaluation interval, where it differs from what the
-- group, the financier or the default says.
CREATE TABLE evaluation_plans (
    participant_id  TEXT PRIMARY KEY REFERENCES participants(id),
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    every_weeks     BIGINT NOT NULL,
    set_by          TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- The groups a begeleider works with: a begeleider sees the outcomes of
-- the participants of these groups only.
CREATE TABLE user_groups (
    user_id     TEXT NOT NULL REFERENCES users(id),
    group_name  TEXT NOT NULL,
    PRIMARY KEY (user_id, group_name)
);

-- The daily report, written once with the registration and shown on the
-- evaluation form of the period.
ALTER TABLE registrations ADD COLUMN day_note TEXT;
