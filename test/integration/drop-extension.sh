#!/usr/bin/env bash
# DROP EXTENSION paperclip with runs in flight: the client gets a WARNING
# and the server log one LOG line with the counts, and no runner or agent
# is left behind. A drop that is rolled back reports nothing. Afterwards
# the extension is created again and the launcher serves the new one.
. "$(dirname "$0")/lib.bash"

# --- counting, in a database of its own (no launcher there: runs stay as written)
DB=paperclip_drop
fresh_db "$DB"
c=$(q "INSERT INTO paperclip.companies (name) VALUES ('drop') RETURNING id")
for n in 1 2 3; do
	q "INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('$c', 'a$n', '{\"command\":\"/bin/true\"}')" >/dev/null
done
q "SELECT paperclip.enqueue_wakeup(id) FROM paperclip.agents WHERE company_id = '$c'" >/dev/null
q "SELECT count(*) FROM paperclip.claim_runs(2)" >/dev/null
lost=$(q "SELECT id FROM paperclip.heartbeat_runs WHERE status = 'running' ORDER BY id LIMIT 1")
q "SELECT paperclip.finalize_run('$lost', '{\"errorCode\":\"process_lost\",\"errorMessage\":\"gone\"}')" >/dev/null
is "$(q "SELECT string_agg(status, ',' ORDER BY status) FROM paperclip.heartbeat_runs")" \
	"failed,queued,running,scheduled_retry" "a running run, a queued run and a scheduled retry"

out=$(psql -X -q -d "$DB" -c "BEGIN" -c "DROP EXTENSION paperclip CASCADE" -c "ROLLBACK" 2>&1)
is "$out" "" "a drop that is rolled back says nothing"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs")" 4 "and loses nothing"

out=$(psql -X -q -d "$DB" -c "DROP EXTENSION paperclip CASCADE" 2>&1)
grep -q '^WARNING:  extension "paperclip" dropped with runs in flight: 1 running, 1 queued, 1 scheduled for retry$' <<<"$out"
rc=$?
ok $rc "DROP EXTENSION warns the client with the counts"
[ $rc -eq 0 ] || sed 's/^/#   /' <<<"$out"
grep -q '^HINT:  Before dropping the extension, cancel runs' <<<"$out"
ok $? "and hints how to avoid it"
dropdb "$DB"

# --- a real run in the launcher's database: its runner and agent are terminated
launcher_db
server_log() {	# the server's log file: with-cluster.sh's, or pg_virtualenv's
	if [ -n "${PC_PGDATA:-}" ]; then echo "$(dirname "$PC_PGDATA")/server.log"
	else pg_lsclusters -h 2>/dev/null | awk -v p="$PGPORT" '$3 == p { print $7 }'; fi
}
log=$(server_log)
log_start=$(stat -c %s "$log" 2>/dev/null || echo 0)
# an agent that ignores SIGTERM: the runner's SIGKILL after graceSec ends it
cmd=$(script stubborn.sh "trap '' TERM; sleep 300 & wait; sleep 300")
a=$(agent stubborn "{\"command\":\"$cmd\",\"graceSec\":1}")
r=$(enqueue "$a")
g=$(agent_group "$r")
runner=$(q "SELECT runner_pid FROM paperclip.heartbeat_runs WHERE id = '$r'")
ok $(group_alive "$g"; echo $?) "the agent is running"

out=$(psql -X -q -d postgres -c "DROP EXTENSION paperclip CASCADE" 2>&1)
grep -qE '^WARNING:  extension "paperclip" dropped with runs in flight: [1-9][0-9]* running' <<<"$out"
rc=$?
ok $rc "DROP EXTENSION with a run in flight warns"
[ $rc -eq 0 ] || sed 's/^/#   /' <<<"$out"
ok $(group_gone "$g" 20; echo $?) "no process of the agent is left"
runner_alive() { ps -o stat= -p "$runner" 2>/dev/null | grep -qv '^Z'; }
deadline=$((SECONDS + 20))
while runner_alive && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
ok $(! runner_alive; echo $?) "its runner has exited"
if [ -r "$log" ]; then
	tail -c +"$((log_start + 1))" "$log" >"$WORK/log"
	is "$(grep -cE 'LOG:  extension "paperclip" dropped with runs in flight: [1-9][0-9]* running, [0-9]+ queued, [0-9]+ scheduled for retry' "$WORK/log")" 1 \
		"the server log has one LOG line with the counts"
	grep -q 'paperclip launcher: the extension was dropped; terminating' "$WORK/log"
	ok $? "and the launcher's word that it terminated the runners"
else
	ok 0 "# SKIP server log not readable here"
	ok 0 "# SKIP server log not readable here"
fi
spool=$(q "SHOW data_directory")/pg_paperclip/spool
deadline=$((SECONDS + 10))
while [ -e "$spool/$r.json" ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
ok $([ ! -e "$spool/$r.json" ]; echo $?) "no spool file of the abandoned run is kept"

# --- the extension again, at an older version: the launcher waits for the
# update (a run queued by the old version stays queued), then serves it
log_start=$(stat -c %s "$log" 2>/dev/null || echo 0)
q "CREATE EXTENSION paperclip VERSION '0.1'" >/dev/null
COMPANY=$(q "INSERT INTO paperclip.companies (name) VALUES ('after the drop') RETURNING id")
a=$(agent again '{"command":"/bin/true"}')
r=$(q "INSERT INTO paperclip.heartbeat_runs (company_id, agent_id) VALUES ('$COMPANY', '$a') RETURNING id")
if [ -r "$log" ]; then
	deadline=$((SECONDS + 20))
	until tail -c +"$((log_start + 1))" "$log" | grep -q 'runs wait for ALTER EXTENSION paperclip UPDATE'; do
		[ $SECONDS -ge $deadline ] && break
		sleep 0.1
	done
	tail -c +"$((log_start + 1))" "$log" | grep -q 'extension "paperclip" in database "postgres" is version 0.1, its library'
	ok $? "the launcher says it waits for ALTER EXTENSION paperclip UPDATE"
else
	ok 0 "# SKIP server log not readable here"
fi
is "$(run_status "$r")" queued "the run the old version queued waits"
q "ALTER EXTENSION paperclip UPDATE" >/dev/null
# the first enqueue after the update wakes the launcher from its wait
r2=$(enqueue "$(agent waker '{"command":"/bin/true"}')")
ok $(wait_finished "$r" 60; echo $?) "after ALTER EXTENSION paperclip UPDATE it is started"
is "$(run_status "$r")" succeeded "and succeeds"
ok $(wait_finished "$r2" 30; echo $?) "as is the run enqueued after the update"

done_testing
