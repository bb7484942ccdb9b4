-- Run liveness: every rule of liveness.md through classify_run_liveness,
-- then backfill_run_liveness and classify_finished_runs over real rows.
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.lv(input jsonb)
RETURNS TABLE(state text, reason text, next_action text, last_useful text, attempt int)
LANGUAGE sql AS $$
  SELECT j ->> 'livenessState', j ->> 'livenessReason', j ->> 'nextAction',
         j ->> 'lastUsefulActionAt', (j ->> 'continuationAttempt')::int
    FROM paperclip.classify_run_liveness(input) j
$$;
\pset null '(null)'

-- the whole output object
SELECT paperclip.classify_run_liveness('{"runStatus":"succeeded","issue":{"status":"in_progress"},
  "evidence":{"issueCommentsCreated":2,"workProductsCreated":1,"latestEvidenceAt":"2026-03-01T10:00:00.000Z"},
  "continuationAttempt":2}');

-- 1. not succeeded: failed, with the error code when there is one
SELECT * FROM pg_temp.lv('{"runStatus":"failed","errorCode":"process_lost","issue":{"status":"done"}}');
SELECT * FROM pg_temp.lv('{"runStatus":"timed_out"}');
SELECT * FROM pg_temp.lv('{"runStatus":"cancelled","errorCode":"cancelled","evidence":{"issueCommentsCreated":3,"latestEvidenceAt":"2026-03-01T10:00:00Z"}}');
-- 2. the issue is done or cancelled: completed (evidence time kept)
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","issue":{"status":"done"},"evidence":{"activityEventsCreated":1,"latestEvidenceAt":"2026-03-01T10:00:00Z"}}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","issue":{"status":"cancelled"}}');
-- 3. blocked: by the issue's status, or by what the run said
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","issue":{"status":"blocked"},"stdoutExcerpt":"Next: ask for the key"}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","resultJson":{"summary":"I cannot proceed without the production API key."}}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"Waiting on board approval before I deploy."}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stderrExcerpt":"Blocked: need credentials for the staging database"}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","resultJson":{"message":"I need clarification on the expected output format"}}');
-- ... unless it says it is not blocked
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"Not blocked: the token works. I will run the tests next."}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"No blockers. Updated the README."}');
-- the result's own words win over the raw output
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","resultJson":{"summary":"Updated the parser."},"stdoutExcerpt":"blocked: missing API key"}');
-- 4. no useful output and no concrete evidence: empty_response
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded"}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"  \n\t ","resultJson":{"summary":"   "}}');
-- workspace operations alone are no evidence; transcript noise is no output
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","evidence":{"workspaceOperationsCreated":4}}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"$ git status\ncommand: ls\n{\"type\":\"tool_call\",\"tool\":\"bash\"}"}');
-- 5. concrete evidence: advanced, the counts in the reason
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","evidence":{"issueCommentsCreated":2,"documentRevisionsCreated":1,
  "workProductsCreated":1,"workspaceOperationsCreated":1,"activityEventsCreated":3,"toolOrActionEventsCreated":5,
  "latestEvidenceAt":"2026-03-01T10:00:00Z"}}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"I will check the logs","evidence":{"toolOrActionEventsCreated":1}}');
-- counts that are missing, negative or not numbers read as 0
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"hello","evidence":{"issueCommentsCreated":-3,
  "workProductsCreated":"7","activityEventsCreated":null,"toolOrActionEventsCreated":true}}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","evidence":{"issueCommentsCreated":1.9}}');
-- 6. a saved plan revision and useful output: advanced (planning exemption)
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"I will implement the plan","evidence":{"planDocumentRevisionsCreated":1}}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","evidence":{"planDocumentRevisionsCreated":1}}');
-- 7. only future work: plan_only when runnable, else needs_followup
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"Looked around.\nI will run the tests and fix the failures."}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"Let me inspect the failing migration first."}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"The next step is to check the retry logic."}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","resultJson":{"summary":"Next steps:\n- inspect the flaky test\n- fix it"}}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"Plan:\n1. update the schema\n2. run the tests"}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"Next: check the deploy script"}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","resultJson":{"nextAction":"verify the fix on staging"}}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"$ rg TODO\nI''ll fix the TODOs in the parser."}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"I will wait for the design team."}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"Next: escalate to a manager review of the production deploy"}');
-- 8. useful output without evidence: needs_followup
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","stdoutExcerpt":"Refactored the parser module."}');
SELECT * FROM pg_temp.lv('{"runStatus":"succeeded","error":"warning: something odd"}');

-- reasons and next actions are cut to 500 characters (497 and "...")
SELECT length(reason) AS reason_len, right(reason, 4) AS reason_end
  FROM pg_temp.lv(jsonb_build_object('runStatus', 'failed', 'errorCode', repeat('x', 600)));
