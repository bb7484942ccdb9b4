#!/usr/bin/env bash
# test/upgrade/load-0.1.sh DATABASE: paperclip 0.1 in DATABASE (which must
# exist, without the extension), holding what 0.1 itself wrote through its
# API (0.1-data.sql and 0.1-run-logs/, made by make-fixture.sh from
# fill-0.1.sql): companies, agents, runs queued, running, succeeded with
# cost, failed, retried, cancelled and timed out, events, logs, costs,
# activity, runtime state, a role binding. The run logs are copied into
# this cluster's run-log directory (as the data directory's owner), and the
# runs point at them. PG* name the cluster.
set -euo pipefail
db=${1:?usage: test/upgrade/load-0.1.sh DATABASE}
here=$(cd "$(dirname "$0")" && pwd)
sql() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }

sql -c "CREATE EXTENSION paperclip VERSION '0.1'"
# the role 0.1 bound to a company (roles belong to the cluster)
sql <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'paperclip_upgrade_bound') THEN
        CREATE ROLE paperclip_upgrade_bound NOLOGIN IN ROLE paperclip_reader;
    END IF;
END
$$;
SQL
datadir=$(psql -X -A -t -d "$db" -c "SHOW data_directory")
logdir=$(psql -X -A -t -d "$db" -c "SHOW paperclip.run_log_directory")
case $logdir in /*) ;; *) logdir=$datadir/$logdir ;; esac
owner=$(stat -c %U "$datadir")
mkdir -p "$logdir"
# as 0.1's launcher made them: the server's, 0700 (the update from 0.2 removes them once empty)
chown "$owner" "$logdir" && chmod 700 "$logdir"
case $logdir in "$datadir"/*) chown "$owner" "$(dirname "$logdir")" ;; esac
cp -r "$here/0.1-run-logs/." "$logdir/"
for f in "$here"/0.1-run-logs/*; do
	chown -R "$owner" "$logdir/$(basename "$f")"
	chmod -R u=rwX,go= "$logdir/$(basename "$f")"
done
sed "s|@RUN_LOG_DIRECTORY@|$logdir|g" "$here/0.1-data.sql" | sql >/dev/null
