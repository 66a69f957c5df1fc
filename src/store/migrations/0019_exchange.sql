-- The exchange (VECOZO's VSP-Koppeling): the identifiers a message carries
-- there, and what the exchange says about what loket pushed. Same portable
-- style as 0001 (TEXT, BIGINT; ids made by loket; timestamps as fixed-width
-- UTC ISO-8601 text).
--
-- conversatie_id and traceer_id are the UUIDs of the exchange's
-- referentiegegevens: chosen by loket for what it pushes (at the first
-- attempt, kept for every retry), taken from the metadata for what it
-- pulls. als_antwoord_op is the traceerId of the message a retour answers.
-- A message that never crossed the exchange has none of them.
ALTER TABLE messages ADD COLUMN conversatie_id TEXT;
ALTER TABLE messages ADD COLUMN traceer_id TEXT;
ALTER TABLE messages ADD COLUMN als_antwoord_op TEXT;
CREATE INDEX messages_traceer ON messages (tenant_id, traceer_id) WHERE traceer_id IS NOT NULL;
CREATE INDEX messages_conversatie ON messages (tenant_id, conversatie_id) WHERE conversatie_id IS NOT NULL;

-- The last berichtstatus the exchange reported for a pushed message
-- (GET /berichtstatussen), checked until it is final. A row is made when
-- the push is accepted (status NULL until the exchange first reports).
CREATE TABLE exchange_status (
    message_id      TEXT PRIMARY KEY REFERENCES messages(id),
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    status          TEXT,                   -- Ontvangen, WordtVerwerkt, ..., Bezorgd, AanbiedenMislukt
    changed_at      TEXT,                   -- berichtstatusGewijzigdOp, as the exchange wrote it
    final           BIGINT NOT NULL,        -- 1 once the status can no longer change
    checked_at      TEXT NOT NULL,
    next_check_at   TEXT NOT NULL
);
CREATE INDEX exchange_status_due ON exchange_status (next_check_at) WHERE final = 0;

-- The meldingen that came with the status (codes of VECOZO, the GGk or the
-- Zorginstituut's rules), in the order the exchange gave them.
CREATE TABLE exchange_meldingen (
    message_id      TEXT NOT NULL REFERENCES messages(id),
    seq             BIGINT NOT NULL,
    code            TEXT NOT NULL,
    omschrijving    TEXT NOT NULL,
    toelichting     TEXT,
    PRIMARY KEY (message_id, seq)
);
