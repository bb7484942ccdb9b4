-- The floor on our tables: the request and the run of enqueue_c.sql written by
-- one bare statement, then the run marked finished.
BEGIN;
WITH r AS (SELECT gen_random_uuid() AS run_id, ('00000000-0000-0000-0000-'||lpad(to_hex(nextval('paperclip_bench.next_agent')),12,'0'))::uuid AS agent_id),
w AS (INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, run_id)
      SELECT '00000000-0000-0000-0000-000000000001', agent_id, 'on_demand', run_id FROM r
      RETURNING id, run_id, agent_id)
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, invocation_source, wakeup_request_id, context_snapshot)
SELECT run_id, '00000000-0000-0000-0000-000000000001', agent_id, 'on_demand', id, '{}' FROM w
RETURNING id AS run_id \gset
UPDATE paperclip.heartbeat_runs SET status = 'succeeded', finished_at = now() WHERE id = :run_id;
END;
