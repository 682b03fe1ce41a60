-- Schema version 3: hyperparameter sweeps. A study samples parameters for a pipeline; each
-- trial runs the pipeline as an ordinary run (runs.study_id, runs.trial). Past runs that
-- fit a new study's search space join it as warm-start observations.


CREATE TABLE studies (
  id          TEXT PRIMARY KEY,          -- 16 hex digits, like run ids
  pipeline    TEXT NOT NULL,
  file        TEXT,
  spec        TEXT NOT NULL,             -- the resolved base pipeline (JSON)
  sweep       TEXT NOT NULL,             -- the [sweep] table, resolved (JSON)
  space_key   TEXT NOT NULL,             -- identifies the search space, for warm starts
  metric      TEXT NOT NULL,             -- objective, "stage.metric"
  direction   TEXT NOT NULL CHECK (direction IN ('maximize', 'minimize')),
  status      TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted')),
  created_at  TEXT NOT NULL,
  ended_at    TEXT,
  command     TEXT
);
CREATE INDEX studies_by_pipeline ON studies (pipeline, created_at);

CREATE TABLE trials (
  study_id    TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
  number      INTEGER NOT NULL,          -- 0, 1, ... in the order trials were started
  state       TEXT NOT NULL CHECK (state IN ('running', 'complete', 'pruned', 'failed', 'interrupted', 'warm')),
  run_id      TEXT REFERENCES runs (id) ON DELETE SET NULL,
  params      TEXT NOT NULL,             -- sampled values, JSON object keyed "stage.param"
  value       REAL,                      -- the objective (the last intermediate value if pruned)
  step        INTEGER,                   -- pruned: the step it was stopped at
  worker      TEXT,                      -- pid@host that ran it
  started_at  TEXT NOT NULL,
  ended_at    TEXT,
  revision    INTEGER NOT NULL,          -- 1, 2, ... per study, bumped by every change:
                                         -- workers read only what changed since they last looked
  PRIMARY KEY (study_id, number)
) WITHOUT ROWID;
CREATE INDEX trials_by_revision ON trials (study_id, revision);
CREATE INDEX trials_by_run ON trials (run_id);

ALTER TABLE runs ADD COLUMN study_id TEXT;
ALTER TABLE runs ADD COLUMN trial INTEGER;
CREATE INDEX runs_by_study ON runs (study_id, trial);

-- Runs and stages gain the status 'pruned' (a sweep stopped the trial early). SQLite
-- cannot alter a CHECK constraint; widening one leaves the file format as it is, so the
-- stored schema text is edited in place, last (Migrate() then bumps
-- schema_version so every connection reparses it).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''crashed'')', '''crashed'', ''pruned'')')
  WHERE type = 'table' AND name IN ('runs', 'stages');
PRAGMA writable_schema = OFF;
