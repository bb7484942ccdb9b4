#!/usr/bin/env bash
# Workers under settings that need a server restart (issue 11): runner pipes
# count against max_files_per_process, paperclip.max_concurrent_runs is
# clamped to what the descriptors allow (and a LOG says so), 256 concurrent
# `sleep 1` runs; a wrong paperclip.database_name is reported once, clearly,
# by the supervisor (no worker fails over and over), and the database is
# served once created; a read-only database is reported once and waited out
# 10 s apart or more; the extension dropped, each worker says so once and
# exits, and its re-creation is served at the first enqueue.
. "$(dirname "$0")/lib.bash"
launcher_db
log=$(server_log)
restore() {
	psql -X -q -d template1 -c "ALTER DATABASE postgres RESET default_transaction_read_only" >/dev/null 2>&1
	for s in paperclip.database_name paperclip.max_concurrent_runs max_files_per_process; do
		psql -X -q -d template1 -c "ALTER SYSTEM RESET $s" >/dev/null 2>&1
	done
	if [ "${restart_needed:-0}" = 1 ]; then server_restart
	else psql -X -q -d template1 -c "SELECT pg_reload_conf()" >/dev/null 2>&1; fi
	dropdb --if-exists paperclip_nowhere >/dev/null 2>&1
	rm -rf "$WORK"
}
trap restore EXIT
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n # skip $1"; }
log_count() { log_since "$1" | grep -cE "$2"; }
# log_times <mark> <regexp>: epoch seconds of the matching log lines
log_times() { log_since "$1" | grep -E "$2" | while read -r d t _; do date -d "$d ${t%% *}" +%s.%N; done; }
# wait_log <mark> <regexp> <count> <seconds>: at least count matching lines
wait_log() {
	local d=$((SECONDS + $4))
	while [ $SECONDS -lt $d ]; do
		[ "$(log_count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.2
	done
	return 1
}
wait_up() {	# the server accepts connections again, its launcher serves postgres
	local d=$((SECONDS + 60))
	until psql -X -A -t -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; do
		[ $SECONDS -ge $d ] && return 1
		sleep 0.1
	done
	wait_worker launcher 0 30 >/dev/null
}
# peak <agent name pattern>: most runs of these agents running at one time
peak() {
	q "SELECT max((SELECT count(*) FROM paperclip.heartbeat_runs s JOIN paperclip.agents b ON b.id = s.agent_id
	                WHERE b.name LIKE '$1' AND s.started_at <= r.started_at AND s.finished_at > r.started_at))
	     FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id WHERE a.name LIKE '$1'"
}
sleeper=$(script sleep1.sh 'exec sleep 1')

# --- 256 concurrent `sleep 1` runs (one descriptor each in the launcher: the defaults allow them)
q "ALTER SYSTEM SET paperclip.max_concurrent_runs = 256" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
   SELECT '$COMPANY', 'wide ' || g, '{\"command\":\"$sleeper\"}' FROM generate_series(1, 256) g" >/dev/null
