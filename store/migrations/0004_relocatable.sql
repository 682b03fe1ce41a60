-- Schema version 4: a store can be moved or copied. Artifact and model paths are
-- recorded relative to the store folder (older stores recorded them absolute: they are
-- rewritten from what the layout fixes, the digest and the name and version, whatever
-- folder the store lived in), and a registered bundle records the SHA-256 of each of
-- its files, so that reading it can tell an edited or missing file.

UPDATE artifacts
   SET path = 'artifacts/sha256/' || substr(sha256, 1, 2) || '/' || substr(path, instr(path, sha256))
 WHERE path LIKE '/%' AND instr(path, sha256) > 0;

UPDATE models SET path = 'models/' || name || '/v' || version WHERE path LIKE '/%';

-- {"manifest.json": "<sha256>", "model.pt": "<sha256>", ...}; NULL for bundles
-- registered before version 4, whose files cannot be verified.
ALTER TABLE models ADD COLUMN files TEXT;
