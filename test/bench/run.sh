#!/usr/bin/env bash
# make bench: every benchmark, inside the cluster pg_virtualenv gave us, each
# printed as ratios against baselines measured in this same run.
#   1. enqueue_wakeup (C) against today's logic ported to PL/pgSQL, the
#      service's six client round trips, and two floors: the two rows written
#      by one bare SQL statement into our tables, and into bare tables
#      (primary keys only); at 1 and 2 clients (pgbench, prepared statements);
#      each transaction enqueues for a fresh agent, then marks the run
#      finished. A coalescing wake (merged into a queued run) against the
#      PL/pgSQL port of the 0.1 path. finalize_run (C) against its PL/pgSQL
#      port and the same two floors. Where the enqueue backend's time goes
#      (perf, when installed).
#   2. the launcher: dispatch latency, run throughput, memory (launcher.sh);
#      paperclip_worker beside it: dispatch latency, run throughput (worker.sh);
#      what keeping run logs in the database costs against files (logs.sh)
#   3. the scheduler: timer ticks by agents due, liveness backfill (scheduler.sh)
#   4. the http adapter (http.sh); parsing a coding-agent CLI's output (cli.sh)
# The cluster runs with synchronous_commit=off (and pg_virtualenv's fsync=off),
# so that WAL flushes do not hide the CPU cost of what is compared.
# BENCH_ONLY=hot runs only part 1.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
AGENTS=${AGENTS:-300000}
FINALIZE_RUNS=${FINALIZE_RUNS:-150000}
pgbench=$(pg_config --bindir)/pgbench
db=paperclip_bench
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }

dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
q "CREATE EXTENSION paperclip"
for f in enqueue_plpgsql.sql finalize_plpgsql.sql bare_tables.sql; do
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$f"
done
q "CREATE SEQUENCE paperclip_bench.next_agent;
   INSERT INTO paperclip.companies (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'bench');
   INSERT INTO paperclip.agents (id, company_id, name)
   SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid, '00000000-0000-0000-0000-000000000001', 'agent ' || g
     FROM generate_series(1, $AGENTS) g;
   INSERT INTO paperclip_bench.b_agents SELECT * FROM paperclip.agents"
# a history: one finished run (and its request) per agent, and its runtime
# state, as a live system has, so that the planner's statistics are those of
# tables in use, not empty ones
q "WITH w AS (INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, status, finished_at)
             SELECT company_id, id, 'on_demand', 'completed', now() FROM paperclip.agents RETURNING id, agent_id)
   INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, wakeup_request_id, finished_at, external_run_id)
   SELECT '00000000-0000-0000-0000-000000000001', agent_id, 'succeeded', id, now(), 'history' FROM w;
   INSERT INTO paperclip.agent_runtime_state (agent_id, company_id, adapter_type)
   SELECT id, company_id, adapter_type FROM paperclip.agents;
   INSERT INTO paperclip_bench.b_runtime SELECT * FROM paperclip.agent_runtime_state"
psql -X -q -d "$db" -c "VACUUM ANALYZE"

# pgbench in the API's search_path (pg_catalog, pg_temp; the scripts name
# everything): the foreign-key checks' plans are shared by every caller and
# made again whenever they run under another search_path than the last time;
# a transaction that marks its run finished outside the API would pay that
# twice per transaction, in the C and PL/pgSQL variants only.
bench() {	# bench <script> <clients>: transactions per second
	PGOPTIONS="-c search_path=pg_catalog,pg_temp" \
	"$pgbench" -n -M prepared -c "$2" -j "$2" -T "$SECONDS_PER_RUN" -f "$1" "$db" 2>&1 |
		awk '/^tps = / { printf "%.0f", $3 } /aborted|ERROR/ { print > "/dev/stderr" }'
}

