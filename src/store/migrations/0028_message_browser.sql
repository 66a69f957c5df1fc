-- Berichten (the message browser, src/web/messages.rs) lists every message
-- of a tenant newest first, 50 a page: with this index that is a walk of
-- the tenant's newest entries, not a sort of all its messages.
--
-- Partial on a condition that always holds and that only the list's query
-- names (record::messages::where_of): a plain index led by tenant_id would
-- compete with the exact lookups (TR056, the refused messages' partial
-- index) for every query that names a tenant, and win some of them on a
-- planner's guess.
CREATE INDEX messages_tenant_created ON messages (tenant_id, created_at, id)
    WHERE created_at > '';
