#!/usr/bin/env bash
# Runs every suite against the cluster pg_virtualenv gave us (PG* set) and
# ends with one line "N passed, N failed" counting every test of every suite.
# Suites: the runner's unit tests (test/unit, TAP), pg_regress (sql/ -> expected/), isolation (test/specs ->
# test/expected), pgTAP (test/pgtap/*.sql via pg_prove), integration
# (test/integration/*.sh, each printing TAP).
set -uo pipefail
cd "$(dirname "$0")/.."

bindir=$(pg_config --bindir)
pgxs_src=$(dirname "$(pg_config --pgxs)")/..
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0
failed=0

suite_start=$SECONDS
count() {	# count <suite> <passed> <failed>; with the time since the last count
	echo "== $1: $2 passed, $3 failed ($((SECONDS - suite_start)) s)"
	suite_start=$SECONDS
	passed=$((passed + $2))
	failed=$((failed + $3))
}

# pg_regress prints "test NAME ... ok|FAILED" per test (15), or TAP lines
# "ok N - NAME" / "not ok N - NAME" (16 and later).
run_regress() {	# run_regress <suite> <driver> <args...>
	local suite=$1 driver=$2
	shift 2
	"$driver" --bindir="$bindir" --load-extension=paperclip "$@" >"$out/$suite.log" 2>&1
	local rc=$? ok bad
	cat "$out/$suite.log"
	ok=$(grep -cE '\.\.\. ok|^ok [0-9]+ ' "$out/$suite.log")
	bad=$(grep -cE '\.\.\. FAILED|failed \(ignored\)|^not ok [0-9]+ ' "$out/$suite.log")
	[ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
	for f in regression.diffs output_iso/regression.diffs; do
		[ -s "$f" ] && [ "$bad" -gt 0 ] && head -n 200 "$f"
	done
	count "$suite" "$ok" "$bad"
}

# TAP: count "ok N" / "not ok N" lines; a runner that failed without a
# failing test line (bad plan, crash) counts as one failure.
run_tap() {	# run_tap <suite> <command...>
	local suite=$1
	shift
	"$@" >"$out/$suite.log" 2>&1
	local rc=$? ok bad
	cat "$out/$suite.log"
	ok=$(grep -cE '^[[:space:]]*ok [0-9]+' "$out/$suite.log")
	bad=$(grep -cE '^[[:space:]]*not ok [0-9]+' "$out/$suite.log")
	[ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
	count "$suite" "$ok" "$bad"
}

# the runner's unit tests, built by make (all)
run_tap unit test/unit/cli_unit test/agents/recorded

regress=$(sed -n 's/^REGRESS *= *//p' Makefile)
isolation=$(sed -n 's/^ISOLATION *= *//p' Makefile)

# shellcheck disable=SC2086
run_regress pg_regress "$pgxs_src/test/regress/pg_regress" --inputdir=. \
	--dbname=contrib_regression $regress
# shellcheck disable=SC2086
run_regress isolation "$pgxs_src/test/isolation/pg_isolation_regress" --inputdir=test \
	--outputdir=output_iso --dbname=isolation_regression $isolation

tapdb=paperclip_tap
dropdb --if-exists "$tapdb" >/dev/null 2>&1
createdb "$tapdb" && psql -X -q -d "$tapdb" -c 'CREATE EXTENSION pgtap; CREATE EXTENSION paperclip;'
run_tap pgtap pg_prove --verbose --failures -d "$tapdb" test/pgtap/*.sql

# The same pgTAP suites against a database upgraded from a filled 0.1.
updb=paperclip_tap_upgraded
if ./test/upgrade/prepare.sh "$updb" >"$out/upgrade.log" 2>&1; then
	run_tap pgtap-upgraded pg_prove --verbose --failures -d "$updb" test/pgtap/*.sql
else
	cat "$out/upgrade.log"
	count pgtap-upgraded 0 1
fi

if compgen -G "test/integration/*.sh" >/dev/null; then
	run_tap integration prove --verbose --exec bash test/integration/*.sh
fi

echo "== every suite in $SECONDS s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
