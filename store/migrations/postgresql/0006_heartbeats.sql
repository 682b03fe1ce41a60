-- Schema version 6 on PostgreSQL (../0006_heartbeats.sql): heartbeats of running runs,
-- and the trial state 'lost'.

ALTER TABLE runs ADD COLUMN heartbeat_at DOUBLE PRECISION;

ALTER TABLE trials DROP CONSTRAINT trials_state_check;
ALTER TABLE trials ADD CONSTRAINT trials_state_check
  CHECK (state IN ('running', 'complete', 'pruned', 'failed', 'interrupted', 'warm', 'lost'));
