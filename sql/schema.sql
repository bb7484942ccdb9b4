-- The data model: tables, status vocabularies, the one-active-run index,
-- the timer deadline column, adapter_config checks, pg_dump registration.
SET client_min_messages = warning;

SELECT c.relname, c.relkind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'paperclip' AND c.relkind IN ('r', 'v')
 ORDER BY 1;

-- every table is kept by pg_dump
SELECT count(*) AS config_tables
  FROM pg_extension e, unnest(e.extconfig) t
 WHERE e.extname = 'paperclip';

-- the SQL API, as \df shows it
SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'paperclip'
 ORDER BY 1, 2;

INSERT INTO paperclip.companies (id, name) VALUES ('10000000-0000-0000-0000-000000000001', 'schema co');
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('10000000-0000-0000-0000-0000000000a1', '10000000-0000-0000-0000-000000000001', 'a1');

-- status vocabularies are checked (domains, and one check of agents)
\set VERBOSITY terse
INSERT INTO paperclip.agents (company_id, name, status) VALUES ('10000000-0000-0000-0000-000000000001', 'x', 'sleeping');
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status)
  VALUES ('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-0000000000a1', 'done');
INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source)
  VALUES ('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-0000000000a1', 'cron');
INSERT INTO paperclip.heartbeat_run_events (company_id, run_id, agent_id, seq, event_type, stream)
  VALUES ('10000000-0000-0000-0000-000000000001', gen_random_uuid(), '10000000-0000-0000-0000-0000000000a1', 1, 'x', 'stdin');
INSERT INTO paperclip.issues (company_id, title, status) VALUES ('10000000-0000-0000-0000-000000000001', 't', 'open');
-- as the API's own checks: 22023, naming the allowed values, whoever writes
\set VERBOSITY default
INSERT INTO paperclip.agents (company_id, name, status) VALUES ('10000000-0000-0000-0000-000000000001', 'x', 'sleeping');
\echo :LAST_ERROR_SQLSTATE
UPDATE paperclip.agents SET adapter_type = 'aider';
\echo :LAST_ERROR_SQLSTATE
INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, status)
  VALUES ('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-0000000000a1', 'timer', 'lost');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse

-- at most one queued or running run per agent
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status)
  VALUES ('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-0000000000a1', 'queued');
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status)
  VALUES ('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-0000000000a1', 'running');
\set VERBOSITY default
-- but any number of finished ones
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status)
  VALUES ('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-0000000000a1', 'succeeded'),
         ('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-0000000000a1', 'failed');
SELECT status, count(*) FROM paperclip.heartbeat_runs GROUP BY status ORDER BY 1;

-- the timer deadline: null without a timer, -infinity when never beaten
SELECT paperclip.timer_due_at('idle', '{}', NULL) AS no_timer,
       paperclip.timer_due_at('idle', '{"heartbeat":{"intervalSec":60}}', NULL) AS never_beaten,
       paperclip.timer_due_at('idle', '{"heartbeat":{"intervalSec":60}}', '2026-01-01 00:00:00+00') AS due,
       paperclip.timer_due_at('paused', '{"heartbeat":{"intervalSec":60}}', NULL) AS paused,
       paperclip.timer_due_at('idle', '{"heartbeat":{"intervalSec":60,"enabled":false}}', NULL) AS disabled,
       paperclip.timer_due_at('idle', '{"heartbeat":{"intervalSec":"60"}}', NULL) AS wrong_type,
       paperclip.timer_due_at('idle', '{"heartbeat":{"intervalSec":0.5}}', '2026-01-01 00:00:00+00') AS half_second;
UPDATE paperclip.agents SET runtime_config = '{"heartbeat":{"intervalSec":30}}', last_heartbeat_at = '2026-01-01 00:00:00+00'
 WHERE id = '10000000-0000-0000-0000-0000000000a1';
SELECT timer_due_at FROM paperclip.agents WHERE id = '10000000-0000-0000-0000-0000000000a1';
UPDATE paperclip.agents SET status = 'paused' WHERE id = '10000000-0000-0000-0000-0000000000a1';
SELECT timer_due_at IS NULL AS no_timer_when_paused FROM paperclip.agents WHERE id = '10000000-0000-0000-0000-0000000000a1';

-- adapter_config is checked when written; an empty one is "not configured yet"
INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'c1', '{"args":["x"]}');
INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'c2', '{"command":42}');
INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'c3', '{"command":"bin/agent"}');
INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'c4', '{"command":"/bin/true","cwd":"../etc"}');
INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'c5', '{"command":"/bin/true","cwd":"/srv/../etc"}');
INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'c6', '{"command":"/bin/true","args":"-v"}');
INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'c7', '{"command":"/bin/true","env":{"A":1}}');
INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'c8', '{"command":"/bin/true","timeoutSec":-1}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'h1', 'http', '{"url":"ftp://example.com/x"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'h2', 'http', '{"url":"http://127.0.0.1:1/x","headers":{"X":2}}');
INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('10000000-0000-0000-0000-000000000001', 'c9', '"a string"');
\set VERBOSITY terse
INSERT INTO paperclip.agents (company_id, name, runtime_config) VALUES ('10000000-0000-0000-0000-000000000001', 'r1', '[1,2]');
\set VERBOSITY default
INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES
  ('10000000-0000-0000-0000-000000000001', 'ok1', '{"command":"/bin/true","args":["-x"],"cwd":"/tmp","env":{"A":"b"},"timeoutSec":5,"graceSec":1}'),
  ('10000000-0000-0000-0000-000000000001', 'ok2', '{"command":"true"}');
INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES
  ('10000000-0000-0000-0000-000000000001', 'ok3', 'http', '{"url":"https://agents.example.com/run","method":"POST","headers":{"Authorization":"Bearer x"},"timeoutSec":30}');
SELECT name FROM paperclip.agents WHERE company_id = '10000000-0000-0000-0000-000000000001' ORDER BY name;

-- clean up for the next file
DELETE FROM paperclip.heartbeat_runs;
DELETE FROM paperclip.agents;
DELETE FROM paperclip.companies;
