-- The enqueue logic of heartbeat.ts, ported to PL/pgSQL as a careful engineer
-- would write it: the baseline the C enqueue_wakeup is compared with.
CREATE SCHEMA IF NOT EXISTS paperclip_bench;

CREATE OR REPLACE FUNCTION paperclip_bench.enqueue_wakeup_plpgsql(
    p_agent_id uuid, p_source text DEFAULT 'on_demand', p_trigger_detail text DEFAULT NULL,
    p_reason text DEFAULT NULL, p_payload jsonb DEFAULT NULL, p_idempotency_key text DEFAULT NULL,
    p_actor_type text DEFAULT NULL, p_actor_id text DEFAULT NULL, p_context jsonb DEFAULT '{}')
RETURNS paperclip.heartbeat_runs
LANGUAGE plpgsql AS $$
DECLARE
    a        paperclip.agents;
    hb       jsonb;
    skip     text;
    prior    record;
    active   paperclip.heartbeat_runs;
    req_id   uuid;
    sess     text;
    run      paperclip.heartbeat_runs;
BEGIN
    SELECT * INTO a FROM paperclip.agents WHERE id = p_agent_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent not found' USING ERRCODE = 'P0002';
    END IF;
    IF a.status IN ('paused', 'terminated') THEN
        RAISE EXCEPTION 'agent is not invokable in its current state'
            USING ERRCODE = '55000', DETAIL = 'status: ' || a.status;
    END IF;

    IF p_idempotency_key IS NOT NULL THEN
        SELECT status, run_id INTO prior FROM paperclip.agent_wakeup_requests
         WHERE agent_id = p_agent_id AND idempotency_key = p_idempotency_key;
        IF FOUND THEN
            SELECT * INTO run FROM paperclip.heartbeat_runs WHERE id = prior.run_id;
            RETURN run;
        END IF;
    END IF;

    hb := CASE WHEN jsonb_typeof(a.runtime_config -> 'heartbeat') = 'object'
               THEN a.runtime_config -> 'heartbeat' ELSE '{}' END;
    skip := CASE
        WHEN p_source = 'timer' AND hb -> 'enabled' = 'false' THEN 'heartbeat.disabled'
        WHEN p_source = 'assignment' AND hb -> 'wakeOnAssignment' = 'false' THEN 'heartbeat.wakeOnAssignment.disabled'
        WHEN p_source = 'automation' AND hb -> 'wakeOnAutomation' = 'false' THEN 'heartbeat.wakeOnAutomation.disabled'
        WHEN p_source = 'on_demand' AND p_trigger_detail = 'ping' AND hb -> 'wakeOnOnDemand' = 'false'
            THEN 'heartbeat.wakeOnOnDemand.disabled'
    END;
    IF skip IS NOT NULL THEN
        INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, trigger_detail, reason,
            payload, status, requested_by_actor_type, requested_by_actor_id, idempotency_key, finished_at)
        VALUES (a.company_id, p_agent_id, p_source, p_trigger_detail, skip, p_payload, 'skipped',
            p_actor_type, p_actor_id, p_idempotency_key, now());
        RETURN NULL;
    END IF;

    SELECT * INTO active FROM paperclip.heartbeat_runs
     WHERE company_id = a.company_id AND agent_id = p_agent_id AND status IN ('queued', 'running')
     ORDER BY created_at DESC LIMIT 1;
    IF FOUND THEN
        INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, trigger_detail, reason,
            payload, status, coalesced_count, requested_by_actor_type, requested_by_actor_id,
            idempotency_key, run_id, finished_at)
        VALUES (a.company_id, p_agent_id, p_source, p_trigger_detail, p_reason, p_payload, 'coalesced', 1,
            p_actor_type, p_actor_id, p_idempotency_key, active.id, now());
        RETURN active;
    END IF;

    INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, trigger_detail, reason,
        payload, status, requested_by_actor_type, requested_by_actor_id, idempotency_key)
    VALUES (a.company_id, p_agent_id, p_source, p_trigger_detail, p_reason, p_payload, 'queued',
        p_actor_type, p_actor_id, p_idempotency_key)
    RETURNING id INTO req_id;
    SELECT session_id INTO sess FROM paperclip.agent_runtime_state WHERE agent_id = p_agent_id;
    INSERT INTO paperclip.heartbeat_runs (company_id, agent_id, invocation_source, trigger_detail, status,
        wakeup_request_id, context_snapshot, session_id_before)
    VALUES (a.company_id, p_agent_id, p_source, p_trigger_detail, 'queued', req_id, p_context, sess)
    RETURNING * INTO run;
    UPDATE paperclip.agent_wakeup_requests SET run_id = run.id, updated_at = now() WHERE id = req_id;
    PERFORM pg_notify('paperclip_events', json_build_object('companyId', run.company_id,
        'type', 'heartbeat.run.queued', 'payload', json_build_object('runId', run.id,
        'agentId', run.agent_id, 'invocationSource', run.invocation_source,
        'triggerDetail', run.trigger_detail, 'wakeupRequestId', run.wakeup_request_id))::text);
    RETURN run;
END
$$;
