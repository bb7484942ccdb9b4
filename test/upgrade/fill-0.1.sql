-- Fills a database holding paperclip 0.1 through the 0.1 API, as a user of
-- 0.1 would have: two companies, agents of both adapters with timers and
-- budgets, work evidence, and runs in every state (queued, running,
-- succeeded with cost, failed, failed transiently with a scheduled retry,
-- cancelled, timed out), with events, logs, activity, runtime state and a
-- role bound to a company. make-fixture.sh runs it with the 0.1 release's
-- own library and keeps what it wrote (0.1-data.sql, 0.1-run-logs/), which
-- the upgrade tests load (load-0.1.sh). Only calls that exist in 0.1, with
-- 0.1's parameters. Ids are fixed (e0...); no launcher serves the
-- database, so runs stay as written.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

INSERT INTO paperclip.companies (id, name) VALUES
  ('e0000000-0000-0000-0000-000000000001', 'upgrade one'),
  ('e0000000-0000-0000-0000-000000000002', 'upgrade two');

INSERT INTO paperclip.agents (id, company_id, name, role, adapter_type, adapter_config, runtime_config,
                              budget_monthly_cents) VALUES
  ('e0000000-0000-0000-0000-0000000000a1', 'e0000000-0000-0000-0000-000000000001', 'worker', 'engineer',
   'process', '{"command":"/bin/true","args":["-x"],"timeoutSec":60,"graceSec":5}',
   '{"heartbeat":{"enabled":true,"intervalSec":3600}}', 10000),
  ('e0000000-0000-0000-0000-0000000000a2', 'e0000000-0000-0000-0000-000000000001', 'caller', 'ceo',
   'http', '{"url":"http://127.0.0.1:9/hook","method":"POST","headers":{"X-Team":"one"}}',
   '{"heartbeat":{"enabled":true,"intervalSec":60}}', 0),
  ('e0000000-0000-0000-0000-0000000000a3', 'e0000000-0000-0000-0000-000000000001', 'quiet', NULL,
   'process', '{"command":"/bin/true"}', '{"heartbeat":{"enabled":false,"wakeOnOnDemand":false}}', 0),
  ('e0000000-0000-0000-0000-0000000000a4', 'e0000000-0000-0000-0000-000000000002', 'other', NULL,
   'process', '{"command":"/bin/true"}', '{}', 0),
  ('e0000000-0000-0000-0000-0000000000a5', 'e0000000-0000-0000-0000-000000000002', 'flaky', NULL,
   'process', '{"command":"/bin/true"}', '{}', 0),
  ('e0000000-0000-0000-0000-0000000000a6', 'e0000000-0000-0000-0000-000000000002', 'slow', NULL,
   'process', '{"command":"/bin/true"}', '{}', 0);

INSERT INTO paperclip.issues (id, company_id, identifier, title, description, status, priority, assignee_agent_id) VALUES
  ('e0000000-0000-0000-0000-0000000000b1', 'e0000000-0000-0000-0000-000000000001', 'UP-1', 'ship it', 'the upgrade',
   'in_progress', 'high', 'e0000000-0000-0000-0000-0000000000a1'),
  ('e0000000-0000-0000-0000-0000000000b2', 'e0000000-0000-0000-0000-000000000002', 'UP-2', 'hidden', NULL,
   'todo', NULL, NULL);
UPDATE paperclip.issues SET hidden_at = now() WHERE id = 'e0000000-0000-0000-0000-0000000000b2';
INSERT INTO paperclip.issue_documents (id, company_id, issue_id, document_id, key) VALUES
  ('e0000000-0000-0000-0000-0000000000c1', 'e0000000-0000-0000-0000-000000000001',
   'e0000000-0000-0000-0000-0000000000b1', 'e0000000-0000-0000-0000-0000000000d1', 'plan');

-- a role bound to company two (load-0.1.sh creates it where the data is loaded)
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'paperclip_upgrade_bound') THEN
        CREATE ROLE paperclip_upgrade_bound NOLOGIN IN ROLE paperclip_reader;
    END IF;
END
$$;
INSERT INTO paperclip.company_roles (role_id, company_id) VALUES
  ('paperclip_upgrade_bound', 'e0000000-0000-0000-0000-000000000002');

-- wakeups: a run that will succeed, a coalesce, a skip, an idempotent repeat
SELECT id AS r_ok FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a1', 'assignment', 'system',
  'issue assigned', '{"issue":"UP-1"}', 'assign-UP-1', 'user', 'u-1',
  '{"issueId":"e0000000-0000-0000-0000-0000000000b1","taskId":"e0000000-0000-0000-0000-0000000000b1"}') \gset
