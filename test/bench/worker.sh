#!/usr/bin/env bash
# paperclip_worker beside the launcher, in one run, inside the bench cluster
# (PG* set), database postgres:
#   dispatch latency (enqueue commit -> agent process started), p50/p99 over
#     N sequential runs of each: through the launcher and through
#     paperclip_worker (launcher off), in alternating rounds so that both see
#     the same machine; the worker connects over the loopback interface as a
#     role granted paperclip_operator, not a superuser; each run is counted
#     for whoever ran it (heartbeat_runs.worker_name)
#   run throughput with /bin/true as the agent, both ways (two alternating
#     halves each), against a posix_spawn loop of /bin/true (the ceiling)
# The worker runs as many runs at once as paperclip.max_concurrent_runs lets
# the launcher.
set -euo pipefail
cd "$(dirname "$0")"
N_DISPATCH=${N_WORKER_DISPATCH:-${N_DISPATCH:-1000}}
N_THROUGHPUT=${N_WORKER_THROUGHPUT:-${N_THROUGHPUT:-3000}}
ROUNDS=${WORKER_ROUNDS:-10}
# each way runs its throughput in two halves of whole rounds of the 100 agents
HALF=$(( (N_THROUGHPUT / 200) * 100 ))
[ "$HALF" -ge 100 ] || HALF=100
bin=$(mktemp -d /tmp/paperclip-bench-worker.XXXXXX)
chmod 755 "$bin"
worker_pid=""
export PGDATABASE=postgres
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
calc() { awk "BEGIN { print $1 }"; }
stop_worker() {
	[ -n "$worker_pid" ] || return 0
	kill -TERM "$worker_pid" 2>/dev/null
	wait "$worker_pid" || true
	worker_pid=""
}
cleanup() {
	[ -n "$worker_pid" ] && kill -KILL "$worker_pid" 2>/dev/null
	q "ALTER SYSTEM RESET paperclip.launcher_enabled" >/dev/null 2>&1
	q "SELECT pg_reload_conf()" >/dev/null 2>&1
	rm -rf "$bin"
}
trap cleanup EXIT
cc -O2 -o "$bin/bench_agent" bench_agent.c
cc -O2 -o "$bin/spawn_loop" spawn_loop.c
cc -O2 -I"$(pg_config --includedir)" -o "$bin/dispatch" dispatch.c -L"$(pg_config --libdir)" -lpq
q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS paperclip"
company=$(q "INSERT INTO paperclip.companies (name) VALUES ('bench worker') RETURNING id")
dispatch_agent=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
  VALUES ('$company', 'w-dispatch', '{\"command\":\"$bin/bench_agent\"}') RETURNING id")
q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
   SELECT '$company', 'w-tp-' || g, '{\"command\":\"/bin/true\"}' FROM generate_series(1, 100) g"
concurrency=$(q "SHOW paperclip.max_concurrent_runs")
password=bench-$$
q "SET client_min_messages = warning; DROP ROLE IF EXISTS paperclip_bench_worker;
   CREATE ROLE paperclip_bench_worker LOGIN PASSWORD '$password'; GRANT paperclip_operator TO paperclip_bench_worker;
   INSERT INTO paperclip.company_roles (role_id, company_id) VALUES ('paperclip_bench_worker', NULL) ON CONFLICT DO NOTHING"
mkdir -p "$bin/state"
as=()
if [ "$(id -u)" -eq 0 ]; then
	chown postgres "$bin/state"
	as=(setpriv --reuid postgres --regid postgres --init-groups --)
fi

launcher_turn() {
	stop_worker
	q "ALTER SYSTEM RESET paperclip.launcher_enabled" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
}
worker_turn() {
	q "ALTER SYSTEM SET paperclip.launcher_enabled = off" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
	PGHOST=${PGHOST:-localhost} PGUSER=paperclip_bench_worker PGPASSWORD=$password \
		"${as[@]}" "$(pg_config --bindir)/paperclip_worker" --name bench --dir "$bin/state" \
		--concurrency "$concurrency" 2>>"$bin/worker.log" &
	worker_pid=$!
	for _ in $(seq 200); do
		[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'paperclip_worker'")" = 1 ] && break
		sleep 0.05
	done
}
# dispatch <n>: n sequential runs' latencies (the first, which wakes whoever
# runs it after a switch, is not kept)
dispatch() {
	"$bin/dispatch" "$dispatch_agent" $(($1 + 1)) raw | tail -n +2 >>"$bin/samples"
}
# wait_done: every run of the company finished (one polling session, as launcher.sh)
wait_done() {
	q "DO \$\$ BEGIN
	     WHILE EXISTS (SELECT 1 FROM paperclip.heartbeat_runs WHERE company_id = '$company'
	                   AND status IN ('queued', 'running')) LOOP
	       PERFORM pg_sleep(0.005);
	     END LOOP;
	   END \$\$"
}
# throughput <runs>: seconds to run them (rounds of one run for each of the 100 agents)
throughput() {
	local start end
	start=$(date +%s.%N)
	for _ in $(seq 1 $(($1 / 100))); do
		q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$company' AND name LIKE 'w-tp-%'" >/dev/null
		wait_done
	done
	end=$(date +%s.%N)
	calc "$end - $start"
}

