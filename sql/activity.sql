-- The activity feed, runs of an issue, issues of a run, run and event listings.
SET client_min_messages = warning;
INSERT INTO paperclip.companies (id, name) VALUES
  ('60000000-0000-0000-0000-000000000001', 'activity co'), ('60000000-0000-0000-0000-000000000002', 'other co');
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('60000000-0000-0000-0000-0000000000a1', '60000000-0000-0000-0000-000000000001', 'a1'),
  ('60000000-0000-0000-0000-0000000000a2', '60000000-0000-0000-0000-000000000001', 'a2');
INSERT INTO paperclip.issues (id, company_id, identifier, title, status, priority, hidden_at) VALUES
  ('60000000-0000-0000-0000-0000000000c1', '60000000-0000-0000-0000-000000000001', 'ACT-1', 'visible issue', 'in_progress', 'high', NULL),
  ('60000000-0000-0000-0000-0000000000c2', '60000000-0000-0000-0000-000000000001', 'ACT-2', 'hidden issue', 'todo', 'low', now()),
  ('60000000-0000-0000-0000-0000000000c3', '60000000-0000-0000-0000-000000000001', 'ACT-3', 'other issue', 'todo', NULL, NULL);

-- runs: one with the issue in its context, one linked by activity
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, context_snapshot, usage_json, result_json, created_at) VALUES
  ('60000000-0000-0000-0000-0000000000f1', '60000000-0000-0000-0000-000000000001', '60000000-0000-0000-0000-0000000000a1', 'succeeded',
   '{"issueId":"60000000-0000-0000-0000-0000000000c1"}',
   '{"input_tokens":10,"outputTokens":5,"cache_read_input_tokens":3,"total_cost_usd":0.5,"billing_type":"api"}',
   '{"stopReason":"end_turn","cost_usd":0.5,"summary":"not summarized"}', '2026-01-01 00:00:01+00'),
  ('60000000-0000-0000-0000-0000000000f2', '60000000-0000-0000-0000-000000000001', '60000000-0000-0000-0000-0000000000a2', 'failed',
   '{"issueId":"60000000-0000-0000-0000-0000000000c3"}', NULL, NULL, '2026-01-01 00:00:02+00'),
  ('60000000-0000-0000-0000-0000000000f3', '60000000-0000-0000-0000-000000000001', '60000000-0000-0000-0000-0000000000a2', 'succeeded',
   '{}', NULL, '"a string result"', '2026-01-01 00:00:03+00');
INSERT INTO paperclip.heartbeat_run_events (company_id, run_id, agent_id, seq, event_type, message) VALUES
  ('60000000-0000-0000-0000-000000000001', '60000000-0000-0000-0000-0000000000f2', '60000000-0000-0000-0000-0000000000a2', 1, 'lifecycle', 'Bounded retry exhausted after 4 attempt(s) (process_lost)');

-- log_activity returns the row
SELECT actor_type, actor_id, action, entity_type, entity_id, details
  FROM paperclip.log_activity('60000000-0000-0000-0000-000000000001', 'agent', 'a1', 'issue.commented', 'issue',
       '60000000-0000-0000-0000-0000000000c1', '60000000-0000-0000-0000-0000000000a1', '60000000-0000-0000-0000-0000000000f1', '{"n":1}');
SELECT count(*) FROM (
  SELECT paperclip.log_activity('60000000-0000-0000-0000-000000000001', 'agent', 'a2', 'issue.updated', 'issue',
         '60000000-0000-0000-0000-0000000000c1', '60000000-0000-0000-0000-0000000000a2', '60000000-0000-0000-0000-0000000000f3'),
         paperclip.log_activity('60000000-0000-0000-0000-000000000001', 'user', 'u1', 'issue.hidden', 'issue',
         '60000000-0000-0000-0000-0000000000c2'),
         paperclip.log_activity('60000000-0000-0000-0000-000000000001', 'system', 'sys', 'agent.created', 'agent',
         '60000000-0000-0000-0000-0000000000a1', '60000000-0000-0000-0000-0000000000a1'),
         paperclip.log_activity('60000000-0000-0000-0000-000000000002', 'system', 'sys', 'company.created', 'company', 'x')) s;
