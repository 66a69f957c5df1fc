-- Berichten (the message browser, src/web/messages.rs) lists every message
-- of a tenant newest first, 50 a page: with this index that is a walk of
-- the tenant's newest entries, not a sort of all its messages.
CREATE INDEX messages_tenant_created ON messages (tenant_id, created_at, id);
