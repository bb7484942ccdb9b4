/*-------------------------------------------------------------------------
 * protocol.h
 *	  The protocol between the launcher (inside Postgres) and
 *	  paperclip_runner (outside it). Shared by both sides; includes nothing
 *	  of the backend. paperclip_worker (src/worker/) speaks it too, to the
 *	  runners it starts on its own machine ("launcher" below is either).
 *
 *	  The runner's stdin and stdout are one end of a socket pair (one
 *	  descriptor in the launcher for each runner); paperclip_worker gives
 *	  its runners a pipe each way.
 *
 *	  launcher -> runner, on the runner's stdin:
 *	    line 1: the run spec, one JSON object (keys PC_SPEC_*)
 *	    line 2: "start" once the launcher has committed the runner's pid.
 *	    EOF before "start": the claim did not commit; the runner exits
 *	    without running anything.
 *
 *	  runner -> launcher, on the runner's stdout: one JSON object a line,
 *	  "type" one of PC_FRAME_*:
 *	    {"type":"log","stream":"stdout"|"stderr","offset":N,"bytes":M}
 *	                                      a record of the run log was written:
 *	                                      N where it starts, M its length
 *	                                      (content-free: the launcher copies
 *	                                      the log from the file, logPath)
 *	    {"type":"log_capped","bytes":N}   records no longer announced; the
 *	                                      log keeps them
 *	    {"type":"meta","meta":{...}}      what was invoked (no secret values)
 *	    {"type":"spawned","pid":N,"startTicks":T}
 *	                                      the agent started; N is the pid, as
 *	                                      the host sees it, of the run's top
 *	                                      process (with isolation: its pid
 *	                                      namespace's init) and process group,
 *	                                      T field 22 of /proc/N/stat (start
 *	                                      time in clock ticks since boot). The
 *	                                      launcher kills the group (its runner
 *	                                      lost) only while /proc still shows
 *	                                      that start time, and N in its
 *	                                      runner's session (the runner leads
 *	                                      one) or the init of a pid namespace
 *	    {"type":"warning","message":text,"payload":{...}}
 *	                                      something the launcher records as a
 *	                                      lifecycle warning (log truncated at
 *	                                      maxLogBytes, result file refused)
 *	    {"type":"result","result":{...}}  the adapter result, last frame
 *	  Chunks are valid UTF-8 without NUL (bad bytes become U+FFFD).
 *
 *	  After the result frame the runner waits for "ack" on stdin: the
 *	  launcher sends it once finalize_run has committed. Without the ack
 *	  (EOF: the launcher is gone; or PC_ACK_TIMEOUT_MS) the runner writes the
 *	  result to the spool file (temp file, rename) before it exits, so the
 *	  result survives the launcher and the server and is finalized by
 *	  reconciliation (finalizing twice is a no-op).
 *	  The result carries, besides the adapter result keys of adapters.md,
 *	  stdoutExcerpt, stderrExcerpt (tails, at most PC_EXCERPT_BYTES each),
 *	  logBytes and logSha256 (of the log file, when anything was written).
 *
 *	  The run log file (logPath) is the launcher's spool log,
 *	  <spool>/<run_id>.log (paperclip.log_store = db: the launcher copies it
 *	  into paperclip.run_log_chunks while the run goes on and when it is
 *	  finalized, then removes it), or the log itself in a file store.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_PROTOCOL_H
#define PAPERCLIP_PROTOCOL_H

#define PC_RUNNER_NAME "paperclip_runner"
#define PC_START_LINE "start"
#define PC_ACK_LINE "ack"
#define PC_ACK_TIMEOUT_MS 30000

/* spec keys */
#define PC_SPEC_RUN_ID "runId"
#define PC_SPEC_AGENT_ID "agentId"
#define PC_SPEC_COMPANY_ID "companyId"
#define PC_SPEC_ADAPTER_TYPE "adapterType"
#define PC_SPEC_CONFIG "config"
#define PC_SPEC_CONTEXT "context"
#define PC_SPEC_SESSION_ID "sessionId"
#define PC_SPEC_WAKE_REASON "wakeReason"
#define PC_SPEC_LOG_PATH "logPath"
#define PC_SPEC_SPOOL_PATH "spoolPath"
#define PC_SPEC_RESULT_FILE "resultFilePath"
#define PC_SPEC_ALLOWED_COMMANDS "allowedCommands"
#define PC_SPEC_ALLOWED_HOSTS "allowedHttpHosts"
#define PC_SPEC_HTTP_ALLOW_PRIVATE "httpAllowPrivateNetworks"	/* bool; absent: off */
#define PC_SPEC_MAX_LIVE_LOG "maxLiveLogBytes"
#define PC_SPEC_MAX_LOG_BYTES "maxLogBytes"
#define PC_SPEC_AGENT_ISOLATION "agentIsolation"	/* bool; absent: on */
#define PC_SPEC_AGENT_OS_USER "agentOsUser"
#define PC_SPEC_AGENT_HOME "agentHome"
#define PC_SPEC_AGENT_MAX_PROCESSES "agentMaxProcesses"	/* RLIMIT_NPROC of a run; 0: none */
#define PC_SPEC_SESSION_PARAMS "sessionParams"	/* the agent's saved session_params */
#define PC_SPEC_AGENT_NAME "agentName"
#define PC_SPEC_RUN_SOURCE "runSource"	/* invocation_source */
#define PC_SPEC_STOP_WITH_PARENT "stopWithParent"	/* bool: paperclip_worker's
														 * runners stop their run
														 * when the worker dies */

