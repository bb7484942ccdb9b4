#!/usr/bin/env bash
# The upgrade path: paperclip 0.1 (the oldest supported version) installed
# and holding what 0.1 wrote through its own API (test/upgrade/load-0.1.sh:
# fill-0.1.sql as the 0.1 release ran it), then ALTER EXTENSION paperclip
# UPDATE. Until then the new library refuses, plainly, to work on the old
# schema; after it every row of 0.1 survives, the runs left in flight go on
# under the new version, and the upgraded schema is the one a fresh CREATE
# EXTENSION makes (pg_dump --schema-only of both, compared). The pgTAP
# suites also run against an upgraded database (test/run-all.sh,
# test/upgrade/prepare.sh).
. "$(dirname "$0")/lib.bash"
root=$(cd "$(dirname "$0")/../.." && pwd)

# What an upgrade script changes on purpose. Columns whose existing values
# it rewrites ("table.column" words) are left out of the comparison; tables
# it adds rows to may grow (every 0.1 row must still be there). A section
# that migrates data lists it here, with its own check below.
migrated_columns="agents.timer_due_at timer_agents.agents"	# issue 13: no timer for agents in error
migrated_columns+=" heartbeat_runs.log_store heartbeat_runs.log_ref"	# issue 14: 0.1's log files into run_log_chunks
grown_tables="company_roles"	# issue 11: the roles that could use paperclip keep every company

