-- Schema version 4 on PostgreSQL (../0004_relocatable.sql): a registered bundle records
-- the SHA-256 of each of its files. Paths were relative from the start here.

ALTER TABLE models ADD COLUMN files TEXT;
