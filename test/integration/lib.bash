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
