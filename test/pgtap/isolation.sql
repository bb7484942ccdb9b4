-- Company isolation without holes (issue 11, SQL side), tried as an attacker:
-- runtime tables written only through the API, run logs where the run says,
-- references that cannot cross companies, fail-closed bindings, small errors,
-- and the reviewer's SQL items.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(91);

-- run a statement as a role: for throws_ok (a failure rolls the role back with
-- throws_ok's subtransaction); its single value otherwise
CREATE FUNCTION pg_temp.run_as(r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    out text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    EXECUTE q INTO out;
    RESET ROLE;
    RETURN out;
END $$;
-- as run_as, logged in as another role first
CREATE FUNCTION pg_temp.run_as_login(login text, r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    out text;
BEGIN
    EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', login);
    EXECUTE format('SET LOCAL ROLE %I', r);
    EXECUTE q INTO out;
    RESET ROLE;
    RESET SESSION AUTHORIZATION;
    RETURN out;
END $$;
-- the whole text of the error a statement raises: message, detail, hint
CREATE FUNCTION pg_temp.error_text(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    m text; d text; h text;
BEGIN
    EXECUTE q;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN concat_ws(' | ', m, d, h);
END $$;

CREATE ROLE t11_nobody IN ROLE paperclip_operator;          -- granted, bound to nothing
CREATE ROLE t11_everything IN ROLE paperclip_operator;      -- a NULL row: every company
CREATE ROLE t11_admin IN ROLE paperclip_admin;              -- every company
CREATE ROLE t11_a_admin IN ROLE paperclip_admin;            -- company A
CREATE ROLE t11_a_op IN ROLE paperclip_operator;            -- company A
INSERT INTO paperclip.companies (id, name) VALUES
  ('11000000-0000-0000-0000-00000000000a', 'A'), ('11000000-0000-0000-0000-00000000000b', 'B');
INSERT INTO paperclip.company_roles (role_id, company_id) VALUES
  ('t11_everything', NULL), ('t11_admin', NULL),
  ('t11_a_admin', '11000000-0000-0000-0000-00000000000a'), ('t11_a_op', '11000000-0000-0000-0000-00000000000a');
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('11000000-0000-0000-0000-0000000000a1', '11000000-0000-0000-0000-00000000000a', 'a1'),
  ('11000000-0000-0000-0000-0000000000a2', '11000000-0000-0000-0000-00000000000a', 'a2'),
  ('11000000-0000-0000-0000-0000000000a3', '11000000-0000-0000-0000-00000000000a', 'a3'),
  ('11000000-0000-0000-0000-0000000000a4', '11000000-0000-0000-0000-00000000000a', 'a4'),
  ('11000000-0000-0000-0000-0000000000b1', '11000000-0000-0000-0000-00000000000b', 'b1');
INSERT INTO paperclip.issues (id, company_id, title, hidden_at) VALUES
  ('11000000-0000-0000-0000-0000000000ca', '11000000-0000-0000-0000-00000000000a', 'A''s issue', NULL),
  ('11000000-0000-0000-0000-0000000000cb', '11000000-0000-0000-0000-00000000000b', 'B''s issue', NULL),
  ('11000000-0000-0000-0000-0000000000cc', '11000000-0000-0000-0000-00000000000a', 'A''s hidden issue', now());
SELECT id AS run_a FROM paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a1') \gset
SELECT id AS run_b FROM paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000b1') \gset

-- 1. runtime tables are the extension's: nobody writes them directly, admins included
SELECT throws_ok($$SELECT pg_temp.run_as('t11_admin', $q$INSERT INTO paperclip.heartbeat_runs (company_id, agent_id)
  VALUES ('11000000-0000-0000-0000-00000000000a', '11000000-0000-0000-0000-0000000000a2') RETURNING 1$q$)$$,
  '42501', 'permission denied for table heartbeat_runs', 'an admin cannot insert a run');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_admin', $q$UPDATE paperclip.heartbeat_runs SET agent_pid = pg_backend_pid()
  WHERE id = '$$ || :'run_a' || $$' RETURNING 1$q$)$$,
  '42501', 'permission denied for table heartbeat_runs', 'an admin cannot point a run at a pid');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_admin', $q$DELETE FROM paperclip.heartbeat_runs RETURNING 1$q$)$$,
  '42501', 'permission denied for table heartbeat_runs', 'an admin cannot delete runs');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_admin', $q$INSERT INTO paperclip.heartbeat_run_events (company_id, run_id, agent_id, seq, event_type)
  VALUES ('11000000-0000-0000-0000-00000000000a', '$$ || :'run_a' || $$', '11000000-0000-0000-0000-0000000000a1', 99, 'x') RETURNING 1$q$)$$,
  '42501', 'permission denied for table heartbeat_run_events', 'an admin cannot insert run events');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_admin', $q$INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source)
  VALUES ('11000000-0000-0000-0000-00000000000a', '11000000-0000-0000-0000-0000000000a1', 'timer') RETURNING 1$q$)$$,
  '42501', 'permission denied for table agent_wakeup_requests', 'an admin cannot insert wakeup requests');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_admin', $q$INSERT INTO paperclip.agent_runtime_state (agent_id, company_id, adapter_type)
  VALUES ('11000000-0000-0000-0000-0000000000a2', '11000000-0000-0000-0000-00000000000a', 'process') RETURNING 1$q$)$$,
  '42501', 'permission denied for table agent_runtime_state', 'an admin cannot write runtime state');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_admin', $q$INSERT INTO paperclip.cost_events (company_id, agent_id, provider, model, cost_cents, occurred_at)
  VALUES ('11000000-0000-0000-0000-00000000000a', '11000000-0000-0000-0000-0000000000a1', 'p', 'm', -100, now()) RETURNING 1$q$)$$,
  '42501', 'permission denied for table cost_events', 'an admin cannot write cost events');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_admin', $q$INSERT INTO paperclip.heartbeat_runs (company_id, agent_id)
  VALUES ('11000000-0000-0000-0000-00000000000b', '11000000-0000-0000-0000-0000000000b1') RETURNING 1$q$)$$,
  '42501', 'permission denied for table heartbeat_runs', 'an admin bound to A cannot insert a run for B''s agent');
