-- cancel_run and cancel_active_for_agent.
SET client_min_messages = warning;
INSERT INTO paperclip.companies (id, name) VALUES ('40000000-0000-0000-0000-000000000001', 'cancel co');
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('40000000-0000-0000-0000-0000000000a1', '40000000-0000-0000-0000-000000000001', 'a1'),
  ('40000000-0000-0000-0000-0000000000a2', '40000000-0000-0000-0000-000000000001', 'a2'),
  ('40000000-0000-0000-0000-0000000000a3', '40000000-0000-0000-0000-000000000001', 'a3');

-- a queued run is cancelled, with its wakeup, an event, and the agent idle
SELECT status, error, error_code, finished_at IS NOT NULL AS finished
  FROM paperclip.cancel_run((SELECT id FROM paperclip.enqueue_wakeup('40000000-0000-0000-0000-0000000000a1')));
SELECT status, error, finished_at IS NOT NULL AS finished FROM paperclip.agent_wakeup_requests
 WHERE agent_id = '40000000-0000-0000-0000-0000000000a1';
SELECT seq, event_type, level, message FROM paperclip.heartbeat_run_events
 WHERE agent_id = '40000000-0000-0000-0000-0000000000a1';
SELECT status FROM paperclip.agents WHERE id = '40000000-0000-0000-0000-0000000000a1';

-- a finished run is returned unchanged
SELECT status, error_code FROM paperclip.cancel_run((SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = '40000000-0000-0000-0000-0000000000a1'));
SELECT count(*) AS events FROM paperclip.heartbeat_run_events WHERE agent_id = '40000000-0000-0000-0000-0000000000a1';
SELECT status FROM paperclip.cancel_run((SELECT id FROM paperclip.finalize_run(
  (SELECT id FROM paperclip.enqueue_wakeup('40000000-0000-0000-0000-0000000000a2')), '{}')));

-- a cancelled agent can be woken again
SELECT status FROM paperclip.enqueue_wakeup('40000000-0000-0000-0000-0000000000a1');

-- cancel_active_for_agent: every pending run of the agent, with the pause message
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, scheduled_retry_at, scheduled_retry_attempt)
  VALUES ('40000000-0000-0000-0000-000000000001', '40000000-0000-0000-0000-0000000000a3', 'scheduled_retry', now() + interval '1 hour', 1);
SELECT status FROM paperclip.enqueue_wakeup('40000000-0000-0000-0000-0000000000a3');
UPDATE paperclip.agents SET status = 'paused' WHERE id = '40000000-0000-0000-0000-0000000000a3';
SELECT paperclip.cancel_active_for_agent('40000000-0000-0000-0000-0000000000a3') AS cancelled;
SELECT status, error, error_code FROM paperclip.heartbeat_runs
 WHERE agent_id = '40000000-0000-0000-0000-0000000000a3' ORDER BY scheduled_retry_attempt;
SELECT status FROM paperclip.agents WHERE id = '40000000-0000-0000-0000-0000000000a3';
SELECT paperclip.cancel_active_for_agent('40000000-0000-0000-0000-0000000000a3') AS nothing_left;
SELECT paperclip.cancel_active_for_agent('40000000-0000-0000-0000-0000000000a2') AS none_active;

-- the claim guard: a queued run whose context issue is blocked is cancelled
-- at claim (issue_blocked) instead of starting; one that also names an
-- issue that is not blocked (merged wakes) starts
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('40000000-0000-0000-0000-0000000000b1', '40000000-0000-0000-0000-000000000001', 'blocked work'),
  ('40000000-0000-0000-0000-0000000000b2', '40000000-0000-0000-0000-000000000001', 'blocked and open work'),
  ('40000000-0000-0000-0000-0000000000b3', '40000000-0000-0000-0000-000000000001', 'open work');
INSERT INTO paperclip.issues (id, company_id, title, status) VALUES
  ('40000000-0000-0000-0000-0000000000c1', '40000000-0000-0000-0000-000000000001', 'blocked', 'blocked'),
  ('40000000-0000-0000-0000-0000000000c2', '40000000-0000-0000-0000-000000000001', 'open', 'todo');
SELECT count(paperclip.enqueue_wakeup(id, context_snapshot => '{"issueId":"40000000-0000-0000-0000-0000000000c1"}'))
  FROM paperclip.agents WHERE id IN ('40000000-0000-0000-0000-0000000000b1', '40000000-0000-0000-0000-0000000000b2');
SELECT count(paperclip.enqueue_wakeup('40000000-0000-0000-0000-0000000000b2',
       context_snapshot => '{"issueId":"40000000-0000-0000-0000-0000000000c2","wakeCommentId":"x"}'));
SELECT count(paperclip.enqueue_wakeup('40000000-0000-0000-0000-0000000000b3',
       context_snapshot => '{"issueId":"40000000-0000-0000-0000-0000000000c2"}'));
SELECT a.name, r.status FROM paperclip.claim_runs(10) r JOIN paperclip.agents a ON a.id = r.agent_id ORDER BY a.name;
SELECT a.name, r.status, r.error, r.error_code, w.status AS wakeup
  FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
  JOIN paperclip.agent_wakeup_requests w ON w.id = r.wakeup_request_id
 WHERE a.name LIKE '%work' ORDER BY a.name;
SELECT message FROM paperclip.heartbeat_run_events WHERE agent_id = '40000000-0000-0000-0000-0000000000b1';

DELETE FROM paperclip.heartbeat_run_events;
DELETE FROM paperclip.heartbeat_runs;
DELETE FROM paperclip.agent_wakeup_requests;
DELETE FROM paperclip.agent_runtime_state;
DELETE FROM paperclip.issues WHERE company_id = '40000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.agents;
DELETE FROM paperclip.companies;