DB=paperclip_upgrade
FRESH=paperclip_upgrade_fresh
dropdb --if-exists "$DB" >/dev/null 2>&1
dropdb --if-exists "$FRESH" >/dev/null 2>&1
WORK=$(mktemp -d /tmp/paperclip-upgrade.XXXXXX)
trap 'rm -rf "$WORK"; dropdb --if-exists "$DB" >/dev/null 2>&1; dropdb --if-exists "$FRESH" >/dev/null 2>&1
	[ -n "${db_spool:-}" ] && rm -rf "$db_spool"
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS paperclip_upgrade_bound" >/dev/null 2>&1' EXIT
createdb "$DB"
datadir=$(q "SHOW data_directory")
db_spool="$datadir/pg_paperclip/spool/$(q "SELECT oid FROM pg_database WHERE datname = '$DB'")"	# not served here
logdir=$(q "SHOW paperclip.run_log_directory")
case $logdir in /*) ;; *) logdir=$datadir/$logdir ;; esac
"$root/test/upgrade/load-0.1.sh" "$DB" >"$WORK/load.log" 2>&1
rc=$?
ok $rc "paperclip 0.1 installs and holds what 0.1 wrote through its API"
[ $rc -eq 0 ] || tail -n 20 "$WORK/load.log" | sed 's/^/#   /'
is "$(q "SELECT extversion FROM pg_extension WHERE extname = 'paperclip'")" 0.1 "at version 0.1"


# --- every table's rows, over 0.1's columns, kept aside before the upgrade
# (in a schema of the test's, dropped before the schemas are compared)
q "SELECT c.relname || ' ' || string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum)
     FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relnamespace = 'paperclip'::regnamespace AND c.relkind = 'r'
    GROUP BY c.relname ORDER BY c.relname" >"$WORK/tables"
kept_columns() {	# kept_columns <table> <cols>: the columns compared
	local col keep=
	for col in ${2//,/ }; do
		case " $migrated_columns " in *" $1.$col "*) continue ;; esac
		keep=${keep:+$keep,}$col
	done
	echo "$keep"
}
q "CREATE SCHEMA upgrade_check" >/dev/null
while read -r table cols; do
	q "CREATE TABLE upgrade_check.$table AS SELECT $(kept_columns "$table" "$cols") FROM paperclip.$table" >/dev/null
done <"$WORK/tables"
is "$(while read -r table cols; do q "SELECT count(*) FROM upgrade_check.$table"; done <"$WORK/tables" | grep -c '^0$')" 0 \
	"every table holds rows before the upgrade"
fingerprints() {	# count and digest of every table, over the columns kept
	local table cols
	while read -r table cols; do
		echo "$table $(q "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), ''))
		                  FROM (SELECT $(kept_columns "$table" "$cols") FROM paperclip.$table) t")"
	done <"$WORK/tables"
}
fingerprints >"$WORK/before"

default=$(q "SELECT default_version FROM pg_available_extensions WHERE name = 'paperclip'")

# --- before the update, the new library says what to do, and writes nothing
err=$(psql -X -q -d "$DB" -v VERBOSITY=verbose \
	-c "SELECT paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a4')" 2>&1 >/dev/null)
grep -q "^ERROR:  55000: paperclip's library is version $default but the extension in this database is version 0.1\$" <<<"$err" &&
	grep -q '^HINT:  Run ALTER EXTENSION paperclip UPDATE' <<<"$err" && ! grep -qE '^(CONTEXT|QUERY):' <<<"$err"
rc=$?
ok $rc "before ALTER EXTENSION UPDATE the API refuses the old schema plainly (55000, with the hint)"
[ $rc -eq 0 ] || sed 's/^/#   /' <<<"$err"
is "$(fingerprints | md5sum)" "$(md5sum <"$WORK/before")" "and writes nothing"
out=$(psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -c "ALTER EXTENSION paperclip UPDATE" 2>&1)
rc=$?
ok $rc "ALTER EXTENSION paperclip UPDATE"
[ $rc -eq 0 ] || sed 's/^/#   /' <<<"$out"
is "$(q "SELECT extversion FROM pg_extension WHERE extname = 'paperclip'")" "$default" "it is now $default"

while read -r table cols; do
	keep=$(kept_columns "$table" "$cols")
	lost=$(q "SELECT count(*) FROM (SELECT * FROM upgrade_check.$table EXCEPT ALL SELECT $keep FROM paperclip.$table) t")
	count=$(q "SELECT count(*) FROM upgrade_check.$table")
	now=$(q "SELECT count(*) FROM paperclip.$table")
	case " $grown_tables " in
	*" $table "*) is "$lost" 0 "$table: all $count rows survive, unchanged (the upgrade may add rows: $now now)" ;;
	*) is "$lost $now" "0 $count" "$table: all $count rows survive, unchanged, and no row is added" ;;
	esac
done <"$WORK/tables"
psql -X -q -d "$DB" -c "SET client_min_messages = warning" -c "DROP SCHEMA upgrade_check CASCADE"

is "$(q "SELECT agents = (SELECT count(*) FROM paperclip.agents WHERE timer_due_at IS NOT NULL)
         FROM paperclip.timer_agents")" t "the timer count agrees with the agents' timers after the update"
is "$(q "SELECT count(*) FROM paperclip.agents WHERE status = 'error' AND timer_due_at IS NOT NULL")" 0 \
	"an agent in error has no timer after the update (issue 13)"

# --- the rows of 0.1 under the new version, through the API
run_of() { q "SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = 'e0000000-0000-0000-0000-0000000000$1' AND status = '$2'"; }
r_ok=$(run_of a1 succeeded)
r_running=$(run_of a4 running)
r_queued=$(run_of a1 queued)
q "SELECT paperclip.finalize_run('$r_running', '{\"exitCode\":0,\"usage\":{\"inputTokens\":10},\"costUsd\":0.03}')" >/dev/null
is "$(run_status "$r_running")" succeeded "a run left running by 0.1 is finalized after the upgrade"
is "$(q "SELECT total_input_tokens || ' ' || total_cost_cents::int FROM paperclip.agent_runtime_state
          WHERE agent_id = 'e0000000-0000-0000-0000-0000000000a4'")" "10 3" "and counted in its agent's totals"
is "$(q "SELECT id FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a1')")" "$r_queued" \
	"a wakeup coalesces into the run 0.1 queued"
is "$(q "SELECT paperclip.promote_due_retries(now() + interval '1 day')")" 1 "the retry 0.1 scheduled is promoted"
is "$(run_status "$(q "SELECT id FROM paperclip.heartbeat_runs WHERE retry_of_run_id IS NOT NULL")")" queued "and queued"
is "$(q "SELECT count(*) FROM paperclip.read_log('$r_ok') WHERE content LIKE '%working on UP-1%'")" 1 \
	"the log 0.1 wrote is read"
# issue 14: 0.1's log files are in paperclip.run_log_chunks now, byte for byte, and gone from the data directory
fixture_logs=$(cd "$root/test/upgrade/0.1-run-logs" && for f in */*.ndjson; do
	echo "$(basename "$f" .ndjson) $(sha256sum "$f" | cut -d' ' -f1)"; done | sort)
