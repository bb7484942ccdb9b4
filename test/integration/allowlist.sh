#!/usr/bin/env bash
# paperclip.allowed_commands, enforced by the runner: a command outside the
# list is refused before it runs, with a clear error and a failed run; paths
# are compared after symbolic links and ".." are resolved.
. "$(dirname "$0")/lib.bash"
launcher_db
restore() {
	q "ALTER SYSTEM RESET paperclip.allowed_commands" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
	rm -rf "$WORK"
}
trap restore EXIT
mkdir -p "$WORK/allowed"
chmod 755 "$WORK/allowed"
printf '#!/bin/sh\necho allowed\n' >"$WORK/allowed/ok.sh"
printf '#!/bin/sh\necho "ran outside" > %s/ran\n' "$WORK" >"$WORK/outside.sh"
chmod 755 "$WORK/allowed/ok.sh" "$WORK/outside.sh"
ln -s "$WORK/outside.sh" "$WORK/allowed/link.sh"
q "ALTER SYSTEM SET paperclip.allowed_commands = '$WORK/allowed, /usr/bin/true'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
# the launcher reads the new setting on its next loop
ok $(wait_for 10 "SELECT current_setting('paperclip.allowed_commands') LIKE '%/allowed%'"; echo $?) "the allowlist is set"

run_of() {	# run_of <name> <command>: a run of a new agent with that command, once finished
	local a r
	a=$(agent "$1" "{\"command\":\"$2\"}")
	r=$(enqueue "$a")
	wait_finished "$r" >/dev/null
	echo "$r"
}
r=$(run_of inside "$WORK/allowed/ok.sh")
is "$(run_status "$r")" succeeded "a command inside an allowed directory runs"
r=$(run_of exact /bin/true)
is "$(run_status "$r")" succeeded "an allowed executable runs (/bin/true is /usr/bin/true)"
r=$(run_of outside "$WORK/outside.sh")
is "$(q "SELECT status || ' ' || error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" "failed command_not_allowed" \
	"a command outside the list fails the run with command_not_allowed"
is "$(q "SELECT error FROM paperclip.heartbeat_runs WHERE id = '$r'")" \
	"command is not in paperclip.allowed_commands: $WORK/outside.sh" "the error names the command and the setting"
r=$(run_of dotdot "$WORK/allowed/../outside.sh")
is "$(q "SELECT error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" command_not_allowed "a .. escape is refused"
r=$(run_of link "$WORK/allowed/link.sh")
is "$(q "SELECT error_code FROM paperclip.heartbeat_runs WHERE id = '$r'")" command_not_allowed "a symbolic link out of the directory is refused"
ok $([ ! -e "$WORK/ran" ]; echo $?) "no refused command ever ran"
is "$(q "SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '$COMPANY' AND status IN ('queued', 'running')")" 0 \
	"no run is left active"
done_testing
