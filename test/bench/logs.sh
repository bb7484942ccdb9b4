#!/usr/bin/env bash
# What keeping run logs in the database costs on the hot path, inside the
# bench cluster (PG* set), database postgres (the one the launcher serves):
# paperclip.log_store = db (the default: the runner writes its spool log,
# the launcher copies it into paperclip.run_log_chunks) against
# log_store = file (the runner writes the log file, nothing more), in the
# same run, alternately:
#   1. run throughput with output: runs over 8 agents, each printing
#      LOG_KB kB in 100-byte lines (1 MB by default), N_LOG_RUNS runs a pass;
#      and the launcher's CPU time and the WAL written, per run
#   2. run throughput with little output: runs printing 20 lines, N_SMALL
#   3. dispatch latency (enqueue commit -> agent started, dispatch.c) of
#      N_LOG_DISPATCH sequential runs while 4 other agents keep printing
#      (2 MB each, again and again): the launcher copies their logs, or not
# Each figure is the mean of two passes per store, db and file alternating.
set -euo pipefail
cd "$(dirname "$0")"
N_LOG_RUNS=${N_LOG_RUNS:-200}
LOG_KB=${LOG_KB:-1024}
N_SMALL=${N_SMALL:-1000}
N_LOG_DISPATCH=${N_LOG_DISPATCH:-500}
export PGDATABASE=postgres
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
calc() { awk "BEGIN { print $1 }"; }
work=$(mktemp -d /tmp/paperclip-bench-logs.XXXXXX)
chmod 755 "$work"
datadir=$(q "SHOW data_directory")
owner=$(stat -c %U "$datadir")
mkdir "$work/filelogs"
chown "$owner" "$work/filelogs" 2>/dev/null || true
chmod 700 "$work/filelogs"
cleanup() {
	touch "$work/stop"
	[ -n "${noise_pid:-}" ] && wait "$noise_pid" 2>/dev/null
	psql -X -q -c "ALTER SYSTEM RESET paperclip.log_store" -c "ALTER SYSTEM RESET paperclip.run_log_directory" \
		-c "SELECT pg_reload_conf()" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -o "$work/bench_agent" bench_agent.c
cc -O2 -I"$(pg_config --includedir)" -o "$work/dispatch" dispatch.c -L"$(pg_config --libdir)" -lpq

q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS paperclip"
company=$(q "INSERT INTO paperclip.companies (name) VALUES ('bench logs') RETURNING id")
script() {	# script <name> <body>: an agent program
	printf '#!/bin/sh\n%s\n' "$2" >"$work/$1"
	chmod 755 "$work/$1"
	echo "$work/$1"
}
agents() {	# agents <prefix> <n> <command>
	q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
	   SELECT '$company', '$1-' || g, '{\"command\":\"$3\"}' FROM generate_series(1, $2) g" >/dev/null
}
# lines of 100 bytes that differ (a number in each), as a build's or a test run's do
fmt='line %08g of what the agent printed: compiling src/module.c, running test case, all green so far'
agents big 8 "$(script big.sh "seq -f '$fmt' 1 $((LOG_KB * 1024 / 100))")"
agents small 8 "$(script small.sh 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo "a line of output, number $i"; done')"
agents noise 4 "$(script noise.sh "seq -f '$fmt' 1 20000")"
dispatch_agent=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
  VALUES ('$company', 'dispatch', '{\"command\":\"$work/bench_agent\"}') RETURNING id")
probe=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
  VALUES ('$company', 'probe', '{\"command\":\"/bin/true\"}') RETURNING id")

wait_done() {	# every run of agents named like $1 finished (one session polls)
	q "DO \$\$ BEGIN
	     WHILE EXISTS (SELECT 1 FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
	                   WHERE r.company_id = '$company' AND a.name LIKE '$1' AND r.status IN ('queued', 'running')) LOOP
	       PERFORM pg_sleep(0.005);
	     END LOOP;
	   END \$\$"
}
# store <db|file>: set it, and wait until the launcher's runs show it
store() {
	psql -X -q -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET paperclip.log_store = $1" -c "SELECT pg_reload_conf()" >/dev/null
	local deadline=$((SECONDS + 30)) r
	while [ $SECONDS -lt $deadline ]; do
		r=$(q "SELECT id FROM paperclip.enqueue_wakeup('$probe')")
		wait_done probe
		[ "$(q "SELECT log_store FROM paperclip.heartbeat_runs WHERE id = '$r'")" = "$1" ] && return 0
	done
	echo "the launcher did not take paperclip.log_store = $1" >&2
	exit 1
}
launcher_cpu() {	# the launcher's CPU time so far, ms (user + system)
	local pid
	pid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'paperclip launcher'")
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) * 1000 / hz }' "/proc/$pid/stat"
}
wal() { q "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"; }
throughput() {	# throughput <prefix> <runs>: "runs/s launcher-CPU-ms-per-run WAL-kB-per-run", 8 agents at a time
	local start end i cpu0 cpu1 wal0 wal1
	cpu0=$(launcher_cpu); wal0=$(wal)
	start=$(date +%s.%N)
	for i in $(seq 1 $(($2 / 8))); do
		q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$company' AND name LIKE '$1-%'" >/dev/null
		wait_done "$1-%"
	done
	end=$(date +%s.%N)
	cpu1=$(launcher_cpu); wal1=$(wal)
	echo "$(calc "$2 / ($end - $start)") $(calc "($cpu1 - $cpu0) / $2") $(calc "($wal1 - $wal0) / 1024 / $2")"
}
noise() {	# the noise agents print again and again until $work/stop
	while [ ! -e "$work/stop" ]; do
		q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$company' AND name LIKE 'noise-%'" >/dev/null
		wait_done 'noise-%'
	done
}
latency() {	# p50 and p99 from enqueue sent, ms, with the noise running
	rm -f "$work/stop"
	noise &
	noise_pid=$!
	"$work/dispatch" "$dispatch_agent" "$N_LOG_DISPATCH" | awk '{ print $1, $2 }'
	touch "$work/stop"
	wait "$noise_pid"
	noise_pid=
}
q "ALTER SYSTEM SET paperclip.run_log_directory = '$work/filelogs'" >/dev/null

