-- Schema version 3 on PostgreSQL: hyperparameter sweeps (../0003_studies.sql).

CREATE TABLE studies (
  id          TEXT PRIMARY KEY,
  pipeline    TEXT NOT NULL,
  file        TEXT,
  spec        TEXT NOT NULL,
  sweep       TEXT NOT NULL,
  space_key   TEXT NOT NULL,
  metric      TEXT NOT NULL,
  direction   TEXT NOT NULL CHECK (direction IN ('maximize', 'minimize')),
  status      TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted')),
  created_at  TEXT NOT NULL,
  ended_at    TEXT,
  command     TEXT
);
CREATE INDEX studies_by_pipeline ON studies (pipeline, created_at);

CREATE TABLE trials (
  study_id    TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
  number      BIGINT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('running', 'complete', 'pruned', 'failed', 'interrupted', 'warm')),
  run_id      TEXT REFERENCES runs (id) ON DELETE SET NULL,
  params      TEXT NOT NULL,
  value       DOUBLE PRECISION,
  step        BIGINT,
  worker      TEXT,
  started_at  TEXT NOT NULL,
  ended_at    TEXT,
  revision    BIGINT NOT NULL,
  PRIMARY KEY (study_id, number)
);
CREATE INDEX trials_by_revision ON trials (study_id, revision);
CREATE INDEX trials_by_run ON trials (run_id);

ALTER TABLE runs ADD COLUMN study_id TEXT;
ALTER TABLE runs ADD COLUMN trial BIGINT;
CREATE INDEX runs_by_study ON runs (study_id, trial);

-- Runs and stages gain the status 'pruned'.
ALTER TABLE runs DROP CONSTRAINT runs_status;
ALTER TABLE runs ADD CONSTRAINT runs_status
  CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'crashed', 'pruned'));
ALTER TABLE stages DROP CONSTRAINT stages_status;
ALTER TABLE stages ADD CONSTRAINT stages_status CHECK (status IN
  ('pending', 'running', 'succeeded', 'failed', 'interrupted', 'skipped', 'crashed', 'pruned'));
