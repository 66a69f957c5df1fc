-- API tokens with a name, their last use, and revocation (store::tenants
-- owns tenants and api_tokens). A token's public id is the first 12
-- characters of its hash: enough to name it in `loket token list|revoke`,
-- of no use to authenticate with. Last use is written when a token is
-- looked up afresh (at most once per cache period), not on every request.
ALTER TABLE api_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);