SELECT length(next_action) AS next_len, right(next_action, 4) AS next_end, state
  FROM pg_temp.lv(jsonb_build_object('runStatus', 'succeeded', 'stdoutExcerpt', 'I will fix ' || repeat('é', 600)));
-- continuationAttempt: a number (floored, at least 0), else 0
SELECT attempt FROM pg_temp.lv('{"runStatus":"succeeded","continuationAttempt":3.7}');
SELECT attempt FROM pg_temp.lv('{"runStatus":"succeeded","continuationAttempt":"3"}');

-- bad input
SELECT paperclip.classify_run_liveness('[1,2]');
SELECT paperclip.classify_run_liveness(NULL);

-- ---------------------------------------------------------------------------
-- backfill_run_liveness: the evidence of up to 20 runs of an issue
-- ---------------------------------------------------------------------------
INSERT INTO paperclip.companies (id, name) VALUES
  ('70000000-0000-0000-0000-000000000001', 'liveness co'), ('70000000-0000-0000-0000-000000000002', 'other co');
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('70000000-0000-0000-0000-0000000000a1', '70000000-0000-0000-0000-000000000001', 'a1'),
  ('70000000-0000-0000-0000-0000000000a2', '70000000-0000-0000-0000-000000000001', 'a2');
INSERT INTO paperclip.issues (id, company_id, title, status) VALUES
  ('70000000-0000-0000-0000-0000000000c1', '70000000-0000-0000-0000-000000000001', 'the issue', 'in_progress'),
  ('70000000-0000-0000-0000-0000000000c2', '70000000-0000-0000-0000-000000000001', 'another issue', 'todo');
-- f1: evidence of every kind; f2: silent; f3: failed; f4: linked by activity
-- only, plans; f5: still running; f6: classified already; f7: another issue
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, error_code, context_snapshot,
                                      stdout_excerpt, liveness_state, created_at, finished_at) VALUES
  ('70000000-0000-0000-0000-0000000000f1', '70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000a1',
   'succeeded', NULL, '{"issueId":"70000000-0000-0000-0000-0000000000c1"}', 'did things', NULL, '2026-02-01 00:00:01+00', '2026-02-01 00:01:00+00'),
  ('70000000-0000-0000-0000-0000000000f2', '70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000a1',
   'succeeded', NULL, '{"issueId":"70000000-0000-0000-0000-0000000000c1","continuationAttempt":2}', NULL, NULL, '2026-02-01 00:00:02+00', '2026-02-01 00:02:00+00'),
  ('70000000-0000-0000-0000-0000000000f3', '70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000a1',
   'failed', 'adapter_failed', '{"issueId":"70000000-0000-0000-0000-0000000000c1"}', NULL, NULL, '2026-02-01 00:00:03+00', '2026-02-01 00:03:00+00'),
  ('70000000-0000-0000-0000-0000000000f4', '70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000a2',
   'succeeded', NULL, '{}', 'I will implement the plan next', NULL, '2026-02-01 00:00:04+00', '2026-02-01 00:04:00+00'),
  ('70000000-0000-0000-0000-0000000000f5', '70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000a2',
   'running', NULL, '{"issueId":"70000000-0000-0000-0000-0000000000c1"}', NULL, NULL, '2026-02-01 00:00:05+00', NULL),
  ('70000000-0000-0000-0000-0000000000f6', '70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000a1',
   'succeeded', NULL, '{"issueId":"70000000-0000-0000-0000-0000000000c1"}', NULL, 'completed', '2026-02-01 00:00:06+00', '2026-02-01 00:06:00+00'),
  ('70000000-0000-0000-0000-0000000000f7', '70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000a1',
   'succeeded', NULL, '{"issueId":"70000000-0000-0000-0000-0000000000c2"}', NULL, NULL, '2026-02-01 00:00:07+00', '2026-02-01 00:07:00+00');
