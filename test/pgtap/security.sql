-- The security model: roles and grants, company isolation by row-level
-- security and in every API function, hostile search_path objects.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(57);

-- run a statement as a role (logged in as another first, when login is given);
-- its single value, or "ERROR <sqlstate>: <message>"
CREATE FUNCTION pg_temp.as_login(login text, r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    out text;
BEGIN
    IF login IS NOT NULL THEN
        EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', login);
    END IF;
    EXECUTE format('SET LOCAL ROLE %I', r);
    BEGIN
        EXECUTE q INTO out;
    EXCEPTION WHEN OTHERS THEN
        out := 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
    END;
    RESET ROLE;
    RESET SESSION AUTHORIZATION;
    RETURN out;
END $$;
CREATE FUNCTION pg_temp.as_role(r text, q text) RETURNS text LANGUAGE sql AS
  $$ SELECT pg_temp.as_login(NULL, r, q) $$;

CREATE ROLE tap_nobody;
CREATE ROLE tap_alice IN ROLE paperclip_operator;
CREATE ROLE tap_reader IN ROLE paperclip_reader;
CREATE ROLE tap_operator IN ROLE paperclip_operator;
CREATE ROLE tap_admin IN ROLE paperclip_admin;
CREATE ROLE tap_a_operator IN ROLE paperclip_operator;
CREATE ROLE tap_a_admin IN ROLE paperclip_admin;

INSERT INTO paperclip.companies (id, name) VALUES
  ('c0000000-0000-0000-0000-00000000000a', 'company A'), ('c0000000-0000-0000-0000-00000000000b', 'company B');
INSERT INTO paperclip.company_roles (role_id, company_id) VALUES
  ('tap_a_operator', 'c0000000-0000-0000-0000-00000000000a'), ('tap_a_admin', 'c0000000-0000-0000-0000-00000000000a'),
  ('tap_alice', 'c0000000-0000-0000-0000-00000000000a'),
  -- every company (bindings fail closed: a role with no row sees none)
  ('tap_reader', NULL), ('tap_operator', NULL), ('tap_admin', NULL);
INSERT INTO paperclip.agents (id, company_id, name) VALUES
  ('c0000000-0000-0000-0000-0000000000a1', 'c0000000-0000-0000-0000-00000000000a', 'a1'),
  ('c0000000-0000-0000-0000-0000000000a2', 'c0000000-0000-0000-0000-00000000000a', 'a2'),
  ('c0000000-0000-0000-0000-0000000000b1', 'c0000000-0000-0000-0000-00000000000b', 'b1'),
  ('c0000000-0000-0000-0000-0000000000b2', 'c0000000-0000-0000-0000-00000000000b', 'b2');
INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, status) VALUES
  ('c0000000-0000-0000-0000-0000000000fa', 'c0000000-0000-0000-0000-00000000000a', 'c0000000-0000-0000-0000-0000000000a1', 'queued'),
  ('c0000000-0000-0000-0000-0000000000fb', 'c0000000-0000-0000-0000-00000000000b', 'c0000000-0000-0000-0000-0000000000b1', 'queued');

-- roles and what PUBLIC gets: nothing
SELECT has_role('paperclip_reader');
SELECT has_role('paperclip_operator');
SELECT has_role('paperclip_admin');
SELECT ok(pg_has_role('paperclip_admin', 'paperclip_operator', 'MEMBER') AND pg_has_role('paperclip_operator', 'paperclip_reader', 'MEMBER'),
          'admin > operator > reader');
SELECT ok(NOT has_schema_privilege('public', 'paperclip', 'USAGE'), 'PUBLIC cannot use the schema');
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'paperclip'::regnamespace
            AND has_function_privilege('public', oid, 'EXECUTE')), 0::bigint, 'PUBLIC executes no function');
SELECT is((SELECT count(*) FROM pg_class WHERE relnamespace = 'paperclip'::regnamespace AND relkind IN ('r', 'v', 'S')
            AND has_table_privilege('public', oid, 'SELECT,INSERT,UPDATE,DELETE')), 0::bigint, 'PUBLIC touches no table');
SELECT is((SELECT count(*) FROM pg_class WHERE relnamespace = 'paperclip'::regnamespace AND relkind = 'r'
            AND NOT relrowsecurity), 0::bigint, 'every table has row-level security');
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'paperclip'::regnamespace AND prosecdef
            AND NOT coalesce(proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)), 0::bigint,
          'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'paperclip'::regnamespace AND prosecdef), 23::bigint,
          'SECURITY DEFINER only for the 21 writers, visible_companies and the timer count trigger');

