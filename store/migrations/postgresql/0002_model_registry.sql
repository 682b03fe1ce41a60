-- Schema version 2 on PostgreSQL: the model registry (../0002_model_registry.sql).

CREATE TABLE models (
  name         TEXT NOT NULL,
  version      BIGINT NOT NULL,
  run_id       TEXT REFERENCES runs (id) ON DELETE SET NULL,
  stage        TEXT,
  path         TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  description  TEXT,
  manifest     TEXT NOT NULL,
  PRIMARY KEY (name, version)
);

CREATE TABLE model_aliases (
  name        TEXT NOT NULL,
  alias       TEXT NOT NULL,
  version     BIGINT NOT NULL,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (name, alias),
  FOREIGN KEY (name, version) REFERENCES models (name, version) ON DELETE CASCADE
);
