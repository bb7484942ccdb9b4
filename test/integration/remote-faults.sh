#!/usr/bin/env bash
# paperclip_worker under faults (issue 15): the database restarted under a
# worker (it reconnects and goes on; the run in flight is delivered); kill -9
# of a worker mid-run (its agent stops, the run fails process_lost once its
# lease lapses and is retried by another worker; the killed worker's late
# result, delivered when it starts again, is refused and counts nothing).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/remote-lib.bash"
launcher_db
trap remote_cleanup EXIT
chmod 777 "$WORK"
setting paperclip.launcher_enabled off
worker_role pc_it_faults

wait_server() {
	local deadline=$((SECONDS + 60))
	until psql -X -A -t -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}
# wait_nonempty <dir> <seconds>
wait_nonempty() {
	local deadline=$((SECONDS + $2))
	until [ -n "$(ls -A "$1" 2>/dev/null)" ]; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.05
	done
}
# wait_running <run> <worker>: the worker runs it and its agent started
wait_running() {
	wait_for 20 "SELECT status = 'running' AND worker_name = '$2' AND EXISTS (SELECT 1 FROM paperclip.heartbeat_run_events e
	  WHERE e.run_id = r.id AND e.event_type = 'adapter.invoke') FROM paperclip.heartbeat_runs r WHERE id = '$1'"
}

# --- the database restarts under a worker: it reconnects, delivers, goes on
cmd=$(script slow.sh "sleep 2; echo '{\"type\":\"paperclip.result\",\"usage\":{\"inputTokens\":4},\"costUsd\":0.02}'")
a=$(agent slow "{\"command\":\"$cmd\"}")
start_worker rs pc_it_faults
ok $(worker_connected pc_it_faults; echo $?) "the worker connects"
r=$(enqueue "$a")
ok $(wait_running "$r" rs; echo $?) "it runs the run"
server_stop_immediate
ok $(wait_nonempty "$WORK/state/rs/spool" 30; echo $?) "while the database is away the run ends: its result waits in the spool"
server_start
ok $(wait_server; echo $?) "the server is back"
ok $(worker_connected pc_it_faults 1 60; echo $?) "the worker reconnects by itself"
ok $(wait_finished "$r" 60; echo $?) "the run in flight during the restart is finalized"
is "$(q "SELECT status || ' ' || worker_name FROM paperclip.heartbeat_runs WHERE id = '$r'")" "succeeded rs" \
	"with that result"
is "$(q "SELECT spent_monthly_cents || ' ' || s.total_input_tokens FROM paperclip.agents a
  JOIN paperclip.agent_runtime_state s ON s.agent_id = a.id WHERE a.id = '$a'")" "2 4" "counted once"
r2=$(enqueue "$a")
ok $(wait_finished "$r2" 30; echo $?) "a run queued after the restart is run too"
is "$(q "SELECT status || ' ' || worker_name FROM paperclip.heartbeat_runs WHERE id = '$r2'")" "succeeded rs" "by the same worker"
ok $(grep -q "lost the database connection" "$WORK/rs.log" && grep -q "reconnected to database" "$WORK/rs.log"; echo $?) \
	"its log says it lost the connection and reconnected"
stop_worker rs
ok $(spool_empty rs; echo $?) "nothing is left in its spool"

# --- kill -9 of a worker mid-run: lease lapses, process_lost, retried elsewhere
setting paperclip.worker_lease 2s
setting paperclip.retry_base_delay 1s
# the agent is found by its command line (in a pid namespace, its own pid says nothing here)
victim="sleep 60.$$"
cmd=$(script victim.sh "if mkdir '$WORK/first' 2>/dev/null; then exec $victim; fi
echo '{\"type\":\"paperclip.result\",\"costUsd\":0.05}'")
a=$(agent victim "{\"command\":\"$cmd\"}")
start_worker ka pc_it_faults
ok $(worker_connected pc_it_faults; echo $?) "worker ka connects"
r=$(enqueue "$a")
ok $(wait_running "$r" ka; echo $?) "worker ka runs the run"
start_worker kb pc_it_faults
ok $(worker_connected pc_it_faults 2; echo $?) "worker kb connects"
deadline=$((SECONDS + 20))
until pgrep -f -x "$victim" >/dev/null || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
ok $(pgrep -f -x "$victim" >/dev/null; echo $?) "its agent runs"
kill -9 "${WORKER_PID[ka]}"
wait "${WORKER_PID[ka]}" 2>/dev/null
unset "WORKER_PID[ka]"
ok $(wait_for 30 "SELECT status = 'failed' AND error_code = 'process_lost' AND finalized_at > lease_expires_at
  FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) "once its lease lapses the run fails process_lost"
deadline=$((SECONDS + 30))
while pgrep -f -x "$victim" >/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
ok $(! pgrep -f -x "$victim" >/dev/null; echo $?) "the killed worker's agent does not outlive it"
ok $(wait_for 30 "SELECT EXISTS (SELECT 1 FROM paperclip.heartbeat_runs WHERE retry_of_run_id = '$r'
  AND status = 'succeeded' AND worker_name = 'kb')"; echo $?) "its retry is run by the other worker"
is "$(q "SELECT spent_monthly_cents FROM paperclip.agents WHERE id = '$a'")" 5 "the retry's cost is counted"

# the killed worker's runner stopped the run and spooled its result: when ka
# starts again, that late result is delivered and refused
ok $(wait_nonempty "$WORK/state/ka/spool" 30; echo $?) "the stopped run's result waits in the killed worker's spool"
start_worker ka pc_it_faults
deadline=$((SECONDS + 30))
until grep -q "result refused" "$WORK/ka.log" 2>/dev/null || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
ok $(grep -q "run $r: result refused: heartbeat run $r is not held by worker \"ka\" (Its lease lapsed" "$WORK/ka.log"; echo $?) \
	"started again, ka delivers it and it is refused: the lease lapsed"
is "$(q "SELECT status || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" "failed process_lost" \
	"the run stays as the lease made it"
is "$(q "SELECT spent_monthly_cents FROM paperclip.agents WHERE id = '$a'")" 5 "and nothing more is counted"

# a lease lost while the worker lives (its renewals too late): it stops the run
stuck="sleep 61.$$"
cmd=$(script stuck.sh "if mkdir '$WORK/stuck1' 2>/dev/null; then exec $stuck; fi")
a=$(agent stuck "{\"command\":\"$cmd\"}")
r=$(enqueue "$a")
ok $(wait_running "$r" ka || wait_running "$r" kb; echo $?) "a worker runs another run"
holder=$(q "SELECT worker_name FROM paperclip.heartbeat_runs WHERE id = '$r'")
q "UPDATE paperclip.heartbeat_runs SET lease_expires_at = now() - interval '1 s' WHERE id = '$r'"
ok $(wait_for 20 "SELECT status = 'failed' AND error_code = 'process_lost' FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) \
	"when its lease lapses the run fails process_lost"
deadline=$((SECONDS + 20))
while pgrep -f -x "$stuck" >/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
ok $(! pgrep -f -x "$stuck" >/dev/null; echo $?) "the worker, told by its renewal, stops the agent"
deadline=$((SECONDS + 20))
until grep -q "run $r: lease lost" "$WORK/$holder.log" || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
ok $(grep -q "run $r: lease lost (status [a-z]*): stopping it" "$WORK/$holder.log"; echo $?) "and says so"

stop_worker ka
stop_worker kb
ok $(spool_empty ka && spool_empty kb; echo $?) "both spools are empty"

done_testing
