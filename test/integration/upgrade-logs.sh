#!/usr/bin/env bash
# The run logs of a 0.1 install (issue 14): 0.1 kept them in files under the
# data directory (pg_paperclip/run-logs/<company>/<run>.ndjson, log_store
# local_file), whose names are too long for pg_basebackup's tar format. The
# update to 0.2 copies them into paperclip.run_log_chunks byte for byte and,
# once it has committed, removes them (a run still running: its file becomes
# its spool log, where its runner goes on appending); an update rolled back,
# also to a savepoint, leaves them. Afterwards read_log reads every log and
# pg_basebackup -Ft works.
. "$(dirname "$0")/lib.bash"
DB=paperclip_upgrade_logs
WORK=$(mktemp -d /tmp/paperclip-it.XXXXXX)
chmod 755 "$WORK"
pgdata=$(psql -X -A -t -q -d postgres -c "SHOW data_directory")
owner=$(stat -c %U "$pgdata")
legacy="$pgdata/pg_paperclip/run-logs"
company=e1400000-0000-0000-0000-000000000001
cleanup() {
	[ -n "${writer:-}" ] && kill "$writer" 2>/dev/null
	dropdb --if-exists "$DB" >/dev/null 2>&1
	rm -rf "$legacy/$company" "$WORK"
	rmdir "$legacy" 2>/dev/null
	[ -n "${spool_log:-}" ] && rm -f "$spool_log" && rmdir "$(dirname "$spool_log")" 2>/dev/null
}
trap cleanup EXIT
dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
q "CREATE EXTENSION paperclip VERSION '0.1'" >/dev/null
is "$(q "SELECT extversion FROM pg_extension WHERE extname = 'paperclip'")" 0.1 "a database at paperclip 0.1"

# what 0.1 left: runs whose logs are files, written as its runner wrote them
run() { echo "e1400000-0000-0000-0000-0000000000$1"; }
q "INSERT INTO paperclip.companies (id, name) VALUES ('$company', 'upgraded');
   INSERT INTO paperclip.agents (id, company_id, name)
   SELECT ('e1400000-0000-0000-0000-0000000000a' || g)::uuid, '$company', 'a' || g FROM generate_series(1, 4) g;
   INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, started_at, finished_at, log_store, log_ref, log_bytes)
   SELECT ('e1400000-0000-0000-0000-0000000000f' || g)::uuid, '$company', ('e1400000-0000-0000-0000-0000000000a' || g)::uuid,
          CASE WHEN g = 3 THEN 'running' ELSE 'succeeded' END, now(), CASE WHEN g = 3 THEN NULL ELSE now() END,
          'local_file', '$legacy/$company/e1400000-0000-0000-0000-0000000000f' || g || '.ndjson', 1
     FROM generate_series(1, 4) g" >/dev/null
mkdir -p "$legacy/$company"
line() { printf '{"ts":"2026-01-01T00:00:00.000Z","stream":"%s","chunk":"%s\\n"}\n' "$1" "$2"; }
{ line stdout "working on UP-1 é€𝄞"; line stderr "a warning"; } >"$legacy/$company/$(run f1).ndjson"
for i in $(seq 1 3000); do line stdout "line $i of a long log, long enough to need several rows"; done >"$legacy/$company/$(run f2).ndjson"
line stdout "started" >"$legacy/$company/$(run f3).ndjson"
# f4's file is gone
chown -R "$owner" "$legacy" && chmod -R u=rwX,go= "$legacy"
digest() { sha256sum "$1" | cut -d' ' -f1; }
d1=$(digest "$legacy/$company/$(run f1).ndjson"); d2=$(digest "$legacy/$company/$(run f2).ndjson")
# the running run's runner, still writing (an open descriptor, as 0.1's runner holds one)
exec 3>>"$legacy/$company/$(run f3).ndjson"
writer_fd_path="$legacy/$company/$(run f3).ndjson"

