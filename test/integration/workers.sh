#!/usr/bin/env bash
# Workers that recover (issue 11): pg_terminate_backend restarts each worker;
# query cancels of the launcher during a burst of runs cost a unit of work
# only; a finalization that keeps failing ends finalize_error while other
# runs go on; a refused result keeps exit code and excerpts; a cancel of the
# scheduler mid-tick cancels the tick, not one agent's wakeup; the launcher
# signals no process it cannot prove is a run's (stale pids, another
# cluster's runners, the postmaster, a backend); leftover spool files of
# finished runs go when the launcher starts.
. "$(dirname "$0")/lib.bash"
launcher_db
log=$(server_log)
settings="timer_interval"
restore() {
	[ -n "${sleeper:-}" ] && kill "$sleeper" 2>/dev/null
	[ -n "${nsinit:-}" ] && kill "$nsinit" 2>/dev/null
	[ -n "${idle_pid:-}" ] && q "SELECT pg_terminate_backend($idle_pid)" >/dev/null 2>&1
	q "DROP TRIGGER IF EXISTS paperclip_test_slow_events ON paperclip.heartbeat_run_events;
	   DROP TRIGGER IF EXISTS paperclip_test_refuse_finalize ON paperclip.heartbeat_runs;
	   DROP TRIGGER IF EXISTS paperclip_test_slow_wakeup ON paperclip.agent_wakeup_requests;
	   DROP FUNCTION IF EXISTS public.paperclip_test_slow_events();
	   DROP FUNCTION IF EXISTS public.paperclip_test_refuse_finalize();
	   DROP FUNCTION IF EXISTS public.paperclip_test_slow_wakeup()" >/dev/null 2>&1
	for s in $settings; do q "ALTER SYSTEM RESET paperclip.$s" >/dev/null; done
	q "SELECT pg_reload_conf()" >/dev/null
	rm -rf "$WORK"
}
trap restore EXIT
# log_count <mark> <extended regexp>: matching server log lines since the mark
log_count() { log_since "$1" | grep -cE "$2"; }
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n # skip $1"; }

# --- pg_terminate_backend of each worker: the postmaster starts it again
for kind in launcher scheduler; do
	p=$(wait_worker "$kind" 0 10)
	q "SELECT pg_terminate_backend($p)" >/dev/null
	np=$(wait_worker "$kind" "$p" 20)
	ok $? "pg_terminate_backend of the $kind: a new $kind runs (pid $p -> ${np:-none})"
done
wait_worker scheduler 0 20 >/dev/null

# --- 20 query cancels of the launcher during a burst of 100 runs
cmd=$(script burst.sh 'echo "working on it"; sleep 0.2; echo "{\"type\":\"paperclip.result\",\"usage\":{\"inputTokens\":1}}"')
q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
   SELECT '$COMPANY', 'burst ' || g, '{\"command\":\"$cmd\"}' FROM generate_series(1, 100) g" >/dev/null
# every event of this company costs 10 ms: the launcher is inside a unit most of the time
q "CREATE FUNCTION public.paperclip_test_slow_events() RETURNS trigger LANGUAGE plpgsql AS
   \$\$BEGIN IF NEW.company_id = '$COMPANY' THEN PERFORM pg_sleep(0.01); END IF; RETURN NEW; END\$\$;
   CREATE TRIGGER paperclip_test_slow_events BEFORE INSERT ON paperclip.heartbeat_run_events
     FOR EACH ROW EXECUTE FUNCTION public.paperclip_test_slow_events()" >/dev/null
mark=$(log_mark)
before=$(launcher_pid)
q "SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '$COMPANY' AND name LIKE 'burst %'" >/dev/null
sent=0
for _ in $(seq 20); do
	[ "$(q "SELECT pg_cancel_backend($before)")" = t ] && sent=$((sent + 1))
	sleep 0.1
