-- issue 16: every index of the runtime tables is used by a query of the
-- extension; each plan is shown here (generic plans, as the C functions'
-- kept plans are), against tables of a live system's shape.
SET client_min_messages = warning;
SET plan_cache_mode = force_generic_plan;
-- the tables here are small (one company, few events): no sequential scans,
-- as the workers plan
SET enable_seqscan = off;
INSERT INTO paperclip.companies (id, name) VALUES ('16000000-0000-0000-0000-000000000001', 'indexes co');
INSERT INTO paperclip.agents (id, company_id, name)
SELECT ('16000000-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid, '16000000-0000-0000-0000-000000000001', 'a' || g
  FROM generate_series(1, 2000) g;
WITH w AS (INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, status, finished_at)
           SELECT company_id, id, 'on_demand', 'completed', now() FROM paperclip.agents
            WHERE company_id = '16000000-0000-0000-0000-000000000001' RETURNING id, agent_id)
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, wakeup_request_id, finished_at, context_snapshot)
SELECT '16000000-0000-0000-0000-000000000001', agent_id, 'succeeded', id, now(),
       jsonb_build_object('issueId', gen_random_uuid()) FROM w;
-- and some scheduled retries
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, scheduled_retry_at, scheduled_retry_attempt)
SELECT company_id, id, 'scheduled_retry', now() + g * interval '1 minute', 1
  FROM paperclip.agents, generate_series(1, 1) g
 WHERE company_id = '16000000-0000-0000-0000-000000000001' AND name LIKE 'a1%';
ANALYZE paperclip.agents, paperclip.heartbeat_runs, paperclip.agent_wakeup_requests, paperclip.heartbeat_run_events;

-- heartbeat_runs_one_active_per_agent_idx, heartbeat_runs_retry_agent_idx: the enqueue probe
PREPARE probe(uuid, uuid) AS SELECT * FROM (
    SELECT r.id, r.status, 0 AS ord, r.created_at FROM paperclip.heartbeat_runs r
     WHERE r.company_id = $1 AND r.agent_id = $2 AND r.status IN ('queued', 'running')
    UNION ALL SELECT r.id, r.status, 1, r.created_at FROM paperclip.heartbeat_runs r
     WHERE r.company_id = $1 AND r.agent_id = $2 AND r.status = 'scheduled_retry') r
  ORDER BY r.ord, r.created_at DESC LIMIT 1;
EXPLAIN (COSTS OFF) EXECUTE probe('16000000-0000-0000-0000-000000000001', '16000000-0000-0000-0000-000000000001');
-- heartbeat_runs_pkey: finalize_run, cancel_run lock the run
PREPARE lock_run(uuid) AS SELECT * FROM paperclip.heartbeat_runs WHERE id = $1 FOR NO KEY UPDATE;
EXPLAIN (COSTS OFF) EXECUTE lock_run('16000000-0000-0000-0000-000000000001');
-- heartbeat_runs_claim_idx: the launcher's claim
PREPARE claim(int) AS SELECT id FROM paperclip.heartbeat_runs WHERE status = 'queued'
  ORDER BY created_at LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED;
EXPLAIN (COSTS OFF) EXECUTE claim(8);
-- heartbeat_runs_retry_due_idx: promote_due_retries
PREPARE due(timestamptz) AS SELECT id FROM paperclip.heartbeat_runs WHERE status = 'scheduled_retry'
  AND scheduled_retry_at <= $1 ORDER BY scheduled_retry_at LIMIT 100;
EXPLAIN (COSTS OFF) EXECUTE due(now());
-- heartbeat_runs_company_agent_created_idx, heartbeat_runs_company_created_idx: list_runs
PREPARE runs_of_agent(uuid, uuid) AS SELECT id FROM paperclip.heartbeat_runs WHERE company_id = $1 AND agent_id = $2
  ORDER BY created_at DESC, id DESC LIMIT 200;
EXPLAIN (COSTS OFF) EXECUTE runs_of_agent('16000000-0000-0000-0000-000000000001', '16000000-0000-0000-0000-000000000001');
PREPARE runs_of_company(uuid) AS SELECT id FROM paperclip.heartbeat_runs WHERE company_id = $1
  ORDER BY created_at DESC, id DESC LIMIT 200;
