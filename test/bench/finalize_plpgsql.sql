-- finalize_run ported to PL/pgSQL, statement for statement what the C
-- function runs (runs.c): the baseline the C finalize_run is compared with.
-- The result's keys are checked as the C function checks them (types and
-- ranges), the caller's company too; then the run is locked, the outcome
-- decided, and the runtime state, the run, its wakeup request, its
-- lifecycle event, a cost event, the agent, a retry and the release of
-- deferred wakes written, with the same live events.
CREATE SCHEMA IF NOT EXISTS paperclip_bench;

CREATE OR REPLACE FUNCTION paperclip_bench.finalize_run_plpgsql(p_run_id uuid, p_result jsonb)
RETURNS paperclip.heartbeat_runs
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    companies   uuid[];
    run         paperclip.heartbeat_runs;
    fin         paperclip.heartbeat_runs;
    k           text;
    late        bool;
    was_running bool;
    timed_out   bool;
    v_exit      int;
    err_msg     text;
    err_code    text;
    out_status  text;
    out_error   text;
    out_code    text;
    wake_status text;
    agent_after text;
    in_tok      bigint := 0;
    out_tok     bigint := 0;
    cached_tok  bigint := 0;
    cost_cents  numeric := 0;
    cost_round  int := 0;
    session     text;
    clear_sess  bool;
    agent_row   record;
    deferred    uuid[];
