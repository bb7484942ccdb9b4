# Shared helpers for integration tests (sourced). Each test prints TAP.
# The cluster comes from pg_virtualenv (PG* set); each test uses its own database.
set -uo pipefail
tap_n=0
tap_failed=0
ok() {	# ok <condition-exit-code> <description>
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_failed=$((tap_failed + 1)); fi
}
is() {	# is <got> <expected> <description>
	tap_n=$((tap_n + 1))
	if [ "$1" = "$2" ]; then echo "ok $tap_n - $3"
	else echo "not ok $tap_n - $3"; echo "#   got: '$1'"; echo "#   expected: '$2'"; tap_failed=$((tap_failed + 1)); fi
}
done_testing() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }
fresh_db() {	# fresh_db <name>: a database with the extension
	dropdb --if-exists "$1" >/dev/null 2>&1
	createdb "$1" && psql -X -q -d "$1" -c 'CREATE EXTENSION paperclip' >/dev/null
}
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
# wait_for <seconds> <sql returning t>: poll with a deadline, never a fixed sleep
wait_for() {
	local deadline=$((SECONDS + $1))
	while [ $SECONDS -lt $deadline ]; do
		[ "$(q "$2")" = t ] && return 0
		sleep 0.05
	done
	return 1
}

# The launcher serves paperclip.database_name (postgres): runs that must
# really run live there. Each test uses its own company and agents.
launcher_db() {
	DB=postgres
	q "CREATE EXTENSION IF NOT EXISTS paperclip" >/dev/null
	COMPANY=$(q "INSERT INTO paperclip.companies (name) VALUES ('$(basename "$0")') RETURNING id")
	WORK=$(mktemp -d /tmp/paperclip-it.XXXXXX)
	chmod 755 "$WORK"
	trap 'rm -rf "$WORK"' EXIT
}
# script <name> <body>: an executable agent script in $WORK
script() {
	printf '#!/bin/sh\n%s\n' "$2" >"$WORK/$1"
	chmod 755 "$WORK/$1"
	echo "$WORK/$1"
}
# agent <name> <adapter_config json>: a new agent of $COMPANY; prints its id
agent() {
	q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
	   VALUES ('$COMPANY', '$1', '$2') RETURNING id"
}
enqueue() { q "SELECT id FROM paperclip.enqueue_wakeup('$1')"; }
# run_log <run>: the whole log of a run kept in the database (paperclip.run_log_chunks)
run_log() {
	q "SELECT convert_from(coalesce(string_agg(content, ''::bytea ORDER BY byte_offset), ''), 'UTF8')
	     FROM paperclip.run_log_chunks WHERE run_id = '$1'"
}
run_log_bytes() { q "SELECT coalesce(sum(octet_length(content)), 0) FROM paperclip.run_log_chunks WHERE run_id = '$1'"; }
run_status() { q "SELECT status FROM paperclip.heartbeat_runs WHERE id = '$1'"; }
# wait_finished <run> [seconds]: poll until the run is neither queued nor running
wait_finished() {
	wait_for "${2:-30}" "SELECT status NOT IN ('queued', 'running') FROM paperclip.heartbeat_runs WHERE id = '$1'"
}
agent_group() {	# agent_group <run>: the agent's process group (its pid), once spawned
	wait_for 10 "SELECT agent_pid IS NOT NULL FROM paperclip.heartbeat_runs WHERE id = '$1'" &&
		q "SELECT agent_pid FROM paperclip.heartbeat_runs WHERE id = '$1'"
}
# a live (not zombie) process in the group; reaping orphans is init's job
group_alive() { ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'; }
# group_gone <pgid> [seconds]: wait until no process of the group is left
group_gone() {
	local deadline=$((SECONDS + ${2:-0}))
	while group_alive "$1"; do
		if [ $SECONDS -ge $deadline ]; then
			ps -eo pid,ppid,pgid,stat,lstart,cmd | awk -v g="$1" 'NR == 1 || $3 == g' | sed 's/^/#   /' >&2
			return 1
		fi
		sleep 0.05
	done
}

# Stop the server at once (no shutdown checkpoint) and start it again: the
# cluster of test/with-cluster.sh (PC_PG_CTL) or of pg_virtualenv.
server_stop_immediate() {
	if [ -n "${PC_PG_CTL:-}" ]; then $PC_PG_CTL -m immediate stop >/dev/null
	else pg_ctlcluster "${PG_CLUSTER_VERSION:-$PGVERSION}" regress stop -m immediate; fi
}
server_start() {
	if [ -n "${PC_PG_CTL:-}" ]; then $PC_PG_CTL start >/dev/null
	else pg_ctlcluster "${PG_CLUSTER_VERSION:-$PGVERSION}" regress start; fi
}
# Stop the server cleanly and start it again (settings that need a restart).
server_restart() {
	if [ -n "${PC_PG_CTL:-}" ]; then $PC_PG_CTL -m fast restart >/dev/null
	else pg_ctlcluster "${PG_CLUSTER_VERSION:-$PGVERSION}" regress restart -m fast; fi
}
# The server's log file, when it can be found (test/with-cluster.sh, pg_virtualenv); else empty.
server_log() {
	local f=
	if [ -n "${PC_PGDATA:-}" ]; then f="$(dirname "$PC_PGDATA")/server.log"
	else f=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "regress" { print $7; exit }'); fi
	[ -n "$f" ] && [ -r "$f" ] && echo "$f"
}
# log_since <mark>: the server log's lines written after mark (a line count from log_mark)
log_mark() { local f; f=$(server_log) && wc -l <"$f" || echo 0; }
log_since() { local f; f=$(server_log) && tail -n +"$(($1 + 1))" "$f"; }
# the workers' pids in $DB (each database served has its own)
launcher_pid() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'paperclip launcher' AND datname = current_database()"; }
scheduler_pid() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'paperclip scheduler' AND datname = current_database()"; }
# wait_worker <kind> <not this pid> [seconds] [database]: a worker of that kind
# runs in the database (postgres), with another pid; prints it
wait_worker() {
	local deadline=$((SECONDS + ${3:-30})) p
	while [ $SECONDS -lt $deadline ]; do
		p=$(psql -X -A -t -q -d postgres -c "SELECT pid FROM pg_stat_activity
			WHERE backend_type = 'paperclip $1' AND datname = '${4:-postgres}'" 2>/dev/null)
		[ -n "$p" ] && [ "$p" != "$2" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}
# start ticks of a process (field 22 of /proc/pid/stat)
start_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $20 }'; }
