# Shared by the stand-in CLIs (standin-*.sh): NOT real coding-agent CLIs, but
# scripts that behave like them for the tests. Each records how it was run
# -- argv (NUL-separated), stdin and environment -- as argv.N, stdin.N and
# env.N in $STANDIN_RECORD_DIR (N counts the invocations), then prints the
# recorded output (test/agents/recorded) of the scenario $STANDIN_SCENARIO.
here=$(cd "$(dirname "$0")" && pwd)
recorded=$here/recorded

standin_record() {
	local dir=${STANDIN_RECORD_DIR:-} n
	if [ -z "$dir" ]; then
		cat >/dev/null
		return
	fi
	n=$(find "$dir" -maxdepth 1 -name 'argv.*' | wc -l)
	n=$((n + 1))
	printf '%s\0' "$@" >"$dir/argv.$n"
	cat >"$dir/stdin.$n"
	env | sort >"$dir/env.$n"
}

# play <file> <session>: a recording with its session id
play() { sed "s/@SESSION@/$2/g" "$recorded/$1"; }