is "$(q "SELECT string_agg(run_id || ' ' || encode(sha256(b), 'hex'), E'\n' ORDER BY run_id::text)
          FROM (SELECT run_id, string_agg(content, ''::bytea ORDER BY byte_offset) AS b
                  FROM paperclip.run_log_chunks GROUP BY run_id) t")" "$fixture_logs" \
	"every log 0.1 wrote is in paperclip.run_log_chunks, byte for byte"
is "$(q "SELECT string_agg(DISTINCT coalesce(log_store, '-') || '/' || coalesce(log_ref, '-'), ' ')
          FROM paperclip.heartbeat_runs WHERE id IN (SELECT run_id FROM paperclip.run_log_chunks)")" "db/-" \
	"their runs say db"
ok $([ ! -e "$logdir" ] && [ -f "$db_spool/$r_running.log" ]; echo $?) \
	"0.1's log files are gone from the data directory (a run still running: its file is its spool log)"
is "$(q "SELECT count(*) FROM paperclip.list_events('$r_ok') WHERE event_type = 'tool.call'")" 1 "its events are listed"
is "$(q "SELECT count(*) FROM paperclip.runs_for_issue('e0000000-0000-0000-0000-000000000001', 'e0000000-0000-0000-0000-0000000000b1')")" 2 \
	"runs_for_issue finds the issue's runs"
is "$(q "SET ROLE paperclip_upgrade_bound; SELECT string_agg(DISTINCT company_id::text, ',') FROM paperclip.heartbeat_runs")" \
	e0000000-0000-0000-0000-000000000002 "the role bound in 0.1 still sees only its company"
is "$(q "SELECT cost_cents FROM paperclip.cost_events WHERE run_id = '$r_ok'")" 5 "the cost 0.1 recorded is kept"
is "$(q "SELECT coalesce(obj_description('paperclip.heartbeat_runs'::regclass, 'pg_class'), '') <> ''")" t \
	"the upgraded schema has the new comments"
is "$(q "SELECT count(*) FROM pg_event_trigger WHERE evtname = 'paperclip_drop_watch'")" 1 "and the drop watch"

# --- the upgraded schema is the fresh one
createdb "$FRESH"
psql -X -q -d "$FRESH" -c "CREATE EXTENSION paperclip" >/dev/null
# --binary-upgrade dumps the extension's member objects (a plain dump only
# says CREATE EXTENSION); what differs by nature (OIDs, xids, the dump's
# one-time key, the values of sequences whose data is dumped) is normalized
# away
dump_opts=(--schema-only --binary-upgrade)
pg_dump --help | grep -q -- '--no-statistics' && dump_opts+=(--no-statistics)
normalize() {
	sed -E -e '/^\\(un)?restrict /d' \
		-e '/binary_upgrade_set_next_/d' \
		-e "s/(binary_upgrade_create_empty_extension\('paperclip', 'paperclip', (true|false), '[^']*', )'\{[0-9,]*\}'/\1'{oids}'/" \
		-e "s/relfrozenxid = '[0-9]+', relminmxid = '[0-9]+'/relfrozenxid = x, relminmxid = x/" \
		-e "s/^WHERE oid = '[0-9]+';$/WHERE oid = x;/" \
		-e "s/^(SELECT pg_catalog\.setval\('[^']*', )[0-9]+, (true|false)\);$/\1n);/"
}
pg_dump "${dump_opts[@]}" -d "$DB" | normalize >"$WORK/upgraded.sql"
pg_dump "${dump_opts[@]}" -d "$FRESH" | normalize >"$WORK/fresh.sql"
ok $([ "$(grep -c 'CREATE TABLE paperclip\.' "$WORK/fresh.sql")" -ge 16 ]; echo $?) \
	"the dump holds the extension's objects"
diff -u "$WORK/fresh.sql" "$WORK/upgraded.sql" >"$WORK/schema.diff"
rc=$?
ok $rc "pg_dump --schema-only of the upgraded database and of a fresh install match"
[ $rc -eq 0 ] || head -n 60 "$WORK/schema.diff" | sed 's/^/#   /'

done_testing
