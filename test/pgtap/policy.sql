-- Heartbeat policy and accounting edge cases.
BEGIN;
SELECT plan(24);

INSERT INTO paperclip.companies (id, name) VALUES ('b0000000-0000-0000-0000-000000000001', 'tap policy');
CREATE FUNCTION pg_temp.agent(n int, runtime_config jsonb DEFAULT '{}') RETURNS uuid LANGUAGE sql AS $$
  INSERT INTO paperclip.agents (id, company_id, name, runtime_config)
  VALUES (('b0000000-0000-0000-0000-0000000000' || lpad(n::text, 2, '0'))::uuid,
          'b0000000-0000-0000-0000-000000000001', 'agent ' || n, runtime_config)
  RETURNING id $$;

-- each policy switch skips only its own source
SELECT is((paperclip.enqueue_wakeup(pg_temp.agent(1, '{"heartbeat":{"enabled":false}}'), 'timer')).id, NULL, 'disabled: timer skipped');
SELECT isnt((paperclip.enqueue_wakeup('b0000000-0000-0000-0000-000000000001'::uuid, 'on_demand')).id, NULL, 'disabled: on_demand still runs');
SELECT is((paperclip.enqueue_wakeup(pg_temp.agent(2, '{"heartbeat":{"wakeOnAssignment":false}}'), 'assignment')).id, NULL, 'wakeOnAssignment false: assignment skipped');
SELECT isnt((paperclip.enqueue_wakeup('b0000000-0000-0000-0000-000000000002'::uuid, 'timer')).id, NULL, 'wakeOnAssignment false: timer runs');
SELECT is((paperclip.enqueue_wakeup(pg_temp.agent(3, '{"heartbeat":{"wakeOnAutomation":false}}'), 'automation')).id, NULL, 'wakeOnAutomation false: automation skipped');
SELECT is((paperclip.enqueue_wakeup(pg_temp.agent(4, '{"heartbeat":{"wakeOnOnDemand":false}}'), 'on_demand', 'ping')).id, NULL, 'wakeOnOnDemand false: ping skipped');
SELECT isnt((paperclip.enqueue_wakeup('b0000000-0000-0000-0000-000000000004'::uuid, 'on_demand', 'manual')).id, NULL, 'wakeOnOnDemand false: manual runs');
SELECT is((SELECT reason FROM paperclip.agent_wakeup_requests WHERE agent_id = 'b0000000-0000-0000-0000-000000000004' AND status = 'skipped'),
  'heartbeat.wakeOnOnDemand.disabled', 'the skip records its reason');

-- wrong JSON types read as the defaults
SELECT isnt((paperclip.enqueue_wakeup(pg_temp.agent(5, '{"heartbeat":{"enabled":"no"}}'), 'timer')).id, NULL, 'enabled "no" (a string) reads as true');
SELECT isnt((paperclip.enqueue_wakeup(pg_temp.agent(6, '{"heartbeat":[false]}'), 'timer')).id, NULL, 'a heartbeat that is not an object reads as defaults');
SELECT is(paperclip.timer_due_at('idle', '{"heartbeat":{"intervalSec":"30"}}', now()), NULL, 'intervalSec "30" (a string) reads as 0: no timer');
SELECT is(paperclip.timer_due_at('idle', '{"heartbeat":{"intervalSec":-5}}', now()), NULL, 'a negative interval is no timer');

-- idempotency
SELECT is((paperclip.enqueue_wakeup(pg_temp.agent(7), idempotency_key => 'once')).id,
          (paperclip.enqueue_wakeup('b0000000-0000-0000-0000-000000000007', idempotency_key => 'once')).id, 'a key answers with its run');
SELECT is((SELECT count(*)::int FROM paperclip.agent_wakeup_requests WHERE agent_id = 'b0000000-0000-0000-0000-000000000007'), 1, 'and writes nothing');
SELECT is((SELECT idempotency_key FROM paperclip.agent_wakeup_requests WHERE agent_id = 'b0000000-0000-0000-0000-000000000007'), 'once', 'the key is stored');

-- accounting
SELECT is((paperclip.finalize_run((SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = 'b0000000-0000-0000-0000-000000000007'),
  '{"costUsd":0.004,"usage":{"inputTokens":1}}')).status, 'succeeded', 'a run under a cent succeeds');
SELECT is((SELECT count(*)::int FROM paperclip.cost_events WHERE agent_id = 'b0000000-0000-0000-0000-000000000007'), 0,
  'a cost that rounds to 0 cents writes no cost event');
SELECT is((SELECT total_cost_cents FROM paperclip.agent_runtime_state WHERE agent_id = 'b0000000-0000-0000-0000-000000000007'), 0.4::numeric(20,6),
  'total_cost_cents keeps the fraction of a cent');
SELECT is((paperclip.finalize_run((SELECT id FROM paperclip.enqueue_wakeup('b0000000-0000-0000-0000-000000000007')),
  '{"costUsd":1.005,"provider":"openai"}')).status, 'succeeded', 'a second run');
SELECT is((SELECT cost_cents FROM paperclip.cost_events WHERE agent_id = 'b0000000-0000-0000-0000-000000000007'), 101, 'cents are rounded half up');
SELECT is((SELECT spent_monthly_cents FROM paperclip.agents WHERE id = 'b0000000-0000-0000-0000-000000000007'), 101, 'spend counts rounded cents');
SELECT is((SELECT model FROM paperclip.cost_events WHERE agent_id = 'b0000000-0000-0000-0000-000000000007'), 'unknown', 'a missing model reads unknown');
SELECT is((paperclip.get_runtime_state('b0000000-0000-0000-0000-000000000007')).last_run_status, 'succeeded', 'get_runtime_state');
SELECT is((paperclip.reset_runtime_session('b0000000-0000-0000-0000-000000000007')).session_id, NULL, 'reset_runtime_session clears the session');

SELECT * FROM finish();
ROLLBACK;