-- a role without a paperclip role sees nothing
SELECT matches(pg_temp.as_role('tap_nobody', 'SELECT count(*) FROM paperclip.heartbeat_runs'), '^ERROR 42501', 'no grant: no reading');
SELECT matches(pg_temp.as_role('tap_nobody', $$SELECT (paperclip.enqueue_wakeup('c0000000-0000-0000-0000-0000000000a2')).status$$), '^ERROR 42501', 'no grant: no enqueue');

-- reader: reads, never writes
SELECT is(pg_temp.as_role('tap_reader', 'SELECT count(*) FROM paperclip.heartbeat_runs'), '2', 'a reader reads runs');
SELECT is(pg_temp.as_role('tap_reader', $$SELECT count(*) FROM paperclip.list_runs('c0000000-0000-0000-0000-00000000000b')$$), '1', 'a reader lists runs');
SELECT matches(pg_temp.as_role('tap_reader', $$SELECT (paperclip.enqueue_wakeup('c0000000-0000-0000-0000-0000000000a2')).status$$),
               '^ERROR 42501: permission denied for function enqueue_wakeup', 'a reader cannot enqueue');
SELECT matches(pg_temp.as_role('tap_reader', $$SELECT (paperclip.cancel_run('c0000000-0000-0000-0000-0000000000fa')).status$$),
               '^ERROR 42501', 'a reader cannot cancel');
SELECT matches(pg_temp.as_role('tap_reader', $$UPDATE paperclip.heartbeat_runs SET status = 'succeeded' RETURNING 1$$),
               '^ERROR 42501', 'a reader cannot write a table');

-- operator: enqueues and cancels through the API, never configures
SELECT is(pg_temp.as_role('tap_operator', $$SELECT (paperclip.enqueue_wakeup('c0000000-0000-0000-0000-0000000000a2')).status$$), 'queued', 'an operator enqueues');
SELECT is(pg_temp.as_role('tap_operator', $$SELECT (paperclip.cancel_run(id)).status FROM paperclip.heartbeat_runs WHERE agent_id = 'c0000000-0000-0000-0000-0000000000a2'$$),
          'cancelled', 'an operator cancels');
SELECT matches(pg_temp.as_role('tap_operator', $$UPDATE paperclip.agents SET adapter_config = '{"command":"/bin/sh"}' WHERE name = 'a1' RETURNING 1$$),
               '^ERROR 42501: permission denied for table agents', 'an operator cannot change an adapter config');
SELECT matches(pg_temp.as_role('tap_operator', $$UPDATE paperclip.agents SET adapter_type = 'http' WHERE name = 'a1' RETURNING 1$$),
               '^ERROR 42501', 'an operator cannot change an adapter type');
SELECT matches(pg_temp.as_role('tap_operator', $$INSERT INTO paperclip.agents (company_id, name) VALUES ('c0000000-0000-0000-0000-00000000000a', 'x') RETURNING 1$$),
               '^ERROR 42501', 'an operator cannot create an agent');
SELECT matches(pg_temp.as_role('tap_operator', $$UPDATE paperclip.heartbeat_runs SET status = 'succeeded' RETURNING 1$$),
               '^ERROR 42501', 'an operator cannot write runs but through the API');
SELECT matches(pg_temp.as_role('tap_operator', 'SELECT runs FROM paperclip.prune_expired()'),
               '^ERROR 42501', 'pruning is for admins');

-- admin: configures agents and adapters
SELECT is(pg_temp.as_role('tap_admin', $$UPDATE paperclip.agents SET adapter_config = '{"url":"http://127.0.0.1:9/"}', adapter_type = 'http' WHERE name = 'a1' RETURNING adapter_config->>'url'$$),
          'http://127.0.0.1:9/', 'an admin changes an adapter config');
SELECT matches(pg_temp.as_role('tap_admin', $$UPDATE paperclip.agents SET adapter_config = '{"command":"/bin/true"}', adapter_type = 'process' WHERE name = 'a1' RETURNING 1$$),
               '^ERROR 42501', 'but not one that runs a program: that takes pg_execute_server_program (test/pgtap/agent_isolation.sql)');
