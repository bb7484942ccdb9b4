#!/usr/bin/env bash
# Run logs in the database (issue 14): the launcher copies its runners'
# spool logs into paperclip.run_log_chunks in batches while runs go on and
# the rest when it finalizes them; the log in the table is the runner's
# byte for byte (logBytes, logSha256); read_log pages it by byte offset;
# paperclip.max_log_bytes caps it; kill -9 of the launcher and an immediate
# shutdown mid-run lose no line; pg_basebackup (tar format) works after runs
# have logged, and a dump restored elsewhere reads every log;
# paperclip.log_store = file keeps logs in files outside the data directory
# (and nowhere inside it).
. "$(dirname "$0")/lib.bash"
launcher_db
settings="log_store run_log_directory max_log_bytes"
restore() {
	for s in $settings; do q "ALTER SYSTEM RESET paperclip.$s" >/dev/null 2>&1; done
	q "SELECT pg_reload_conf()" >/dev/null 2>&1
	dropdb --if-exists paperclip_logs_restored >/dev/null 2>&1
	[ -n "${moved:-}" ] && [ -d "$moved" ] && mv "$moved" "$pgdata/pg_paperclip"
	rm -rf "$WORK"
}
trap restore EXIT
sys() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1" -c "SELECT pg_reload_conf()" >/dev/null; }
pgdata=$(q "SHOW data_directory")
owner=$(stat -c %U "$pgdata")
field() { q "SELECT $2 FROM paperclip.heartbeat_runs WHERE id = '$1'"; }
# the table's copy of a run's log matches what its runner counted and hashed
log_whole() {
	q "SELECT r.log_bytes = sum(octet_length(c.content))
	          AND r.log_sha256 = encode(sha256(string_agg(c.content, ''::bytea ORDER BY c.byte_offset)), 'hex')
	          AND min(c.byte_offset) = 0
	          AND bool_and(c.byte_offset + octet_length(c.content) = coalesce(c.next_offset, r.log_bytes))
	     FROM paperclip.heartbeat_runs r,
	          LATERAL (SELECT x.*, lead(x.byte_offset) OVER (ORDER BY x.byte_offset) AS next_offset
	                     FROM paperclip.run_log_chunks x WHERE x.company_id = r.company_id AND x.run_id = r.id) c
	    WHERE r.id = '$1' GROUP BY r.log_bytes, r.log_sha256"
}
# log_has <run> <text>: read_log shows the text (a run not started yet has no log)
log_has() {
	echo "SELECT CASE WHEN (SELECT log_store FROM paperclip.heartbeat_runs WHERE id = '$1') IS NULL THEN false
	             ELSE EXISTS (SELECT 1 FROM paperclip.read_log('$1', 0, 16777216) WHERE content LIKE '%$2%') END"
}
spool="pg_paperclip/spool/$(q "SELECT oid FROM pg_database WHERE datname = current_database()")"	# this database's
spool_files() { ls "$pgdata/$spool" | grep -c "^$1" ; }
# numbered <n> <pause>: an agent printing lines 1..n, pause seconds apart
numbered() {
	script "numbered-$1-$2.sh" "i=1; while [ \$i -le $1 ]; do echo \"line \$i of $1\"; i=\$((i + 1)); sleep $2; done"
}
# lines_once <run> <n>: the log holds "line i of n" exactly once each, in order
lines_once() {
	[ "$(run_log "$1" | grep -o 'line [0-9]* of '"$2" | awk '{ print $2 }' | tr '\n' ' ')" = "$(seq -s ' ' 1 "$2") " ]
}

# --- a run's output reaches the table while it runs, in batches
cmd=$(script live.sh 'i=1; while [ $i -le 300 ]; do echo "tick $i"; i=$((i + 1)); sleep 0.005; done; echo "waiting"; sleep 2; echo bye')
a=$(agent live "{\"command\":\"$cmd\"}")
r=$(enqueue "$a")
ok $(wait_for 20 "SELECT ($(log_has "$r" waiting)) AND (SELECT status FROM paperclip.heartbeat_runs WHERE id = '$r') = 'running'"; echo $?) \
	"a running run's output is in the table (read_log) before the run ends"
