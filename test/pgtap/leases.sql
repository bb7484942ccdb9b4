-- paperclip_worker's SQL API (issue 15): its claim records the worker and a
-- lease and returns the runner spec; queued runs that cannot start end
-- first; renewals; a result recorded only while the worker holds the run
-- (PC001 otherwise, and nothing counted), the same result twice counted
-- once; a lapsed lease fails the run process_lost and retries it; bound
-- roles claim and renew only their companies' runs; grants and comments.
-- One transaction: now() does not move, so leases compare exactly.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(54);

-- a statement as a role: its single value, or "ERROR <sqlstate>: <message>"
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

CREATE ROLE tap_w_all IN ROLE paperclip_operator;
CREATE ROLE tap_w_a IN ROLE paperclip_operator;
CREATE ROLE tap_w_admin IN ROLE paperclip_admin;
INSERT INTO paperclip.companies (id, name) VALUES
  ('d1000000-0000-0000-0000-00000000000a', 'leases A'), ('d1000000-0000-0000-0000-00000000000b', 'leases B');
INSERT INTO paperclip.company_roles (role_id, company_id) VALUES
  ('tap_w_all', NULL), ('tap_w_admin', NULL), ('tap_w_a', 'd1000000-0000-0000-0000-00000000000a');
INSERT INTO paperclip.agents (id, company_id, name, adapter_config, status, budget_monthly_cents, spent_monthly_cents) VALUES
  ('d1000000-0000-0000-0000-0000000000a1', 'd1000000-0000-0000-0000-00000000000a', 'a1', '{"command":"/bin/true"}', 'idle', 0, 0),
  ('d1000000-0000-0000-0000-0000000000a2', 'd1000000-0000-0000-0000-00000000000a', 'a2', '{"command":"/bin/true"}', 'idle', 0, 0),
  ('d1000000-0000-0000-0000-0000000000a3', 'd1000000-0000-0000-0000-00000000000a', 'a3 over budget', '{"command":"/bin/true"}', 'idle', 100, 100),
  ('d1000000-0000-0000-0000-0000000000a4', 'd1000000-0000-0000-0000-00000000000a', 'a4 paused later', '{"command":"/bin/true"}', 'idle', 0, 0),
  ('d1000000-0000-0000-0000-0000000000b1', 'd1000000-0000-0000-0000-00000000000b', 'b1', '{"command":"/bin/true"}', 'idle', 0, 0),
  ('d1000000-0000-0000-0000-0000000000b2', 'd1000000-0000-0000-0000-00000000000b', 'b2 paused later', '{"command":"/bin/true"}', 'idle', 0, 0);
SELECT is((SELECT count(paperclip.enqueue_wakeup(id, reason => 'lease test'))::int
  FROM paperclip.agents WHERE company_id IN ('d1000000-0000-0000-0000-00000000000a', 'd1000000-0000-0000-0000-00000000000b')), 6,
  'six runs queued');
UPDATE paperclip.agents SET status = 'paused'
 WHERE id IN ('d1000000-0000-0000-0000-0000000000a4', 'd1000000-0000-0000-0000-0000000000b2');
-- the agent's run in this test (not its retry; a cancelled one only when it
-- has no other: every run of this transaction was created at now())
CREATE FUNCTION pg_temp.run_of(agent uuid) RETURNS uuid LANGUAGE sql AS
  $$ SELECT id FROM paperclip.heartbeat_runs WHERE agent_id = agent
      ORDER BY retry_of_run_id IS NOT NULL, status = 'cancelled' LIMIT 1 $$;
CREATE FUNCTION pg_temp.run(agent uuid) RETURNS paperclip.heartbeat_runs LANGUAGE sql AS
  $$ SELECT * FROM paperclip.heartbeat_runs WHERE id = pg_temp.run_of(agent) $$;

-- --- the claim
SELECT is(pg_temp.as_role('tap_w_a', $$SELECT string_agg(spec ->> 'agentId', ',' ORDER BY spec ->> 'agentId')
    FROM paperclip.worker_claim_runs('w-a', 10)$$),
  'd1000000-0000-0000-0000-0000000000a1,d1000000-0000-0000-0000-0000000000a2',
  'a worker bound to company A claims only A''s runs that can start');
SELECT is((pg_temp.run('d1000000-0000-0000-0000-0000000000a3')).status || ' ' || (pg_temp.run('d1000000-0000-0000-0000-0000000000a3')).error_code,
  'failed budget_blocked', 'finding fewer runs than asked, its claim fails the queued run of an agent over budget');
SELECT is((pg_temp.run('d1000000-0000-0000-0000-0000000000a4')).status, 'cancelled',
  'and cancels the queued run of a paused agent');
