#!/usr/bin/env bash
# Every database (issue 15): with paperclip.database_name empty the supervisor
# serves every database that has the extension, each through a launcher and
# a scheduler of its own: runs finish in two databases at once, each run's
# runner a child of its own database's launcher; a database copied from a
# served one (CREATE DATABASE ... TEMPLATE, which the template's workers do
# not block) and one that gains the extension later are served within
# seconds; DROP EXTENSION stops that database's workers; DROP DATABASE and
# ALTER DATABASE RENAME of a served database succeed at once; workers (and the supervisor) ended with
# pg_terminate_backend come back; a database the workers do not serve warns
# at enqueue, once per session, unless a paperclip_worker is connected; too
# small a max_worker_processes gets a WARNING naming how many are needed.
. "$(dirname "$0")/lib.bash"
launcher_db
log=$(server_log)
A=pc_multi_a
B=pc_multi_b
C=pc_multi_c
restart_needed=0
restore() {
	[ -n "${fake_worker:-}" ] && kill "$fake_worker" 2>/dev/null
	psql -X -q -d postgres -c "ALTER SYSTEM RESET paperclip.database_name" \
		-c "ALTER SYSTEM RESET max_worker_processes" >/dev/null 2>&1
	if [ "$restart_needed" = 1 ]; then server_restart
	else psql -X -q -d postgres -c "SELECT pg_reload_conf()" >/dev/null 2>&1; fi
	for d in $A ${A}_renamed $B $C; do dropdb --if-exists "$d" >/dev/null 2>&1; done
	rm -rf "$WORK"
}
trap restore EXIT
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n # skip $1"; }
qd() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
# worker_in <kind> <db>: the pid of that database's worker of that kind ('': none, the supervisor)
worker_in() {
	qd postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'paperclip $1'
	             AND coalesce(datname, '') = '$2'"
}
# wait_workers <db> <n> [seconds]: the database has n workers of ours (launcher and scheduler)
wait_workers() {
	local d=$((SECONDS + ${3:-20}))
	while [ $SECONDS -lt $d ]; do
		[ "$(qd postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1'
		                  AND backend_type IN ('paperclip launcher', 'paperclip scheduler')" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_new <kind> <db> <old pid> [seconds]: a worker with another pid; prints it
wait_new() {
	local d=$((SECONDS + ${4:-20})) p
	while [ $SECONDS -lt $d ]; do
		p=$(worker_in "$1" "$2" 2>/dev/null)
		[ -n "$p" ] && [ "$p" != "$3" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}
log_count() { log_since "$1" | grep -cE "$2"; }
# wait_log <mark> <regexp> [seconds]
wait_log() {
	local d=$((SECONDS + ${3:-20}))
	while [ $SECONDS -lt $d ]; do
		[ "$(log_count "$1" "$2")" -ge 1 ] && return 0
		sleep 0.2
	done
	return 1
}
ppid_of() { awk '/^PPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# run_in <db> <agent>: queue a run in that database; prints its id
run_in() { qd "$1" "SELECT id FROM paperclip.enqueue_wakeup('$2')"; }
# runner_of <db> <run>: the run's runner pid, once it started
runner_of() {
	local d=$((SECONDS + 20)) p
	while [ $SECONDS -lt $d ]; do
		p=$(qd "$1" "SELECT runner_pid FROM paperclip.heartbeat_runs WHERE id = '$2'")
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	return 1
}
finished_in() {	# finished_in <db> <run>: its status, once it finished
	local d=$((SECONDS + 30)) s
	while [ $SECONDS -lt $d ]; do
		s=$(qd "$1" "SELECT status FROM paperclip.heartbeat_runs WHERE id = '$2'")
		case $s in queued|running|'') sleep 0.05 ;; *) echo "$s"; return 0 ;; esac
	done
	return 1
}
spool="$(q "SHOW data_directory")/pg_paperclip/spool"
gate=$WORK/gate
# (it also ends when the test's directory goes: a run this file leaves
# queued is started after the test, and must not outlive it)
waiter=$(script waiter.sh "while [ ! -e $gate ] && [ -d $WORK ]; do sleep 0.05; done")

# --- every database: paperclip.database_name empty. Room for the workers of
# every database of this cluster (the other suites' included: 2 each, and 1)
q "ALTER SYSTEM SET paperclip.database_name = ''" >/dev/null
q "ALTER SYSTEM SET max_worker_processes = 32" >/dev/null
restart_needed=1
server_restart
fresh_db $A
ok $(wait_workers $A 2; echo $?) "a database with the extension gets its launcher and scheduler"
ok $(wait_workers postgres 2; echo $?) "postgres keeps its own"
is "$(qd postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'paperclip supervisor' AND datname IS NULL")" 1 \
	"one supervisor, connected to no database"

# --- two databases run agents at once, each through its own launcher
a0=$(agent both "{\"command\":\"$waiter\"}")
company_a=$(qd $A "INSERT INTO paperclip.companies (name) VALUES ('multidb') RETURNING id")
a1=$(qd $A "INSERT INTO paperclip.agents (company_id, name, adapter_config)
            VALUES ('$company_a', 'both', '{\"command\":\"$waiter\"}') RETURNING id")
r0=$(run_in postgres "$a0")
r1=$(run_in $A "$a1")
p0=$(runner_of postgres "$r0")
p1=$(runner_of $A "$r1")
is "$(ppid_of "$p0")" "$(worker_in launcher postgres)" "postgres's run: its runner is a child of postgres's launcher"
is "$(ppid_of "$p1")" "$(worker_in launcher $A)" "$A's run: its runner is a child of $A's launcher"
touch "$gate"
is "$(finished_in postgres "$r0") $(finished_in $A "$r1")" "succeeded succeeded" "both runs succeed"
rm -f "$gate"

# --- a database copied from a served one with a run in flight: the template's
# workers step aside and its run goes on; the copy is served, and never adopts
# nor signals the template's runner (its copy of the run is lost there)
ra=$(run_in $A "$a1")
pa=$(runner_of $A "$ra")
out=$(psql -X -q -d postgres -c "CREATE DATABASE $B TEMPLATE $A" 2>&1)
is "$out" "" "CREATE DATABASE ... TEMPLATE a served database succeeds"
ok $(wait_workers $B 2 10; echo $?) "the copy gets its workers within seconds"
ok $(wait_workers $A 2 10; echo $?) "the template's come back"
is "$(finished_in $B "$ra")" failed "in the copy, the template's run in flight is failed"
is "$(qd $B "SELECT error_code || ': ' || error FROM paperclip.heartbeat_runs WHERE id = '$ra'")" \
	"process_lost: runner of another database (copied database): not adopted" "as lost: its runner is the template's"
ok $(kill -0 "$pa"; echo $?) "that runner was not signalled"
touch "$gate"
is "$(finished_in $A "$ra")" succeeded "in the template, the run goes on and succeeds"
rb=$(run_in $B "$a1")
is "$(finished_in $B "$rb")" succeeded "a run in the copy succeeds"
oid_a=$(q "SELECT oid FROM pg_database WHERE datname = '$A'")
oid_b=$(q "SELECT oid FROM pg_database WHERE datname = '$B'")
ok $([ -d "$spool/$oid_a" ] && [ -d "$spool/$oid_b" ]; echo $?) \
	"each database has a spool directory of its own"
rm -f "$gate"

# --- a database that gains the extension later; DROP EXTENSION stops its workers
createdb $C
ok $(wait_workers $C 0 2; echo $?) "a database without the extension has no workers"
qd $C "CREATE EXTENSION paperclip" >/dev/null
ok $(wait_workers $C 2 10; echo $?) "CREATE EXTENSION: its workers start within seconds"
mark=$(log_mark)
qd $C "DROP EXTENSION paperclip" >/dev/null
ok $(wait_workers $C 0 10; echo $?) "DROP EXTENSION: its workers exit"
oid_c=$(q "SELECT oid FROM pg_database WHERE datname = '$C'")
ok $([ ! -d "$spool/$oid_c" ]; echo $?) "leaving no spool directory behind"
if [ -n "$log" ]; then
	is "$(log_count "$mark" "LOG: +paperclip (launcher|scheduler): extension \"paperclip\" is not installed in database \"$C\"; exiting")" 2 \
		"each says why, once"
else
	skip "server log not found"
fi

# --- DROP DATABASE of a served database is not blocked by its workers
pb=$(worker_in launcher $B)
out=$(psql -X -q -d postgres -c "DROP DATABASE $B" 2>&1)
is "$out" "" "DROP DATABASE of a served database succeeds"
ok $([ -z "$pb" ] || ! kill -0 "$pb" 2>/dev/null; echo $?) "its launcher is gone"
ok $(d=$((SECONDS + 10)); while [ -d "$spool/$oid_b" ] && [ $SECONDS -lt $d ]; do sleep 0.1; done
     [ ! -d "$spool/$oid_b" ]; echo $?) "and its spool directory"

# --- ALTER DATABASE ... RENAME of a served database is not blocked either; it is served under its new name
out=$(psql -X -q -d postgres -c "ALTER DATABASE $A RENAME TO ${A}_renamed" 2>&1)
is "$out" "" "ALTER DATABASE ... RENAME TO of a served database succeeds"
ok $(wait_workers ${A}_renamed 2 10; echo $?) "its workers come back"
out=$(psql -X -q -d postgres -c "ALTER DATABASE ${A}_renamed RENAME TO $A" 2>&1)
is "$out" "" "and it is renamed back"
ok $(wait_workers $A 2 10; echo $?) "served again under its name"

# --- workers, and the supervisor, ended with pg_terminate_backend come back
pl=$(worker_in launcher $A)
q "SELECT pg_terminate_backend($pl)" >/dev/null
np=$(wait_new launcher $A "$pl" 10)
ok $? "pg_terminate_backend of $A's launcher: a new one runs (pid $pl -> ${np:-none})"
ps=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'paperclip supervisor'")
q "SELECT pg_terminate_backend($ps)" >/dev/null
nps=$(wait_new supervisor '' "$ps" 10)
ok $? "pg_terminate_backend of the supervisor: a new one runs (pid $ps -> ${nps:-none})"
is "$(worker_in launcher $A)" "$np" "its workers keep running"
q "SELECT pg_terminate_backend($np)" >/dev/null
np2=$(wait_new launcher $A "$np" 10)
ok $? "the new supervisor restarts them too (pid $np -> ${np2:-none})"

# --- a database no launcher serves warns at enqueue, once per session, unless a paperclip_worker is connected
mark=$(log_mark)
q "ALTER SYSTEM SET paperclip.database_name = 'postgres'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null	# a reload is enough
ok $(wait_workers $A 0 10; echo $?) "paperclip.database_name = postgres: $A's workers exit"
if [ -n "$log" ]; then
	ok $(wait_log "$mark" "paperclip launcher: no longer serves database \"$A\": paperclip.database_name is now \"postgres\"" 5; echo $?) \
		"and say why"
else
	skip "server log not found"
fi
warn='WARNING: +no paperclip launcher serves database "'$A'" and no paperclip_worker is connected to it'
session() {	# session <db> <agent>: two enqueues in one session, the warning on
	PGOPTIONS='-c paperclip.unserved_warning=on' psql -X -q -d "$1" \
		-c "SELECT paperclip.cancel_run(id) FROM paperclip.heartbeat_runs WHERE agent_id = '$2' AND status = 'queued'" \
		-c "SELECT 1 FROM paperclip.enqueue_wakeup('$2')" \
		-c "SELECT paperclip.cancel_run(id) FROM paperclip.heartbeat_runs WHERE agent_id = '$2' AND status = 'queued'" \
		-c "SELECT 1 FROM paperclip.enqueue_wakeup('$2')" 2>&1 >/dev/null
}
out=$(session $A "$a1")
is "$(grep -cE "$warn" <<<"$out")" 1 "enqueue in an unserved database warns, once in a session of two enqueues"
ok $(grep -q 'paperclip.database_name is "postgres"' <<<"$out"; echo $?) "naming why"
ok $(grep -q 'HINT: .*paperclip_worker' <<<"$out"; echo $?) "with a hint"
is "$(session $A "$a1" | grep -cE "$warn")" 1 "once in every session"
PGAPPNAME=paperclip_worker psql -X -q -d $A -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
fake_worker=$!
d=$((SECONDS + 10))
until [ "$(qd postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$A' AND application_name = 'paperclip_worker'")" = 1 ] ||
	[ $SECONDS -ge $d ]; do sleep 0.05; done
is "$(session $A "$a1" | grep -c WARNING)" 0 "no warning while a paperclip_worker is connected"
kill "$fake_worker" 2>/dev/null
wait "$fake_worker" 2>/dev/null
fake_worker=
is "$(session postgres "$a0" | grep -c WARNING)" 0 "no warning in the served database"

# --- too small a max_worker_processes: a WARNING naming how many are needed
q "ALTER SYSTEM SET paperclip.database_name = ''" >/dev/null
q "ALTER SYSTEM SET max_worker_processes = 4" >/dev/null
restart_needed=1
mark=$(log_mark)
server_restart
if [ -n "$log" ]; then
	short='WARNING: +paperclip supervisor: too few background workers to serve every database with paperclip: ([0-9]+) needed, max_worker_processes is 4'
	ok $(wait_log "$mark" "$short" 30; echo $?) "max_worker_processes = 4 with two databases to serve: the supervisor warns"
	needed=$(log_since "$mark" | grep -oE "$short" | head -n 1 | grep -oE '[0-9]+ needed' | grep -oE '[0-9]+')
	ok $([ "${needed:-0}" -ge 5 ]; echo $?) "naming how many are needed (${needed:-?}: 2 per database, and 1)"
	is "$(log_count "$mark" "$short")" 1 "once"
else
	skip "server log not found"
	skip "server log not found"
	skip "server log not found"
fi

done_testing
