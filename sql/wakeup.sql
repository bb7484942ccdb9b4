-- enqueue_wakeup and invoke: new runs, policy skips, idempotency, coalescing,
-- promotion of a scheduled retry.
SET client_min_messages = warning;
INSERT INTO paperclip.companies (id, name) VALUES ('20000000-0000-0000-0000-000000000001', 'wakeup co');
INSERT INTO paperclip.agents (id, company_id, name, runtime_config) VALUES
  ('20000000-0000-0000-0000-0000000000a1', '20000000-0000-0000-0000-000000000001', 'plain', '{}'),
  ('20000000-0000-0000-0000-0000000000a2', '20000000-0000-0000-0000-000000000001', 'all off',
   '{"heartbeat":{"enabled":false,"wakeOnAssignment":false,"wakeOnOnDemand":false,"wakeOnAutomation":false}}'),
  ('20000000-0000-0000-0000-0000000000a3', '20000000-0000-0000-0000-000000000001', 'wrong types',
   '{"heartbeat":{"enabled":"false","wakeOnAssignment":0,"wakeOnAutomation":null}}'),
  ('20000000-0000-0000-0000-0000000000a4', '20000000-0000-0000-0000-000000000001', 'keyed', '{}');
INSERT INTO paperclip.agent_runtime_state (agent_id, company_id, adapter_type, session_id)
  VALUES ('20000000-0000-0000-0000-0000000000a1', '20000000-0000-0000-0000-000000000001', 'process', 'sess-1');

-- a new run: queued, linked both ways with its request
SELECT status, invocation_source, trigger_detail, context_snapshot, session_id_before,
       wakeup_request_id IS NOT NULL AS has_request, started_at IS NULL AS not_started
  FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a1', 'assignment', 'manual',
       'issue assigned', '{"k":"v"}', NULL, 'user', 'u-1', '{"issueId":"i-1"}');
SELECT w.status, w.source, w.trigger_detail, w.reason, w.payload, w.requested_by_actor_type,
       w.requested_by_actor_id, w.coalesced_count, w.finished_at IS NULL AS open,
       w.run_id = r.id AS linked, r.wakeup_request_id = w.id AS back_linked
  FROM paperclip.agent_wakeup_requests w JOIN paperclip.heartbeat_runs r ON r.agent_id = w.agent_id
 WHERE w.agent_id = '20000000-0000-0000-0000-0000000000a1';

