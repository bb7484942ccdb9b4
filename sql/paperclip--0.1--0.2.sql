-- paperclip 0.1 -> 0.2. A fresh CREATE EXTENSION runs paperclip--0.1.sql and
-- then this script, so installs and upgrades end in the same schema (the
-- upgrade test compares their pg_dump --schema-only).

\echo Use "ALTER EXTENSION paperclip UPDATE TO '0.2'" to load this file. \quit

-- issue 12: coding-agent CLI adapters (claude_local, codex_local, cli) and
-- the session they resume
ALTER TABLE paperclip.agents
    DROP CONSTRAINT agents_adapter_type_check,
    ADD CONSTRAINT agents_adapter_type_check
        CHECK (adapter_type IN ('process', 'http', 'claude_local', 'codex_local', 'cli'));
COMMENT ON COLUMN paperclip.agents.adapter_type IS
    'How the runner runs the agent: process (a program), http (a request), claude_local (Claude Code), codex_local (Codex), cli (a coding-agent CLI described in adapter_config).';

ALTER TABLE paperclip.agent_runtime_state
    ADD COLUMN session_params jsonb
        CONSTRAINT agent_runtime_state_session_params_check
        CHECK (session_params IS NULL OR jsonb_typeof(session_params) = 'object');
COMMENT ON COLUMN paperclip.agent_runtime_state.session_params IS
    'The CLI adapters'' saved session ({"sessionId", "cwd", ...}), next to session_id: a run resumes it only when its cwd is empty or the run''s own. Replaced by a result''s sessionParams when the key is present (null clears it), cleared with clearSession.';

-- ---------------------------------------------------------------------------
-- issue 13: deferred wakes and follow-up runs, merged context on coalesce,
-- no timer wakes for agents in error, retry rules of today's Paperclip,
-- list_runs in pages
-- ---------------------------------------------------------------------------

-- The status vocabulary of wakeup requests has one home, src/run_state.h;
-- the CHECK reads it from there. It gains "deferred": a wake with news held
-- for the follow-up of the agent's running run.
CREATE FUNCTION paperclip.wakeup_request_statuses()
RETURNS text[]
AS 'MODULE_PATHNAME', 'paperclip_wakeup_request_statuses'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.wakeup_request_statuses()
    IS 'the statuses an agent_wakeup_requests row may have (the vocabulary its CHECK reads)';

ALTER TABLE paperclip.agent_wakeup_requests
    DROP CONSTRAINT agent_wakeup_requests_status_check,
    ADD CONSTRAINT agent_wakeup_requests_status_check
        CHECK (status OPERATOR(pg_catalog.=) ANY (paperclip.wakeup_request_statuses()));

-- What a deferred wake said: merged into the follow-up's context when its run ends.
ALTER TABLE paperclip.agent_wakeup_requests ADD COLUMN context_snapshot jsonb;
COMMENT ON COLUMN paperclip.agent_wakeup_requests.context_snapshot
    IS 'the context of a deferred wake, merged into its follow-up run''s context (null for other requests)';

-- Contexts of wakes: news for a running run, and merging into one run's context.
CREATE FUNCTION paperclip.wake_has_news(context jsonb, run_context jsonb)
RETURNS bool
AS 'MODULE_PATHNAME', 'paperclip_wake_has_news'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.wake_has_news(jsonb, jsonb)
    IS 'whether a wake''s context names a comment, an issue or an approval the run''s context has not seen (such a wake is deferred while the run runs)';

CREATE FUNCTION paperclip.wake_context_merge(existing jsonb, incoming jsonb,
                                             incoming_reason text DEFAULT NULL,
                                             existing_reason text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'paperclip_wake_context_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.wake_context_merge(jsonb, jsonb, text, text)
    IS 'a run''s context with a wake''s merged in: wakeCommentIds in arrival order without duplicates (wakeCommentId the latest), issueIds united, wakeReasons appended, the run''s issueId and taskId kept, other keys the wake''s';

CREATE FUNCTION paperclip.wake_context_accum(state jsonb, context jsonb, reason text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'paperclip_wake_context_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.wake_context_accum(jsonb, jsonb, text)
    IS 'transition function of paperclip.wake_context_agg';

CREATE AGGREGATE paperclip.wake_context_agg(context jsonb, reason text) (
    SFUNC = paperclip.wake_context_accum,
    STYPE = jsonb
);
COMMENT ON AGGREGATE paperclip.wake_context_agg(jsonb, text)
    IS 'the contexts of wakes (with their requests'' reasons) merged in the aggregate''s order, as a follow-up run gets them';

-- Agents in error get no timer wakes: no deadline (tick_timers reads only
-- agents due, through the timer_due_at index). A new C function, so that a
-- database still at 0.1 keeps the old meaning of its stored column; the
-- column of agents in error is recomputed.
CREATE OR REPLACE FUNCTION paperclip.timer_due_at(status text, runtime_config jsonb,
                                                  last_heartbeat_at timestamptz)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'paperclip_timer_due_at_v2'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.timer_due_at(text, jsonb, timestamptz)
    IS 'when an agent''s interval timer is next due: null without a timer (paused, terminated, in error, disabled, intervalSec <= 0), -infinity if it never beat';
UPDATE paperclip.agents SET status = status WHERE status = 'error' AND timer_due_at IS NOT NULL;

COMMENT ON FUNCTION paperclip.promote_due_retries(timestamptz)
    IS 'queue the scheduled retries due at "now" whose agent has no active run (those of an issue cancelled, done or reassigned end cancelled); returns how many were queued';

-- list_runs pages, newest first. The 0.1 signature (company_id, agent_id)
-- is replaced by one with defaults: callers by position and by name keep
-- working (they get the first 200 runs).
DROP FUNCTION paperclip.list_runs(uuid, uuid);
CREATE FUNCTION paperclip.list_runs(company_id uuid, agent_id uuid DEFAULT NULL,
                                    "limit" int DEFAULT 200, before_run_id uuid DEFAULT NULL)
RETURNS SETOF paperclip.heartbeat_runs
AS 'MODULE_PATHNAME', 'paperclip_list_runs'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.list_runs(uuid, uuid, int, uuid)
    IS 'runs of a company (or one agent), newest first: at most "limit" (1..1000) older than before_run_id, the last run of the previous page';

REVOKE ALL ON FUNCTION
    paperclip.wakeup_request_statuses(),
    paperclip.wake_has_news(jsonb, jsonb),
    paperclip.wake_context_merge(jsonb, jsonb, text, text),
    paperclip.wake_context_accum(jsonb, jsonb, text),
    paperclip.wake_context_agg(jsonb, text),
    paperclip.list_runs(uuid, uuid, int, uuid)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    paperclip.wakeup_request_statuses(),
    paperclip.wake_has_news(jsonb, jsonb),
    paperclip.wake_context_merge(jsonb, jsonb, text, text),
    paperclip.wake_context_accum(jsonb, jsonb, text),
    paperclip.wake_context_agg(jsonb, text),
    paperclip.list_runs(uuid, uuid, int, uuid)
TO paperclip_reader;
