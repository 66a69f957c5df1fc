-- Pay-for-results: milestones staff record and the claims the declaration
-- run makes (record::results owns these tables). Same portable style as
-- 0001 and 0029. Outcome data: participant ids, never a BSN or a name.

-- A milestone a person reached (paid work, the benefit ended, a diploma),
-- recorded by staff. Like a measurement it is evidence, never changed.
CREATE TABLE milestones (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    participant_id  TEXT NOT NULL REFERENCES participants(id),
    kind            TEXT NOT NULL,   -- betaald_werk | uitkering_beeindigd | diploma | eigen
    reached_on      TEXT NOT NULL,
    note            TEXT,
    recorded_by     TEXT NOT NULL,
    recorded_by_name TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX milestones_participant ON milestones (tenant_id, participant_id, reached_on);

-- One claim per participant, financier and result (the mapping's
-- [[results]] id): the UNIQUE key is what makes a second run, a re-run of
-- the same month or a crash between runs unable to claim twice. The line
-- it was sent as is the prestatie with this referentie_nummer (its status
-- is the claim's: submitted, approved, rejected, invoiced).
CREATE TABLE result_claims (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    participant_id      TEXT NOT NULL REFERENCES participants(id),
    financier_id        TEXT NOT NULL REFERENCES financiers(id),
    result_id           TEXT NOT NULL,
    result_name         TEXT NOT NULL,
    reached_on          TEXT NOT NULL,   -- the day the outcome was reached (and held)
    amount_cents        BIGINT NOT NULL,
    allocation_id       TEXT NOT NULL,
    referentie_nummer   TEXT NOT NULL,
    declaration_id      TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    UNIQUE (tenant_id, participant_id, financier_id, result_id)
);
CREATE INDEX result_claims_referentie ON result_claims (tenant_id, referentie_nummer);

-- The evidence of a claim: the measurements (with the score that counted)
-- or the milestone it rests on.
CREATE TABLE result_claim_evidence (
    claim_id        TEXT NOT NULL REFERENCES result_claims(id),
    position        BIGINT NOT NULL,
    measurement_id  TEXT,
    milestone_id    TEXT,
    evidence_on     TEXT NOT NULL,
    domain          TEXT,
    score           BIGINT,
    PRIMARY KEY (claim_id, position)
);
