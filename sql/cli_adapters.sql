-- The coding-agent CLI adapters on the SQL side: their adapter types and
-- adapter_config keys (22023 naming the key, when written), the saved
-- session's parameters kept by finalize_run, their transient error codes.
SET client_min_messages = warning;
INSERT INTO paperclip.companies (id, name) VALUES ('c1000000-0000-0000-0000-000000000001', 'cli co');

-- the three adapter types, configured or not yet
INSERT INTO paperclip.agents (id, company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-0000000000a1', 'c1000000-0000-0000-0000-000000000001', 'claude', 'claude_local',
   '{"model":"claude-sonnet-4-5","cwd":"/srv/work","maxTurnsPerRun":20,"dangerouslySkipPermissions":true,
     "env":{"ANTHROPIC_API_KEY":"sk"},"extraArgs":["--verbose"],"promptTemplate":"",
     "bootstrapPromptTemplate":"You are {{agent.name}}","instructionsFilePath":"/srv/AGENTS.md",
     "timeoutSec":600,"graceSec":20}'),
  ('c1000000-0000-0000-0000-0000000000a2', 'c1000000-0000-0000-0000-000000000001', 'codex', 'codex_local',
   '{"command":"/usr/local/bin/codex","modelReasoningEffort":"high","dangerouslyBypassApprovalsAndSandbox":false}'),
  ('c1000000-0000-0000-0000-0000000000a3', 'c1000000-0000-0000-0000-000000000001', 'opencode', 'cli',
   '{"command":"opencode","parser":"opencode-jsonl","args":["run","--format","json",
     {"if":"model","args":["--model","{{model}}"]},{"each":"extraArgs"}],
     "resumeArgs":["--session","{{sessionId}}"],"promptVia":"arg",
     "unknownSessionRegex":"session .* not found","transientRegex":"rate limit|overloaded",
     "retryAtRegex":"try again (in [0-9]+ [a-z]+)","apiKeyEnv":["ANTHROPIC_API_KEY","OPENAI_API_KEY"]}'),
  ('c1000000-0000-0000-0000-0000000000a4', 'c1000000-0000-0000-0000-000000000001', 'unset', 'claude_local', '{}');
SELECT name, adapter_type FROM paperclip.agents WHERE company_id = 'c1000000-0000-0000-0000-000000000001' ORDER BY name;

