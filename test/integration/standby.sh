#!/usr/bin/env bash
# On a streaming standby the API says what is true: every function that
# writes answers 25006 "paperclip is read-only on a standby", with no
# internal SQL in the error; reading functions and views work on the
# replicated rows, and no worker runs there.
#
# The primary is a fresh cluster of the same installation, not the test
# cluster: pg_basebackup refuses a data directory holding run-log files
# whose names are over tar's 99 bytes (issue 14, first point), and the
# test cluster has them once another test ran an agent.
. "$(dirname "$0")/lib.bash"

bindir=$(pg_config --bindir)
owner=postgres
[ "$(id -u)" -eq 0 ] || owner=$(id -un)
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/pc_standby.XXXXXX")
chmod 755 "$dir"
chown "$owner" "$dir"
cleanup() {
	for d in standby primary; do
		[ -d "$dir/$d" ] && as_owner "$bindir/pg_ctl" -D "$dir/$d" -m immediate stop >/dev/null 2>&1
	done
	rm -rf "$dir"
}
trap cleanup EXIT

export PGHOST=localhost PGUSER=postgres PGPASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
primary_port=$(free_port)
standby_port=$(free_port)
printf '%s\n' "$PGPASSWORD" >"$dir/pwfile"
chown "$owner" "$dir/pwfile"
as_owner "$bindir/initdb" -D "$dir/primary" -U postgres --pwfile="$dir/pwfile" \
	--auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
	{ sed 's/^/# /' "$dir/initdb.log"; exit 1; }
# the primary runs no agent: its runs stay queued, or are claimed through the API
cat >>"$dir/primary/postgresql.conf" <<EOF
port = $primary_port
listen_addresses = 'localhost'
unix_socket_directories = '$dir'
fsync = off
shared_preload_libraries = 'paperclip'
paperclip.launcher_enabled = off
paperclip.scheduler_enabled = off
EOF
as_owner "$bindir/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w -t 60 start >/dev/null ||
	{ tail -n 20 "$dir/primary.log" | sed 's/^/# /'; exit 1; }

