#!/usr/bin/env bash
# CPU time of the backend per enqueue_wakeup call, by path: a new run, a
# coalescing wake merged into a queued run, a wake coalesced into a running
# run (no news), and the PL/pgSQL port of the 0.1 path coalescing (the
# baseline). Measured from /proc/<backend>/stat around N calls, one
# transaction each: on a shared machine CPU time moves far less than
# transactions per second do. Run it against two builds (e.g. main before
# issue 13 and after, each installed in its own copy of the server) and
# compare the columns, or each path with the baseline:
#   PG_CONFIG=... test/with-cluster.sh -o synchronous_commit=off test/bench/enqueue_cpu.sh
set -euo pipefail
cd "$(dirname "$0")"
N=${N:-10000}
db=paperclip_bench_cpu
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
q "CREATE EXTENSION paperclip"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f enqueue_plpgsql.sql
agent() { printf '00000000-0000-0000-0000-%012x' "$1"; }
# agents 1..N idle, N+1..2N with a queued run, 2N+1..3N running, 3N+1..4N queued (for PL/pgSQL)
q "INSERT INTO paperclip.companies (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'bench');
   INSERT INTO paperclip.agents (id, company_id, name)
   SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid, '00000000-0000-0000-0000-000000000001', 'agent ' || g
     FROM generate_series(1, 4 * $N) g;
   WITH w AS (INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, status, finished_at)
              SELECT company_id, id, 'on_demand', 'completed', now() FROM paperclip.agents RETURNING id, agent_id)
   INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, wakeup_request_id, finished_at)
   SELECT '00000000-0000-0000-0000-000000000001', agent_id, 'succeeded', id, now() FROM w;
   WITH w AS (INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, reason)
              SELECT company_id, id, 'assignment', 'issue_assigned' FROM paperclip.agents
               WHERE id > '$(agent "$N")' RETURNING id, agent_id)
   INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, invocation_source, wakeup_request_id,
                                         context_snapshot, created_at)
   SELECT '00000000-0000-0000-0000-000000000001', agent_id, 'assignment', id, '{\"issueId\":\"i-1\"}',
          clock_timestamp() FROM w;
   UPDATE paperclip.heartbeat_runs SET status = 'running', started_at = now()
    WHERE agent_id > '$(agent $((2 * N)))' AND agent_id <= '$(agent $((3 * N)))' AND status = 'queued'"
psql -X -q -d "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT"

calls() {	# calls <first agent> <function> <context argument>
	local g
	for g in $(seq "$1" $(($1 + N - 1))); do
		echo "SELECT 1 FROM $2('$(agent "$g")', 'automation', 'callback', 'issue_commented', $3);"
	done
}
cpu_per_call() {	# cpu_per_call <first agent> <function> <context argument>: microseconds
	local script
	script=$(mktemp)
	{
		echo 'SELECT pg_backend_pid() AS pid \gset'
		echo '\setenv BPID :pid'
		echo "\\! awk '{ print \$14 + \$15 }' /proc/\$BPID/stat > $script.0"
		calls "$@"
		echo "\\! awk '{ print \$14 + \$15 }' /proc/\$BPID/stat > $script.1"
	} >"$script"
	psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -d "$db" -f "$script"
	echo $(( ($(cat "$script.1") - $(cat "$script.0")) * 1000000 / $(getconf CLK_TCK) / N ))
	rm -f "$script" "$script.0" "$script.1"
}
ctx="context_snapshot => '{\"issueId\":\"i-1\",\"wakeCommentId\":\"c-1\"}'"
new=$(cpu_per_call 1 paperclip.enqueue_wakeup "$ctx")
merge=$(cpu_per_call $((N + 1)) paperclip.enqueue_wakeup "$ctx")
running=$(cpu_per_call $((2 * N + 1)) paperclip.enqueue_wakeup "context_snapshot => '{\"issueId\":\"i-1\"}'")
plpgsql=$(cpu_per_call $((3 * N + 1)) paperclip_bench.enqueue_wakeup_plpgsql_01 "p_context => '{\"issueId\":\"i-1\",\"wakeCommentId\":\"c-1\"}'")
echo "== backend CPU per enqueue_wakeup call (us), $N calls each"
printf '%-10s %-16s %-18s %-20s  %s\n' "new run" "merge (queued)" "coalesce (running)" "PL/pgSQL coalesce" "merge / PL/pgSQL"
printf '%-10s %-16s %-18s %-20s  %s\n' "$new" "$merge" "$running" "$plpgsql" "$(awk "BEGIN { printf \"%.2f\", $merge / $plpgsql }")"
dropdb "$db"