-- a second wakeup coalesces into the queued run
SELECT (paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a1', 'automation')).id =
       (SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = '20000000-0000-0000-0000-0000000000a1') AS same_run;
SELECT status, source, coalesced_count, finished_at IS NOT NULL AS finished,
       run_id = (SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = '20000000-0000-0000-0000-0000000000a1') AS linked
  FROM paperclip.agent_wakeup_requests
 WHERE agent_id = '20000000-0000-0000-0000-0000000000a1' ORDER BY status DESC;
SELECT count(*) AS runs FROM paperclip.heartbeat_runs WHERE agent_id = '20000000-0000-0000-0000-0000000000a1';

-- policy skips: NULL, one skipped request with the reason, nothing queued
SELECT paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a2', 'timer') IS NULL AS timer_skipped;
SELECT paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a2', 'assignment') IS NULL AS assignment_skipped;
SELECT paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a2', 'automation') IS NULL AS automation_skipped;
SELECT paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a2', 'on_demand', 'ping') IS NULL AS ping_skipped;
SELECT source, trigger_detail, status, reason, finished_at IS NOT NULL AS finished, run_id IS NULL AS no_run
  FROM paperclip.agent_wakeup_requests WHERE agent_id = '20000000-0000-0000-0000-0000000000a2' ORDER BY reason;
-- on_demand without ping is not subject to wakeOnOnDemand
SELECT status FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a2', 'on_demand', 'manual');

-- values of the wrong JSON type read as the defaults
SELECT status FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a3', 'timer');
SELECT count(*) FILTER (WHERE status = 'skipped') AS skipped
  FROM paperclip.agent_wakeup_requests WHERE agent_id = '20000000-0000-0000-0000-0000000000a3';

-- idempotency: the same key answers with the earlier run and writes nothing
SELECT status FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a4', idempotency_key => 'k-1');
SELECT (paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a4', idempotency_key => 'k-1')).id =
       (SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = '20000000-0000-0000-0000-0000000000a4') AS same_run;
SELECT count(*) AS requests FROM paperclip.agent_wakeup_requests WHERE agent_id = '20000000-0000-0000-0000-0000000000a4';
-- a key used by a skipped request answers NULL again
UPDATE paperclip.agents SET runtime_config = '{"heartbeat":{"wakeOnAutomation":false}}' WHERE id = '20000000-0000-0000-0000-0000000000a4';
SELECT paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a4', 'automation', idempotency_key => 'k-2') IS NULL AS skipped;
UPDATE paperclip.agents SET runtime_config = '{}' WHERE id = '20000000-0000-0000-0000-0000000000a4';
SELECT paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a4', 'automation', idempotency_key => 'k-2') IS NULL AS still_null;
SELECT count(*) AS requests FROM paperclip.agent_wakeup_requests WHERE agent_id = '20000000-0000-0000-0000-0000000000a4';
-- the same key for another agent is another request
SELECT status FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a3', idempotency_key => 'k-1');

-- invoke: a manual on_demand wakeup by default
SELECT status, invocation_source, trigger_detail FROM paperclip.invoke('20000000-0000-0000-0000-0000000000a2');
SELECT status FROM paperclip.invoke('20000000-0000-0000-0000-0000000000a1', 'on_demand', '{}', 'callback', 'agent', 'agent-9');
SELECT status, trigger_detail, requested_by_actor_type, requested_by_actor_id FROM paperclip.agent_wakeup_requests
 WHERE agent_id = '20000000-0000-0000-0000-0000000000a1' AND trigger_detail = 'callback';

-- a wakeup promotes the agent's scheduled retry and coalesces into it
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('20000000-0000-0000-0000-0000000000a5', '20000000-0000-0000-0000-000000000001', 'retrying');
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, scheduled_retry_at, scheduled_retry_attempt, scheduled_retry_reason)
  VALUES ('20000000-0000-0000-0000-0000000000f1', '20000000-0000-0000-0000-000000000001', '20000000-0000-0000-0000-0000000000a5',
          'scheduled_retry', now() + interval '1 hour', 1, 'process_lost');
SELECT id = '20000000-0000-0000-0000-0000000000f1' AS the_retry, status, scheduled_retry_attempt
  FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a5');
SELECT status, coalesced_count FROM paperclip.agent_wakeup_requests WHERE agent_id = '20000000-0000-0000-0000-0000000000a5';

-- a context snapshot and a payload must be JSON objects
SELECT paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a1', context_snapshot => '[1]');
SELECT paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a1', payload => '"text"');
-- a NULL context is the empty object
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('20000000-0000-0000-0000-0000000000a6', '20000000-0000-0000-0000-000000000001', 'fresh');
SELECT context_snapshot FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a6', context_snapshot => NULL);

-- coalescing into a queued run merges the wake's context into the run's, in
-- the same statement: comment ids in arrival order without duplicates (the
-- latest in wakeCommentId), issue ids united (the run keeps its issueId),
-- the wakes' reasons (a context's wakeReason, else the request's reason)
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('20000000-0000-0000-0000-0000000000a7', '20000000-0000-0000-0000-000000000001', 'commented');
SELECT status, context_snapshot FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a7', 'assignment',
       reason => 'issue_assigned', context_snapshot => '{"issueId":"i-1","taskId":"i-1","source":"assign"}');
