#!/usr/bin/env bash
# The scheduler's work, each against a baseline measured in this same run:
#   1. tick_timers: 100,000 agents against 1,000, 1 % due in each, and
#      100,000 agents with as few due as the 1,000 (the cost of agents not due)
#   2. backfill_run_liveness of 20 runs against the service's pattern
#      (the run list, the issue, then seven queries per run) replayed by pgbench
# Every timed transaction rolls back, so each iteration does the same work.
set -euo pipefail
cd "$(dirname "$0")"
pgbench=$(pg_config --bindir)/pgbench
ITERATIONS=${ITERATIONS:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
# latency <db> <script> [iterations]: average ms per transaction
latency() {
	"$pgbench" -n -M prepared -t "${3:-$ITERATIONS}" -f "$2" "$1" 2>&1 |
		awk '/^latency average = / { print $4 }'
}

# agents_db <db> <agents> <due>: agents with a one-hour timer, <due> of them overdue
agents_db() {
	dropdb --if-exists "$1" >/dev/null 2>&1
	createdb "$1"
	q "$1" "CREATE EXTENSION paperclip;
	   INSERT INTO paperclip.companies (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'bench');
	   INSERT INTO paperclip.agents (company_id, name, runtime_config, last_heartbeat_at)
	   SELECT '00000000-0000-0000-0000-000000000001', 'agent ' || g, '{\"heartbeat\":{\"intervalSec\":3600}}',
	          CASE WHEN g <= $3 THEN now() - interval '2 hours' ELSE now() END
	     FROM generate_series(1, $2) g"
	psql -X -q -d "$1" -c "VACUUM ANALYZE"
}

cat >"$work/tick.sql" <<'SQL'
BEGIN;
SELECT * FROM paperclip.tick_timers();
ROLLBACK;
SQL
cat >"$work/scan.sql" <<'SQL'
SELECT * FROM paperclip.agents;
SQL

echo "== tick_timers: ms per tick (average of $ITERATIONS, each rolled back)"
agents_db bench_tick_small 1000 10
small=$(latency bench_tick_small "$work/tick.sql")
agents_db bench_tick_large 100000 1000
large=$(latency bench_tick_large "$work/tick.sql" 10)
scan=$(latency bench_tick_large "$work/scan.sql" 10)
q bench_tick_large "UPDATE paperclip.agents SET last_heartbeat_at = now() WHERE last_heartbeat_at < now() - interval '1 hour'
                    AND name NOT IN (SELECT 'agent ' || g FROM generate_series(1, 10) g)"
psql -X -q -d bench_tick_large -c "VACUUM ANALYZE paperclip.agents"
sparse=$(latency bench_tick_large "$work/tick.sql")
printf '%-34s %10s %12s\n' "agents / due" "ms/tick" "ms/agent due"
printf '%-34s %10.2f %12.3f\n' "1,000 / 10 (baseline)" "$small" "$(awk "BEGIN { print $small / 10 }")"
printf '%-34s %10.2f %12.3f\n' "100,000 / 1,000" "$large" "$(awk "BEGIN { print $large / 1000 }")"
printf '%-34s %10.2f %12.3f\n' "100,000 / 10" "$sparse" "$(awk "BEGIN { print $sparse / 10 }")"
printf '%-34s %10.2f\n' "service's first query: all 100,000" "$scan"
echo "ratios: per agent due, 100,000 / 1,000 agents: $(awk "BEGIN { printf \"%.2f\", ($large / 1000) / ($small / 10) }") (goal <= 3);" \
	"same 10 due among 100,000 vs 1,000 agents: $(awk "BEGIN { printf \"%.2f\", $sparse / $small }") (goal <= 3)"
dropdb bench_tick_small
dropdb bench_tick_large
echo

# --- backfill: 20 finished runs of an issue with evidence of every kind, in a
# database that also holds 20,000 other runs and their evidence
db=bench_backfill
dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
q "$db" "CREATE EXTENSION paperclip;
   INSERT INTO paperclip.companies (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'bench');
   INSERT INTO paperclip.agents (id, company_id, name) VALUES
     ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000001', 'agent');
   INSERT INTO paperclip.issues (id, company_id, title)
   SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid, '00000000-0000-0000-0000-000000000001', 'issue ' || g
     FROM generate_series(1, 1001) g;
   INSERT INTO paperclip.issue_documents (company_id, issue_id, document_id, key)
   SELECT company_id, id, gen_random_uuid(), k FROM paperclip.issues, unnest(ARRAY['spec', 'plan']) k;
   INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, context_snapshot, stdout_excerpt, finished_at, liveness_state)
   SELECT '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000a1', 'succeeded',
          jsonb_build_object('issueId', '00000000-0000-0000-0000-' || lpad(to_hex(CASE WHEN g <= 20 THEN 1 ELSE 1 + g % 1001 END), 12, '0')),
          'I will run the tests next', now(), CASE WHEN g > 20 THEN 'advanced' END
     FROM generate_series(1, 20020) g;
   INSERT INTO paperclip.issue_comments (company_id, issue_id, body, created_by_run_id)
   SELECT r.company_id, (r.context_snapshot->>'issueId')::uuid, 'c', r.id FROM paperclip.heartbeat_runs r, generate_series(1, 2);
   INSERT INTO paperclip.document_revisions (company_id, document_id, created_by_run_id)
   SELECT r.company_id, d.document_id, r.id FROM paperclip.heartbeat_runs r
     JOIN paperclip.issue_documents d ON d.issue_id = (r.context_snapshot->>'issueId')::uuid;
   INSERT INTO paperclip.issue_work_products (company_id, issue_id, kind, created_by_run_id)
   SELECT r.company_id, (r.context_snapshot->>'issueId')::uuid, 'pr', r.id FROM paperclip.heartbeat_runs r;
   INSERT INTO paperclip.workspace_operations (company_id, heartbeat_run_id, kind, started_at)
   SELECT company_id, id, 'clone', now() FROM paperclip.heartbeat_runs;
   INSERT INTO paperclip.activity_log (company_id, actor_id, action, entity_type, entity_id, run_id)
   SELECT company_id, 'agent', 'issue.updated', 'issue', context_snapshot->>'issueId', id FROM paperclip.heartbeat_runs;
   INSERT INTO paperclip.heartbeat_run_events (company_id, run_id, agent_id, seq, event_type)
   SELECT company_id, id, agent_id, s, CASE s WHEN 1 THEN 'lifecycle' ELSE 'tool.call' END
     FROM paperclip.heartbeat_runs, generate_series(1, 3) s"
