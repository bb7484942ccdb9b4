# Helpers of the paperclip_worker tests (sourced after lib.bash, then
# launcher_db). Workers run as the cluster's OS user when the tests run as
# root (no worker needs root), connect as a login role granted
# paperclip_operator, and keep their spool in $WORK/state.
WORKER_BIN=$(pg_config --bindir)/paperclip_worker
WORKER_PASSWORD=worker-it-$$
declare -A WORKER_PID=()
SETTINGS_CHANGED=()
WORKER_ROLES=()

# setting <name> <value>: ALTER SYSTEM and reload; reset by remote_cleanup
setting() {
	q "ALTER SYSTEM SET $1 = '$2'" && q "SELECT pg_reload_conf()" >/dev/null
	SETTINGS_CHANGED+=("$1")
}

# worker_role <role> [company]: a login role for workers, bound to the company (or every one)
worker_role() {
	q "DELETE FROM paperclip.company_roles WHERE role_id::text = '$1'" >/dev/null 2>&1
	q "SET client_min_messages = warning; DROP ROLE IF EXISTS $1" >/dev/null
	WORKER_ROLES+=("$1")
	q "CREATE ROLE $1 LOGIN PASSWORD '$WORKER_PASSWORD'; GRANT paperclip_operator TO $1" >/dev/null
	local company=NULL
	[ -n "${2:-}" ] && company="'$2'"
	q "INSERT INTO paperclip.company_roles (role_id, company_id) VALUES ('$1', $company)" >/dev/null
}

# start_worker <name> <role> [options...]: a worker in the background (as the
# cluster's OS user when root: $! is the worker itself), its log in $WORK/<name>.log
start_worker() {
	local name=$1 role=$2 as=()
	shift 2
	mkdir -p "$WORK/state"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres "$WORK/state"
		as=(setpriv --reuid postgres --regid postgres --init-groups --)
	fi
	PGUSER=$role PGPASSWORD=$WORKER_PASSWORD PGDATABASE=$DB \
		"${as[@]}" "$WORKER_BIN" --name "$name" --dir "$WORK/state" --verbose "$@" >>"$WORK/$name.log" 2>&1 &
	WORKER_PID[$name]=$!
}

# worker_connected <role> [count] [seconds]: that many sessions of workers of the role
worker_connected() {
	wait_for "${3:-20}" "SELECT count(*) >= ${2:-1} FROM pg_stat_activity
	  WHERE application_name = 'paperclip_worker' AND usename = '$1'"
}

# stop_worker <name>: SIGTERM (drain) and wait for it
stop_worker() {
	local pid=${WORKER_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "WORKER_PID[$1]"
}

# spool_empty <name>: no result waits in the worker's spool, no run log stays
spool_empty() {
	[ -z "$(ls -A "$WORK/state/$1/spool" "$WORK/state/$1/logs" 2>/dev/null | grep -v ':$' | grep -v '^$')" ]
}

# Workers stopped at once, settings reset, what was queued cancelled, logs shown on
# failure; $WORK removed unless KEEP_WORK is set (to look at a failure).
remote_cleanup() {
	local name s
	for name in "${!WORKER_PID[@]}"; do kill -KILL "${WORKER_PID[$name]}" 2>/dev/null; done
	wait 2>/dev/null
	for s in "${SETTINGS_CHANGED[@]}"; do q "ALTER SYSTEM RESET $s" >/dev/null; done
	q "SELECT pg_reload_conf()" >/dev/null
	q "SELECT count(paperclip.cancel_run(id)) FROM paperclip.heartbeat_runs
	   WHERE status IN ('queued', 'running', 'scheduled_retry')
	     AND company_id IN (SELECT id FROM paperclip.companies WHERE name LIKE '$(basename "$0")%')" >/dev/null
	for s in "${WORKER_ROLES[@]}"; do
		q "DELETE FROM paperclip.company_roles WHERE role_id::text = '$s'; DROP ROLE IF EXISTS $s" >/dev/null
	done
	if [ "$tap_failed" -gt 0 ]; then
		for f in "$WORK"/*.log; do [ -e "$f" ] && sed "s|^|# $(basename "$f"): |" "$f" | tail -n 60 >&2; done
	fi
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