SELECT is(pg_temp.as_role('tap_admin', $$SELECT count(*) FROM paperclip.heartbeat_runs$$), '3', 'an admin bound to every company sees every company');
SELECT is(pg_temp.as_role('tap_admin', $$WITH i AS (INSERT INTO paperclip.agents (company_id, name, runtime_config)
            VALUES ('c0000000-0000-0000-0000-00000000000b', 'ticker', '{"heartbeat":{"intervalSec":60}}') RETURNING 1)
          SELECT count(*) FROM i$$) || ' ' || (SELECT agents = (SELECT count(*) FROM paperclip.agents WHERE timer_due_at IS NOT NULL) FROM paperclip.timer_agents),
          '1 true', 'an admin creates an agent with a timer; the timer count follows');
SELECT matches(pg_temp.as_role('tap_admin', $$UPDATE paperclip.timer_agents SET agents = 0 RETURNING 1$$),
               '^ERROR 42501', 'nobody writes the timer count but its triggers');

-- a role bound to company A: sees and touches only A, also through the API
SELECT is(pg_temp.as_role('tap_a_operator', 'SELECT count(DISTINCT company_id) || '' '' || min(company_id::text) FROM paperclip.heartbeat_runs'),
          '1 c0000000-0000-0000-0000-00000000000a', 'company A sees only its runs');
SELECT is(pg_temp.as_role('tap_a_operator', $$SELECT count(*) FROM paperclip.list_runs('c0000000-0000-0000-0000-00000000000b')$$), '0', 'list_runs of B is empty for A');
SELECT is(pg_temp.as_role('tap_a_operator', $$SELECT count(*) FROM paperclip.active_runs WHERE company_id = 'c0000000-0000-0000-0000-00000000000b'$$), '0', 'views honour row-level security');
SELECT is(pg_temp.as_role('tap_a_operator', $$SELECT count(*) FROM paperclip.companies$$), '1', 'company A sees one company');
SELECT matches(pg_temp.as_role('tap_a_operator', $$SELECT (paperclip.cancel_run('c0000000-0000-0000-0000-0000000000fb')).status$$),
               '^ERROR 42501: permission denied for heartbeat run c0000000-0000-0000-0000-0000000000fb$', 'A cannot cancel B''s run');
SELECT is((SELECT status FROM paperclip.heartbeat_runs WHERE id = 'c0000000-0000-0000-0000-0000000000fb'), 'queued', 'B''s run is untouched');
SELECT matches(pg_temp.as_role('tap_a_operator', $$SELECT (paperclip.enqueue_wakeup('c0000000-0000-0000-0000-0000000000b2')).status$$),
               '^ERROR 42501', 'A cannot enqueue for B''s agent');
SELECT matches(pg_temp.as_role('tap_a_operator', $$SELECT (paperclip.finalize_run('c0000000-0000-0000-0000-0000000000fb', '{}')).status$$),
               '^ERROR 42501', 'A cannot finalize B''s run');
SELECT matches(pg_temp.as_role('tap_a_operator', $$SELECT paperclip.append_run_event('c0000000-0000-0000-0000-0000000000fb', 'note')$$),
               '^ERROR 42501', 'A cannot add events to B''s run');
SELECT matches(pg_temp.as_role('tap_a_operator', $$SELECT (paperclip.get_runtime_state('c0000000-0000-0000-0000-0000000000b1')).agent_id$$),
               '^ERROR 42501', 'A cannot read B''s runtime state');
SELECT matches(pg_temp.as_role('tap_a_operator', $$SELECT count(*) FROM paperclip.cancel_active_for_agent('c0000000-0000-0000-0000-0000000000b1')$$),
               '^ERROR 42501', 'A cannot cancel B''s agent');
SELECT matches(pg_temp.as_role('tap_a_operator', $$SELECT (paperclip.log_activity('c0000000-0000-0000-0000-00000000000b', 'user', 'u', 'x', 'issue', 'i')).action$$),
               '^ERROR 42501', 'A cannot log activity for B');
SELECT matches(pg_temp.as_role('tap_a_operator', $$SELECT count(*) FROM paperclip.tick_timers()$$),
               '^ERROR 42501: permission denied for function tick_timers', 'a bound role cannot tick every company''s timers');
SELECT is(pg_temp.as_login('tap_alice', 'paperclip_operator', $$SELECT count(DISTINCT company_id) FROM paperclip.heartbeat_runs$$),
          '1', 'a login bound to A stays bound after SET ROLE to a role bound to every company');
SELECT matches(pg_temp.as_login('tap_alice', 'paperclip_operator', $$SELECT (paperclip.cancel_run('c0000000-0000-0000-0000-0000000000fb')).status$$),
               '^ERROR 42501', 'and cannot cancel B''s run through the API either');
