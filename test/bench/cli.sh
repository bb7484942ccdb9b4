#!/usr/bin/env bash
# The cost of parsing a coding-agent CLI's output, inside the bench cluster
# (PG* set), database postgres (the one the launcher serves): the stand-in
# of Claude Code (test/agents/standin-claude.sh) replays a recorded
# stream-json session of STREAM_KB kilobytes, as a claude_local agent (the
# runner parses every line) and as a process agent running the same script
# with the same output (the runner only logs it), alternately, N_CLI runs
# each. A run is started_at -> finished_at as the database recorded it.
set -euo pipefail
cd "$(dirname "$0")"
N_CLI=${N_CLI:-200}
STREAM_KB=${STREAM_KB:-512}
work=$(mktemp -d /tmp/paperclip-bench-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r ../agents "$work/agents"
chmod -R a+rX "$work"
export PGDATABASE=postgres
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
calc() { awk "BEGIN { print $1 }"; }

# a session of Claude Code as stream-json: init, then assistant and tool lines
# of typical sizes, then the result
python3 - "$work/stream.jsonl" "$STREAM_KB" <<'PY'
import json, sys
path, kb = sys.argv[1], int(sys.argv[2])
sid = "bench-session"
out = [json.dumps({"type": "system", "subtype": "init", "session_id": sid, "model": "claude-sonnet-4-5",
                   "tools": ["Bash", "Read", "Edit"], "cwd": "/work"})]
i = 0
while sum(len(l) + 1 for l in out) < kb * 1024:
    i += 1
    text = ("Reading the code and planning step %d. " % i) * 8
    out.append(json.dumps({"type": "assistant", "session_id": sid, "message": {"id": "msg_%d" % i,
        "role": "assistant", "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": text},
        {"type": "tool_use", "id": "t%d" % i, "name": "Bash", "input": {"command": "ls -la src/"}}]}}))
    out.append(json.dumps({"type": "user", "session_id": sid, "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t%d" % i, "content": "-rw-r--r-- 1 u u 1234 file%d.c\n" % i * 10}]}}))
out.append(json.dumps({"type": "result", "subtype": "success", "is_error": False, "session_id": sid,
                       "result": "Done.", "total_cost_usd": 0.42,
                       "usage": {"input_tokens": 1000, "cache_read_input_tokens": 500, "output_tokens": 200}}))
open(path, "w").write("\n".join(out) + "\n")
PY
bytes=$(stat -c %s "$work/stream.jsonl")
lines=$(wc -l <"$work/stream.jsonl")

q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS paperclip"
company=$(q "INSERT INTO paperclip.companies (name) VALUES ('bench cli') RETURNING id")
env="{\"STANDIN_SCENARIO\":\"replay\",\"STANDIN_REPLAY\":\"$work/stream.jsonl\"}"
cli=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config)
  VALUES ('$company', 'bench-claude', 'claude_local',
          '{\"command\":\"$work/agents/standin-claude.sh\",\"cwd\":\"$work\",\"env\":$env}') RETURNING id")
proc=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config)
  VALUES ('$company', 'bench-process', 'process',
          '{\"command\":\"$work/agents/standin-claude.sh\",\"cwd\":\"$work\",\"env\":$env}') RETURNING id")
# run_once <agent>: one run to its end (one session polls, as launcher.sh does)
run_once() {
	local r
	r=$(q "SELECT id FROM paperclip.enqueue_wakeup('$1')")
	q "DO \$\$ BEGIN
	     WHILE (SELECT status IN ('queued', 'running') FROM paperclip.heartbeat_runs WHERE id = '$r') LOOP
	       PERFORM pg_sleep(0.002);
	     END LOOP;
	   END \$\$"
}
run_once "$cli"
run_once "$proc"	# warm both paths once
first=$(q "SELECT now()")
for _ in $(seq 1 "$N_CLI"); do
	run_once "$cli"
	run_once "$proc"
done

echo "== parsing a CLI's output: $N_CLI claude_local runs against $N_CLI process runs of the same script"
echo "   (the stand-in replays $lines stream-json lines, $bytes bytes, per run; runs alternate)"
read -r cli_ok cli_ms cli_p50 < <(q "SELECT count(*) FILTER (WHERE status = 'succeeded'),
  round(avg(extract(epoch FROM finished_at - started_at) * 1000)::numeric, 2),
  round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000))::numeric, 2)
  FROM paperclip.heartbeat_runs WHERE agent_id = '$cli' AND created_at >= '$first'" | tr '|' ' ')
read -r proc_ok proc_ms proc_p50 < <(q "SELECT count(*) FILTER (WHERE status = 'succeeded'),
  round(avg(extract(epoch FROM finished_at - started_at) * 1000)::numeric, 2),
  round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000))::numeric, 2)
  FROM paperclip.heartbeat_runs WHERE agent_id = '$proc' AND created_at >= '$first'" | tr '|' ' ')
printf '%-44s %10s %10s %12s\n' "" "mean ms" "p50 ms" "succeeded"
printf '%-44s %10s %10s %12s\n' "process runs (output logged only)" "$proc_ms" "$proc_p50" "$proc_ok"
printf '%-44s %10s %10s %12s\n' "claude_local runs (output logged and parsed)" "$cli_ms" "$cli_p50" "$cli_ok"
printf '%-44s %10.2f ms, %5.1f %% of a process run   (goal < 10 %%)\n' "parsing (p50 difference)" \
	"$(calc "$cli_p50 - $proc_p50")" "$(calc "100 * ($cli_p50 - $proc_p50) / $proc_p50")"
printf '%-44s %10.2f ms per MB of output\n' "" "$(calc "($cli_p50 - $proc_p50) * 1048576 / $bytes")"
q "SELECT result_json->>'summary', usage_json FROM paperclip.heartbeat_runs WHERE agent_id = '$cli' ORDER BY created_at DESC LIMIT 1" >/dev/null
