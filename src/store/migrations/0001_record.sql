-- loket's durable record. One schema for SQLite (embedded default) and
-- PostgreSQL: portable types only (TEXT, BIGINT, BYTEA), ids made by loket,
-- timestamps as UTC ISO-8601 text.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,          -- AGB code (aanbieder) or gemeentecode (gemeente)
    kind        TEXT NOT NULL,             -- 'aanbieder' | 'gemeente'
    name        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY,          -- SHA-256 of the bearer token; the token itself is never stored
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    created_at  TEXT NOT NULL
);

CREATE TABLE financiers (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    kind        TEXT NOT NULL,             -- wmo | jeugdwet | uwv | participatiewet | wlz | pgb
    code        TEXT NOT NULL,             -- gemeentecode, zorgkantoor code, 'UWV', 'SVB'
    name        TEXT NOT NULL DEFAULT '',
    standard    TEXT NOT NULL,             -- iwmo | ijw | ubl
    UNIQUE (tenant_id, kind, code)
);

CREATE TABLE participants (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    bsn           TEXT NOT NULL,
    client_number TEXT,
    birth_date    TEXT,
    gender        TEXT,
    name_json     TEXT NOT NULL DEFAULT '{}',
    contact_json  TEXT NOT NULL DEFAULT '[]',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (tenant_id, bsn)
);

CREATE TABLE messages (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    direction      TEXT NOT NULL,          -- 'in' | 'out'
    standard       TEXT,
    bericht        TEXT,                   -- WMO301, JW302, ...
    sender         TEXT,
    receiver       TEXT,
    identificatie  TEXT,
    dagtekening    TEXT,
    participant_id TEXT REFERENCES participants(id),
    status         TEXT NOT NULL,          -- accepted | rejected | unusable | sent
    retourcodes    TEXT NOT NULL DEFAULT '[]',
    findings       TEXT NOT NULL DEFAULT '[]',
    parsed         TEXT,
    raw            BYTEA NOT NULL,
    answer_id      TEXT,
    answer_of      TEXT,
    created_at     TEXT NOT NULL
);
-- TR056: BerichtIdentificatie is unique per berichtsoort for the sender.
CREATE UNIQUE INDEX messages_tr056 ON messages (tenant_id, direction, sender, bericht, identificatie)
    WHERE identificatie IS NOT NULL;
CREATE INDEX messages_participant ON messages (participant_id);

CREATE TABLE allocations (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES tenants(id),
    participant_id       TEXT NOT NULL REFERENCES participants(id),
    financier_id         TEXT NOT NULL REFERENCES financiers(id),
    toewijzing_nummer    TEXT NOT NULL,
    referentie_aanbieder TEXT,
    product_categorie    TEXT,
    product_code         TEXT,
    toewijzingsdatum     TEXT,
    ingangsdatum         TEXT NOT NULL,
    einddatum            TEXT,
    reden_wijziging      TEXT,
    volume               BIGINT,
    eenheid              TEXT,
    frequentie           TEXT,
    budget               BIGINT,
    status               TEXT NOT NULL,    -- requested | allocated | started | stopped | ended | withdrawn
    updated_at           TEXT NOT NULL,
    UNIQUE (tenant_id, financier_id, toewijzing_nummer)
);
CREATE INDEX allocations_participant ON allocations (participant_id);

CREATE TABLE allocation_events (
    id             TEXT PRIMARY KEY,
    allocation_id  TEXT NOT NULL REFERENCES allocations(id),
    message_id     TEXT NOT NULL REFERENCES messages(id),
    status         TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL
);
CREATE INDEX allocation_events_allocation ON allocation_events (allocation_id);

-- Start and stop deliveries (305/307 StartProduct/StopProduct) by their
-- logical key, for TR063, TR071, TR074, TR326, TR382 and TR413-TR415.
CREATE TABLE deliveries (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    kind               TEXT NOT NULL,      -- 'start' | 'stop'
    bsn_hash           TEXT NOT NULL,      -- SHA-256 of tenant + BSN: the key without the BSN itself
    toewijzing_nummer  TEXT NOT NULL,
    begindatum         TEXT NOT NULL,
    einddatum          TEXT,
    reden_beeindiging  TEXT,
    status_aanlevering TEXT NOT NULL,
    current            BIGINT NOT NULL DEFAULT 1,
    message_id         TEXT NOT NULL REFERENCES messages(id),
    created_at         TEXT NOT NULL
);
CREATE INDEX deliveries_key ON deliveries (tenant_id, kind, bsn_hash, toewijzing_nummer, begindatum);
