#!/usr/bin/env bash
# Wakes that carry news, through the launcher: comments that arrive while
# the agent works are deferred, and when its run ends they become one
# follow-up run whose context holds every comment; a run lost with its
# runner folds them into its retry; a queued run of a blocked issue is
# cancelled at claim. Live events say so, with ids and statuses only.
. "$(dirname "$0")/lib.bash"
launcher_db

# the agent works until $WORK/go exists, then prints the context it was given
cmd=$(script sleeper.sh "while [ ! -e '$WORK/go' ]; do sleep 0.05; done
echo \"context: \$PAPERCLIP_CONTEXT\"")
a=$(agent sleeper "{\"command\":\"$cmd\"}")
wake() {	# wake <agent> <source> <trigger> <reason> <context json>: the run the wake went to
	q "SELECT id FROM paperclip.enqueue_wakeup('$1', '$2', '$3', '$4', context_snapshot => '$5')"
}

r=$(wake "$a" assignment manual issue_assigned '{"issueId":"i-1"}')
ok $(wait_for 10 "SELECT status = 'running' AND agent_pid IS NOT NULL FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) \
	"the agent is at work"
got=""
for c in c-1 c-2 c-3; do
	got="$got $(wake "$a" automation callback issue_commented "{\"issueId\":\"i-1\",\"wakeCommentId\":\"$c\"}")"
done
is "$got" " $r $r $r" "each comment answers with the running run"
is "$(wake "$a" on_demand ping '' '{}')" "$r" "a ping answers with it too"
is "$(q "SELECT string_agg(status, ',' ORDER BY requested_at, status) FROM paperclip.agent_wakeup_requests
          WHERE agent_id = '$a' AND run_id = '$r' AND reason IS DISTINCT FROM 'issue_assigned'")" \
	"deferred,deferred,deferred,coalesced" "the comments are deferred, the ping coalesced"

# the agent finishes; listen meanwhile for the follow-up's live events
out=$(psql -X -q -d "$DB" 2>&1 <<SQL
LISTEN paperclip_events;
\\! touch '$WORK/go'
DO \$\$
BEGIN
  FOR i IN 1..600 LOOP
    EXIT WHEN EXISTS (SELECT 1 FROM paperclip.heartbeat_runs WHERE agent_id = '$a' AND id <> '$r' AND status = 'succeeded');
    PERFORM pg_sleep(0.05);
  END LOOP;
END
\$\$;
SQL
)
ok $(wait_finished "$r"; echo $?) "the run ends"
is "$(run_status "$r")" succeeded "it succeeded"
f=$(q "SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = '$a' AND id <> '$r'")
is "$(wc -w <<< "$f")" 1 "one follow-up run"
ok $(wait_finished "$f"; echo $?) "the launcher runs the follow-up"
is "$(q "SELECT status || ' ' || invocation_source || ' ' || trigger_detail FROM paperclip.heartbeat_runs WHERE id = '$f'")" \
	"succeeded automation callback" "it succeeded, with the first comment's source and trigger"
is "$(q "SELECT context_snapshot -> 'wakeCommentIds' FROM paperclip.heartbeat_runs WHERE id = '$f'")" \
	'["c-1", "c-2", "c-3"]' "its context holds every comment, in order"
excerpt=$(q "SELECT stdout_excerpt FROM paperclip.heartbeat_runs WHERE id = '$f'")
ok $(grep -q '"wakeCommentIds":\["c-1","c-2","c-3"\]' <<< "$excerpt"; echo $?) "the agent was given all three"
is "$(q "SELECT string_agg(status, ',' ORDER BY requested_at) FROM paperclip.agent_wakeup_requests
          WHERE agent_id = '$a' AND run_id = '$f'")" "completed,coalesced,coalesced" \
	"the first comment's request is the follow-up's own, the others coalesced into it"
is "$(q "SELECT count(*) FROM paperclip.agent_wakeup_requests WHERE agent_id = '$a' AND status = 'deferred'")" 0 \
	"nothing is left deferred"
events=$(grep 'Asynchronous notification' <<< "$out")
ok $(grep -q "\"type\":\"heartbeat.run.queued\",\"payload\":{\"runId\":\"$f\"" <<< "$events"; echo $?) \
	"heartbeat.run.queued announces the follow-up"
is "$(grep '"type":"heartbeat.wakeup.status"' <<< "$events" | grep -c "\"runId\":\"$f\"")" 3 \
	"heartbeat.wakeup.status tells each deferred request's new run"
