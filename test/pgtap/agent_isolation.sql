-- Issue 10, the SQL side of agent isolation (isolation.sql is issue 11's, of
-- companies): who may make the server run a program (superuser or
-- pg_execute_server_program, as COPY ... PROGRAM; or a command inside
-- paperclip.allowed_commands, tested in test/integration/isolation.sh where
-- the setting can be reloaded), and the env an adapter_config may not set.
-- The agent isolation GUCs: units, contexts.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(22);

-- run a statement as a role; its single value, or "ERROR <sqlstate>: <message> HINT: <hint>"
CREATE FUNCTION pg_temp.as_role(r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    out text;
    hint text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    BEGIN
        EXECUTE q INTO out;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
        out := 'ERROR ' || SQLSTATE || ': ' || SQLERRM || coalesce(' HINT: ' || nullif(hint, ''), '');
    END;
    RESET ROLE;
    RETURN out;
END $$;

CREATE ROLE tap_iso_admin IN ROLE paperclip_admin;
CREATE ROLE tap_iso_exec IN ROLE paperclip_admin, pg_execute_server_program;
INSERT INTO paperclip.companies (id, name) VALUES ('d0000000-0000-0000-0000-00000000000a', 'iso co');
INSERT INTO paperclip.company_roles (role_id, company_id) VALUES
  ('tap_iso_admin', 'd0000000-0000-0000-0000-00000000000a'), ('tap_iso_exec', 'd0000000-0000-0000-0000-00000000000a');
INSERT INTO paperclip.agents (id, company_id, name, adapter_type, adapter_config) VALUES
  ('d0000000-0000-0000-0000-0000000000a1', 'd0000000-0000-0000-0000-00000000000a', 'runs true', 'process', '{"command":"/bin/true"}'),
  ('d0000000-0000-0000-0000-0000000000a2', 'd0000000-0000-0000-0000-00000000000a', 'unconfigured', 'process', '{}');

-- a paperclip_admin alone cannot make the server run a program
SELECT matches(pg_temp.as_role('tap_iso_admin', $$INSERT INTO paperclip.agents (company_id, name, adapter_config)
                 VALUES ('d0000000-0000-0000-0000-00000000000a', 'sh', '{"command":"/bin/sh","args":["-c","id"]}') RETURNING 1$$),
               '^ERROR 42501: permission denied to configure a "process" agent to run a program',
               'an admin without pg_execute_server_program cannot create an agent that runs a program');
SELECT matches(pg_temp.as_role('tap_iso_admin', $$INSERT INTO paperclip.agents (company_id, name, adapter_config)
                 VALUES ('d0000000-0000-0000-0000-00000000000a', 'sh', '{"command":"/bin/sh"}') RETURNING 1$$),
               'HINT: .*pg_execute_server_program.*paperclip\.allowed_commands',
               'the hint names both ways: pg_execute_server_program and paperclip.allowed_commands');
SELECT matches(pg_temp.as_role('tap_iso_admin', $$UPDATE paperclip.agents SET adapter_config = '{"command":"/bin/sh"}'
                 WHERE name = 'unconfigured' RETURNING 1$$),
               '^ERROR 42501', 'nor configure one');
SELECT matches(pg_temp.as_role('tap_iso_admin', $$UPDATE paperclip.agents SET adapter_config = '{"command":"true"}'
                 WHERE name = 'runs true' RETURNING 1$$),
               '^ERROR 42501', 'nor change the command of one (a bare name too)');
SELECT matches(pg_temp.as_role('tap_iso_admin', $$UPDATE paperclip.agents SET adapter_type = 'process', adapter_config = '{"command":"/bin/true"}'
                 WHERE name = 'unconfigured' RETURNING 1$$),
               '^ERROR 42501', 'nor turn an agent into one');
SELECT is(pg_temp.as_role('tap_iso_admin', $$UPDATE paperclip.agents SET name = 'still runs true', budget_monthly_cents = 100
                 WHERE name = 'runs true' RETURNING name$$),
          'still runs true', 'an admin still edits such an agent''s other columns');
SELECT is(pg_temp.as_role('tap_iso_admin', $$UPDATE paperclip.agents SET adapter_config = adapter_config
                 WHERE name = 'still runs true' RETURNING adapter_config->>'command'$$),
          '/bin/true', 'and may write back the config it has');
SELECT is(pg_temp.as_role('tap_iso_admin', $$UPDATE paperclip.agents SET adapter_config = '{}'
                 WHERE name = 'unconfigured' RETURNING adapter_config::text$$),
          '{}', 'an empty config runs nothing: allowed');
SELECT is(pg_temp.as_role('tap_iso_admin', $$INSERT INTO paperclip.agents (company_id, name, adapter_type, adapter_config)
                 VALUES ('d0000000-0000-0000-0000-00000000000a', 'web', 'http', '{"url":"http://127.0.0.1:9/"}') RETURNING adapter_type$$),
          'http', 'an http agent runs no program: allowed');

-- with pg_execute_server_program (or as superuser) it may
SELECT is(pg_temp.as_role('tap_iso_exec', $$INSERT INTO paperclip.agents (company_id, name, adapter_config)
                 VALUES ('d0000000-0000-0000-0000-00000000000a', 'exec', '{"command":"/bin/echo","args":["hi"]}') RETURNING adapter_config->>'command'$$),
          '/bin/echo', 'a member of pg_execute_server_program configures a program');
SELECT lives_ok($$UPDATE paperclip.agents SET adapter_config = '{"command":"/bin/false"}' WHERE name = 'unconfigured'$$,
                'a superuser configures a program');

-- env: no dynamic loader variables, none of glibc's unsecure ones, no PAPERCLIP_*
SELECT throws_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_config)
                   VALUES ('d0000000-0000-0000-0000-00000000000a', 'x', '{"command":"/bin/true","env":{"LD_PRELOAD":"/tmp/evil.so"}}')$$,
                 '22023', 'invalid adapter_config: "env" key "LD_PRELOAD" is a dynamic loader variable (LD_*)',
                 'env may not set LD_PRELOAD');
