-- Decisions before the 325 leaves (record::decisions owns both tables).
--
-- declaration_holds: a 325 answering a received 323 that a person decides
-- on (the provider mapping's `[declarations] decide = "person"`). Written
-- when the 323 is judged; the outbox holds the 325 (state 'held') while
-- the row is open, and queues it when it is released by a person or by the
-- answer term nearing its end.
CREATE TABLE declaration_holds (
    retour_id      TEXT PRIMARY KEY REFERENCES messages(id),
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    message_id     TEXT NOT NULL REFERENCES messages(id),
    aanbieder      TEXT NOT NULL,
    received_on    TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    released_at    TEXT,
    released_by    TEXT,
    released_how   TEXT                -- person | deadline
);
CREATE INDEX declaration_holds_message ON declaration_holds (tenant_id, message_id);
CREATE INDEX declaration_holds_open ON declaration_holds (tenant_id, released_at);

-- declaration_decisions: the audit of every change a person made to
-- loket's judgement of a line (who, role, when, old and new verdict, why).
-- judged_id names the judged_prestaties row. It holds loket's ids, codes and
-- the reason a person typed (like every typed field: no BSN or name).
CREATE TABLE declaration_decisions (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    message_id     TEXT NOT NULL,
    judged_id      TEXT NOT NULL,
    referentie_nummer TEXT NOT NULL,
    actor          TEXT NOT NULL,
    actor_name     TEXT NOT NULL,
    role           TEXT NOT NULL,
    decided_at     TEXT NOT NULL,
    old_status     TEXT NOT NULL,
    old_codes      TEXT NOT NULL,
    new_status     TEXT NOT NULL,
    new_codes      TEXT NOT NULL,
    reason         TEXT NOT NULL
);
CREATE INDEX declaration_decisions_message ON declaration_decisions (tenant_id, message_id, decided_at);