EXPLAIN (COSTS OFF) EXECUTE runs_of_company('16000000-0000-0000-0000-000000000001');
-- heartbeat_runs_issue_idx: runs_for_issue, backfill_run_liveness (context_issue_id)
PREPARE runs_of_issue(uuid, uuid) AS SELECT id FROM paperclip.heartbeat_runs
  WHERE context_issue_id = $2::text AND company_id = $1;
EXPLAIN (COSTS OFF) EXECUTE runs_of_issue('16000000-0000-0000-0000-000000000001', '16000000-0000-0000-0000-000000000001');
-- heartbeat_runs_prunable_idx: retention
PREPARE prunable(timestamptz) AS SELECT id FROM paperclip.heartbeat_runs
  WHERE pruned_at IS NULL AND finished_at IS NOT NULL AND finished_at < $1 ORDER BY finished_at LIMIT 100;
EXPLAIN (COSTS OFF) EXECUTE prunable(now());
-- heartbeat_runs_wakeup_request_idx: the key to requests when retention deletes them
PREPARE by_request(uuid) AS SELECT 1 FROM paperclip.heartbeat_runs WHERE wakeup_request_id = $1;
EXPLAIN (COSTS OFF) EXECUTE by_request('16000000-0000-0000-0000-000000000001');
-- agent_wakeup_requests_idempotency_idx, _deferred_idx, _finished_idx
PREPARE idem(uuid, text) AS SELECT status, run_id FROM paperclip.agent_wakeup_requests
  WHERE agent_id = $1 AND idempotency_key = $2;
EXPLAIN (COSTS OFF) EXECUTE idem('16000000-0000-0000-0000-000000000001', 'k');
PREPARE deferred_of(uuid) AS SELECT id FROM paperclip.agent_wakeup_requests WHERE status = 'deferred' AND run_id = $1;
EXPLAIN (COSTS OFF) EXECUTE deferred_of('16000000-0000-0000-0000-000000000001');
PREPARE finished(timestamptz) AS SELECT id FROM paperclip.agent_wakeup_requests
  WHERE finished_at IS NOT NULL AND finished_at < $1 ORDER BY finished_at LIMIT 100;
EXPLAIN (COSTS OFF) EXECUTE finished(now());
-- heartbeat_run_events_run_id_seq_key: list_events
PREPARE events(uuid, int) AS SELECT * FROM paperclip.heartbeat_run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT 200;
EXPLAIN (COSTS OFF) EXECUTE events('16000000-0000-0000-0000-000000000001', 0);

-- the indexes of the runtime tables, all accounted for above or as keys
SELECT c.relname AS "table", i.relname AS index
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
 WHERE c.relname IN ('heartbeat_runs', 'agent_wakeup_requests', 'heartbeat_run_events')
   AND c.relnamespace = 'paperclip'::regnamespace
 ORDER BY 1, 2;

-- a coalescing wake merges into its queued run in place (HOT): the run's
-- issue, the only index entry its context feeds, stays the run's
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, context_snapshot)
  VALUES ('16000000-0000-0000-0000-000000000001', '16000000-0000-0000-0000-000000000002', '{"issueId":"i-1"}');
SELECT pg_stat_get_xact_tuples_hot_updated('paperclip.heartbeat_runs'::regclass) AS hot_before;
SELECT count(*) FROM paperclip.enqueue_wakeup('16000000-0000-0000-0000-000000000002', 'automation', 'callback',
       'issue_commented', context_snapshot => '{"issueId":"i-1","wakeCommentId":"c-1"}');
SELECT pg_stat_get_xact_tuples_hot_updated('paperclip.heartbeat_runs'::regclass) AS hot_after,
       context_issue_id, context_snapshot -> 'wakeCommentIds' AS comments
  FROM paperclip.heartbeat_runs WHERE agent_id = '16000000-0000-0000-0000-000000000002' AND status = 'queued';

DEALLOCATE ALL;
DELETE FROM paperclip.heartbeat_runs WHERE company_id = '16000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.agent_wakeup_requests WHERE company_id = '16000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.agents WHERE company_id = '16000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.companies WHERE id = '16000000-0000-0000-0000-000000000001';
