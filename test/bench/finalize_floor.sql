-- The floor of finalize_c.sql on our tables: the rows finalize_run writes (the
-- run, its request, its lifecycle event, a cost event, the runtime state, the
-- agent) written by one bare statement.
WITH x AS (SELECT ('10000000-0000-0000-0000-'||lpad(to_hex(nextval('paperclip_bench.next_agent')),12,'0'))::uuid AS run_id),
r AS (UPDATE paperclip.heartbeat_runs h SET status = 'succeeded', finished_at = now(), exit_code = 0,
        usage_json = '{"inputTokens":1200,"outputTokens":340,"costUsd":0.0123}', session_id_after = 's-1',
        finalized_at = now(), event_seq = h.event_seq + 1, updated_at = now()
        FROM x WHERE h.id = x.run_id RETURNING h.id, h.company_id, h.agent_id, h.wakeup_request_id, h.event_seq),
w AS (UPDATE paperclip.agent_wakeup_requests q SET status = 'completed', finished_at = now(), updated_at = now()
        FROM r WHERE q.id = r.wakeup_request_id),
e AS (INSERT INTO paperclip.heartbeat_run_events (company_id, run_id, agent_id, seq, event_type, stream, level, message, payload)
        SELECT company_id, id, agent_id, event_seq, 'lifecycle', 'system', 'info', 'run succeeded',
               '{"status":"succeeded","exitCode":0}' FROM r),
c AS (INSERT INTO paperclip.cost_events (company_id, agent_id, run_id, provider, model, input_tokens, output_tokens, cost_cents, occurred_at)
        SELECT company_id, agent_id, id, 'anthropic', 'claude', 1200, 340, 1, now() FROM r),
s AS (UPDATE paperclip.agent_runtime_state s SET session_id = 's-1', last_run_id = r.id, last_run_status = 'succeeded',
        last_error = NULL, total_input_tokens = s.total_input_tokens + 1200, total_output_tokens = s.total_output_tokens + 340,
        total_cost_cents = s.total_cost_cents + 1.23, updated_at = now() FROM r WHERE s.agent_id = r.agent_id)
UPDATE paperclip.agents a SET status = 'idle', last_heartbeat_at = now(), spent_monthly_cents = a.spent_monthly_cents + 1,
       updated_at = now() FROM r WHERE a.id = r.agent_id;