wait_finished "$r"
is "$(field "$r" "status || ' ' || log_store || ' ' || (log_ref IS NULL)")" "succeeded db true" "the run's log is kept in the database"
is "$(log_whole "$r")" t "the rows hold the runner's log byte for byte (logBytes, logSha256), consecutive from 0"
records=$(run_log "$r" | grep -c '"stream":"stdout"')
rows=$(q "SELECT count(*) FROM paperclip.run_log_chunks WHERE run_id = '$r'")
ok $([ "$records" -ge 30 ] && [ $((rows * 3)) -le "$records" ]; echo $?) \
	"records that come fast are written in batches ($records records, $rows rows)"
is "$(spool_files "$r")" 0 "the runner's spool log is gone once the run is finalized"
ok $(run_log "$r" | grep -q '"chunk":"bye\\n"'; echo $?) "and the log ends with the run's last output"

# --- megabytes of multi-byte output: rows of 64 kB at most, compressed, paged whole by read_log
cmd=$(script big.sh 'i=0; while [ $i -lt 30000 ]; do echo "é€𝄞 line $i of a big log, with some padding to compress"; i=$((i + 1)); done')
r=$(enqueue "$(agent big "{\"command\":\"$cmd\"}")")
wait_finished "$r" 60
is "$(field "$r" status)" succeeded "a run printing 2 MB of multi-byte text succeeds"
is "$(log_whole "$r")" t "its log is whole in the table"
is "$(q "SELECT max(octet_length(content)) <= 65536 AND count(*) >= 30 FROM paperclip.run_log_chunks WHERE run_id = '$r'")" t \
	"in rows of 64 kB at most"
ok $([ "$(q "SELECT sum(pg_column_size(content)) * 3 < sum(octet_length(content)) FROM paperclip.run_log_chunks WHERE run_id = '$r'")" = t ]; echo $?) \
	"compressed by TOAST ($(q "SELECT pg_size_pretty(sum(pg_column_size(content))) || ' for ' || pg_size_pretty(sum(octet_length(content)))
	                          FROM paperclip.run_log_chunks WHERE run_id = '$r'"), $(q "SELECT string_agg(DISTINCT pg_column_compression(content), ',') FROM paperclip.run_log_chunks WHERE run_id = '$r'"))"
pages=$(q "WITH RECURSIVE p(n, off, content) AS (
             SELECT 0, 0::bigint, ''::text
           UNION ALL
             SELECT p.n + 1, l.next_offset, l.content FROM p, paperclip.read_log('$r', p.off, 99991) l
              WHERE p.off IS NOT NULL AND p.n < 10000)
           SELECT md5(string_agg(content, '' ORDER BY n)) = (SELECT md5(convert_from(string_agg(c.content, ''::bytea ORDER BY c.byte_offset), 'UTF8'))
                                                          FROM paperclip.run_log_chunks c WHERE c.run_id = '$r')
                  AND count(*) - 1 >= $(field "$r" log_bytes) / 99991
                  AND bool_and(octet_length(content) <= 99991)
             FROM p")
is "$pages" t "read_log's pages of at most 99,991 bytes (across row boundaries, whole characters) make the whole log"

# --- the cap: paperclip.max_log_bytes stops the log in the table too
sys "ALTER SYSTEM SET paperclip.max_log_bytes = '256kB'"
wait_for 10 "SELECT current_setting('paperclip.max_log_bytes') = '256kB'"
cmd=$(script flood.sh "head -c 1000000 /dev/zero | tr '\\0' 'z' | fold -w 100; echo after-flood")
r=$(enqueue "$(agent flood "{\"command\":\"$cmd\"}")")
wait_finished "$r" 60
ok $([ "$(run_log_bytes "$r")" -le 262144 ] && [ "$(run_log_bytes "$r")" -gt 180000 ]; echo $?) \
	"a 1 MB output under a 256 kB cap keeps $(run_log_bytes "$r") bytes in the table"
is "$(log_whole "$r")" t "as many as the runner counted"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_run_events WHERE run_id = '$r' AND message LIKE 'run log truncated at 262144 bytes%'")" 1 \
	"and a lifecycle event says the log was truncated"
# and for external runners' append_run_log
r=$(q "INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status) VALUES ('$COMPANY', '$(agent external '{}')', 'running') RETURNING id")
sizes=$(for i in 1 2 3 4 5; do q "SELECT paperclip.append_run_log('$r', 'stdout', repeat('e', 100000))"; done | tr '\n' ' ')
is "$sizes" "$(q "SELECT a || ' ' || repeat(b || ' ', 4) FROM (SELECT min(byte_offset + octet_length(content)) AS a,
                 max(byte_offset + octet_length(content)) AS b, count(*) FROM paperclip.run_log_chunks WHERE run_id = '$r') t WHERE count = 2")" \
	"append_run_log stops storing records at the cap (the bytes so far stay)"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_run_events WHERE run_id = '$r' AND message LIKE 'run log truncated at 262144 bytes%'")" 1 \
	"and says so in one lifecycle event"
is "$(q "SELECT length(stdout_excerpt) FROM paperclip.heartbeat_runs WHERE id = '$r'")" 32768 "the excerpt still shows the latest output"
q "SELECT paperclip.finalize_run('$r', '{}')" >/dev/null
sys "ALTER SYSTEM RESET paperclip.max_log_bytes"

# --- kill -9 of the launcher mid-run: no line is lost
cmd=$(numbered 150 0.02)
r=$(enqueue "$(agent crash1 "{\"command\":\"$cmd\"}")")
wait_for 20 "$(log_has "$r" 'line 20 of 150')" >/dev/null
kill -9 "$(launcher_pid)"
wait_worker launcher 0 60 >/dev/null
ok $(wait_finished "$r" 60; echo $?) "after kill -9 of the launcher mid-run the run is finalized"
is "$(field "$r" status)" succeeded "with its runner's result"
ok $(lines_once "$r" 150; echo $?) "its log holds every line, once, in order"
is "$(log_whole "$r")" t "byte for byte what the runner wrote"
is "$(spool_files "$r")" 0 "and its spool files are gone"

# --- an immediate shutdown mid-run, then a restart: no line is lost
cmd=$(numbered 150 0.02)
r=$(enqueue "$(agent crash2 "{\"command\":\"$cmd\"}")")
wait_for 20 "$(log_has "$r" 'line 20 of 150')" >/dev/null
server_stop_immediate
server_start
wait_worker launcher 0 60 >/dev/null
ok $(wait_finished "$r" 60; echo $?) "after an immediate shutdown mid-run the run is finalized"
is "$(field "$r" status)" succeeded "with its runner's result"
ok $(lines_once "$r" 150; echo $?) "its log holds every line, once, in order"
is "$(log_whole "$r")" t "byte for byte what the runner wrote"

# --- pg_basebackup in tar format, after runs have logged and with one in flight
cmd=$(numbered 100 0.05)
r=$(enqueue "$(agent inflight "{\"command\":\"$cmd\"}")")
wait_for 20 "$(log_has "$r" 'line 5 of 100')" >/dev/null
out=$(pg_basebackup -D "$WORK/base" -Ft -X fetch -c fast 2>&1)
rc=$?
ok $rc "pg_basebackup -Ft succeeds after runs have logged, with a run in flight"
[ $rc -eq 0 ] || sed 's/^/#   /' <<< "$out"
is "$(tar -tf "$WORK/base/base.tar" 2>/dev/null | awk 'length($0) > 99' | wc -l)" 0 "no name in the tar is longer than 99 bytes"
is "$(tar -tf "$WORK/base/base.tar" | grep -c "^$spool/$r.log$")" 1 \
	"the run's spool log is in the backup (its name fits: $spool/$r.log)"
wait_finished "$r" 30
ok $(lines_once "$r" 100; echo $?) "the run in flight logged every line"

# --- a dump restored into another database, without the data directory's files, reads every log
pg_dump -Fc -d "$DB" -f "$WORK/dump" 2>"$WORK/dump.err"
ok $? "pg_dump of the database"
createdb paperclip_logs_restored
pg_restore -d paperclip_logs_restored "$WORK/dump" 2>"$WORK/restore.err"
ok $? "pg_restore into another database"
[ -s "$WORK/restore.err" ] && head -n 5 "$WORK/restore.err" | sed 's/^/#   /'
# another host: nothing of this data directory's paperclip files
wait_for 30 "SELECT NOT EXISTS (SELECT 1 FROM paperclip.heartbeat_runs WHERE status = 'running')" >/dev/null
moved="$WORK/pg_paperclip.moved"
mv "$pgdata/pg_paperclip" "$moved"
digests="SELECT string_agg(r.id || ':' || md5(l.content), ',' ORDER BY r.id)
           FROM paperclip.heartbeat_runs r, paperclip.read_log(r.id, 0, 16777216) l
          WHERE r.company_id = '$COMPANY' AND r.log_store IS NOT NULL"
here=$(q "$digests")
there=$(psql -X -A -t -q -d paperclip_logs_restored -c "$digests" 2>&1)
ok $([ -n "$here" ] && [ "$here" = "$there" ]; echo $?) \
	"the restored copy reads every log as the original does ($(tr ',' '\n' <<< "$here" | wc -l) logs), without the data directory's files"
mv "$moved" "$pgdata/pg_paperclip"
moved=

# --- paperclip.log_store = file: files outside the data directory, named as before
mkdir -p "$WORK/filelogs" && chown "$owner" "$WORK/filelogs" && chmod 700 "$WORK/filelogs"
sys "ALTER SYSTEM SET paperclip.run_log_directory = '$WORK/filelogs'"
sys "ALTER SYSTEM SET paperclip.log_store = 'file'"
cmd=$(script tofile.sh 'echo "to a file é𝄞"; echo "on stderr" >&2')
a=$(agent tofile "{\"command\":\"$cmd\"}")
store_of_next_run() {	# the launcher takes a setting at its own pace: run until it shows
	local deadline=$((SECONDS + 30)) r
	while [ $SECONDS -lt $deadline ]; do
		r=$(enqueue "$a"); wait_finished "$r" 30
		[ "$(field "$r" log_store)" = "$1" ] && { echo "$r"; return 0; }
	done
	return 1
}
r=$(store_of_next_run file)
ok $? "with paperclip.log_store = file, the launcher's runs say file"
file="$WORK/filelogs/$COMPANY/$r.ndjson"
is "$(field "$r" log_ref)" "$file" "log_ref names <run_log_directory>/<company>/<run>.ndjson"
is "$(field "$r" "log_bytes || ' ' || log_sha256")" "$(stat -c %s "$file") $(sha256sum "$file" | cut -d' ' -f1)" \
	"the file holds the runner's log"
is "$(q "SELECT store || ' ' || (content LIKE '%to a file é𝄞%') FROM paperclip.read_log('$r')")" "file true" "read_log reads it"
is "$(q "SELECT count(*) FROM paperclip.run_log_chunks WHERE run_id = '$r'")" 0 "and nothing of it is in the table"
ok $([ "${#file}" -gt 0 ] && [ $((${#COMPANY} + ${#r} + 8)) -le 99 ]; echo $?) "its name under the directory fits tar's 99 bytes"
mark=$(log_mark)
sys "ALTER SYSTEM SET paperclip.run_log_directory = 'pg_paperclip/run-logs'"
r=$(store_of_next_run db)
ok $? "a file store inside the data directory is refused: the runs' logs go to the database"
ok $(wait_for 10 "SELECT true" && log_since "$mark" | grep -q 'paperclip.log_store is file, but paperclip.run_log_directory .* is inside the data directory'; echo $?) \
	"with a WARNING that says why"
ok $([ ! -e "$pgdata/pg_paperclip/run-logs" ]; echo $?) "and nothing is created there"
sys "ALTER SYSTEM RESET paperclip.log_store"
sys "ALTER SYSTEM RESET paperclip.run_log_directory"

done_testing
