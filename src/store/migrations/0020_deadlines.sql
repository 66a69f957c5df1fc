-- The conversation ledger and the deadlines (record::conversation,
-- record::deadlines) find a retour by what the exchange says it answers
-- (als_antwoord_op = the heenbericht's traceer_id), from the heenbericht's
-- side: without this index that is a scan of the tenant's messages per
-- message asked about.
CREATE INDEX messages_als_antwoord_op ON messages (tenant_id, als_antwoord_op) WHERE als_antwoord_op IS NOT NULL;