echo "== paperclip_worker beside the launcher: dispatch latency ($N_DISPATCH sequential runs each, in $ROUNDS"
echo "   alternating rounds) and throughput ($((2 * HALF)) runs of /bin/true over 100 agents each, $concurrency at once)"
: >"$bin/samples"
for _ in $(seq 1 "$ROUNDS"); do
	launcher_turn
	dispatch $((N_DISPATCH / ROUNDS))
	worker_turn
	dispatch $((N_DISPATCH / ROUNDS))
done
launcher_turn
launcher_s=$(throughput "$HALF")
worker_turn
worker_s=$(throughput "$HALF")
launcher_turn
launcher_s=$(calc "$launcher_s + $(throughput "$HALF")")
worker_turn
worker_s=$(calc "$worker_s + $(throughput "$HALF")")
stop_worker
launcher_turn
launcher_tp=$(calc "2 * $HALF / $launcher_s")
worker_tp=$(calc "2 * $HALF / $worker_s")
ceiling=$("$bin/spawn_loop" $((2 * HALF)) /bin/true)
ran=$(q "SELECT count(*) FILTER (WHERE r.worker_name IS NULL) || ' ' || count(*) FILTER (WHERE r.worker_name = 'bench')
  FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
  WHERE r.company_id = '$company' AND a.name LIKE 'w-tp-%' AND r.status = 'succeeded'")

printf '%-40s %6s %9s %9s %9s %9s\n' "dispatch, ms" "runs" "p50 sent" "p99 sent" "p50 ack" "p99 ack"
psql -X -A -t -q -v ON_ERROR_STOP=1 -F ' ' <<EOF | while read -r who n p50s p99s p50a p99a; do
CREATE TEMP TABLE s (run uuid, sent float8, acked float8);
\copy s FROM '$bin/samples' WITH (DELIMITER ' ')
SELECT CASE WHEN r.worker_name IS NULL THEN 'launcher' ELSE 'worker' END, count(*),
       round(percentile_disc(0.5) WITHIN GROUP (ORDER BY s.sent)::numeric, 2),
       round(percentile_disc(0.99) WITHIN GROUP (ORDER BY s.sent)::numeric, 2),
       round(percentile_disc(0.5) WITHIN GROUP (ORDER BY s.acked)::numeric, 2),
       round(percentile_disc(0.99) WITHIN GROUP (ORDER BY s.acked)::numeric, 2)
  FROM s JOIN paperclip.heartbeat_runs r ON r.id = s.run GROUP BY 1 ORDER BY 1;
EOF
	label=$([ "$who" = launcher ] && echo "launcher" || echo "paperclip_worker (libpq, loopback)")
	printf '%-40s %6s %9s %9s %9s %9s\n' "$label" "$n" "$p50s" "$p99s" "$p50a" "$p99a"
done
echo "goal: paperclip_worker p50 < 10 ms"
read -r ran_launcher ran_worker <<<"$ran"
printf '%-40s %10.1f runs/s\n' "posix_spawn loop of /bin/true (ceiling)" "$ceiling"
printf '%-40s %10.1f runs/s  %.2f x ceiling  (%s succeeded)\n' "launcher runs of /bin/true" "$launcher_tp" \
	"$(calc "$launcher_tp / $ceiling")" "$ran_launcher"
printf '%-40s %10.1f runs/s  %.2f x ceiling, %.2f x launcher  (%s succeeded)\n' "paperclip_worker runs of /bin/true" \
	"$worker_tp" "$(calc "$worker_tp / $ceiling")" "$(calc "$worker_tp / $launcher_tp")" "$ran_worker"
