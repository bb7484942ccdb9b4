#!/usr/bin/env bash
# The coding-agent CLI adapters end to end through the launcher and
# paperclip_runner: claude_local, codex_local and a data-described cli
# (opencode), run against stand-in CLIs (test/agents/standin-*.sh) that
# record their argv, stdin and environment and print recorded output.
. "$(dirname "$0")/lib.bash"
launcher_db

# the stand-ins, where any agent user may read them; records and workspaces writable
cp -r "$(dirname "$0")/../agents" "$WORK/agents"
chmod -R a+rX "$WORK/agents"
mkdir -p "$WORK/ws" "$WORK/ws2" "$WORK/rec"
chmod 1777 "$WORK/ws" "$WORK/ws2" "$WORK/rec"
AG=$WORK/agents

# cli_agent <name> <adapter_type> <adapter_config>: a new agent; prints its id
cli_agent() {
	q "INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config)
	   VALUES ('$COMPANY', '$1', '$2', '$3') RETURNING id"
}
# records <name>: a fresh record directory for one agent's invocations
records() { mkdir -p "$WORK/rec/$1" && chmod 1777 "$WORK/rec/$1" && echo "$WORK/rec/$1"; }
argv_of() { tr '\0' ' ' <"$1/argv.$2" | sed 's/ $//'; }
set_config() { q "UPDATE paperclip.agents SET adapter_config = adapter_config || '$2' WHERE id = '$1'" >/dev/null; }
run_with() {	# run_with <agent> [context json]: enqueue, wait, print the run id
	local r ctx=${2:-"{}"}
	r=$(q "SELECT id FROM paperclip.enqueue_wakeup('$1', context_snapshot => '$ctx')")
	wait_finished "$r" 30
	echo "$r"
}
col() { q "SELECT $2 FROM paperclip.heartbeat_runs WHERE id = '$1'"; }
state() { q "SELECT $2 FROM paperclip.agent_runtime_state WHERE agent_id = '$1'"; }

# --- claude_local: a fresh session, then the same session resumed
rec=$(records claude)
a=$(cli_agent claude-1 claude_local "{\"command\":\"$AG/standin-claude.sh\",\"cwd\":\"$WORK/ws\",
  \"model\":\"claude-sonnet-4-5\",\"maxTurnsPerRun\":7,
  \"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_NEW_SESSION\":\"sess-A\"},
  \"bootstrapPromptTemplate\":\"BOOTSTRAP for {{agent.id}}\",
  \"promptTemplate\":\"Hello {{agent.name}}: issue {{context.issueId}}, run {{run.id}} ({{run.source}}), missing [{{context.nope}}]\"}")
r1=$(run_with "$a" '{"issueId":"I-1","paperclipWake":{"reason":"comment","commentId":"C-9"}}')
is "$(col "$r1" status)" succeeded "claude_local: the run succeeds"
is "$(argv_of "$rec" 1)" "--print - --output-format stream-json --verbose --model claude-sonnet-4-5 --max-turns 7" \
	"claude_local: the command line of a fresh session"
is "$(cat "$rec/stdin.1")" "BOOTSTRAP for $a

Hello claude-1: issue I-1, run $r1 (on_demand), missing []" "the prompt on stdin: bootstrap, blank line, rendered template"
ok $(grep -qx "PAPERCLIP_RUN_ID=$r1" "$rec/env.1"; echo $?) "PAPERCLIP_* environment as for process"
ok $(grep -qx 'PAPERCLIP_WAKE_PAYLOAD_JSON={"reason":"comment","commentId":"C-9"}' "$rec/env.1"; echo $?) \
	"PAPERCLIP_WAKE_PAYLOAD_JSON carries the context's wake payload"
ok $(! grep -qE '^PG[A-Z]*=' "$rec/env.1"; echo $?) "no server variable reaches the CLI"
if [ "$(q "SHOW paperclip.agent_isolation")" = on ]; then
	is "$(stat -c %U "$rec/argv.1")" "$(q "SHOW paperclip.agent_os_user")" \
		"the CLI runs as the agents' OS user (paperclip.agent_os_user), as a process agent does"
else
	is "$(stat -c %U "$rec/argv.1")" "$(stat -c %U "$(q "SHOW data_directory")")" "the CLI runs (isolation off)"