ok $(grep '"type":"heartbeat.wakeup.status"' <<< "$events" | grep -q '"status":"queued"'; echo $?) "one of them queued"
ok $(! grep '"type":"heartbeat.wakeup' <<< "$events" | grep -qE '"c-[0-9]"|"i-1"|issue_commented'; echo $?) \
	"the wakeup events carry no context: ids and statuses only"

# a deferral is announced at commit, content-free
rm -f "$WORK/go"
r=$(wake "$a" assignment manual issue_assigned '{"issueId":"i-2"}')
ok $(wait_for 10 "SELECT status = 'running' AND agent_pid IS NOT NULL FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) \
	"the agent works on the next issue"
out=$(psql -X -q -d "$DB" 2>&1 <<SQL
LISTEN paperclip_events;
SELECT id FROM paperclip.enqueue_wakeup('$a', 'automation', 'callback', 'issue_commented',
       context_snapshot => '{"issueId":"i-2","wakeCommentId":"c-4"}');
SQL
)
deferred=$(grep '"type":"heartbeat.wakeup.status"' <<< "$out")
ok $(grep -q "\"agentId\":\"$a\",\"runId\":\"$r\",\"status\":\"deferred\"" <<< "$deferred"; echo $?) \
	"heartbeat.wakeup.status says deferred, for the running run"
ok $(! grep -q '"c-4"' <<< "$deferred"; echo $?) "without the comment"

# the runner is lost (kill -9): the run fails process_lost, its retry is
# promoted at once with the comment merged in: one run, no second follow-up
runner=$(q "SELECT runner_pid FROM paperclip.heartbeat_runs WHERE id = '$r'")
kill -9 "$runner"
ok $(wait_finished "$r"; echo $?) "the run of the lost runner ends"
touch "$WORK/go"	# its retry may finish
is "$(q "SELECT status || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" "failed process_lost" \
	"as failed, process_lost"
retry=$(q "SELECT id FROM paperclip.heartbeat_runs WHERE retry_of_run_id = '$r'")
ok $([ -n "$retry" ] && wait_finished "$retry"; echo $?) "its retry ran at once"
is "$(q "SELECT status || ' ' || (context_snapshot ->> 'wakeCommentId') FROM paperclip.heartbeat_runs WHERE id = '$retry'")" \
	"succeeded c-4" "with the deferred comment"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE agent_id = '$a' AND created_at > (SELECT created_at FROM paperclip.heartbeat_runs WHERE id = '$r')")" \
	1 "and no other run"

# the launcher's claim guard: a queued run of a blocked issue is cancelled, not started
b=$(agent blocked '{"command":"/bin/true"}')
issue=$(q "INSERT INTO paperclip.issues (company_id, title, status) VALUES ('$COMPANY', 'waiting on someone', 'blocked') RETURNING id")
r=$(wake "$b" assignment manual issue_assigned "{\"issueId\":\"$issue\"}")
ok $(wait_finished "$r"; echo $?) "the run of a blocked issue does not stay queued"
is "$(q "SELECT status || ' ' || error_code || ' ' || (started_at IS NULL) FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"cancelled issue_blocked true" "it is cancelled at claim (issue_blocked), never started"
q "UPDATE paperclip.issues SET status = 'todo' WHERE id = '$issue'" >/dev/null
r=$(wake "$b" assignment manual issue_assigned "{\"issueId\":\"$issue\"}")
ok $(wait_finished "$r"; echo $?) "once unblocked, a run of the issue starts"
is "$(run_status "$r")" succeeded "and succeeds"

done_testing
