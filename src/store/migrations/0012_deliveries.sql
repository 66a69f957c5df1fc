-- Starts and stops as both parties keep them (record::delivery). A stop
-- must repeat its start's key elements unchanged (TR382), so a start keeps
-- its product and ToewijzingIngangsdatum; the allocation a delivery belongs
-- to is kept where the record has it (the provider's start/stop run plans
-- from it); a removal (StatusAanlevering 3) names the message that removed
-- the row, and a start or stop the counterpart rejected (306/308) is marked,
-- so that a rejected removal can be undone and a rejected start is not sent
-- again before a person has looked at it.
ALTER TABLE deliveries ADD COLUMN product_categorie TEXT;
ALTER TABLE deliveries ADD COLUMN product_code TEXT;
ALTER TABLE deliveries ADD COLUMN toewijzing_ingangsdatum TEXT;
ALTER TABLE deliveries ADD COLUMN allocation_id TEXT REFERENCES allocations(id);
ALTER TABLE deliveries ADD COLUMN removed_by TEXT;
ALTER TABLE deliveries ADD COLUMN answer TEXT;
CREATE INDEX deliveries_allocation ON deliveries (allocation_id, kind, current);
CREATE INDEX deliveries_removed_by ON deliveries (removed_by);

-- The end of care names a meaning (volgens_plan, verhuizing, ...); its
-- RedenBeeindiging depends on the law of each allocation it stops (WMO588
-- and JZ588 differ), so it is looked up when the stop is built, not stored
-- once for all laws.
ALTER TABLE participant_ends DROP COLUMN reason_code;
