-- Two PL/pgSQL ports of enqueue_wakeup, as a careful engineer would write them:
--   enqueue_wakeup_plpgsql_01  the seeds' enqueueWakeup, the path of 0.1 (a
--       coalescing wake writes a coalesced request, nothing merged): the
--       baseline of the coalescing wake's regression check;
--   enqueue_wakeup_plpgsql     today's enqueue_wakeup, statement for statement
--       what the C function runs (argument, vocabulary, size and company
--       checks, SECURITY DEFINER with a pinned search_path, idempotency lock,
--       policy, deferral, merge, promotion of a retry, the one-active-run
--       arbitration): the baseline the C function is compared with.
CREATE SCHEMA IF NOT EXISTS paperclip_bench;

CREATE OR REPLACE FUNCTION paperclip_bench.enqueue_wakeup_plpgsql_01(
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

CREATE OR REPLACE FUNCTION paperclip_bench.enqueue_wakeup_plpgsql(
    p_agent_id uuid, p_source text DEFAULT 'on_demand', p_trigger_detail text DEFAULT NULL,
    p_reason text DEFAULT NULL, p_payload jsonb DEFAULT NULL, p_idempotency_key text DEFAULT NULL,
    p_actor_type text DEFAULT NULL, p_actor_id text DEFAULT NULL, p_context jsonb DEFAULT '{}')
RETURNS paperclip.heartbeat_runs
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    companies uuid[];
    prior     record;
    probe     record;
    run       paperclip.heartbeat_runs;
    req_id    uuid;
    run_id    uuid;
    attempt   int := 0;
BEGIN
    -- the arguments (pc_check_*): nulls, lengths, vocabularies, objects and sizes
    IF p_agent_id IS NULL THEN
        RAISE EXCEPTION 'agent_id must not be null' USING ERRCODE = '22004';
    END IF;
    IF octet_length(p_reason) > 65536 THEN
        RAISE EXCEPTION 'reason is too long' USING ERRCODE = '54000';
    END IF;
    IF octet_length(p_idempotency_key) > 1024 OR octet_length(p_actor_id) > 1024 THEN
        RAISE EXCEPTION 'idempotency_key or requested_by_actor_id is too long' USING ERRCODE = '54000';
    END IF;
    IF p_source IS NULL THEN
        RAISE EXCEPTION 'source must not be null' USING ERRCODE = '22004';
    END IF;
    IF p_source NOT IN ('timer', 'assignment', 'on_demand', 'automation') THEN
        RAISE EXCEPTION 'invalid value for source: "%"', left(p_source, 100) USING ERRCODE = '22023',
            HINT = 'source must be one of: timer, assignment, on_demand, automation.';
    END IF;
    IF p_trigger_detail NOT IN ('manual', 'ping', 'callback', 'system') THEN
        RAISE EXCEPTION 'invalid value for trigger_detail: "%"', left(p_trigger_detail, 100) USING ERRCODE = '22023',
            HINT = 'trigger_detail must be one of: manual, ping, callback, system.';
    END IF;
    IF p_actor_type NOT IN ('user', 'agent', 'system') THEN
        RAISE EXCEPTION 'invalid value for requested_by_actor_type: "%"', left(p_actor_type, 100) USING ERRCODE = '22023',
            HINT = 'requested_by_actor_type must be one of: user, agent, system.';
    END IF;
    IF jsonb_typeof(p_payload) <> 'object' THEN
        RAISE EXCEPTION 'payload must be a JSON object' USING ERRCODE = '22023';
    END IF;
    IF pg_column_size(p_payload) > 1048576 THEN
        RAISE EXCEPTION 'payload is too large' USING ERRCODE = '54000';
    END IF;
    p_context := coalesce(p_context, '{}');
    IF jsonb_typeof(p_context) <> 'object' THEN
        RAISE EXCEPTION 'context_snapshot must be a JSON object' USING ERRCODE = '22023';
    END IF;
    IF pg_column_size(p_context) > 1048576 THEN
        RAISE EXCEPTION 'context_snapshot is too large' USING ERRCODE = '54000';
    END IF;

    -- the caller may touch the agent's company (pc_check_agent_access)
    IF NOT (SELECT rolsuper FROM pg_roles WHERE oid = session_user::regrole) THEN
        companies := paperclip.visible_companies(session_user);
        IF companies IS NOT NULL AND NOT EXISTS (SELECT 1 FROM paperclip.agents a
                WHERE a.id = p_agent_id AND a.company_id = ANY (companies)) THEN
            RAISE EXCEPTION 'permission denied for agent %', p_agent_id USING ERRCODE = '42501';
        END IF;
    END IF;

    -- an idempotency key already used: the earlier request's run
    IF p_idempotency_key IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext(p_agent_id::text), hashtext(p_idempotency_key));
        SELECT w.status, w.run_id INTO prior FROM paperclip.agent_wakeup_requests w
         WHERE w.agent_id = p_agent_id AND w.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            SELECT * INTO run FROM paperclip.heartbeat_runs r WHERE r.id = prior.run_id;
            RETURN run;
        END IF;
    END IF;

    LOOP
        attempt := attempt + 1;
        -- the agent, the policy, its pending run (active first, else a scheduled retry)
        SELECT a.company_id, a.status, s.session_id, p.id AS pending_id, p.status AS pending_status,
               p.context_snapshot AS pending_context,
               CASE WHEN p_source = 'timer' AND (a.runtime_config -> 'heartbeat' -> 'enabled') = 'false' THEN 'heartbeat.disabled'
                    WHEN p_source = 'timer' AND a.status = 'error' THEN 'heartbeat.agentInError'
                    WHEN p_source = 'assignment' AND (a.runtime_config -> 'heartbeat' -> 'wakeOnAssignment') = 'false'
                        THEN 'heartbeat.wakeOnAssignment.disabled'
                    WHEN p_source = 'automation' AND (a.runtime_config -> 'heartbeat' -> 'wakeOnAutomation') = 'false'
                        THEN 'heartbeat.wakeOnAutomation.disabled'
                    WHEN p_source = 'on_demand' AND p_trigger_detail = 'ping'
                         AND (a.runtime_config -> 'heartbeat' -> 'wakeOnOnDemand') = 'false'
                        THEN 'heartbeat.wakeOnOnDemand.disabled'
               END AS skip
          INTO probe
          FROM paperclip.agents a
          LEFT JOIN paperclip.agent_runtime_state s ON s.agent_id = a.id
          LEFT JOIN LATERAL (SELECT * FROM (
                SELECT r.id, r.status, r.context_snapshot, 0 AS ord, r.created_at
                  FROM paperclip.heartbeat_runs r WHERE r.company_id = a.company_id AND r.agent_id = a.id
                   AND r.status IN ('queued', 'running')
                UNION ALL SELECT r.id, r.status, r.context_snapshot, 1, r.created_at
                  FROM paperclip.heartbeat_runs r WHERE r.company_id = a.company_id AND r.agent_id = a.id
                   AND r.status = 'scheduled_retry') r
              ORDER BY r.ord, r.created_at DESC LIMIT 1) p ON true
         WHERE a.id = p_agent_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'agent not found' USING ERRCODE = 'P0002';
        END IF;
        IF probe.status IN ('paused', 'terminated') THEN
            RAISE EXCEPTION 'agent is not invokable in its current state'
                USING ERRCODE = '55000', DETAIL = 'status: ' || probe.status;
        END IF;
        IF probe.skip IS NOT NULL THEN
            INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, trigger_detail, reason,
                payload, requested_by_actor_type, requested_by_actor_id, idempotency_key, status,
                coalesced_count, finished_at)
            VALUES (probe.company_id, p_agent_id, p_source, p_trigger_detail, probe.skip, p_payload,
                p_actor_type, p_actor_id, p_idempotency_key, 'skipped', 0, now());
            RETURN NULL;
        END IF;

        IF probe.pending_id IS NULL THEN
            -- a new queued run and its request; the one-active-run index
            -- arbitrates (a run lost to a concurrent wakeup takes its request away)
            run_id := gen_random_uuid();
            INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, trigger_detail,
                reason, payload, requested_by_actor_type, requested_by_actor_id, idempotency_key, run_id)
            VALUES (probe.company_id, p_agent_id, p_source, p_trigger_detail, p_reason, p_payload,
                p_actor_type, p_actor_id, p_idempotency_key, run_id)
            RETURNING id INTO req_id;
            INSERT INTO paperclip.heartbeat_runs (id, company_id, agent_id, invocation_source, trigger_detail,
                wakeup_request_id, context_snapshot, session_id_before)
            VALUES (run_id, probe.company_id, p_agent_id, p_source, p_trigger_detail, req_id, p_context,
                probe.session_id)
            ON CONFLICT (company_id, agent_id) WHERE status IN ('queued', 'running') DO NOTHING
            RETURNING * INTO run;
            IF FOUND THEN
                PERFORM pg_notify('paperclip_events', json_build_object('companyId', run.company_id,
                    'type', 'heartbeat.run.queued', 'payload', json_build_object('runId', run.id,
                    'agentId', run.agent_id, 'invocationSource', run.invocation_source,
                    'triggerDetail', run.trigger_detail, 'wakeupRequestId', run.wakeup_request_id))::text);
                RETURN run;
            END IF;
            DELETE FROM paperclip.agent_wakeup_requests WHERE id = req_id;
        ELSIF probe.pending_status = 'queued' THEN
            -- merge the wake's context into the queued run, and a coalesced request
            UPDATE paperclip.heartbeat_runs r SET updated_at = now(),
                   context_snapshot = paperclip.wake_context_merge(r.context_snapshot, p_context, p_reason,
                       CASE WHEN r.context_snapshot ? 'wakeReasons' THEN NULL ELSE
                       (SELECT q.reason FROM paperclip.agent_wakeup_requests q WHERE q.id = r.wakeup_request_id) END)
             WHERE r.id = probe.pending_id AND (r.status || '') = 'queued'
            RETURNING * INTO run;
            IF FOUND THEN
                INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, trigger_detail, reason,
                    payload, requested_by_actor_type, requested_by_actor_id, idempotency_key, status,
                    coalesced_count, run_id, finished_at)
                VALUES (probe.company_id, p_agent_id, p_source, p_trigger_detail, p_reason, p_payload,
                    p_actor_type, p_actor_id, p_idempotency_key, 'coalesced', 1, run.id, now());
                RETURN run;
            END IF;
        ELSIF probe.pending_status = 'running' THEN
            IF paperclip.wake_has_news(p_context, probe.pending_context) THEN
                -- deferred for the running run's follow-up (its handshake lock, shared)
                PERFORM pg_advisory_xact_lock_shared(hashtext(probe.pending_id::text));
                SELECT * INTO run FROM paperclip.heartbeat_runs r
                 WHERE r.id = probe.pending_id AND (r.status || '') = 'running';
                IF FOUND THEN
                    INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, trigger_detail,
                        reason, payload, requested_by_actor_type, requested_by_actor_id, idempotency_key,
                        status, run_id, context_snapshot, requested_at)
                    VALUES (probe.company_id, p_agent_id, p_source, p_trigger_detail, p_reason, p_payload,
                        p_actor_type, p_actor_id, p_idempotency_key, 'deferred', run.id, p_context,
                        clock_timestamp())
                    RETURNING id INTO req_id;
                    PERFORM pg_notify('paperclip_events', json_build_object('companyId', run.company_id,
                        'type', 'heartbeat.wakeup.status', 'payload', json_build_object('wakeupRequestId', req_id,
                        'agentId', run.agent_id, 'runId', run.id, 'status', 'deferred'))::text);
                    RETURN run;
                END IF;
            ELSE
                INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, trigger_detail, reason,
                    payload, requested_by_actor_type, requested_by_actor_id, idempotency_key, status,
                    coalesced_count, run_id, finished_at)
                VALUES (probe.company_id, p_agent_id, p_source, p_trigger_detail, p_reason, p_payload,
                    p_actor_type, p_actor_id, p_idempotency_key, 'coalesced', 1, probe.pending_id, now());
                SELECT * INTO run FROM paperclip.heartbeat_runs r WHERE r.id = probe.pending_id;
                RETURN run;
            END IF;
        ELSE
            -- a scheduled retry: promoted at once, the wake merged into it
            UPDATE paperclip.heartbeat_runs r SET status = 'queued', updated_at = now(),
                   context_snapshot = paperclip.wake_context_merge(r.context_snapshot, p_context, p_reason)
             WHERE r.id = probe.pending_id AND (r.status || '') = 'scheduled_retry'
            RETURNING * INTO run;
            IF FOUND THEN
                INSERT INTO paperclip.agent_wakeup_requests (company_id, agent_id, source, trigger_detail, reason,
                    payload, requested_by_actor_type, requested_by_actor_id, idempotency_key, status,
                    coalesced_count, run_id, finished_at)
                VALUES (probe.company_id, p_agent_id, p_source, p_trigger_detail, p_reason, p_payload,
                    p_actor_type, p_actor_id, p_idempotency_key, 'coalesced', 1, run.id, now());
                RETURN run;
            END IF;
        END IF;
        IF attempt >= 10 THEN
            RAISE EXCEPTION 'could not enqueue the wakeup: the agent''s runs kept changing' USING ERRCODE = '40001';
        END IF;
    END LOOP;
END
$$;