SELECT is((pg_temp.run('d1000000-0000-0000-0000-0000000000b2')).status, 'queued',
  'another company''s blocked run is not its to end');
SELECT is((pg_temp.run('d1000000-0000-0000-0000-0000000000b1')).status, 'queued', 'nor is another company''s run its to claim');
SELECT is((SELECT string_agg(status || ' ' || worker_name || ' ' || (lease_expires_at = now() + interval '30 s')::text, ',')
             FROM paperclip.heartbeat_runs WHERE agent_id IN ('d1000000-0000-0000-0000-0000000000a1', 'd1000000-0000-0000-0000-0000000000a2')),
  'running w-a true,running w-a true', 'the claimed runs are running, held by the worker, leased for paperclip.worker_lease (30 s)');
SELECT is((SELECT count(*)::int FROM paperclip.heartbeat_run_events e
            WHERE e.run_id = pg_temp.run_of('d1000000-0000-0000-0000-0000000000a1') AND e.message = 'run started'), 1,
  'a claimed run has its "run started" event');
SELECT is((SELECT w.status FROM paperclip.agent_wakeup_requests w
            WHERE w.id = (pg_temp.run('d1000000-0000-0000-0000-0000000000a1')).wakeup_request_id), 'claimed', 'and its wakeup is claimed');
SELECT is((pg_temp.run('d1000000-0000-0000-0000-0000000000a1')).runner_pid, NULL, 'no launcher runner is recorded');

SELECT is(pg_temp.as_role('tap_w_all', $$SELECT spec::text FROM paperclip.worker_claim_runs('w-all', 1)$$)::jsonb
            - 'runId' - 'agentIsolation' - 'agentOsUser' - 'agentHome' - 'maxLogBytes' - 'agentMaxProcesses',
  '{"agentId": "d1000000-0000-0000-0000-0000000000b1", "companyId": "d1000000-0000-0000-0000-00000000000b",
    "adapterType": "process", "config": {"command": "/bin/true"}, "context": {}, "sessionId": null,
    "sessionParams": null, "agentName": "b1", "runSource": "on_demand", "wakeReason": "lease test",
    "allowedCommands": [], "allowedHttpHosts": [], "httpAllowPrivateNetworks": false}'::jsonb,
  'the spec is the launcher''s, without the paths of the worker''s machine');
SELECT ok(pg_temp.as_role('tap_w_all', $$SELECT count(*) FROM paperclip.worker_claim_runs('w-all', 10)$$) = '0',
  'a run is claimed once: nothing is left to claim');
SELECT is((pg_temp.run('d1000000-0000-0000-0000-0000000000b2')).status, 'cancelled',
  'a worker that sees every company ended the other company''s blocked run');
SELECT ok((SELECT spec FROM paperclip.worker_claim_runs('x', 0) LIMIT 1) IS NULL, 'max_runs 0 claims nothing');

-- --- renewals
UPDATE paperclip.heartbeat_runs SET lease_expires_at = now() + interval '1 s'
 WHERE id = pg_temp.run_of('d1000000-0000-0000-0000-0000000000a1');
SELECT is(pg_temp.as_role('tap_w_a', format($$SELECT string_agg(coalesce(status, '-') || ' ' || held, ',' ORDER BY n)
    FROM paperclip.worker_renew_leases('w-a', ARRAY[%L, %L, %L]::uuid[]) WITH ORDINALITY AS x(run_id, status, held, n)$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000a1'), pg_temp.run_of('d1000000-0000-0000-0000-0000000000b1'),
    '00000000-0000-0000-0000-000000000000')),
  'running true,- false,- false', 'a renewal answers every run asked: held, another company''s (unseen), unknown');
SELECT is((pg_temp.run('d1000000-0000-0000-0000-0000000000a1')).lease_expires_at, now() + interval '30 s',
  'a run still held gets a new lease');
