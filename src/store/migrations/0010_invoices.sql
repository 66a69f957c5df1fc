-- Invoices (UBL 2.1) for financiers paid on invoice: UWV, a municipality's
-- Participatiewet department. Same portable style as 0001; plain
-- ADD COLUMN statements, which SQLite and PostgreSQL both take.

-- What format an outgoing document is in: 'istandaard' (a retourbericht may
-- come back and is ingested) or 'ubl' (an access point's answer is only a
-- receipt; nothing to ingest).
ALTER TABLE outbox ADD COLUMN format TEXT NOT NULL DEFAULT 'istandaard';

-- An order (opdracht) of an invoiced financier is an allocation too: UWV
-- sends no 301, so the provider registers it (POST /allocations) with the
-- order number the invoice must quote, the order line, the agreed price and
-- what it is per, and the participant's own reference (client number) that
-- goes on the invoice instead of the BSN.
ALTER TABLE allocations ADD COLUMN order_number TEXT;
ALTER TABLE allocations ADD COLUMN order_line TEXT;
ALTER TABLE allocations ADD COLUMN price_cents BIGINT;
ALTER TABLE allocations ADD COLUMN price_basis TEXT;     -- hour | day | month | milestone
ALTER TABLE allocations ADD COLUMN client_reference TEXT;

-- An invoice or credit note is a declaration (standard 'ubl', declaratie_nummer
-- = the invoice number); a credit note names its invoices by number and
-- issue date (BillingReference), so the issue date is kept.
ALTER TABLE declarations ADD COLUMN issue_date TEXT;

-- A municipality's government organisation number (OIN): an invoice it
-- receives must name it as the buyer (POST /invoices).
ALTER TABLE tenants ADD COLUMN oin TEXT;
