-- SQLSTATEs and messages of sql-api.md, with throws_ok; failed calls write nothing.
BEGIN;
SELECT plan(42);

INSERT INTO paperclip.companies (id, name) VALUES ('a0000000-0000-0000-0000-000000000001', 'tap');
INSERT INTO paperclip.agents (id, company_id, name, status) VALUES
  ('a0000000-0000-0000-0000-0000000000a1', 'a0000000-0000-0000-0000-000000000001', 'idle', 'idle'),
  ('a0000000-0000-0000-0000-0000000000a2', 'a0000000-0000-0000-0000-000000000001', 'paused', 'paused'),
  ('a0000000-0000-0000-0000-0000000000a3', 'a0000000-0000-0000-0000-000000000001', 'terminated', 'terminated');
CREATE TEMP TABLE tap_run AS SELECT id FROM paperclip.enqueue_wakeup('a0000000-0000-0000-0000-0000000000a1');

SELECT throws_ok($$SELECT paperclip.enqueue_wakeup('a0000000-0000-0000-0000-0000000000ff')$$, 'P0002', 'agent not found');
SELECT throws_ok($$SELECT paperclip.invoke('a0000000-0000-0000-0000-0000000000ff')$$, 'P0002', 'agent not found');
SELECT throws_ok($$SELECT paperclip.finalize_run('a0000000-0000-0000-0000-0000000000ff', '{}')$$, 'P0002', 'heartbeat run not found');
SELECT throws_ok($$SELECT paperclip.cancel_run('a0000000-0000-0000-0000-0000000000ff')$$, 'P0002', 'heartbeat run not found');
SELECT throws_ok($$SELECT paperclip.cancel_active_for_agent('a0000000-0000-0000-0000-0000000000ff')$$, 'P0002', 'agent not found');
SELECT throws_ok($$SELECT paperclip.get_runtime_state('a0000000-0000-0000-0000-0000000000ff')$$, 'P0002', 'agent not found');
SELECT throws_ok($$SELECT paperclip.reset_runtime_session('a0000000-0000-0000-0000-0000000000ff')$$, 'P0002', 'agent not found');
SELECT throws_ok($$SELECT * FROM paperclip.list_events('a0000000-0000-0000-0000-0000000000ff')$$, 'P0002', 'heartbeat run not found');
SELECT throws_ok($$SELECT paperclip.append_run_event('a0000000-0000-0000-0000-0000000000ff', 'x')$$, 'P0002', 'heartbeat run not found');
SELECT throws_ok($$SELECT * FROM paperclip.read_log((SELECT id FROM tap_run))$$, 'P0002', 'run log not found');
SELECT throws_ok($$SELECT * FROM paperclip.read_log('a0000000-0000-0000-0000-0000000000ff')$$, 'P0002', 'heartbeat run not found');

SELECT throws_ok($$SELECT paperclip.enqueue_wakeup('a0000000-0000-0000-0000-0000000000a2')$$, '55000',
  'agent is not invokable in its current state', 'a paused agent is not invokable');
SELECT throws_ok($$SELECT paperclip.invoke('a0000000-0000-0000-0000-0000000000a3')$$, '55000',
  'agent is not invokable in its current state', 'a terminated agent is not invokable');