# what a variant added is deleted before the next (the history stays).
# Nothing points at the deleted runs once events, cost events, log rows
# and the runtime states' last_run_id are cleared, so the deletes skip the
# foreign keys' actions (session_replication_role = replica): each deleted
# run would otherwise look for its referencing rows in every table that
# points at runs, agent_runtime_state's 300,000 rows included (no index
# leads with last_run_id: the finalize's update of the state stays HOT),
# which took tens of minutes for a variant's 20,000 runs.
reset() {
	q "DELETE FROM paperclip.heartbeat_run_events; DELETE FROM paperclip.cost_events;
	   DELETE FROM paperclip.run_log_chunks;
	   UPDATE paperclip.agent_runtime_state s SET last_run_id = NULL FROM paperclip.heartbeat_runs r
	    WHERE r.company_id = s.company_id AND r.id = s.last_run_id AND r.external_run_id IS DISTINCT FROM 'history';
	   SET session_replication_role = replica;
	   DELETE FROM paperclip.heartbeat_runs WHERE external_run_id IS DISTINCT FROM 'history';
	   DELETE FROM paperclip.agent_wakeup_requests WHERE status <> 'completed' OR reason = 'bench-finalize';
	   RESET session_replication_role;
	   UPDATE paperclip.agents SET status = 'idle' WHERE status <> 'idle';
	   TRUNCATE paperclip_bench.b_runs, paperclip_bench.b_requests, paperclip_bench.b_events, paperclip_bench.b_cost;
	   ALTER SEQUENCE paperclip_bench.next_agent RESTART"
}

# tps <script> <clients>: each transaction queues a new run for a fresh agent
tps() {
	reset
	psql -X -q -d "$db" -c "VACUUM ANALYZE paperclip.heartbeat_runs, paperclip.agent_wakeup_requests" -c "CHECKPOINT"
	bench "$@"
}

echo "== enqueue_wakeup: transactions per second, ${SECONDS_PER_RUN}s each (a new run for a fresh agent, then marked finished)"
printf '%-8s %8s %9s %8s %8s %8s   %s\n' clients "C" "PL/pgSQL" "6 trips" "floor" "bare" \
	"C / PL/pgSQL, C / 6 trips, C / floor, C / bare floor"
for c in 1 2; do
	ours=$(tps enqueue_c.sql "$c")
	plpgsql=$(tps enqueue_plpgsql_call.sql "$c")
	trips=$(tps enqueue_round_trips.sql "$c")
	floor=$(tps enqueue_floor.sql "$c")
	bare=$(tps enqueue_bare.sql "$c")
	printf '%-8s %8s %9s %8s %8s %8s   %s, %s, %s, %s\n' "$c" "$ours" "$plpgsql" "$trips" "$floor" "$bare" \
		"$(ratio "$ours" "$plpgsql")" "$(ratio "$ours" "$trips")" "$(ratio "$ours" "$floor")" "$(ratio "$ours" "$bare")"
done
echo "goals: C >= 1.3 x PL/pgSQL, >= 3 x six round trips, >= 0.6 x the bare floor (issue 16; quality-bar: >= 0.9 x floor)"
echo "(\"floor\": the two rows into our tables by one bare statement; \"bare\": into tables with primary keys only;"
echo " C and PL/pgSQL send the heartbeat.run.queued NOTIFY, the six trips and the floors none)"
echo

# coalesce_tps <script> <clients>: each transaction wakes an agent whose run
# is queued (a comment: it coalesces); every agent gets a fresh queued run first
coalesce_tps() {
	reset
	q "WITH w AS (INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, reason)
	              SELECT company_id, id, 'assignment', 'issue_assigned' FROM paperclip.agents RETURNING id, agent_id)
	   INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, invocation_source, wakeup_request_id, context_snapshot)
	   SELECT '00000000-0000-0000-0000-000000000001', agent_id, 'assignment', id, '{\"issueId\":\"i-1\"}' FROM w"
	psql -X -q -d "$db" -c "VACUUM ANALYZE paperclip.heartbeat_runs, paperclip.agent_wakeup_requests" -c "CHECKPOINT"
	PGOPTIONS="-c search_path=pg_catalog,pg_temp" \
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

