-- Bare copies of the tables the hot paths write (same columns, plain types,
-- primary keys only: no check, no other index, no foreign key, no trigger):
-- the bare-table floors of enqueue (enqueue_bare.sql) and finalize
-- (finalize_bare.sql).
CREATE SCHEMA IF NOT EXISTS paperclip_bench;
DO $$
DECLARE
    t record;
    c record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('heartbeat_runs', 'b_runs', 'id'), ('agent_wakeup_requests', 'b_requests', 'id'),
                                   ('heartbeat_run_events', 'b_events', 'id'), ('cost_events', 'b_cost', 'id'),
                                   ('agent_runtime_state', 'b_runtime', 'agent_id'), ('agents', 'b_agents', 'id'))
                             AS v(src, dst, pk) LOOP
        EXECUTE format('CREATE TABLE paperclip_bench.%I (LIKE paperclip.%I INCLUDING DEFAULTS INCLUDING IDENTITY)',
                       t.dst, t.src);
        FOR c IN SELECT a.attname, format_type(ty.typbasetype, a.atttypmod) AS base
                   FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
                  WHERE a.attrelid = format('paperclip_bench.%I', t.dst)::regclass AND a.attnum > 0
                    AND ty.typtype = 'd' LOOP
            EXECUTE format('ALTER TABLE paperclip_bench.%I ALTER COLUMN %I TYPE %s', t.dst, c.attname, c.base);
        END LOOP;
        EXECUTE format('ALTER TABLE paperclip_bench.%I ADD PRIMARY KEY (%I)', t.dst, t.pk);
    END LOOP;
END
$$;
