-- Every error of the SQL API: SQLSTATE, message, detail and hint; and no row
-- is left behind by a call that failed.
SET client_min_messages = warning;
-- err(sql): the error a statement raises, as SQLSTATE code, message, detail, hint
CREATE FUNCTION pg_temp.err(sql text)
RETURNS TABLE(code text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN QUERY SELECT 'no error'::text, NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
        detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN NEXT;
END
$$;
INSERT INTO paperclip.companies (id, name) VALUES ('70000000-0000-0000-0000-000000000001', 'errors co');
INSERT INTO paperclip.agents (id, company_id, name, status) VALUES
  ('70000000-0000-0000-0000-0000000000a1', '70000000-0000-0000-0000-000000000001', 'idle one', 'idle'),
  ('70000000-0000-0000-0000-0000000000a2', '70000000-0000-0000-0000-000000000001', 'paused one', 'paused'),
  ('70000000-0000-0000-0000-0000000000a3', '70000000-0000-0000-0000-000000000001', 'terminated one', 'terminated');
CREATE TEMP TABLE errors_run AS SELECT id FROM paperclip.enqueue_wakeup('70000000-0000-0000-0000-0000000000a1');

-- P0002: unknown ids
SELECT * FROM pg_temp.err($$SELECT paperclip.enqueue_wakeup('70000000-0000-0000-0000-0000000000ff')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.invoke('70000000-0000-0000-0000-0000000000ff')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run('70000000-0000-0000-0000-0000000000ff', '{}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.cancel_run('70000000-0000-0000-0000-0000000000ff')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.cancel_active_for_agent('70000000-0000-0000-0000-0000000000ff')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.get_runtime_state('70000000-0000-0000-0000-0000000000ff')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.reset_runtime_session('70000000-0000-0000-0000-0000000000ff')$$);
SELECT * FROM pg_temp.err($$SELECT * FROM paperclip.list_events('70000000-0000-0000-0000-0000000000ff')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.append_run_event('70000000-0000-0000-0000-0000000000ff', 'x')$$);
SELECT * FROM pg_temp.err($$SELECT * FROM paperclip.read_log('70000000-0000-0000-0000-0000000000ff')$$);
SELECT * FROM pg_temp.err($$SELECT * FROM paperclip.read_log((SELECT id FROM errors_run))$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.append_run_log('70000000-0000-0000-0000-0000000000ff', 'stdout', 'x')$$);

-- 55000: paused or terminated agents
SELECT * FROM pg_temp.err($$SELECT paperclip.enqueue_wakeup('70000000-0000-0000-0000-0000000000a2')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.invoke('70000000-0000-0000-0000-0000000000a3')$$);

-- 22023: words outside a vocabulary
SELECT * FROM pg_temp.err($$SELECT paperclip.enqueue_wakeup('70000000-0000-0000-0000-0000000000a1', 'cron')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.enqueue_wakeup('70000000-0000-0000-0000-0000000000a1', 'timer', 'pager')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.enqueue_wakeup('70000000-0000-0000-0000-0000000000a1', requested_by_actor_type => 'robot')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.invoke('70000000-0000-0000-0000-0000000000a1', actor_type => 'robot')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.append_run_event((SELECT id FROM errors_run), 'x', stream => 'stdin')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.append_run_event((SELECT id FROM errors_run), 'x', level => 'debug')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.append_run_log((SELECT id FROM errors_run), 'console', 'x')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.log_activity('70000000-0000-0000-0000-000000000001', 'robot', 'r', 'a', 'e', 'i')$$);

-- 22023: a result of the wrong shape
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '[1,2]')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '{"exitCode":"zero"}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '{"exitCode":1.5}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '{"timedOut":"yes"}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '{"usage":[1]}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '{"usage":{"inputTokens":"many"}}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '{"usage":{"outputTokens":-1}}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '{"costUsd":"0.01"}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '{"costUsd":-0.01}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '{"sessionId":42}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), '{"clearSession":1}')$$);
-- none of those touched the run
SELECT status, finalized_at IS NULL AS untouched FROM paperclip.heartbeat_runs WHERE id = (SELECT id FROM errors_run);

-- 22004: NULL for a required argument
SELECT * FROM pg_temp.err($$SELECT paperclip.enqueue_wakeup(NULL)$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.enqueue_wakeup('70000000-0000-0000-0000-0000000000a1', NULL)$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.invoke(NULL)$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run(NULL, '{}')$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), NULL)$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.cancel_run(NULL)$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.cancel_active_for_agent(NULL)$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.get_runtime_state(NULL)$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.reset_runtime_session(NULL)$$);
SELECT * FROM pg_temp.err($$SELECT * FROM paperclip.list_runs(NULL)$$);
SELECT * FROM pg_temp.err($$SELECT * FROM paperclip.list_events(NULL)$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.append_run_event((SELECT id FROM errors_run), NULL)$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.append_run_log((SELECT id FROM errors_run), 'stdout', NULL)$$);
SELECT * FROM pg_temp.err($$SELECT * FROM paperclip.list_activity(NULL)$$);
SELECT * FROM pg_temp.err($$SELECT * FROM paperclip.runs_for_issue('70000000-0000-0000-0000-000000000001', NULL)$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.log_activity('70000000-0000-0000-0000-000000000001', 'user', NULL, 'a', 'e', 'i')$$);
SELECT * FROM pg_temp.err($$SELECT * FROM paperclip.tick_timers(NULL)$$);

-- 54000: oversized JSON
SELECT * FROM pg_temp.err($$SELECT paperclip.enqueue_wakeup('70000000-0000-0000-0000-0000000000a1',
       payload => jsonb_build_object('blob', repeat('x', 2 * 1024 * 1024)))$$);
SELECT * FROM pg_temp.err($$SELECT paperclip.finalize_run((SELECT id FROM errors_run), jsonb_build_object('resultJson', repeat('x', 2 * 1024 * 1024)))$$);

-- 22023: offsets
SELECT * FROM pg_temp.err($$SELECT * FROM paperclip.read_log((SELECT id FROM errors_run), -1)$$);

-- the failed calls left nothing behind: one request, one run, no event
SELECT (SELECT count(*) FROM paperclip.agent_wakeup_requests WHERE company_id = '70000000-0000-0000-0000-000000000001') AS requests,
       (SELECT count(*) FROM paperclip.heartbeat_runs WHERE company_id = '70000000-0000-0000-0000-000000000001') AS runs,
       (SELECT count(*) FROM paperclip.heartbeat_run_events WHERE company_id = '70000000-0000-0000-0000-000000000001') AS events,
       (SELECT count(*) FROM paperclip.activity_log WHERE company_id = '70000000-0000-0000-0000-000000000001') AS activity;

DELETE FROM paperclip.heartbeat_runs;
DELETE FROM paperclip.agent_wakeup_requests;
DELETE FROM paperclip.agents;
DELETE FROM paperclip.companies;
