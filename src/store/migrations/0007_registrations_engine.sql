-- The engine reads a month of current registrations at a time; with the
-- day index covering what it reads, SQLite answers from the index alone
-- instead of one table lookup per registered day (measured on 220,000
-- registrations: 0.5 s -> 0.3 s for the engine's read).
DROP INDEX registrations_day;
CREATE INDEX registrations_day ON registrations
    (tenant_id, day, participant_id, allocation_id, activity, present, minutes, dagdelen, superseded_by);
