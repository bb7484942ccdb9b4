#!/usr/bin/env bash
# Regenerates 0.1-data.sql and 0.1-run-logs/ beside this script: what
# paperclip 0.1 itself wrote when fill-0.1.sql drove its API. The upgrade
# tests load them into a database created at version 0.1, then update it
# (the current library cannot stand in for 0.1's: it serves its own schema).
#
#   test/upgrade/make-fixture.sh      (needs the git history; builds once)
#
# It builds the 0.1 release (commit 4d7c3cd, the last before 0.2 began)
# into a copy of a self-contained installation (PG_CONFIG, default the
# 15-cassert server of test/pgbuild.sh; the original is left alone), runs
# fill-0.1.sql against a throwaway cluster of the copy and dumps the data.
# Run-log paths become @RUN_LOG_DIRECTORY@, which the tests replace.
set -euo pipefail
release=4d7c3cd
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pg_config=${PG_CONFIG:-$("$root/test/pgbuild.sh" 15-cassert)}
prefix=$(cd "$("$pg_config" --bindir)/.." && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/pc_fixture.XXXXXX")
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cp -a "$prefix" "$work/pg"
rm -f "$work/pg/share/postgresql/extension/paperclip"*
mkdir "$work/src"
git -C "$root" archive "$release" | tar -x -C "$work/src"
make -s -C "$work/src" PG_CONFIG="$work/pg/bin/pg_config" all install >/dev/null

PG_CONFIG=$work/pg/bin/pg_config "$root/test/with-cluster.sh" bash -c '
	set -euo pipefail
	createdb fill
	psql -X -q -v ON_ERROR_STOP=1 -d fill -c "CREATE EXTENSION paperclip"
	[ "$(psql -X -A -t -d fill -c "SELECT extversion FROM pg_extension WHERE extname = '"'paperclip'"'")" = 0.1 ]
	psql -X -q -v ON_ERROR_STOP=1 -d fill -f "$1/fill-0.1.sql" >/dev/null
	logs=$(psql -X -A -t -d fill -c "SHOW data_directory")/pg_paperclip/run-logs
	pg_dump --data-only --schema=paperclip -d fill |
		sed -e "/^\\\\\\(un\\)\\?restrict /d" -e "s|$logs|@RUN_LOG_DIRECTORY@|g" >"$1/0.1-data.sql"
	rm -rf "$1/0.1-run-logs"
	cp -r "$logs" "$1/0.1-run-logs"
' fixture "$here"
echo "wrote $here/0.1-data.sql and $here/0.1-run-logs/"
