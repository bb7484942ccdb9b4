-- Issue 13 and company isolation: what a role bound to one company does to
-- deferred wakes and blocked-issue runs never reaches another company.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(7);

CREATE FUNCTION pg_temp.as_role(r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    out text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    BEGIN
        EXECUTE q INTO out;
    EXCEPTION WHEN OTHERS THEN
        out := 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
    END;
    RESET ROLE;
    RETURN out;
END $$;

CREATE ROLE tap_news_a IN ROLE paperclip_operator;
CREATE ROLE tap_news_reader IN ROLE paperclip_reader;
INSERT INTO paperclip.companies (id, name) VALUES
  ('e0000000-0000-0000-0000-00000000000a', 'news A'), ('e0000000-0000-0000-0000-00000000000b', 'news B');
INSERT INTO paperclip.company_roles (role_id, company_id) VALUES
  ('tap_news_a', 'e0000000-0000-0000-0000-00000000000a'), ('tap_news_reader', 'e0000000-0000-0000-0000-00000000000a');
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('e0000000-0000-0000-0000-0000000000a1', 'e0000000-0000-0000-0000-00000000000a', 'a1'),
  ('e0000000-0000-0000-0000-0000000000b1', 'e0000000-0000-0000-0000-00000000000b', 'b1');
INSERT INTO paperclip.issues (id, company_id, title, status) VALUES
  ('e0000000-0000-0000-0000-0000000000cb', 'e0000000-0000-0000-0000-00000000000b', 'blocked in B', 'blocked');
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status, context_snapshot) VALUES
  ('e0000000-0000-0000-0000-0000000000fb', 'e0000000-0000-0000-0000-00000000000b', 'e0000000-0000-0000-0000-0000000000b1',
   'queued', '{"issueId":"e0000000-0000-0000-0000-0000000000cb"}'),
  ('e0000000-0000-0000-0000-0000000000fa', 'e0000000-0000-0000-0000-00000000000a', 'e0000000-0000-0000-0000-0000000000a1',
   'running', '{"issueId":"i-a"}');

SELECT is(pg_temp.as_role('tap_news_a', $$SELECT count(*) FROM paperclip.claim_runs(10)$$), '0', 'A claims nothing of B');
SELECT is((SELECT status FROM paperclip.heartbeat_runs WHERE id = 'e0000000-0000-0000-0000-0000000000fb'), 'queued',
          'and its claim guard leaves B''s run of a blocked issue alone');
SELECT is(pg_temp.as_role('tap_news_a', $$SELECT status FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000a1',
            context_snapshot => '{"wakeCommentId":"c-1"}')$$), 'running', 'A defers a comment for its running run');
SELECT matches(pg_temp.as_role('tap_news_a', $$SELECT status FROM paperclip.enqueue_wakeup('e0000000-0000-0000-0000-0000000000b1',
            context_snapshot => '{"wakeCommentId":"c-1"}')$$), '^ERROR 42501', 'but not for B''s agent');
SELECT is(pg_temp.as_role('tap_news_reader', $$SELECT paperclip.wake_has_news('{"wakeCommentId":"c"}', '{}')::text$$), 'true',
          'a reader may use the context functions');
SELECT is(pg_temp.as_role('tap_news_reader', $$SELECT count(*) FROM paperclip.list_runs('e0000000-0000-0000-0000-00000000000a', NULL, 1)$$),
          '1', 'and list runs in pages');
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'paperclip'::regnamespace
            AND proname IN ('wake_has_news', 'wake_context_merge', 'wake_context_accum', 'wake_context_agg',
                            'wakeup_request_statuses', 'list_runs')
            AND has_function_privilege('public', oid, 'EXECUTE')), 0::bigint, 'PUBLIC executes none of the new functions');

SELECT * FROM finish();
ROLLBACK;