SELECT is((SELECT count(*) FROM pg_roles r,
                unnest(ARRAY['paperclip.heartbeat_runs', 'paperclip.heartbeat_run_events', 'paperclip.agent_wakeup_requests',
                             'paperclip.agent_runtime_state', 'paperclip.cost_events']) t,
                unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
            WHERE NOT r.rolsuper AND NOT pg_has_role(r.oid, 'pg_write_all_data', 'USAGE') AND (has_table_privilege(r.oid, t, p)
               OR (p IN ('INSERT', 'UPDATE') AND has_any_column_privilege(r.oid, t, p)))),
          0::bigint, 'no role but superusers (and pg_write_all_data) may write a runtime table');
SELECT is(pg_temp.run_as('t11_a_admin', $$WITH i AS (INSERT INTO paperclip.issues (company_id, title)
            VALUES ('11000000-0000-0000-0000-00000000000a', 'new') RETURNING 1) SELECT count(*) FROM i$$),
          '1', 'admins keep the issues (and companies, agents, evidence, bindings)');

-- ... and run logs are where the run says, never where a caller says
SELECT ok(paperclip.append_run_log(:'run_a', 'stdout', 'A''s output') > 0, 'A''s run has a log');
SELECT ok(paperclip.append_run_log(:'run_b', 'stdout', 'B''s secret') > 0, 'B''s run has a log');
SELECT is(paperclip.run_log_path('11000000-0000-0000-0000-00000000000a', :'run_a'),
          current_setting('data_directory') || '/' || current_setting('paperclip.run_log_directory')
          || '/11000000-0000-0000-0000-00000000000a/' || :'run_a' || '.ndjson',
          'a run''s log file in a file store is <run_log_directory>/<company>/<run>.ndjson');
