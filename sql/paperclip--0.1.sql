-- paperclip 0.1: the heartbeat control plane of Paperclip inside PostgreSQL.
-- Data model: ../shared/spec/data-model.md. SQL API: ../shared/spec/sql-api.md.

\echo Use "CREATE EXTENSION paperclip" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Helpers used by table definitions
-- ---------------------------------------------------------------------------

-- When an agent's interval timer is next due: null when it has no timer
-- (paused/terminated, heartbeat disabled, intervalSec <= 0), -infinity when it
-- never beat. Immutable: it adds whole seconds, which no time zone changes.
CREATE FUNCTION paperclip.timer_due_at(status text, runtime_config jsonb,
                                       last_heartbeat_at timestamptz)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'paperclip_timer_due_at'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- True, or an error (22023) naming the key of adapter_config that is wrong.
CREATE FUNCTION paperclip.adapter_config_valid(adapter_type text, adapter_config jsonb)
RETURNS bool
AS 'MODULE_PATHNAME', 'paperclip_adapter_config_valid'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- ---------------------------------------------------------------------------
-- Control plane
-- ---------------------------------------------------------------------------

CREATE TABLE paperclip.companies (
    id          uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE paperclip.agents (
    id                   uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id           uuid NOT NULL REFERENCES paperclip.companies (id),
    name                 text NOT NULL,
    role                 text,
    status               text NOT NULL DEFAULT 'idle'
        CONSTRAINT agents_status_check
        CHECK (status IN ('idle', 'running', 'paused', 'error', 'terminated')),
    adapter_type         text NOT NULL DEFAULT 'process'
        CONSTRAINT agents_adapter_type_check
        CHECK (adapter_type IN ('process', 'http')),
    adapter_config       jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT agents_adapter_config_check
        CHECK (paperclip.adapter_config_valid(adapter_type, adapter_config)),
    runtime_config       jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT agents_runtime_config_check
        CHECK (jsonb_typeof(runtime_config) = 'object'),
    budget_monthly_cents int NOT NULL DEFAULT 0,
    spent_monthly_cents  int NOT NULL DEFAULT 0,
    last_heartbeat_at    timestamptz,
    -- derived: next interval-timer deadline; indexed so tick_timers reads only agents due
    timer_due_at         timestamptz
        GENERATED ALWAYS AS (paperclip.timer_due_at(status, runtime_config, last_heartbeat_at)) STORED,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at           timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX agents_company_idx ON paperclip.agents (company_id);
CREATE INDEX agents_timer_due_idx ON paperclip.agents (timer_due_at)
    WHERE timer_due_at IS NOT NULL;

-- How many agents have an interval timer, kept by triggers so that
-- tick_timers reports "checked" without reading every timer. Not dumped: a
-- restore recreates it empty and counts the agents as they are loaded.
CREATE TABLE paperclip.timer_agents (
    singleton  boolean PRIMARY KEY DEFAULT true CONSTRAINT timer_agents_singleton CHECK (singleton),
    agents     bigint NOT NULL
);
INSERT INTO paperclip.timer_agents VALUES (true, 0);

CREATE FUNCTION paperclip.count_timer_agents()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    delta bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE paperclip.timer_agents SET agents = 0;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO delta FROM added WHERE timer_due_at IS NOT NULL;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT -count(*) INTO delta FROM removed WHERE timer_due_at IS NOT NULL;
    ELSE    -- an update that gave an agent a timer or took it away (see the WHEN)
        delta := CASE WHEN NEW.timer_due_at IS NULL THEN -1 ELSE 1 END;
    END IF;
    IF delta OPERATOR(pg_catalog.<>) 0 THEN
        UPDATE paperclip.timer_agents SET agents = agents OPERATOR(pg_catalog.+) delta;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER agents_count_timers_inserted AFTER INSERT ON paperclip.agents
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION paperclip.count_timer_agents();
CREATE TRIGGER agents_count_timers_deleted AFTER DELETE ON paperclip.agents
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION paperclip.count_timer_agents();
-- row by row, but only when a timer comes or goes: the hot updates of an
-- agent (status, last_heartbeat_at) never fire it
CREATE TRIGGER agents_count_timers_changed AFTER UPDATE ON paperclip.agents
    FOR EACH ROW WHEN ((OLD.timer_due_at IS NULL) IS DISTINCT FROM (NEW.timer_due_at IS NULL))
    EXECUTE FUNCTION paperclip.count_timer_agents();
CREATE TRIGGER agents_count_timers_truncated AFTER TRUNCATE ON paperclip.agents
    FOR EACH STATEMENT EXECUTE FUNCTION paperclip.count_timer_agents();

CREATE TABLE paperclip.agent_runtime_state (
    agent_id                 uuid PRIMARY KEY REFERENCES paperclip.agents (id),
    company_id               uuid NOT NULL,
    adapter_type             text NOT NULL,
    session_id               text,
    state_json               jsonb NOT NULL DEFAULT '{}',
    last_run_id              uuid,
    last_run_status          text,
    total_input_tokens       bigint NOT NULL DEFAULT 0,
    total_output_tokens      bigint NOT NULL DEFAULT 0,
    total_cached_input_tokens bigint NOT NULL DEFAULT 0,
    total_cost_cents         numeric(20, 6) NOT NULL DEFAULT 0,
    last_error               text,
    created_at               timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at               timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE paperclip.agent_wakeup_requests (
    id                      uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id              uuid NOT NULL,
    agent_id                uuid NOT NULL REFERENCES paperclip.agents (id),
    source                  text NOT NULL
        CONSTRAINT agent_wakeup_requests_source_check
        CHECK (source IN ('timer', 'assignment', 'on_demand', 'automation')),
    trigger_detail          text
        CONSTRAINT agent_wakeup_requests_trigger_detail_check
        CHECK (trigger_detail IN ('manual', 'ping', 'callback', 'system')),
    reason                  text,
    payload                 jsonb,
    status                  text NOT NULL DEFAULT 'queued'
        CONSTRAINT agent_wakeup_requests_status_check
        CHECK (status IN ('queued', 'claimed', 'coalesced', 'skipped', 'completed',
                          'failed', 'cancelled', 'timed_out')),
    coalesced_count         int NOT NULL DEFAULT 0,
    requested_by_actor_type text
        CONSTRAINT agent_wakeup_requests_actor_type_check
        CHECK (requested_by_actor_type IN ('user', 'agent', 'system')),
    requested_by_actor_id   text,
    idempotency_key         text,
    run_id                  uuid,
    requested_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    claimed_at              timestamptz,
    finished_at             timestamptz,
    error                   text,
    created_at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at              timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX agent_wakeup_requests_company_agent_status_idx
    ON paperclip.agent_wakeup_requests (company_id, agent_id, status);
CREATE INDEX agent_wakeup_requests_company_requested_idx
    ON paperclip.agent_wakeup_requests (company_id, requested_at);
CREATE INDEX agent_wakeup_requests_agent_requested_idx
    ON paperclip.agent_wakeup_requests (agent_id, requested_at);
-- retention: finished requests, oldest first
CREATE INDEX agent_wakeup_requests_finished_idx
    ON paperclip.agent_wakeup_requests (finished_at)
    WHERE finished_at IS NOT NULL;
CREATE UNIQUE INDEX agent_wakeup_requests_idempotency_idx
    ON paperclip.agent_wakeup_requests (agent_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE paperclip.heartbeat_runs (
    id                      uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id              uuid NOT NULL,
    agent_id                uuid NOT NULL REFERENCES paperclip.agents (id),
    invocation_source       text NOT NULL DEFAULT 'on_demand'
        CONSTRAINT heartbeat_runs_invocation_source_check
        CHECK (invocation_source IN ('timer', 'assignment', 'on_demand', 'automation')),
    trigger_detail          text
        CONSTRAINT heartbeat_runs_trigger_detail_check
        CHECK (trigger_detail IN ('manual', 'ping', 'callback', 'system')),
    status                  text NOT NULL DEFAULT 'queued'
        CONSTRAINT heartbeat_runs_status_check
        CHECK (status IN ('scheduled_retry', 'queued', 'running', 'succeeded', 'failed',
                          'cancelled', 'timed_out')),
    started_at              timestamptz,
    finished_at             timestamptz,
    error                   text,
    error_code              text,
    wakeup_request_id       uuid REFERENCES paperclip.agent_wakeup_requests (id) ON DELETE SET NULL,
    exit_code               int,
    signal                  text,
    usage_json              jsonb,
    result_json             jsonb,
    session_id_before       text,
    session_id_after        text,
    log_store               text,
    log_ref                 text,
    log_bytes               bigint,
    log_sha256              text,
    log_compressed          bool NOT NULL DEFAULT false,
    stdout_excerpt          text,
    stderr_excerpt          text,
    context_snapshot        jsonb,
    external_run_id         text,
    retry_of_run_id         uuid,
    scheduled_retry_at      timestamptz,
    scheduled_retry_attempt int NOT NULL DEFAULT 0,
    scheduled_retry_reason  text,
    liveness_state          text
        CONSTRAINT heartbeat_runs_liveness_state_check
        CHECK (liveness_state IN ('completed', 'advanced', 'plan_only', 'empty_response',
                                  'blocked', 'failed', 'needs_followup')),
    liveness_reason         text,
    continuation_attempt    int NOT NULL DEFAULT 0,
    last_useful_action_at   timestamptz,
    next_action             text,
    runner_pid              int,
    process_started_at      timestamptz,
    -- the agent's pid, also its process group: killed when its runner is lost
    agent_pid               int,
    -- last seq handed out for this run's events (serialises appends per run)
    event_seq               int NOT NULL DEFAULT 0,
    -- set once the adapter result was recorded: finalizing twice counts nothing twice
    finalized_at            timestamptz,
    -- set when retention removed the run's events and log (the row stays)
    pruned_at               timestamptz,
    created_at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at              timestamptz NOT NULL DEFAULT pg_catalog.now()
);
-- At most one queued or running run per agent: a fact, not a hope.
CREATE UNIQUE INDEX heartbeat_runs_one_active_per_agent_idx
    ON paperclip.heartbeat_runs (company_id, agent_id)
    WHERE status IN ('queued', 'running');
-- The enqueue probe: the agent's active run or pending retry, in one index.
CREATE INDEX heartbeat_runs_pending_idx
    ON paperclip.heartbeat_runs (company_id, agent_id)
    WHERE status IN ('queued', 'running', 'scheduled_retry');
CREATE INDEX heartbeat_runs_company_agent_started_idx
    ON paperclip.heartbeat_runs (company_id, agent_id, started_at);
CREATE INDEX heartbeat_runs_company_created_idx
    ON paperclip.heartbeat_runs (company_id, created_at);
CREATE INDEX heartbeat_runs_claim_idx
    ON paperclip.heartbeat_runs (created_at) WHERE status = 'queued';
CREATE INDEX heartbeat_runs_retry_due_idx
    ON paperclip.heartbeat_runs (scheduled_retry_at) WHERE status = 'scheduled_retry';
CREATE INDEX heartbeat_runs_issue_idx
    ON paperclip.heartbeat_runs ((context_snapshot ->> 'issueId'));
CREATE INDEX heartbeat_runs_liveness_pending_idx
    ON paperclip.heartbeat_runs (company_id, finished_at)
    WHERE liveness_state IS NULL AND status NOT IN ('queued', 'running', 'scheduled_retry');
-- the foreign key from runs to wakeup requests: deleting or pruning requests
-- checks it, and without an index each check would scan every run
CREATE INDEX heartbeat_runs_wakeup_request_idx
    ON paperclip.heartbeat_runs (wakeup_request_id);
-- retention: finished runs not pruned yet, oldest first
CREATE INDEX heartbeat_runs_prunable_idx
    ON paperclip.heartbeat_runs (finished_at)
    WHERE pruned_at IS NULL AND finished_at IS NOT NULL;
CREATE INDEX heartbeat_runs_retry_of_idx
    ON paperclip.heartbeat_runs (retry_of_run_id) WHERE retry_of_run_id IS NOT NULL;

CREATE TABLE paperclip.heartbeat_run_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  uuid NOT NULL,
    run_id      uuid NOT NULL REFERENCES paperclip.heartbeat_runs (id),
    agent_id    uuid NOT NULL,
    seq         int NOT NULL,
    event_type  text NOT NULL,
    stream      text
        CONSTRAINT heartbeat_run_events_stream_check
        CHECK (stream IN ('system', 'stdout', 'stderr')),
    level       text
        CONSTRAINT heartbeat_run_events_level_check
        CHECK (level IN ('info', 'warn', 'error')),
    color       text,
    message     text,
    payload     jsonb,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT heartbeat_run_events_run_seq_key UNIQUE (run_id, seq)
);
CREATE INDEX heartbeat_run_events_company_created_idx
    ON paperclip.heartbeat_run_events (company_id, created_at);

CREATE TABLE paperclip.cost_events (
    id             uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id     uuid NOT NULL,
    agent_id       uuid NOT NULL REFERENCES paperclip.agents (id),
    run_id         uuid,
    provider       text NOT NULL,
    model          text NOT NULL,
    input_tokens   bigint NOT NULL DEFAULT 0,
    output_tokens  bigint NOT NULL DEFAULT 0,
    cost_cents     int NOT NULL,
    occurred_at    timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX cost_events_company_occurred_idx ON paperclip.cost_events (company_id, occurred_at);
CREATE INDEX cost_events_run_idx ON paperclip.cost_events (run_id);

CREATE TABLE paperclip.activity_log (
    id           uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id   uuid NOT NULL,
    actor_type   text NOT NULL DEFAULT 'system'
        CONSTRAINT activity_log_actor_type_check
        CHECK (actor_type IN ('user', 'agent', 'system')),
    actor_id     text NOT NULL,
    action       text NOT NULL,
    entity_type  text NOT NULL,
    entity_id    text NOT NULL,
    agent_id     uuid,
    run_id       uuid,
    details      jsonb,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX activity_log_company_created_idx ON paperclip.activity_log (company_id, created_at);
CREATE INDEX activity_log_run_idx ON paperclip.activity_log (run_id);
CREATE INDEX activity_log_entity_idx ON paperclip.activity_log (entity_type, entity_id);

-- ---------------------------------------------------------------------------
-- Work evidence (read by the activity feed and liveness)
-- ---------------------------------------------------------------------------

CREATE TABLE paperclip.issues (
    id                 uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id         uuid NOT NULL,
    identifier         text,
    title              text NOT NULL,
    description        text,
    status             text NOT NULL DEFAULT 'todo'
        CONSTRAINT issues_status_check
        CHECK (status IN ('backlog', 'todo', 'in_progress', 'in_review', 'blocked',
                          'done', 'cancelled')),
    priority           text,
    assignee_agent_id  uuid,
    hidden_at          timestamptz,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX issues_company_idx ON paperclip.issues (company_id);

CREATE TABLE paperclip.issue_comments (
    id                 uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id         uuid NOT NULL,
    issue_id           uuid NOT NULL REFERENCES paperclip.issues (id),
    author_agent_id    uuid,
    body               text NOT NULL,
    created_by_run_id  uuid,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX issue_comments_run_idx ON paperclip.issue_comments (created_by_run_id);

CREATE TABLE paperclip.issue_documents (
    id           uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id   uuid NOT NULL,
    issue_id     uuid NOT NULL REFERENCES paperclip.issues (id),
    document_id  uuid NOT NULL,
    key          text NOT NULL
);
CREATE INDEX issue_documents_issue_idx ON paperclip.issue_documents (issue_id);
-- liveness evidence joins a run's document revisions to their issue documents
CREATE INDEX issue_documents_document_idx ON paperclip.issue_documents (document_id);

CREATE TABLE paperclip.document_revisions (
    id                 uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id         uuid NOT NULL,
    document_id        uuid NOT NULL,
    body               text,
    created_by_run_id  uuid,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX document_revisions_run_idx ON paperclip.document_revisions (created_by_run_id);

CREATE TABLE paperclip.issue_work_products (
    id                 uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id         uuid NOT NULL,
    issue_id           uuid NOT NULL REFERENCES paperclip.issues (id),
    kind               text,
    title              text,
    created_by_run_id  uuid,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX issue_work_products_run_idx ON paperclip.issue_work_products (created_by_run_id);

CREATE TABLE paperclip.workspace_operations (
    id                uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    company_id        uuid NOT NULL,
    heartbeat_run_id  uuid,
    kind              text,
    started_at        timestamptz
);
CREATE INDEX workspace_operations_run_idx ON paperclip.workspace_operations (heartbeat_run_id);

-- pg_dump keeps user data of every table.
SELECT pg_catalog.pg_extension_config_dump('paperclip.companies', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.agents', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.agent_runtime_state', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.agent_wakeup_requests', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.heartbeat_runs', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.heartbeat_run_events', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.heartbeat_run_events_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.cost_events', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.activity_log', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.issues', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.issue_comments', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.issue_documents', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.document_revisions', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.issue_work_products', '');
SELECT pg_catalog.pg_extension_config_dump('paperclip.workspace_operations', '');

-- ---------------------------------------------------------------------------
-- Wakeups
-- ---------------------------------------------------------------------------

CREATE FUNCTION paperclip.enqueue_wakeup(
    agent_id uuid,
    source text DEFAULT 'on_demand',
    trigger_detail text DEFAULT NULL,
    reason text DEFAULT NULL,
    payload jsonb DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    requested_by_actor_type text DEFAULT NULL,
    requested_by_actor_id text DEFAULT NULL,
    context_snapshot jsonb DEFAULT '{}')
RETURNS paperclip.heartbeat_runs
AS 'MODULE_PATHNAME', 'paperclip_enqueue_wakeup'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.enqueue_wakeup(uuid, text, text, text, jsonb, text, text, text, jsonb)
    IS 'apply the heartbeat policy, then coalesce into the active run or queue a new one; NULL when skipped';

CREATE FUNCTION paperclip.invoke(
    agent_id uuid,
    source text DEFAULT 'on_demand',
    context_snapshot jsonb DEFAULT '{}',
    trigger_detail text DEFAULT 'manual',
    actor_type text DEFAULT NULL,
    actor_id text DEFAULT NULL)
RETURNS paperclip.heartbeat_runs
AS 'MODULE_PATHNAME', 'paperclip_invoke'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.invoke(uuid, text, jsonb, text, text, text)
    IS 'enqueue_wakeup with the fields of a manual invocation';

CREATE FUNCTION paperclip.tick_timers(now timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE(checked int, enqueued int, skipped int)
AS 'MODULE_PATHNAME', 'paperclip_tick_timers'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.tick_timers(timestamptz)
    IS 'enqueue a timer wakeup for every agent whose interval elapsed at "now"';

CREATE FUNCTION paperclip.promote_due_retries(now timestamptz DEFAULT pg_catalog.now())
RETURNS int
AS 'MODULE_PATHNAME', 'paperclip_promote_due_retries'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.promote_due_retries(timestamptz)
    IS 'queue the scheduled retries due at "now" whose agent has no active run; returns how many';

CREATE FUNCTION paperclip.prune_expired(batch_size int DEFAULT 1000)
RETURNS TABLE(runs int, events bigint, log_files int, wakeup_requests bigint)
AS 'MODULE_PATHNAME', 'paperclip_prune_expired'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.prune_expired(int)
    IS 'one retention batch: events and logs of runs finished longer than paperclip.run_retention ago, and finished wakeup requests as old';

-- ---------------------------------------------------------------------------
-- Runs
-- ---------------------------------------------------------------------------

CREATE FUNCTION paperclip.finalize_run(run_id uuid, result jsonb)
RETURNS paperclip.heartbeat_runs
AS 'MODULE_PATHNAME', 'paperclip_finalize_run'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.finalize_run(uuid, jsonb)
    IS 'record an adapter result: outcome, usage and cost, session, runtime totals; idempotent';

CREATE FUNCTION paperclip.claim_runs(max_runs int DEFAULT 1)
RETURNS SETOF paperclip.heartbeat_runs
AS 'MODULE_PATHNAME', 'paperclip_claim_runs'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.claim_runs(int)
    IS 'for external runners: claim up to max_runs queued runs (SKIP LOCKED); they are running now';

CREATE FUNCTION paperclip.cancel_run(run_id uuid)
RETURNS paperclip.heartbeat_runs
AS 'MODULE_PATHNAME', 'paperclip_cancel_run'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.cancel_active_for_agent(agent_id uuid)
RETURNS int
AS 'MODULE_PATHNAME', 'paperclip_cancel_active_for_agent'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.get_runtime_state(agent_id uuid)
RETURNS paperclip.agent_runtime_state
AS 'MODULE_PATHNAME', 'paperclip_get_runtime_state'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.reset_runtime_session(agent_id uuid)
RETURNS paperclip.agent_runtime_state
AS 'MODULE_PATHNAME', 'paperclip_reset_runtime_session'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.list_runs(company_id uuid, agent_id uuid DEFAULT NULL)
RETURNS SETOF paperclip.heartbeat_runs
AS 'MODULE_PATHNAME', 'paperclip_list_runs'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.list_events(run_id uuid, after_seq int DEFAULT 0, "limit" int DEFAULT 200)
RETURNS SETOF paperclip.heartbeat_run_events
AS 'MODULE_PATHNAME', 'paperclip_list_events'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.append_run_event(
    run_id uuid,
    event_type text,
    message text DEFAULT NULL,
    payload jsonb DEFAULT NULL,
    stream text DEFAULT 'system',
    level text DEFAULT 'info')
RETURNS int
AS 'MODULE_PATHNAME', 'paperclip_append_run_event'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.read_log(run_id uuid, "offset" bigint DEFAULT 0,
                                   limit_bytes int DEFAULT 262144)
RETURNS TABLE(run_id uuid, store text, log_ref text, content text, next_offset bigint)
AS 'MODULE_PATHNAME', 'paperclip_read_log'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.read_log(uuid, bigint, int)
    IS 'a page of a run log (JSON lines); next_offset is null at the end';

CREATE FUNCTION paperclip.append_run_log(run_id uuid, stream text, chunk text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'paperclip_append_run_log'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.append_run_log(uuid, text, text)
    IS 'append a chunk to a run log (for external runners); returns the log bytes so far';

-- ---------------------------------------------------------------------------
-- Activity
-- ---------------------------------------------------------------------------

CREATE FUNCTION paperclip.normalize_activity_limit("limit" int)
RETURNS int
AS 'MODULE_PATHNAME', 'paperclip_normalize_activity_limit'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION paperclip.list_activity(
    company_id uuid,
    agent_id uuid DEFAULT NULL,
    entity_type text DEFAULT NULL,
    entity_id text DEFAULT NULL,
    "limit" int DEFAULT NULL)
RETURNS SETOF paperclip.activity_log
AS 'MODULE_PATHNAME', 'paperclip_list_activity'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.activity_for_issue(issue_id uuid)
RETURNS SETOF paperclip.activity_log
AS 'MODULE_PATHNAME', 'paperclip_activity_for_issue'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.log_activity(
    company_id uuid,
    actor_type text,
    actor_id text,
    action text,
    entity_type text,
    entity_id text,
    agent_id uuid DEFAULT NULL,
    run_id uuid DEFAULT NULL,
    details jsonb DEFAULT NULL)
RETURNS paperclip.activity_log
AS 'MODULE_PATHNAME', 'paperclip_log_activity'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.runs_for_issue(company_id uuid, issue_id uuid)
RETURNS TABLE(run_id uuid, status text, agent_id uuid, adapter_type text,
              started_at timestamptz, finished_at timestamptz, created_at timestamptz,
              invocation_source text, usage_json jsonb, result_json jsonb, log_bytes bigint,
              retry_of_run_id uuid, scheduled_retry_at timestamptz,
              scheduled_retry_attempt int, scheduled_retry_reason text,
              liveness_state text, liveness_reason text, continuation_attempt int,
              last_useful_action_at timestamptz, next_action text,
              retry_exhausted_reason text)
AS 'MODULE_PATHNAME', 'paperclip_runs_for_issue'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION paperclip.classify_run_liveness(input jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'paperclip_classify_run_liveness'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.classify_run_liveness(jsonb)
    IS 'whether a finished run moved its issue forward (the rules of liveness.md)';

CREATE FUNCTION paperclip.backfill_run_liveness(company_id uuid, issue_id uuid)
RETURNS int
AS 'MODULE_PATHNAME', 'paperclip_backfill_run_liveness'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.backfill_run_liveness(uuid, uuid)
    IS 'classify up to 20 finished, unclassified runs of an issue; returns how many were updated';

CREATE FUNCTION paperclip.classify_finished_runs(batch_size int DEFAULT 100)
RETURNS int
AS 'MODULE_PATHNAME', 'paperclip_classify_finished_runs'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.classify_finished_runs(int)
    IS 'classify runs finished at least paperclip.liveness_delay ago, as the scheduler does; returns how many';

CREATE FUNCTION paperclip.issues_for_run(run_id uuid)
RETURNS TABLE(issue_id uuid, identifier text, title text, status text, priority text)
AS 'MODULE_PATHNAME', 'paperclip_issues_for_run'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

-- ---------------------------------------------------------------------------
-- Views for operators
-- ---------------------------------------------------------------------------

CREATE VIEW paperclip.active_runs WITH (security_invoker = true) AS
SELECT r.id AS run_id, r.company_id, r.agent_id, a.name AS agent_name, r.status,
       r.invocation_source, r.trigger_detail, r.created_at, r.started_at,
       pg_catalog.now() - coalesce(r.started_at, r.created_at) AS age,
       r.runner_pid
  FROM paperclip.heartbeat_runs r
  JOIN paperclip.agents a ON a.id = r.agent_id
 WHERE r.status IN ('queued', 'running');

CREATE VIEW paperclip.agent_overview WITH (security_invoker = true) AS
SELECT a.id AS agent_id, a.company_id, a.name, a.status, a.adapter_type,
       a.last_heartbeat_at,
       CASE WHEN a.timer_due_at = '-infinity' THEN pg_catalog.now() ELSE a.timer_due_at END AS next_timer_due_at,
       (SELECT count(*) FROM paperclip.heartbeat_runs r
         WHERE r.company_id = a.company_id AND r.agent_id = a.id
           AND r.created_at >= date_trunc('day', pg_catalog.now())) AS runs_today,
       a.spent_monthly_cents, a.budget_monthly_cents,
       rs.total_cost_cents, rs.session_id
  FROM paperclip.agents a
  LEFT JOIN paperclip.agent_runtime_state rs ON rs.agent_id = a.id;

CREATE VIEW paperclip.run_stats WITH (security_invoker = true) AS
SELECT r.company_id, r.agent_id, r.status, count(*) AS runs,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - r.started_at))
           AS p50_duration_sec,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - r.started_at))
           AS p95_duration_sec,
       sum(coalesce((r.usage_json ->> 'costUsd')::numeric, 0)) AS cost_usd
  FROM paperclip.heartbeat_runs r
 GROUP BY r.company_id, r.agent_id, r.status;

-- ---------------------------------------------------------------------------
-- Security: roles, grants, company isolation
-- ---------------------------------------------------------------------------
-- Three roles (created when absent; roles belong to the cluster, so DROP
-- EXTENSION leaves them): paperclip_reader reads, paperclip_operator also
-- enqueues, cancels and reports runs, paperclip_admin also configures
-- companies, agents and adapters. PUBLIC gets nothing.
--
-- Writes go through the API functions, SECURITY DEFINER with a fixed
-- search_path: they check the caller's company binding, then act as the
-- extension owner. Reads run as the caller, under row-level security.

DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['paperclip_reader', 'paperclip_operator', 'paperclip_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;
GRANT paperclip_reader TO paperclip_operator;
GRANT paperclip_operator TO paperclip_admin;

-- A role bound to companies sees and touches only their rows; a role bound
-- to none (and every superuser) sees all companies. Kept by OID: renaming a
-- role keeps its binding, a new role of an old name does not inherit it.
CREATE TABLE paperclip.company_roles (
    role_id     regrole NOT NULL,
    company_id  uuid NOT NULL REFERENCES paperclip.companies (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (role_id, company_id)
);
COMMENT ON TABLE paperclip.company_roles
    IS 'binds a role to the companies it may see and touch; a role with no row sees every company';
SELECT pg_catalog.pg_extension_config_dump('paperclip.company_roles', '');

-- The companies a role may see in this session, or NULL for all. Both the
-- role and the session's login role count: a login bound to a company stays
-- bound after SET ROLE to an unbound role (both bound: what both may see).
-- A role this session cannot become sees nothing, and learns nothing of
-- another role's bindings.
CREATE FUNCTION paperclip.visible_companies(role_name name)
RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
             WHEN NOT pg_catalog.pg_has_role(SESSION_USER, $1, 'MEMBER') THEN '{}'::uuid[]
             WHEN role_bound.c IS NULL THEN session_bound.c
             WHEN session_bound.c IS NULL THEN role_bound.c
             ELSE ARRAY(SELECT pg_catalog.unnest(role_bound.c)
                        INTERSECT SELECT pg_catalog.unnest(session_bound.c))
           END
      FROM (SELECT pg_catalog.array_agg(b.company_id) AS c
              FROM paperclip.company_roles b JOIN pg_catalog.pg_roles r ON r.oid = b.role_id
             WHERE r.rolname = $1) role_bound,
           (SELECT pg_catalog.array_agg(b.company_id) AS c
              FROM paperclip.company_roles b JOIN pg_catalog.pg_roles r ON r.oid = b.role_id
             WHERE r.rolname = SESSION_USER) session_bound
$$;
COMMENT ON FUNCTION paperclip.visible_companies(name)
    IS 'the companies a role may see in this session (paperclip.company_roles, its own and the login''s), NULL for all';

REVOKE ALL ON SCHEMA paperclip FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA paperclip FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA paperclip FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA paperclip FROM PUBLIC;

GRANT USAGE ON SCHEMA paperclip TO paperclip_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA paperclip TO paperclip_reader;
GRANT EXECUTE ON FUNCTION
    paperclip.timer_due_at(text, jsonb, timestamptz),
    paperclip.adapter_config_valid(text, jsonb),
    paperclip.visible_companies(name),
    paperclip.list_runs(uuid, uuid),
    paperclip.list_events(uuid, int, int),
    paperclip.read_log(uuid, bigint, int),
    paperclip.normalize_activity_limit(int),
    paperclip.list_activity(uuid, uuid, text, text, int),
    paperclip.activity_for_issue(uuid),
    paperclip.runs_for_issue(uuid, uuid),
    paperclip.issues_for_run(uuid),
    paperclip.classify_run_liveness(jsonb)
TO paperclip_reader;

GRANT EXECUTE ON FUNCTION
    paperclip.enqueue_wakeup(uuid, text, text, text, jsonb, text, text, text, jsonb),
    paperclip.invoke(uuid, text, jsonb, text, text, text),
    paperclip.tick_timers(timestamptz),
    paperclip.finalize_run(uuid, jsonb),
    paperclip.claim_runs(int),
    paperclip.cancel_run(uuid),
    paperclip.cancel_active_for_agent(uuid),
    paperclip.get_runtime_state(uuid),
    paperclip.reset_runtime_session(uuid),
    paperclip.append_run_event(uuid, text, text, jsonb, text, text),
    paperclip.append_run_log(uuid, text, text),
    paperclip.log_activity(uuid, text, text, text, text, text, uuid, uuid, jsonb),
    paperclip.backfill_run_liveness(uuid, uuid)
TO paperclip_operator;

GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA paperclip TO paperclip_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA paperclip TO paperclip_admin;
REVOKE INSERT, UPDATE, DELETE ON paperclip.timer_agents FROM paperclip_admin;  -- kept by triggers
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA paperclip TO paperclip_admin;

-- Row-level security by company, for every table that has one. The role's
-- companies are read once per query (an InitPlan), not once per row.
DO $rls$
DECLARE
    t text;
    col text;
BEGIN
    FOR t, col IN VALUES
        ('companies', 'id'), ('agents', 'company_id'), ('agent_runtime_state', 'company_id'),
        ('agent_wakeup_requests', 'company_id'), ('heartbeat_runs', 'company_id'),
        ('heartbeat_run_events', 'company_id'), ('cost_events', 'company_id'),
        ('activity_log', 'company_id'), ('issues', 'company_id'), ('issue_comments', 'company_id'),
        ('issue_documents', 'company_id'), ('document_revisions', 'company_id'),
        ('issue_work_products', 'company_id'), ('workspace_operations', 'company_id')
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE paperclip.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY company_isolation ON paperclip.%I '
            'USING ((SELECT paperclip.visible_companies(CURRENT_USER)) IS NULL '
            '       OR %I OPERATOR(pg_catalog.=) ANY ((SELECT paperclip.visible_companies(CURRENT_USER))::uuid[]))',
            t, col);
    END LOOP;
END
$rls$;
-- A bound role sees its own bindings but changes none: else an admin bound
-- to a company could delete its binding and see every company.
ALTER TABLE paperclip.company_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_isolation ON paperclip.company_roles FOR SELECT
    USING ((SELECT paperclip.visible_companies(CURRENT_USER)) IS NULL
           OR company_id OPERATOR(pg_catalog.=) ANY ((SELECT paperclip.visible_companies(CURRENT_USER))::uuid[]));
CREATE POLICY unbound_roles_bind ON paperclip.company_roles
    USING ((SELECT paperclip.visible_companies(CURRENT_USER)) IS NULL)
    WITH CHECK ((SELECT paperclip.visible_companies(CURRENT_USER)) IS NULL);

-- a count over every company, no company's data
ALTER TABLE paperclip.timer_agents ENABLE ROW LEVEL SECURITY;
CREATE POLICY everyone_reads ON paperclip.timer_agents FOR SELECT USING (true);
