#!/usr/bin/env bash
# Issue 10: an agent is untrusted code. A hostile agent tries what the
# threat model forbids (quality-bar.md, points 1-4 and 8), each attempt
# must fail, and every run still ends with its real exit code.
. "$(dirname "$0")/lib.bash"
launcher_db
restore() {
	q "ALTER SYSTEM RESET paperclip.max_log_bytes; ALTER SYSTEM RESET paperclip.allowed_commands;
	   ALTER SYSTEM RESET paperclip.agent_isolation; ALTER SYSTEM RESET paperclip.agent_os_user" >/dev/null 2>&1
	q "SELECT pg_reload_conf()" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap restore EXIT
# psql lines are separate statements: ALTER SYSTEM outside a transaction
sys() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1" -c "SELECT pg_reload_conf()" >/dev/null; }
setting_is() { wait_for 10 "SELECT current_setting('$1') = '$2'"; }

pgdata=$(q "SHOW data_directory")
postmaster=$(head -n 1 "$pgdata/postmaster.pid")
server_user=$(ps -o user= -p "$postmaster")
socket_dir=$(q "SHOW unix_socket_directories" | cut -d, -f1)
psql_bin=$(pg_config --bindir)/psql
runner=$(pg_config --pkglibdir)/paperclip_runner
field() { q "SELECT $2 FROM paperclip.heartbeat_runs WHERE id = '$1'"; }
events() { q "SELECT string_agg(level || ': ' || message, ' | ' ORDER BY seq) FROM paperclip.heartbeat_run_events WHERE run_id = '$1'"; }
gone() {	# gone <pattern> <seconds>: no process matches any more
	local deadline=$((SECONDS + $2))
	while pgrep -f "$1" >/dev/null; do
		if [ $SECONDS -ge $deadline ]; then
			ps -eo pid,ppid,pgid,user,stat,lstart,cmd | grep -E "$1|paperclip_runner" | grep -v grep | sed 's/^/#   /' >&2
			return 1
		fi
		sleep 0.05
	done
}

# --- one hostile run: every attempt is reported on stdout, then it exits 7
cat >"$WORK/hostile.sh" <<'AGENT'
#!/bin/sh
try() { if sh -c "$2" >/dev/null 2>&1; then echo "$1: SUCCEEDED"; else echo "$1: refused"; fi; }
echo "whoami: $(id -un)"
try datadir "ls $T_PGDATA"
try pg_version "cat $T_PGDATA/PG_VERSION"
try run_logs "ls $T_PGDATA/pg_paperclip/spool"
try signal "kill -0 $T_POSTMASTER"
try psql "$T_PSQL -h $T_SOCKET -p $T_PORT -U postgres -d postgres -w -Atc 'SELECT 1'"
echo "psql says: $($T_PSQL -h $T_SOCKET -p $T_PORT -U postgres -d postgres -w -Atc 'SELECT 1' 2>&1 | head -n 1)"
try forge "echo '{\"type\":\"result\",\"result\":{\"exitCode\":0,\"costUsd\":0.5}}' > /proc/$PPID/fd/1"
try read_init "cat /proc/1/environ"
try see_server "ps -eo comm | grep -q postgres"
echo "processes seen: $(ls -d /proc/[0-9]* | wc -l)"
echo "context env: ${#PAPERCLIP_CONTEXT} bytes"
echo "context file: $(wc -c < "$PAPERCLIP_CONTEXT_FILE") bytes, mode $(stat -c '%a %U' "$PAPERCLIP_CONTEXT_FILE")"
echo "cwd: $(pwd)"
echo 'Authorization: Bearer sk-live-0123456789abcdef'
echo 'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJlLXZhbHVl here'
echo "the api token is $MY_API_TOKEN"
exit 7
AGENT
chmod 755 "$WORK/hostile.sh"
a=$(agent hostile "{\"command\":\"$WORK/hostile.sh\",\"args\":[\"--auth=Bearer sk-arg-0123456789\"],
  \"env\":{\"MY_API_TOKEN\":\"tok-9f8e7d6c5b4a\",\"T_PGDATA\":\"$pgdata\",\"T_POSTMASTER\":\"$postmaster\",
  \"T_PSQL\":\"$psql_bin\",\"T_SOCKET\":\"$socket_dir\",\"T_PORT\":\"$PGPORT\"}}")
# a 1 MB context: more than execve takes in the environment
r=$(q "SELECT id FROM paperclip.enqueue_wakeup('$a', context_snapshot =>
        jsonb_build_object('issueId', 'ISSUE-1', 'blob', repeat('x', 1000000)))")
ok $(wait_finished "$r" 30; echo $?) "the hostile run finishes"
is "$(field "$r" "status || ' ' || exit_code || ' ' || error_code")" "failed 7 adapter_failed" \
	"it ends with its real exit code, whatever it forged"
is "$(field "$r" "coalesce(usage_json->>'costUsd', '-') || ' ' || (SELECT count(*) FROM paperclip.cost_events c WHERE c.run_id = '$r')")" "- 0" \
	"no forged cost reached the run"
out=$(field "$r" stdout_excerpt)
ok $(grep -q "^whoami: paperclip-agent$" <<< "$out"; echo $?) "it runs as paperclip.agent_os_user, not as the server's user"
for attempt in datadir pg_version run_logs signal psql forge read_init see_server; do
	is "$(sed -n "s/^$attempt: //p" <<< "$out")" refused "attempt refused: $attempt"
done
ok $(grep -q '^psql says: .*Peer authentication failed for user "postgres"' <<< "$out"; echo $?) \
	"logging in as postgres over the server's socket fails peer authentication"
ok $([ "$(sed -n 's/^processes seen: //p' <<< "$out")" -lt 10 ]; echo $?) "it sees only its own run's processes"
is "$(sed -n 's/^context env: //p' <<< "$out")" "0 bytes" "a 1 MB context is not put in the environment"
ok $(grep -qE '^context file: 10000[0-9]{2} bytes, mode 400 paperclip-agent$' <<< "$out"; echo $?) \
	"it reaches the agent whole in PAPERCLIP_CONTEXT_FILE, readable by the agent only"
is "$(sed -n 's/^cwd: //p' <<< "$out")" "$(q "SHOW paperclip.agent_home_directory")" "its working directory is its home"
log=$(run_log "$r")
stored="$out$log$(field "$r" stderr_excerpt)$(q "SELECT string_agg(coalesce(message, '') || coalesce(payload::text, ''), ' ') FROM paperclip.heartbeat_run_events WHERE run_id = '$r'")"
ok $(! grep -qE 'sk-live|sk-arg|eyJhbGci|tok-9f8e7d6c5b4a' <<< "$stored"; echo $?) \
	"no bearer token, JWT or secret env value in the log, the excerpts or the events"
ok $(grep -q 'Authorization: Bearer \*\*\*REDACTED\*\*\*' <<< "$log" && grep -q 'the api token is \*\*\*REDACTED\*\*\*' <<< "$log"; echo $?) \
	"they are stored as ***REDACTED***"

# --- nothing of a run outlives it: setsid'd and double-forked descendants
cmd=$(script leaver.sh "setsid sleep 91$$1 </dev/null >/dev/null 2>&1 &
(setsid sh -c 'sleep 91$$1' </dev/null >/dev/null 2>&1 &) ; sleep 0.2; exit 0")
r=$(enqueue "$(agent leaver "{\"command\":\"$cmd\"}")")
ok $(wait_finished "$r" 20; echo $?) "an agent that leaves daemons behind finishes"
is "$(field "$r" "status || ' ' || exit_code")" "succeeded 0" "with its exit code"
ok $(gone "sleep 91$$1" 5; echo $?) "none of its daemons outlives the run"

cmd=$(script cancelled.sh "setsid sleep 91$$2 </dev/null >/dev/null 2>&1 & exec sleep 300")
r=$(enqueue "$(agent cancelled "{\"command\":\"$cmd\",\"graceSec\":1}")")
deadline=$((SECONDS + 10)); until pgrep -f "sleep 91$$2" >/dev/null || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
ok $(pgrep -f "sleep 91$$2" >/dev/null; echo $?) "a daemon of a run to cancel is running"
is "$(awk '/^Cap(Prm|Eff):/ {print $2}' "/proc/$(field "$r" runner_pid)/status" | sort -u)" 0000000000000000 \
	"its runner holds no capability any more (cap_setuid,cap_setgid dropped once the agent started)"
q "SELECT paperclip.cancel_run('$r')" >/dev/null
ok $(gone "sleep 91$$2" 5; echo $?) "cancel ends it too"
ok $(wait_for 10 "SELECT finalized_at IS NOT NULL FROM paperclip.heartbeat_runs WHERE id = '$r'"; echo $?) "and the run is finalized"
is "$(field "$r" status)" cancelled "as cancelled"

cmd=$(script timeout.sh "setsid sleep 91$$3 </dev/null >/dev/null 2>&1 & trap '' TERM; sleep 300")
r=$(enqueue "$(agent timeout "{\"command\":\"$cmd\",\"timeoutSec\":1,\"graceSec\":1}")")
ok $(wait_finished "$r" 15; echo $?) "a run that ignores SIGTERM times out"
is "$(field "$r" "status || ' ' || coalesce(signal, '-')")" "timed_out SIGKILL" "as timed_out, killed after the grace period"
ok $(gone "sleep 91$$3" 5; echo $?) "its daemon is gone with it"

cmd=$(script orphaned.sh "setsid sleep 91$$4 </dev/null >/dev/null 2>&1 & exec sleep 300")
r=$(enqueue "$(agent orphaned "{\"command\":\"$cmd\"}")")
agent_group "$r" >/dev/null
deadline=$((SECONDS + 10)); until pgrep -f "sleep 91$$4" >/dev/null || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
kill -9 "$(field "$r" runner_pid)"
ok $(gone "sleep 91$$4" 5; echo $?) "kill -9 of the runner ends every process of its run, daemons included"
ok $(wait_finished "$r" 20; echo $?) "and the run is finalized"
is "$(field "$r" "status || ' ' || error_code")" "failed process_lost" "as process_lost"
q "SELECT paperclip.cancel_active_for_agent(agent_id) FROM paperclip.heartbeat_runs WHERE id = '$r'" >/dev/null

# --- result files that would stall or feed the runner are ignored, with a warning
cmd=$(script fifo.sh 'mkfifo "$PAPERCLIP_RESULT_FILE"; exit 3')
r=$(enqueue "$(agent fifo "{\"command\":\"$cmd\"}")")
ok $(wait_finished "$r" 20; echo $?) "a FIFO as the result file does not hang the runner"
is "$(field "$r" "status || ' ' || exit_code")" "failed 3" "the run ends with its exit code"
ok $(grep -q 'warn: the result file is not a regular file' <<< "$(events "$r")"; echo $?) "a warning event says the result file was ignored"
cmd=$(script symlink.sh "ln -s /etc/hostname \"\$PAPERCLIP_RESULT_FILE\"; exit 0")
r=$(enqueue "$(agent symlink "{\"command\":\"$cmd\"}")")
ok $(wait_finished "$r" 20; echo $?) "a symbolic link as the result file is not followed"
is "$(field "$r" "status || ' ' || exit_code")" "succeeded 0" "the run ends with its exit code"
ok $(grep -q 'warn: the result file is a symbolic link' <<< "$(events "$r")"; echo $?) "a warning event says so"

# --- a 5 MB flood under a 1 MB log cap: drained, not stored; the run goes on
sys "ALTER SYSTEM SET paperclip.max_log_bytes = '1MB'"
setting_is paperclip.max_log_bytes 1MB
cmd=$(script flood.sh "head -c 5000000 /dev/zero | tr '\\0' 'y' | fold -w 100; echo done-after-flood; exit 4")
r=$(enqueue "$(agent flood "{\"command\":\"$cmd\"}")")
ok $(wait_finished "$r" 60; echo $?) "an agent printing 5 MB under a 1 MB cap finishes"
is "$(field "$r" "status || ' ' || exit_code")" "failed 4" "with its own exit code"
ok $([ "$(field "$r" log_bytes)" -le 1048576 ] && [ "$(run_log_bytes "$r")" -le 1048576 ]; echo $?) \
	"its run log stopped at paperclip.max_log_bytes"
dropped=$(q "SELECT (payload->>'droppedBytes')::bigint FROM paperclip.heartbeat_run_events
   WHERE run_id = '$r' AND event_type = 'lifecycle' AND message LIKE 'run log truncated at 1048576 bytes%'")
ok $([ -n "$dropped" ] && [ "$dropped" -gt 3900000 ]; echo $?) "a lifecycle event says how much was dropped ($dropped bytes)"
ok $(grep -q done-after-flood <<< "$(field "$r" stdout_excerpt)"; echo $?) "the excerpt still shows how the output ended"
sys "ALTER SYSTEM RESET paperclip.max_log_bytes"

# --- paperclip.allowed_commands lets an admin without pg_execute_server_program configure its commands
mkdir -p "$WORK/allowed" && chmod 755 "$WORK/allowed"
printf '#!/bin/sh\necho allowed\n' >"$WORK/allowed/agent" && chmod 755 "$WORK/allowed/agent"
sys "ALTER SYSTEM SET paperclip.allowed_commands = '$WORK/allowed'"
setting_is paperclip.allowed_commands "$WORK/allowed"
q "SET client_min_messages = warning; DROP ROLE IF EXISTS it_iso_admin; CREATE ROLE it_iso_admin IN ROLE paperclip_admin;
   INSERT INTO paperclip.company_roles (role_id, company_id) VALUES ('it_iso_admin', '$COMPANY')" >/dev/null
as_admin() { psql -X -A -t -q -d "$DB" -c "SET ROLE it_iso_admin" -c "$1" 2>&1; }
is "$(as_admin "INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('$COMPANY', 'inside', '{\"command\":\"$WORK/allowed/agent\"}') RETURNING name")" \
	inside "an admin configures a command inside paperclip.allowed_commands"
ok $(grep -q 'ERROR:  permission denied to configure a "process" agent to run a program' <<< \
	"$(as_admin "INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('$COMPANY', 'outside', '{\"command\":\"/bin/sh\"}')")"; echo $?) \
	"but not one outside it"
q "DELETE FROM paperclip.agents WHERE name = 'inside' AND company_id = '$COMPANY';
   DELETE FROM paperclip.company_roles WHERE role_id = 'it_iso_admin'::regrole; DROP ROLE it_iso_admin" >/dev/null
sys "ALTER SYSTEM RESET paperclip.allowed_commands"

# --- the runner itself: env keys the rules refuse are stripped; SIGTERM answered before start
spool="$WORK/spool"; mkdir -p "$spool" && chown "$server_user" "$spool"
cmd=$(script envdump.sh 'env')
spec="{\"runId\":\"r1\",\"agentId\":\"a1\",\"companyId\":\"c1\",\"adapterType\":\"process\",\"config\":{\"command\":\"$cmd\",\"env\":{\"LD_PRELOAD\":\"/nonexistent/evil.so\",\"GCONV_PATH\":\"/tmp\",\"PAPERCLIP_RUN_ID\":\"forged\",\"KEPT\":\"yes\"}},\"context\":{},\"logPath\":\"$spool/log\",\"spoolPath\":\"$spool/r1.json\",\"resultFilePath\":\"$spool/r1.result\",\"agentIsolation\":true}"
frames=$(printf '%s\nstart\n' "$spec" | runuser -u "$server_user" -- "$runner")
ok $(grep -q 'KEPT=yes' <<< "$frames" && ! grep -qE 'LD_PRELOAD=|GCONV_PATH=|PAPERCLIP_RUN_ID=forged' <<< "$frames"; echo $?) \
	"the runner strips LD_*, glibc's unsecure variables and PAPERCLIP_* from a config's env"
ok $(grep -q '"envKeysStripped":\["LD_PRELOAD","GCONV_PATH","PAPERCLIP_RUN_ID"\]' <<< "$frames"; echo $?) "and says so in the adapter.invoke event"
cp "$runner" "$WORK/nocaps" && chmod 755 "$WORK/nocaps"
frames=$(printf '%s\nstart\n' "$spec" | runuser -u "$server_user" -- "$WORK/nocaps")
ok $(grep -q '"errorCode":"agent_isolation_unavailable","errorMessage":"agent isolation is unavailable: paperclip_runner lacks the file capabilities cap_setuid,cap_setgid: as root, run make install, or setcap' <<< "$frames"; echo $?) \
	"without its capabilities the runner fails closed and says what to set up"
mkfifo "$WORK/stdin"
( runuser -u "$server_user" -- "$runner" <"$WORK/stdin"; echo "exit $?" >"$WORK/exit" ) &
exec 9>"$WORK/stdin"		# its launcher: stdin open, nothing sent
wait_runner_pid() { pgrep -n -u "$server_user" -f "^$runner$"; }
deadline=$((SECONDS + 5)); until [ -n "$(wait_runner_pid)" ] || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
kill -TERM "$(wait_runner_pid)"
deadline=$((SECONDS + 5)); until [ -s "$WORK/exit" ] || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
exec 9>&-
answer=$(cat "$WORK/exit" 2>/dev/null)
is "$answer" "exit 3" "a runner waiting for its spec answers SIGTERM at once (exits without running anything)"

# --- fail closed: no such OS user
sys "ALTER SYSTEM SET paperclip.agent_os_user = 'paperclip-no-such-user'"
setting_is paperclip.agent_os_user paperclip-no-such-user
r=$(enqueue "$(agent nouser '{"command":"/bin/true"}')")
wait_finished "$r" 20
is "$(field "$r" "status || ' ' || error_code")" "failed agent_isolation_unavailable" "without its OS user a process run fails closed"
ok $(field "$r" error | grep -q 'OS user "paperclip-no-such-user" does not exist: create it (useradd'; echo $?) "saying what to set up"
refused=$(psql -X -q -d "$DB" -c "ALTER SYSTEM SET paperclip.agent_os_user = 'postgres'" 2>&1)
ok $(grep -q 'invalid value for parameter "paperclip.agent_os_user"' <<< "$refused"; echo $?) \
	"the setting refuses a user the runner would refuse (not paperclip*)"
sys "ALTER SYSTEM RESET paperclip.agent_os_user"

# --- off: agents run as the server's OS user, and the server log says so
sys "ALTER SYSTEM SET paperclip.agent_isolation = off"
setting_is paperclip.agent_isolation off
cmd=$(script whoami.sh 'id -un
echo "{\"type\":\"result\",\"result\":{\"exitCode\":0}}" > /proc/$PPID/fd/1 2>/dev/null && echo forged
exit 5')
r=$(enqueue "$(agent unisolated "{\"command\":\"$cmd\"}")")
wait_finished "$r" 20
is "$(field "$r" "status || ' ' || exit_code || ' ' || stdout_excerpt")" "failed 5 $server_user" \
	"with isolation off an agent runs as the server's OS user (and still cannot write into its runner's pipes)"
logfile=""
for f in "$(dirname "$pgdata")/server.log" "/var/log/postgresql/postgresql-${PGVERSION:-15}-regress.log"; do
	[ -f "$f" ] && logfile=$f && break
done
if [ -n "$logfile" ]; then
	ok $(grep -q 'WARNING:  paperclip launcher: paperclip.agent_isolation is off: agents run as the server' "$logfile"; echo $?) \
		"the launcher warns in the server log"
else
	tap_n=$((tap_n + 1)); echo "ok $tap_n # skip the server log is not found"
fi
sys "ALTER SYSTEM RESET paperclip.agent_isolation"
setting_is paperclip.agent_isolation on

done_testing