/* adapter types (agents.adapter_type; the SQL CHECK lists the same) */
#define PC_ADAPTER_PROCESS "process"
#define PC_ADAPTER_HTTP "http"
#define PC_ADAPTER_CLAUDE "claude_local"
#define PC_ADAPTER_CODEX "codex_local"
#define PC_ADAPTER_CLI "cli"

/* parsers of coding-agent CLI output (the "parser" of a cli adapter_config) */
#define PC_CLI_PARSER_CLAUDE "claude-stream-json"
#define PC_CLI_PARSER_CODEX "codex-jsonl"
#define PC_CLI_PARSER_OPENCODE "opencode-jsonl"
#define PC_CLI_PARSER_GEMINI "gemini-stream-json"
#define PC_CLI_PARSERS_LIST \
	PC_CLI_PARSER_CLAUDE, PC_CLI_PARSER_CODEX, PC_CLI_PARSER_OPENCODE, PC_CLI_PARSER_GEMINI
#define PC_CLI_PARSER_NAMES \
	PC_CLI_PARSER_CLAUDE ", " PC_CLI_PARSER_CODEX ", " PC_CLI_PARSER_OPENCODE ", " PC_CLI_PARSER_GEMINI

/* frame types */
#define PC_FRAME_LOG "log"
#define PC_FRAME_LOG_CAPPED "log_capped"
#define PC_FRAME_META "meta"
#define PC_FRAME_SPAWNED "spawned"
#define PC_FRAME_RESULT "result"
#define PC_FRAME_WARNING "warning"

/* limits */
#define PC_EXCERPT_BYTES (32 * 1024)	/* tail kept of stdout and of stderr */
#define PC_DEFAULT_MAX_LIVE_LOG (4 * 1024 * 1024)	/* bytes of records announced */
#define PC_RESULT_LINE_MAX (1024 * 1024)	/* longest stdout line read as a result */
#define PC_DEFAULT_GRACE_SEC 15
#define PC_HTTP_DEFAULT_TIMEOUT_SEC 30
#define PC_HTTP_MAX_RESPONSE (1024 * 1024)	/* default cap of a response body */
#define PC_HTTP_MAX_REDIRECTS 5
#define PC_HTTP_MAX_HEADER_BYTES (64 * 1024)	/* response headers read at most */
#define PC_RESULT_FILE_MAX (1024 * 1024)	/* largest result file read */
#define PC_CONTEXT_ENV_MAX (32 * 1024)	/* PAPERCLIP_CONTEXT only up to this */
#define PC_DEFAULT_MAX_LOG_BYTES (64LL * 1024 * 1024)

