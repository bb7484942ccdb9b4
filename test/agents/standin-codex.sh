#!/usr/bin/env bash
# STAND-IN for OpenAI's `codex` CLI (not the real CLI; see standin-lib.sh).
# Takes `exec --json ... (resume <id> -|-)`; prints JSON lines for the
# scenario in $STANDIN_SCENARIO:
#   success          thread.started, agent messages, turn.completed with usage
#   unknown-session  resuming: "no rollout found for thread id"; fresh: success
#   usage-limit      "usage limit ... try again at 3:45 PM", turn.failed, exit 1
# The fresh thread id is $STANDIN_NEW_SESSION (default codex-thread-1).
. "$(dirname "$0")/standin-lib.sh"
standin_record "$@"
resume=
while [ $# -gt 0 ]; do
	[ "$1" = resume ] && { resume=$2; shift; }
	shift
done
session=${resume:-${STANDIN_NEW_SESSION:-codex-thread-1}}
case ${STANDIN_SCENARIO:-success} in
success) play codex-success.jsonl "$session" ;;
unknown-session)
	if [ -n "$resume" ]; then
		play codex-unknown-session.stderr "$resume" >&2
		exit 1
	fi
	play codex-success.jsonl "$session" ;;
usage-limit) play codex-usage-limit.jsonl "$session"; exit 1 ;;
*) echo "standin-codex: unknown scenario $STANDIN_SCENARIO" >&2; exit 3 ;;
esac
