-- What loket declares and asks, and what came back. Same portable style as
-- 0001 (TEXT, BIGINT; ids made by loket; dates ISO-8601 text; amounts in
-- cents).

-- One WMO323/JW323 (or, later, one invoice): a declaration to one financier
-- for one declaration period.
CREATE TABLE declarations (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    financier_id       TEXT NOT NULL REFERENCES financiers(id),
    message_id         TEXT NOT NULL REFERENCES messages(id),
    standard           TEXT NOT NULL,          -- iwmo | ijw
    declaratie_nummer  TEXT NOT NULL,          -- TR333: unique per provider and law
    period_begin       TEXT NOT NULL,
    period_end         TEXT NOT NULL,
    total_cents        BIGINT NOT NULL,        -- signed: debit minus credit
    status             TEXT NOT NULL,          -- sent | answered
    created_at         TEXT NOT NULL,
    answered_at        TEXT,
    UNIQUE (tenant_id, standard, declaratie_nummer)
);
CREATE INDEX declarations_period ON declarations (tenant_id, financier_id, period_begin);

-- One Prestatie line. A correction is a credit line (debet_credit 'C')
-- whose vorig_referentie_nummer names the debit it cancels, plus a new debit.
CREATE TABLE prestaties (
    id                       TEXT PRIMARY KEY,
    tenant_id                TEXT NOT NULL REFERENCES tenants(id),
    declaration_id           TEXT NOT NULL REFERENCES declarations(id),
    participant_id           TEXT NOT NULL REFERENCES participants(id),
    allocation_id            TEXT NOT NULL REFERENCES allocations(id),
    standard                 TEXT NOT NULL,
    referentie_nummer        TEXT NOT NULL,    -- TR314: unique per provider and law
    vorig_referentie_nummer  TEXT,
    toewijzing_nummer        TEXT NOT NULL,
    product_categorie        TEXT NOT NULL,
    product_code             TEXT NOT NULL,
    period_begin             TEXT NOT NULL,
    period_end               TEXT NOT NULL,
    volume                   BIGINT NOT NULL,
    eenheid                  TEXT NOT NULL,
    tarief_cents             BIGINT,
    bedrag_cents             BIGINT NOT NULL,
    debet_credit             TEXT NOT NULL,    -- D | C
    -- submitted: sent, no answer yet; approved | rejected: per the 325;
    -- a debit that a later credit cancels gets credited_by.
    status                   TEXT NOT NULL,
    retourcodes              TEXT NOT NULL DEFAULT '[]',
    credited_by              TEXT,
    -- SHA-256 over the registrations this line was computed from: a changed
    -- registration changes the basis, and the next run corrects the line.
    basis                    TEXT NOT NULL DEFAULT '',
    created_at               TEXT NOT NULL,
    answered_at              TEXT,
    UNIQUE (tenant_id, standard, referentie_nummer)
);
CREATE INDEX prestaties_allocation ON prestaties (allocation_id, period_begin);
CREATE INDEX prestaties_participant ON prestaties (participant_id);

-- Requests the provider sent (WMO315/JW315 aanvraag, WMO317/JW317 verzoek
-- om wijziging), by ReferentieAanbieder: an allocation that answers one
-- must carry the same reference (TR379).
CREATE TABLE requests (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    message_id            TEXT NOT NULL REFERENCES messages(id),
    bericht               TEXT NOT NULL,       -- WMO315, JW317, ...
    gemeente              TEXT NOT NULL,
    referentie_aanbieder  TEXT NOT NULL,
    bsn_hash              TEXT NOT NULL,
    status                TEXT NOT NULL,       -- sent | answered | rejected
    created_at            TEXT NOT NULL
);
CREATE INDEX requests_reference ON requests (tenant_id, gemeente, referentie_aanbieder);

-- What a person has to look at: a rejected prestatie, a rejected start or
-- stop, delivery beyond an allocation (with the suggestion of a 317).
CREATE TABLE review_items (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    participant_id  TEXT REFERENCES participants(id),
    kind            TEXT NOT NULL,   -- rejected_prestatie | rejected_message | over_allocation | not_declarable
    subject_id      TEXT,            -- the prestatie, message or allocation
    retourcodes     TEXT NOT NULL DEFAULT '[]',
    detail          TEXT NOT NULL DEFAULT '{}',  -- JSON, never a BSN or name
    status          TEXT NOT NULL,   -- open | resolved
    created_at      TEXT NOT NULL,
    resolved_at     TEXT,
    resolved_by     TEXT
);
CREATE INDEX review_items_open ON review_items (tenant_id, status, created_at);
