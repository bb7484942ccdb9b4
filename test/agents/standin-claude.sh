#!/usr/bin/env bash
# STAND-IN for Claude Code's `claude` CLI (not the real CLI; see
# standin-lib.sh). Takes `--resume <id>`; prints stream-json for the
# scenario in $STANDIN_SCENARIO:
#   success                 init, assistant text, result with usage and cost
#   unknown-session         resuming: "No conversation found with session ID"; fresh: success
#   unknown-session-broken  resuming: unknown session; fresh: fails without any session
#   not-logged-in           "Invalid API key · Please run /login", exit 1
#   max-turns               result subtype error_max_turns, exit 1
#   overloaded              API Error 529 with "resets 4pm (UTC)", exit 1
#   banner                  non-JSON lines around the JSON ones
#   big-line                a result line of 1 MB
#   cut                     init, then half a line, then hangs until killed
#   replay                  the file $STANDIN_REPLAY as it is (benchmarks)
# The fresh session id is $STANDIN_NEW_SESSION (default claude-session-1).
. "$(dirname "$0")/standin-lib.sh"
standin_record "$@"
resume=
while [ $# -gt 0 ]; do
	[ "$1" = --resume ] && { resume=$2; shift; }
	shift
done
session=${resume:-${STANDIN_NEW_SESSION:-claude-session-1}}
case ${STANDIN_SCENARIO:-success} in
success) play claude-success.jsonl "$session" ;;
unknown-session | unknown-session-broken)
	if [ -n "$resume" ]; then
		play claude-unknown-session.stderr "$resume" >&2
		exit 1
	fi
	if [ "$STANDIN_SCENARIO" = unknown-session-broken ]; then
		echo "fatal: cannot start a session" >&2
		exit 2
	fi
	play claude-success.jsonl "$session" ;;
not-logged-in) play claude-not-logged-in.jsonl "$session"; exit 1 ;;
max-turns) play claude-max-turns.jsonl "$session"; exit 1 ;;
overloaded) play claude-overloaded.jsonl "$session"; exit 1 ;;
banner) play claude-banner.jsonl "$session" ;;
big-line)
	printf '{"type":"system","subtype":"init","session_id":"%s","model":"claude-sonnet-4-5"}\n' "$session"
	printf '{"type":"result","subtype":"success","is_error":false,"session_id":"%s","total_cost_usd":0.001,' "$session"
	printf '"usage":{"input_tokens":7,"cache_read_input_tokens":0,"output_tokens":1048576},"result":"'
	head -c 1048576 /dev/zero | tr '\0' 'y'
	printf '"}\n' ;;
cut)
	printf '{"type":"system","subtype":"init","session_id":"%s","model":"claude-sonnet-4-5"}\n' "$session"
	printf '{"type":"assistant","message":{"content":[{"type":"te'
	exec sleep 300 ;;
replay) cat "$STANDIN_REPLAY" ;;
*) echo "standin-claude: unknown scenario $STANDIN_SCENARIO" >&2; exit 3 ;;
esac
