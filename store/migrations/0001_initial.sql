-- Sluice run store, schema version 1. See store/SCHEMA.md for the meaning of each table.
-- Times are UTC ISO-8601 text with milliseconds ('2026-11-28T21:05:11.123Z') unless a
-- column says seconds; parameter values are JSON text.

CREATE TABLE runs (
  id          TEXT PRIMARY KEY,           -- 16 hex digits; CLI accepts a unique prefix
  pipeline    TEXT NOT NULL,              -- [pipeline] name
  file        TEXT,                       -- absolute path of the pipeline file
  status      TEXT NOT NULL CHECK (status IN
                ('running', 'succeeded', 'failed', 'interrupted', 'crashed')),
  error       TEXT,                       -- why it did not succeed
  started_at  TEXT NOT NULL,
  ended_at    TEXT,
  host        TEXT NOT NULL,
  pid         INTEGER NOT NULL,
  command     TEXT,                       -- the command line that started it
  spec        TEXT                        -- resolved pipeline, JSON
);
CREATE INDEX runs_by_pipeline ON runs (pipeline, started_at);
CREATE INDEX runs_by_status ON runs (status, started_at);
CREATE INDEX runs_by_start ON runs (started_at);

CREATE TABLE params (
  run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key     TEXT NOT NULL,                  -- 'stage.param' or 'pipeline.seed'
  value   TEXT NOT NULL,                  -- JSON
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- Metrics: one row per series (run, key), its points in a table keyed by small
-- integers so that logging stays cheap. Read them through the `metrics` and
-- `metrics_latest` views.
CREATE TABLE metric_series (
  id          INTEGER PRIMARY KEY,
  run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key         TEXT NOT NULL,              -- 'stage.metric'
  last_step   INTEGER,                    -- the newest point, kept by the writer
  last_value  REAL,
  UNIQUE (run_id, key)
);

CREATE TABLE metric_points (
  series_id  INTEGER NOT NULL,            -- metric_series.id (deleted with it, by trigger)
  step       INTEGER NOT NULL,
  value      REAL,                        -- NULL stands for NaN
  logged_at  REAL NOT NULL,               -- seconds since the Unix epoch
  PRIMARY KEY (series_id, step)
) WITHOUT ROWID;

CREATE TRIGGER metric_series_delete AFTER DELETE ON metric_series BEGIN
  DELETE FROM metric_points WHERE series_id = old.id;
END;

CREATE VIEW metrics AS
  SELECT s.run_id, s.key, p.step, p.value, p.logged_at
  FROM metric_points p JOIN metric_series s ON s.id = p.series_id;

CREATE VIEW metrics_latest AS
  SELECT run_id, key, last_step AS step, last_value AS value FROM metric_series;

CREATE TABLE stages (
  run_id          TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name            TEXT NOT NULL,
  position        INTEGER NOT NULL,       -- order of execution
  plugin          TEXT NOT NULL,
  plugin_version  TEXT NOT NULL,
  plugin_file     TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN
                    ('pending', 'running', 'succeeded', 'failed', 'interrupted', 'skipped', 'crashed')),
  started_at      TEXT,
  ended_at        TEXT,
  seconds         REAL,
  cached          INTEGER NOT NULL DEFAULT 0,
  error           TEXT,
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

CREATE TABLE artifacts (
  run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  stage   TEXT NOT NULL,
  name    TEXT NOT NULL,
  path    TEXT NOT NULL,                  -- absolute path under the store's artifacts/
  sha256  TEXT NOT NULL,
  bytes   INTEGER NOT NULL,
  PRIMARY KEY (run_id, stage, name)
) WITHOUT ROWID;
CREATE INDEX artifacts_by_digest ON artifacts (sha256);

CREATE TABLE environment (
  run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key     TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE tags (
  run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key     TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