declare -A big small p50 p99 bigcpu smallcpu bigwal smallwal
for pass in 1 2; do
	for s in db file; do
		store "$s"
		read -r t c w < <(throughput big "$N_LOG_RUNS")
		big[$s]="${big[$s]:-} $t"; bigcpu[$s]="${bigcpu[$s]:-} $c"; bigwal[$s]="${bigwal[$s]:-} $w"
		read -r t c w < <(throughput small "$N_SMALL")
		small[$s]="${small[$s]:-} $t"; smallcpu[$s]="${smallcpu[$s]:-} $c"; smallwal[$s]="${smallwal[$s]:-} $w"
		read -r a b < <(latency)
		p50[$s]="${p50[$s]:-} $a"
		p99[$s]="${p99[$s]:-} $b"
	done
done
mean() { awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.2f", s / NF }' <<< "$1"; }
stored=$(q "SELECT pg_size_pretty(sum(octet_length(c.content))) || ' in ' || pg_size_pretty(sum(pg_column_size(c.content)))
              || ' (' || string_agg(DISTINCT coalesce(pg_column_compression(c.content), 'none'), ',') || ')'
              FROM paperclip.run_log_chunks c WHERE c.company_id = '$company'")

echo "== run logs: log_store = db against file (files outside the data directory), 2 passes each, alternating"
printf '%-58s %10s %10s %8s\n' "" "db" "file" "db/file"
row() { printf '%-58s %10s %10s %8s\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"; }
row "runs/s printing $LOG_KB kB each ($N_LOG_RUNS runs, 8 agents)" "$(mean "${big[db]}")" "$(mean "${big[file]}")"
row "  launcher CPU ms per run" "$(mean "${bigcpu[db]}")" "$(mean "${bigcpu[file]}")"
row "  WAL kB per run" "$(mean "${bigwal[db]}")" "$(mean "${bigwal[file]}")"
row "runs/s printing 20 lines each ($N_SMALL runs, 8 agents)" "$(mean "${small[db]}")" "$(mean "${small[file]}")"
row "  launcher CPU ms per run" "$(mean "${smallcpu[db]}")" "$(mean "${smallcpu[file]}")"
row "  WAL kB per run" "$(mean "${smallwal[db]}")" "$(mean "${smallwal[file]}")"
row "dispatch p50 ms under 4 agents printing 2 MB again and again" "$(mean "${p50[db]}")" "$(mean "${p50[file]}")"
row "dispatch p99 ms, the same" "$(mean "${p99[db]}")" "$(mean "${p99[file]}")"
echo "(passes: big db${big[db]} / file${big[file]}; small db${small[db]} / file${small[file]}; p50 db${p50[db]} / file${p50[file]}; p99 db${p99[db]} / file${p99[file]})"
echo "logs kept in the database by this benchmark: $stored"