SELECT context_snapshot FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a7', 'automation',
       reason => 'issue_commented', context_snapshot => '{"issueId":"i-1","wakeCommentId":"c-1","source":"comment"}');
SELECT context_snapshot FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a7', 'automation',
       reason => 'issue_commented', context_snapshot => '{"issueId":"i-2","taskId":"i-2","wakeCommentId":"c-2"}');
SELECT context_snapshot FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a7', 'automation',
       context_snapshot => '{"wakeCommentId":"c-1","wakeReason":"comment_edited"}');
SELECT context_snapshot FROM paperclip.enqueue_wakeup('20000000-0000-0000-0000-0000000000a7', 'timer',
       reason => 'heartbeat_timer', context_snapshot => '{"source":"scheduler"}');
SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'queued') AS queued
  FROM paperclip.heartbeat_runs WHERE agent_id = '20000000-0000-0000-0000-0000000000a7';
SELECT status, reason, coalesced_count, context_snapshot IS NULL AS no_context_kept
  FROM paperclip.agent_wakeup_requests WHERE agent_id = '20000000-0000-0000-0000-0000000000a7'
 ORDER BY requested_at, status DESC;

-- the merge and the news test, as SQL functions
SELECT paperclip.wake_context_merge('{"wakeCommentIds":["c-1","c-2"],"wakeCommentId":"c-2"}',
       '{"wakeCommentIds":["c-3","c-1"],"wakeCommentId":"c-4"}') AS arrays_and_scalars;
SELECT paperclip.wake_context_merge('{"issueId":7}', '{"issueId":7,"issueIds":[8,"x",{"no":"id"},null]}') AS numbers_and_non_ids;
SELECT paperclip.wake_context_merge(NULL, '{"k":1}', 'why') AS from_nothing,
       paperclip.wake_context_merge('{"k":1}', NULL) AS nothing_new,
       paperclip.wake_context_merge('{}', '{}') AS empty;
SELECT paperclip.wake_context_agg(c, r ORDER BY o) AS aggregated
  FROM (VALUES (1, '{"wakeCommentId":"c-1","issueId":"i-1"}'::jsonb, 'issue_commented'),
               (2, '{"wakeCommentId":"c-2","issueId":"i-1"}', 'issue_commented'),
               (3, '{"approvalId":"ap-1"}', 'approval_resolved')) v(o, c, r);
SELECT c AS context, rc AS run_context, paperclip.wake_has_news(c::jsonb, rc::jsonb) AS news
  FROM (VALUES ('{"wakeCommentId":"c-1"}', '{"wakeCommentIds":["c-1"]}'),
               ('{"wakeCommentId":"c-2"}', '{"wakeCommentId":"c-1"}'),
               ('{"wakeCommentIds":["c-1","c-2"]}', '{"wakeCommentIds":["c-1"]}'),
               ('{"issueId":"i-1"}', '{"issueId":"i-1"}'),
               ('{"issueId":"i-2"}', '{"issueId":"i-1"}'),
               ('{"taskId":"i-2"}', '{"issueIds":["i-1","i-2"]}'),
               ('{"issueId":"i-1"}', '{}'),
               ('{"issueId":"i-1"}', NULL),
               ('{"approvalId":"ap-1"}', '{"approvalId":"ap-1"}'),
               ('{"approvalId":"ap-2"}', '{"approvalId":"ap-1"}'),
               ('{"source":"scheduler","now":"2026-01-01"}', '{"issueId":"i-1"}'),
               ('{}', '{}')) v(c, rc);
SELECT paperclip.wake_has_news(NULL, '{}') AS null_context;

DELETE FROM paperclip.heartbeat_run_events;
DELETE FROM paperclip.heartbeat_runs;
DELETE FROM paperclip.agent_wakeup_requests;
DELETE FROM paperclip.agent_runtime_state;
DELETE FROM paperclip.agents;
DELETE FROM paperclip.companies;
