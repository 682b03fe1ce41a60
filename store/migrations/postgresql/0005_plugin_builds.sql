-- Schema version 5 on PostgreSQL (../0005_plugin_builds.sql): the build of each stage's
-- plugin.

ALTER TABLE stages ADD COLUMN plugin_build TEXT;