SELECT is(pg_temp.as_login('tap_reader', 'tap_reader', $$SELECT paperclip.visible_companies('tap_a_operator')::text$$),
          '{}', 'nobody learns another role''s bindings');
SELECT is(pg_temp.as_role('tap_a_operator', $$SELECT string_agg(company_id::text, ',') FROM paperclip.claim_runs(10)$$),
          'c0000000-0000-0000-0000-00000000000a', 'claim_runs takes only A''s queued runs');
SELECT is(pg_temp.as_role('tap_a_operator', $$SELECT (paperclip.cancel_run('c0000000-0000-0000-0000-0000000000fa')).status$$), 'cancelled', 'A cancels its own run');
SELECT is(pg_temp.as_role('tap_a_admin', $$WITH u AS (UPDATE paperclip.agents SET name = 'renamed' RETURNING company_id) SELECT count(*) FROM u$$),
          '2', 'an admin bound to A updates only A''s agents');
SELECT matches(pg_temp.as_role('tap_a_admin', $$INSERT INTO paperclip.agents (company_id, name) VALUES ('c0000000-0000-0000-0000-00000000000b', 'intruder') RETURNING 1$$),
               '^ERROR 42501: new row violates row-level security policy', 'an admin bound to A cannot create agents in B');
SELECT is(pg_temp.as_role('tap_a_admin', $$WITH d AS (DELETE FROM paperclip.company_roles WHERE role_id = 'tap_a_admin'::regrole RETURNING 1) SELECT count(*) FROM d$$),
          '0', 'an admin bound to A cannot unbind itself');
SELECT matches(pg_temp.as_role('tap_a_admin', $$INSERT INTO paperclip.company_roles VALUES ('tap_admin', 'c0000000-0000-0000-0000-00000000000a') RETURNING 1$$),
               '^ERROR 42501', 'nor bind other roles');
SELECT is(pg_temp.as_role('tap_admin', $$WITH i AS (INSERT INTO paperclip.company_roles VALUES ('tap_reader', 'c0000000-0000-0000-0000-00000000000b') RETURNING 1) SELECT count(*) FROM i$$),
          '1', 'an admin bound to every company binds roles');

-- hostile search_path: its objects are never called, by the API or by the install script
CREATE SCHEMA evil;
CREATE TABLE evil.calls (what text);
CREATE FUNCTION evil.uuid_eq(uuid, uuid) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO evil.calls VALUES ('uuid ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.uuid_eq);
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO evil.calls VALUES ('now'); RETURN pg_catalog.now(); END$$;
CREATE FUNCTION evil.gen_random_uuid() RETURNS uuid LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO evil.calls VALUES ('gen_random_uuid'); RETURN pg_catalog.gen_random_uuid(); END$$;
SET LOCAL search_path = evil, pg_catalog, public;
SELECT count(*) AS control FROM (SELECT 'c0000000-0000-0000-0000-0000000000a2'::uuid = 'c0000000-0000-0000-0000-0000000000a2'::uuid) c \gset
SELECT id AS evil_run FROM paperclip.enqueue_wakeup('c0000000-0000-0000-0000-0000000000a2') \gset
SELECT count(*) AS listed FROM paperclip.list_runs('c0000000-0000-0000-0000-00000000000a') \gset
SELECT status AS finalized FROM paperclip.finalize_run(:'evil_run', '{"exitCode":0}') \gset
SELECT count(*) AS cancelled FROM paperclip.cancel_active_for_agent('c0000000-0000-0000-0000-0000000000a1') \gset
RESET search_path;
SELECT is((SELECT string_agg(what, ',') FROM evil.calls), 'uuid =', 'the hostile operator is in effect: a plain query calls it');
SELECT is(:'finalized' || ' ' || :'listed', 'succeeded 3', 'the API works under the hostile search_path');
SELECT is((SELECT string_agg(what, ',') FROM evil.calls), 'uuid =', 'and calls none of its objects');
SET LOCAL search_path = evil, pg_catalog, public;
DROP EXTENSION paperclip CASCADE;
CREATE EXTENSION paperclip;
RESET search_path;
SELECT is((SELECT string_agg(what, ',') FROM evil.calls), 'uuid =', 'CREATE EXTENSION under the hostile search_path calls none of its objects');
SELECT has_table('paperclip', 'heartbeat_runs', 'and installs the extension');

SELECT * FROM finish();
ROLLBACK;
