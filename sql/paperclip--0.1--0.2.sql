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
-- issue 11 (workers): who a run's runner and agent are, so that the launcher
-- signals only processes it proves are the run's, and a database restored or
-- copied from another cluster never adopts that cluster's runners.
-- ---------------------------------------------------------------------------
ALTER TABLE paperclip.heartbeat_runs
    ADD COLUMN runner_start_ticks bigint,
    ADD COLUMN runner_system_identifier bigint,
    ADD COLUMN runner_postmaster_start timestamptz,
    ADD COLUMN agent_start_ticks bigint;
COMMENT ON COLUMN paperclip.heartbeat_runs.runner_start_ticks
    IS 'start time of the runner process in clock ticks since boot (field 22 of /proc/<runner_pid>/stat); the launcher signals the runner only while /proc still shows it';
COMMENT ON COLUMN paperclip.heartbeat_runs.runner_system_identifier
    IS 'system identifier of the cluster whose launcher started the runner (pg_control_system()); a runner of another cluster is never adopted nor signalled';
COMMENT ON COLUMN paperclip.heartbeat_runs.runner_postmaster_start
    IS 'start time of the postmaster whose launcher started the runner (pg_postmaster_start_time()); a runner started before a server restart is waited for but never signalled';
COMMENT ON COLUMN paperclip.heartbeat_runs.agent_start_ticks
    IS 'start time of the agent''s top process (agent_pid) in clock ticks since boot, as its runner reported it; the agent''s process group is killed only while /proc still shows it';
