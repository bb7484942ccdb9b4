#!/usr/bin/env bash
# The scheduler worker in a running cluster: it ticks interval timers,
# promotes due retries until they are exhausted, classifies finished runs'
# liveness and prunes expired events, logs and wakeup requests.
. "$(dirname "$0")/lib.bash"
launcher_db
settings="timer_interval retry_base_delay max_retry_attempts liveness_delay"
restore() {
	for s in $settings; do q "ALTER SYSTEM RESET paperclip.$s" >/dev/null; done
	q "SELECT pg_reload_conf()" >/dev/null
	rm -rf "$WORK"
}
trap restore EXIT
q "ALTER SYSTEM SET paperclip.timer_interval = '1s'" >/dev/null
q "ALTER SYSTEM SET paperclip.retry_base_delay = '1s'" >/dev/null
q "ALTER SYSTEM SET paperclip.max_retry_attempts = 2" >/dev/null
q "ALTER SYSTEM SET paperclip.liveness_delay = 0" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null

is "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'paperclip scheduler' AND datname = current_database()")" 1 \
	"one scheduler worker serves the launcher's database"

# --- timers: an agent with a 1 s interval is woken by the worker, again and again
cmd=$(script tick.sh 'echo "I will check the queue again on the next tick"')
a=$(agent timer "{\"command\":\"$cmd\"}")
q "UPDATE paperclip.agents SET runtime_config = '{\"heartbeat\":{\"intervalSec\":1}}' WHERE id = '$a'" >/dev/null
ok $(wait_for 20 "SELECT count(*) >= 2 FROM paperclip.heartbeat_runs WHERE agent_id = '$a' AND status = 'succeeded'"; echo $?) \
	"the worker ticks the timer: two timer runs succeeded"
is "$(q "SELECT DISTINCT invocation_source || ' ' || trigger_detail FROM paperclip.heartbeat_runs WHERE agent_id = '$a'")" \
	"timer system" "they are timer runs"
is "$(q "SELECT DISTINCT reason || ' ' || requested_by_actor_type || ' ' || requested_by_actor_id || ' ' || (payload IS NULL)
          FROM paperclip.agent_wakeup_requests WHERE agent_id = '$a'")" \
	"heartbeat_timer system heartbeat_scheduler true" "requested by the heartbeat scheduler"
q "UPDATE paperclip.agents SET runtime_config = '{}' WHERE id = '$a'" >/dev/null

# --- one agent whose timer wakeup fails costs only its own wakeup, not the tick
cmd=$(script tick2.sh 'exit 0')
bad=$(agent failing "{\"command\":\"$cmd\"}")
good=$(agent healthy "{\"command\":\"$cmd\"}")
q "CREATE FUNCTION public.paperclip_test_refuse() RETURNS trigger LANGUAGE plpgsql AS
   \$\$BEGIN IF NEW.agent_id = '$bad' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END\$\$;
   CREATE TRIGGER paperclip_test_refuse BEFORE INSERT ON paperclip.agent_wakeup_requests
     FOR EACH ROW EXECUTE FUNCTION public.paperclip_test_refuse()" >/dev/null
q "UPDATE paperclip.agents SET runtime_config = '{\"heartbeat\":{\"intervalSec\":1}}' WHERE id IN ('$bad', '$good')" >/dev/null
ok $(wait_for 20 "SELECT count(*) >= 2 FROM paperclip.heartbeat_runs WHERE agent_id = '$good' AND status = 'succeeded'"; echo $?) \
	"a healthy agent keeps ticking next to one whose wakeup fails"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE agent_id = '$bad'")" 0 "the failing agent has no run"
q "UPDATE paperclip.agents SET runtime_config = '{}' WHERE id IN ('$bad', '$good');
   DROP TRIGGER paperclip_test_refuse ON paperclip.agent_wakeup_requests;
   DROP FUNCTION public.paperclip_test_refuse()" >/dev/null

