-- finalize_run: every outcome, usage and cost, session, runtime totals, cost
-- events, agent status, wakeup status, lifecycle events, idempotency, retries.
SET client_min_messages = warning;
INSERT INTO paperclip.companies (id, name) VALUES ('30000000-0000-0000-0000-000000000001', 'finalize co');
INSERT INTO paperclip.agents (id, company_id, name)
SELECT ('30000000-0000-0000-0000-0000000000a' || g)::uuid, '30000000-0000-0000-0000-000000000001', 'agent ' || g
  FROM generate_series(1, 9) g;
-- one queued run for each agent, found by the agent's number
CREATE TEMP VIEW r AS
SELECT substr(agent_id::text, 36)::int AS n, * FROM paperclip.heartbeat_runs
 WHERE company_id = '30000000-0000-0000-0000-000000000001';
SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '30000000-0000-0000-0000-000000000001';

-- 1: succeeded, with usage, cost, session and unknown keys kept in result_json
SELECT status, exit_code, error, error_code, usage_json, result_json, session_id_after,
       finished_at IS NOT NULL AS finished
  FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 1),
       '{"exitCode":0,"usage":{"inputTokens":1200,"outputTokens":340,"cachedInputTokens":800},
         "costUsd":0.0123,"sessionId":"s-1","provider":"anthropic","model":"claude-x",
         "resultJson":{"summary":"done"},"stopReason":"end_turn"}');
SELECT session_id, last_run_status, last_error, total_input_tokens, total_output_tokens,
       total_cached_input_tokens, total_cost_cents
  FROM paperclip.agent_runtime_state WHERE agent_id = '30000000-0000-0000-0000-0000000000a1';
SELECT provider, model, input_tokens, output_tokens, cost_cents FROM paperclip.cost_events
 WHERE agent_id = '30000000-0000-0000-0000-0000000000a1';
SELECT status, spent_monthly_cents, last_heartbeat_at IS NOT NULL AS beat
  FROM paperclip.agents WHERE id = '30000000-0000-0000-0000-0000000000a1';
SELECT status, finished_at IS NOT NULL AS finished FROM paperclip.agent_wakeup_requests
 WHERE agent_id = '30000000-0000-0000-0000-0000000000a1';
SELECT seq, event_type, stream, level, message, payload FROM paperclip.list_events((SELECT id FROM r WHERE n = 1));

-- finalizing again changes nothing: the cost is never counted twice
SELECT status, usage_json FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 1), '{"exitCode":1,"costUsd":5}');
SELECT total_cost_cents, (SELECT count(*) FROM paperclip.cost_events WHERE agent_id = s.agent_id) AS cost_events
  FROM paperclip.agent_runtime_state s WHERE agent_id = '30000000-0000-0000-0000-0000000000a1';

-- 2: a non-zero exit fails with adapter_failed
SELECT status, exit_code, error, error_code FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 2), '{"exitCode":3}');
SELECT status FROM paperclip.agents WHERE id = '30000000-0000-0000-0000-0000000000a2';
SELECT status, error FROM paperclip.agent_wakeup_requests WHERE agent_id = '30000000-0000-0000-0000-0000000000a2';
SELECT message, level FROM paperclip.list_events((SELECT id FROM r WHERE n = 2));

-- 3: an error message fails the run even with exit 0; errorCode is kept
SELECT status, error, error_code FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 3),
       '{"exitCode":0,"errorMessage":"model refused","errorCode":"refused"}');

-- 4: a timeout
SELECT status, error, error_code, signal FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 4),
       '{"timedOut":true,"signal":"SIGKILL"}');
SELECT status FROM paperclip.agent_wakeup_requests WHERE agent_id = '30000000-0000-0000-0000-0000000000a4';
SELECT count(*) AS retries FROM paperclip.heartbeat_runs WHERE agent_id = '30000000-0000-0000-0000-0000000000a4' AND status = 'scheduled_retry';

-- 5: an empty result is a success; the session stays as it was
INSERT INTO paperclip.agent_runtime_state (agent_id, company_id, adapter_type, session_id)
  VALUES ('30000000-0000-0000-0000-0000000000a5', '30000000-0000-0000-0000-000000000001', 'process', 'old');
SELECT status, usage_json, result_json, session_id_after FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 5), '{}');
-- a paused agent stays paused
UPDATE paperclip.agents SET status = 'paused' WHERE id = '30000000-0000-0000-0000-0000000000a5';
UPDATE paperclip.agents SET status = 'idle' WHERE id = '30000000-0000-0000-0000-0000000000a6';
UPDATE paperclip.agents SET status = 'paused' WHERE id = '30000000-0000-0000-0000-0000000000a6';
SELECT status FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 6), '{"exitCode":1}');
SELECT status FROM paperclip.agents WHERE id = '30000000-0000-0000-0000-0000000000a6';

