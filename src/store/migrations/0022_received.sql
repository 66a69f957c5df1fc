-- Normalised declarations (record::received): every line a municipality
-- has to pay, from a WMO323/JW323 (judged_prestaties, 0013) and from a UBL
-- invoice or credit note it received (POST /invoices) alike. Portable SQL,
-- which SQLite and PostgreSQL both take.

-- The lines of a received invoice or credit note, stored in the same
-- transaction as the document's message. A credit note's lines are
-- credits. The client number and order reference are kept as the seller
-- sent them; the participant and allocation are linked when they match the
-- municipality's own record (client number; ToewijzingNummer or order
-- number), otherwise left empty. An invoice is not judged yet: its lines
-- are 'ingediend'.
CREATE TABLE received_invoice_lines (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    message_id         TEXT NOT NULL REFERENCES messages(id),
    seller             TEXT NOT NULL,      -- the seller's id on the invoice (KvK, endpoint or name)
    seller_name        TEXT,
    document_kind      TEXT NOT NULL,      -- Invoice | CreditNote
    invoice_number     TEXT NOT NULL,
    line_id            TEXT NOT NULL,
    credits            TEXT,               -- the invoice a credit refers to (BillingReference)
    client_reference   TEXT NOT NULL,      -- the client number as sent (never a BSN)
    participant_id     TEXT REFERENCES participants(id),
    order_reference    TEXT,
    order_line         TEXT,
    allocation_id      TEXT REFERENCES allocations(id),
    law                TEXT NOT NULL,
    product_categorie  TEXT,
    product_code       TEXT NOT NULL,
    period_begin       TEXT NOT NULL,
    period_end         TEXT NOT NULL,
    volume             TEXT NOT NULL,      -- decimal, always positive
    unit               TEXT NOT NULL,      -- UN/ECE recommendation 20
    tarief_cents       BIGINT,
    bedrag_cents       BIGINT NOT NULL,    -- always positive: the direction is debet_credit
    currency           TEXT NOT NULL,
    debet_credit       TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_at         TEXT NOT NULL
);

-- The export's hot query: a tenant's lines in a period (van/tot overlap:
-- period_begin <= tot leads), on both sources.
CREATE INDEX received_invoice_lines_period ON received_invoice_lines (tenant_id, period_begin);
CREATE INDEX judged_prestaties_period ON judged_prestaties (tenant_id, period_begin);
-- Retention finds a participant's lines.
CREATE INDEX received_invoice_lines_participant ON received_invoice_lines (tenant_id, participant_id) WHERE participant_id IS NOT NULL;

-- An invoice names its participant by client number: the link to the
-- municipality's record. Most participants have none.
CREATE INDEX participants_client_number ON participants (tenant_id, client_number) WHERE client_number IS NOT NULL;
