#!/usr/bin/env bash
# 1,000 enqueues for 50 agents from 8 sessions at once, while the launcher
# runs them: nothing is lost. Every request ends coalesced into a run or with
# exactly one run of its own, every run finishes, at most one run per agent
# is ever active, and the runtime totals equal the sum over the runs.
. "$(dirname "$0")/lib.bash"
launcher_db
cmd=$(script usage.sh 'echo "{\"type\":\"paperclip.result\",\"usage\":{\"inputTokens\":1}}"')
prefix=$(q "SELECT substr('$COMPANY', 1, 24)")
q "INSERT INTO paperclip.agents (id, company_id, name, adapter_config)
   SELECT ('$prefix' || lpad(g::text, 12, '0'))::uuid, '$COMPANY', 'stress ' || g, '{\"command\":\"$cmd\"}'
     FROM generate_series(1, 50) g" >/dev/null
cat >"$WORK/enqueue.sql" <<SQL
\set a random(1, 50)
SELECT (paperclip.enqueue_wakeup(('$prefix' || lpad(:a::text, 12, '0'))::uuid, reason => 'stress')).id;
SQL
"$(pg_config --bindir)/pgbench" -n -c 8 -j 8 -t 125 -f "$WORK/enqueue.sql" "$DB" >"$WORK/pgbench.log" 2>&1
ok $? "8 sessions enqueued 1,000 wakeups without an error"
grep -E 'failed|aborted' "$WORK/pgbench.log" | sed 's/^/# /'
ok $(wait_for 120 "SELECT count(*) = 0 FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY' AND status IN ('queued', 'running')"; echo $?) \
	"every run finished"
is "$(q "SELECT count(*) FROM paperclip.agent_wakeup_requests WHERE company_id = '$COMPANY' AND reason = 'stress'")" 1000 \
	"1,000 requests recorded"
is "$(q "SELECT count(*) FROM paperclip.agent_wakeup_requests WHERE company_id = '$COMPANY'
          AND status NOT IN ('coalesced', 'completed')")" 0 "each one coalesced or completed"
is "$(q "SELECT count(*) FROM paperclip.agent_wakeup_requests w WHERE w.company_id = '$COMPANY' AND w.status = 'completed'
          AND (SELECT count(*) FROM paperclip.heartbeat_runs r WHERE r.wakeup_request_id = w.id) <> 1")" 0 \
	"each completed request has exactly one run"
is "$(q "SELECT count(*) FROM paperclip.agent_wakeup_requests w WHERE w.company_id = '$COMPANY' AND w.status = 'coalesced'
          AND NOT EXISTS (SELECT 1 FROM paperclip.heartbeat_runs r WHERE r.id = w.run_id)")" 0 \
	"each coalesced request points at a run"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY' AND (status <> 'succeeded' OR wakeup_request_id IS NULL)")" 0 \
	"every run succeeded and belongs to a request"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs a JOIN paperclip.heartbeat_runs b
          ON a.agent_id = b.agent_id AND a.id < b.id AND a.company_id = '$COMPANY'
         WHERE tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)")" 0 \
	"no two runs of one agent overlapped"
is "$(q "SELECT (SELECT sum(total_input_tokens) FROM paperclip.agent_runtime_state WHERE company_id = '$COMPANY') =
                (SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY')")" t \
	"runtime totals equal the sum over the runs"
done_testing