done
is "$sent" 20 "20 query cancels reached the launcher during the burst"
ok $(wait_for 90 "SELECT count(*) = 0 FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
                  WHERE a.name LIKE 'burst %' AND r.status IN ('queued', 'running')"; echo $?) "every run of the burst finished"
is "$(q "SELECT count(*) FILTER (WHERE r.status = 'succeeded') || ' ' || count(*) FROM paperclip.heartbeat_runs r
          JOIN paperclip.agents a ON a.id = r.agent_id WHERE a.name LIKE 'burst %'")" "100 100" \
	"nothing lost: 100 runs, all succeeded"
is "$(q "SELECT count(*) FROM paperclip.agent_wakeup_requests w JOIN paperclip.agents a ON a.id = w.agent_id
          WHERE a.name LIKE 'burst %' AND (w.status <> 'completed'
            OR (SELECT count(*) FROM paperclip.heartbeat_runs r WHERE r.wakeup_request_id = w.id) <> 1)")" 0 \
	"every wakeup completed with exactly one run"
is "$(q "SELECT sum(s.total_input_tokens) FROM paperclip.agent_runtime_state s JOIN paperclip.agents a ON a.id = s.agent_id
          WHERE a.name LIKE 'burst %'")" 100 "each result counted once"
is "$(launcher_pid)" "$before" "the launcher kept its pid (and with it its runners)"
if [ -n "$log" ]; then
	n=$(log_count "$mark" 'paperclip launcher: .* failed \(SQLSTATE 57014\)')
	ok $([ "$n" -ge 1 ]; echo $?) "cancels cost units of work, logged with their SQLSTATE ($n of 20)"
	is "$(log_count "$mark" 'dropping a frame|terminating background worker "paperclip launcher"')" 0 \
		"no frame was dropped and the launcher did not exit"
else
	skip "server log not found"
	skip "server log not found"
fi
q "DROP TRIGGER paperclip_test_slow_events ON paperclip.heartbeat_run_events;
   DROP FUNCTION public.paperclip_test_slow_events()" >/dev/null

# --- a user trigger refuses one run's finalization: retried, then finalize_error; others unaffected
cmd=$(script finishing.sh 'echo "all done here"; exit 0')
bad=$(agent refused "{\"command\":\"$cmd\"}")
goods=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
           SELECT '$COMPANY', 'fine ' || g, '{\"command\":\"$cmd\"}' FROM generate_series(1, 3) g RETURNING id" | tr '\n' ' ')
q "CREATE FUNCTION public.paperclip_test_refuse_finalize() RETURNS trigger LANGUAGE plpgsql AS
   \$\$BEGIN
     IF NEW.agent_id = '$bad' AND NEW.finalized_at IS NOT NULL AND NEW.error_code IS DISTINCT FROM 'finalize_error' THEN
       RAISE EXCEPTION 'refused for the test';
     END IF;
     RETURN NEW;
   END\$\$;
   CREATE TRIGGER paperclip_test_refuse_finalize BEFORE UPDATE ON paperclip.heartbeat_runs
     FOR EACH ROW EXECUTE FUNCTION public.paperclip_test_refuse_finalize()" >/dev/null
mark=$(log_mark)
r=$(enqueue "$bad")
for g in $goods; do enqueue "$g" >/dev/null; done
ok $(wait_finished "$r" 30; echo $?) "the run whose finalization is refused does not stay running"
is "$(q "SELECT status || ' ' || error_code || ' ' || exit_code || ' ' || (stdout_excerpt LIKE '%all done here%')
          FROM paperclip.heartbeat_runs WHERE id = '$r'")" "failed finalize_error 0 true" \
	"it ends failed with finalize_error, keeping exit code and excerpt"
is "$(q "SELECT error FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"finalizing the run failed 3 times (SQLSTATE P0001): refused for the test" "its error says why"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE retry_of_run_id = '$r'")" 0 "finalize_error is not retried"
ok $(wait_for 30 "SELECT count(*) = 3 FROM paperclip.heartbeat_runs WHERE agent_id = ANY('{$(echo $goods | tr ' ' ',')}'::uuid[])
                  AND status = 'succeeded'"; echo $?) "the other runs succeeded meanwhile"
if [ -n "$log" ]; then
	is "$(log_count "$mark" "finalizing run $r failed \(SQLSTATE P0001\)")" 3 "the finalization was tried 3 times"
else
	skip "server log not found"
fi
q "DROP TRIGGER paperclip_test_refuse_finalize ON paperclip.heartbeat_runs;
   DROP FUNCTION public.paperclip_test_refuse_finalize()" >/dev/null

# --- a result finalize_run refuses (its shape) is bad_result, keeping exit code and excerpts
cmd=$(script shapeless.sh 'echo "partial work"; echo "{\"type\":\"paperclip.result\",\"usage\":{\"inputTokens\":-5}}"; echo oops >&2; exit 3')
a=$(agent shapeless "{\"command\":\"$cmd\"}")
r=$(enqueue "$a")
ok $(wait_finished "$r" 30; echo $?) "a run with a refused result finishes"
is "$(q "SELECT status || ' ' || error_code || ' ' || exit_code || ' ' || (stdout_excerpt LIKE '%partial work%')
          || ' ' || (stderr_excerpt LIKE '%oops%') FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"failed bad_result 3 true true" "bad_result keeps the exit code and both excerpts"
is "$(q "SELECT error FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	'invalid adapter result: "inputTokens" must be a non-negative number' "and says what was refused"

# --- a result frame longer than what the launcher reads ahead of handling (256 kB)
cmd=$(script big_result.sh 'x=$(head -c 600000 /dev/zero | tr "\0" a); printf "{\"type\":\"paperclip.result\",\"resultJson\":{\"big\":\"%s\"}}\n" "$x"')
a=$(agent big_result "{\"command\":\"$cmd\"}")
r=$(enqueue "$a")
ok $(wait_finished "$r" 30; echo $?) "a run with a 600 kB result finishes"
is "$(q "SELECT status || ' ' || length(result_json->>'big') FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"succeeded 600000" "its whole result is recorded"

# --- a cancel of the scheduler in the middle of a tick cancels the tick, not one agent's wakeup
q "ALTER SYSTEM SET paperclip.timer_interval = '1s'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
cmd=$(script ticked.sh 'exit 0')
a=$(agent ticked "{\"command\":\"$cmd\"}")
q "CREATE FUNCTION public.paperclip_test_slow_wakeup() RETURNS trigger LANGUAGE plpgsql AS
   \$\$BEGIN IF NEW.agent_id = '$a' THEN PERFORM pg_sleep(5); END IF; RETURN NEW; END\$\$;
   CREATE TRIGGER paperclip_test_slow_wakeup BEFORE INSERT ON paperclip.agent_wakeup_requests
     FOR EACH ROW EXECUTE FUNCTION public.paperclip_test_slow_wakeup()" >/dev/null
spid=$(scheduler_pid)
mark=$(log_mark)
q "UPDATE paperclip.agents SET runtime_config = '{\"heartbeat\":{\"intervalSec\":1}}' WHERE id = '$a'" >/dev/null
ok $(wait_for 20 "SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $spid AND wait_event = 'PgSleep'"; echo $?) \
	"the scheduler is inside a tick, on the slow wakeup"
q "SELECT pg_cancel_backend($spid)" >/dev/null
q "UPDATE paperclip.agents SET runtime_config = '{}' WHERE id = '$a'" >/dev/null
q "DROP TRIGGER paperclip_test_slow_wakeup ON paperclip.agent_wakeup_requests;
   DROP FUNCTION public.paperclip_test_slow_wakeup()" >/dev/null
ok $(wait_for 10 "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $spid AND wait_event = 'PgSleep'"; echo $?) \
	"the cancel ended the tick"
is "$(scheduler_pid)" "$spid" "the scheduler kept its pid"
if [ -n "$log" ]; then
	sleep_until_logged() { local d=$((SECONDS + 10)); while [ $SECONDS -lt $d ]; do
		[ "$(log_count "$mark" "$1")" -ge 1 ] && return 0; sleep 0.1; done; return 1; }
	ok $(sleep_until_logged 'paperclip scheduler: ticking timers failed \(SQLSTATE 57014\)'; echo $?) \
		"the whole tick was cancelled (SQLSTATE 57014)"
	is "$(log_count "$mark" 'timer wakeup of agent .* failed: canceling statement')" 0 \
		"not swallowed as one agent's failed wakeup"
else
	skip "server log not found"
	skip "server log not found"
fi

# --- signals only to proven processes: planted stale pids, another cluster's runner,
#     the postmaster and a backend as "agents"; none is signalled
sleep 300 &
sleeper=$!
sticks=$(start_ticks "$sleeper")
psql -X -q -d postgres -c "SELECT pg_sleep(300)" >/dev/null 2>&1 &
ok $(wait_for 10 "SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)'"; echo $?) "a backend is busy"
idle_pid=$(q "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)'")
datadir=$(q "SHOW data_directory")
pm=$(head -n 1 "$datadir/postmaster.pid")
pmticks=$(start_ticks "$pm")
bticks=$(start_ticks "$idle_pid")
true &
dead=$!
wait "$dead"
sysid=$(q "SELECT system_identifier FROM pg_control_system()")
before=$(launcher_pid)
plant() {	# plant <name> <runner pid> <runner ticks> <system id> <agent pid> <agent ticks>: a running run
	local ag
	ag=$(agent "$1" '{"command":"/bin/true"}')
	q "INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, started_at, runner_pid,
	     runner_start_ticks, runner_system_identifier, runner_postmaster_start, agent_pid, agent_start_ticks)
	   VALUES ('$COMPANY', '$ag', 'running', now(), $2, $3, $4, pg_postmaster_start_time(), $5, $6) RETURNING id"
}
r1=$(plant stale_ticks "$sleeper" $((sticks + 1)) "$sysid" "$sleeper" $((sticks + 1)))
r2=$(plant other_cluster "$sleeper" "$sticks" $((sysid + 1)) "$sleeper" "$sticks")
r3=$(plant not_a_runner "$sleeper" "$sticks" "$sysid" "$sleeper" "$sticks")
r4=$(plant postmaster_agent "$dead" 12345 "$sysid" "$pm" "$pmticks")
r5=$(plant backend_agent "$dead" 12345 "$sysid" "$idle_pid" "$bticks")
r6=$(plant backend_runner "$idle_pid" "$bticks" "$sysid" "$idle_pid" "$bticks")
for r in $r1 $r2 $r3 $r4 $r5 $r6; do
	ok $(wait_finished "$r" 20; echo $?) "a planted running run is reconciled ($r)"
done
is "$(q "SELECT string_agg(status || ' ' || error_code, ', ' ORDER BY id) FROM paperclip.heartbeat_runs
          WHERE id IN ('$r1', '$r2', '$r3', '$r4', '$r5', '$r6')")" \
	"$(for _ in 1 2 3 4 5 6; do echo "failed process_lost"; done | paste -sd, | sed 's/,/, /g')" \
	"each as failed process_lost: its runner is not proven"
is "$(q "SELECT error FROM paperclip.heartbeat_runs WHERE id = '$r2'")" \
	"runner of another cluster (restored or copied database): not adopted" "another cluster's runner is not adopted"
ok $(kill -0 "$sleeper"; echo $?) "the unrelated process behind the stale pids was not signalled"
ok $(kill -0 "$pm"; echo $?) "the postmaster was not signalled"
is "$(q "SELECT count(*) FROM pg_stat_activity WHERE pid = $idle_pid")" 1 "the backend was not signalled"
is "$(launcher_pid)" "$before" "the launcher runs on"
# the init of a run's own pid namespace (as a sandboxed agent is) is killed when its runner is lost
runuser -u postgres -- unshare -U -r -p -f setsid sleep 300 2>/dev/null &
d=$((SECONDS + 10)); nsinit=
while [ -z "$nsinit" ] && [ $SECONDS -lt $d ]; do
	nsinit=$(for p in $(pgrep -x sleep); do grep -qE '^NSpid:.*[[:space:]]1$' "/proc/$p/status" 2>/dev/null &&
		[ "$(stat -c %U "/proc/$p")" = postgres ] && echo "$p"; done | head -n 1)
	[ -z "$nsinit" ] && sleep 0.05
done
ok $([ -n "$nsinit" ]; echo $?) "a pid namespace's init runs (pid ${nsinit:-none})"
r7=$(plant namespace_agent "$dead" 12345 "$sysid" "$nsinit" "$(start_ticks "$nsinit")")
ok $(wait_finished "$r7" 20; echo $?) "its run, whose runner is lost, is reconciled"
ok $(d=$((SECONDS + 10)); while kill -0 "$nsinit" 2>/dev/null && [ $SECONDS -lt $d ]; do sleep 0.05; done; ! kill -0 "$nsinit" 2>/dev/null; echo $?) \
	"the namespace's init, proven the agent, is killed"
q "SELECT pg_terminate_backend($idle_pid)" >/dev/null
idle_pid=

# --- the launcher's start removes the spool files of finished runs, and only those
spool="$datadir/pg_paperclip/spool"
fin=$(q "SELECT id FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY' AND status = 'succeeded' LIMIT 1")
unknown=$(q "SELECT gen_random_uuid()")
for f in "$fin.json" "$fin.json.tmp" "$fin.result" "$fin.context.json" "$unknown.json" "$r1-not-a-spool.json"; do echo '{}' >"$spool/$f"; done
p=$(launcher_pid)
q "SELECT pg_terminate_backend($p)" >/dev/null
wait_worker launcher "$p" 20 >/dev/null
gone_files() {	# gone_files <files...>: wait until none exists
	local d=$((SECONDS + 10)) f left
	while :; do
		left=0
		for f in "$@"; do [ -e "$f" ] && left=1; done
		[ $left -eq 0 ] && return 0
		[ $SECONDS -ge $d ] && return 1
		sleep 0.1
	done
}
ok $(gone_files "$spool/$fin.json" "$spool/$fin.json.tmp" "$spool/$fin.result" "$spool/$fin.context.json"; echo $?) \
	"a finished run's spool, temp, result and context files are removed"
ok $([ -e "$spool/$unknown.json" ] && [ -e "$spool/$r1-not-a-spool.json" ]; echo $?) "files of unknown runs stay"
rm -f "$spool/$unknown.json" "$spool/$r1-not-a-spool.json"

done_testing
