#!/usr/bin/env bash
# A role bound to one company is not trusted with any other (quality-bar.md,
# Threat model; point 5: what drives the workers is the extension's). The
# launcher, one per database, serves every company: a lock that company A's
# roles may take and keep (an open transaction) must not hold it, or no
# company's run would start or end. A's admin keeps its agent's row locked;
# A's operator keeps A's running run locked (an API call in an open
# transaction). Meanwhile company B's runs start and end; once the locks go,
# A's runs end too, with their real results (nothing lost).
. "$(dirname "$0")/lib.bash"
launcher_db
COMPANY_B=$(q "INSERT INTO paperclip.companies (name) VALUES ('$(basename "$0") B') RETURNING id")
admin=pc_it_lock_admin
operator=pc_it_lock_op
password=lock-it-$$
cleanup() {
	q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pc_it_locker'" >/dev/null
	wait 2>/dev/null
	dropdb --if-exists pc_it_lock_stall >/dev/null 2>&1
	q "ALTER SYSTEM RESET paperclip.worker_lease" >/dev/null 2>&1
	q "SELECT pg_reload_conf()" >/dev/null
	q "SELECT count(paperclip.cancel_run(id)) FROM paperclip.heartbeat_runs
	   WHERE company_id IN ('$COMPANY', '$COMPANY_B') AND status IN ('queued', 'running', 'scheduled_retry')" >/dev/null
	q "DELETE FROM paperclip.company_roles WHERE role_id::text IN ('$admin', '$operator');
	   SET client_min_messages = warning; DROP ROLE IF EXISTS $admin; DROP ROLE IF EXISTS $operator" >/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
q "SET client_min_messages = warning; DROP ROLE IF EXISTS $admin; DROP ROLE IF EXISTS $operator;
   CREATE ROLE $admin LOGIN PASSWORD '$password' IN ROLE paperclip_admin;
   CREATE ROLE $operator LOGIN PASSWORD '$password' IN ROLE paperclip_operator;
   INSERT INTO paperclip.company_roles (role_id, company_id) VALUES ('$admin', '$COMPANY'), ('$operator', '$COMPANY')" >/dev/null
# hold <role> <statement>: run it as the role in a transaction left open (until release)
hold() {
	PGUSER=$1 PGPASSWORD=$password PGAPPNAME=pc_it_locker \
		psql -X -q -d "$DB" -c "BEGIN" -c "$2" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
	wait_for 10 "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'pc_it_locker' AND wait_event = 'PgSleep'"
}
release() {
	q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pc_it_locker'" >/dev/null
	wait 2>/dev/null
}
field() { q "SELECT $2 FROM paperclip.heartbeat_runs WHERE id = '$1'"; }
b_agent() { q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
              VALUES ('$COMPANY_B', '$1', '{\"command\":\"$2\"}') RETURNING id"; }

quick=$(script quick.sh 'echo quick; exit 3')
a=$(agent a-locked "{\"command\":\"$quick\"}")
b=$(b_agent b-quick "$quick")

# --- A's admin keeps its agent's row locked
ok $(hold $admin "UPDATE paperclip.agents SET name = name WHERE id = '$a'"; echo $?) "A's admin keeps its agent's row locked"
ra=$(enqueue "$a")
rb=$(enqueue "$b")
ok $(wait_finished "$rb" 20; echo $?) "company B's run starts and ends meanwhile"
is "$(field "$rb" "status || ' ' || exit_code")" "failed 3" "with its result"
rb2=$(enqueue "$b")
ok $(wait_finished "$rb2" 20; echo $?) "and so does the next one"
release
ok $(wait_finished "$ra" 20; echo $?) "once the lock is gone, A's run starts and ends"
is "$(field "$ra" "status || ' ' || exit_code")" "failed 3" "with its own result"

# --- A's operator keeps A's running run locked while it ends
gate=$WORK/gate
waits=$(script waits.sh "while [ ! -e '$gate' ] && [ -d '$WORK' ]; do sleep 0.05; done; echo done; exit 4")
a2=$(agent a-waits "{\"command\":\"$waits\"}")
ra=$(enqueue "$a2")
ok $(wait_for 20 "SELECT agent_pid IS NOT NULL FROM paperclip.heartbeat_runs WHERE id = '$ra'"; echo $?) "A's next run is running"
ok $(hold $operator "SELECT paperclip.append_run_event('$ra', 'note', 'held')"; echo $?) \
	"A's operator keeps it locked (append_run_event in an open transaction)"
mark=$(log_mark)
touch "$gate"
# the launcher tries to finalize it (when the server log can be read: it says so)
if [ -n "$(server_log)" ]; then
	deadline=$((SECONDS + 20))
	until log_since "$mark" | grep -q "finalizing run $ra failed (SQLSTATE 55P03)" || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
	ok $(log_since "$mark" | grep -q "LOG:  paperclip launcher: finalizing run $ra failed (SQLSTATE 55P03)"; echo $?) \
		"the launcher's finalization of A's run gives up waiting for the lock, to try again later"
fi
rb=$(enqueue "$b")
ok $(wait_finished "$rb" 20; echo $?) "company B's run starts and ends while A's run cannot be finalized"
is "$(field "$rb" "status || ' ' || exit_code")" "failed 3" "with its result"
is "$(run_status "$ra")" running "A's run waits for its lock"
release
ok $(wait_finished "$ra" 30; echo $?) "once the lock is gone, A's run is finalized"
is "$(field "$ra" "status || ' ' || exit_code || ' ' || coalesce(error_code, '-')")" "failed 4 adapter_failed" \
	"with its real result"

# --- A's operator keeps A's runtime state locked while A's queued run must end over budget
q "UPDATE paperclip.agents SET budget_monthly_cents = 1, spent_monthly_cents = 5 WHERE id = '$a'" >/dev/null
ok $(hold $operator "SELECT paperclip.reset_runtime_session('$a')"; echo $?) \
	"A's operator keeps A's agent's runtime state locked (reset_runtime_session in an open transaction)"
ra=$(q "SELECT id FROM paperclip.enqueue_wakeup('$a')")
rb=$(enqueue "$b")
ok $(wait_finished "$rb" 20; echo $?) "company B's run starts and ends while A's over-budget run cannot be ended"
is "$(field "$rb" "status || ' ' || exit_code")" "failed 3" "with its result"
release
ok $(wait_finished "$ra" 30; echo $?) "once the lock is gone, A's queued run is ended"
is "$(field "$ra" "status || ' ' || error_code")" "failed budget_blocked" "as over budget"

# --- runs whose worker's lease lapsed are failed (what the scheduler does, in
# a database of their own: expire_worker_leases with the workers' lock_timeout):
# B's, while A's agent is locked
DB2=pc_it_lock_stall
fresh_db "$DB2"
q2() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB2" -c "$1"; }
q "ALTER SYSTEM SET paperclip.worker_lease = 1" >/dev/null && q "SELECT pg_reload_conf()" >/dev/null
ok $(wait_for 10 "SELECT current_setting('paperclip.worker_lease') = '1s'"; echo $?) "leases last 1 s"
ca=$(q2 "INSERT INTO paperclip.companies (name) VALUES ('A') RETURNING id")
cb=$(q2 "INSERT INTO paperclip.companies (name) VALUES ('B') RETURNING id")
q2 "INSERT INTO paperclip.company_roles (role_id, company_id) VALUES ('$admin', '$ca')" >/dev/null
a3=$(q2 "INSERT INTO paperclip.agents (company_id, name) VALUES ('$ca', 'a') RETURNING id")
b3=$(q2 "INSERT INTO paperclip.agents (company_id, name) VALUES ('$cb', 'b') RETURNING id")
ra=$(q2 "SELECT id FROM paperclip.enqueue_wakeup('$a3')")
rb=$(q2 "SELECT id FROM paperclip.enqueue_wakeup('$b3')")
is "$(q2 "SELECT count(*) FROM paperclip.worker_claim_runs('pc-it-gone', 10)")" 2 \
	"a worker claims A's and B's runs, then is gone"
DB=$DB2 hold $admin "UPDATE paperclip.agents SET name = name WHERE id = '$a3'"
ok $? "A's admin keeps A's agent's row locked"
deadline=$((SECONDS + 10))
until [ "$(q2 "SELECT bool_and(lease_expires_at < now()) FROM paperclip.heartbeat_runs")" = t ] || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
out=$(psql -X -A -t -q -d "$DB2" -c "SET lock_timeout = '100ms'" -c "SELECT paperclip.expire_worker_leases()" 2>&1)
is "$out" 1 "expiring the lapsed leases fails one run"
is "$(q2 "SELECT status || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$rb'")" "failed process_lost" "B's"
is "$(q2 "SELECT status FROM paperclip.heartbeat_runs WHERE id = '$ra'")" running "A's run waits for its lock"
release
is "$(q2 "SELECT paperclip.expire_worker_leases()")" 1 "once the lock is gone, A's is failed too"
q "ALTER SYSTEM RESET paperclip.worker_lease" >/dev/null && q "SELECT pg_reload_conf()" >/dev/null
dropdb "$DB2"

done_testing
