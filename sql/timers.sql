-- tick_timers with a given "now": which agents are checked, due, enqueued, skipped.
SET client_min_messages = warning;
INSERT INTO paperclip.companies (id, name) VALUES ('50000000-0000-0000-0000-000000000001', 'timers co');
INSERT INTO paperclip.agents (id, company_id, name, status, runtime_config, last_heartbeat_at) VALUES
  ('50000000-0000-0000-0000-0000000000a1', '50000000-0000-0000-0000-000000000001', 'never beaten', 'idle',
   '{"heartbeat":{"intervalSec":60}}', NULL),
  ('50000000-0000-0000-0000-0000000000a2', '50000000-0000-0000-0000-000000000001', 'due', 'idle',
   '{"heartbeat":{"intervalSec":60}}', '2026-01-01 00:00:00+00'),
  ('50000000-0000-0000-0000-0000000000a3', '50000000-0000-0000-0000-000000000001', 'not due', 'idle',
   '{"heartbeat":{"intervalSec":3600}}', '2026-01-01 00:00:00+00'),
  ('50000000-0000-0000-0000-0000000000a4', '50000000-0000-0000-0000-000000000001', 'no timer', 'idle',
   '{}', NULL),
  ('50000000-0000-0000-0000-0000000000a5', '50000000-0000-0000-0000-000000000001', 'paused', 'paused',
   '{"heartbeat":{"intervalSec":60}}', NULL),
  ('50000000-0000-0000-0000-0000000000a6', '50000000-0000-0000-0000-000000000001', 'disabled', 'idle',
   '{"heartbeat":{"intervalSec":60,"enabled":false}}', NULL),
  ('50000000-0000-0000-0000-0000000000a7', '50000000-0000-0000-0000-000000000001', 'error but due (no timer)', 'error',
   '{"heartbeat":{"intervalSec":60}}', '2026-01-01 00:00:00+00');

SELECT * FROM paperclip.tick_timers('2026-01-01 00:05:00+00');
SELECT a.name, r.status, r.invocation_source, r.trigger_detail, r.context_snapshot
  FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
 WHERE r.company_id = '50000000-0000-0000-0000-000000000001' ORDER BY a.name;
SELECT DISTINCT reason, requested_by_actor_type, requested_by_actor_id, source, trigger_detail
  FROM paperclip.agent_wakeup_requests WHERE company_id = '50000000-0000-0000-0000-000000000001';

-- a second tick while those runs are queued coalesces into them
SELECT * FROM paperclip.tick_timers('2026-01-01 00:05:30+00');
SELECT status, count(*) FROM paperclip.agent_wakeup_requests
 WHERE company_id = '50000000-0000-0000-0000-000000000001' GROUP BY status ORDER BY status;

-- finishing a run moves the agent's deadline: not due until the interval elapsed again
SELECT count(paperclip.finalize_run(id, '{}')) FROM paperclip.heartbeat_runs
 WHERE company_id = '50000000-0000-0000-0000-000000000001' AND status = 'queued';
UPDATE paperclip.agents SET last_heartbeat_at = '2026-01-01 00:06:00+00' WHERE company_id = '50000000-0000-0000-0000-000000000001' AND last_heartbeat_at IS NOT NULL AND name <> 'not due';
SELECT * FROM paperclip.tick_timers('2026-01-01 00:06:30+00');
SELECT * FROM paperclip.tick_timers('2026-01-01 00:07:00+00');

-- a disabled timer agent due by interval: skipped by policy would be counted as skipped,
-- but disabled agents are not checked at all
SELECT name, timer_due_at IS NULL AS no_deadline FROM paperclip.agents
 WHERE company_id = '50000000-0000-0000-0000-000000000001' ORDER BY name;

-- the tick reads only agents that are due, through the deadline index
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM paperclip.agents WHERE timer_due_at <= '2026-01-01 00:00:00+00' ORDER BY timer_due_at;
RESET enable_seqscan;

-- now is required
SELECT * FROM paperclip.tick_timers(NULL);

-- "checked" comes from a count the agents' triggers keep: it follows new
-- agents, timers given and taken away, pauses and deletes
CREATE TEMP VIEW timer_count AS
SELECT (SELECT agents FROM paperclip.timer_agents) AS kept,
       (SELECT count(*) FROM paperclip.agents WHERE timer_due_at IS NOT NULL) AS counted;
