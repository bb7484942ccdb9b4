-- Wakes that carry news: a wake naming a comment, an issue or an approval
-- the running run has not seen is deferred; when that run ends, however it
-- ends, the agent's deferred requests become one queued follow-up (into the
-- agent's scheduled retry, if it has one), or are cancelled for a paused or
-- terminated agent. A wake without news coalesces as before.
SET client_min_messages = warning;
INSERT INTO paperclip.companies (id, name) VALUES ('d0000000-0000-0000-0000-000000000001', 'followups co');
INSERT INTO paperclip.agents (id, company_id, name)
SELECT ('d0000000-0000-0000-0000-0000000000a' || g)::uuid, 'd0000000-0000-0000-0000-000000000001', 'agent ' || g
  FROM generate_series(1, 9) g;
INSERT INTO paperclip.issues (id, company_id, title, status, assignee_agent_id) VALUES
  ('d0000000-0000-0000-0000-0000000000c1', 'd0000000-0000-0000-0000-000000000001', 'done already', 'done',
   'd0000000-0000-0000-0000-0000000000a9');
-- runs and requests of the company, by the agent's number
CREATE TEMP VIEW runs AS
SELECT substr(agent_id::text, 36)::int AS n, * FROM paperclip.heartbeat_runs
 WHERE company_id = 'd0000000-0000-0000-0000-000000000001';
CREATE TEMP VIEW requests AS
SELECT substr(agent_id::text, 36)::int AS n, * FROM paperclip.agent_wakeup_requests
 WHERE company_id = 'd0000000-0000-0000-0000-000000000001';
-- agent n's queued run starts, as a runner's claim starts it
CREATE FUNCTION pg_temp.claim(n int) RETURNS text LANGUAGE sql AS $$
  WITH r AS (UPDATE paperclip.heartbeat_runs SET status = 'running', started_at = now()
              WHERE agent_id = ('d0000000-0000-0000-0000-0000000000a' || n)::uuid AND status = 'queued'
             RETURNING wakeup_request_id)
  UPDATE paperclip.agent_wakeup_requests w SET status = 'claimed', claimed_at = now()
    FROM r WHERE w.id = r.wakeup_request_id RETURNING 'running';
$$;
-- agent n is assigned issue i-1 and starts working on it
CREATE FUNCTION pg_temp.start(n int) RETURNS text LANGUAGE sql AS $$
  SELECT status FROM paperclip.enqueue_wakeup(('d0000000-0000-0000-0000-0000000000a' || n)::uuid,
         'assignment', 'manual', 'issue_assigned', context_snapshot => '{"issueId":"i-1"}');
  SELECT pg_temp.claim(n);
$$;
-- a comment on an issue wakes agent n
CREATE FUNCTION pg_temp.comment(n int, comment text, issue text DEFAULT 'i-1') RETURNS text LANGUAGE sql AS $$
  SELECT status FROM paperclip.enqueue_wakeup(('d0000000-0000-0000-0000-0000000000a' || n)::uuid,
         'automation', 'callback', 'issue_commented',
         context_snapshot => jsonb_build_object('issueId', issue, 'wakeCommentId', comment));
$$;
CREATE FUNCTION pg_temp.running(n int) RETURNS uuid LANGUAGE sql AS $$
  SELECT id FROM runs WHERE runs.n = $1 AND status = 'running';
$$;

-- 1: while the run runs, what it has not seen is deferred; the rest coalesces
SELECT pg_temp.start(1);
SELECT pg_temp.comment(1, 'c-1') AS comment_returns_the_running_run;
SELECT status FROM paperclip.enqueue_wakeup('d0000000-0000-0000-0000-0000000000a1', 'assignment', 'system',
       'issue_assigned', context_snapshot => '{"issueId":"i-2"}') AS another_issue;
SELECT status FROM paperclip.enqueue_wakeup('d0000000-0000-0000-0000-0000000000a1', 'on_demand', 'manual',
       'approval_resolved', context_snapshot => '{"approvalId":"ap-1"}') AS an_approval;
SELECT pg_temp.comment(1, 'c-2');
SELECT pg_temp.comment(1, 'c-1') AS the_same_comment_again;
-- no news: a timer, a ping, a wake about the run's own issue
SELECT status FROM paperclip.enqueue_wakeup('d0000000-0000-0000-0000-0000000000a1', 'timer', 'system',
       'heartbeat_timer', context_snapshot => '{"source":"scheduler"}') AS timer;
