-- Requests and their answers: what became of a WMO315/JW315 or WMO317/JW317.
-- Plain ADD COLUMN statements, which SQLite and PostgreSQL both take.
--
-- status: sent -> answered (the 316/318 took it in) or rejected (the 316/318
-- refused it: retour_message_id and retourcodes); then accepted (a 319 says it
-- is being investigated) or rejected (a 319 refused it: answer_message_id and
-- the WJ759 reason_code), or honoured (a 301 carries its ReferentieAanbieder:
-- allocation_id).

-- The participant the request is about (the bsn_hash finds it too, but a
-- list per participant should not need the BSN).
ALTER TABLE requests ADD COLUMN participant_id TEXT;
-- What was asked, as loket composed it (JSON: products, dates, volumes; never
-- a BSN or a name), for GET /requests and the participant page.
ALTER TABLE requests ADD COLUMN summary TEXT NOT NULL DEFAULT '{}';
-- The 316/318 that answered it, and the codes it rejected it with.
ALTER TABLE requests ADD COLUMN retour_message_id TEXT;
ALTER TABLE requests ADD COLUMN retourcodes TEXT NOT NULL DEFAULT '[]';
-- The 319: VerzoekAntwoord (WJ760) and RedenAfwijzingVerzoek (WJ759).
ALTER TABLE requests ADD COLUMN answer_message_id TEXT;
ALTER TABLE requests ADD COLUMN answer_code TEXT;
ALTER TABLE requests ADD COLUMN reason_code TEXT;
-- The first allocation a 301 honouring the request created or changed.
ALTER TABLE requests ADD COLUMN allocation_id TEXT;
ALTER TABLE requests ADD COLUMN answered_at TEXT;
ALTER TABLE requests ADD COLUMN updated_at TEXT;

CREATE INDEX requests_participant ON requests (tenant_id, participant_id);