SELECT kept = counted AS consistent FROM timer_count;
INSERT INTO paperclip.agents (id, company_id, name, runtime_config) VALUES
  ('50000000-0000-0000-0000-0000000000b1', '50000000-0000-0000-0000-000000000001', 'new timer', '{"heartbeat":{"intervalSec":5}}'),
  ('50000000-0000-0000-0000-0000000000b2', '50000000-0000-0000-0000-000000000001', 'new, no timer', '{}');
SELECT kept = counted AS after_insert FROM timer_count;
UPDATE paperclip.agents SET status = 'paused' WHERE id = '50000000-0000-0000-0000-0000000000b1';
UPDATE paperclip.agents SET runtime_config = '{"heartbeat":{"intervalSec":5}}' WHERE id = '50000000-0000-0000-0000-0000000000b2';
UPDATE paperclip.agents SET last_heartbeat_at = now() WHERE company_id = '50000000-0000-0000-0000-000000000001';
SELECT kept = counted AS after_updates FROM timer_count;
DELETE FROM paperclip.agents WHERE id IN ('50000000-0000-0000-0000-0000000000b1', '50000000-0000-0000-0000-0000000000b2');
SELECT kept = counted AS after_delete FROM timer_count;
SELECT checked = (SELECT counted FROM timer_count) AS tick_reports_it FROM paperclip.tick_timers('2026-01-01 00:00:00+00');

-- an agent in error gets no timer wakes: it has no deadline, so the tick
-- never reads it; a timer wake sent to it all the same is skipped; any other
-- wake queues a run, and once out of error its timer is due again
INSERT INTO paperclip.agents (id, company_id, name, status, runtime_config, last_heartbeat_at) VALUES
  ('50000000-0000-0000-0000-0000000000c1', '50000000-0000-0000-0000-000000000001', 'in error', 'error',
   '{"heartbeat":{"intervalSec":60}}', '2026-01-01 00:00:00+00');
SELECT timer_due_at IS NULL AS no_deadline FROM paperclip.agents WHERE id = '50000000-0000-0000-0000-0000000000c1';
SELECT kept = counted AS consistent FROM timer_count;
SELECT enqueued, skipped FROM paperclip.tick_timers('2026-01-02 00:00:00+00');
SELECT count(*) AS timer_runs FROM paperclip.heartbeat_runs WHERE agent_id = '50000000-0000-0000-0000-0000000000c1';
SELECT paperclip.enqueue_wakeup('50000000-0000-0000-0000-0000000000c1', 'timer') IS NULL AS timer_wake_skipped;
SELECT status, reason FROM paperclip.agent_wakeup_requests WHERE agent_id = '50000000-0000-0000-0000-0000000000c1';
SELECT status, invocation_source FROM paperclip.enqueue_wakeup('50000000-0000-0000-0000-0000000000c1', 'assignment');
SELECT status FROM paperclip.finalize_run((SELECT id FROM paperclip.heartbeat_runs
                                             WHERE agent_id = '50000000-0000-0000-0000-0000000000c1'), '{}');
UPDATE paperclip.agents SET last_heartbeat_at = '2026-01-01 00:00:00+00' WHERE id = '50000000-0000-0000-0000-0000000000c1';
SELECT status, timer_due_at FROM paperclip.agents WHERE id = '50000000-0000-0000-0000-0000000000c1';
SELECT kept = counted AS consistent_again FROM timer_count;
SELECT enqueued FROM paperclip.tick_timers('2026-01-02 00:00:00+00');
SELECT status, invocation_source FROM paperclip.heartbeat_runs
 WHERE agent_id = '50000000-0000-0000-0000-0000000000c1' AND status = 'queued';

DELETE FROM paperclip.heartbeat_run_events;
DELETE FROM paperclip.heartbeat_runs;
DELETE FROM paperclip.agent_wakeup_requests;
DELETE FROM paperclip.agent_runtime_state;
DELETE FROM paperclip.agents;
DELETE FROM paperclip.companies;

SELECT kept AS after_everything_deleted FROM timer_count;
