-- finalize_run of a running run (of a fresh agent) with a result that succeeded and cost something
SELECT (paperclip.finalize_run(('10000000-0000-0000-0000-'||lpad(to_hex(nextval('paperclip_bench.next_agent')),12,'0'))::uuid, '{"exitCode":0,"usage":{"inputTokens":1200,"outputTokens":340},"costUsd":0.0123,"sessionId":"s-1","provider":"anthropic","model":"claude"}')).status;
