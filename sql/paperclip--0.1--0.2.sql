-- paperclip 0.1 -> 0.2. A fresh CREATE EXTENSION runs paperclip--0.1.sql and
-- then this script, so installs and upgrades end in the same schema (the
-- upgrade test compares their pg_dump --schema-only).

\echo Use "ALTER EXTENSION paperclip UPDATE TO '0.2'" to load this file. \quit