-- 7: clearSession clears the session
INSERT INTO paperclip.agent_runtime_state (agent_id, company_id, adapter_type, session_id)
  VALUES ('30000000-0000-0000-0000-0000000000a7', '30000000-0000-0000-0000-000000000001', 'process', 'old');
SELECT session_id_after FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 7), '{"clearSession":true}');
SELECT session_id IS NULL AS cleared FROM paperclip.agent_runtime_state WHERE agent_id = '30000000-0000-0000-0000-0000000000a7';

-- 8: a transient failure gets a bounded retry
SELECT status, error_code FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 8),
       '{"exitCode":null,"errorCode":"process_lost","errorMessage":"runner lost"}');
SELECT status, scheduled_retry_attempt, scheduled_retry_reason, retry_of_run_id = (SELECT id FROM r WHERE n = 8 AND status = 'failed') AS linked,
       scheduled_retry_at BETWEEN now() + interval '90 seconds' AND now() + interval '150 seconds' AS backoff_2min_25pct,
       invocation_source, context_snapshot
  FROM r WHERE n = 8 AND status = 'scheduled_retry';
SELECT message LIKE 'retry 1 of 4 scheduled in % s (process_lost)' AS retry_event
  FROM paperclip.heartbeat_run_events WHERE run_id = (SELECT id FROM r WHERE n = 8 AND status = 'failed') AND seq = 2;
-- its retry runs and fails again: attempt 2, twice the delay
UPDATE paperclip.heartbeat_runs SET status = 'queued' WHERE agent_id = '30000000-0000-0000-0000-0000000000a8' AND status = 'scheduled_retry';
SELECT status FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 8 AND status = 'queued'), '{"errorMessage":"rate limited","errorCode":"http_429"}');
SELECT scheduled_retry_attempt,
       scheduled_retry_at BETWEEN now() + interval '180 seconds' AND now() + interval '300 seconds' AS backoff_4min_25pct
  FROM r WHERE n = 8 AND status = 'scheduled_retry';
-- the last allowed attempt fails: no more retries, an exhaustion event
SET paperclip.max_retry_attempts = 2;
UPDATE paperclip.heartbeat_runs SET status = 'queued' WHERE agent_id = '30000000-0000-0000-0000-0000000000a8' AND status = 'scheduled_retry';
SELECT status FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 8 AND status = 'queued'), '{"errorMessage":"oops","transient":true}');
SELECT count(*) FILTER (WHERE status = 'scheduled_retry') AS pending_retries,
       count(*) FILTER (WHERE status = 'failed') AS failed
  FROM r WHERE n = 8;
SELECT e.message FROM paperclip.heartbeat_run_events e JOIN r ON r.id = e.run_id
 WHERE r.n = 8 AND e.message LIKE 'Bounded retry exhausted%';
RESET paperclip.max_retry_attempts;

-- 9: a run cancelled while it ran stays cancelled; its result is recorded once
SELECT status FROM paperclip.cancel_run((SELECT id FROM r WHERE n = 9));
SELECT status, error_code, usage_json FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 9),
       '{"exitCode":null,"signal":"SIGTERM","errorCode":"cancelled","usage":{"inputTokens":5},"costUsd":0.02}');
SELECT total_input_tokens, total_cost_cents FROM paperclip.agent_runtime_state WHERE agent_id = '30000000-0000-0000-0000-0000000000a9';
SELECT status FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 9), '{"usage":{"inputTokens":5},"costUsd":0.02}');
SELECT total_input_tokens, total_cost_cents FROM paperclip.agent_runtime_state WHERE agent_id = '30000000-0000-0000-0000-0000000000a9';
SELECT string_agg(message, ', ' ORDER BY seq) FROM paperclip.list_events((SELECT id FROM r WHERE n = 9));

-- the runtime totals equal the sum over the finalized runs
SELECT bool_and(s.total_input_tokens = (SELECT coalesce(sum((x.usage_json->>'inputTokens')::bigint), 0) FROM r x WHERE x.agent_id = s.agent_id))
       AS totals_match
  FROM paperclip.agent_runtime_state s WHERE s.company_id = '30000000-0000-0000-0000-000000000001';

DROP VIEW r;
DELETE FROM paperclip.cost_events;
DELETE FROM paperclip.heartbeat_run_events;
DELETE FROM paperclip.heartbeat_runs;
DELETE FROM paperclip.agent_wakeup_requests;
DELETE FROM paperclip.agent_runtime_state;
DELETE FROM paperclip.agents;
DELETE FROM paperclip.companies;
