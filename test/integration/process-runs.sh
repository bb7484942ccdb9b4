#!/usr/bin/env bash
# The process adapter end to end through the launcher and paperclip_runner.
. "$(dirname "$0")/lib.bash"
launcher_db

# --- a run that succeeds and reports usage through the result protocol
cmd=$(script ok.sh 'echo "hello from $PAPERCLIP_RUN_ID"
echo "to stderr" >&2
env | sort
echo "{\"type\":\"paperclip.result\",\"usage\":{\"inputTokens\":100,\"outputTokens\":20},\"costUsd\":0.05,\"sessionId\":\"s-1\"}"')
a=$(agent ok "{\"command\":\"$cmd\",\"env\":{\"GREETING\":\"hi\"}}")
r=$(enqueue "$a")
ok $(wait_finished "$r"; echo $?) "a queued run is started and finished by the launcher"
is "$(run_status "$r")" succeeded "it succeeded"
is "$(q "SELECT exit_code || ' ' || (usage_json->>'inputTokens') || ' ' || (usage_json->>'costUsd') || ' ' || session_id_after FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"0 100 0.05 s-1" "exit code, usage, cost and session come from the result line"
is "$(q "SELECT total_input_tokens || ' ' || total_cost_cents FROM paperclip.agent_runtime_state WHERE agent_id = '$a'")" \
	"100 5.000000" "runtime totals count the run"
is "$(q "SELECT string_agg(message, ', ' ORDER BY seq) FROM paperclip.list_events('$r')")" \
	"run started, adapter invocation, run succeeded" "lifecycle and adapter.invoke events, in order"
is "$(q "SELECT status FROM paperclip.agent_wakeup_requests WHERE run_id = '$r'")" completed "the wakeup is completed"
is "$(q "SELECT status FROM paperclip.agents WHERE id = '$a'")" idle "the agent is idle again"
excerpt=$(q "SELECT stdout_excerpt FROM paperclip.heartbeat_runs WHERE id = '$r'")
ok $(grep -q "hello from $r" <<< "$excerpt"; echo $?) "stdout excerpt holds the output"
ok $(grep -q "^PAPERCLIP_AGENT_ID=$a" <<< "$excerpt"; echo $?) "PAPERCLIP_* variables reach the agent"
ok $(grep -q '^GREETING=hi' <<< "$excerpt"; echo $?) "config env reaches the agent"
ok $(! grep -qE '^(PG[A-Z]+|PGDATA|PG_GRANDPARENT_PID)=' <<< "$excerpt"; echo $?) "no server variable leaks into the agent"
is "$(q "SELECT stderr_excerpt FROM paperclip.heartbeat_runs WHERE id = '$r'")" "to stderr" "stderr excerpt"
log=$(q "SELECT content FROM paperclip.read_log('$r')")
ok $(grep -q '"stream":"stdout","chunk":"hello from' <<< "$log"; echo $?) "read_log returns the JSON-lines log"
is "$(q "SELECT log_store || ' ' || (log_ref IS NULL) FROM paperclip.heartbeat_runs WHERE id = '$r'")" "db true" \
	"the log is kept in the database"
is "$(q "SELECT r.log_bytes || ' ' || r.log_sha256 FROM paperclip.heartbeat_runs r WHERE id = '$r'")" \
	"$(q "SELECT sum(octet_length(content)) || ' ' || encode(sha256(string_agg(content, ''::bytea ORDER BY byte_offset)), 'hex')
	      FROM paperclip.run_log_chunks WHERE run_id = '$r'")" "log bytes and sha256 match the rows of the log"
is "$(ls "$(q "SHOW data_directory")/pg_paperclip/spool/$(q "SELECT oid FROM pg_database WHERE datname = current_database()")" | grep -c "^$r")" 0 \
	"the runner's spool log is gone"
is "$(stat -c %a "$(q "SHOW data_directory")/pg_paperclip/spool")" 700 "the spool directory is private (0700)"
is "$(q "SELECT count(*) FROM paperclip.read_log('$r', 0, 10) WHERE next_offset = 10")" 1 "read_log pages with next_offset"

# --- append_run_log: an external runner writes the log of a run it claimed
a=$(agent external '{}')
r=$(q "INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status) VALUES ('$COMPANY', '$a', 'running') RETURNING id")
b1=$(q "SELECT paperclip.append_run_log('$r', 'stdout', 'line one')")
b2=$(q "SELECT paperclip.append_run_log('$r', 'stderr', 'an error')")
ok $([ "$b1" -gt 0 ] && [ "$b2" -gt "$b1" ]; echo $?) "append_run_log returns the growing byte count"
is "$(q "SELECT log_bytes = $b2 AND stdout_excerpt = 'line one' AND stderr_excerpt = 'an error' FROM paperclip.heartbeat_runs WHERE id = '$r'")" t \
	"it records the log size and the excerpts on the run"
is "$(q "SELECT content FROM paperclip.read_log('$r')" | grep -c '"chunk":"')" 2 "read_log returns both chunks"
q "UPDATE paperclip.heartbeat_runs SET log_ref = '/etc/passwd' WHERE id = '$r'" >/dev/null
out=$(q "SELECT content FROM paperclip.read_log('$r')")
ok $(grep -q '"chunk":"line one"' <<< "$out" && ! grep -q 'root:' <<< "$out"; echo $?) \
	"read_log reads the run's own log whatever its log_ref says (even one a superuser wrote)"
q "SELECT paperclip.finalize_run('$r', '{}')" >/dev/null

# --- failures end as failed runs with clear codes
a=$(agent missing '{"command":"/nonexistent/agent"}')
r=$(enqueue "$a"); wait_finished "$r"
is "$(q "SELECT status || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"failed adapter_spawn_failed" "a missing command fails the run"
ok $(q "SELECT error FROM paperclip.heartbeat_runs WHERE id = '$r'" | grep -q /nonexistent/agent; echo $?) "the message names the path"
noexec="$WORK/noexec.sh"; echo 'echo' >"$noexec"; chmod 644 "$noexec"
a=$(agent noexec "{\"command\":\"$noexec\"}")
r=$(enqueue "$a"); wait_finished "$r"
is "$(q "SELECT status || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"failed adapter_spawn_failed" "a non-executable command fails the run"
a=$(agent badcwd "{\"command\":\"/bin/true\",\"cwd\":\"/nonexistent/dir\"}")
r=$(enqueue "$a"); wait_finished "$r"
is "$(q "SELECT status || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"failed adapter_spawn_failed" "a missing cwd fails the run"
cmd=$(script exit3.sh 'echo failing >&2; exit 3')
a=$(agent exit3 "{\"command\":\"$cmd\"}")
r=$(enqueue "$a"); wait_finished "$r"
is "$(q "SELECT status || ' ' || exit_code || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"failed 3 adapter_failed" "a non-zero exit fails the run with its exit code"
is "$(q "SELECT status FROM paperclip.agents WHERE id = '$a'")" error "the agent is in error after a failure"

# --- timeout: an agent that ignores SIGTERM is killed after the grace period
cmd=$(script stubborn.sh "trap '' TERM; sleep 300 & sleep 300")
a=$(agent stubborn "{\"command\":\"$cmd\",\"timeoutSec\":1,\"graceSec\":1}")
r=$(enqueue "$a")
start=$SECONDS
g=$(agent_group "$r")
ok $(group_alive "$g"; echo $?) "the stubborn agent and its children run in their own process group"
ok $(wait_finished "$r" 15; echo $?) "a run that never exits is ended"
is "$(q "SELECT status || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" "timed_out timeout" "as timed_out"
ok $([ $((SECONDS - start)) -le 6 ]; echo $?) "within timeoutSec + graceSec + a margin"
ok $(group_gone "$g" 1; echo $?) "no process of the agent's group is left behind"

# --- a descendant that left the agent's process group (setsid) is killed too
cmd=$(script escape.sh "setsid sleep 3079 & sleep 0.2; exit 0")
a=$(agent escape "{\"command\":\"$cmd\"}")
r=$(enqueue "$a"); wait_finished "$r"
is "$(run_status "$r")" succeeded "the agent that left a daemon behind succeeded"
deadline=$((SECONDS + 5)); while pgrep -f "sleep 3079" >/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
ok $(! pgrep -f "sleep 3079" >/dev/null; echo $?) "its escaped descendant does not outlive the runner"

# --- cancel of a running run kills its process group within graceSec + 1 s
cmd=$(script long.sh "trap '' TERM; sleep 300 & sleep 300")
a=$(agent long "{\"command\":\"$cmd\",\"graceSec\":1}")
r=$(enqueue "$a")
g=$(agent_group "$r")
ok $(group_alive "$g"; echo $?) "the agent to cancel is running"
q "SELECT paperclip.cancel_run('$r')" >/dev/null
ok $(group_gone "$g" 2; echo $?) "cancel kills the agent and its children within graceSec + 1 s"
ok $(wait_for 10 "SELECT finalized_at IS NOT NULL FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) "the runner's result is still recorded"
is "$(run_status "$r")" cancelled "the run stays cancelled"

# --- hostile output: 100 MB, invalid UTF-8 and NUL bytes
cmd=$(script flood.sh "head -c 100000000 /dev/zero | tr '\\0' 'a'; echo")
a=$(agent flood "{\"command\":\"$cmd\",\"timeoutSec\":120}")
r=$(enqueue "$a")
ok $(wait_finished "$r" 120; echo $?) "an agent printing 100 MB finishes"
is "$(q "SELECT status || ' ' || (length(stdout_excerpt) <= 32768) FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"succeeded true" "with a capped excerpt"
cmd=$(script binary.sh "printf 'bad \\377\\376 bytes and a NUL \\000 here\\n'")
a=$(agent binary "{\"command\":\"$cmd\"}")
r=$(enqueue "$a"); wait_finished "$r"
is "$(run_status "$r")" succeeded "invalid UTF-8 and NUL bytes do not break the run"
ok $(q "SELECT stdout_excerpt FROM paperclip.heartbeat_runs WHERE id = '$r'" | grep -q 'bad .* bytes and a NUL'; echo $?) \
	"the output is kept, with bad bytes replaced"

# --- the launcher keeps serving: many agents at once, none lost
ids=()
for i in $(seq 1 20); do ids+=("$(agent "many-$i" '{"command":"/bin/true"}')"); done
runs=$(for a in "${ids[@]}"; do echo "SELECT id FROM paperclip.enqueue_wakeup('$a');"; done | psql -X -A -t -q -d $DB)
ok $(wait_for 60 "SELECT count(*) = 20 FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY' AND agent_id IN (SELECT id FROM paperclip.agents WHERE name LIKE 'many-%') AND status = 'succeeded'"; echo $?) \
	"20 concurrent runs all succeed"
is "$(echo "$runs" | sort -u | wc -l)" 20 "one run per wakeup"

done_testing
