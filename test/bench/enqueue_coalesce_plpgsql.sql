-- The same coalescing wake through the PL/pgSQL port of the seeds'
-- enqueueWakeup (enqueue_plpgsql.sql): the path before 0.2, a coalesced
-- request and nothing merged. The baseline of enqueue_coalesce_c.sql.
WITH n AS (SELECT nextval('paperclip_bench.next_agent') AS n)
SELECT paperclip_bench.enqueue_wakeup_plpgsql_01(('00000000-0000-0000-0000-'||lpad(to_hex((n - 1) % :agents + 1), 12, '0'))::uuid,
       'automation', 'callback', 'issue_commented',
       p_context => jsonb_build_object('issueId', 'i-1', 'wakeCommentId', 'c-' || n))
  FROM n;
