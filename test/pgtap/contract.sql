-- The contract of data-model.md and sql-api.md: tables, key columns, indexes,
-- function signatures and return types, as other tests call them.
BEGIN;
SELECT plan(73);

SELECT has_schema('paperclip');
SELECT has_table('paperclip', t, 'table paperclip.' || t) FROM unnest(ARRAY[
  'companies', 'agents', 'agent_runtime_state', 'agent_wakeup_requests', 'heartbeat_runs',
  'heartbeat_run_events', 'cost_events', 'activity_log', 'issues', 'issue_comments',
  'issue_documents', 'document_revisions', 'issue_work_products', 'workspace_operations']) t;
SELECT has_view('paperclip', v, 'view paperclip.' || v) FROM unnest(ARRAY['active_runs', 'agent_overview', 'run_stats']) v;

SELECT columns_are('paperclip', 'agents', ARRAY['id', 'company_id', 'name', 'role', 'status', 'adapter_type',
  'adapter_config', 'runtime_config', 'budget_monthly_cents', 'spent_monthly_cents', 'last_heartbeat_at',
  'timer_due_at', 'created_at', 'updated_at']);
SELECT has_column('paperclip', 'heartbeat_runs', c, 'heartbeat_runs.' || c) FROM unnest(ARRAY[
  'invocation_source', 'trigger_detail', 'status', 'wakeup_request_id', 'usage_json', 'result_json',
  'session_id_before', 'session_id_after', 'log_store', 'log_ref', 'log_bytes', 'log_sha256',
  'stdout_excerpt', 'stderr_excerpt', 'context_snapshot', 'retry_of_run_id', 'scheduled_retry_at',
  'scheduled_retry_attempt', 'scheduled_retry_reason', 'liveness_state', 'next_action',
  'runner_pid', 'process_started_at']) c;
SELECT col_type_is('paperclip', 'agent_runtime_state', 'total_cost_cents', 'numeric(20,6)', 'total_cost_cents is numeric(20,6)');
SELECT col_type_is('paperclip', 'heartbeat_run_events', 'id', 'bigint', 'run event ids are bigint');
SELECT col_is_unique('paperclip', 'heartbeat_run_events', ARRAY['run_id', 'seq'], 'events are unique per (run_id, seq)');
SELECT has_index('paperclip', 'heartbeat_runs', 'heartbeat_runs_one_active_per_agent_idx', ARRAY['company_id', 'agent_id'],
  'the one-active-run index leads with company_id');
SELECT index_is_unique('paperclip', 'heartbeat_runs', 'heartbeat_runs_one_active_per_agent_idx', 'and is unique');
SELECT index_is_unique('paperclip', 'agent_wakeup_requests', 'agent_wakeup_requests_idempotency_idx', 'idempotency keys are unique per agent');
SELECT has_index('paperclip', 'agents', 'agents_timer_due_idx', 'timer deadlines are indexed');

SELECT function_returns('paperclip', 'enqueue_wakeup',
  ARRAY['uuid', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'jsonb'], 'paperclip.heartbeat_runs');
SELECT function_returns('paperclip', 'invoke', ARRAY['uuid', 'text', 'jsonb', 'text', 'text', 'text'], 'paperclip.heartbeat_runs');
SELECT function_returns('paperclip', 'tick_timers', ARRAY['timestamp with time zone'], 'setof record');
SELECT function_returns('paperclip', 'finalize_run', ARRAY['uuid', 'jsonb'], 'paperclip.heartbeat_runs');
SELECT function_returns('paperclip', 'cancel_run', ARRAY['uuid'], 'paperclip.heartbeat_runs');
SELECT function_returns('paperclip', 'cancel_active_for_agent', ARRAY['uuid'], 'integer');
SELECT function_returns('paperclip', 'get_runtime_state', ARRAY['uuid'], 'paperclip.agent_runtime_state');
SELECT function_returns('paperclip', 'reset_runtime_session', ARRAY['uuid'], 'paperclip.agent_runtime_state');
SELECT function_returns('paperclip', 'list_runs', ARRAY['uuid', 'uuid', 'integer', 'uuid'], 'setof paperclip.heartbeat_runs');
SELECT function_returns('paperclip', 'list_events', ARRAY['uuid', 'integer', 'integer'], 'setof paperclip.heartbeat_run_events');
SELECT function_returns('paperclip', 'read_log', ARRAY['uuid', 'bigint', 'integer'], 'setof record');
SELECT function_returns('paperclip', 'append_run_event', ARRAY['uuid', 'text', 'text', 'jsonb', 'text', 'text'], 'integer');
SELECT function_returns('paperclip', 'append_run_log', ARRAY['uuid', 'text', 'text'], 'bigint');
SELECT function_returns('paperclip', 'normalize_activity_limit', ARRAY['integer'], 'integer');
SELECT function_returns('paperclip', 'list_activity', ARRAY['uuid', 'uuid', 'text', 'text', 'integer'], 'setof paperclip.activity_log');
SELECT function_returns('paperclip', 'activity_for_issue', ARRAY['uuid'], 'setof paperclip.activity_log');
SELECT function_returns('paperclip', 'log_activity',
  ARRAY['uuid', 'text', 'text', 'text', 'text', 'text', 'uuid', 'uuid', 'jsonb'], 'paperclip.activity_log');
SELECT function_returns('paperclip', 'runs_for_issue', ARRAY['uuid', 'uuid'], 'setof record');
SELECT function_returns('paperclip', 'issues_for_run', ARRAY['uuid'], 'setof record');
SELECT is(pg_get_function_arguments('paperclip.enqueue_wakeup(uuid,text,text,text,jsonb,text,text,text,jsonb)'::regprocedure),
  'agent_id uuid, source text DEFAULT ''on_demand''::text, trigger_detail text DEFAULT NULL::text, reason text DEFAULT NULL::text, payload jsonb DEFAULT NULL::jsonb, idempotency_key text DEFAULT NULL::text, requested_by_actor_type text DEFAULT NULL::text, requested_by_actor_id text DEFAULT NULL::text, context_snapshot jsonb DEFAULT ''{}''::jsonb',
  'enqueue_wakeup has the parameter names and defaults of the contract');
SELECT is(pg_get_function_arguments('paperclip.list_events(uuid,integer,integer)'::regprocedure),
  'run_id uuid, after_seq integer DEFAULT 0, "limit" integer DEFAULT 200', 'list_events defaults');
SELECT is(pg_get_function_arguments('paperclip.list_runs(uuid,uuid,integer,uuid)'::regprocedure),
  'company_id uuid, agent_id uuid DEFAULT NULL::uuid, "limit" integer DEFAULT 200, before_run_id uuid DEFAULT NULL::uuid',
  'list_runs pages: the parameters and defaults of the contract');
SELECT hasnt_function('paperclip', 'list_runs', ARRAY['uuid', 'uuid'], 'the 0.1 signature is replaced (its callers reach the new one)');
SELECT ok('deferred' = ANY (paperclip.wakeup_request_statuses()), 'agent_wakeup_requests.status has deferred');

SELECT * FROM finish();
ROLLBACK;
