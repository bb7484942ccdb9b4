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

# the http agent below answers on 127.0.0.1: the server's own machine is reached
# only when a superuser says so (here by naming the host; set early, so the
# launcher has reloaded long before)
psql -X -q -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET paperclip.allowed_http_hosts = '127.0.0.1'" \
	-c "SELECT pg_reload_conf()" >/dev/null

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

echo "== a coding agent: claude_local against a stand-in of Claude Code (test/agents/standin-claude.sh),"
echo "   run twice: the second run resumes the first one's session, and the cost adds up"
cp -r test/agents "$agent_dir/agents"
chmod -R a+rX "$agent_dir/agents"
mkdir -p "$agent_dir/workspace" "$agent_dir/calls"
chmod 1777 "$agent_dir/workspace" "$agent_dir/calls"
psql -X -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO paperclip.agents (id, company_id, name, role, adapter_type, adapter_config)
VALUES ('44444444-4444-4444-4444-444444444444', '11111111-1111-1111-1111-111111111111', 'claude-agent', 'engineer',
        'claude_local',
        jsonb_build_object('command', '$agent_dir/agents/standin-claude.sh', 'cwd', '$agent_dir/workspace',
                           'model', 'claude-sonnet-4-5', 'maxTurnsPerRun', 30, 'timeoutSec', 60,
                           'env', jsonb_build_object('STANDIN_RECORD_DIR', '$agent_dir/calls'),
                           'bootstrapPromptTemplate', 'You are {{agent.name}}, new on this job.',
                           'promptTemplate', 'Continue with {{context.issueId}}.'))
  ON CONFLICT (id) DO UPDATE SET adapter_config = excluded.adapter_config, status = 'idle';
SQL
wait_run() {	# wait_run <run>: until it is finished, 60 s at most
	local deadline=$((SECONDS + 60))
	until [ "$(psql -X -A -t -c "SELECT status NOT IN ('queued', 'running') FROM paperclip.heartbeat_runs WHERE id = '$1'")" = t ]; do
		if [ $SECONDS -ge $deadline ]; then echo "run $1 did not finish in 60 s" >&2; exit 1; fi
		sleep 0.1
	done
}
for n in 1 2; do
	claude_run=$(psql -X -A -t -v ON_ERROR_STOP=1 -c "SELECT id FROM paperclip.invoke('44444444-4444-4444-4444-444444444444',
	  context_snapshot => '{\"issueId\": \"ISSUE-1\"}')")
	wait_run "$claude_run"
	echo "-- run $n: the CLI was called as"
	echo "   claude $(tr '\0' ' ' <"$agent_dir/calls/argv.$n")"
	echo "-- with this prompt on stdin:"
	sed 's/^/   /' "$agent_dir/calls/stdin.$n"; echo
	psql -X -c "SELECT status, session_id_before, session_id_after, usage_json, result_json->>'summary' AS summary
	  FROM paperclip.heartbeat_runs WHERE id = '$claude_run'"
done
echo "-- the agent's saved session and its totals after both runs"
psql -X -x -c "SELECT s.session_id, s.session_params, s.total_input_tokens, s.total_cached_input_tokens,
  s.total_output_tokens, s.total_cost_cents, a.spent_monthly_cents
  FROM paperclip.agent_runtime_state s JOIN paperclip.agents a ON a.id = s.agent_id
  WHERE s.agent_id = '44444444-4444-4444-4444-444444444444'"
[ "$(psql -X -A -t -c "SELECT total_cost_cents FROM paperclip.agent_runtime_state WHERE agent_id = '44444444-4444-4444-4444-444444444444'")" = 2.460000 ]
grep -qz -- --resume "$agent_dir/calls/argv.2"
