-- Bounded retries: which failures are retried, and promotion of due retries
-- (what the scheduler does on each pass) with a virtual "now".
SET client_min_messages = warning;
INSERT INTO paperclip.companies (id, name) VALUES ('80000000-0000-0000-0000-000000000001', 'retries co');
INSERT INTO paperclip.agents (id, company_id, name)
SELECT ('80000000-0000-0000-0000-0000000000a' || g)::uuid, '80000000-0000-0000-0000-000000000001', 'agent ' || g
  FROM generate_series(1, 8) g;
CREATE TEMP VIEW r AS
SELECT substr(agent_id::text, 36)::int AS n, * FROM paperclip.heartbeat_runs
 WHERE company_id = '80000000-0000-0000-0000-000000000001';
SELECT count(paperclip.enqueue_wakeup(id, context_snapshot => '{"issueId":"i-1"}'))
  FROM paperclip.agents WHERE company_id = '80000000-0000-0000-0000-000000000001';

-- which failures get a retry: transient codes and "transient": true only
WITH x(n, result) AS (VALUES
       (1, '{"errorCode":"process_lost","exitCode":1}'::jsonb),
       (2, '{"errorCode":"http_429","errorMessage":"429"}'),
       (3, '{"errorCode":"http_5xx","errorMessage":"503"}'),
       (4, '{"errorCode":"http_connect","errorMessage":"refused"}'),
       (5, '{"errorCode":"http_4xx","errorMessage":"404"}'),
       (6, '{"timedOut":true,"errorCode":"http_5xx"}'),
       (7, '{"exitCode":2,"errorMessage":"boom","transient":true}'),
       (8, '{"exitCode":2,"errorMessage":"boom"}'))
SELECT x.n, (paperclip.finalize_run(r.id, x.result)).status
  FROM x JOIN r ON r.n = x.n AND r.status = 'queued' ORDER BY x.n;
SELECT f.n, f.status, f.error_code, (SELECT count(*) FROM r s WHERE s.retry_of_run_id = f.id) AS retries
  FROM r f WHERE f.status IN ('failed', 'timed_out') ORDER BY f.n;
-- the retries: attempt 1, due in retry_base_delay plus or minus 25 %, the
-- failed run's source and context
SELECT n, status, scheduled_retry_attempt, scheduled_retry_reason, invocation_source, context_snapshot,
       scheduled_retry_at BETWEEN now() + interval '90 s' AND now() + interval '150 s' AS within_jitter
  FROM r WHERE status = 'scheduled_retry' ORDER BY n;

-- not due yet: nothing is promoted
SELECT paperclip.promote_due_retries(now() + interval '80 seconds') AS promoted_early;
-- agent 2 is busy with a run an external runner claimed: its retry waits
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, started_at)
VALUES ('80000000-0000-0000-0000-000000000001', '80000000-0000-0000-0000-0000000000a2', 'running', now());
SELECT paperclip.promote_due_retries(now() + interval '3 minutes') AS promoted;
SELECT n, status, scheduled_retry_attempt FROM r WHERE retry_of_run_id IS NOT NULL ORDER BY n;
-- once agent 2's run is over, its retry is promoted too
SELECT status FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 2 AND status = 'running'), '{}');
SELECT paperclip.promote_due_retries(now() + interval '3 minutes') AS promoted_later;
SELECT n, status FROM r WHERE retry_of_run_id IS NOT NULL AND n = 2;
SELECT paperclip.promote_due_retries(now() + interval '3 minutes') AS nothing_left;

-- a promoted retry runs like any run; the coalescing rules hold
SELECT status, retry_of_run_id IS NOT NULL AS is_the_retry
  FROM paperclip.enqueue_wakeup('80000000-0000-0000-0000-0000000000a1');
SELECT status, coalesced_count FROM paperclip.agent_wakeup_requests
 WHERE agent_id = '80000000-0000-0000-0000-0000000000a1' ORDER BY status;
SELECT count(*) FILTER (WHERE status IN ('queued', 'running')) AS active FROM r WHERE n = 1;

SELECT paperclip.promote_due_retries(NULL);