/* agents' OS user (paperclip.agent_os_user, agent_home_directory) */
#define PC_DEFAULT_AGENT_OS_USER "paperclip-agent"
#define PC_DEFAULT_AGENT_HOME "/var/lib/paperclip-agent"
/* processes (and threads) an isolated run may have at once (paperclip.agent_max_processes) */
#define PC_DEFAULT_AGENT_MAX_PROCESSES 4096
/* the runner switches only to OS users whose name starts with this */
#define PC_AGENT_OS_USER_PREFIX "paperclip"

/* error codes the runner reports */
#define PC_ERR_SPAWN "adapter_spawn_failed"
#define PC_ERR_CONFIG "adapter_config_invalid"
#define PC_ERR_BAD_RESULT "bad_result"
#define PC_ERR_CANCELLED "cancelled"
#define PC_ERR_NOT_ALLOWED "command_not_allowed"
#define PC_ERR_HOST_NOT_ALLOWED "http_host_not_allowed"
#define PC_ERR_HTTP_429 "http_429"
#define PC_ERR_HTTP_5XX "http_5xx"
#define PC_ERR_HTTP_4XX "http_4xx"
#define PC_ERR_HTTP_CONNECT "http_connect"
#define PC_ERR_HTTP_TOO_LARGE "http_response_too_large"
#define PC_ERR_HTTP "http_error"
#define PC_ERR_HTTP_REDIRECT_REFUSED "http_redirect_refused"
#define PC_ERR_HTTP_ADDRESS_REFUSED "http_address_refused"	/* loopback, private...: not retried */
#define PC_ERR_ISOLATION "agent_isolation_unavailable"
/* coding-agent CLI adapters (claude_local, codex_local, cli) */
#define PC_ERR_CLAUDE_AUTH "claude_auth_required"
#define PC_ERR_CODEX_AUTH "codex_auth_required"
#define PC_ERR_CLI_AUTH "cli_auth_required"
#define PC_ERR_MAX_TURNS "max_turns_exhausted"
#define PC_ERR_CLAUDE_TRANSIENT "claude_transient_upstream"
#define PC_ERR_CODEX_TRANSIENT "codex_transient_upstream"
#define PC_ERR_CLI_TRANSIENT "cli_transient_upstream"
#define PC_ERROR_FAMILY_TRANSIENT "transient_upstream"

/*
 * The error codes of a failed run that the scheduler retries (runs.c),
 * besides any result carrying "transient": true. Not before the result's
 * retryNotBefore.
 */
#define PC_TRANSIENT_ERROR_CODES \
	PC_ERR_PROCESS_LOST, PC_ERR_HTTP_429, PC_ERR_HTTP_5XX, PC_ERR_HTTP_CONNECT, \
	PC_ERR_CLAUDE_TRANSIENT, PC_ERR_CODEX_TRANSIENT, PC_ERR_CLI_TRANSIENT

/* error codes the launcher records for a run (no runner reported them) */
#define PC_ERR_PROCESS_LOST "process_lost"
#define PC_ERR_RUNNER_SPAWN "runner_spawn_failed"
#define PC_ERR_FINALIZE "finalize_error"
#define PC_ERR_BUDGET_BLOCKED "budget_blocked"

/*
 * paperclip_worker <-> the database (leases, src/leases.c). A worker holds a
 * lease on each run it claimed (paperclip.worker_lease long) and renews
 * them all in one statement every third of it. A result whose run the
 * worker no longer holds (its lease lapsed: the run was failed as
 * process_lost and retried; or another worker, or none, claimed it) is
 * refused with this SQLSTATE: the worker drops it and stops the run.
 */
#define PC_SQLSTATE_LEASE_LOST "PC001"

#endif
