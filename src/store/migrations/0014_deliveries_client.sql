-- The deliveries of one client's ToewijzingNummer are read for every start
-- or stop judged or recorded (record::delivery::history), by both parties
-- and for every kind at once; the key index of 0001 starts with the kind,
-- so without this one each lookup scanned the tenant's deliveries (a run
-- starting 10,000 participants took minutes instead of seconds).
CREATE INDEX deliveries_client ON deliveries (tenant_id, bsn_hash, toewijzing_nummer, current);
-- A 306/308 that rejects a start or stop finds the deliveries of the
-- message it answers.
CREATE INDEX deliveries_message ON deliveries (message_id);