# --- liveness: finished runs are classified by the worker
ok $(wait_for 15 "SELECT bool_and(liveness_state IS NOT NULL) FROM paperclip.heartbeat_runs
                  WHERE agent_id = '$a' AND status = 'succeeded'"; echo $?) "the worker classifies finished runs"
is "$(q "SELECT DISTINCT liveness_state || ': ' || next_action FROM paperclip.heartbeat_runs
          WHERE agent_id = '$a' AND status = 'succeeded'")" \
	"plan_only: I will check the queue again on the next tick" "as plan_only, with the next action"

# --- retries: a transient failure is retried by the worker until attempts run out
cmd=$(script flaky.sh 'echo "{\"type\":\"paperclip.result\",\"errorMessage\":\"upstream busy\",\"transient\":true}"
exit 1')
a=$(agent flaky "{\"command\":\"$cmd\"}")
r=$(enqueue "$a")
ok $(wait_for 30 "SELECT count(*) = 3 AND bool_and(status = 'failed') FROM paperclip.heartbeat_runs WHERE agent_id = '$a'"; echo $?) \
	"the run and its two retries ran and failed"
is "$(q "SELECT string_agg(scheduled_retry_attempt || ':' || coalesce(scheduled_retry_reason, '-') || ':' ||
                  (retry_of_run_id IS NOT NULL), ' ' ORDER BY scheduled_retry_attempt)
          FROM paperclip.heartbeat_runs WHERE agent_id = '$a'")" \
	"0:-:false 1:adapter_failed:true 2:adapter_failed:true" "attempts 0, 1, 2, each linked to the run it retries"
ok $(wait_for 10 "SELECT count(*) = 1 FROM paperclip.heartbeat_run_events e JOIN paperclip.heartbeat_runs r ON r.id = e.run_id
                  WHERE r.agent_id = '$a' AND e.message LIKE 'Bounded retry exhausted%'"; echo $?) \
	"the last failure records 'Bounded retry exhausted'"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE agent_id = '$a' AND status = 'scheduled_retry'")" 0 \
	"no retry is left scheduled"
issue=$(q "INSERT INTO paperclip.issues (company_id, title) VALUES ('$COMPANY', 'flaky') RETURNING id")
q "UPDATE paperclip.heartbeat_runs SET context_snapshot = jsonb_build_object('issueId', '$issue') WHERE agent_id = '$a'" >/dev/null
is "$(q "SELECT count(*) FILTER (WHERE retry_exhausted_reason LIKE 'Bounded retry exhausted after 2 attempt(s)%')
          FROM paperclip.runs_for_issue('$COMPANY', '$issue')")" 1 "runs_for_issue shows retry_exhausted_reason"

# --- retention: expired events, logs and requests go; active runs keep theirs
old=$(q "INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, finished_at)
          VALUES ('$COMPANY', '$a', 'succeeded', now() - interval '400 days') RETURNING id")
q "SELECT paperclip.append_run_event('$old', 'note', 'old')" >/dev/null
q "SELECT paperclip.append_run_log('$old', 'stdout', 'old')" >/dev/null
b=$(agent busy '{}')
live=$(q "INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, started_at, created_at)
           VALUES ('$COMPANY', '$b', 'running', now() - interval '400 days', now() - interval '400 days') RETURNING id")
q "SELECT paperclip.append_run_event('$live', 'note', 'still running')" >/dev/null
q "UPDATE paperclip.heartbeat_run_events SET created_at = now() - interval '400 days' WHERE run_id IN ('$old', '$live')" >/dev/null
req=$(q "INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, status, finished_at)
          VALUES ('$COMPANY', '$a', 'timer', 'skipped', now() - interval '400 days') RETURNING id")
q "SELECT pg_reload_conf()" >/dev/null
ok $(wait_for 15 "SELECT pruned_at IS NOT NULL FROM paperclip.heartbeat_runs WHERE id = '$old'"; echo $?) \
	"the worker prunes a run finished long ago"
is "$(q "SELECT count(*) FROM paperclip.run_log_chunks WHERE run_id = '$old'")" 0 "its log is removed"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_run_events WHERE run_id = '$old'")" 0 "its events are removed"
is "$(q "SELECT count(*) FROM paperclip.agent_wakeup_requests WHERE id = '$req'")" 0 "an expired skipped request is removed"
is "$(q "SELECT count(*) || ' ' || (SELECT status FROM paperclip.heartbeat_runs WHERE id = '$live')
          FROM paperclip.heartbeat_run_events WHERE run_id = '$live'")" "1 running" "a running run keeps its events"
q "UPDATE paperclip.heartbeat_runs SET status = 'cancelled', finished_at = now() WHERE id = '$live'" >/dev/null

done_testing
