-- enqueue_c.sql through the PL/pgSQL port of today's enqueue_wakeup
BEGIN;
SELECT (paperclip_bench.enqueue_wakeup_plpgsql(('00000000-0000-0000-0000-'||lpad(to_hex(nextval('paperclip_bench.next_agent')),12,'0'))::uuid)).id AS run_id \gset
UPDATE paperclip.heartbeat_runs SET status = 'succeeded', finished_at = now() WHERE id = :run_id;
END;
