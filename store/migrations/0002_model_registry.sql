-- Schema version 2: the model registry. A bundle stage registers each bundle it writes
-- under a name; versions count up per name; aliases (e.g. "production") point at one.

CREATE TABLE models (
  name         TEXT NOT NULL,
  version      INTEGER NOT NULL,
  run_id       TEXT REFERENCES runs (id) ON DELETE SET NULL,
  stage        TEXT,
  path         TEXT NOT NULL,           -- the bundle folder, <store>/models/NAME/vVERSION
  created_at   TEXT NOT NULL,
  description  TEXT,
  manifest     TEXT NOT NULL,           -- the bundle's manifest.json
  PRIMARY KEY (name, version)
);

CREATE TABLE model_aliases (
  name        TEXT NOT NULL,
  alias       TEXT NOT NULL,
  version     INTEGER NOT NULL,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (name, alias),
  FOREIGN KEY (name, version) REFERENCES models (name, version) ON DELETE CASCADE
);
