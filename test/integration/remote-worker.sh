#!/usr/bin/env bash
# paperclip_worker (issue 15): with the launcher off, a worker runs 30 runs
# of 10 agents (logs, events, costs through the API; nothing left in its
# spool); two workers share a burst of 200 runs and no run starts twice; a
# worker whose role is bound to one company claims only that company's runs.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/remote-lib.bash"
launcher_db
trap remote_cleanup EXIT
chmod 777 "$WORK"	# the agents write their marks here, whatever their OS user
setting paperclip.launcher_enabled off
worker_role pc_it_worker

# --- bad settings are said at start, not retried forever
if [ "$(id -u)" -eq 0 ]; then
	out=$("$WORKER_BIN" --name x 2>&1); rc=$?
	ok $([ $rc -eq 1 ] && grep -q "cannot be run as root" <<<"$out"; echo $?) "it refuses to run as root"
fi
as=()
[ "$(id -u)" -eq 0 ] && as=(setpriv --reuid postgres --regid postgres --init-groups --)
out=$("${as[@]}" "$WORKER_BIN" --dsn 'host=x bogus=1' --dir "$WORK/state" 2>&1); rc=$?
ok $([ $rc -eq 1 ] && grep -q 'invalid --dsn: invalid connection option "bogus"' <<<"$out"; echo $?) "an invalid --dsn is refused at once"
out=$("${as[@]}" "$WORKER_BIN" --concurrency 0 2>&1); rc=$?
ok $([ $rc -eq 2 ] && grep -q -- "--concurrency must be a number from 1 to 1024" <<<"$out"; echo $?) "so is --concurrency 0"
out=$("${as[@]}" "$WORKER_BIN" --runner /nonexistent --dir "$WORK/state" 2>&1); rc=$?
ok $([ $rc -eq 1 ] && grep -q 'cannot execute the runner "/nonexistent"' <<<"$out"; echo $?) "and a runner that is not there"