SELECT is((SELECT log_store || ' ' || coalesce(log_ref, '-')
             FROM paperclip.finalize_run(:'run_a', json_build_object('exitCode', 0, 'logStore', 'local_file', 'logCompressed', true,
              'logRef', paperclip.run_log_path('11000000-0000-0000-0000-00000000000b', :'run_b'))::jsonb)),
          'db -', 'finalize_run ignores a forged logStore and logRef: the log stays in the database');
SELECT is((SELECT log_compressed FROM paperclip.heartbeat_runs WHERE id = :'run_a'), false, 'and logCompressed');
SELECT matches((SELECT content FROM paperclip.read_log(:'run_a')), 'A''s output', 'read_log reads the run''s own log');
SELECT doesnt_match((SELECT content FROM paperclip.read_log(:'run_a')), 'secret', 'and nothing of B''s');
UPDATE paperclip.heartbeat_runs SET log_ref = paperclip.run_log_path('11000000-0000-0000-0000-00000000000b', :'run_b')
 WHERE id = :'run_a';
SELECT doesnt_match((SELECT content FROM paperclip.read_log(:'run_a')), 'secret', 'even a log_ref a superuser wrote is not followed');
SELECT throws_ok($$SELECT * FROM pg_temp.run_as('t11_a_op', $q$SELECT content FROM paperclip.read_log('$$ || :'run_b' || $$')$q$)$$,
  'P0002', 'heartbeat run not found', 'a role bound to A cannot read B''s log');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_op', $q$SELECT paperclip.append_run_log('$$ || :'run_b' || $$', 'stdout', 'x')$q$)$$,
  '42501', 'permission denied for heartbeat run ' || :'run_b', 'nor append to it');
SELECT ok(NOT has_function_privilege('paperclip_admin', 'paperclip.run_log_path(uuid, uuid)', 'EXECUTE'),
          'run_log_path is for the launcher: no grant');

-- 2. references stay inside a company (superusers included)
SELECT throws_ok($$INSERT INTO paperclip.heartbeat_runs (company_id, agent_id)
  VALUES ('11000000-0000-0000-0000-00000000000a', '11000000-0000-0000-0000-0000000000b1')$$,
  '23503', NULL, 'a run of company A cannot name B''s agent');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_admin', $q$INSERT INTO paperclip.activity_log (company_id, actor_id, action, entity_type, entity_id, run_id)
  VALUES ('11000000-0000-0000-0000-00000000000a', 'x', 'run.viewed', 'run', 'r', '$$ || :'run_b' || $$') RETURNING 1$q$)$$,
  '23503', NULL, 'activity of A cannot point at B''s run');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_admin', $q$INSERT INTO paperclip.activity_log (company_id, actor_id, action, entity_type, entity_id)
  VALUES ('11000000-0000-0000-0000-00000000000a', 'x', 'issue.updated', 'issue', '11000000-0000-0000-0000-0000000000cb') RETURNING 1$q$)$$,
  '23503', NULL, 'activity of A cannot be about B''s issue');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_admin', $q$INSERT INTO paperclip.activity_log (company_id, actor_id, action, entity_type, entity_id, agent_id)
  VALUES ('11000000-0000-0000-0000-00000000000a', 'x', 'agent.updated', 'agent', 'b1', '11000000-0000-0000-0000-0000000000b1') RETURNING 1$q$)$$,
  '23503', NULL, 'activity of A cannot name B''s agent');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_op', $q$SELECT (paperclip.log_activity('11000000-0000-0000-0000-00000000000a', 'agent', 'a1',
  'issue.linked', 'issue', '11000000-0000-0000-0000-0000000000cb')).id$q$)$$,
  '23503', NULL, 'log_activity for A cannot be about B''s issue');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_op', $q$SELECT (paperclip.log_activity('11000000-0000-0000-0000-00000000000a', 'agent', 'a1',
  'run.viewed', 'run', 'r', run_id => '$$ || :'run_b' || $$')).id$q$)$$,
  '23503', NULL, 'nor point at B''s run');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_admin', $q$INSERT INTO paperclip.issue_comments (company_id, issue_id, body)
  VALUES ('11000000-0000-0000-0000-00000000000a', '11000000-0000-0000-0000-0000000000cb', 'hi') RETURNING 1$q$)$$,
  '23503', NULL, 'a comment of A cannot be on B''s issue');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_admin', $q$INSERT INTO paperclip.issue_work_products (company_id, issue_id, created_by_run_id)
  VALUES ('11000000-0000-0000-0000-00000000000a', '11000000-0000-0000-0000-0000000000ca', '$$ || :'run_b' || $$') RETURNING 1$q$)$$,
  '23503', NULL, 'evidence of A cannot claim B''s run');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_admin', $q$INSERT INTO paperclip.issues (company_id, title, assignee_agent_id)
  VALUES ('11000000-0000-0000-0000-00000000000a', 't', '11000000-0000-0000-0000-0000000000b1') RETURNING 1$q$)$$,
  '23503', NULL, 'an issue of A cannot be assigned to B''s agent');