fi
is "$(col "$r1" "usage_json->>'inputTokens' || ' ' || (usage_json->>'cachedInputTokens') || ' ' || (usage_json->>'outputTokens') || ' ' || (usage_json->>'costUsd')")" \
	"1200 800 340 0.0123" "usage and cost parsed from the stream"
is "$(col "$r1" "session_id_after || ' ' || (result_json->>'sessionDisplayId') || ' ' || (result_json->>'billingType') || ' ' || (result_json->>'summary')")" \
	"sess-A sess-A subscription Done: the issue is fixed." "session, display id, billing type and summary"
is "$(state "$a" "session_id || ' ' || (session_params->>'sessionId') || ' ' || (session_params->>'cwd')")" \
	"sess-A sess-A $WORK/ws" "the session and its params (with the cwd) are saved"
is "$(q "SELECT provider || ' ' || model || ' ' || cost_cents FROM paperclip.cost_events WHERE run_id = '$r1'")" \
	"anthropic claude-sonnet-4-5 1" "a cost event with provider and model"
r2=$(run_with "$a" '{"issueId":"I-1"}')
is "$(col "$r2" "status || ' ' || session_id_before")" "succeeded sess-A" "the second run starts from the saved session"
is "$(argv_of "$rec" 2)" "--print - --output-format stream-json --verbose --resume sess-A --model claude-sonnet-4-5 --max-turns 7" \
	"claude_local: --resume <id> on the second run"
ok $(! grep -q BOOTSTRAP "$rec/stdin.2"; echo $?) "no bootstrap prompt when resuming"
is "$(state "$a" "total_cost_cents || ' ' || total_input_tokens")" "2.460000 2400" "cost and tokens add up over the runs"

# the saved cwd differs from the run's: a fresh session
set_config "$a" "{\"cwd\":\"$WORK/ws2\",\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_NEW_SESSION\":\"sess-B\"}}"
r3=$(run_with "$a")
ok $(! grep -qz -- --resume "$rec/argv.3"; echo $?) "another cwd than the saved one: not resumed"
is "$(state "$a" "session_id || ' ' || (session_params->>'cwd')")" "sess-B $WORK/ws2" "the new session and cwd are saved"

# --- unknown session on resume: one fresh retry, logged
set_config "$a" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"unknown-session\",\"STANDIN_NEW_SESSION\":\"sess-C\"}}"
r4=$(run_with "$a")
is "$(col "$r4" status)" succeeded "unknown session: the run succeeds with a fresh session"
ok $(grep -qz -- --resume "$rec/argv.4" && ! grep -qz -- --resume "$rec/argv.5"; echo $?) \
	"the CLI ran twice: resuming, then fresh"
ok $(grep -q BOOTSTRAP "$rec/stdin.5"; echo $?) "the fresh retry gets the bootstrap prompt"
is "$(grep -c 'does not know session sess-B; running it once more with a fresh session' <(run_log "$r4"))" 1 \
	"one log line says so"
is "$(state "$a" session_id)" sess-C "the retry's session is saved"
set_config "$a" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"unknown-session-broken\"}}"
r5=$(run_with "$a")
is "$(col "$r5" "status || ' ' || (result_json->>'freshSessionRetry')")" "failed true" "a fresh retry that fails fails the run"
is "$(state "$a" "coalesce(session_id, 'none') || ' ' || coalesce(session_params::text, 'none')")" "none none" \
	"a retry that yields no session clears the saved one"

# --- failures and their error codes
set_config "$a" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"not-logged-in\"}}"
r6=$(run_with "$a")
is "$(col "$r6" "status || ' ' || error_code")" "failed claude_auth_required" "not logged in: claude_auth_required"
is "$(col "$r6" error)" "Claude run failed: subtype=success: Invalid API key · Please run /login" "with Claude's message"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE retry_of_run_id = '$r6'")" 0 "and no retry"

set_config "$a" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"success\",\"STANDIN_NEW_SESSION\":\"sess-D\"}}"
run_with "$a" >/dev/null
set_config "$a" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"max-turns\"}}"
r7=$(run_with "$a")
is "$(col "$r7" "status || ' ' || error_code || ' ' || (usage_json->>'costUsd')")" "failed max_turns_exhausted 0.5" \
	"max turns: max_turns_exhausted, its cost still counted"
is "$(state "$a" "coalesce(session_id, 'none') || ' ' || coalesce(session_params::text, 'none')")" "none none" \
	"max turns clears the session"

