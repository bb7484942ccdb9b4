-- Retention: events and logs of runs finished longer than
-- paperclip.run_retention ago, finished wakeup requests as old; nothing
-- queued, running or scheduled is touched.
SET client_min_messages = warning;
INSERT INTO paperclip.companies (id, name) VALUES ('90000000-0000-0000-0000-000000000001', 'retention co');
INSERT INTO paperclip.agents (id, company_id, name)
SELECT ('90000000-0000-0000-0000-0000000000a' || g)::uuid, '90000000-0000-0000-0000-000000000001', 'agent ' || g
  FROM generate_series(1, 4) g;
-- a1: finished long ago, with events and a log; a2: finished recently;
-- a3: running for ages; a4: a retry scheduled long ago
SELECT count(paperclip.enqueue_wakeup(id)) FROM paperclip.agents WHERE company_id = '90000000-0000-0000-0000-000000000001';
CREATE TEMP VIEW r AS
SELECT substr(agent_id::text, 36)::int AS n, * FROM paperclip.heartbeat_runs
 WHERE company_id = '90000000-0000-0000-0000-000000000001';
SELECT paperclip.append_run_log(id, 'stdout', 'old output') > 0 AS logged FROM r WHERE n IN (1, 2);
SELECT paperclip.append_run_event(id, 'note', 'hello') FROM r ORDER BY n;
SELECT status FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 1), '{}');
SELECT status FROM paperclip.finalize_run((SELECT id FROM r WHERE n = 2), '{}');
UPDATE paperclip.heartbeat_runs SET status = 'running', started_at = now() - interval '90 days' WHERE id = (SELECT id FROM r WHERE n = 3);
UPDATE paperclip.heartbeat_runs SET status = 'scheduled_retry', scheduled_retry_at = now() - interval '60 days' WHERE id = (SELECT id FROM r WHERE n = 4);
-- age everything: a1's run and its wakeup request finished 60 days ago
UPDATE paperclip.heartbeat_runs SET finished_at = now() - interval '60 days' WHERE id = (SELECT id FROM r WHERE n = 1);
UPDATE paperclip.heartbeat_run_events SET created_at = now() - interval '90 days' WHERE company_id = '90000000-0000-0000-0000-000000000001';
UPDATE paperclip.agent_wakeup_requests SET finished_at = now() - interval '60 days', requested_at = now() - interval '90 days'
 WHERE company_id = '90000000-0000-0000-0000-000000000001' AND agent_id = '90000000-0000-0000-0000-0000000000a1';
-- a3's request is still claimed; an old skipped request of a2 goes
UPDATE paperclip.agent_wakeup_requests SET requested_at = now() - interval '90 days'
 WHERE agent_id = '90000000-0000-0000-0000-0000000000a3';
INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, status, reason, finished_at)
VALUES ('90000000-0000-0000-0000-000000000001', '90000000-0000-0000-0000-0000000000a2', 'timer', 'skipped',
        'heartbeat.disabled', now() - interval '45 days');

SELECT runs > 0 AS runs, events >= 3 AS events, log_files >= 1 AS log_files,
       wakeup_requests >= 2 AS wakeup_requests
  FROM paperclip.prune_expired();
SELECT n, status, pruned_at IS NOT NULL AS pruned, log_store IS NULL AS log_gone,
       (SELECT count(*) FROM paperclip.run_log_chunks c WHERE c.run_id = r.id) AS log_rows,
       (SELECT count(*) FROM paperclip.heartbeat_run_events e WHERE e.run_id = r.id) AS events,
       wakeup_request_id IS NULL AS request_gone
  FROM r ORDER BY n;
SELECT agent_id = '90000000-0000-0000-0000-0000000000a2' AS a2, status, count(*)
  FROM paperclip.agent_wakeup_requests WHERE company_id = '90000000-0000-0000-0000-000000000001'
 GROUP BY 1, 2 ORDER BY 1, 2;
-- the pruned log is gone; the recent one is still there
SELECT content FROM paperclip.read_log((SELECT id FROM r WHERE n = 1));
SELECT content LIKE '%"chunk":"old output"%' AS kept FROM paperclip.read_log((SELECT id FROM r WHERE n = 2));
-- a second pass finds nothing more
SELECT * FROM paperclip.prune_expired();
-- bounded batches
SELECT runs FROM paperclip.prune_expired(batch_size => 0);
SELECT * FROM paperclip.prune_expired(NULL);
