#!/usr/bin/env bash
# Launcher benchmarks, run inside the bench cluster (PG* set), database postgres
# (the one the launcher serves):
#   dispatch latency: enqueue commit -> agent process started, p50/p99 over N runs
#   run throughput with /bin/true as the agent, against a posix_spawn loop of /bin/true
#   both with agent isolation on (the default: own OS user, pid namespace per
#   run) and off, side by side: what isolation costs per run
#   launcher RSS after 10,000 runs against after 100 runs (isolation on)
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

calc() { awk "BEGIN { print $1 }"; }
# isolation <on|off>: set it, and wait until the launcher's runs show it
isolation() {
	psql -X -q -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET paperclip.agent_isolation = $1" -c "SELECT pg_reload_conf()" >/dev/null
	local want=true deadline=$((SECONDS + 30)) probe
	[ "$1" = off ] && want=false
	probe=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
	  VALUES ('$company', 'probe-$1', '{\"command\":\"/bin/true\"}') RETURNING id")
	while [ $SECONDS -lt $deadline ]; do
		r=$(q "SELECT id FROM paperclip.enqueue_wakeup('$probe')")
		wait_done "$company"
		[ "$(q "SELECT payload->>'isolated' FROM paperclip.heartbeat_run_events WHERE run_id = '$r' AND event_type = 'adapter.invoke'")" = "$want" ] && return 0
	done
	echo "the launcher did not take paperclip.agent_isolation = $1" >&2
	exit 1
}

echo "== dispatch latency (enqueue commit -> agent started), $N_DISPATCH sequential runs, agent isolation on and off"
agent=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
  VALUES ('$company', 'dispatch', '{\"command\":\"$bin/bench_agent\"}') RETURNING id")
isolation on
read -r p50s p99s p50a p99a < <("$bin/dispatch" "$agent" "$N_DISPATCH")
isolation off
read -r p50s_off p99s_off p50a_off p99a_off < <("$bin/dispatch" "$agent" "$N_DISPATCH")
printf '%-44s %9s %9s %9s %9s\n' "" "on p50" "on p99" "off p50" "off p99"
printf '%-44s %9s %9s %9s %9s\n' "from enqueue sent (upper bound), ms" "$p50s" "$p99s" "$p50s_off" "$p99s_off"
printf '%-44s %9s %9s %9s %9s\n' "from enqueue acknowledged (lower bound), ms" "$p50a" "$p99a" "$p50a_off" "$p99a_off"
printf '%-44s %+8.2f ms at p50, %+.2f ms at p99 (from sent)\n' "isolation costs per run" \
	"$(calc "$p50s - $p50s_off")" "$(calc "$p99s - $p99s_off")"
echo "goal: p50 < 5 ms, p99 < 20 ms (isolation on)"

echo
echo "== run throughput: $N_THROUGHPUT runs of /bin/true over 100 agents, agent isolation on and off"
q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
   SELECT '$company', 'tp-' || g, '{\"command\":\"/bin/true\"}' FROM generate_series(1, 100) g"
ceiling=$("$bin/spawn_loop" "$N_THROUGHPUT" /bin/true)
rounds=$((N_THROUGHPUT / 100))
throughput() {	# runs/s of N_THROUGHPUT runs
	local start end
	start=$(date +%s.%N)
	for i in $(seq 1 "$rounds"); do
		q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$company' AND name LIKE 'tp-%'" >/dev/null
		wait_done "$company"
	done
	end=$(date +%s.%N)
	calc "$N_THROUGHPUT / ($end - $start)"
}
succeeded() { q "SELECT count(*) FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id WHERE a.name LIKE 'tp-%' AND r.company_id = '$company' AND r.status = 'succeeded'"; }
ours_off=$(throughput)
succeeded_off=$(succeeded)
isolation on
ours=$(throughput)
succeeded_on=$(($(succeeded) - succeeded_off))
printf '%-44s %10.1f runs/s\n' "posix_spawn loop of /bin/true (ceiling)" "$ceiling"
printf '%-44s %10.1f runs/s  %5.2f x ceiling  (%s succeeded)\n' "paperclip runs of /bin/true, isolation on" \
	"$ours" "$(calc "$ours / $ceiling")" "$succeeded_on"
printf '%-44s %10.1f runs/s  %5.2f x ceiling  (%s succeeded)\n' "paperclip runs of /bin/true, isolation off" \
	"$ours_off" "$(calc "$ours_off / $ceiling")" "$succeeded_off"
printf '%-44s %10.2f x   (goal >= 0.3 x ceiling, isolation on)\n' "isolation on / off" "$(calc "$ours / $ours_off")"
psql -X -q -c "ALTER SYSTEM RESET paperclip.agent_isolation" -c "SELECT pg_reload_conf()" >/dev/null

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
