#!/usr/bin/env bash
# Threat model point 7 (quality-bar.md): any login may LISTEN and NOTIFY on
# any channel, so a live event is a hint. A login with no grant at all
# learns a run's id from paperclip_events and NOTIFYs a forged
# "heartbeat.run.status cancelled" for it: paperclip_worker must not stop
# the run on that word alone; a real cancel still stops it.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/remote-lib.bash"
launcher_db
forger=pc_it_forger
cleanup() {
	q "SET client_min_messages = warning; DROP ROLE IF EXISTS $forger" >/dev/null
	remote_cleanup
}
trap cleanup EXIT
chmod 777 "$WORK"
setting paperclip.launcher_enabled off
worker_role pc_it_forged_worker
q "SET client_min_messages = warning; DROP ROLE IF EXISTS $forger;
   CREATE ROLE $forger LOGIN PASSWORD '$WORKER_PASSWORD'" >/dev/null
as_forger() { PGUSER=$forger PGPASSWORD=$WORKER_PASSWORD psql -X -A -t -q -d "$DB" -c "$1" 2>&1; }
forge_cancel() {
	as_forger "SELECT pg_notify('paperclip_events', json_build_object('companyId', '$COMPANY',
	  'type', 'heartbeat.run.status', 'payload', json_build_object('runId', '$1', 'status', 'cancelled'))::text)"
}

cmd=$(script waits.sh "trap 'echo stopped > $WORK/stopped.\$PAPERCLIP_RUN_ID; exit 143' TERM
while [ ! -e '$WORK/finish' ]; do sleep 0.05; done; echo finished")
a=$(agent waiter "{\"command\":\"$cmd\",\"timeoutSec\":60}")
start_worker w1 pc_it_forged_worker
ok $(worker_connected pc_it_forged_worker; echo $?) "a worker connects"
r=$(enqueue "$a")
ok $(wait_for 20 "SELECT status = 'running' AND worker_name = 'w1' FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) \
	"it runs an agent"
is "$(as_forger "SELECT count(*) FROM paperclip.heartbeat_runs" | grep -c 'permission denied')" 1 \
	"the forger has no grant: it cannot even read the runs"
forge_cancel "$r" >/dev/null
# a forged word would stop the agent within milliseconds: give it 3 s
deadline=$((SECONDS + 3))
until [ -e "$WORK/stopped.$r" ] || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
ok $([ ! -e "$WORK/stopped.$r" ]; echo $?) "a forged cancellation notice does not stop the agent"
is "$(run_status "$r")" running "and the run goes on"
touch "$WORK/finish"
ok $(wait_finished "$r" 20; echo $?) "it finishes"
is "$(q "SELECT status || ' ' || stdout_excerpt FROM paperclip.heartbeat_runs WHERE id = '$r'")" "succeeded finished" \
	"as it would have without the forger"

# a real cancel still reaches the worker's agent, through the database
rm -f "$WORK/finish"
r=$(enqueue "$a")
ok $(wait_for 20 "SELECT status = 'running' AND worker_name = 'w1' FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) \
	"another run starts"
q "SELECT paperclip.cancel_run('$r')" >/dev/null
deadline=$((SECONDS + 15))
until [ -e "$WORK/stopped.$r" ] || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
ok $([ -e "$WORK/stopped.$r" ]; echo $?) "cancel_run stops its agent"
ok $(wait_for 20 "SELECT finalized_at IS NOT NULL AND status = 'cancelled' FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) \
	"and the run ends cancelled"

done_testing