SELECT throws_ok($$SELECT paperclip.enqueue_wakeup('a0000000-0000-0000-0000-0000000000a1', 'cron')$$, '22023', NULL, 'source vocabulary');
SELECT throws_ok($$SELECT paperclip.enqueue_wakeup('a0000000-0000-0000-0000-0000000000a1', 'timer', 'pager')$$, '22023', NULL, 'trigger_detail vocabulary');
SELECT throws_ok($$SELECT paperclip.enqueue_wakeup('a0000000-0000-0000-0000-0000000000a1', requested_by_actor_type => 'bot')$$, '22023', NULL, 'actor type vocabulary');
SELECT throws_ok($$SELECT paperclip.append_run_event((SELECT id FROM tap_run), 'x', stream => 'stdin')$$, '22023', NULL, 'stream vocabulary');
SELECT throws_ok($$SELECT paperclip.append_run_event((SELECT id FROM tap_run), 'x', level => 'debug')$$, '22023', NULL, 'level vocabulary');
SELECT throws_ok($$SELECT paperclip.log_activity('a0000000-0000-0000-0000-000000000001', 'bot', 'b', 'a', 'e', 'i')$$, '22023', NULL, 'activity actor type vocabulary');
SELECT throws_ok($$SELECT paperclip.finalize_run((SELECT id FROM tap_run), '{"exitCode":"zero"}')$$, '22023', NULL, 'exitCode must be a number');
SELECT throws_ok($$SELECT paperclip.finalize_run((SELECT id FROM tap_run), '{"usage":{"inputTokens":"many"}}')$$, '22023', NULL, 'tokens must be numbers');
SELECT throws_ok($$SELECT paperclip.finalize_run((SELECT id FROM tap_run), '{"costUsd":"1"}')$$, '22023', NULL, 'costUsd must be a number');
SELECT throws_ok($$SELECT paperclip.finalize_run((SELECT id FROM tap_run), '{"timedOut":"yes"}')$$, '22023', NULL, 'timedOut must be a boolean');
SELECT throws_ok($$SELECT paperclip.finalize_run((SELECT id FROM tap_run), '[]')$$, '22023', NULL, 'a result is an object');
SELECT throws_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_config) VALUES ('a0000000-0000-0000-0000-000000000001', 'x', '{"cwd":"/tmp"}')$$,
  '22023', 'invalid adapter_config: "command" is required', 'an adapter_config without command');
SELECT throws_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES ('a0000000-0000-0000-0000-000000000001', 'x', 'http', '{"url":"file:///etc/passwd"}')$$,
  '22023', 'invalid adapter_config: "url" must be an http:// or https:// URL', 'a URL with another scheme');
SELECT throws_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES ('a0000000-0000-0000-0000-000000000001', 'x', 'http', '{"url":"http://h/","maxResponseBytes":"1MB"}')$$,
  '22023', 'invalid adapter_config: "maxResponseBytes" must be a number of bytes', 'a response cap that is not a number');
SELECT throws_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config) VALUES ('a0000000-0000-0000-0000-000000000001', 'x', 'http', '{"url":"http://h/","headers":{"X-N":1}}')$$,
  '22023', 'invalid adapter_config: "headers" must have string values', 'a header value that is not a string');

SELECT throws_ok($$SELECT paperclip.enqueue_wakeup(NULL)$$, '22004', 'agent_id must not be null');
SELECT throws_ok($$SELECT paperclip.finalize_run((SELECT id FROM tap_run), NULL)$$, '22004', 'result must not be null');
SELECT throws_ok($$SELECT paperclip.cancel_run(NULL)$$, '22004', 'run_id must not be null');
SELECT throws_ok($$SELECT * FROM paperclip.list_runs(NULL)$$, '22004', 'company_id must not be null');
SELECT throws_ok($$SELECT * FROM paperclip.tick_timers(NULL)$$, '22004', 'now must not be null');
SELECT throws_ok($$SELECT paperclip.append_run_event((SELECT id FROM tap_run), NULL)$$, '22004', 'event_type must not be null');
SELECT throws_ok($$SELECT paperclip.log_activity(NULL, 'user', 'u', 'a', 'e', 'i')$$, '22004', 'company_id must not be null');
SELECT throws_ok($$SELECT paperclip.enqueue_wakeup('a0000000-0000-0000-0000-0000000000a1', payload => jsonb_build_object('x', repeat('y', 11000000)))$$,
  '54000', 'payload is too large', 'a 10 MB payload is refused');

-- limits are clamped, not errors
SELECT is(paperclip.normalize_activity_limit(-1), 1, 'limit -1 is clamped to 1');
SELECT is(paperclip.normalize_activity_limit(1000000000), 500, 'limit 10^9 is clamped to 500');
SELECT is((SELECT count(*)::int FROM paperclip.list_events((SELECT id FROM tap_run), 0, -1)), 0, 'list_events limit -1 is clamped (no events yet)');

-- nothing was written by the calls that failed
SELECT is((SELECT count(*)::int FROM paperclip.agent_wakeup_requests WHERE company_id = 'a0000000-0000-0000-0000-000000000001'), 1, 'one request only');
SELECT is((SELECT count(*)::int FROM paperclip.heartbeat_runs WHERE company_id = 'a0000000-0000-0000-0000-000000000001'), 1, 'one run only');
SELECT is((SELECT status FROM paperclip.heartbeat_runs WHERE id = (SELECT id FROM tap_run)), 'queued', 'the run is untouched');

SELECT * FROM finish();
ROLLBACK;
