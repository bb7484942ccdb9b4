#!/usr/bin/env bash
# Restores that do not surprise (issue 14), as README's "Backup and restore"
# says to do them: a dump (pg_dump -Fc) of a database with finished, running
# and queued runs, restored into a fresh database in two passes
# (pg_restore -j for everything but the extension's data, then that data
# serially, in the order of its foreign keys; -j alone is shown to fail),
# with the workers off: rows, logs and what a bound role sees are those of
# the original, and nothing starts. The running run's runner (the
# original's, which goes on) is never adopted nor signalled by the copy;
# the copy's run fails process_lost and gets one retry, which waits. Then
# the workers on: the queued run runs once, the retry runs once, and
# nothing that had finished runs again or is counted twice.
. "$(dirname "$0")/lib.bash"
launcher_db
COPY=paperclip_restored
settings="database_name launcher_enabled scheduler_enabled max_concurrent_runs retry_base_delay"
# (database_name: the test clusters serve postgres only; this test serves the copy instead, for a while)
restore() {
	for s in $settings; do psql -X -q -d postgres -c "ALTER SYSTEM RESET paperclip.$s" >/dev/null 2>&1; done
	psql -X -q -d postgres -c "SELECT pg_reload_conf()" >/dev/null 2>&1
	DB=postgres
	[ -n "${r3:-}" ] && q "SELECT paperclip.cancel_run('$r3')" >/dev/null 2>&1 && wait_finished "$r3" 30
	dropdb --if-exists "$COPY" >/dev/null 2>&1
	dropdb --if-exists "${COPY}_j" >/dev/null 2>&1
	psql -X -q -d postgres -c "DELETE FROM paperclip.company_roles WHERE role_id::text = 'paperclip_restore_bound'" \
		-c "DROP ROLE IF EXISTS paperclip_restore_bound" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap restore EXIT
qc() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$COPY" -c "$1"; }

# one run at a time, so that a run stays queued behind a running one
q "ALTER SYSTEM SET paperclip.max_concurrent_runs = 1" >/dev/null
server_restart
wait_worker launcher 0 60 >/dev/null
q "CREATE ROLE paperclip_restore_bound IN ROLE paperclip_reader" >/dev/null
q "INSERT INTO paperclip.company_roles (role_id, company_id) VALUES ('paperclip_restore_bound', '$COMPANY')" >/dev/null

result='{"type":"paperclip.result","usage":{"inputTokens":10},"costUsd":0.05}'
done_cmd=$(script done.sh "echo 'done é€'; echo '$result'")
hold_cmd=$(script hold.sh "echo 'started'; if [ -e $WORK/hold ]; then sleep 300; fi; echo '$result'")
touch "$WORK/hold"
a_done=$(agent done "{\"command\":\"$done_cmd\"}")
a_hold=$(agent hold "{\"command\":\"$hold_cmd\"}")
a_wait=$(agent waiting "{\"command\":\"$done_cmd\"}")
r1=$(enqueue "$a_done"); wait_finished "$r1"
r2=$(enqueue "$a_done"); wait_finished "$r2"
r3=$(enqueue "$a_hold")
wait_for 20 "SELECT status = 'running' AND agent_pid IS NOT NULL FROM paperclip.heartbeat_runs WHERE id = '$r3'" >/dev/null
wait_for 20 "SELECT EXISTS (SELECT 1 FROM paperclip.run_log_chunks WHERE run_id = '$r3')" >/dev/null
r4=$(enqueue "$a_wait")
is "$(q "SELECT string_agg(status, ' ' ORDER BY created_at) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY'")" \
	"succeeded succeeded running queued" "the original: two runs finished (5 cents each), one running, one queued"
runner_pid=$(q "SELECT runner_pid FROM paperclip.heartbeat_runs WHERE id = '$r3'")

tables="agents heartbeat_runs agent_wakeup_requests heartbeat_run_events run_log_chunks cost_events agent_runtime_state company_roles"
counts() {	# counts <psql command>: this company's rows, table by table
	local t
	for t in $tables; do echo "$t $($1 "SELECT count(*) FROM paperclip.$t WHERE company_id = '$COMPANY'")"; done
}
bound_view() {	# bound_view <database>: what the bound role sees
	psql -X -A -t -q -d "$1" -c "SET ROLE paperclip_restore_bound" -c "
	  SELECT (SELECT count(*) FROM paperclip.heartbeat_runs) || ' ' || (SELECT count(*) FROM paperclip.run_log_chunks)
	      || ' ' || (SELECT count(*) FROM paperclip.cost_events) || ' ' || (SELECT count(DISTINCT company_id) FROM paperclip.agents)
	      || ' ' || (SELECT md5(string_agg(l.content, '' ORDER BY r.id)) FROM paperclip.heartbeat_runs r, paperclip.read_log(r.id) l
	                  WHERE r.log_store IS NOT NULL)"
}
logs() {	# logs <psql command>: a digest of every log of the company
	$1 "SELECT string_agg(r.id || ':' || md5(l.content), ',' ORDER BY r.id)
	      FROM paperclip.heartbeat_runs r, paperclip.read_log(r.id, 0, 16777216) l
	     WHERE r.company_id = '$COMPANY' AND r.log_store IS NOT NULL"
}
before=$(counts q)
before_bound=$(bound_view postgres)
before_logs=$(logs q)

# --- the workers off (everywhere: a restored database with the extension is served as soon as it has it)
q "ALTER SYSTEM SET paperclip.launcher_enabled = off" >/dev/null
q "ALTER SYSTEM SET paperclip.scheduler_enabled = off" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
wait_for 10 "SELECT current_setting('paperclip.launcher_enabled') = 'off' AND current_setting('paperclip.scheduler_enabled') = 'off'" >/dev/null

# --- the dump, the roles, the restore in two passes
pg_dump -Fc -d postgres -f "$WORK/dump"
ok $? "pg_dump -Fc of the database"
pg_dumpall --globals-only >"$WORK/globals.sql"
ok $(grep -q 'CREATE ROLE paperclip_restore_bound' "$WORK/globals.sql" && grep -q 'CREATE ROLE paperclip_operator' "$WORK/globals.sql"; echo $?) \
	"pg_dumpall --globals-only has the roles the bindings name (restored first on another cluster)"
createdb "${COPY}_j"
pg_restore -j 4 -d "${COPY}_j" "$WORK/dump" >"$WORK/restore-j.log" 2>&1
echo "# pg_restore -j 4 alone: $(grep -c 'violates foreign key constraint' "$WORK/restore-j.log") COPY(s) failed on a foreign key;" \
	"$(psql -X -A -t -q -d "${COPY}_j" -c "SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY'") of" \
	"$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY'") runs restored"
createdb "$COPY"
pg_restore -j 4 -N paperclip -d "$COPY" "$WORK/dump" 2>"$WORK/restore1.log"
ok $? "pass 1: pg_restore -j 4 --exclude-schema=paperclip (everything else, in parallel; CREATE EXTENSION)"
pg_restore --data-only -n paperclip -d "$COPY" "$WORK/dump" 2>"$WORK/restore2.log"
rc=$?
ok $rc "pass 2: pg_restore --data-only --schema=paperclip (the extension's rows, one table after another)"
[ $rc -eq 0 ] || head -n 5 "$WORK/restore2.log" | sed 's/^/#   /'
is "$(counts qc)" "$before" "the copy holds the company's rows, table by table"
is "$(bound_view "$COPY")" "$before_bound" "a bound role sees the same rows and logs there, and only its company"
is "$(logs qc)" "$before_logs" "every log reads the same"
is "$(qc "SELECT string_agg(status, ' ' ORDER BY created_at) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY'")" \
	"succeeded succeeded running queued" "the copy says what the original said when it was dumped"

# --- the copy served by workers of its own (the original's stop: the test clusters serve one database), off: nothing starts
rm "$WORK/hold"
q "ALTER SYSTEM SET paperclip.retry_base_delay = '1s'" >/dev/null
q "ALTER SYSTEM SET paperclip.database_name = '$COPY'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
DB=$COPY
ok $(wait_for 30 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'paperclip launcher' AND datname = '$COPY')"; echo $?) \
	"the copy gets a launcher of its own"
ok $(wait_for 30 "SELECT status = 'failed' AND error_code = 'process_lost' FROM paperclip.heartbeat_runs WHERE id = '$r3'"; echo $?) \
	"with the launcher off, the run that was running in the copy fails process_lost (its runner is the original's)"
retry=$(q "SELECT id FROM paperclip.heartbeat_runs WHERE retry_of_run_id = '$r3'")
is "$(q "SELECT count(*) || ' ' || min(status) FROM paperclip.heartbeat_runs WHERE retry_of_run_id = '$r3'")" "1 scheduled_retry" \
	"it gets one retry, scheduled"
wait_for 30 "SELECT now() > scheduled_retry_at + interval '2 seconds' FROM paperclip.heartbeat_runs WHERE id = '$retry'" >/dev/null
is "$(q "SELECT string_agg(status, ' ' ORDER BY created_at) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY'")" \
	"succeeded succeeded failed queued scheduled_retry" "with the workers off nothing starts: the queued run waits, so does the retry once due"
ok $(kill -0 "$runner_pid" 2>/dev/null; echo $?) "the original's runner is neither adopted nor signalled by the copy"
is "$(psql -X -A -t -q -d postgres -c "SELECT status FROM paperclip.heartbeat_runs WHERE id = '$r3'")" running \
	"and the original's run goes on"

# --- the workers on
q "ALTER SYSTEM SET paperclip.launcher_enabled = on" >/dev/null
q "ALTER SYSTEM SET paperclip.scheduler_enabled = on" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
ok $(wait_finished "$r4" 30 && wait_for 30 "SELECT count(*) = 5 AND bool_and(status IN ('succeeded', 'failed'))
                                              FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY'"; echo $?) \
	"with the workers on, the queued run and the retry run"
is "$(q "SELECT string_agg(a.name || ':' || r.status, ' ' ORDER BY r.created_at) FROM paperclip.heartbeat_runs r
          JOIN paperclip.agents a ON a.id = r.agent_id WHERE r.company_id = '$COMPANY'")" \
	"done:succeeded done:succeeded hold:failed waiting:succeeded hold:succeeded" "each once: nothing that had finished runs again"
is "$(q "SELECT string_agg(a.name || ':' || a.spent_monthly_cents || ':' || s.total_cost_cents::int, ' ' ORDER BY a.name)
          FROM paperclip.agents a JOIN paperclip.agent_runtime_state s ON s.agent_id = a.id WHERE a.company_id = '$COMPANY'")" \
	"done:10:10 hold:5:5 waiting:5:5" "costs: the finished runs' unchanged, the queued run and the retry counted once each"
is "$(q "SELECT count(*) FROM paperclip.cost_events WHERE company_id = '$COMPANY'")" 4 "four cost events in all"

done_testing