SELECT isnt((paperclip.log_activity('11000000-0000-0000-0000-00000000000a', 'agent', 'a1', 'issue.updated', 'issue',
              '11000000-0000-0000-0000-0000000000ca', '11000000-0000-0000-0000-0000000000a1', :'run_a')).id, NULL,
            'activity of A about A''s issue, agent and run is fine');
SELECT fk_ok('paperclip', 'heartbeat_runs', ARRAY['company_id', 'agent_id'], 'paperclip', 'agents', ARRAY['company_id', 'id']);
SELECT fk_ok('paperclip', 'agent_wakeup_requests', ARRAY['company_id', 'agent_id'], 'paperclip', 'agents', ARRAY['company_id', 'id']);
SELECT fk_ok('paperclip', 'heartbeat_run_events', ARRAY['company_id', 'run_id'], 'paperclip', 'heartbeat_runs', ARRAY['company_id', 'id']);
SELECT fk_ok('paperclip', 'cost_events', ARRAY['company_id', 'run_id'], 'paperclip', 'heartbeat_runs', ARRAY['company_id', 'id']);
SELECT fk_ok('paperclip', 'agent_runtime_state', ARRAY['company_id', 'agent_id'], 'paperclip', 'agents', ARRAY['company_id', 'id']);
SELECT fk_ok('paperclip', 'activity_log', ARRAY['company_id', 'issue_id'], 'paperclip', 'issues', ARRAY['company_id', 'id']);
SELECT fk_ok('paperclip', 'issue_documents', ARRAY['company_id', 'issue_id'], 'paperclip', 'issues', ARRAY['company_id', 'id']);
SELECT fk_ok('paperclip', 'document_revisions', ARRAY['company_id', 'created_by_run_id'], 'paperclip', 'heartbeat_runs', ARRAY['company_id', 'id']);
SELECT fk_ok('paperclip', 'workspace_operations', ARRAY['company_id', 'heartbeat_run_id'], 'paperclip', 'heartbeat_runs', ARRAY['company_id', 'id']);

-- 3. fail-closed bindings: no row, no company; a NULL row, every company
SELECT is(pg_temp.run_as('t11_nobody', $$SELECT count(*) FROM paperclip.companies$$), '0', 'an unbound role sees no company');
SELECT is(pg_temp.run_as('t11_nobody', $$SELECT count(*) FROM paperclip.heartbeat_runs$$), '0', 'and no run');
SELECT is(pg_temp.run_as('t11_nobody', $$SELECT count(*) FROM paperclip.list_runs('11000000-0000-0000-0000-00000000000a')$$), '0',
          'list_runs shows it nothing');
