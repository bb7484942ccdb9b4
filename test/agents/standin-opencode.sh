#!/usr/bin/env bash
# STAND-IN for `opencode run --format json` (not the real CLI; see
# standin-lib.sh). Takes `--session <id>`, the prompt as last argument;
# prints JSON lines for the scenario in $STANDIN_SCENARIO:
#   success   steps with text, tokens and cost
#   error     an error line (rate limit, "try again in 20 minutes"), exit 1
# The fresh session id is $STANDIN_NEW_SESSION (default ses_standin1).
. "$(dirname "$0")/standin-lib.sh"
standin_record "$@"
resume=
while [ $# -gt 0 ]; do
	[ "$1" = --session ] && { resume=$2; shift; }
	shift
done
session=${resume:-${STANDIN_NEW_SESSION:-ses_standin1}}
case ${STANDIN_SCENARIO:-success} in
success) play opencode-success.jsonl "$session" ;;
error) play opencode-error.jsonl "$session"; exit 1 ;;
*) echo "standin-opencode: unknown scenario $STANDIN_SCENARIO" >&2; exit 3 ;;
esac
