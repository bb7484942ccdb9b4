BEGIN;
SELECT id AS agent_id, company_id, status, runtime_config FROM paperclip.agents WHERE id = (SELECT ('00000000-0000-0000-0000-'||lpad(to_hex(nextval('paperclip_bench.next_agent')),12,'0'))::uuid) \gset
SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = :agent_id AND status IN ('queued', 'running') ORDER BY created_at DESC LIMIT 1;
INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, status) VALUES (:company_id, :agent_id, 'on_demand', 'queued') RETURNING id AS req_id \gset
SELECT session_id FROM paperclip.agent_runtime_state WHERE agent_id = :agent_id;
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, invocation_source, status, wakeup_request_id, context_snapshot) VALUES (:company_id, :agent_id, 'on_demand', 'queued', :req_id, '{}') RETURNING id AS run_id \gset
UPDATE paperclip.agent_wakeup_requests SET run_id = :run_id, updated_at = now() WHERE id = :req_id;
UPDATE paperclip.heartbeat_runs SET status = 'succeeded', finished_at = now() WHERE id = :run_id;
END;