SELECT is(pg_temp.run_as('t11_nobody', $$SELECT count(*) FROM paperclip.claim_runs(10)$$), '0', 'claim_runs gives it nothing');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_nobody', $q$SELECT (paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a2')).id$q$)$$,
  '42501', 'permission denied for agent 11000000-0000-0000-0000-0000000000a2', 'it touches no agent');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_nobody', $q$SELECT count(*) FROM paperclip.tick_timers()$q$)$$,
  '42501', 'permission denied for function tick_timers', 'nor every company''s timers');
SELECT is(pg_temp.run_as('t11_nobody', $$SELECT paperclip.visible_companies(CURRENT_USER)::text$$), '{}', 'visible_companies: none');
SELECT is(pg_temp.run_as_login('t11_nobody', 'paperclip_operator', $$SELECT count(*) FROM paperclip.companies$$), '0',
          'SET ROLE to an extension role gives an unbound login nothing');
SELECT is(pg_temp.run_as('t11_everything', $$SELECT count(*) FROM paperclip.companies
            WHERE id IN ('11000000-0000-0000-0000-00000000000a', '11000000-0000-0000-0000-00000000000b')$$), '2',
          'a NULL row sees every company');
SELECT is(pg_temp.run_as('t11_everything', $$SELECT paperclip.visible_companies(CURRENT_USER) IS NULL$$), 'true',
          'visible_companies: NULL, every company');
