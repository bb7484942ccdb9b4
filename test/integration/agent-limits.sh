#!/usr/bin/env bash
# Threat model point 1 (quality-bar.md): an agent reaches nothing that is
# not its run's, the server's capacity to start processes included. A fork
# bomb in an isolated run stops at paperclip.agent_max_processes (the run's
# RLIMIT_NPROC), instead of taking every process the host (and the server,
# which owns the run's namespaces) may have; the run still ends as it says.
. "$(dirname "$0")/lib.bash"
launcher_db
restore() {
	q "ALTER SYSTEM RESET paperclip.agent_max_processes" >/dev/null 2>&1
	q "SELECT pg_reload_conf()" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap restore EXIT
field() { q "SELECT $2 FROM paperclip.heartbeat_runs WHERE id = '$1'"; }
setting_is() { wait_for 10 "SELECT current_setting('$1') = '$2'"; }

cmd=$(script limit.sh 'echo "limit: $(awk '"'"'/^Max processes/ { print $3 }'"'"' /proc/self/limits)"')
r=$(enqueue "$(agent limit "{\"command\":\"$cmd\"}")")
ok $(wait_finished "$r" 30; echo $?) "an agent runs"
is "$(sed -n 's/^limit: //p' <<< "$(field "$r" stdout_excerpt)")" "$(q "SHOW paperclip.agent_max_processes")" \
	"its processes are limited to paperclip.agent_max_processes"

q "ALTER SYSTEM SET paperclip.agent_max_processes = 40" >/dev/null && q "SELECT pg_reload_conf()" >/dev/null
ok $(setting_is paperclip.agent_max_processes 40; echo $?) "paperclip.agent_max_processes = 40"
# a bounded fork bomb: 100 sleepers, counted, then ended
cat >"$WORK/bomb.py" <<'AGENT'
import os, signal, sys
children = []
for i in range(100):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        signal.pause()
        os._exit(0)
    children.append(pid)
print("started: %d" % len(children), flush=True)
for pid in children:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
sys.exit(6)
AGENT
cmd=/usr/bin/python3
r=$(enqueue "$(agent bomb "{\"command\":\"$cmd\",\"args\":[\"$WORK/bomb.py\"]}")")
ok $(wait_finished "$r" 30; echo $?) "an agent that forks without end finishes"
started=$(sed -n 's/^started: //p' <<< "$(field "$r" stdout_excerpt)")
ok $([ -n "$started" ] && [ "$started" -lt 40 ]; echo $?) "it could not have more than 40 processes ($started sleepers)"
is "$(field "$r" "status || ' ' || exit_code")" "failed 6" "and its run ends with its own exit code"

done_testing
