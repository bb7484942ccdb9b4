#!/usr/bin/env bash
# Launcher benchmarks, run inside the bench cluster (PG* set), database postgres
# (the one the launcher serves):
#   dispatch latency: enqueue commit -> agent process started, p50/p99 over N runs
#   run throughput with /bin/true as the agent, against a posix_spawn loop of /bin/true
#   launcher RSS after 10,000 runs against after 100 runs
set -euo pipefail
cd "$(dirname "$0")"
N_DISPATCH=${N_DISPATCH:-1000}
N_THROUGHPUT=${N_THROUGHPUT:-3000}
N_MEMORY=${N_MEMORY:-10000}
bin=$(mktemp -d /tmp/paperclip-bench.XXXXXX)
trap 'rm -rf "$bin"' EXIT
chmod 755 "$bin"
cc -O2 -o "$bin/bench_agent" bench_agent.c
cc -O2 -o "$bin/spawn_loop" spawn_loop.c
cc -O2 -I"$(pg_config --includedir)" -o "$bin/dispatch" dispatch.c -L"$(pg_config --libdir)" -lpq
export PGDATABASE=postgres
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS paperclip"
company=$(q "INSERT INTO paperclip.companies (name) VALUES ('bench') RETURNING id")
# wait_done <company>: every run of the company finished. One session polls
# (each statement sees the latest commits): a new psql every few ms would eat
# the CPU the launcher and the runners are measured on.
wait_done() {
	q "DO \$\$ BEGIN
	     WHILE EXISTS (SELECT 1 FROM paperclip.heartbeat_runs WHERE company_id = '$1'
	                   AND status IN ('queued', 'running')) LOOP
	       PERFORM pg_sleep(0.005);
	     END LOOP;
	   END \$\$"
}

echo "== dispatch latency (enqueue commit -> agent started), $N_DISPATCH sequential runs"
agent=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
  VALUES ('$company', 'dispatch', '{\"command\":\"$bin/bench_agent\"}') RETURNING id")
read -r p50s p99s p50a p99a < <("$bin/dispatch" "$agent" "$N_DISPATCH")
printf '%-44s %8s %8s\n' "" "p50 ms" "p99 ms"
printf '%-44s %8s %8s\n' "from enqueue sent (upper bound)" "$p50s" "$p99s"
printf '%-44s %8s %8s\n' "from enqueue acknowledged (lower bound)" "$p50a" "$p99a"
echo "goal: p50 < 5 ms, p99 < 20 ms"

echo
echo "== run throughput: $N_THROUGHPUT runs of /bin/true over 100 agents"
q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
   SELECT '$company', 'tp-' || g, '{\"command\":\"/bin/true\"}' FROM generate_series(1, 100) g"
ceiling=$("$bin/spawn_loop" "$N_THROUGHPUT" /bin/true)
rounds=$((N_THROUGHPUT / 100))
start=$(date +%s.%N)
for i in $(seq 1 "$rounds"); do
	q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$company' AND name LIKE 'tp-%'" >/dev/null
	wait_done "$company"
done
end=$(date +%s.%N)
calc() { awk "BEGIN { print $1 }"; }
ours=$(calc "$N_THROUGHPUT / ($end - $start)")
succeeded=$(q "SELECT count(*) FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id WHERE a.name LIKE 'tp-%' AND r.company_id = '$company' AND r.status = 'succeeded'")
printf '%-44s %10.1f runs/s\n' "posix_spawn loop of /bin/true (ceiling)" "$ceiling"
printf '%-44s %10.1f runs/s  (%s succeeded)\n' "paperclip runs of /bin/true" "$ours" "$succeeded"
printf '%-44s %10.2f x   (goal >= 0.3)\n' "ratio" "$(calc "$ours / $ceiling")"

echo
echo "== launcher memory after 100 runs and after $N_MEMORY runs"
echo "(private memory, RssAnon, is what a leak grows; RSS also counts the shared buffers it touches)"
lpid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'paperclip launcher'")
rss() { awk '/VmRSS/ {print $2}' "/proc/$lpid/status"; }
anon() { awk '/RssAnon/ {print $2}' "/proc/$lpid/status"; }
rss_100=""
anon_100=""
total=0
while [ "$total" -lt "$N_MEMORY" ]; do
	q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$company' AND name LIKE 'tp-%'" >/dev/null
	wait_done "$company"
	total=$((total + 100))
	[ -z "$rss_100" ] && rss_100=$(rss) && anon_100=$(anon)
done
rss_end=$(rss)
anon_end=$(anon)
printf '%-44s %10s %10s\n' "" "private kB" "RSS kB"
printf '%-44s %10s %10s\n' "launcher after 100 runs" "$anon_100" "$rss_100"
printf '%-44s %10s %10s\n' "launcher after $N_MEMORY runs" "$anon_end" "$rss_end"
printf '%-44s %9.1f%% %9.1f%%  (goal < 10 %% growth)\n' "growth" \
	"$(calc "($anon_end - $anon_100) * 100 / $anon_100")" "$(calc "($rss_end - $rss_100) * 100 / $rss_100")"