# --- one worker, 30 runs of 10 agents
cmd=$(script hello.sh 'echo "hello from $PAPERCLIP_RUN_ID"; echo oops >&2
echo "{\"type\":\"paperclip.result\",\"usage\":{\"inputTokens\":5},\"costUsd\":0.01}"')
q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
   SELECT '$COMPANY', 'hello-' || g, '{\"command\":\"$cmd\"}' FROM generate_series(1, 10) g" >/dev/null
start_worker w1 pc_it_worker --concurrency 4
ok $(worker_connected pc_it_worker; echo $?) "the worker connects as a role granted paperclip_operator"
done_rounds=0
for round in 1 2 3; do
	q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$COMPANY' AND name LIKE 'hello-%'" >/dev/null
	wait_for 60 "SELECT count(*) = $((round * 10)) FROM paperclip.heartbeat_runs
	  WHERE company_id = '$COMPANY' AND status NOT IN ('queued', 'running')" && done_rounds=$round
done
is "$done_rounds" 3 "three rounds of 10 runs finish"
is "$(q "SELECT count(*) FILTER (WHERE status = 'succeeded' AND worker_name = 'w1') || '/' || count(*)
  FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY'")" "30/30" "all 30 succeeded, run by the worker named w1"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY' AND runner_pid IS NOT NULL")" 0 \
	"no launcher runner is recorded on them"
r=$(q "SELECT id FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY' ORDER BY created_at LIMIT 1")
log=$(q "SELECT string_agg(content, '') FROM paperclip.read_log('$r')")
ok $(grep -q "hello from $r" <<<"$log" && grep -q '"stream":"stderr","chunk":"oops' <<<"$log"; echo $?) \
	"its log, relayed with append_run_log, is read with read_log (stdout and stderr)"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs r WHERE company_id = '$COMPANY' AND NOT EXISTS
  (SELECT 1 FROM paperclip.heartbeat_run_events e WHERE e.run_id = r.id AND e.event_type = 'adapter.invoke')")" 0 \
	"every run has its adapter.invoke event, relayed with append_run_event"
is "$(q "SELECT count(*) FROM paperclip.agents a JOIN paperclip.agent_runtime_state s ON s.agent_id = a.id
  WHERE a.company_id = '$COMPANY' AND a.spent_monthly_cents = 3 AND s.total_input_tokens = 15")" 10 \
	"each agent's cost and tokens are counted once per run"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY'
  AND stdout_excerpt LIKE 'hello from%' AND lease_expires_at >= finalized_at")" 30 \
	"excerpts recorded; every result came within its lease"

# a log that comes fast is sent in batches: 1,000 lines written while the
# worker is stopped reach the database as one record
cmd=$(script loud.sh "while [ ! -e '$WORK/go' ]; do sleep 0.02; done
for i in \$(seq 1000); do echo \"line \$i\"; done
touch '$WORK/printed'; while [ ! -e '$WORK/end' ]; do sleep 0.02; done")
a=$(agent loud "{\"command\":\"$cmd\"}")
r=$(enqueue "$a")
ok $(wait_for 20 "SELECT status = 'running' AND worker_name = 'w1' FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) \
	"a loud agent runs"
kill -STOP "${WORKER_PID[w1]}"
touch "$WORK/go"
deadline=$((SECONDS + 20))
until [ -e "$WORK/printed" ] || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
kill -CONT "${WORKER_PID[w1]}"
touch "$WORK/end"
ok $(wait_finished "$r" 30; echo $?) "it finishes"
lines=$(q "SELECT string_agg(l::jsonb ->> 'chunk', '' ORDER BY n) FROM paperclip.read_log('$r') p,
  regexp_split_to_table(p.content, E'\\n') WITH ORDINALITY AS x(l, n) WHERE l <> ''" | grep '^line ')
is "$(wc -l <<<"$lines" | tr -d ' ')/$(seq 1000 | sed 's/^/line /' | cmp -s - <(echo "$lines") && echo in-order)" \
	"1000/in-order" "its 1,000 lines are in the log, in order"
is "$(q "SELECT count(*) FROM paperclip.read_log('$r') p, regexp_split_to_table(p.content, E'\\n') AS l
  WHERE l <> '' AND l::jsonb ->> 'stream' = 'stdout'")" 1 "sent as one record, not one per chunk"

# cancel_run reaches the worker's run: its agent stops, the run stays cancelled
sleeper="sleep 60.$$"
cmd=$(script sleeper.sh "exec $sleeper")
a=$(agent sleeper "{\"command\":\"$cmd\"}")
r=$(enqueue "$a")
deadline=$((SECONDS + 20))
until pgrep -f -x "$sleeper" >/dev/null || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
ok $(pgrep -f -x "$sleeper" >/dev/null; echo $?) "a sleeping agent runs"
q "SELECT paperclip.cancel_run('$r')" >/dev/null
deadline=$((SECONDS + 30))
while pgrep -f -x "$sleeper" >/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
ok $(! pgrep -f -x "$sleeper" >/dev/null; echo $?) "cancel_run stops it on the worker's machine"
ok $(wait_for 20 "SELECT finalized_at IS NOT NULL FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) \
	"its result is recorded"
is "$(q "SELECT status || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" "cancelled cancelled" \
	"and the run stays cancelled"
stop_worker w1
ok $(spool_empty w1; echo $?) "the drained worker left nothing in its spool"

# --- two workers, a burst of 200 runs: no run starts twice
touch "$WORK/starts"
chmod 666 "$WORK/starts"
cmd=$(script mark.sh "echo \"\$PAPERCLIP_RUN_ID\" >> '$WORK/starts'")
q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
   SELECT '$COMPANY', 'burst-' || g, '{\"command\":\"$cmd\"}' FROM generate_series(1, 200) g" >/dev/null
start_worker b1 pc_it_worker --concurrency 6
start_worker b2 pc_it_worker --concurrency 6
ok $(worker_connected pc_it_worker 2; echo $?) "two workers connect"
out=$(PGUSER=pc_it_worker PGPASSWORD=$WORKER_PASSWORD "${as[@]}" "$WORKER_BIN" --name b1 --dir "$WORK/state" 2>&1); rc=$?
ok $([ $rc -eq 1 ] && grep -q 'another paperclip_worker named "b1" runs with directory' <<<"$out"; echo $?) \
	"a third one named as one of them is refused"
q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$COMPANY' AND name LIKE 'burst-%'" >/dev/null
ok $(wait_for 180 "SELECT count(*) = 200 FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
  WHERE a.name LIKE 'burst-%' AND a.company_id = '$COMPANY' AND r.status NOT IN ('queued', 'running')"; echo $?) \
	"the burst of 200 runs finishes"
is "$(q "SELECT count(*) FILTER (WHERE r.status = 'succeeded') FROM paperclip.heartbeat_runs r
  JOIN paperclip.agents a ON a.id = r.agent_id WHERE a.name LIKE 'burst-%' AND a.company_id = '$COMPANY'")" 200 \
	"all 200 succeeded"
is "$(wc -l <"$WORK/starts" | tr -d ' ')/$(sort -u "$WORK/starts" | wc -l | tr -d ' ')" "200/200" \
	"200 agent starts, 200 different runs: none started twice"
is "$(q "SELECT count(DISTINCT worker_name) FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
  WHERE a.name LIKE 'burst-%' AND a.company_id = '$COMPANY'")" 2 "both workers ran some of them"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_run_events e JOIN paperclip.agents a ON a.id = e.agent_id
  WHERE a.name LIKE 'burst-%' AND a.company_id = '$COMPANY' AND e.message = 'run started'")" 200 \
	"one 'run started' event per run"
stop_worker b1
stop_worker b2
ok $(spool_empty b1 && spool_empty b2; echo $?) "both spools are empty"

# --- a worker bound to one company claims only its runs
other=$(q "INSERT INTO paperclip.companies (name) VALUES ('$(basename "$0") B') RETURNING id")
cmd=$(script quick.sh 'exit 0')
q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
   SELECT c, 'bound-' || g, '{\"command\":\"$cmd\"}'
     FROM unnest(ARRAY['$COMPANY', '$other']::uuid[]) c, generate_series(1, 3) g" >/dev/null
worker_role pc_it_worker_a "$COMPANY"
q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE name LIKE 'bound-%'" >/dev/null
# its claims, made after all six were queued, would have taken the other three if it could
start_worker bound pc_it_worker_a
ok $(wait_for 60 "SELECT count(*) = 3 FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
  WHERE a.name LIKE 'bound-%' AND r.company_id = '$COMPANY' AND r.status = 'succeeded'"; echo $?) \
	"the bound worker runs its company's 3 runs"
is "$(q "SELECT count(*) FILTER (WHERE r.status = 'queued' AND r.worker_name IS NULL) || '/' || count(*)
  FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
  WHERE a.name LIKE 'bound-%' AND r.company_id = '$other'")" "3/3" "the other company's runs stay queued, unclaimed"
stop_worker bound

done_testing
