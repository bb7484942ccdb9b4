-- A comment wakes an agent whose run is queued: it coalesces, and (since 0.2)
-- its context is merged into the run's in the same statement. Agents are
-- taken in turn (:agents of them), each with a queued run.
WITH n AS (SELECT nextval('paperclip_bench.next_agent') AS n)
SELECT paperclip.enqueue_wakeup(('00000000-0000-0000-0000-'||lpad(to_hex((n - 1) % :agents + 1), 12, '0'))::uuid,
       'automation', 'callback', 'issue_commented',
       context_snapshot => jsonb_build_object('issueId', 'i-1', 'wakeCommentId', 'c-' || n))
  FROM n;
