#!/usr/bin/env bash
# make bench: every benchmark, inside the cluster pg_virtualenv gave us, each
# printed as ratios against baselines measured in this same run.
#   1. enqueue_wakeup (C) against the same logic in PL/pgSQL, the service's six
#      client round trips, and the floor: the two rows written by one bare
#      SQL statement; at 1 and 2 clients (pgbench, prepared statements); and
#      a coalescing wake (merged into a queued run) against the PL/pgSQL port
#      of the 0.1 path
#   2. the launcher: dispatch latency, run throughput, memory (launcher.sh);
#      paperclip_worker beside it: dispatch latency, run throughput (worker.sh);
#      what keeping run logs in the database costs against files (logs.sh)
#   3. the scheduler: timer ticks by agents due, liveness backfill (scheduler.sh)
#   4. the http adapter (http.sh); parsing a coding-agent CLI's output (cli.sh)
# The cluster runs with synchronous_commit=off (and pg_virtualenv's fsync=off),
# so that WAL flushes do not hide the CPU cost of what is compared.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
AGENTS=${AGENTS:-300000}
pgbench=$(pg_config --bindir)/pgbench
db=paperclip_bench
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
q "CREATE EXTENSION paperclip"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f enqueue_plpgsql.sql
q "CREATE SEQUENCE paperclip_bench.next_agent;
   INSERT INTO paperclip.companies (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'bench');
   INSERT INTO paperclip.agents (id, company_id, name)
   SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid, '00000000-0000-0000-0000-000000000001', 'agent ' || g
     FROM generate_series(1, $AGENTS) g"
# a history: one finished run (and its request) per agent, as a live system has,
# so that the planner's statistics are those of a table in use, not an empty one
q "WITH w AS (INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, status, finished_at)
             SELECT company_id, id, 'on_demand', 'completed', now() FROM paperclip.agents RETURNING id, agent_id)
   INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, wakeup_request_id, finished_at)
   SELECT '00000000-0000-0000-0000-000000000001', agent_id, 'succeeded', id, now() FROM w"
psql -X -q -d "$db" -c "VACUUM ANALYZE"

# tps <script> <clients>: each transaction queues a new run for a fresh agent;
# what the previous variant added is deleted first
tps() {
	q "DELETE FROM paperclip.heartbeat_runs WHERE status <> 'succeeded';
	   DELETE FROM paperclip.agent_wakeup_requests WHERE status <> 'completed';
	   ALTER SEQUENCE paperclip_bench.next_agent RESTART"
	psql -X -q -d "$db" -c "VACUUM ANALYZE paperclip.heartbeat_runs, paperclip.agent_wakeup_requests" -c "CHECKPOINT"
	"$pgbench" -n -M prepared -c "$2" -j "$2" -T "$SECONDS_PER_RUN" -f "$1" "$db" 2>&1 |
		awk '/^tps = / { printf "%.0f", $3 }'
}

echo "== enqueue_wakeup: transactions per second, ${SECONDS_PER_RUN}s each (new run for a fresh agent every time)"
printf '%-8s %10s %10s %12s %10s   %s\n' clients "C" "PL/pgSQL" "6 trips" "floor" "C / PL/pgSQL, C / 6 trips, C / floor"
for c in 1 2; do
	ours=$(tps enqueue_c.sql "$c")
	plpgsql=$(tps enqueue_plpgsql_call.sql "$c")
	trips=$(tps enqueue_round_trips.sql "$c")
	floor=$(tps enqueue_floor.sql "$c")
	printf '%-8s %10s %10s %12s %10s   %.2f, %.2f, %.2f\n' "$c" "$ours" "$plpgsql" "$trips" "$floor" \
		"$(awk "BEGIN { print $ours / $plpgsql }")" "$(awk "BEGIN { print $ours / $trips }")" \
		"$(awk "BEGIN { print $ours / $floor }")"
done
echo "goals: C >= 1.3 x PL/pgSQL, >= 3 x six round trips, >= 0.9 x floor"
echo "(C and PL/pgSQL send the heartbeat.run.queued NOTIFY; the six trips and the floor send none)"
echo

# coalesce_tps <script> <clients>: each transaction wakes an agent whose run
# is queued (a comment: it coalesces); every agent gets a fresh queued run first
coalesce_tps() {
	q "DELETE FROM paperclip.heartbeat_runs WHERE status <> 'succeeded';
	   DELETE FROM paperclip.agent_wakeup_requests WHERE status <> 'completed';
	   ALTER SEQUENCE paperclip_bench.next_agent RESTART;
	   WITH w AS (INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, reason)
	              SELECT company_id, id, 'assignment', 'issue_assigned' FROM paperclip.agents RETURNING id, agent_id)
	   INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, invocation_source, wakeup_request_id, context_snapshot)
	   SELECT '00000000-0000-0000-0000-000000000001', agent_id, 'assignment', id, '{\"issueId\":\"i-1\"}' FROM w"
	psql -X -q -d "$db" -c "VACUUM ANALYZE paperclip.heartbeat_runs, paperclip.agent_wakeup_requests" -c "CHECKPOINT"
	"$pgbench" -n -M prepared -c "$2" -j "$2" -T "$SECONDS_PER_RUN" -D agents="$AGENTS" -f "$1" "$db" 2>&1 |
		awk '/^tps = / { printf "%.0f", $3 }'
}

# The coalescing wake of 0.2 merges the wake's context into the queued run
# (an UPDATE of the run) where 0.1 only wrote the coalesced request. Its
# baseline is the PL/pgSQL port of 0.1's path: compare "C / PL/pgSQL" here
# with the same line of a build of 0.1 (main before issue 13), e.g. the
# same script against an install of that build (make bench-installed).
echo "== enqueue_wakeup of a coalescing wake (a comment for an agent whose run is queued), ${SECONDS_PER_RUN}s each"
printf '%-8s %10s %10s   %s\n' clients "C" "PL/pgSQL" "C / PL/pgSQL (0.1 path, no merge)"
for c in 1 2; do
	ours=$(coalesce_tps enqueue_coalesce_c.sql "$c")
	plpgsql=$(coalesce_tps enqueue_coalesce_plpgsql.sql "$c")
	printf '%-8s %10s %10s   %.2f\n' "$c" "$ours" "$plpgsql" "$(awk "BEGIN { print $ours / $plpgsql }")"
done
echo "goal: C / PL/pgSQL within 10 % of the same ratio measured on a build of main before issue 13"
echo
dropdb "$db"

./launcher.sh
echo
./worker.sh
echo
./logs.sh
echo
./http.sh
echo
./cli.sh
echo
./scheduler.sh