# fin_tps <script> <clients>: each transaction finalizes a running run of a
# fresh agent (FINALIZE_RUNS of them, ids 10000000-...-<agent>, made afresh
# for each variant, in our tables and in the bare ones)
fin_tps() {
	reset
	q "WITH w AS (INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, reason, status, claimed_at)
	              SELECT company_id, id, 'on_demand', 'bench-finalize', 'claimed', now() FROM paperclip.agents
	               WHERE id <= ('00000000-0000-0000-0000-' || lpad(to_hex($FINALIZE_RUNS), 12, '0'))::uuid
	              RETURNING id, agent_id)
	   INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, wakeup_request_id, started_at, event_seq, context_snapshot)
	   SELECT ('10000000' || substr(agent_id::text, 9))::uuid, '00000000-0000-0000-0000-000000000001', agent_id,
	          'running', id, now(), 1, '{}' FROM w;
	   UPDATE paperclip.agents SET status = 'running' WHERE status <> 'running'
	      AND id <= ('00000000-0000-0000-0000-' || lpad(to_hex($FINALIZE_RUNS), 12, '0'))::uuid;
	   INSERT INTO paperclip_bench.b_requests SELECT * FROM paperclip.agent_wakeup_requests WHERE reason = 'bench-finalize';
	   INSERT INTO paperclip_bench.b_runs SELECT * FROM paperclip.heartbeat_runs WHERE id >= '10000000-0000-0000-0000-000000000000';
	   UPDATE paperclip_bench.b_agents SET status = 'running'
	    WHERE id <= ('00000000-0000-0000-0000-' || lpad(to_hex($FINALIZE_RUNS), 12, '0'))::uuid"
	psql -X -q -d "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT"
	bench "$@"
}

echo "== finalize_run: transactions per second, ${SECONDS_PER_RUN}s each (a running run of a fresh agent succeeds, with a cost)"
printf '%-8s %8s %9s %8s %8s   %s\n' clients "C" "PL/pgSQL" "floor" "bare" "C / PL/pgSQL, C / floor, C / bare floor"
for c in 1 2; do
	ours=$(fin_tps finalize_c.sql "$c")
	plpgsql=$(fin_tps finalize_plpgsql_call.sql "$c")
	floor=$(fin_tps finalize_floor.sql "$c")
	bare=$(fin_tps finalize_bare.sql "$c")
	printf '%-8s %8s %9s %8s %8s   %s, %s, %s\n' "$c" "$ours" "$plpgsql" "$floor" "$bare" \
		"$(ratio "$ours" "$plpgsql")" "$(ratio "$ours" "$floor")" "$(ratio "$ours" "$bare")"
done
echo "goals: C >= 1.3 x PL/pgSQL, >= 0.6 x the bare floor (issue 16)"
echo "(C and PL/pgSQL send three NOTIFYs, the floors none)"
echo

# Where the enqueue backend's time goes: perf samples of the backend running
# enqueue_c.sql for a few seconds, cumulated by function (children included).
echo "== where the time goes: perf profile of the backend running enqueue_c.sql (1 client)"
if command -v perf >/dev/null 2>&1 && perf record -o /dev/null -e cpu-clock true >/dev/null 2>&1; then
	prof=$(mktemp -d)
	tps enqueue_c.sql 1 >/dev/null &
	bench_pid=$!
	pid=
	for _ in $(seq 50); do
		pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND state IS NOT NULL LIMIT 1")
		[ -n "$pid" ] && break
		sleep 0.1
	done
	if [ -n "$pid" ]; then
		perf record -q -o "$prof/perf.data" -e cpu-clock -F 1999 --call-graph dwarf,16384 -p "$pid" \
			-- sleep "$(( SECONDS_PER_RUN > 6 ? 5 : SECONDS_PER_RUN - 1 ))" >/dev/null 2>&1 || true
		perf report -q -i "$prof/perf.data" --children --stdio -g none --sort symbol --percent-limit 3 2>/dev/null |
			awk '$1 ~ /%$/ && n++ < 45 { sym=$0; sub(/^.*\] /, "", sym); printf "  %7s %7s  %s\n", $1, $2, sym }'
		echo "  (first column: share of samples in the function and what it calls; second: in the function itself)"
	else
		echo "  (could not find the pgbench backend)"
	fi
	wait "$bench_pid" || true
	rm -rf "$prof"
else
	echo "  perf is not installed (or not allowed here): no profile"
fi
echo
dropdb "$db"

[ "${BENCH_ONLY:-}" = hot ] && exit 0

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