SELECT is(pg_temp.as_role('tap_w_all', format($$SELECT status || ' ' || held FROM paperclip.worker_renew_leases('w-other', ARRAY[%L]::uuid[])$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000a1'))),
  'running false', 'another worker does not hold it');

-- --- results
SELECT matches(pg_temp.as_role('tap_w_all', format($$SELECT status FROM paperclip.worker_finalize_run('w-other', %L, '{"costUsd":1}')$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000a1'))),
  '^ERROR PC001: heartbeat run [0-9a-f-]+ is not held by worker "w-other"$', 'another worker''s result is refused (PC001)');
SELECT is(pg_temp.as_role('tap_w_a', format($$SELECT status FROM paperclip.worker_finalize_run('w-a', %L,
    '{"costUsd":0.25,"usage":{"inputTokens":7},"logBytes":99}')$$, pg_temp.run_of('d1000000-0000-0000-0000-0000000000a1'))),
  'succeeded', 'the holder''s result is recorded');
SELECT is((SELECT spent_monthly_cents FROM paperclip.agents WHERE id = 'd1000000-0000-0000-0000-0000000000a1'), 25, 'its cost is counted');
SELECT ok((pg_temp.run('d1000000-0000-0000-0000-0000000000a1')).finalized_at <= (pg_temp.run('d1000000-0000-0000-0000-0000000000a1')).lease_expires_at,
  'within its lease');
SELECT is(pg_temp.as_role('tap_w_a', format($$SELECT status FROM paperclip.worker_finalize_run('w-a', %L, '{"costUsd":0.25}')$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000a1'))),
  'succeeded', 'the same result delivered again returns the run');
SELECT is((SELECT spent_monthly_cents FROM paperclip.agents WHERE id = 'd1000000-0000-0000-0000-0000000000a1'), 25, 'and counts nothing twice');
SELECT is(pg_temp.as_role('tap_w_a', format($$SELECT status || ' ' || held FROM paperclip.worker_renew_leases('w-a', ARRAY[%L]::uuid[])$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000a1'))),
  'succeeded false', 'a finalized run is held no more');

-- --- a lease that lapsed
UPDATE paperclip.heartbeat_runs SET lease_expires_at = now() - interval '1 s'
 WHERE id = pg_temp.run_of('d1000000-0000-0000-0000-0000000000a2');
SELECT matches(pg_temp.as_role('tap_w_a', format($$SELECT status FROM paperclip.worker_finalize_run('w-a', %L, '{"costUsd":0.5}')$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000a2'))),
  '^ERROR PC001: heartbeat run [0-9a-f-]+ is not held by worker "w-a"$', 'a result after the lease lapsed is refused, before the scheduler acts');
SELECT is(pg_temp.as_role('tap_w_a', format($$SELECT status || ' ' || held FROM paperclip.worker_renew_leases('w-a', ARRAY[%L]::uuid[])$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000a2'))),
  'running false', 'and a lapsed lease is not renewed: the worker must stop the run');
SELECT matches(pg_temp.as_role('tap_w_a', 'SELECT paperclip.expire_worker_leases()'), '^ERROR 42501',
  'expire_worker_leases is for admins');
SELECT is(pg_temp.as_role('tap_w_admin', 'SELECT paperclip.expire_worker_leases()'), '1', 'it fails the run whose lease lapsed');
SELECT is((pg_temp.run('d1000000-0000-0000-0000-0000000000a2')).status || ' ' || (pg_temp.run('d1000000-0000-0000-0000-0000000000a2')).error_code,
  'failed process_lost', 'as process_lost');
SELECT ok((pg_temp.run('d1000000-0000-0000-0000-0000000000a2')).error LIKE 'worker "w-a" lost its lease on the run%', 'naming the worker');
SELECT ok((pg_temp.run('d1000000-0000-0000-0000-0000000000a2')).finalized_at > (pg_temp.run('d1000000-0000-0000-0000-0000000000a2')).lease_expires_at,
  'after its lease');
SELECT is((SELECT status || ' ' || scheduled_retry_reason FROM paperclip.heartbeat_runs
            WHERE retry_of_run_id = pg_temp.run_of('d1000000-0000-0000-0000-0000000000a2')),
  'scheduled_retry process_lost', 'and retries it as any lost run');
SELECT matches(pg_temp.as_role('tap_w_a', format($$SELECT status FROM paperclip.worker_finalize_run('w-a', %L, '{"costUsd":0.5}')$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000a2'))),
  '^ERROR PC001: .*', 'the late result is refused');
SELECT is((SELECT spent_monthly_cents || ' ' || (SELECT count(*) FROM paperclip.cost_events c WHERE c.agent_id = a.id)
             FROM paperclip.agents a WHERE id = 'd1000000-0000-0000-0000-0000000000a2'), '0 0', 'and counts nothing');
SELECT is((pg_temp.run('d1000000-0000-0000-0000-0000000000a2')).status, 'failed', 'the run stays failed');
SELECT is(paperclip.expire_worker_leases(), 0, 'a lapsed lease is expired once');

-- --- a run cancelled while the worker holds it
SELECT is((paperclip.cancel_run(pg_temp.run_of('d1000000-0000-0000-0000-0000000000b1'))).status, 'cancelled', 'a held run is cancelled');
SELECT is(pg_temp.as_role('tap_w_all', format($$SELECT status || ' ' || held FROM paperclip.worker_renew_leases('w-all', ARRAY[%L]::uuid[])$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000b1'))),
  'cancelled true', 'the renewal tells the worker, which stops it and still holds it');
SELECT is(pg_temp.as_role('tap_w_all', format($$SELECT status FROM paperclip.worker_finalize_run('w-all', %L, '{"costUsd":0.03,"errorCode":"cancelled"}')$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000b1'))),
  'cancelled', 'its result is recorded; the run stays cancelled');
SELECT is((SELECT spent_monthly_cents FROM paperclip.agents WHERE id = 'd1000000-0000-0000-0000-0000000000b1'), 3, 'what it spent is counted');

-- --- runs no worker holds
UPDATE paperclip.agents SET status = 'idle' WHERE id = 'd1000000-0000-0000-0000-0000000000b2';
SELECT is((paperclip.enqueue_wakeup('d1000000-0000-0000-0000-0000000000b2')).status, 'queued', 'a new run for b2');
SELECT is((SELECT (worker_name IS NULL AND lease_expires_at IS NULL)::text FROM paperclip.claim_runs(1)), 'true',
  'claim_runs claims as before: no worker, no lease');
SELECT is(paperclip.expire_worker_leases(), 0, 'a run without a lease never lapses');
SELECT matches(pg_temp.as_role('tap_w_all', format($$SELECT status FROM paperclip.worker_finalize_run('w-all', %L, '{}')$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000b2'))),
  '^ERROR PC001: ', 'a worker''s result for a run no worker claimed is refused');
SELECT is(pg_temp.as_role('tap_w_all', $$SELECT status FROM paperclip.worker_finalize_run('w-all', '00000000-0000-0000-0000-000000000000', '{}')$$),
  'ERROR P0002: heartbeat run not found', 'an unknown run: P0002');
SELECT is(pg_temp.as_role('tap_w_a', format($$SELECT status FROM paperclip.worker_finalize_run('w-a', %L, '{}')$$,
    pg_temp.run_of('d1000000-0000-0000-0000-0000000000b1'))),
  format('ERROR 42501: permission denied for heartbeat run %s', pg_temp.run_of('d1000000-0000-0000-0000-0000000000b1')),
  'another company''s run: 42501');

-- --- arguments
SELECT throws_ok($$SELECT * FROM paperclip.worker_claim_runs('', 1)$$, '22023', 'worker_name must not be empty', 'an empty worker name: 22023');
SELECT throws_ok($$SELECT * FROM paperclip.worker_renew_leases(NULL, '{}')$$, '22004', 'worker_name must not be null', 'no worker name: 22004');
SELECT throws_ok($$SELECT * FROM paperclip.worker_renew_leases('w', NULL)$$, '22004', 'run_ids must not be null', 'no run ids: 22004');
SELECT throws_ok(format($$SELECT * FROM paperclip.worker_claim_runs(%L, 1)$$, repeat('w', 2000)), '54000', 'worker_name is too long',
  'a worker name over 1 kB: 54000');

-- --- grants and comments
SELECT ok(has_function_privilege('paperclip_operator', 'paperclip.worker_claim_runs(text,int)', 'EXECUTE')
      AND has_function_privilege('paperclip_operator', 'paperclip.worker_renew_leases(text,uuid[])', 'EXECUTE')
      AND has_function_privilege('paperclip_operator', 'paperclip.worker_finalize_run(text,uuid,jsonb)', 'EXECUTE'),
  'an operator may run a worker');
SELECT ok(NOT has_function_privilege('paperclip_reader', 'paperclip.worker_claim_runs(text,int)', 'EXECUTE')
      AND NOT has_function_privilege('public', 'paperclip.worker_finalize_run(text,uuid,jsonb)', 'EXECUTE')
      AND NOT has_function_privilege('paperclip_operator', 'paperclip.expire_worker_leases()', 'EXECUTE'),
  'a reader and PUBLIC may not; expiring leases is for admins');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'paperclip'::regnamespace
            AND proname IN ('worker_claim_runs', 'worker_renew_leases', 'worker_finalize_run', 'expire_worker_leases')
            AND obj_description(oid, 'pg_proc') IS NOT NULL), 4, 'the worker functions have comments');
SELECT is((SELECT count(*)::int FROM pg_attribute WHERE attrelid IN ('paperclip.heartbeat_runs'::regclass, 'paperclip.active_runs'::regclass)
            AND attname IN ('worker_name', 'lease_expires_at') AND col_description(attrelid, attnum) IS NOT NULL), 4,
  'the columns of runs and active_runs have comments');

SELECT * FROM finish();
ROLLBACK;