SELECT status FROM paperclip.enqueue_wakeup('d0000000-0000-0000-0000-0000000000a1', 'on_demand', 'ping') AS ping;
SELECT status FROM paperclip.enqueue_wakeup('d0000000-0000-0000-0000-0000000000a1', 'assignment', 'system',
       context_snapshot => '{"issueId":"i-1"}') AS same_issue;
SELECT status, reason, source, coalesced_count, context_snapshot, finished_at IS NULL AS open,
       run_id = pg_temp.running(1) AS linked_to_the_running_run
  FROM requests WHERE n = 1 ORDER BY requested_at, status;
SELECT count(*) FILTER (WHERE status IN ('queued', 'running')) AS active FROM runs WHERE n = 1;

-- the run succeeds: one queued follow-up with every deferred wake's context,
-- the first request's source and trigger_detail and the first request as its own
SELECT status FROM paperclip.finalize_run(pg_temp.running(1), '{"exitCode":0,"sessionId":"s-1"}');
SELECT status, invocation_source, trigger_detail, context_snapshot, session_id_before,
       wakeup_request_id = (SELECT id FROM requests WHERE n = 1 AND reason = 'issue_commented'
                             ORDER BY requested_at LIMIT 1) AS first_request_is_its_own
  FROM runs WHERE n = 1 ORDER BY created_at;
SELECT r.status, r.reason, r.coalesced_count, r.finished_at IS NOT NULL AS finished,
       f.status AS run_status
  FROM requests r JOIN runs f ON f.id = r.run_id WHERE r.n = 1 ORDER BY r.requested_at, r.status;
-- a wake while the follow-up is queued merges into it
SELECT pg_temp.comment(1, 'c-3') AS queued_follow_up;
SELECT context_snapshot -> 'wakeCommentIds' AS comments, context_snapshot ->> 'wakeCommentId' AS latest
  FROM runs WHERE n = 1 AND status = 'queued';
-- once it runs, a comment it has seen is no news
SELECT pg_temp.claim(1);
SELECT pg_temp.comment(1, 'c-2') AS seen_comment, pg_temp.comment(1, 'c-4') AS new_comment;
SELECT status, count(*) FROM requests WHERE n = 1 AND run_id = pg_temp.running(1) GROUP BY status ORDER BY status;

-- 2: a failed run, 3: a timed out one, 4: a cancelled one: each one follow-up
SELECT pg_temp.start(2), pg_temp.start(3), pg_temp.start(4);
SELECT pg_temp.comment(2, 'c-2'), pg_temp.comment(3, 'c-3'), pg_temp.comment(4, 'c-4');
SELECT status FROM paperclip.finalize_run(pg_temp.running(2), '{"exitCode":1}');
SELECT status FROM paperclip.finalize_run(pg_temp.running(3), '{"timedOut":true}');
SELECT status FROM paperclip.cancel_run(pg_temp.running(4));
SELECT n, status, context_snapshot ->> 'wakeCommentId' AS comment FROM runs WHERE n IN (2, 3, 4)
 ORDER BY n, created_at;
SELECT n, status FROM requests WHERE n IN (2, 3, 4) AND reason = 'issue_commented' ORDER BY n;

-- 5: a run lost transiently gets a retry: the news folds into it (promoted at
-- once, contexts merged), so there is one active run and no second follow-up
SELECT pg_temp.start(5);
SELECT pg_temp.comment(5, 'c-5');
SELECT status FROM paperclip.finalize_run(pg_temp.running(5), '{"errorCode":"process_lost","errorMessage":"lost"}');
SELECT status, retry_of_run_id IS NOT NULL AS is_retry, scheduled_retry_attempt, context_snapshot
  FROM runs WHERE n = 5 ORDER BY created_at;
SELECT status, coalesced_count, run_id = (SELECT id FROM runs WHERE n = 5 AND status = 'queued') AS into_the_retry
  FROM requests WHERE n = 5 AND reason = 'issue_commented';

