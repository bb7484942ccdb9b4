#!/usr/bin/env bash
# Live events: NOTIFY paperclip_events reaches listeners at commit, never on rollback.
. "$(dirname "$0")/lib.bash"
DB=pc_it_live_events
fresh_db $DB
q "INSERT INTO paperclip.companies (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'acme');
   INSERT INTO paperclip.agents (id, company_id, name) VALUES
     ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000001', 'a1'),
     ('00000000-0000-0000-0000-0000000000a2', '00000000-0000-0000-0000-000000000001', 'a2');"

out=$(psql -X -d $DB <<'SQL' 2>&1
LISTEN paperclip_events;
BEGIN;
SELECT 'marker-in-transaction';
SELECT status FROM paperclip.enqueue_wakeup('00000000-0000-0000-0000-0000000000a1');
SELECT 'marker-before-commit';
COMMIT;
SELECT 'marker-after-commit';
BEGIN;
SELECT status FROM paperclip.enqueue_wakeup('00000000-0000-0000-0000-0000000000a2');
ROLLBACK;
SELECT 'marker-after-rollback';
SQL
)
first_notify=$(grep -n 'Asynchronous notification' <<< "$out" | head -1 | cut -d: -f1)
before=$(grep -n 'marker-before-commit' <<< "$out" | tail -1 | cut -d: -f1)
after=$(grep -n 'marker-after-commit' <<< "$out" | tail -1 | cut -d: -f1)
ok $([ -n "$first_notify" ] && [ "$first_notify" -gt "$before" ] && [ "$first_notify" -lt "$after" ]; echo $?) \
	"the queued event arrives at commit, not before"
is "$(grep -c 'heartbeat.run.queued' <<< "$out")" 1 "one heartbeat.run.queued event: the rolled-back enqueue sent none"
ok $(grep 'heartbeat.run.queued' <<< "$out" | grep -q '"agentId":"00000000-0000-0000-0000-0000000000a1"' ; echo $?) \
	"the payload names the agent"
ok $(grep 'heartbeat.run.queued' <<< "$out" | grep -q '"companyId":"00000000-0000-0000-0000-000000000001","type":"heartbeat.run.queued","payload":{"runId":"' ; echo $?) \
	"the payload has companyId, type and payload.runId"

# finalize sends run status, the run event and the agent status
out=$(psql -X -d $DB <<'SQL' 2>&1
LISTEN paperclip_events;
SELECT status FROM paperclip.finalize_run(
  (SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = '00000000-0000-0000-0000-0000000000a1'),
  '{"exitCode":0}');
SQL
)
for t in heartbeat.run.status heartbeat.run.event agent.status; do
	is "$(grep -c "\"type\":\"$t\"" <<< "$out")" 1 "finalize sends one $t event"
done

# live events carry no content: any login can LISTEN (and NOTIFY) on any channel
r=$(q "SELECT id FROM paperclip.enqueue_wakeup('00000000-0000-0000-0000-0000000000a2')")
out=$(psql -X -d $DB <<SQL 2>&1
LISTEN paperclip_events;
SELECT paperclip.append_run_event('$r', 'tool.call', 'SECRET-MESSAGE ' || repeat('x', 20000),
  jsonb_build_object('big', 'SECRET-PAYLOAD ' || repeat('y', 10000)));
SELECT paperclip.append_run_event('$r', 'SECRET-TYPE with spaces', 'm');
SELECT paperclip.append_run_log('$r', 'stdout', 'SECRET-CHUNK one');
SELECT paperclip.append_run_log('$r', 'stderr', 'SECRET-CHUNK two');
SELECT status FROM paperclip.finalize_run('$r',
  '{"exitCode":1,"errorMessage":"SECRET-ERROR","errorCode":"SECRET-CODE","resultJson":{"x":"SECRET-RESULT"}}');
SQL
)
notes=$(grep 'Asynchronous notification' <<< "$out")
is "$(grep -c '"type":"heartbeat.run.event"' <<< "$notes")" 3 "the two appended events and the finalization's are announced"
is "$(grep -c 'SECRET' <<< "$notes")" 0 "no notification carries a message, payload, chunk, error or odd event type"
ok $(grep -q '"eventType":"tool.call"' <<< "$notes" && grep -q '"eventType":null' <<< "$notes"; echo $?) \
	"an event type is named only when it is a short name"
