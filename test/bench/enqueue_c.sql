-- a wakeup for a fresh agent (a new queued run), then the run marked finished
BEGIN;
SELECT (paperclip.enqueue_wakeup(('00000000-0000-0000-0000-'||lpad(to_hex(nextval('paperclip_bench.next_agent')),12,'0'))::uuid)).id AS run_id \gset
UPDATE paperclip.heartbeat_runs SET status = 'succeeded', finished_at = now() WHERE id = :run_id;
END;