P() { PGPORT=$primary_port psql -X -A -t -q -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
S() { PGPORT=$standby_port psql -X -A -t -q -v ON_ERROR_STOP=1 -d postgres -c "$1"; }

# --- rows of every kind, written through the API on the primary
P "CREATE EXTENSION paperclip" >/dev/null
COMPANY=$(P "INSERT INTO paperclip.companies (name) VALUES ('standby') RETURNING id")
a1=$(P "INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('$COMPANY', 'one', '{\"command\":\"/bin/true\"}') RETURNING id")
a2=$(P "INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('$COMPANY', 'two', '{\"command\":\"/bin/true\"}') RETURNING id")
issue=$(P "INSERT INTO paperclip.issues (company_id, title) VALUES ('$COMPANY', 'replicated') RETURNING id")
r1=$(P "SELECT id FROM paperclip.enqueue_wakeup('$a1', context_snapshot => '{\"issueId\":\"$issue\"}')")
P "SELECT count(*) FROM paperclip.claim_runs(1)" >/dev/null
P "SELECT paperclip.append_run_event('$r1', 'tool.call', 'looked around')" >/dev/null
P "SELECT paperclip.finalize_run('$r1', '{\"exitCode\":0,\"costUsd\":0.02,\"usage\":{\"inputTokens\":5}}')" >/dev/null
P "SELECT paperclip.log_activity('$COMPANY', 'agent', '$a1', 'issue.comment_added', 'issue', '$issue', '$a1', '$r1')" >/dev/null
r2=$(P "SELECT id FROM paperclip.enqueue_wakeup('$a2')")

# --- a standby of it: pg_basebackup -R, started on another port
as_owner env PGPORT="$primary_port" "$bindir/pg_basebackup" -D "$dir/standby" -R -X stream -c fast \
	>"$dir/basebackup.log" 2>&1
rc=$?
ok $rc "pg_basebackup -R of the primary"
[ $rc -eq 0 ] || sed 's/^/#   /' "$dir/basebackup.log"
cat >>"$dir/standby/postgresql.conf" <<EOF
port = $standby_port
hot_standby = on
EOF
as_owner "$bindir/pg_ctl" -D "$dir/standby" -l "$dir/standby.log" -w -t 60 start >/dev/null
rc=$?
ok $rc "the standby starts"
[ $rc -eq 0 ] || tail -n 20 "$dir/standby.log" | sed 's/^/#   /'
is "$(S "SELECT pg_is_in_recovery()")" t "it is in recovery"

# streaming: a row written now reaches it
c2=$(P "INSERT INTO paperclip.companies (name) VALUES ('after the backup') RETURNING id")
deadline=$((SECONDS + 30))
until [ "$(S "SELECT count(*) FROM paperclip.companies WHERE id = '$c2'" 2>/dev/null)" = 1 ]; do
	[ $SECONDS -ge $deadline ] && break
	sleep 0.05
done
is "$(S "SELECT count(*) FROM paperclip.companies WHERE id = '$c2'")" 1 "rows written on the primary stream to the standby"

# --- every function that writes: 25006, said plainly, no internal SQL
# Each VOLATILE function of the extension (triggers aside) is called with
# made-up arguments: the check comes before any argument is looked at.
# Volatile functions that only read are listed here.
readers="'read_log'"
calls=$(S "
SELECT format('SELECT %s(%s)', p.oid::regproc,
              coalesce((SELECT string_agg(CASE t
                                 WHEN 'uuid'::regtype THEN 'gen_random_uuid()'
                                 WHEN 'text'::regtype THEN '''x'''
                                 WHEN 'jsonb'::regtype THEN '''{}''::jsonb'
                                 WHEN 'integer'::regtype THEN '1'
                                 WHEN 'bigint'::regtype THEN '1::bigint'
                                 WHEN 'timestamptz'::regtype THEN 'now()'
                                 ELSE format('NULL::%s', t::regtype) END, ', ' ORDER BY n)
                          FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, n)), ''))
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'paperclip'
 WHERE p.provolatile = 'v' AND p.prokind = 'f'
   AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
   AND p.proname NOT IN ($readers)
 ORDER BY p.proname")
n=0
while IFS= read -r call; do
	[ -n "$call" ] || continue
	n=$((n + 1))
	err=$(PGPORT=$standby_port psql -X -q -d postgres -v VERBOSITY=verbose -c "$call" 2>&1 >/dev/null)
	fn=${call#SELECT }
	fn=${fn%%(*}
	if grep -q '^ERROR:  25006: paperclip is read-only on a standby$' <<<"$err" &&
		! grep -qE '^(CONTEXT|QUERY):' <<<"$err"; then
		ok 0 "$fn on the standby: 25006, paperclip is read-only on a standby"
	else
		ok 1 "$fn on the standby: 25006, paperclip is read-only on a standby"
		sed 's/^/#   /' <<<"$err"
	fi
done <<<"$calls"
ok $([ "$n" -ge 16 ]; echo $?) "every writing function was tried ($n)"
err=$(PGPORT=$standby_port psql -X -q -d postgres -c "SELECT paperclip.enqueue_wakeup('$a2')" 2>&1 >/dev/null)
is "$(grep -c . <<<"$err")" 3 "the error is three short lines (message, detail, hint)"
grep -q 'DETAIL:  paperclip.enqueue_wakeup() writes, and this server is in recovery.' <<<"$err"
rc=$?
ok $rc "its detail names the function"
[ $rc -eq 0 ] || sed 's/^/#   /' <<<"$err"

# --- what reads works on the standby, on the replicated rows
is "$(S "SELECT string_agg(status, ',' ORDER BY status) FROM paperclip.list_runs('$COMPANY')")" \
	"queued,succeeded" "list_runs reads the replicated runs"
is "$(S "SELECT count(*) FROM paperclip.list_events('$r1') WHERE event_type = 'tool.call'")" 1 "list_events reads a run's events"
is "$(S "SELECT count(*) FROM paperclip.list_activity('$COMPANY')")" 1 "list_activity reads the feed"
is "$(S "SELECT count(*) FROM paperclip.runs_for_issue('$COMPANY', '$issue')")" 1 "runs_for_issue reads the runs of an issue"
is "$(S "SELECT count(*) FROM paperclip.issues_for_run('$r1')")" 1 "issues_for_run reads the issues of a run"
is "$(S "SELECT count(*) FROM paperclip.active_runs WHERE company_id = '$COMPANY'")" 1 "the active_runs view"
is "$(S "SELECT spent_monthly_cents FROM paperclip.agent_overview WHERE agent_id = '$a1'")" 2 "the agent_overview view"
is "$(S "SELECT runs FROM paperclip.run_stats WHERE agent_id = '$a1' AND status = 'succeeded'")" 1 "the run_stats view"
is "$(S "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'paperclip%'")" 0 \
	"no paperclip worker runs on the standby"

# --- on the primary, a read-only transaction names the function
err=$(PGPORT=$primary_port psql -X -q -d postgres -v VERBOSITY=verbose \
	-c "SET default_transaction_read_only = on" -c "SELECT paperclip.enqueue_wakeup('$a2')" 2>&1 >/dev/null)
grep -q '^ERROR:  25006: cannot execute paperclip.enqueue_wakeup() in a read-only transaction$' <<<"$err" &&
	! grep -qE '^(CONTEXT|QUERY):' <<<"$err"
rc=$?
ok $rc "a read-only transaction on the primary: 25006 naming the function, no internal SQL"
[ $rc -eq 0 ] || sed 's/^/#   /' <<<"$err"
is "$(P "SELECT status FROM paperclip.heartbeat_runs WHERE id = '$r2'")" queued "and the primary's queued run is untouched"

done_testing