psql -X -q -d "$db" -c "VACUUM ANALYZE"
issue=$(q "$db" "SELECT context_snapshot->>'issueId' FROM paperclip.heartbeat_runs WHERE liveness_state IS NULL LIMIT 1")
company=00000000-0000-0000-0000-000000000001
is20=$(q "$db" "SELECT count(*) FROM paperclip.heartbeat_runs WHERE liveness_state IS NULL AND context_snapshot->>'issueId' = '$issue'")
[ "$is20" -ge 20 ] || { echo "bench setup: $is20 runs to classify, not 20" >&2; exit 1; }

printf 'BEGIN;\nSELECT paperclip.backfill_run_liveness(%s, %s);\nROLLBACK;\n' "'$company'" "'$issue'" >"$work/backfill.sql"
# the service: the run list, the issue, then per run six evidence queries and an update
{
	echo "BEGIN;"
	echo "SELECT id, company_id, status, context_snapshot, result_json, stdout_excerpt, stderr_excerpt, error, error_code, continuation_attempt
	        FROM paperclip.heartbeat_runs WHERE company_id = '$company' AND liveness_state IS NULL AND status NOT IN ('queued', 'running')
	         AND (context_snapshot ->> 'issueId' = '$issue' OR EXISTS (SELECT 1 FROM paperclip.activity_log a WHERE a.company_id = '$company'
	              AND a.entity_type = 'issue' AND a.entity_id = '$issue' AND a.run_id = heartbeat_runs.id)) LIMIT 20;"
	echo "SELECT status, title, description FROM paperclip.issues WHERE company_id = '$company' AND id = '$issue';"
	for run in $(q "$db" "SELECT id FROM paperclip.heartbeat_runs WHERE liveness_state IS NULL AND context_snapshot->>'issueId' = '$issue' LIMIT 20"); do
		echo "SELECT count(*)::int, max(created_at) FROM paperclip.issue_comments WHERE company_id = '$company' AND issue_id = '$issue' AND created_by_run_id = '$run';"
		echo "SELECT count(*)::int, count(*) FILTER (WHERE d.key = 'plan')::int, max(v.created_at) FROM paperclip.document_revisions v JOIN paperclip.issue_documents d ON v.document_id = d.document_id WHERE v.company_id = '$company' AND v.created_by_run_id = '$run' AND d.company_id = '$company' AND d.issue_id = '$issue' AND d.key != 'continuation-summary';"
		echo "SELECT count(*)::int, max(created_at) FROM paperclip.issue_work_products WHERE company_id = '$company' AND issue_id = '$issue' AND created_by_run_id = '$run';"
		echo "SELECT count(*)::int, max(started_at) FROM paperclip.workspace_operations WHERE company_id = '$company' AND heartbeat_run_id = '$run';"
		echo "SELECT count(*)::int, max(created_at) FROM paperclip.activity_log WHERE company_id = '$company' AND run_id = '$run';"
		echo "SELECT count(*) FILTER (WHERE event_type NOT IN ('lifecycle', 'adapter.invoke', 'error'))::int, max(created_at) FILTER (WHERE event_type NOT IN ('lifecycle', 'adapter.invoke', 'error')) FROM paperclip.heartbeat_run_events WHERE company_id = '$company' AND run_id = '$run';"
		echo "UPDATE paperclip.heartbeat_runs SET liveness_state = 'advanced', liveness_reason = 'Run produced concrete action evidence', continuation_attempt = 0, last_useful_action_at = now(), next_action = NULL, updated_at = now() WHERE id = '$run' AND liveness_state IS NULL;"
	done
	echo "ROLLBACK;"
} >"$work/service.sql"
ours=$(latency "$db" "$work/backfill.sql" 200)
service=$(latency "$db" "$work/service.sql" 200)
updated=$(q "$db" "BEGIN; SELECT paperclip.backfill_run_liveness('$company', '$issue'); ROLLBACK;" | head -1)
echo "== backfill_run_liveness: 20 runs of an issue, ms per backfill (average of 200, each rolled back)"
printf '%-44s %8.2f\n' "C: one evidence query + one update ($updated runs)" "$ours"
printf '%-44s %8.2f\n' "service: 2 + 7 x 20 queries from a client" "$service"
echo "ratio service / C: $(awk "BEGIN { printf \"%.2f\", $service / $ours }") (goal >= 5)"
[ -n "${KEEP_DB:-}" ] || dropdb "$db"
