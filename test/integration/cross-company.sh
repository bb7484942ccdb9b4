#!/usr/bin/env bash
# Threat model point 1 (quality-bar.md), tried between companies: every
# company's agents run as the same OS user (paperclip.agent_os_user), so
# whatever they share by path is shared between companies. A hostile agent
# of company A plants what a coding agent of company B would read (its
# home's dot files: ~/.claude/settings.json hooks, shell start-up files),
# and leaves files in /dev/shm and a System V shared memory segment; then
# an agent of company B looks for them, and for the temporary files of A's
# run. None may reach B; a later run of A still finds its own home.
. "$(dirname "$0")/lib.bash"
launcher_db
COMPANY_B=$(q "INSERT INTO paperclip.companies (name) VALUES ('$(basename "$0") B') RETURNING id")
shm_ids=()
home=$(q "SHOW paperclip.agent_home_directory")
mark="pc-it-$$-$RANDOM"
tmpfile=
# what the agents leave, wherever they could leave it
cleanup() {
	local id
	for id in "${shm_ids[@]}"; do ipcrm -m "$id" 2>/dev/null; done
	grep -qs "$mark" "$home/.claude/settings.json" && rm -f "$home/.claude/settings.json"
	rmdir "$home/.claude" 2>/dev/null
	rm -rf "$home/.profile-$mark" "/dev/shm/$mark" "$home/companies/$COMPANY" "$home/companies/$COMPANY_B"
	case "$tmpfile" in /tmp/*) rm -f "$tmpfile" ;; esac
	rm -rf "$WORK"
}
trap cleanup EXIT
field() { q "SELECT $2 FROM paperclip.heartbeat_runs WHERE id = '$1'"; }

cluster_pwfile=
[ -n "${PC_PGDATA:-}" ] && [ -e "$(dirname "$PC_PGDATA")/pwfile" ] && cluster_pwfile=$(dirname "$PC_PGDATA")/pwfile
# company A's agent: plants, and says where
cat >"$WORK/plant.sh" <<AGENT
#!/bin/sh
mkdir -p "\$HOME/.claude" && echo '{"hooks":{"planted":"$mark"}}' > "\$HOME/.claude/settings.json"
echo "$mark" > "\$HOME/.profile-$mark"
echo "$mark" > "/dev/shm/$mark" 2>/dev/null
t=\$(mktemp) && echo "$mark" > "\$t" && echo "tmpfile: \$t"
ipcmk -M 4096 -p 0600 >/dev/null 2>&1 && echo "sysv: made"
echo "home: \$HOME"
# the password of the test cluster's superuser (test/with-cluster.sh)
[ -n "$cluster_pwfile" ] && { cat "$cluster_pwfile" >/dev/null 2>&1 && echo "pwfile: READ" || echo "pwfile: refused"; }
exit 0
AGENT
# company B's agent: looks for what A left; \$1 the temporary file A made
cat >"$WORK/look.sh" <<AGENT
#!/bin/sh
seen() { if [ -e "\$2" ] && grep -q "$mark" "\$2" 2>/dev/null; then echo "\$1: SEEN"; else echo "\$1: not seen"; fi; }
seen settings "\$HOME/.claude/settings.json"
seen profile "\$HOME/.profile-$mark"
seen shm "/dev/shm/$mark"
seen tmpfile "\$1"
if awk -v u="\$(id -u)" 'NR > 1 && \$8 == u { found = 1 } END { exit !found }' /proc/sysvipc/shm; then echo "sysv: SEEN"; else echo "sysv: not seen"; fi
echo "home: \$HOME"
exit 0
AGENT
chmod 755 "$WORK/plant.sh" "$WORK/look.sh"

agent_segments() { awk -v u="$(id -u "$(q "SHOW paperclip.agent_os_user")")" 'NR > 1 && $8 == u { print $2 }' /proc/sysvipc/shm | sort; }
segments_before=$(agent_segments)
a=$(agent planter "{\"command\":\"$WORK/plant.sh\"}")
r=$(enqueue "$a")
ok $(wait_finished "$r" 30; echo $?) "company A's agent ran"
out=$(field "$r" stdout_excerpt)
is "$(field "$r" "status || ' ' || exit_code")" "succeeded 0" "and planted its files"
tmpfile=$(sed -n 's/^tmpfile: //p' <<< "$out")
is "$(sed -n 's/^sysv: //p' <<< "$out")" made "and a System V shared memory segment"
# the agents' segments the host has now that it had not before: A's, were it left there
for id in $(comm -13 <(echo "$segments_before") <(agent_segments)); do shm_ids+=("$id"); done
is "$(sed -n 's/^home: //p' <<< "$out")" "$home" "its HOME is paperclip.agent_home_directory"
if [ -n "$cluster_pwfile" ]; then
	is "$(sed -n 's/^pwfile: //p' <<< "$out")" refused "it cannot read the test cluster's superuser password"
fi

b=$(q "INSERT INTO paperclip.agents (company_id, name, adapter_config)
       VALUES ('$COMPANY_B', 'looker', '{\"command\":\"$WORK/look.sh\",\"args\":[\"$tmpfile\"]}') RETURNING id")
r=$(enqueue "$b")
ok $(wait_finished "$r" 30; echo $?) "company B's agent ran"
out=$(field "$r" stdout_excerpt)
is "$(sed -n 's/^home: //p' <<< "$out")" "$home" "with the same HOME path"
for what in settings profile; do
	is "$(sed -n "s/^$what: //p" <<< "$out")" "not seen" "B does not see what A planted in its home ($what)"
done
is "$(sed -n 's/^shm: //p' <<< "$out")" "not seen" "nor A's file in /dev/shm"
is "$(sed -n 's/^tmpfile: //p' <<< "$out")" "not seen" "nor A's temporary file (mktemp)"
is "$(sed -n 's/^sysv: //p' <<< "$out")" "not seen" "nor A's System V shared memory segment"
is "${#shm_ids[@]}" 0 "which did not outlive A's run either"

# A's next run still has its home (sessions, logins)
cat >"$WORK/again.sh" <<AGENT
#!/bin/sh
grep -q "$mark" "\$HOME/.claude/settings.json" && echo "own: kept"
exit 0
AGENT
chmod 755 "$WORK/again.sh"
r=$(enqueue "$(agent again "{\"command\":\"$WORK/again.sh\"}")")
ok $(wait_finished "$r" 30; echo $?) "another agent of company A ran"
ok $(grep -q '^own: kept$' <<< "$(field "$r" stdout_excerpt)"; echo $?) "and finds its company's home as A left it"

done_testing