UPDATE paperclip.activity_log SET created_at = '2026-01-01 00:00:00+00'::timestamptz + (row_number * interval '1 second')
  FROM (SELECT id, row_number() OVER (ORDER BY action) FROM paperclip.activity_log) n WHERE n.id = activity_log.id;

-- list_activity: newest first, hidden issues left out, filters
SELECT action, entity_type FROM paperclip.list_activity('60000000-0000-0000-0000-000000000001');
SELECT action FROM paperclip.list_activity('60000000-0000-0000-0000-000000000001', agent_id => '60000000-0000-0000-0000-0000000000a1');
SELECT action FROM paperclip.list_activity('60000000-0000-0000-0000-000000000001', entity_type => 'agent');
SELECT action FROM paperclip.list_activity('60000000-0000-0000-0000-000000000001', entity_id => '60000000-0000-0000-0000-0000000000c1');
SELECT count(*) FROM paperclip.list_activity('60000000-0000-0000-0000-000000000001', "limit" => 1);
SELECT count(*) FROM paperclip.list_activity('60000000-0000-0000-0000-000000000001', "limit" => -1);
SELECT paperclip.normalize_activity_limit(NULL) AS null_limit, paperclip.normalize_activity_limit(-1) AS negative,
       paperclip.normalize_activity_limit(0) AS zero, paperclip.normalize_activity_limit(42) AS plain,
       paperclip.normalize_activity_limit(1000000000) AS huge;

-- activity_for_issue: every row about the issue, newest first
SELECT action, actor_id FROM paperclip.activity_for_issue('60000000-0000-0000-0000-0000000000c1');

-- runs_for_issue: by context or by activity, summaries with both key styles mirrored
SELECT run_id, status, adapter_type, usage_json, result_json, retry_exhausted_reason
  FROM paperclip.runs_for_issue('60000000-0000-0000-0000-000000000001', '60000000-0000-0000-0000-0000000000c1');
SELECT run_id, status, retry_exhausted_reason
  FROM paperclip.runs_for_issue('60000000-0000-0000-0000-000000000001', '60000000-0000-0000-0000-0000000000c3');
SELECT count(*) AS other_company
  FROM paperclip.runs_for_issue('60000000-0000-0000-0000-000000000002', '60000000-0000-0000-0000-0000000000c1');

-- issues_for_run: the context issue first, then issues with activity from the run
SELECT (paperclip.log_activity('60000000-0000-0000-0000-000000000001', 'agent', 'a1', 'issue.linked', 'issue',
       '60000000-0000-0000-0000-0000000000c3', NULL, '60000000-0000-0000-0000-0000000000f1')).id IS NOT NULL AS logged;
SELECT (paperclip.log_activity('60000000-0000-0000-0000-000000000001', 'agent', 'a1', 'issue.linked', 'issue',
       '60000000-0000-0000-0000-0000000000c2', NULL, '60000000-0000-0000-0000-0000000000f1')).id IS NOT NULL AS logged;
SELECT * FROM paperclip.issues_for_run('60000000-0000-0000-0000-0000000000f1');
SELECT * FROM paperclip.issues_for_run('60000000-0000-0000-0000-0000000000f3');
SELECT count(*) AS unknown_run FROM paperclip.issues_for_run('60000000-0000-0000-0000-0000000000ff');

-- list_runs: newest first, by company or agent
SELECT id FROM paperclip.list_runs('60000000-0000-0000-0000-000000000001');
SELECT id FROM paperclip.list_runs('60000000-0000-0000-0000-000000000001', '60000000-0000-0000-0000-0000000000a2');
-- ... in pages: at most "limit" runs older than before_run_id (ties on
-- created_at broken by id, so no run is on two pages or on none)
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('60000000-0000-0000-0000-0000000000a9', '60000000-0000-0000-0000-000000000001', 'paged');
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, created_at)
SELECT ('60000000-0000-0000-0000-0000000000e' || g)::uuid, '60000000-0000-0000-0000-000000000001',
       '60000000-0000-0000-0000-0000000000a9', 'succeeded',
       '2026-01-01 00:00:00+00'::timestamptz + make_interval(mins => CASE WHEN g IN (3, 4, 5) THEN 3 ELSE g END)
  FROM generate_series(1, 7) g;
