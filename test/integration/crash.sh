#!/usr/bin/env bash
# Crash safety: kill -9 of an agent, of a runner, of the launcher, and an
# immediate shutdown mid-run. Afterwards no run is running, every wakeup
# ended in exactly one run, totals match the runs, and no process is left.
. "$(dirname "$0")/lib.bash"
launcher_db

launcher_pid() { q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'paperclip launcher'"; }
wait_running() {	# wait_running <run>: running with its agent invoked
	wait_for 20 "SELECT status = 'running' AND EXISTS (SELECT 1 FROM paperclip.heartbeat_run_events e
	  WHERE e.run_id = r.id AND e.event_type = 'adapter.invoke') FROM paperclip.heartbeat_runs r WHERE id = '$1'"
}
wait_server() {
	local deadline=$((SECONDS + 60))
	until psql -X -A -t -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}
wait_launcher() {
	local deadline=$((SECONDS + 60))
	until [ -n "$(launcher_pid 2>/dev/null)" ]; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}

# --- kill -9 of the agent process
groups=()
cmd=$(script victim.sh "exec sleep 300")
a=$(agent victim "{\"command\":\"$cmd\"}")
r=$(enqueue "$a"); wait_running "$r"
g=$(agent_group "$r"); groups+=("$g")
ok $(group_alive "$g"; echo $?) "the agent to kill is running"
kill -9 "$g"
ok $(wait_finished "$r" 20; echo $?) "a run whose agent was killed is finalized"
is "$(q "SELECT status || ' ' || coalesce(signal, '-') FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"failed SIGKILL" "as failed, with the signal recorded"

# --- kill -9 of a runner: the run is lost, failed as process_lost, retried; its agent is killed
cmd=$(script orphan.sh "sleep 300 & sleep 300")
a=$(agent orphan "{\"command\":\"$cmd\"}")
r=$(enqueue "$a"); wait_running "$r"
g=$(agent_group "$r"); groups+=("$g")
ok $(group_alive "$g"; echo $?) "the agent of the runner to kill is running"
kill -9 "$(q "SELECT runner_pid FROM paperclip.heartbeat_runs WHERE id = '$r'")"
ok $(wait_finished "$r" 20; echo $?) "a run whose runner was killed is finalized"
is "$(q "SELECT status || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"failed process_lost" "as failed with process_lost"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE retry_of_run_id = '$r' AND status = 'scheduled_retry'")" 1 \
	"and a bounded retry is scheduled"
ok $(group_gone "$g" 5; echo $?) "the lost runner's agent and its children are killed"
q "SELECT paperclip.cancel_active_for_agent('$a')" >/dev/null

# --- kill -9 of the launcher mid-run: the server restarts, the run finishes from its runner
cmd=$(script survivor1.sh "sleep 2; echo '{\"type\":\"paperclip.result\",\"usage\":{\"inputTokens\":7},\"costUsd\":0.01}'")
a1=$(agent survivor1 "{\"command\":\"$cmd\"}")
r1=$(enqueue "$a1"); wait_running "$r1"
groups+=("$(agent_group "$r1")")
kill -9 "$(launcher_pid)"
wait_server; wait_launcher
ok $(wait_finished "$r1" 30; echo $?) "after kill -9 of the launcher the run is finalized"
is "$(run_status "$r1")" succeeded "with the result its runner spooled"
is "$(q "SELECT total_input_tokens FROM paperclip.agent_runtime_state WHERE agent_id = '$a1'")" 7 "counted once"

# --- immediate shutdown mid-run, then a restart
cmd=$(script survivor2.sh "sleep 3; echo '{\"type\":\"paperclip.result\",\"usage\":{\"inputTokens\":9}}'")
a2=$(agent survivor2 "{\"command\":\"$cmd\"}")
r2=$(enqueue "$a2"); wait_running "$r2"
groups+=("$(agent_group "$r2")")
server_stop_immediate
server_start
wait_server; wait_launcher
ok $(wait_finished "$r2" 30; echo $?) "after an immediate shutdown and restart the run is finalized"
is "$(run_status "$r2")" succeeded "with the result its runner spooled"
is "$(q "SELECT total_input_tokens FROM paperclip.agent_runtime_state WHERE agent_id = '$a2'")" 9 "counted once"

# --- the invariants over everything this test did
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY' AND status = 'running'")" 0 \
	"no run is left running"
is "$(q "SELECT count(*) FROM paperclip.agent_wakeup_requests w WHERE w.company_id = '$COMPANY'
   AND NOT (w.status IN ('coalesced', 'skipped') OR (SELECT count(*) FROM paperclip.heartbeat_runs r
     WHERE r.wakeup_request_id = w.id AND r.status IN ('succeeded', 'failed', 'cancelled', 'timed_out')) = 1)")" 0 \
	"every wakeup ended in exactly one finished run"
is "$(q "SELECT count(*) FROM paperclip.agent_runtime_state s WHERE s.company_id = '$COMPANY' AND s.total_input_tokens <>
   (SELECT coalesce(sum((r.usage_json->>'inputTokens')::bigint), 0) FROM paperclip.heartbeat_runs r WHERE r.agent_id = s.agent_id)")" 0 \
	"runtime totals equal the sum over finalized runs"
left=0; for g in "${groups[@]}"; do group_alive "$g" && left=$((left + 1)); done
is "$left" 0 "no process of any agent group survives"
# this cluster's runners: their working directory is its data directory (pgrep -x sees 15 characters of a name)
datadir=$(q "SHOW data_directory")
ours=0; for p in $(pgrep -x paperclip_runne); do [ "$(readlink "/proc/$p/cwd")" = "$datadir" ] && ours=$((ours + 1)); done
ok $([ "$ours" -eq 0 ] || [ "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE status = 'running'")" != 0 ]; echo $?) \
	"no runner survives without a running run"

done_testing
