-- finalize_c.sql through the PL/pgSQL port (finalize_plpgsql.sql)
SELECT (paperclip_bench.finalize_run_plpgsql(('10000000-0000-0000-0000-'||lpad(to_hex(nextval('paperclip_bench.next_agent')),12,'0'))::uuid, '{"exitCode":0,"usage":{"inputTokens":1200,"outputTokens":340},"costUsd":0.0123,"sessionId":"s-1","provider":"anthropic","model":"claude"}')).status;