out=$(pg_basebackup -D "$WORK/before" -Ft -X fetch -c fast 2>&1)
rc=$?
ok $([ $rc -ne 0 ] && grep -q 'too long for tar format' <<< "$out"; echo $?) \
	"0.1's log files break pg_basebackup -Ft (what the update fixes)"

# an update that rolls back leaves the files, also when rolled back to a savepoint
psql -X -q -d "$DB" -c "BEGIN" -c "ALTER EXTENSION paperclip UPDATE" -c "ROLLBACK" >/dev/null 2>&1
psql -X -q -d "$DB" -c "BEGIN" -c "SAVEPOINT s" -c "ALTER EXTENSION paperclip UPDATE" -c "ROLLBACK TO SAVEPOINT s" -c "COMMIT" >/dev/null 2>&1
is "$(ls "$legacy/$company" | wc -l) $(q "SELECT extversion FROM pg_extension WHERE extname = 'paperclip'")" "3 0.1" \
	"an update rolled back, even to a savepoint, leaves every file"

mark=$(log_mark)
out=$(psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -c "ALTER EXTENSION paperclip UPDATE" 2>&1)
ok $? "ALTER EXTENSION paperclip UPDATE"
ok $(log_since "$mark" | grep -qE 'LOG:  paperclip: 3 run log file\(s\) of 0.1 copied into paperclip.run_log_chunks \([0-9]+ bytes\); 2 removed, 1 moved to the spool' &&
	log_since "$mark" | grep -q 'DETAIL:  1 run(s) had no log file left'; echo $?) \
	"the server log says what it copied, removed and moved"
is "$(q "SELECT string_agg(coalesce(log_store, '-') || coalesce(log_ref, ''), ' ' ORDER BY id) FROM paperclip.heartbeat_runs WHERE company_id = '$company'")" \
	"db db db -" "the runs' logs are in the database now (a run whose file was gone has none)"
table_digest() {
	q "SELECT encode(sha256(string_agg(content, ''::bytea ORDER BY byte_offset)), 'hex') FROM paperclip.run_log_chunks WHERE run_id = '$1'"
}
is "$(table_digest "$(run f1)") $(table_digest "$(run f2)")" "$d1 $d2" "byte for byte"
is "$(q "SELECT count(*) > 3 AND max(octet_length(content)) <= 65536 FROM paperclip.run_log_chunks WHERE run_id = '$(run f2)'")" t \
	"a long log in rows of 64 kB at most"
ok $(q "SELECT content FROM paperclip.read_log('$(run f1)')" | grep -q 'working on UP-1 é€𝄞'; echo $?) "read_log reads what 0.1 wrote"
err=$(psql -X -q -d "$DB" -c "SELECT * FROM paperclip.read_log('$(run f4)')" 2>&1)
ok $(grep -q 'ERROR:  run log not found' <<< "$err"; echo $?) "a run whose file was gone still has no log"
ok $([ ! -e "$legacy/$company/$(run f1).ndjson" ] && [ ! -e "$legacy/$company/$(run f2).ndjson" ]; echo $?) \
	"the files of finished runs are removed once the update committed"
spool_log="$pgdata/pg_paperclip/spool/$(q "SELECT oid FROM pg_database WHERE datname = current_database()")/$(run f3).log"
ok $([ -f "$spool_log" ] && [ ! -e "$legacy/$company" ] && [ ! -e "$legacy" ]; echo $?) \
	"a running run's file is its spool log now, and 0.1's directories are gone"
line stdout "after the update" >&3
exec 3>&-
ok $(grep -q 'after the update' "$spool_log"; echo $?) \
	"what its runner writes after the update lands there (for the launcher to copy when it finalizes the run)"
out=$(pg_basebackup -D "$WORK/after" -Ft -X fetch -c fast 2>&1)
rc=$?
ok $rc "pg_basebackup -Ft works after the update"
[ $rc -eq 0 ] || sed 's/^/#   /' <<< "$out"
is "$(q "SELECT count(*) FROM pg_proc WHERE proname = 'import_file_logs'")" 0 "the update's import function is gone"

done_testing