SELECT id FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a1', 'on_demand', 'ping', 'again');
SELECT id FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a1', 'assignment', 'system',
  'issue assigned', NULL, 'assign-UP-1');
SELECT paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a3', 'on_demand', 'ping');
SELECT id AS r_fail FROM paperclip.invoke('e0000000-0000-0000-0000-0000000000a2', 'on_demand', '{"why":"manual"}',
  'manual', 'user', 'u-2') \gset
SELECT id AS r_lost FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a5', 'automation', 'callback') \gset
SELECT id AS r_slow FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a6') \gset

-- an external runner claims them and reports
SELECT count(*) FROM paperclip.claim_runs(10);
SELECT paperclip.append_run_event(:'r_ok', 'tool.call', 'edited a file', '{"path":"README.md"}', 'stdout', 'info');
SELECT paperclip.append_run_log(:'r_ok', 'stdout', E'working on UP-1\n');
SELECT paperclip.append_run_log(:'r_ok', 'stderr', E'a warning\n');
SELECT paperclip.finalize_run(:'r_ok', '{"exitCode":0,"usage":{"inputTokens":1200,"outputTokens":300,"cachedInputTokens":100},
  "costUsd":0.05,"sessionId":"sess-1","provider":"anthropic","model":"claude","resultJson":{"summary":"done UP-1"}}');
SELECT paperclip.append_run_log(:'r_fail', 'stdout', E'calling\n');
SELECT paperclip.finalize_run(:'r_fail', '{"exitCode":1,"errorMessage":"bad request","errorCode":"http_4xx"}');
SELECT paperclip.finalize_run(:'r_lost', '{"errorCode":"process_lost","errorMessage":"runner lost"}');
SELECT paperclip.cancel_run(:'r_slow');

-- a timed-out run, and the agent queued again (stays queued) then running (stays running)
SELECT id AS r_timeout FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a6') \gset
SELECT count(*) FROM paperclip.claim_runs(1);
SELECT paperclip.finalize_run(:'r_timeout', '{"timedOut":true,"signal":"SIGKILL"}');
SELECT id AS r_running FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a4') \gset
SELECT count(*) FROM paperclip.claim_runs(1);
SELECT paperclip.append_run_event(:'r_running', 'tool.call', 'still going');
SELECT paperclip.append_run_log(:'r_running', 'stdout', E'half way\n');
SELECT id AS r_queued FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a1', 'on_demand', 'manual',
  'follow up', NULL, NULL, NULL, NULL, '{"issueId":"e0000000-0000-0000-0000-0000000000b1"}') \gset

-- timers, runtime state, activity and evidence
SELECT * FROM paperclip.tick_timers(now() + interval '2 hours');
SELECT session_id FROM paperclip.get_runtime_state('e0000000-0000-0000-0000-0000000000a1');
SELECT session_id FROM paperclip.reset_runtime_session('e0000000-0000-0000-0000-0000000000a4');
SELECT id FROM paperclip.log_activity('e0000000-0000-0000-0000-000000000001', 'agent', 'e0000000-0000-0000-0000-0000000000a1',
  'issue.comment_added', 'issue', 'e0000000-0000-0000-0000-0000000000b1', 'e0000000-0000-0000-0000-0000000000a1', :'r_ok',
  '{"comment":"done"}');
INSERT INTO paperclip.issue_comments (company_id, issue_id, author_agent_id, body, created_by_run_id) VALUES
  ('e0000000-0000-0000-0000-000000000001', 'e0000000-0000-0000-0000-0000000000b1',
   'e0000000-0000-0000-0000-0000000000a1', 'shipped', :'r_ok');
INSERT INTO paperclip.document_revisions (company_id, document_id, body, created_by_run_id) VALUES
  ('e0000000-0000-0000-0000-000000000001', 'e0000000-0000-0000-0000-0000000000d1', 'plan: ship', :'r_ok');
INSERT INTO paperclip.issue_work_products (company_id, issue_id, kind, title, created_by_run_id) VALUES
  ('e0000000-0000-0000-0000-000000000001', 'e0000000-0000-0000-0000-0000000000b1', 'pull_request', 'PR 1', :'r_ok');
INSERT INTO paperclip.workspace_operations (company_id, heartbeat_run_id, kind, started_at) VALUES
  ('e0000000-0000-0000-0000-000000000001', :'r_ok', 'checkout', now());
SELECT paperclip.backfill_run_liveness('e0000000-0000-0000-0000-000000000001', 'e0000000-0000-0000-0000-0000000000b1');
