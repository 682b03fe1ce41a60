-- Schema version 5: the build of each stage's plugin. Two builds of one plugin version
-- (a fix rebuilt without a version bump, a different compiler) are told apart by the
-- library's GNU build id, or "sha256:" and the file's digest when it has none.

ALTER TABLE stages ADD COLUMN plugin_build TEXT;
