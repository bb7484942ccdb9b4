#!/usr/bin/env bash
# test/upgrade/prepare.sh DATABASE: a database upgraded from a filled
# paperclip 0.1, for the pgTAP suites (test/run-all.sh runs them against it
# as well as against a fresh install). It installs pgTAP and 0.1 holding
# what 0.1 wrote through its API (load-0.1.sh), runs ALTER EXTENSION
# paperclip UPDATE, then gives the extension's tables the rows of a fresh
# install: the suites expect no rows but their own (and those a fresh
# install makes), and what they check here is the schema the upgrade left,
# on tables that held rows when it ran. (test/integration/upgrade.sh checks
# the rows.)
set -euo pipefail
db=${1:?usage: test/upgrade/prepare.sh DATABASE}
fresh=${db}_fresh
root=$(cd "$(dirname "$0")/../.." && pwd)
sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

dropdb --if-exists "$db" 2>/dev/null
dropdb --if-exists "$fresh" 2>/dev/null
createdb "$db"
createdb "$fresh"
trap 'dropdb --if-exists "$fresh"' EXIT
sql -d "$db" -c "CREATE EXTENSION pgtap"
"$root/test/upgrade/load-0.1.sh" "$db"
sql -d "$db" -c "ALTER EXTENSION paperclip UPDATE"

sql -d "$fresh" -c "CREATE EXTENSION paperclip"
tables=$(psql -X -A -t -d "$db" -c "
	SELECT string_agg(c.oid::regclass::text, ' ')
	  FROM pg_class c
	  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'paperclip'
	 WHERE c.relkind = 'r'")
sql -d "$db" -c "SET client_min_messages = warning" -c "TRUNCATE ${tables// /, } CASCADE"
for t in $tables; do
	[ "$(psql -X -A -t -d "$fresh" -c "SELECT count(*) FROM $t")" = 0 ] && continue
	psql -X -q -d "$fresh" -c "COPY $t TO STDOUT" | sql -d "$db" -c "COPY $t FROM STDIN"
done
# the role 0.1 bound is the fixture's: no other test should meet it
sql -d "$db" -c "DROP ROLE IF EXISTS paperclip_upgrade_bound"
# the log file of the run 0.1 left running became its spool log (issue 14); the run is gone
rm -rf "$(psql -X -A -t -d "$db" -c "SHOW data_directory")/pg_paperclip/spool/$(psql -X -A -t -d "$db" -c "SELECT oid FROM pg_database WHERE datname = current_database()")"
