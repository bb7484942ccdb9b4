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

# a long event message is cut to fit NOTIFY's 8000 bytes
out=$(psql -X -d $DB <<'SQL' 2>&1
LISTEN paperclip_events;
SELECT paperclip.append_run_event(
  (SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = '00000000-0000-0000-0000-0000000000a1'),
  'tool.call', repeat('x', 20000), jsonb_build_object('big', repeat('y', 10000)));
SQL
)
ok $(grep -q '"truncated":true' <<< "$out"; echo $?) "an oversized event is delivered truncated"
is "$(q "SELECT length(message) FROM paperclip.heartbeat_run_events WHERE event_type = 'tool.call'")" 20000 \
	"the stored event keeps the whole message"

dropdb $DB
done_testing
