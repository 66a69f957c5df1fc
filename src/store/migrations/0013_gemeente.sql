-- A municipality tenant keeps its own allocations, answers the requests it
-- receives and judges the declarations it receives against both. Plain ADD
-- COLUMN statements and a new table, which SQLite and PostgreSQL both take.

-- The provider (AGB code) an allocation is granted to: the 301's Ontvanger.
-- A provider's allocations all name itself; a municipality's name whichever
-- provider it granted them to, so starts, stops and declarations from that
-- provider find them.
ALTER TABLE allocations ADD COLUMN aanbieder TEXT;
CREATE INDEX allocations_aanbieder ON allocations (tenant_id, aanbieder, participant_id);

-- 'out': a request this tenant (a provider) sent; 'in': one it (a
-- municipality) received, from the provider in `aanbieder`, to be answered
-- with a 301 or a 319.
ALTER TABLE requests ADD COLUMN direction TEXT NOT NULL DEFAULT 'out';
ALTER TABLE requests ADD COLUMN aanbieder TEXT;

-- The prestaties of the WMO323/JW323s a municipality received, as it judged
-- them in its 325: approved or rejected with the retourcodes. A
-- ReferentieNummer is unique per provider and law (TR314), so the key names
-- the provider. An approved credit marks the debit it names (credited_by).
CREATE TABLE judged_prestaties (
    id                       TEXT PRIMARY KEY,
    tenant_id                TEXT NOT NULL REFERENCES tenants(id),
    aanbieder                TEXT NOT NULL,
    standard                 TEXT NOT NULL,
    message_id               TEXT NOT NULL REFERENCES messages(id),
    declaratie_nummer        TEXT NOT NULL,
    referentie_nummer        TEXT NOT NULL,
    vorig_referentie_nummer  TEXT,
    participant_id           TEXT REFERENCES participants(id),
    allocation_id            TEXT REFERENCES allocations(id),
    toewijzing_nummer        TEXT NOT NULL,
    product_categorie        TEXT NOT NULL,
    product_code             TEXT,
    period_begin             TEXT NOT NULL,
    period_end               TEXT NOT NULL,
    volume                   BIGINT NOT NULL,
    eenheid                  TEXT NOT NULL,
    tarief_cents             BIGINT,
    bedrag_cents             BIGINT NOT NULL,
    debet_credit             TEXT NOT NULL,
    status                   TEXT NOT NULL,     -- approved | rejected
    retourcodes              TEXT NOT NULL DEFAULT '[]',
    credited_by              TEXT,
    created_at               TEXT NOT NULL,
    UNIQUE (tenant_id, aanbieder, standard, referentie_nummer)
);
CREATE INDEX judged_prestaties_allocation ON judged_prestaties (allocation_id, period_begin);
CREATE INDEX judged_prestaties_declaration ON judged_prestaties (tenant_id, aanbieder, standard, declaratie_nummer);
