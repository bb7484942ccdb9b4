#!/usr/bin/env bash
# Threat model points 1 and 4 (quality-bar.md): the runner reads a CLI
# agent's instructionsFilePath itself, as the server's OS user, and reads for
# the agent only what any user could. It checked the path, then opened it:
# an agent that swaps a directory of the path for a symbolic link in
# between (a race it can run as often as it likes, from another run) had
# the runner open a file only the server may read (the data directory,
# another company's run log) and put it in the agent's prompt. The race is
# made deterministic here: a shim preloaded into a copy of the runner (no
# capabilities, no isolation: the read is the runner's either way) swaps
# the directory right after the path was resolved.
. "$(dirname "$0")/lib.bash"
WORK=$(mktemp -d /tmp/paperclip-it.XXXXXX)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
chmod 755 "$WORK"
pgdata=$(psql -X -A -t -q -c "SHOW data_directory")
server_user=$(stat -c %U "$pgdata")
runner=$(pg_config --pkglibdir)/paperclip_runner

# the agent's directory (a decoy anyone may read) and what only the server may read
mkdir -p "$WORK/race/d" "$WORK/secret" "$WORK/out"
echo "decoy instructions" >"$WORK/race/d/AGENTS.md"
echo "SERVER-ONLY SECRET" >"$WORK/secret/AGENTS.md"
chmod -R a+rX "$WORK/race"
# (here the runner's shim makes the swap: the directory is its user's)
chown -R "$server_user" "$WORK/race" "$WORK/secret" "$WORK/out"
chmod 700 "$WORK/secret" && chmod 600 "$WORK/secret/AGENTS.md"

# the swap, at the runner's first open after it resolved the path
cat >"$WORK/swap.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static int armed;
static void swap(void) {
	const char *w = getenv("RACE_DIR");
	char d[4096], keep[4096], secret[4096];
	if (!armed || !w) return;
	armed = 0;
	snprintf(d, sizeof d, "%s/race/d", w);
	snprintf(keep, sizeof keep, "%s/race/kept", w);
	snprintf(secret, sizeof secret, "%s/secret", w);
	rename(d, keep);
	symlink(secret, d);
}
char *realpath(const char *p, char *out) {
	char *(*real)(const char *, char *) = dlsym(RTLD_NEXT, "realpath");
	const char *w = getenv("RACE_DIR");
	if (w && strncmp(p, w, strlen(w)) == 0 && strstr(p, "/race/")) armed = 1;
	return real(p, out);
}
int open(const char *p, int flags, ...) {
	int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, "open");
	va_list ap; int mode;
	va_start(ap, flags); mode = va_arg(ap, int); va_end(ap);
	swap();
	return real(p, flags, mode);
}
int open64(const char *p, int flags, ...) {
	int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, "open64");
	va_list ap; int mode;
	va_start(ap, flags); mode = va_arg(ap, int); va_end(ap);
	swap();
	return real(p, flags, mode);
}
int openat(int dir, const char *p, int flags, ...) {
	int (*real)(int, const char *, int, ...) = dlsym(RTLD_NEXT, "openat");
	va_list ap; int mode;
	va_start(ap, flags); mode = va_arg(ap, int); va_end(ap);
	swap();
	return real(dir, p, flags, mode);
}
C
if ! cc -shared -fPIC -o "$WORK/swap.so" "$WORK/swap.c" -ldl 2>"$WORK/cc.log"; then
	echo "1..0 # skip no C compiler for the shim: $(head -n 1 "$WORK/cc.log")"
	exit 0
fi
cp "$runner" "$WORK/runner" && chmod 755 "$WORK/runner" "$WORK/swap.so"	# a copy: no capabilities

spec="{\"runId\":\"r1\",\"agentId\":\"a1\",\"companyId\":\"c1\",\"adapterType\":\"cli\",
  \"config\":{\"command\":\"/bin/cat\",\"parser\":\"codex-jsonl\",\"instructionsFilePath\":\"$WORK/race/d/AGENTS.md\"},
  \"context\":{},\"logPath\":\"$WORK/out/log\",\"spoolPath\":\"$WORK/out/r1.json\",\"agentIsolation\":false}"
printf '%s\nstart\n' "$(tr -d '\n' <<<"$spec")" |
	runuser -u "$server_user" -- env RACE_DIR="$WORK" LD_PRELOAD="$WORK/swap.so" "$WORK/runner" >"$WORK/frames" 2>&1
ok $([ -L "$WORK/race/d" ]; echo $?) "the agent's directory was swapped for a symbolic link while the runner read the path"
log=$(cat "$WORK/out/log" 2>/dev/null)
ok $(! grep -q 'SERVER-ONLY SECRET' <<<"$log"; echo $?) "the runner does not follow it: the server's file is not in the prompt"
ok $(grep -q 'instructions file .* not read: a symbolic link appeared in its path' <<<"$log"; echo $?) \
	"the run log says the instructions file was not read, and why"

done_testing
