-- Schema version 6: heartbeats, for stores that several hosts share (PostgreSQL). A
-- running run's process writes runs.heartbeat_at (Unix seconds) every few seconds; a run
-- whose heartbeat stopped is marked crashed by whoever notices, and the sweep trial it
-- was running becomes 'lost': failed because its worker died or fell silent, its place in
-- the study's budget (and its grid point) given to another trial.

ALTER TABLE runs ADD COLUMN heartbeat_at REAL;

-- Trials gain the state 'lost' (see 0003 for why the schema text is edited in place).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''interrupted'', ''warm'')', '''interrupted'', ''warm'', ''lost'')')
  WHERE type = 'table' AND name = 'trials';
PRAGMA writable_schema = OFF;