-- 6: a transient failure with its retries used up: a plain follow-up
SET paperclip.max_retry_attempts = 0;
SELECT pg_temp.start(6);
SELECT pg_temp.comment(6, 'c-6');
SELECT status FROM paperclip.finalize_run(pg_temp.running(6), '{"errorCode":"process_lost","errorMessage":"lost"}');
RESET paperclip.max_retry_attempts;
SELECT status, retry_of_run_id IS NOT NULL AS is_retry, context_snapshot ->> 'wakeCommentId' AS comment
  FROM runs WHERE n = 6 ORDER BY created_at;

-- 7: the agent was paused while it ran: the deferred wakes are cancelled
SELECT pg_temp.start(7);
SELECT pg_temp.comment(7, 'c-7');
UPDATE paperclip.agents SET status = 'paused' WHERE id = 'd0000000-0000-0000-0000-0000000000a7';
SELECT status FROM paperclip.finalize_run(pg_temp.running(7), '{}');
SELECT status, error, finished_at IS NOT NULL AS finished FROM requests WHERE n = 7 AND reason = 'issue_commented';
SELECT count(*) AS runs FROM runs WHERE n = 7;

-- 8: cancel_active_for_agent cancels the deferred wakes with the runs
SELECT pg_temp.start(8);
SELECT pg_temp.comment(8, 'c-8');
SELECT paperclip.cancel_active_for_agent('d0000000-0000-0000-0000-0000000000a8') AS cancelled;
SELECT status, error FROM requests WHERE n = 8 AND reason = 'issue_commented';
SELECT status, count(*) FROM runs WHERE n = 8 GROUP BY status;

-- 9: the agent's scheduled retry is of an issue that is done: it is cancelled
-- (issue_cancelled) and the news gets a plain follow-up
SELECT pg_temp.start(9);
INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, status, context_snapshot,
       scheduled_retry_at, scheduled_retry_attempt, scheduled_retry_reason)
VALUES ('d0000000-0000-0000-0000-000000000001', 'd0000000-0000-0000-0000-0000000000a9', 'scheduled_retry',
        '{"issueId":"d0000000-0000-0000-0000-0000000000c1"}', now() + interval '1 hour', 1, 'process_lost');
SELECT pg_temp.comment(9, 'c-9');
SELECT status FROM paperclip.finalize_run(pg_temp.running(9), '{}');
SELECT status, error_code, context_snapshot ->> 'wakeCommentId' AS comment FROM runs WHERE n = 9
 ORDER BY created_at;

-- an idempotency key answers with the request's run: the running run while
-- deferred, the follow-up after
SELECT (paperclip.enqueue_wakeup('d0000000-0000-0000-0000-0000000000a1', idempotency_key => 'k-1',
        context_snapshot => '{"wakeCommentId":"c-k"}')).id = pg_temp.running(1) AS deferred_for_the_run;
SELECT (paperclip.enqueue_wakeup('d0000000-0000-0000-0000-0000000000a1', idempotency_key => 'k-1')).id = pg_temp.running(1)
       AS replay_gives_the_same;
SELECT status FROM paperclip.finalize_run(pg_temp.running(1), '{}');
SELECT (paperclip.enqueue_wakeup('d0000000-0000-0000-0000-0000000000a1', idempotency_key => 'k-1')).id =
       (SELECT id FROM runs WHERE n = 1 AND status = 'queued') AS replay_gives_the_follow_up;
SELECT context_snapshot -> 'wakeCommentIds' AS comments FROM runs WHERE n = 1 AND status = 'queued';

-- every request ended in a run, a coalesce, a skip or a cancellation
SELECT status, count(*) FROM requests GROUP BY status ORDER BY status;
SELECT count(*) AS deferred_left FROM requests WHERE status = 'deferred';

-- (the company's rows only: later suites read what earlier ones left)
DELETE FROM paperclip.heartbeat_run_events WHERE company_id = 'd0000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.heartbeat_runs WHERE company_id = 'd0000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.agent_wakeup_requests WHERE company_id = 'd0000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.agent_runtime_state WHERE company_id = 'd0000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.issues WHERE company_id = 'd0000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.agents WHERE company_id = 'd0000000-0000-0000-0000-000000000001';
DELETE FROM paperclip.companies WHERE id = 'd0000000-0000-0000-0000-000000000001';
