-- The indexes every hot lookup needs, so that a resend, an answer or a queue
-- costs the same with ten thousand stored messages as with a million
-- (tests/query_plans.rs asserts the plans on both backends).

-- A heenbericht's answer: the TR056 resend lookup joins the stored retour on
-- it, the message page shows it, and linking an answer checks there is none.
-- Most rows answer nothing; only those that do are indexed.
CREATE INDEX messages_answer_of ON messages (answer_of) WHERE answer_of IS NOT NULL;

-- An answer (306, 308, 316, 318, 320, 325) quotes our message by
-- BerichtIdentificatie and Dagtekening, without the sender that leads the
-- TR056 index. Only outgoing messages are ever quoted.
CREATE INDEX messages_quoted ON messages (tenant_id, identificatie, bericht) WHERE direction = 'out';

-- The refused messages on /afgekeurd, newest first; few of all.
CREATE INDEX messages_refused ON messages (tenant_id, created_at)
    WHERE direction = 'in' AND status IN ('rejected', 'unusable');

-- The review list, newest first, whatever the filters.
CREATE INDEX review_items_recent ON review_items (tenant_id, created_at);