INSERT INTO paperclip.issue_comments (company_id, issue_id, body, created_by_run_id, created_at) VALUES
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c1', 'c', '70000000-0000-0000-0000-0000000000f1', '2026-02-01 00:00:10+00'),
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c1', 'c', '70000000-0000-0000-0000-0000000000f1', '2026-02-01 00:00:11+00'),
  -- on another issue: not evidence for this one
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c2', 'c', '70000000-0000-0000-0000-0000000000f1', '2026-02-01 00:09:00+00');
INSERT INTO paperclip.issue_documents (company_id, issue_id, document_id, key) VALUES
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c1', '70000000-0000-0000-0000-0000000000d1', 'spec'),
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c1', '70000000-0000-0000-0000-0000000000d2', 'plan'),
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c1', '70000000-0000-0000-0000-0000000000d3', 'continuation-summary');
INSERT INTO paperclip.document_revisions (company_id, document_id, created_by_run_id, created_at) VALUES
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000d1', '70000000-0000-0000-0000-0000000000f1', '2026-02-01 00:00:20+00'),
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000d3', '70000000-0000-0000-0000-0000000000f1', '2026-02-01 00:08:00+00'),
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000d3', '70000000-0000-0000-0000-0000000000f2', '2026-02-01 00:08:00+00');
INSERT INTO paperclip.issue_work_products (company_id, issue_id, kind, created_by_run_id, created_at) VALUES
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c1', 'pr', '70000000-0000-0000-0000-0000000000f1', '2026-02-01 00:00:30+00');
INSERT INTO paperclip.workspace_operations (company_id, heartbeat_run_id, kind, started_at) VALUES
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000f1', 'clone', '2026-02-01 00:00:40+00'),
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000f2', 'clone', '2026-02-01 00:00:41+00');
INSERT INTO paperclip.activity_log (company_id, actor_id, action, entity_type, entity_id, run_id, created_at) VALUES
  ('70000000-0000-0000-0000-000000000001', 'agent', 'issue.updated', 'issue', '70000000-0000-0000-0000-0000000000c1', '70000000-0000-0000-0000-0000000000f1', '2026-02-01 00:00:50+00'),
  ('70000000-0000-0000-0000-000000000001', 'agent', 'issue.viewed', 'issue', '70000000-0000-0000-0000-0000000000c1', '70000000-0000-0000-0000-0000000000f4', '2026-02-01 00:00:51+00');
INSERT INTO paperclip.heartbeat_run_events (company_id, run_id, agent_id, seq, event_type, created_at) VALUES
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000f1', '70000000-0000-0000-0000-0000000000a1', 1, 'lifecycle', '2026-02-01 00:00:59+00'),
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000f1', '70000000-0000-0000-0000-0000000000a1', 2, 'tool.call', '2026-02-01 00:00:55+00'),
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000f1', '70000000-0000-0000-0000-0000000000a1', 3, 'error', '2026-02-01 00:00:58+00'),
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000f2', '70000000-0000-0000-0000-0000000000a1', 1, 'adapter.invoke', '2026-02-01 00:01:00+00');

SELECT paperclip.backfill_run_liveness('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c1') AS updated;
SELECT right(id::text, 2) AS run, status, liveness_state, liveness_reason, continuation_attempt,
       last_useful_action_at AT TIME ZONE 'UTC' AS last_useful, next_action
  FROM paperclip.heartbeat_runs WHERE company_id = '70000000-0000-0000-0000-000000000001' ORDER BY id;
-- once classified, runs are left alone
SELECT paperclip.backfill_run_liveness('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c1') AS again;
-- another company's issue id finds nothing
SELECT paperclip.backfill_run_liveness('70000000-0000-0000-0000-000000000002', '70000000-0000-0000-0000-0000000000c2') AS other_company;
-- at most 20 runs a call
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, context_snapshot, finished_at)
SELECT '70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000a2', 'succeeded',
       '{"issueId":"70000000-0000-0000-0000-0000000000c2"}', now()
  FROM generate_series(1, 24);
SELECT paperclip.backfill_run_liveness('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c2') AS first,
       paperclip.backfill_run_liveness('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c2') AS second;
SELECT paperclip.backfill_run_liveness(NULL, '70000000-0000-0000-0000-0000000000c2');

-- classify_finished_runs: what the scheduler does, after paperclip.liveness_delay
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, context_snapshot, stdout_excerpt, finished_at) VALUES
  ('70000000-0000-0000-0000-0000000000e1', '70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000a2',
   'succeeded', '{"issueId":"not a uuid"}', 'Let me check the build', now()),
  ('70000000-0000-0000-0000-0000000000e2', '70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000a2',
   'succeeded', '{"issueId":"70000000-0000-0000-0000-0000000000c1"}', NULL, now());
INSERT INTO paperclip.issue_comments (company_id, issue_id, body, created_by_run_id) VALUES
  ('70000000-0000-0000-0000-000000000001', '70000000-0000-0000-0000-0000000000c1', 'c', '70000000-0000-0000-0000-0000000000e2');
SET paperclip.liveness_delay = '1h';
SELECT paperclip.classify_finished_runs() AS too_recent;
SET paperclip.liveness_delay = 0;
SELECT paperclip.classify_finished_runs() AS classified;
SELECT right(id::text, 2) AS run, liveness_state, liveness_reason, next_action
  FROM paperclip.heartbeat_runs WHERE id::text LIKE '70000000-0000-0000-0000-0000000000e_' ORDER BY id;
RESET paperclip.liveness_delay;