SELECT is(pg_temp.run_as('t11_everything', $$SELECT (paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a2')).status
            || ' ' || (paperclip.cancel_run('$$ || :'run_b' || $$')).status$$), 'queued cancelled', 'and touches every company');
SELECT is(pg_temp.run_as_login('t11_a_op', 'paperclip_operator', $$SELECT count(*) FROM paperclip.companies
            WHERE id IN ('11000000-0000-0000-0000-00000000000a', '11000000-0000-0000-0000-00000000000b')$$), '1',
          'a login bound to A that sets an extension role still sees A only');
SELECT is((SELECT count(*) FROM paperclip.companies WHERE id IN ('11000000-0000-0000-0000-00000000000a', '11000000-0000-0000-0000-00000000000b')),
          2::bigint, 'a superuser sees every company');
SELECT is((SELECT string_agg(role_id::text, ',' ORDER BY role_id::text) FROM paperclip.company_roles
            WHERE company_id IS NULL AND role_id::text LIKE 'paperclip\_%'),
          'paperclip_admin,paperclip_operator,paperclip_reader', 'the extension''s roles narrow nothing (a NULL row each)');
SELECT throws_ok($$INSERT INTO paperclip.company_roles (role_id, company_id) VALUES ('t11_everything', NULL)$$,
  '23505', NULL, 'one NULL row per role');
SELECT throws_ok($$SELECT pg_temp.run_as('t11_a_op', $q$SELECT (paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000b1')).id$q$)$$,
  '42501', 'permission denied for agent 11000000-0000-0000-0000-0000000000b1', 'A cannot wake B''s agent');
SELECT doesnt_match(pg_temp.error_text($$SELECT pg_temp.run_as('t11_a_op', $q$SELECT (paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000b1')).id$q$)$$),
  '11000000-0000-0000-0000-00000000000b', 'and the refusal does not name B''s company');
SELECT doesnt_match(pg_temp.error_text($$SELECT pg_temp.run_as('t11_a_op', $q$SELECT (paperclip.cancel_run('$$ || :'run_b' || $$')).id$q$)$$),
  '11000000-0000-0000-0000-00000000000b', 'nor does a refused cancel');

-- 8. small errors: 10 MB arguments get short refusals
CREATE TEMP TABLE big AS SELECT repeat('x', 10 * 1024 * 1024) AS v;
SELECT throws_ok($$SELECT paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a3', reason => (SELECT v FROM big))$$,
  '54000', 'reason is too long', 'a 10 MB reason');
SELECT throws_ok($$SELECT paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a3', idempotency_key => (SELECT v FROM big))$$,
  '54000', 'idempotency_key is too long', 'a 10 MB idempotency key');
SELECT throws_ok($$SELECT paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a3', requested_by_actor_id => (SELECT v FROM big))$$,
  '54000', 'requested_by_actor_id is too long', 'a 10 MB actor id');
SELECT throws_ok($$SELECT paperclip.invoke('11000000-0000-0000-0000-0000000000a3', actor_id => (SELECT v FROM big))$$,
  '54000', 'actor_id is too long', 'a 10 MB actor id (invoke)');
SELECT throws_ok($$SELECT paperclip.append_run_event('$$ || :'run_a' || $$', (SELECT v FROM big))$$,
  '54000', 'event_type is too long', 'a 10 MB event type');
SELECT throws_ok($$SELECT paperclip.append_run_event('$$ || :'run_a' || $$', 'note', (SELECT v FROM big))$$,
  '54000', 'message is too long', 'a 10 MB event message');
SELECT throws_ok($$SELECT paperclip.append_run_log('$$ || :'run_a' || $$', 'stdout', (SELECT v FROM big))$$,
  '54000', 'chunk is too long', 'a 10 MB log chunk');
SELECT throws_ok($$SELECT paperclip.log_activity('11000000-0000-0000-0000-00000000000a', 'user', 'u', (SELECT v FROM big), 'e', 'i')$$,
  '54000', 'action is too long', 'a 10 MB activity action');
SELECT throws_ok($$SELECT paperclip.log_activity('11000000-0000-0000-0000-00000000000a', 'user', 'u', 'a', 'e', (SELECT v FROM big))$$,
  '54000', 'entity_id is too long', 'a 10 MB entity id');
SELECT cmp_ok(length(pg_temp.error_text($$SELECT paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a3', (SELECT v FROM big))$$)),
  '<', 400, 'a 10 MB source word is refused in a short message (quoted, cut)');
SELECT matches(pg_temp.error_text($$SELECT paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a3', (SELECT v FROM big))$$),
  '^invalid value for source: "x{100}\.\.\."', 'which quotes its first 100 characters');
SELECT cmp_ok(length(pg_temp.error_text($$SELECT paperclip.append_run_log('$$ || :'run_a' || $$', (SELECT v FROM big), 'c')$$)),
  '<', 400, 'a 10 MB stream word too');
SELECT lives_ok($$SELECT paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a3', idempotency_key => repeat('k', 1024))$$,
  'a key of 1024 bytes is accepted');
SELECT throws_ok($$SELECT paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a3', idempotency_key => repeat('k', 1025))$$,
  '54000', NULL, 'one of 1025 bytes is not');
SELECT matches(obj_description('paperclip.enqueue_wakeup(uuid,text,text,text,jsonb,text,text,text,jsonb)'::regprocedure, 'pg_proc'),
  'reason 64 kB; idempotency_key, requested_by_actor_id 1 kB', 'the limits are in the functions'' comments');

-- 9. the reviewer's SQL items
SELECT is((SELECT (SELECT count(*) FROM paperclip.list_runs(w.company_id, w.agent_id))
             FROM paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a4') w)::int, 0,
          'a STABLE function reads in its calling query''s snapshot (read-only SPI): not the run enqueued in that query');
SELECT is((SELECT count(*) FROM paperclip.list_runs('11000000-0000-0000-0000-00000000000a', '11000000-0000-0000-0000-0000000000a4'))::int, 1,
          'the next query sees it');
SELECT ok(paperclip.append_run_log(:'run_a', 'stdout', 'é€𝄞') > 0, 'a log with multi-byte characters');
WITH RECURSIVE page(n, off, content) AS (
    SELECT 0, 0::bigint, ''::text
  UNION ALL
    SELECT p.n + 1, l.next_offset, l.content
      FROM page p, paperclip.read_log(:'run_a', p.off, 1) l
     WHERE p.off IS NOT NULL AND p.n < 100000)
SELECT is((SELECT string_agg(content, '' ORDER BY n) FROM page), (SELECT content FROM paperclip.read_log(:'run_a')),
          'read_log one byte at a time: every page advances, whole characters, and the pages make the log');
SELECT is((SELECT content FROM paperclip.read_log(:'run_a',
             (SELECT octet_length(substr(content, 1, strpos(content, '𝄞') - 1)) FROM paperclip.read_log(:'run_a')), 1)),
          '𝄞', 'a character larger than limit_bytes comes whole');
SELECT is((SELECT next_offset - (SELECT octet_length(substr(content, 1, strpos(content, '𝄞') - 1)) FROM paperclip.read_log(:'run_a'))
             FROM paperclip.read_log(:'run_a',
               (SELECT octet_length(substr(content, 1, strpos(content, '𝄞') - 1)) FROM paperclip.read_log(:'run_a')) + 1, 1)),
          5::bigint, 'an offset inside a character starts at the next one');
SELECT id AS run_c FROM paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a2') \gset
SELECT throws_ok($$SELECT paperclip.finalize_run('$$ || :'run_c' || $$', '{"logBytes":"12"}')$$, '22023', NULL, 'logBytes as a string is 22023');
SELECT throws_ok($$SELECT paperclip.finalize_run('$$ || :'run_c' || $$', '{"logBytes":1.5}')$$, '22023', NULL, 'logBytes 1.5 is 22023');
SELECT throws_ok($$SELECT paperclip.finalize_run('$$ || :'run_c' || $$', '{"logBytes":12345678901234567.5}')$$, '22023', NULL,
  'logBytes with a fraction a double cannot see is 22023');
SELECT throws_ok($$SELECT paperclip.finalize_run('$$ || :'run_c' || $$', '{"logBytes":1e30}')$$, '22023', NULL, 'logBytes beyond a bigint is 22023');
SELECT throws_ok($$SELECT paperclip.finalize_run('$$ || :'run_c' || $$', '{"logBytes":-1}')$$, '22023', NULL, 'a negative logBytes is 22023');
SELECT is((paperclip.finalize_run(:'run_c', '{"logBytes":12.0}')).log_bytes, 12::bigint, 'logBytes 12.0 is 12');
UPDATE paperclip.agents SET spent_monthly_cents = 2147483000 WHERE id = '11000000-0000-0000-0000-0000000000a2';
SELECT is((paperclip.finalize_run((SELECT id FROM paperclip.enqueue_wakeup('11000000-0000-0000-0000-0000000000a2')), '{"costUsd":1000}')).status,
          'succeeded', 'a run that would overflow spent_monthly_cents succeeds');
SELECT is((SELECT spent_monthly_cents FROM paperclip.agents WHERE id = '11000000-0000-0000-0000-0000000000a2'), 2147483647,
          'spent_monthly_cents stops at its largest value');
SELECT is((SELECT sum(cost_cents) FROM paperclip.cost_events WHERE agent_id = '11000000-0000-0000-0000-0000000000a2'), 100000::bigint,
          'the cost event keeps the exact cost');
SELECT isnt((paperclip.log_activity('11000000-0000-0000-0000-00000000000a', 'user', 'u', 'issue.updated', 'issue',
              '11000000-0000-0000-0000-0000000000cc')).id, NULL, 'activity about a hidden issue');
SELECT is((SELECT count(*) FROM paperclip.activity_for_issue('11000000-0000-0000-0000-0000000000cc'))::int, 0,
          'activity_for_issue leaves a hidden issue out');
SELECT is((SELECT count(*) FROM paperclip.activity_for_issue('11000000-0000-0000-0000-0000000000ca'))::int, 1,
          'and shows a visible one');

SELECT * FROM finish();
ROLLBACK;
