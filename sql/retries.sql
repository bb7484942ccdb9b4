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

-- a retry is not promoted when its issue is cancelled or done, or is now
-- another agent's: it ends cancelled (issue_cancelled / issue_reassigned)
INSERT INTO paperclip.agents (id, company_id, name)
SELECT ('80000000-0000-0000-0000-0000000000b' || g)::uuid, '80000000-0000-0000-0000-000000000001', 'stale ' || g
  FROM generate_series(1, 6) g;
INSERT INTO paperclip.issues (id, company_id, title, status, assignee_agent_id) VALUES
  ('80000000-0000-0000-0000-0000000000c1', '80000000-0000-0000-0000-000000000001', 'cancelled', 'cancelled', '80000000-0000-0000-0000-0000000000b1'),
  ('80000000-0000-0000-0000-0000000000c2', '80000000-0000-0000-0000-000000000001', 'done', 'done', '80000000-0000-0000-0000-0000000000b2'),
  ('80000000-0000-0000-0000-0000000000c3', '80000000-0000-0000-0000-000000000001', 'reassigned', 'in_progress', '80000000-0000-0000-0000-0000000000a1'),
  ('80000000-0000-0000-0000-0000000000c4', '80000000-0000-0000-0000-000000000001', 'unassigned', 'todo', NULL),
  ('80000000-0000-0000-0000-0000000000c5', '80000000-0000-0000-0000-000000000001', 'still mine', 'in_progress', '80000000-0000-0000-0000-0000000000b5');
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, context_snapshot, scheduled_retry_at,
       scheduled_retry_attempt, scheduled_retry_reason)
SELECT '80000000-0000-0000-0000-000000000001', ('80000000-0000-0000-0000-0000000000b' || g)::uuid, 'scheduled_retry',
       jsonb_build_object('issueId', CASE WHEN g = 6 THEN 'not-a-uuid' ELSE '80000000-0000-0000-0000-0000000000c' || g END),
       now() + interval '1 minute', 1, 'process_lost'
  FROM generate_series(1, 6) g;
SELECT paperclip.promote_due_retries(now() + interval '2 minutes') AS promoted;
SELECT a.name, r.status, r.error_code, r.error, r.finished_at IS NOT NULL AS finished
  FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
 WHERE a.name LIKE 'stale %' ORDER BY a.name;
SELECT message FROM paperclip.heartbeat_run_events
 WHERE agent_id = '80000000-0000-0000-0000-0000000000b1' ORDER BY seq;

-- a wakeup that meets a stale retry cancels it and queues its own run
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, context_snapshot, scheduled_retry_at,
       scheduled_retry_attempt, scheduled_retry_reason)
VALUES ('80000000-0000-0000-0000-000000000001', '80000000-0000-0000-0000-0000000000b3', 'scheduled_retry',
        '{"issueId":"80000000-0000-0000-0000-0000000000c3"}', now() + interval '1 hour', 2, 'http_5xx');
SELECT status, retry_of_run_id IS NULL AS not_the_retry, context_snapshot
  FROM paperclip.enqueue_wakeup('80000000-0000-0000-0000-0000000000b3', context_snapshot => '{"issueId":"other"}');
SELECT status, error_code, scheduled_retry_attempt FROM paperclip.heartbeat_runs
 WHERE agent_id = '80000000-0000-0000-0000-0000000000b3' ORDER BY created_at;

-- retryNotBefore (an ISO time in the result) holds the retry back
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('80000000-0000-0000-0000-0000000000d1', '80000000-0000-0000-0000-000000000001', 'rate limited'),
  ('80000000-0000-0000-0000-0000000000d2', '80000000-0000-0000-0000-000000000001', 'flaky');
SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE name IN ('rate limited', 'flaky');
CREATE TEMP VIEW d AS
SELECT a.name, r.* FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id
 WHERE a.name IN ('rate limited', 'flaky');
SELECT to_char((now() + interval '3 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS not_before \gset
SELECT status, error_code, result_json ? 'retryNotBefore' AS kept_in_result FROM paperclip.finalize_run(
  (SELECT id FROM d WHERE name = 'rate limited' AND status = 'queued'),
  jsonb_build_object('errorCode', 'http_429', 'errorMessage', '429', 'retryNotBefore', :'not_before'));
SELECT scheduled_retry_at = :'not_before'::timestamptz AS held_back_until_then
  FROM d WHERE name = 'rate limited' AND status = 'scheduled_retry';
SELECT message ~ '^retry 1 of 4 scheduled in 10[78][0-9][0-9] s \(http_429\)$' AS the_event_says_so
  FROM paperclip.heartbeat_run_events e JOIN d ON d.id = e.run_id
 WHERE d.name = 'rate limited' AND e.message LIKE 'retry%';
SELECT paperclip.promote_due_retries(now() + interval '2 hours') AS not_yet;
-- one that is not a time is refused; one in the past changes nothing
SELECT paperclip.finalize_run((SELECT id FROM d WHERE name = 'flaky' AND status = 'queued'),
       '{"errorCode":"http_5xx","errorMessage":"503","retryNotBefore":"soon"}');
SELECT paperclip.finalize_run((SELECT id FROM d WHERE name = 'flaky' AND status = 'queued'),
       '{"errorCode":"http_5xx","errorMessage":"503","retryNotBefore":1700000000}');
SELECT status, error_code FROM paperclip.finalize_run((SELECT id FROM d WHERE name = 'flaky' AND status = 'queued'),
       '{"errorCode":"http_5xx","errorMessage":"503","retryNotBefore":"2000-01-01T00:00:00Z"}');
SELECT scheduled_retry_at BETWEEN now() + interval '90 s' AND now() + interval '150 s' AS within_jitter
  FROM d WHERE name = 'flaky' AND status = 'scheduled_retry';

-- the exhausted-retry event carries why, which attempt, and the bound
SET paperclip.max_retry_attempts = 1;
SELECT paperclip.promote_due_retries(now() + interval '3 minutes') AS promoted;
SELECT status, scheduled_retry_attempt FROM paperclip.finalize_run(
  (SELECT id FROM d WHERE name = 'flaky' AND status = 'queued'), '{"errorCode":"http_5xx","errorMessage":"503 again"}');
RESET paperclip.max_retry_attempts;
SELECT e.message, e.level, e.payload FROM paperclip.heartbeat_run_events e JOIN d ON d.id = e.run_id
 WHERE d.name = 'flaky' AND e.message LIKE 'Bounded retry exhausted%';

-- (the company's rows only: later suites read what earlier ones left)
DELETE FROM paperclip.heartbeat_run_events WHERE company_id = '80000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.heartbeat_runs WHERE company_id = '80000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.agent_wakeup_requests WHERE company_id = '80000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.agent_runtime_state WHERE company_id = '80000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.issues WHERE company_id = '80000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.agents WHERE company_id = '80000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.companies WHERE id = '80000000-0000-0000-0000-000000000001';
