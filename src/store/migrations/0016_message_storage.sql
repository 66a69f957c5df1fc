-- Messages are stored compressed (src/store/body.rs): `raw` holds the bytes
-- in `raw_encoding`. Rows written before keep their plain bytes.
--
-- `parsed` is no longer written for iStandaarden messages: their JSON is
-- derived from the stored bytes when a message is shown (GET /messages/{id}),
-- the one place that reads it. Documents whose JSON is loket's own summary
-- (UBL invoices) still carry it.
ALTER TABLE messages ADD COLUMN raw_encoding TEXT NOT NULL DEFAULT 'identity';
