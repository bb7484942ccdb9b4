#!/usr/bin/env bash
# Issue 11 on a filled 0.1 database: ALTER EXTENSION UPDATE keeps the access
# roles had (an unbound role that could use paperclip gets a NULL row, every
# company), roles made afterwards see nothing until bound, rows that point
# into another company stop the update with a clear message, and a dump
# restores the bindings once.
. "$(dirname "$0")/lib.bash"
DB=pc_it_isolation_upgrade
A=00000000-0000-0000-0000-00000000000a
B=00000000-0000-0000-0000-00000000000b
cleanup() {
	for d in $DB ${DB}_bad ${DB}_restored ${DB}_fresh ${DB}_bound; do dropdb --if-exists "$d" >/dev/null 2>&1; done
	for r in t11u_app t11u_bound t11u_plain t11u_new; do psql -X -q -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
}
PC_DUMP=$(mktemp)
cleanup
trap 'cleanup; rm -f "$PC_DUMP"' EXIT
psql -X -q -c "CREATE ROLE t11u_app IN ROLE paperclip_operator; CREATE ROLE t11u_bound IN ROLE paperclip_operator;
               CREATE ROLE t11u_plain" >/dev/null

fill() {	# fill <db>: a 0.1 install with two companies, runs, activity, bindings
	createdb "$1"
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" <<SQL >/dev/null
CREATE EXTENSION paperclip VERSION '0.1';
INSERT INTO paperclip.companies (id, name) VALUES ('$A', 'A'), ('$B', 'B');
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('00000000-0000-0000-0000-0000000000a1', '$A', 'a1'), ('00000000-0000-0000-0000-0000000000b1', '$B', 'b1');
INSERT INTO paperclip.issues (id, company_id, title) VALUES ('00000000-0000-0000-0000-0000000000ca', '$A', 'i');
INSERT INTO paperclip.agent_wakeup_requests (id, company_id, agent_id, source, status, run_id) VALUES
  ('00000000-0000-0000-0000-0000000000da', '$A', '00000000-0000-0000-0000-0000000000a1', 'on_demand', 'failed',
   '00000000-0000-0000-0000-0000000000fa');
-- a retry (a run naming a run) listed before the run it retries
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, retry_of_run_id) VALUES
  ('00000000-0000-0000-0000-0000000000f0', '$A', '00000000-0000-0000-0000-0000000000a1', 'scheduled_retry',
   '00000000-0000-0000-0000-0000000000fa');
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, wakeup_request_id) VALUES
  ('00000000-0000-0000-0000-0000000000fa', '$A', '00000000-0000-0000-0000-0000000000a1', 'failed',
   '00000000-0000-0000-0000-0000000000da'),
  ('00000000-0000-0000-0000-0000000000fb', '$B', '00000000-0000-0000-0000-0000000000b1', 'succeeded', NULL);
INSERT INTO paperclip.heartbeat_run_events (company_id, run_id, agent_id, seq, event_type) VALUES
  ('$A', '00000000-0000-0000-0000-0000000000fa', '00000000-0000-0000-0000-0000000000a1', 1, 'lifecycle');
INSERT INTO paperclip.cost_events (company_id, agent_id, run_id, provider, model, cost_cents, occurred_at) VALUES
  ('$A', '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000fa', 'p', 'm', 5, now());
INSERT INTO paperclip.agent_runtime_state (agent_id, company_id, adapter_type, last_run_id) VALUES
  ('00000000-0000-0000-0000-0000000000a1', '$A', 'process', '00000000-0000-0000-0000-0000000000fa');
INSERT INTO paperclip.activity_log (company_id, actor_id, action, entity_type, entity_id, run_id, agent_id) VALUES
  ('$A', 'u', 'issue.updated', 'issue', '00000000-0000-0000-0000-0000000000ca', '00000000-0000-0000-0000-0000000000fa',
   '00000000-0000-0000-0000-0000000000a1');
INSERT INTO paperclip.issue_comments (company_id, issue_id, body, created_by_run_id) VALUES
  ('$A', '00000000-0000-0000-0000-0000000000ca', 'c', '00000000-0000-0000-0000-0000000000fa');
INSERT INTO paperclip.company_roles (role_id, company_id) VALUES ('t11u_bound', '$A');
SQL
}

fill $DB
out=$(psql -X -q -d $DB -c "ALTER EXTENSION paperclip UPDATE" 2>&1)
is "$out$(q "SELECT extversion FROM pg_extension WHERE extname = 'paperclip'")" 0.2 "a filled 0.1 database updates to 0.2"
is "$(q "SELECT string_agg(role_id::text || '=' || coalesce(company_id::text, 'every company'), ', ' ORDER BY role_id::text)
         FROM paperclip.company_roles WHERE role_id::text LIKE 't11u%'")" \
	"t11u_app=every company, t11u_bound=$A" \
	"the unbound role that could use paperclip keeps every company; the bound one keeps its company"