ok $(wait_for 10 "SELECT current_setting('paperclip.max_concurrent_runs') = '256'"; echo $?) "max_concurrent_runs is 256"
q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$COMPANY' AND name LIKE 'wide %'" >/dev/null
ok $(wait_for 120 "SELECT count(*) = 0 FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
                   WHERE a.name LIKE 'wide %' AND r.status IN ('queued', 'running')"; echo $?) "256 runs finished"
is "$(q "SELECT count(*) FILTER (WHERE r.status = 'succeeded') FROM paperclip.heartbeat_runs r
          JOIN paperclip.agents a ON a.id = r.agent_id WHERE a.name LIKE 'wide %'")" 256 "all 256 succeeded"
is "$(peak 'wide %')" 256 "all 256 ran at once"

# --- fewer descriptors than max_concurrent_runs wants: clamped, with a LOG, and no run fails for it
q "ALTER SYSTEM SET max_files_per_process = 300" >/dev/null
q "ALTER SYSTEM SET paperclip.max_concurrent_runs = 10000" >/dev/null
restart_needed=1
mark=$(log_mark)
server_restart
ok $(wait_up; echo $?) "the server is back with max_files_per_process = 300"
if [ -n "$log" ]; then
	ok $(wait_log "$mark" 'paperclip.max_concurrent_runs is 10000, but the launcher.s file descriptors allow [0-9]+ runs at once' 1 10; echo $?) \
		"a LOG says max_concurrent_runs is clamped to what the descriptors allow"
	allowed=$(log_since "$mark" | grep -oE 'descriptors allow [0-9]+' | tail -n 1 | grep -oE '[0-9]+')
else
	skip "server log not found"
	allowed=
fi
q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
   SELECT '$COMPANY', 'clamped ' || g, '{\"command\":\"$sleeper\"}' FROM generate_series(1, 150) g" >/dev/null
q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$COMPANY' AND name LIKE 'clamped %'" >/dev/null
ok $(wait_for 90 "SELECT count(*) = 0 FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
                  WHERE a.name LIKE 'clamped %' AND r.status IN ('queued', 'running')"; echo $?) "150 runs finished"
is "$(q "SELECT count(*) FILTER (WHERE r.status = 'succeeded') FROM paperclip.heartbeat_runs r
          JOIN paperclip.agents a ON a.id = r.agent_id WHERE a.name LIKE 'clamped %'")" 150 \
	"all succeeded: no runner failed for want of descriptors"
p=$(peak 'clamped %')
ok $([ "$p" -lt 150 ] && { [ -z "$allowed" ] || [ "$p" -le "$allowed" ]; }; echo $?) \
	"at most the clamped number ran at once (peak $p, allowed ${allowed:-?})"
q "ALTER SYSTEM RESET max_files_per_process" >/dev/null
q "ALTER SYSTEM RESET paperclip.max_concurrent_runs" >/dev/null

# --- a wrong paperclip.database_name: one clear message, no worker started (and
# none failing over and over); the database is served once it is created
mark=$(log_mark)
q "ALTER SYSTEM SET paperclip.database_name = 'paperclip_nowhere'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null	# a reload is enough
missing='WARNING: +paperclip supervisor: database "paperclip_nowhere" named by paperclip.database_name does not exist'
workers() { psql -X -A -t -q -d postgres -c "SELECT count(*) FROM pg_stat_activity
	WHERE backend_type IN ('paperclip launcher', 'paperclip scheduler') AND datname = '$1'"; }
wait_workers() {	# wait_workers <db> <n>: the database has n workers of ours
	local d=$((SECONDS + 20))
	until [ "$(workers "$1")" = "$2" ]; do [ $SECONDS -ge $d ] && return 1; sleep 0.1; done
}
if [ -n "$log" ]; then
	ok $(wait_log "$mark" "$missing" 1 10; echo $?) "the supervisor says the database does not exist"
	ok $(log_since "$mark" | grep -A3 -E "$missing" | grep -qE 'HINT: .*paperclip.database_name'; echo $?) \
		"and names the setting in its hint"
else
	skip "server log not found"
	skip "server log not found"
fi
ok $(wait_workers postgres 0; echo $?) "postgres's workers leave: it is no longer named"
createdb paperclip_nowhere
psql -X -q -d paperclip_nowhere -c "CREATE EXTENSION paperclip" >/dev/null
ok $(wait_workers paperclip_nowhere 2; echo $?) "the database, once created with the extension, gets its workers"
if [ -n "$log" ]; then
	is "$(log_count "$mark" "$missing")" 1 "the message was given once, not once per attempt"
	is "$(log_count "$mark" 'background worker "paperclip (launcher|scheduler)" \(PID [0-9]+\) exited with exit code 1')" 0 \
		"no worker failed meanwhile"
else
	skip "server log not found"
	skip "server log not found"
fi
q "ALTER SYSTEM RESET paperclip.database_name" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
ok $(wait_up; echo $?) "with the setting reset, the launcher serves postgres again"
ok $(wait_workers paperclip_nowhere 0; echo $?) "and the other database's workers leave"
dropdb paperclip_nowhere

# --- a read-only database: one clear warning, attempts 10 s apart or more, work resumes when writable
a=$(agent "read only" "{\"command\":\"$(script quick.sh 'exit 0')\"}")
psql -X -q -d template1 -c "ALTER DATABASE postgres SET default_transaction_read_only = on" >/dev/null
wait_worker scheduler 0 20 >/dev/null
mark=$(log_mark)
for kind in launcher scheduler; do
	p=$(wait_worker "$kind" 0 10)
	q "SELECT pg_terminate_backend($p)" >/dev/null	# they see the setting when they connect
done
if [ -n "$log" ]; then
	exits='background worker "paperclip launcher" \(PID [0-9]+\) exited with exit code 1'
	ok $(wait_log "$mark" "$exits" 2 40; echo $?) "the launcher backs off, exits, tries again"
	read -r t1 t2 < <(log_times "$mark" "$exits" | head -n 2 | paste -sd' ')
	ok $(awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b - a >= 10) }'; echo $?) \
		"10 s or more apart ($(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s)"
	is "$(log_count "$mark" 'WARNING: +paperclip launcher: database "postgres" is read-only')" 1 \
		"one warning from the launcher, naming paperclip"
	is "$(log_count "$mark" 'WARNING: +paperclip scheduler: database "postgres" is read-only')" 1 \
		"one from the scheduler"
else
	for _ in 1 2 3 4; do skip "server log not found"; done
fi
psql -X -q -d template1 -c "ALTER DATABASE postgres RESET default_transaction_read_only" >/dev/null
r=$(enqueue "$a")
ok $(wait_finished "$r" 30; echo $?) "writable again: a run enqueued then is run"
is "$(run_status "$r")" succeeded "and succeeds"
# the scheduler, which no enqueue wakes, may still wait out its back-off: start it afresh
p=$(wait_worker scheduler 0 20)
q "SELECT pg_terminate_backend($p)" >/dev/null
wait_worker scheduler "$p" 20 >/dev/null

# --- the extension dropped: one LOG from each worker; created again, the first enqueue wakes the launcher
mark=$(log_mark)
q "DROP EXTENSION paperclip CASCADE" >/dev/null 2>&1
if [ -n "$log" ]; then
	missing='LOG: +paperclip (launcher|scheduler): extension "paperclip" is not installed in database "postgres"'
	ok $(wait_log "$mark" "$missing" 2 15; echo $?) "each worker says the extension is missing"
	is "$(log_count "$mark" "$missing")" 2 "once"
else
	skip "server log not found"
	skip "server log not found"
fi
q "CREATE EXTENSION paperclip" >/dev/null
COMPANY=$(q "INSERT INTO paperclip.companies (name) VALUES ('again') RETURNING id")
a=$(agent again "{\"command\":\"$(script again.sh 'exit 0')\"}")
r=$(enqueue "$a")
ok $(wait_finished "$r" 10; echo $?) "created again: the first enqueue is run at once"
is "$(run_status "$r")" succeeded "and succeeds"

done_testing
