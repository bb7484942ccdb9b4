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

-- issue 10: agents isolated from the server. Running a program on the
-- server takes PostgreSQL's own privilege for that: writing an adapter_config
-- that runs one (process, the CLI adapters) needs superuser or the privileges
-- of pg_execute_server_program, as COPY ... PROGRAM does, unless its command
-- resolves inside paperclip.allowed_commands. (The env rules of the same
-- issue live in adapter_config_valid, the CHECK of agents.adapter_config.)
CREATE FUNCTION paperclip.adapter_config_guard()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'paperclip_adapter_config_guard';
COMMENT ON FUNCTION paperclip.adapter_config_guard() IS
    'Trigger of paperclip.agents: an adapter_config that makes the server run a program needs superuser or pg_execute_server_program, unless its command resolves inside paperclip.allowed_commands (42501)';
REVOKE ALL ON FUNCTION paperclip.adapter_config_guard() FROM PUBLIC;

CREATE TRIGGER agents_adapter_config_privilege
    BEFORE INSERT OR UPDATE OF adapter_type, adapter_config ON paperclip.agents
    FOR EACH ROW EXECUTE FUNCTION paperclip.adapter_config_guard();
COMMENT ON TRIGGER agents_adapter_config_privilege ON paperclip.agents IS
    'Who may make an agent run a program on the database server: see paperclip.adapter_config_guard()';
