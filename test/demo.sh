#!/usr/bin/env bash
# make demo: inside a throwaway cluster with the extension preloaded, run a
# sample agent end to end through the launcher and show what it left behind.
set -euo pipefail
cd "$(dirname "$0")/.."
export PGDATABASE=postgres	# the launcher serves paperclip.database_name (postgres)

# the agent runs as its own OS user (paperclip.agent_os_user): give it a copy it can read
agent_dir=$(mktemp -d /tmp/paperclip-demo.XXXXXX)
trap 'rm -rf "$agent_dir"' EXIT
cp test/agents/demo-agent.sh "$agent_dir/"
chmod 755 "$agent_dir" "$agent_dir/demo-agent.sh"

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION IF NOT EXISTS paperclip;
INSERT INTO paperclip.companies (id, name) VALUES ('11111111-1111-1111-1111-111111111111', 'Demo Co')
  ON CONFLICT DO NOTHING;
INSERT INTO paperclip.agents (id, company_id, name, role, adapter_type, adapter_config)
VALUES ('22222222-2222-2222-2222-222222222222', '11111111-1111-1111-1111-111111111111',
        'demo-agent', 'engineer', 'process',
        jsonb_build_object('command', '$agent_dir/demo-agent.sh', 'cwd', '$agent_dir',
                           'timeoutSec', 30, 'graceSec', 2))
  ON CONFLICT (id) DO UPDATE SET adapter_config = excluded.adapter_config, status = 'idle';
SQL

echo "== enqueue a wakeup"
run_id=$(psql -X -A -t -v ON_ERROR_STOP=1 -c "SELECT id FROM paperclip.enqueue_wakeup(
  '22222222-2222-2222-2222-222222222222', source => 'on_demand', trigger_detail => 'manual',
  reason => 'demo: please look at ISSUE-1', context_snapshot => '{\"issueId\": \"ISSUE-1\"}')")
echo "run $run_id queued"

deadline=$((SECONDS + 60))
while :; do
	status=$(psql -X -A -t -c "SELECT status FROM paperclip.heartbeat_runs WHERE id = '$run_id'")
	case "$status" in queued|running) ;; *) break ;; esac
	if [ $SECONDS -ge $deadline ]; then echo "the run did not finish in 60 s (status $status)" >&2; exit 1; fi
	sleep 0.1
done

echo "== the run"
psql -X -x -c "SELECT id, status, invocation_source, trigger_detail, exit_code, error, error_code,
  started_at, finished_at, finished_at - started_at AS duration, usage_json, result_json,
  session_id_before, session_id_after, log_store, log_bytes, log_sha256, stdout_excerpt, stderr_excerpt
  FROM paperclip.heartbeat_runs WHERE id = '$run_id'"
echo "== its events"
psql -X -c "SELECT seq, event_type, level, message, payload FROM paperclip.list_events('$run_id')"
echo "== its log"
psql -X -A -t -c "SELECT content FROM paperclip.read_log('$run_id')"
echo "== the agent's runtime totals"
psql -X -x -c "SELECT a.name, a.status, a.spent_monthly_cents, s.session_id, s.last_run_status,
  s.total_input_tokens, s.total_output_tokens, s.total_cached_input_tokens, s.total_cost_cents
  FROM paperclip.agents a JOIN paperclip.agent_runtime_state s ON s.agent_id = a.id
  WHERE a.id = '22222222-2222-2222-2222-222222222222'"
[ "$status" = succeeded ]

echo "== its liveness (the scheduler classifies finished runs; here at once)"
psql -X -c "SET paperclip.liveness_delay = 0" -c "SELECT paperclip.classify_finished_runs() AS classified" \
	-c "SELECT liveness_state, liveness_reason, next_action FROM paperclip.heartbeat_runs WHERE id = '$run_id'"

echo "== an http agent: the runner posts the run to a local endpoint (test/http/server.pl)"
perl test/http/server.pl "$agent_dir/port" "$agent_dir/requests.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$agent_dir"' EXIT
for _ in $(seq 100); do [ -s "$agent_dir/port" ] && break; sleep 0.05; done
http_run=$(psql -X -q -A -t -v ON_ERROR_STOP=1 <<SQL
INSERT INTO paperclip.agents (id, company_id, name, adapter_type, adapter_config)
VALUES ('33333333-3333-3333-3333-333333333333', '11111111-1111-1111-1111-111111111111', 'http-agent', 'http',
        '{"url": "http://127.0.0.1:$(cat "$agent_dir/port")/ok", "timeoutSec": 10}')
  ON CONFLICT (id) DO UPDATE SET adapter_config = excluded.adapter_config, status = 'idle';
SELECT id FROM paperclip.invoke('33333333-3333-3333-3333-333333333333');
SQL
)
deadline=$((SECONDS + 30))
until [ "$(psql -X -A -t -c "SELECT status NOT IN ('queued', 'running') FROM paperclip.heartbeat_runs WHERE id = '$http_run'")" = t ]; do
	if [ $SECONDS -ge $deadline ]; then echo "the http run did not finish in 30 s" >&2; exit 1; fi
	sleep 0.1
done
psql -X -x -c "SELECT status, finished_at - started_at AS duration, usage_json, result_json, session_id_after
  FROM paperclip.heartbeat_runs WHERE id = '$http_run'"
[ "$(psql -X -A -t -c "SELECT status FROM paperclip.heartbeat_runs WHERE id = '$http_run'")" = succeeded ]