is "$(q "SET ROLE t11u_app; SELECT count(*) FROM paperclip.companies")" 2 "so it sees what it saw before"
is "$(q "SET ROLE t11u_bound; SELECT count(*) FROM paperclip.companies")" 1 "and the bound role what it saw"
psql -X -q -c "CREATE ROLE t11u_new IN ROLE paperclip_operator" >/dev/null
is "$(q "SET ROLE t11u_new; SELECT count(*) FROM paperclip.companies")" 0 "a role made after the update sees nothing until bound"
is "$(q "SELECT count(*) FROM paperclip.company_roles WHERE role_id = 't11u_plain'::regrole")" 0 \
	"a role that could not use paperclip gets no row"
is "$(q "SELECT issue_id FROM paperclip.activity_log")" 00000000-0000-0000-0000-0000000000ca "activity rows know their issue"

# a dump restores every row and every binding once (CREATE EXTENSION makes the extension roles' rows)
createdb ${DB}_restored
out=$(pg_dump -Fc -d $DB 2>&1 >"$PC_DUMP" && pg_restore -d ${DB}_restored "$PC_DUMP" 2>&1)
is "$out" "" "the dump is made and restored without a warning or an error"
counts="SELECT concat_ws(' ', (SELECT count(*) FROM paperclip.heartbeat_runs), (SELECT count(*) FROM paperclip.agent_wakeup_requests),
  (SELECT count(*) FROM paperclip.heartbeat_run_events), (SELECT count(*) FROM paperclip.cost_events),
  (SELECT count(*) FROM paperclip.agent_runtime_state), (SELECT count(*) FROM paperclip.activity_log),
  (SELECT count(*) FROM paperclip.issue_comments))"
is "$(DB=${DB}_restored q "$counts")" "3 1 1 1 1 1 1" "with every row"
is "$(DB=${DB}_restored q "SELECT string_agg(role_id::text || '=' || coalesce(company_id::text, 'every company'), ', ' ORDER BY role_id::text)
         FROM paperclip.company_roles")" \
	"paperclip_admin=every company, paperclip_operator=every company, paperclip_reader=every company, t11u_app=every company, t11u_bound=$A" \
	"with its bindings"

# a fresh install binds nobody, though members of the paperclip roles exist in the cluster
fresh_db ${DB}_fresh
is "$(DB=${DB}_fresh q "SELECT string_agg(role_id::text || '=' || coalesce(company_id::text, 'every company'), ', ' ORDER BY role_id::text)
         FROM paperclip.company_roles")" \
	"paperclip_admin=every company, paperclip_operator=every company, paperclip_reader=every company" \
	"a fresh install binds only the extension's roles (which narrow nothing)"
is "$(DB=${DB}_fresh q "INSERT INTO paperclip.companies (name) VALUES ('c'); SET ROLE t11u_app; SELECT count(*) FROM paperclip.companies")" 0 \
	"so a role that sees every company elsewhere sees nothing here"

# an extension role that 0.1 bound to a company stays bound to it: the
# update does not widen it to every company
createdb ${DB}_bound
DB=${DB}_bound q "CREATE EXTENSION paperclip VERSION '0.1';
  INSERT INTO paperclip.companies (id, name) VALUES ('$A', 'a'), ('$B', 'b');
  INSERT INTO paperclip.company_roles (role_id, company_id) VALUES ('paperclip_reader', '$A');
  ALTER EXTENSION paperclip UPDATE" >/dev/null
is "$(DB=${DB}_bound q "SELECT string_agg(role_id::text || '=' || coalesce(company_id::text, 'every company'), ', ' ORDER BY role_id::text)
         FROM paperclip.company_roles")" \
	"paperclip_admin=every company, paperclip_operator=every company, paperclip_reader=$A" \
	"an extension role bound to a company in 0.1 keeps only that company"

# rows that already point into another company stop the update, clearly
fill ${DB}_bad
psql -X -q -d ${DB}_bad -c "INSERT INTO paperclip.activity_log (company_id, actor_id, action, entity_type, entity_id, run_id)
  VALUES ('$A', 'u', 'run.viewed', 'run', 'r', '00000000-0000-0000-0000-0000000000fb')" >/dev/null
out=$(psql -X -q -v VERBOSITY=verbose -d ${DB}_bad -c "ALTER EXTENSION paperclip UPDATE" 2>&1)
ok $(grep -q '^ERROR:  23503: cannot update paperclip: 1 row(s) of paperclip.activity_log name a run of another company' <<< "$out"; echo $?) \
	"a cross-company reference stops the update with 23503 saying which table"
ok $(grep -q 'DETAIL:  Column run_id, e.g. 00000000-0000-0000-0000-0000000000fb,' <<< "$out" &&
	grep -q 'HINT:  Correct or delete those rows' <<< "$out"; echo $?) "its detail names the column and a value, its hint the way out"
is "$(DB=${DB}_bad q "SELECT extversion FROM pg_extension WHERE extname = 'paperclip'")" 0.1 "and the database stays at 0.1"

done_testing
