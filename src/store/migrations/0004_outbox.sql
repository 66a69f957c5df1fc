-- The outbox: every message loket generates or a provider composes is stored
-- here (and in `messages`, direction 'out') in the producer's transaction,
-- before anything is sent. Same portable style as 0001 (TEXT, BIGINT; ids
-- made by loket; timestamps as fixed-width UTC ISO-8601 text, so that they
-- compare as text).
--
-- States: queued (waiting for next_attempt_at) -> sending (claimed by a
-- worker until lease_until) -> sent | failed; failed -> queued by hand
-- (POST /outbox/{id}/retry). A 'sending' row whose lease ran out belongs to a
-- worker that stopped mid-send and is claimed again: a resend, which the
-- receiver's TR056 check makes harmless.

CREATE TABLE outbox (
    message_id       TEXT PRIMARY KEY REFERENCES messages(id),
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    financier        TEXT NOT NULL,             -- mapping key, e.g. 'wmo:0363'
    bericht          TEXT NOT NULL,             -- WMO315, JW323, ...
    identificatie    TEXT NOT NULL,             -- Header/BerichtIdentificatie/Identificatie
    target_kind      TEXT NOT NULL,             -- 'http' | 'folder'
    target           TEXT NOT NULL,             -- URL or absolute folder, as the mapping said when queued
    token_env        TEXT,                      -- name of the environment variable holding the API token (never the token)
    state            TEXT NOT NULL,             -- queued | sending | sent | failed
    attempts         BIGINT NOT NULL DEFAULT 0, -- delivery attempts so far
    backoff_from     BIGINT NOT NULL DEFAULT 0, -- attempts when last queued by hand: backoff counts from here
    next_attempt_at  TEXT NOT NULL,
    lease_until      TEXT,                      -- while 'sending'
    last_error       TEXT,                      -- never a BSN or name
    response_status  BIGINT,                    -- HTTP status of the last attempt
    retour_id        TEXT,                      -- the retourbericht received (messages.id, direction 'in')
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_target ON outbox (tenant_id, target, state, message_id);
CREATE INDEX outbox_tenant ON outbox (tenant_id, message_id);
