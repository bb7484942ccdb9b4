#!/bin/sh
# A sample agent for `make demo`: it does a little "work", then reports usage,
# cost and a session through the result protocol (PAPERCLIP_RESULT_FILE).
echo "demo agent: run $PAPERCLIP_RUN_ID for agent $PAPERCLIP_AGENT_ID"
echo "demo agent: woken because: ${PAPERCLIP_WAKE_REASON:-unspecified}; task ${PAPERCLIP_TASK_ID:-none}"
echo "demo agent: previous session: ${PAPERCLIP_SESSION_ID:-none}"
echo "demo agent: thinking..." >&2
cat > "$PAPERCLIP_RESULT_FILE" <<JSON
{"usage": {"inputTokens": 1200, "outputTokens": 340, "cachedInputTokens": 800},
 "costUsd": 0.0123, "sessionId": "demo-session-1", "provider": "anthropic",
 "model": "claude-demo", "resultJson": {"summary": "Looked at the task and wrote a plan."}}
JSON
echo "demo agent: done"