set_config "$a" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"overloaded\"}}"
r8=$(run_with "$a")
is "$(col "$r8" "status || ' ' || error_code || ' ' || (result_json->>'errorFamily')")" \
	"failed claude_transient_upstream transient_upstream" "overloaded: claude_transient_upstream"
ok $(col "$r8" "result_json->>'retryNotBefore'" | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T16:00:00Z$'; echo $?) \
	"retryNotBefore from \"resets 4pm (UTC)\""
is "$(q "SELECT status || ' ' || scheduled_retry_reason FROM paperclip.heartbeat_runs WHERE retry_of_run_id = '$r8'")" \
	"scheduled_retry claude_transient_upstream" "a transient failure is retried by the scheduler"
q "SELECT paperclip.cancel_active_for_agent('$a')" >/dev/null

# --- hostile output: banners, a 1 MB line, a line cut by a kill
set_config "$a" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"banner\"}}"
r9=$(run_with "$a")
is "$(col "$r9" "status || ' ' || (result_json->>'summary')")" "succeeded Done after banners." "non-JSON banner lines are ignored"
set_config "$a" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"big-line\"}}"
r10=$(run_with "$a")
is "$(col "$r10" "status || ' ' || (usage_json->>'outputTokens') || ' ' || length(result_json->>'summary')")" \
	"succeeded 1048576 32768" "a 1 MB result line is parsed (its summary capped)"
q "SELECT paperclip.reset_runtime_session('$a')" >/dev/null
is "$(state "$a" "coalesce(session_id, 'none') || ' ' || coalesce(session_params::text, 'none')")" "none none" \
	"reset_runtime_session clears the session and its params"
set_config "$a" "{\"timeoutSec\":1,\"graceSec\":1,\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"cut\",\"STANDIN_NEW_SESSION\":\"sess-cut\"}}"
r11=$(run_with "$a")
is "$(col "$r11" "status || ' ' || error_code || ' ' || session_id_after")" "timed_out timeout sess-cut" \
	"output cut mid-line by the kill: timed out, the session seen before is kept"

# --- codex_local: thread ids, resume <id> -, usage without cost
rec=$(records codex)
printf 'Follow the house rules.\n' >"$WORK/AGENTS.md"
chmod 644 "$WORK/AGENTS.md"
c=$(cli_agent codex-1 codex_local "{\"command\":\"$AG/standin-codex.sh\",\"cwd\":\"$WORK/ws\",\"model\":\"gpt-5\",
  \"instructionsFilePath\":\"$WORK/AGENTS.md\",
  \"modelReasoningEffort\":\"high\",\"extraArgs\":[\"--skip-git-repo-check\"],
  \"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"OPENAI_API_KEY\":\"sk-test\"}}")
r1=$(run_with "$c")
is "$(col "$r1" status)" succeeded "codex_local: the run succeeds"
is "$(argv_of "$rec" 1)" 'exec --json --model gpt-5 -c model_reasoning_effort="high" --skip-git-repo-check -' \
	"codex_local: a fresh run reads the prompt from stdin (-)"
is "$(cat "$rec/stdin.1")" "Follow the house rules.

You are agent $c (codex-1). Continue your Paperclip work." "the instructions file's text, then the default prompt"
is "$(col "$r1" "session_id_after || ' ' || (usage_json->>'inputTokens') || ' ' || (usage_json->>'cachedInputTokens') || ' ' || (usage_json->>'outputTokens') || ' ' || coalesce(usage_json->>'costUsd', 'no cost') || ' ' || (result_json->>'billingType')")" \
	"codex-thread-1 2400 1024 180 no cost api" "thread id, usage, no cost, api billing with OPENAI_API_KEY"
is "$(col "$r1" "result_json->>'summary'")" "Codex finished the task." "the last agent message is the summary"
r2=$(run_with "$c")
is "$(argv_of "$rec" 2)" 'exec --json --model gpt-5 -c model_reasoning_effort="high" --skip-git-repo-check resume codex-thread-1 -' \
	"codex_local: resume <id> - on the second run"
# the runner reads for the agent only what any user could
secret=$WORK/private/AGENTS.md
mkdir -p "$WORK/private" && printf 'SERVER SECRET\n' >"$secret" && chmod 700 "$WORK/private"
chown -R "$(stat -c %U "$(q "SHOW data_directory")")" "$WORK/private"	# the server's (the runner's) own
set_config "$c" "{\"instructionsFilePath\":\"$secret\"}"
r=$(run_with "$c")
ok $(! grep -q 'SERVER SECRET' "$rec/stdin.3"; echo $?) "an instructions file other users cannot read is not put in the prompt"
is "$(grep -c "instructions file $secret not read: in a directory other users cannot enter" <(run_log "$r"))" 1 \
	"and the log says why"
set_config "$c" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"unknown-session\",\"STANDIN_NEW_SESSION\":\"thr-new\"}}"
r3=$(run_with "$c")
is "$(col "$r3" "status || ' ' || session_id_after")" "succeeded thr-new" "codex: an unknown thread gets one fresh retry"
set_config "$c" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"usage-limit\"}}"
r4=$(run_with "$c")
is "$(col "$r4" "status || ' ' || error_code")" "failed codex_transient_upstream" "codex usage limit: codex_transient_upstream"
ok $(col "$r4" "result_json->>'retryNotBefore'" | grep -qE 'T[0-9]{2}:[0-9]{2}:00Z$'; echo $?) "with retryNotBefore"
q "SELECT paperclip.cancel_active_for_agent('$c')" >/dev/null

# --- cli: opencode described by data, the prompt as last argument
rec=$(records opencode)
o=$(cli_agent opencode-1 cli "{\"name\":\"OpenCode\",\"command\":\"$AG/standin-opencode.sh\",\"parser\":\"opencode-jsonl\",
  \"cwd\":\"$WORK/ws\",\"model\":\"anthropic/claude-sonnet-4-5\",
  \"args\":[\"run\",\"--format\",\"json\",{\"if\":\"model\",\"args\":[\"--model\",\"{{model}}\"]}],
  \"resumeArgs\":[\"--session\",\"{{sessionId}}\"],\"promptVia\":\"arg\",
  \"promptTemplate\":\"Work on {{context.issueId}}\",
  \"transientRegex\":\"rate limit\",\"retryAtRegex\":\"try again (in [0-9]+ [a-z]+)\",
  \"env\":{\"STANDIN_RECORD_DIR\":\"$rec\"}}")
r1=$(run_with "$o" '{"issueId":"I-5"}')
is "$(col "$r1" status)" succeeded "cli (opencode): the run succeeds"
is "$(argv_of "$rec" 1)" "run --format json --model anthropic/claude-sonnet-4-5 Work on I-5" \
	"cli: the command line from the template, the prompt last"
is "$(col "$r1" "session_id_after || ' ' || (usage_json->>'inputTokens') || ' ' || (usage_json->>'outputTokens') || ' ' || (usage_json->>'costUsd')")" \
	"ses_standin1 2000 110 0.01" "cli: session, usage and cost summed over steps"
is "$(q "SELECT provider || ' ' || model FROM paperclip.cost_events WHERE run_id = '$r1'")" \
	"anthropic anthropic/claude-sonnet-4-5" "cli: the provider from \"provider/model\""
r2=$(run_with "$o" '{"issueId":"I-5"}')
is "$(argv_of "$rec" 2)" "run --format json --model anthropic/claude-sonnet-4-5 --session ses_standin1 Work on I-5" \
	"cli: resumeArgs on the second run"
set_config "$o" "{\"env\":{\"STANDIN_RECORD_DIR\":\"$rec\",\"STANDIN_SCENARIO\":\"error\"}}"
r3=$(run_with "$o")
is "$(col "$r3" "status || ' ' || error_code || ' ' || error")" \
	"failed cli_transient_upstream OpenCode run failed: Rate limit exceeded, please try again in 20 minutes" \
	"cli: the description's regex makes the error transient"
q "SELECT paperclip.cancel_active_for_agent('$o')" >/dev/null

# --- an unconfigured CLI agent ({}) runs nothing; a missing CLI is a failed run, not a hung one
u=$(cli_agent unconfigured claude_local '{}')
r=$(run_with "$u")
is "$(col "$r" "status || ' ' || error_code || ' ' || error")" \
	"failed adapter_config_invalid adapter_config is empty: the agent is not configured yet" "an empty config runs nothing"
m=$(cli_agent missing claude_local "{\"command\":\"$WORK/no-such-claude\"}")
r=$(run_with "$m")
is "$(col "$r" "status || ' ' || error_code")" "failed adapter_spawn_failed" "a missing CLI: adapter_spawn_failed"

done_testing