logs=$(grep '"type":"heartbeat.run.log"' <<< "$notes" | sed 's/.*"payload":\({[^}]*}\).*/\1/')
is "$(wc -l <<< "$logs")" 2 "one heartbeat.run.log per appended record"
is "$(head -1 <<< "$logs" | sed 's/"[0-9a-f-]\{36\}"/ID/; s/:[0-9]\+/:N/g')" \
	'{"runId":ID,"stream":"stdout","offset":N,"bytes":N}' "heartbeat.run.log is {runId, stream, offset, bytes}"
off=$(sed -n 2p <<< "$logs" | sed 's/.*"offset":\([0-9]*\).*/\1/')
len=$(sed -n 2p <<< "$logs" | sed 's/.*"bytes":\([0-9]*\).*/\1/')
rec=$(q "SELECT content FROM paperclip.read_log('$r', $off, $len)")
ok $(grep -q '^{.*"stream":"stderr","chunk":"SECRET-CHUNK two"}$' <<< "$rec"; echo $?) \
	"read_log(runId, offset, bytes) returns exactly the record announced"
is "$(q "SELECT length(message) FROM paperclip.heartbeat_run_events WHERE event_type = 'tool.call'")" 20015 \
	"the stored event keeps the whole message"
status=$(grep '"type":"heartbeat.run.status"' <<< "$notes" | sed 's/.*"payload":\({[^}]*}\).*/\1/; s/"[0-9a-f-]\{36\}"/ID/g')
is "$status" '{"runId":ID,"agentId":ID,"status":"failed","invocationSource":"on_demand","triggerDetail":null}' \
	"heartbeat.run.status carries ids and statuses only"

dropdb $DB

# a run of the launcher: its output reaches listeners as offsets, never as text
launcher_db
cmd=$(script secret.sh 'echo "SECRET-STDOUT"; echo "SECRET-STDERR" >&2')
a=$(agent secret "{\"command\":\"$cmd\"}")
polls=$(for i in $(seq 1 400); do
	echo "SELECT pg_sleep(0.05) FROM paperclip.heartbeat_runs WHERE agent_id = '$a' AND status IN ('queued', 'running');"
done)
out=$(psql -X -d $DB <<SQL 2>&1
LISTEN paperclip_events;
SELECT 'enqueued' FROM paperclip.enqueue_wakeup('$a');
$polls
SQL
)
r=$(q "SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = '$a'")
notes=$(grep 'Asynchronous notification' <<< "$out" | grep "$r")
is "$(run_status "$r")" succeeded "the run succeeded"
ok $(grep -q '"type":"heartbeat.run.log"' <<< "$notes"; echo $?) "its output is announced"
is "$(grep -c 'SECRET' <<< "$notes")" 0 "no notification carries its output"
logs=$(grep '"type":"heartbeat.run.log"' <<< "$notes" | sed 's/.*"payload":\({[^}]*}\).*/\1/')
all=""
while read -r line; do
	off=$(sed 's/.*"offset":\([0-9]*\).*/\1/' <<< "$line")
	len=$(sed 's/.*"bytes":\([0-9]*\).*/\1/' <<< "$line")
	all+=$(q "SELECT content FROM paperclip.read_log('$r', $off, $len)")$'\n'
done <<< "$logs"
ok $(grep -q '"chunk":"SECRET-STDOUT\\n"' <<< "$all" && grep -q '"chunk":"SECRET-STDERR\\n"' <<< "$all"; echo $?) \
	"read_log at the announced offsets returns the output"

done_testing
