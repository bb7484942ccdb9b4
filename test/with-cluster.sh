#!/usr/bin/env bash
# Runs a command against a throwaway cluster of the PostgreSQL installation
# that $PG_CONFIG names (a server built by test/pgbuild.sh), as pg_virtualenv
# does for Debian's packaged servers: PG* set (TCP to localhost with a
# password, PGUSER postgres), the cluster dropped afterwards.
#
#   PG_CONFIG=/path/bin/pg_config test/with-cluster.sh [-o name=value]... CMD...
#
# Also exported: PC_PGDATA and PC_PG_CTL (a pg_ctl command line for this
# cluster, run as its owner) so tests can stop and start the server.
set -euo pipefail

settings=()
while getopts "o:" opt; do
	case $opt in
	o) settings+=("$OPTARG") ;;
	*) echo "usage: $0 [-o name=value]... CMD..." >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-o name=value]... CMD..." >&2; exit 2; }

bindir=$("${PG_CONFIG:?PG_CONFIG must name the installation\'s pg_config}" --bindir)
owner=postgres
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] || owner=$(id -un)

dir=$(mktemp -d "${TMPDIR:-/tmp}/pc_cluster.XXXXXX")
chmod 755 "$dir"
chown "$owner" "$dir"
data=$dir/data
password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
	as_owner "$bindir/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

# the superuser's password: readable by the cluster's owner only (agents run
# on this machine as another OS user, and $dir is world-searchable)
(umask 077 && printf '%s\n' "$password" >"$dir/pwfile")
chown "$owner" "$dir/pwfile"
as_owner "$bindir/initdb" -D "$data" -U postgres --pwfile="$dir/pwfile" \
	--auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }
{
	echo "port = $port"
	echo "listen_addresses = 'localhost'"
	echo "unix_socket_directories = '$dir'"
	echo "fsync = off"
	echo "shared_preload_libraries = 'paperclip'"
	# The suites' own databases keep their runs queued for the tests to
	# claim: the workers serve postgres only, and enqueues elsewhere do not
	# warn. Tests of serving every database set these themselves
	# (multidb.sh); -o overrides them.
	echo "paperclip.database_name = 'postgres'"
	echo "paperclip.unserved_warning = off"
	for s in "${settings[@]}"; do
		echo "${s%%=*} = '${s#*=}'"
	done
} >>"$data/postgresql.conf"
as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
	{ tail -n 40 "$dir/server.log" >&2; exit 1; }

export PATH="$bindir:$PATH" PGHOST=localhost PGPORT=$port PGUSER=postgres \
	PGPASSWORD=$password PGDATABASE=postgres PG_CONFIG PC_PGDATA=$data
export PC_PG_CTL="$( [ "$(id -u)" -eq 0 ] && echo "runuser -u $owner -- ")$bindir/pg_ctl -D $data -l $dir/server.log -w -t 60"
unset PGSERVICE PGHOSTADDR PGSYSCONFDIR PG_CLUSTER_CONF_ROOT
rc=0
"$@" || rc=$?
exit $rc
