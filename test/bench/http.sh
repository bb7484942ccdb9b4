#!/usr/bin/env bash
# The http adapter's throughput, inside the bench cluster (PG* set), database
# postgres (the one the launcher serves): N runs against a local endpoint that
# answers at once (test/http/server.pl /ok), against the same number of bare
# curl requests to it from a loop (one at a time, and 8 at a time as the
# launcher's default paperclip.max_concurrent_runs does).
set -euo pipefail
cd "$(dirname "$0")"
N_HTTP=${N_HTTP:-1000}
work=$(mktemp -d /tmp/paperclip-bench-http.XXXXXX)
perl ../http/server.pl "$work/port" "$work/requests.log" &
server=$!
export PGDATABASE=postgres
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
calc() { awk "BEGIN { print $1 }"; }
trap 'kill $server 2>/dev/null; rm -rf "$work"
	q "ALTER SYSTEM RESET paperclip.allowed_http_hosts" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")/ok"
# the endpoint is on loopback: only reached when a superuser names it
q "ALTER SYSTEM SET paperclip.allowed_http_hosts = '127.0.0.1'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS paperclip"
# (not timed) until the launcher has reloaded: one run to the endpoint succeeds
probe=$(q "WITH c AS (INSERT INTO paperclip.companies (name) VALUES ('bench http probe') RETURNING id)
           INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config)
           SELECT id, 'http-probe', 'http', '{\"url\":\"$url\"}' FROM c RETURNING id")
for _ in $(seq 100); do
	run=$(q "SELECT id FROM paperclip.enqueue_wakeup('$probe')")
	until [ "$(q "SELECT status NOT IN ('queued', 'running') FROM paperclip.heartbeat_runs WHERE id = '$run'")" = t ]; do
		sleep 0.02
	done
	[ "$(q "SELECT status FROM paperclip.heartbeat_runs WHERE id = '$run'")" = succeeded ] && break
	sleep 0.1
done
company=$(q "INSERT INTO paperclip.companies (name) VALUES ('bench http') RETURNING id")
q "INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config)
   SELECT '$company', 'http-' || g, 'http', '{\"url\":\"$url\"}' FROM generate_series(1, 100) g"

echo "== http runs per second, $N_HTTP runs over 100 agents (launcher, max_concurrent_runs $(q "SHOW paperclip.max_concurrent_runs"))"
start=$(date +%s.%N)
for _ in $(seq 1 $((N_HTTP / 100))); do
	q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$company'" >/dev/null
	until [ "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '$company' AND status IN ('queued', 'running')")" = 0 ]; do
		sleep 0.02
	done
done
end=$(date +%s.%N)
ours=$(calc "$N_HTTP / ($end - $start)")
succeeded=$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '$company' AND status = 'succeeded'")

body='{"runId":"r","agentId":"a","companyId":"c","context":{},"sessionId":null,"wakeReason":null}'
start=$(date +%s.%N)
for _ in $(seq 1 "$N_HTTP"); do
	curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" "$url"
done
end=$(date +%s.%N)
loop1=$(calc "$N_HTTP / ($end - $start)")
start=$(date +%s.%N)
seq 1 "$N_HTTP" | xargs -P 8 -I{} curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" "$url"
end=$(date +%s.%N)
loop8=$(calc "$N_HTTP / ($end - $start)")
printf '%-44s %10.1f req/s\n' "bare curl, a loop, one at a time" "$loop1"
printf '%-44s %10.1f req/s\n' "bare curl, a loop, 8 at a time" "$loop8"
printf '%-44s %10.1f runs/s  (%s succeeded)\n' "paperclip http runs" "$ours" "$succeeded"
echo "ratios: against one at a time $(calc "$ours / $loop1" | xargs printf '%.2f'), against 8 at a time $(calc "$ours / $loop8" | xargs printf '%.2f')"