SELECT throws_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_config)
                   VALUES ('d0000000-0000-0000-0000-00000000000a', 'x', '{"command":"/bin/true","env":{"LD_LIBRARY_PATH":"/tmp"}}')$$,
                 '22023', NULL, 'nor any LD_* variable');
SELECT throws_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_config)
                   VALUES ('d0000000-0000-0000-0000-00000000000a', 'x', '{"command":"/bin/true","env":{"GCONV_PATH":"/tmp"}}')$$,
                 '22023', 'invalid adapter_config: "env" key "GCONV_PATH" is one of glibc''s unsecure variables (it loads code or data from a path)',
                 'nor GCONV_PATH (glibc''s unsecure variables)');
SELECT throws_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_config)
                   VALUES ('d0000000-0000-0000-0000-00000000000a', 'x', '{"command":"/bin/true","env":{"GLIBC_TUNABLES":"x"}}')$$,
                 '22023', NULL, 'nor GLIBC_TUNABLES');
SELECT throws_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_config)
                   VALUES ('d0000000-0000-0000-0000-00000000000a', 'x', '{"command":"/bin/true","env":{"PAPERCLIP_RUN_ID":"forged"}}')$$,
                 '22023', 'invalid adapter_config: "env" key "PAPERCLIP_RUN_ID" is reserved (PAPERCLIP_* variables are set by the runner)',
                 'nor a PAPERCLIP_* variable');
SELECT throws_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_config)
                   VALUES ('d0000000-0000-0000-0000-00000000000a', 'x', '{"command":"/bin/true","env":{"X=1 LD_PRELOAD":"/tmp/evil.so"}}')$$,
                 '22023', 'invalid adapter_config: "env" key "X=1 LD_PRELOAD" is not a variable name ([A-Za-z_][A-Za-z0-9_]*)',
                 'nor a key that is not a variable name (a "=" would smuggle another variable in)');
SELECT lives_ok($$INSERT INTO paperclip.agents (company_id, name, adapter_config)
                  VALUES ('d0000000-0000-0000-0000-00000000000a', 'fine', '{"command":"/bin/true","env":{"API_TOKEN":"t","ld_preload_note":"x"}}')$$,
                'other keys are fine');

-- the settings: units and contexts
SELECT is((SELECT unit || ' ' || context FROM pg_settings WHERE name = 'paperclip.max_log_bytes'), 'kB sighup',
          'paperclip.max_log_bytes is a memory size, set in the server configuration');
SELECT is((SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'paperclip.max_log_bytes'), 67108864::bigint,
          'its default is 64MB');
SELECT is((SELECT string_agg(name || '=' || setting || '/' || context, ', ' ORDER BY name) FROM pg_settings
            WHERE name IN ('paperclip.agent_isolation', 'paperclip.agent_os_user', 'paperclip.agent_home_directory')),
          'paperclip.agent_home_directory=/var/lib/paperclip-agent/sighup, paperclip.agent_isolation=on/sighup, paperclip.agent_os_user=paperclip-agent/sighup',
          'isolation is on by default; OS user and home are paperclip-agent, /var/lib/paperclip-agent');
SELECT throws_ok($$SET paperclip.agent_isolation = off$$, '55P02', NULL,
                 'no session turns isolation off: only the server configuration (a superuser) does');

SELECT * FROM finish();
ROLLBACK;
