SELECT paperclip_bench.enqueue_wakeup_plpgsql(('00000000-0000-0000-0000-'||lpad(to_hex(nextval('paperclip_bench.next_agent')),12,'0'))::uuid);