-- a wrong key is refused when written, naming it
\set VERBOSITY terse
INSERT INTO paperclip.agents (company_id, name, adapter_type) VALUES ('c1000000-0000-0000-0000-000000000001', 'x', 'aider');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'claude_local', '{"maxTurnsPerRun":2.5}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'claude_local', '{"maxTurnsPerRun":-1}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'claude_local', '{"dangerouslySkipPermissions":"yes"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'claude_local', '{"command":"bin/claude"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'claude_local', '{"cwd":"relative/dir"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'claude_local', '{"instructionsFilePath":"/srv/../etc/passwd"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'claude_local', '{"env":{"PAPERCLIP_RUN_ID":"forged"}}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'claude_local', '{"extraArgs":"--verbose"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'claude_local', '{"promptTemplate":["a"]}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'claude_local', '{"timeoutSec":"10"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'codex_local', '{"modelReasoningEffort":"high\" --evil \""}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'codex_local', '{"dangerouslyBypassApprovalsAndSandbox":1}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'cli', '{"command":"opencode"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'cli', '{"parser":"opencode-jsonl"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'cli', '{"command":"x","parser":"aider-text"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'cli', '{"command":"x","parser":"codex-jsonl","args":[1]}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'cli', '{"command":"x","parser":"codex-jsonl","args":[{"if":"model"}]}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'cli', '{"command":"x","parser":"codex-jsonl","resumeArgs":[{"each":"extraArgs","args":[]}]}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'cli', '{"command":"x","parser":"codex-jsonl","promptVia":"file"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'cli', '{"command":"x","parser":"codex-jsonl","apiKeyEnv":["A","B","C","D","E"]}');
\set VERBOSITY default
-- a regular expression is compiled as the runner compiles it
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'x', 'cli', '{"command":"x","parser":"codex-jsonl","transientRegex":"(unclosed"}');
-- and a config written earlier is checked again when changed
UPDATE paperclip.agents SET adapter_config = adapter_config || '{"graceSec":-5}'
 WHERE id = 'c1000000-0000-0000-0000-0000000000a1';

-- sessions: finalize_run keeps session_params next to session_id
CREATE TEMP VIEW st AS
SELECT session_id, session_params FROM paperclip.agent_runtime_state WHERE agent_id = 'c1000000-0000-0000-0000-0000000000a1';
CREATE FUNCTION pg_temp.finish(result jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT status || ' ' || coalesce(session_id_after, '-')
    FROM paperclip.finalize_run((SELECT id FROM paperclip.enqueue_wakeup('c1000000-0000-0000-0000-0000000000a1')), result)
$$;
SELECT pg_temp.finish('{"sessionId":"s1","sessionParams":{"sessionId":"s1","cwd":"/srv/work"},"sessionDisplayId":"s1",
                        "billingType":"api","biller":"anthropic","summary":"done","provider":"anthropic"}');
SELECT * FROM st;
-- an absent key keeps what was saved
SELECT pg_temp.finish('{}');
SELECT * FROM st;
-- sessionParams alone names the session
SELECT pg_temp.finish('{"sessionParams":{"sessionId":"s2","cwd":"/srv/work"}}');
SELECT * FROM st;
-- null replaces the params (the id stays)
SELECT pg_temp.finish('{"sessionParams":null}');
SELECT * FROM st;
SELECT pg_temp.finish('{"sessionId":"s3","sessionParams":{"sessionId":"s3","cwd":""}}');
-- clearSession clears both
SELECT pg_temp.finish('{"exitCode":1,"errorMessage":"Claude run failed: subtype=error_max_turns","errorCode":"max_turns_exhausted","clearSession":true}');
SELECT * FROM st;
-- the CLI keys land in result_json
SELECT result_json FROM paperclip.heartbeat_runs
 WHERE agent_id = 'c1000000-0000-0000-0000-0000000000a1' AND result_json ? 'billingType';
-- wrong types are refused before anything is written
\set VERBOSITY terse
SELECT pg_temp.finish('{"sessionParams":"s4"}');
SELECT pg_temp.finish('{"sessionParams":["s4"]}');
SELECT pg_temp.finish('{"summary":42}');
SELECT pg_temp.finish('{"billingType":true}');
\set VERBOSITY default
-- reset_runtime_session forgets both
SELECT pg_temp.finish('{"sessionId":"s5","sessionParams":{"sessionId":"s5"}}');
SELECT session_id, session_params FROM paperclip.reset_runtime_session('c1000000-0000-0000-0000-0000000000a1');

-- the CLIs' transient codes are retried; auth and max turns are not
INSERT INTO paperclip.agents (id, company_id, name, adapter_type)
SELECT ('c1000000-0000-0000-0000-0000000000b' || g)::uuid, 'c1000000-0000-0000-0000-000000000001', 'retry ' || g, 'codex_local'
  FROM generate_series(1, 5) g;
CREATE TEMP TABLE failed AS
SELECT v.n, v.code, f.id
  FROM (VALUES (1, 'claude_transient_upstream'), (2, 'codex_transient_upstream'), (3, 'cli_transient_upstream'),
               (4, 'claude_auth_required'), (5, 'max_turns_exhausted')) v(n, code),
  LATERAL paperclip.finalize_run(
           (SELECT id FROM paperclip.enqueue_wakeup(('c1000000-0000-0000-0000-0000000000b' || v.n)::uuid)),
           jsonb_build_object('exitCode', 1, 'errorMessage', 'x', 'errorCode', v.code)) f;
SELECT f.code, x.status, x.scheduled_retry_reason
  FROM failed f LEFT JOIN paperclip.heartbeat_runs x ON x.retry_of_run_id = f.id
 ORDER BY f.n;

-- who may configure a CLI agent: like process, superuser or
-- pg_execute_server_program (paperclip_admin alone is not enough)
CREATE ROLE cli_regress_admin IN ROLE paperclip_admin;
INSERT INTO paperclip.company_roles (role_id, company_id) VALUES ('cli_regress_admin', 'c1000000-0000-0000-0000-000000000001');
SET ROLE cli_regress_admin;
\set VERBOSITY terse
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'y', 'claude_local', '{"model":"claude-sonnet-4-5"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'y', 'codex_local', '{"command":"/usr/bin/env"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'y', 'cli', '{"command":"opencode","parser":"opencode-jsonl"}');
UPDATE paperclip.agents SET adapter_config = '{"command":"/bin/sh"}' WHERE id = 'c1000000-0000-0000-0000-0000000000a4';
\set VERBOSITY default
-- an unconfigured one (the runner refuses to run it) and other columns are fine
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('c1000000-0000-0000-0000-000000000001', 'later', 'claude_local', '{}') RETURNING name, adapter_type;
UPDATE paperclip.agents SET name = 'renamed' WHERE id = 'c1000000-0000-0000-0000-0000000000a1' RETURNING name;
RESET ROLE;
DELETE FROM paperclip.company_roles WHERE role_id = 'cli_regress_admin'::regrole;
DROP ROLE cli_regress_admin;