SELECT array_agg(id ORDER BY ord) AS page_1 FROM paperclip.list_runs('60000000-0000-0000-0000-000000000001',
       '60000000-0000-0000-0000-0000000000a9', 3) WITH ORDINALITY AS p(id, ord);
SELECT array_agg(substr(id::text, 35) ORDER BY ord) AS page_2 FROM paperclip.list_runs('60000000-0000-0000-0000-000000000001',
       '60000000-0000-0000-0000-0000000000a9', 3, '60000000-0000-0000-0000-0000000000e5') WITH ORDINALITY AS p(id, ord);
SELECT array_agg(substr(id::text, 35) ORDER BY ord) AS page_3 FROM paperclip.list_runs('60000000-0000-0000-0000-000000000001',
       '60000000-0000-0000-0000-0000000000a9', 3, '60000000-0000-0000-0000-0000000000e2') WITH ORDINALITY AS p(id, ord);
SELECT count(*) AS after_the_last FROM paperclip.list_runs('60000000-0000-0000-0000-000000000001',
       '60000000-0000-0000-0000-0000000000a9', 3, '60000000-0000-0000-0000-0000000000e1');
-- the company's runs, by name; limit clamped to 1..1000, null is 200
SELECT array_agg(substr(id::text, 35) ORDER BY ord) AS company_page
  FROM paperclip.list_runs(company_id => '60000000-0000-0000-0000-000000000001', "limit" => 4,
                           before_run_id => '60000000-0000-0000-0000-0000000000e2') WITH ORDINALITY AS p(id, ord);
SELECT count(*) AS at_least_one FROM paperclip.list_runs('60000000-0000-0000-0000-000000000001', NULL, 0);
SELECT count(*) AS all_ten FROM paperclip.list_runs('60000000-0000-0000-0000-000000000001', NULL, 5000);
SELECT count(*) AS default_limit FROM paperclip.list_runs('60000000-0000-0000-0000-000000000001', NULL, NULL);
SELECT * FROM paperclip.list_runs('60000000-0000-0000-0000-000000000001', NULL, 10, '60000000-0000-0000-0000-0000000000ff');

-- list_events: after a seq, limit clamped to 1..1000
SELECT seq FROM (SELECT paperclip.append_run_event('60000000-0000-0000-0000-0000000000f3', 'tool.call', 'call ' || g, jsonb_build_object('g', g), 'stdout', 'info') AS seq
                   FROM generate_series(1, 5) g) s;
SELECT seq, event_type, stream, message, payload FROM paperclip.list_events('60000000-0000-0000-0000-0000000000f3', 2, 2);
SELECT count(*) FROM paperclip.list_events('60000000-0000-0000-0000-0000000000f3', 0, -5);
SELECT count(*) FROM paperclip.list_events('60000000-0000-0000-0000-0000000000f3', 0, 1000000000);
SELECT count(*) FROM paperclip.list_events('60000000-0000-0000-0000-0000000000f3');

-- views for operators
SELECT name, status, runs_today FROM paperclip.agent_overview WHERE company_id = '60000000-0000-0000-0000-000000000001' ORDER BY name;
SELECT a.name, s.status, s.runs FROM paperclip.run_stats s JOIN paperclip.agents a ON a.id = s.agent_id
 WHERE s.company_id = '60000000-0000-0000-0000-000000000001' ORDER BY 1, 2;

DELETE FROM paperclip.activity_log;
DELETE FROM paperclip.heartbeat_run_events;
DELETE FROM paperclip.heartbeat_runs;
DELETE FROM paperclip.issues;
DELETE FROM paperclip.agents;
DELETE FROM paperclip.companies;