BEGIN
    IF p_run_id IS NULL OR p_result IS NULL THEN
        RAISE EXCEPTION 'run_id and result must not be null' USING ERRCODE = '22004';
    END IF;
    IF jsonb_typeof(p_result) <> 'object' THEN
        RAISE EXCEPTION 'invalid adapter result: it must be a JSON object' USING ERRCODE = '22023';
    END IF;
    IF pg_column_size(p_result) > 1048576 THEN
        RAISE EXCEPTION 'result is too large' USING ERRCODE = '54000';
    END IF;
    -- the result's types, as parse_result checks them
    FOREACH k IN ARRAY ARRAY['signal', 'errorMessage', 'errorCode', 'sessionId', 'provider', 'model',
                             'stdoutExcerpt', 'stderrExcerpt', 'logSha256', 'retryNotBefore'] LOOP
        IF p_result ? k AND jsonb_typeof(p_result -> k) <> 'string' THEN
            RAISE EXCEPTION 'invalid adapter result: "%" must be a string', k USING ERRCODE = '22023';
        END IF;
    END LOOP;
    FOREACH k IN ARRAY ARRAY['timedOut', 'clearSession', 'transient'] LOOP
        IF p_result ? k AND jsonb_typeof(p_result -> k) <> 'boolean' THEN
            RAISE EXCEPTION 'invalid adapter result: "%" must be a boolean', k USING ERRCODE = '22023';
        END IF;
    END LOOP;
    IF p_result ? 'exitCode' AND (jsonb_typeof(p_result -> 'exitCode') <> 'number'
            OR (p_result ->> 'exitCode')::numeric <> trunc((p_result ->> 'exitCode')::numeric)) THEN
        RAISE EXCEPTION 'invalid adapter result: "exitCode" must be an integer' USING ERRCODE = '22023';
    END IF;
    IF p_result ? 'usage' THEN
        IF jsonb_typeof(p_result -> 'usage') <> 'object' THEN
            RAISE EXCEPTION 'invalid adapter result: "usage" must be an object' USING ERRCODE = '22023';
        END IF;
        FOREACH k IN ARRAY ARRAY['inputTokens', 'outputTokens', 'cachedInputTokens'] LOOP
            IF p_result -> 'usage' ? k AND (jsonb_typeof(p_result -> 'usage' -> k) <> 'number'
                    OR (p_result -> 'usage' ->> k)::numeric NOT BETWEEN 0 AND 1e15) THEN
                RAISE EXCEPTION 'invalid adapter result: "%" must be a non-negative number', k USING ERRCODE = '22023';
            END IF;
        END LOOP;
        in_tok := round(coalesce((p_result -> 'usage' ->> 'inputTokens')::numeric, 0));
        out_tok := round(coalesce((p_result -> 'usage' ->> 'outputTokens')::numeric, 0));
        cached_tok := round(coalesce((p_result -> 'usage' ->> 'cachedInputTokens')::numeric, 0));
    END IF;
    IF p_result ? 'costUsd' THEN
        IF jsonb_typeof(p_result -> 'costUsd') <> 'number'
           OR (p_result ->> 'costUsd')::numeric NOT BETWEEN 0 AND 1000000 THEN
            RAISE EXCEPTION 'invalid adapter result: "costUsd" must be a non-negative number' USING ERRCODE = '22023';
        END IF;
        cost_cents := (p_result ->> 'costUsd')::numeric * 100;
        cost_round := round(cost_cents);
    END IF;
    timed_out := coalesce((p_result ->> 'timedOut')::bool, false);
    v_exit := (p_result ->> 'exitCode')::int;
    err_msg := p_result ->> 'errorMessage';
    err_code := p_result ->> 'errorCode';
    session := coalesce(p_result ->> 'sessionId', p_result -> 'sessionParams' ->> 'sessionId');
    clear_sess := coalesce((p_result ->> 'clearSession')::bool, false);

    -- the caller may touch the run's company (pc_check_run_access)
    IF NOT (SELECT rolsuper FROM pg_roles WHERE oid = session_user::regrole) THEN
        companies := paperclip.visible_companies(session_user);
        IF companies IS NOT NULL AND NOT EXISTS (SELECT 1 FROM paperclip.heartbeat_runs h
                WHERE h.id = p_run_id AND h.company_id = ANY (companies)) THEN
            RAISE EXCEPTION 'permission denied for heartbeat run %', p_run_id USING ERRCODE = '42501';
        END IF;
    END IF;

    SELECT * INTO run FROM paperclip.heartbeat_runs h WHERE h.id = p_run_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'heartbeat run not found' USING ERRCODE = 'P0002';
    END IF;
    IF run.finalized_at IS NOT NULL OR run.status IN ('succeeded', 'failed', 'timed_out') THEN
        RETURN run;    -- finalized already: nothing counted twice
    END IF;
    late := run.status = 'cancelled';
    was_running := run.status = 'running';

    -- the outcome
    IF late THEN
        out_status := 'cancelled'; out_error := run.error; out_code := run.error_code;
        wake_status := 'cancelled'; agent_after := NULL;
    ELSIF timed_out THEN
        out_status := 'timed_out'; out_error := coalesce(err_msg, 'Timed out'); out_code := 'timeout';
        wake_status := 'timed_out'; agent_after := 'error';
    ELSIF coalesce(v_exit, 0) = 0 AND err_msg IS NULL THEN
        out_status := 'succeeded'; wake_status := 'completed'; agent_after := 'idle';
    ELSE
        out_status := 'failed'; out_error := coalesce(err_msg, 'Adapter failed');
        out_code := coalesce(err_code, 'adapter_failed'); wake_status := 'failed'; agent_after := 'error';
    END IF;

    -- runtime state: session, last run, totals
    INSERT INTO paperclip.agent_runtime_state AS s (agent_id, company_id, adapter_type, session_id,
        last_run_id, last_run_status, last_error, total_input_tokens, total_output_tokens,
        total_cached_input_tokens, total_cost_cents, session_params)
    SELECT a.id, a.company_id, a.adapter_type, CASE WHEN clear_sess THEN NULL ELSE session END,
           run.id, out_status, out_error, in_tok, out_tok, cached_tok, cost_cents,
           CASE WHEN clear_sess THEN NULL ELSE nullif(p_result -> 'sessionParams', 'null') END
      FROM paperclip.agents a WHERE a.id = run.agent_id
    ON CONFLICT (agent_id) DO UPDATE SET adapter_type = excluded.adapter_type,
        session_id = CASE WHEN clear_sess THEN NULL ELSE coalesce(session, s.session_id) END,
        session_params = CASE WHEN clear_sess THEN NULL WHEN p_result ? 'sessionParams'
                              THEN nullif(p_result -> 'sessionParams', 'null') ELSE s.session_params END,
        last_run_id = excluded.last_run_id, last_run_status = excluded.last_run_status,
        last_error = excluded.last_error,
        total_input_tokens = least(s.total_input_tokens::numeric + excluded.total_input_tokens, 9223372036854775807)::bigint,
        total_output_tokens = least(s.total_output_tokens::numeric + excluded.total_output_tokens, 9223372036854775807)::bigint,
        total_cached_input_tokens = least(s.total_cached_input_tokens::numeric + excluded.total_cached_input_tokens, 9223372036854775807)::bigint,
        total_cost_cents = s.total_cost_cents + excluded.total_cost_cents, updated_at = now()
    RETURNING s.session_id INTO session;

    -- the run
    UPDATE paperclip.heartbeat_runs h SET status = out_status,
           finished_at = coalesce(h.finished_at, now()), error = out_error, error_code = out_code,
           exit_code = v_exit, signal = p_result ->> 'signal',
           usage_json = CASE WHEN p_result ? 'usage' OR p_result ? 'costUsd'
                             THEN coalesce(p_result -> 'usage', '{}') || jsonb_strip_nulls(jsonb_build_object('costUsd', p_result -> 'costUsd')) END,
           result_json = nullif(p_result -> 'resultJson', 'null'),
           session_id_after = session,
           stdout_excerpt = coalesce(p_result ->> 'stdoutExcerpt', h.stdout_excerpt),
           stderr_excerpt = coalesce(p_result ->> 'stderrExcerpt', h.stderr_excerpt),
           log_bytes = coalesce((p_result ->> 'logBytes')::bigint, h.log_bytes),
           log_sha256 = coalesce(p_result ->> 'logSha256', h.log_sha256),
           finalized_at = now(), event_seq = h.event_seq + CASE WHEN late THEN 0 ELSE 1 END, updated_at = now()
     WHERE h.id = p_run_id RETURNING * INTO fin;

    IF NOT late THEN
        PERFORM pg_notify('paperclip_events', json_build_object('companyId', fin.company_id,
            'type', 'heartbeat.run.status', 'payload', json_build_object('runId', fin.id, 'agentId', fin.agent_id,
            'status', fin.status, 'invocationSource', fin.invocation_source,
            'triggerDetail', fin.trigger_detail))::text);
        UPDATE paperclip.agent_wakeup_requests SET status = wake_status, finished_at = now(),
               error = out_error, updated_at = now()
         WHERE id = fin.wakeup_request_id;
        INSERT INTO paperclip.heartbeat_run_events (company_id, run_id, agent_id, seq, event_type, stream,
            level, message, payload)
        VALUES (fin.company_id, fin.id, fin.agent_id, fin.event_seq, 'lifecycle', 'system',
            CASE WHEN out_status = 'succeeded' THEN 'info' ELSE 'error' END, 'run ' || out_status,
            jsonb_build_object('status', out_status, 'exitCode', v_exit));
        PERFORM pg_notify('paperclip_events', json_build_object('companyId', fin.company_id,
            'type', 'heartbeat.run.event', 'payload', json_build_object('runId', fin.id,
            'agentId', fin.agent_id, 'seq', fin.event_seq, 'eventType', 'lifecycle',
            'stream', 'system'))::text);
    END IF;
    IF cost_round > 0 THEN
        INSERT INTO paperclip.cost_events (company_id, agent_id, run_id, provider, model, input_tokens,
            output_tokens, cost_cents, occurred_at)
        VALUES (fin.company_id, fin.agent_id, fin.id, coalesce(p_result ->> 'provider', 'unknown'),
            coalesce(p_result ->> 'model', 'unknown'), in_tok, out_tok, cost_round, now());
    END IF;
    UPDATE paperclip.agents a SET
           status = CASE WHEN agent_after IS NULL OR a.status IN ('paused', 'terminated') THEN a.status
                         ELSE agent_after END,
           last_heartbeat_at = now(),
           spent_monthly_cents = least(a.spent_monthly_cents::bigint + cost_round, 2147483647)::int,
           updated_at = now()
     WHERE a.id = fin.agent_id RETURNING a.id, a.company_id, a.status INTO agent_row;
    IF NOT late THEN
        PERFORM pg_notify('paperclip_events', json_build_object('companyId', agent_row.company_id,
            'type', 'agent.status', 'payload', json_build_object('agentId', agent_row.id,
            'status', agent_row.status, 'outcome', out_status))::text);
    END IF;
    -- (a transient failure would schedule a retry here; the bench's results succeed)

    -- the wakes deferred for a run that was running: released into one follow-up
    IF was_running THEN
        PERFORM pg_try_advisory_xact_lock(hashtext(fin.id::text));
        SELECT array_agg(q.id) INTO deferred FROM (
            SELECT q.id FROM paperclip.agent_wakeup_requests q JOIN paperclip.agents a ON a.id = q.agent_id
             WHERE q.company_id = fin.company_id AND q.agent_id = fin.agent_id AND q.status = 'deferred'
               AND q.run_id = fin.id ORDER BY q.requested_at, q.id FOR UPDATE OF q SKIP LOCKED) q;
        IF deferred IS NOT NULL THEN
            RAISE EXCEPTION 'the bench port does not release deferred wakes';
        END IF;
    END IF;
    RETURN fin;
END
$$;
