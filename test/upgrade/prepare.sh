#!/usr/bin/env bash
# test/upgrade/prepare.sh DATABASE: a database upgraded from a filled
# paperclip 0.1, for the pgTAP suites (test/run-all.sh runs them against it
# as well as against a fresh install). It installs pgTAP and 0.1 holding
# what 0.1 wrote through its API (load-0.1.sh), runs ALTER EXTENSION
# paperclip UPDATE, then empties the extension's tables: the suites expect
# no rows but their own, and what they check here is the schema the upgrade
# left, on tables that held rows when it ran. (test/integration/upgrade.sh
# checks the rows.)
set -euo pipefail
db=${1:?usage: test/upgrade/prepare.sh DATABASE}
root=$(cd "$(dirname "$0")/../.." && pwd)
sql() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }

dropdb --if-exists "$db"
createdb "$db"
sql -c "CREATE EXTENSION pgtap"
"$root/test/upgrade/load-0.1.sh" "$db"
sql -c "ALTER EXTENSION paperclip UPDATE"
sql <<'SQL'
DO $$
BEGIN
    EXECUTE (SELECT 'TRUNCATE ' || string_agg(c.oid::regclass::text, ', ') || ' CASCADE'
               FROM pg_class c
               JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
               JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'paperclip'
              WHERE c.relkind = 'r' AND c.relname <> 'timer_agents');
END
$$;
SQL
