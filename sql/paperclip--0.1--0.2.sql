-- paperclip 0.1 -> 0.2. A fresh CREATE EXTENSION runs paperclip--0.1.sql and
-- then this script, so installs and upgrades end in the same schema (the
-- upgrade test compares their pg_dump --schema-only).

\echo Use "ALTER EXTENSION paperclip UPDATE TO '0.2'" to load this file. \quit

-- issue 12: coding-agent CLI adapters (claude_local, codex_local, cli) and
-- the session they resume
ALTER TABLE paperclip.agents
    DROP CONSTRAINT agents_adapter_type_check,
    ADD CONSTRAINT agents_adapter_type_check
        CHECK (adapter_type IN ('process', 'http', 'claude_local', 'codex_local', 'cli'));
COMMENT ON COLUMN paperclip.agents.adapter_type IS
    'How the runner runs the agent: process (a program), http (a request), claude_local (Claude Code), codex_local (Codex), cli (a coding-agent CLI described in adapter_config).';

ALTER TABLE paperclip.agent_runtime_state
    ADD COLUMN session_params jsonb
        CONSTRAINT agent_runtime_state_session_params_check
        CHECK (session_params IS NULL OR jsonb_typeof(session_params) = 'object');
COMMENT ON COLUMN paperclip.agent_runtime_state.session_params IS
    'The CLI adapters'' saved session ({"sessionId", "cwd", ...}), next to session_id: a run resumes it only when its cwd is empty or the run''s own. Replaced by a result''s sessionParams when the key is present (null clears it), cleared with clearSession.';

-- ===========================================================================
-- issue 11 (SQL isolation): runtime tables written only through the API,
-- references that stay inside a company, fail-closed company bindings, run
-- log locations derived from the run.
-- ===========================================================================

-- ---------------------------------------------------------------------------
-- Runtime tables are the extension's. What drives the workers (runs, their
-- events, wakeup requests, runtime state, costs) is written only by the API
-- functions, SECURITY DEFINER: no role writes them directly, admins included
-- (an admin who set a run's agent_pid could make the launcher signal any
-- process; one who inserted a run could run another company's agent).
-- Admins keep companies, agents, issues, the evidence tables, the activity
-- log and the company bindings. Superusers, and the extension's owner, are
-- not limited by grants.
-- ---------------------------------------------------------------------------
DO $runtime_tables$
DECLARE
    g record;
BEGIN
    -- every grantee but the owner, also grants a DBA added after 0.1, also on columns
    FOR g IN
        SELECT DISTINCT c.oid::regclass AS tab, a.grantee::regrole AS grantee
          FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
         WHERE c.oid IN ('paperclip.heartbeat_runs'::regclass, 'paperclip.heartbeat_run_events'::regclass,
                         'paperclip.agent_wakeup_requests'::regclass, 'paperclip.agent_runtime_state'::regclass,
                         'paperclip.cost_events'::regclass)
           AND a.grantee OPERATOR(pg_catalog.<>) c.relowner AND a.grantee OPERATOR(pg_catalog.<>) 0
           AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
        UNION
        SELECT DISTINCT c.oid::regclass, a.grantee::regrole
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute t ON t.attrelid OPERATOR(pg_catalog.=) c.oid,
               pg_catalog.aclexplode(t.attacl) a
         WHERE c.oid IN ('paperclip.heartbeat_runs'::regclass, 'paperclip.heartbeat_run_events'::regclass,
                         'paperclip.agent_wakeup_requests'::regclass, 'paperclip.agent_runtime_state'::regclass,
                         'paperclip.cost_events'::regclass)
           AND a.grantee OPERATOR(pg_catalog.<>) c.relowner AND a.grantee OPERATOR(pg_catalog.<>) 0
           AND a.privilege_type IN ('INSERT', 'UPDATE')
    LOOP
        EXECUTE pg_catalog.format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %s FROM %s', g.tab, g.grantee);
        EXECUTE pg_catalog.format('REVOKE INSERT (%2$s), UPDATE (%2$s) ON %1$s FROM %3$s', g.tab,
            (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ')
               FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) g.tab AND attnum > 0
                AND NOT attisdropped), g.grantee);
    END LOOP;
END
$runtime_tables$;
REVOKE ALL ON SEQUENCE paperclip.heartbeat_run_events_id_seq FROM paperclip_admin;

COMMENT ON TABLE paperclip.heartbeat_runs
    IS 'agent runs; written only by the extension (enqueue_wakeup, claims, finalize_run, cancel_run, the workers)';
COMMENT ON TABLE paperclip.heartbeat_run_events
    IS 'lifecycle and adapter events of a run, by seq; written only by the extension (append_run_event for external runners)';
COMMENT ON TABLE paperclip.agent_wakeup_requests
    IS 'every wakeup and what became of it (queued, coalesced, skipped, ...); written only by the extension';
COMMENT ON TABLE paperclip.agent_runtime_state
    IS 'an agent''s session and runtime totals; written only by the extension';
COMMENT ON TABLE paperclip.cost_events
    IS 'one row per run that cost something; written only by finalize_run';

-- ---------------------------------------------------------------------------
-- Run log locations come from the run, never from a caller: one rule (in C,
-- runlog.c), used by append_run_log, read_log, retention and the launcher.
-- finalize_run ignores logStore, logRef and logCompressed in a result.
-- ---------------------------------------------------------------------------
CREATE FUNCTION paperclip.run_log_path(company_id uuid, run_id uuid)
RETURNS text
AS 'MODULE_PATHNAME', 'paperclip_run_log_path'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.run_log_path(uuid, uuid)
    IS 'the file of a run''s log: <paperclip.run_log_directory>/<company_id>/<run_id>.ndjson (for the launcher; no grant)';
REVOKE ALL ON FUNCTION paperclip.run_log_path(uuid, uuid) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Fail-closed company bindings. A role with no row in company_roles sees and
-- touches no company; a row with company_id NULL grants every company;
-- superusers see all. What a session may see is what both the role in effect
-- and the login role may see, so SET ROLE never widens it.
-- ---------------------------------------------------------------------------
ALTER TABLE paperclip.company_roles DROP CONSTRAINT company_roles_pkey;
ALTER TABLE paperclip.company_roles ALTER COLUMN company_id DROP NOT NULL;
ALTER TABLE paperclip.company_roles
    ADD CONSTRAINT company_roles_role_id_company_id_key UNIQUE NULLS NOT DISTINCT (role_id, company_id);
COMMENT ON TABLE paperclip.company_roles
    IS 'binds a role to the companies it may see and touch (company_id NULL: every company); a role with no row sees none';
COMMENT ON COLUMN paperclip.company_roles.company_id
    IS 'a company the role may see and touch; NULL: every company';
COMMENT ON CONSTRAINT company_roles_role_id_company_id_key ON paperclip.company_roles
    IS 'one row per role and company, and at most one "every company" row (NULLs not distinct)';

-- The companies a role may see in this session: NULL for every company, an
-- empty array for none. A role sees what its rows grant (every company for a
-- superuser or a NULL row, none without rows); the session's login role
-- counts too (both: what both may see). A role this session cannot become
-- sees nothing, and learns nothing of another role's bindings.
CREATE OR REPLACE FUNCTION paperclip.visible_companies(role_name name)
RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
             WHEN NOT pg_catalog.pg_has_role(SESSION_USER, $1, 'MEMBER') THEN '{}'::uuid[]
             WHEN role_bound.everything AND session_bound.everything THEN NULL
             WHEN role_bound.everything THEN session_bound.c
             WHEN session_bound.everything THEN role_bound.c
             ELSE ARRAY(SELECT pg_catalog.unnest(role_bound.c)
                        INTERSECT SELECT pg_catalog.unnest(session_bound.c))
           END
      FROM (SELECT coalesce(pg_catalog.bool_or(r.rolsuper OR (b.role_id IS NOT NULL AND b.company_id IS NULL)), false)
                     AS everything,
                   coalesce(pg_catalog.array_agg(b.company_id) FILTER (WHERE b.company_id IS NOT NULL), '{}') AS c
              FROM pg_catalog.pg_roles r LEFT JOIN paperclip.company_roles b ON b.role_id = r.oid
             WHERE r.rolname = $1) role_bound,
           (SELECT coalesce(pg_catalog.bool_or(r.rolsuper OR (b.role_id IS NOT NULL AND b.company_id IS NULL)), false)
                     AS everything,
                   coalesce(pg_catalog.array_agg(b.company_id) FILTER (WHERE b.company_id IS NOT NULL), '{}') AS c
              FROM pg_catalog.pg_roles r LEFT JOIN paperclip.company_roles b ON b.role_id = r.oid
             WHERE r.rolname = SESSION_USER) session_bound
$$;
COMMENT ON FUNCTION paperclip.visible_companies(name)
    IS 'the companies a role may see in this session (its rows in paperclip.company_roles and its login''s): NULL for every company, {} for none';

ALTER POLICY unbound_roles_bind ON paperclip.company_roles RENAME TO every_company_roles_bind;
COMMENT ON POLICY every_company_roles_bind ON paperclip.company_roles
    IS 'only a role that sees every company (a NULL row, or a superuser) changes bindings';
COMMENT ON POLICY company_isolation ON paperclip.company_roles
    IS 'a bound role sees the bindings of its companies';

-- The extension's roles name privileges, not companies: each has a NULL row,
-- so it never narrows what a session sees (a login bound to company A that
-- runs SET ROLE paperclip_operator still sees A, and only A; a login with no
-- row sees nothing, whatever role it sets). pg_dump leaves these rows out:
-- CREATE EXTENSION makes them when a dump is restored.
-- An update keeps what 0.1 bound: an extension role bound to companies there
-- stays bound to them (a NULL row would widen it to every company).
INSERT INTO paperclip.company_roles (role_id, company_id)
SELECT r::regrole, NULL FROM pg_catalog.unnest(ARRAY['paperclip_reader', 'paperclip_operator', 'paperclip_admin']) r
 WHERE NOT EXISTS (SELECT 1 FROM paperclip.company_roles b
                    WHERE b.role_id OPERATOR(pg_catalog.=) r::regrole)
ON CONFLICT DO NOTHING;

-- Upgrade from 0.1, where a role with no row saw every company: the roles
-- that could use paperclip then (USAGE on its schema) keep every company (a
-- NULL row), so an update takes no access away; roles created from now on see
-- nothing until they are bound. A fresh install (whose 0.1 script has just
-- run, in this transaction) binds nobody: members of the paperclip roles that
-- use it in another database of the cluster get nothing here. The extension
-- membership of its tables (pg_depend rows, never updated) tells which: it is
-- as young as this transaction only on a fresh install.
DO $bindings_kept$
DECLARE
    next_xid bigint := pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::bigint;
    created bigint;
    fresh boolean;
BEGIN
    SELECT d.xmin::text::bigint INTO created
      FROM pg_catalog.pg_depend d
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objid OPERATOR(pg_catalog.=) 'paperclip.companies'::pg_catalog.regclass
       AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND d.deptype OPERATOR(pg_catalog.=) 'e';
    -- the 32-bit xmin in the epoch of the next xid (or the one before)
    created := CASE WHEN created OPERATOR(pg_catalog.<=) (next_xid OPERATOR(pg_catalog.&) 4294967295)
                    THEN ((next_xid OPERATOR(pg_catalog.>>) 32) OPERATOR(pg_catalog.<<) 32) OPERATOR(pg_catalog.|) created
                    ELSE (((next_xid OPERATOR(pg_catalog.>>) 32) OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog.<<) 32)
                         OPERATOR(pg_catalog.|) created END;
    fresh := created OPERATOR(pg_catalog.>=) 0
             AND pg_catalog.pg_xact_status(created::text::pg_catalog.xid8) OPERATOR(pg_catalog.=) 'in progress';
    IF fresh THEN
        RETURN;
    END IF;
    INSERT INTO paperclip.company_roles (role_id, company_id)
    SELECT r.oid::regrole, NULL
      FROM pg_catalog.pg_roles r
     WHERE NOT r.rolsuper AND r.rolname OPERATOR(pg_catalog.!~) '^pg_'
       AND pg_catalog.has_schema_privilege(r.oid, 'paperclip', 'USAGE')
       AND NOT EXISTS (SELECT 1 FROM paperclip.company_roles b WHERE b.role_id OPERATOR(pg_catalog.=) r.oid)
    ON CONFLICT DO NOTHING;
END
$bindings_kept$;

SELECT pg_catalog.pg_extension_config_dump('paperclip.company_roles',
    $$WHERE NOT (company_id IS NULL AND role_id::text IN ('paperclip_reader', 'paperclip_operator', 'paperclip_admin'))$$);

-- ---------------------------------------------------------------------------
-- References stay inside a company: every reference to an agent, a run or an
-- issue carries the row's company_id, so no row of company A can name
-- company B's agent, run or issue (superusers included).
-- ---------------------------------------------------------------------------
ALTER TABLE paperclip.agents ADD CONSTRAINT agents_company_id_id_key UNIQUE (company_id, id);
DROP INDEX paperclip.agents_company_idx;    -- the key above leads with company_id
ALTER TABLE paperclip.heartbeat_runs ADD CONSTRAINT heartbeat_runs_company_id_id_key UNIQUE (company_id, id);
ALTER TABLE paperclip.issues ADD CONSTRAINT issues_company_id_id_key UNIQUE (company_id, id);
DROP INDEX paperclip.issues_company_idx;    -- likewise
COMMENT ON CONSTRAINT agents_company_id_id_key ON paperclip.agents
    IS 'the target of (company_id, agent_id) references: they cannot cross companies';
COMMENT ON CONSTRAINT heartbeat_runs_company_id_id_key ON paperclip.heartbeat_runs
    IS 'the target of (company_id, run_id) references: they cannot cross companies';
COMMENT ON CONSTRAINT issues_company_id_id_key ON paperclip.issues
    IS 'the target of (company_id, issue_id) references: they cannot cross companies';

-- The issue an activity row is about, as a column a key can check.
ALTER TABLE paperclip.activity_log ADD COLUMN issue_id uuid
    GENERATED ALWAYS AS (CASE WHEN entity_type OPERATOR(pg_catalog.=) 'issue'
                               AND entity_id OPERATOR(pg_catalog.~*)
                                   '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                              THEN entity_id::uuid END) STORED;
COMMENT ON COLUMN paperclip.activity_log.issue_id
    IS 'the issue the row is about (entity_type issue, entity_id a uuid): one of the row''s company';
CREATE INDEX activity_log_issue_idx ON paperclip.activity_log (issue_id) WHERE issue_id IS NOT NULL;
COMMENT ON INDEX paperclip.activity_log_issue_idx IS 'checks of the key to issues when an issue is deleted';

-- Rows that already point into another company (or at nothing) stop the
-- upgrade with a clear message; then every reference becomes a composite key.
-- Not agent_wakeup_requests.run_id nor heartbeat_runs.retry_of_run_id: a key
-- there would close a cycle (with heartbeat_runs.wakeup_request_id, or of
-- heartbeat_runs with itself), and pg_dump would warn on every dump that it
-- cannot order the restore of the extension's tables (their keys exist
-- before their rows come back); those columns are written by the extension
-- only, from rows of the same company.
DO $company_keys$
DECLARE
    k record;
    bad bigint;
    example text;
    name text;
BEGIN
    IF EXISTS (SELECT 1 FROM paperclip.issues i
                WHERE NOT EXISTS (SELECT 1 FROM paperclip.companies c WHERE c.id OPERATOR(pg_catalog.=) i.company_id)) THEN
        RAISE EXCEPTION 'cannot update paperclip: some rows of paperclip.issues name a company that does not exist'
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Correct or delete those rows, then run ALTER EXTENSION paperclip UPDATE again.';
    END IF;
    FOR k IN
        SELECT * FROM (VALUES
            -- table, column, referenced table, ON DELETE, replaces, what it names
            ('heartbeat_runs', 'agent_id', 'agents', 'NO ACTION', 'heartbeat_runs_agent_id_fkey', 'an agent'),
            ('agent_wakeup_requests', 'agent_id', 'agents', 'NO ACTION', 'agent_wakeup_requests_agent_id_fkey', 'an agent'),
            ('agent_runtime_state', 'agent_id', 'agents', 'NO ACTION', 'agent_runtime_state_agent_id_fkey', 'an agent'),
            ('heartbeat_run_events', 'agent_id', 'agents', 'NO ACTION', NULL, 'an agent'),
            ('cost_events', 'agent_id', 'agents', 'NO ACTION', 'cost_events_agent_id_fkey', 'an agent'),
            ('activity_log', 'agent_id', 'agents', 'SET NULL (agent_id)', NULL, 'an agent'),
            ('issues', 'assignee_agent_id', 'agents', 'SET NULL (assignee_agent_id)', NULL, 'an agent'),
            ('issue_comments', 'author_agent_id', 'agents', 'SET NULL (author_agent_id)', NULL, 'an agent'),
            ('heartbeat_run_events', 'run_id', 'heartbeat_runs', 'NO ACTION', 'heartbeat_run_events_run_id_fkey', 'a run'),
            ('agent_runtime_state', 'last_run_id', 'heartbeat_runs', 'SET NULL (last_run_id)', NULL, 'a run'),
            ('cost_events', 'run_id', 'heartbeat_runs', 'SET NULL (run_id)', NULL, 'a run'),
            ('activity_log', 'run_id', 'heartbeat_runs', 'SET NULL (run_id)', NULL, 'a run'),
            ('issue_comments', 'created_by_run_id', 'heartbeat_runs', 'SET NULL (created_by_run_id)', NULL, 'a run'),
            ('document_revisions', 'created_by_run_id', 'heartbeat_runs', 'SET NULL (created_by_run_id)', NULL, 'a run'),
            ('issue_work_products', 'created_by_run_id', 'heartbeat_runs', 'SET NULL (created_by_run_id)', NULL, 'a run'),
            ('workspace_operations', 'heartbeat_run_id', 'heartbeat_runs', 'SET NULL (heartbeat_run_id)', NULL, 'a run'),
            ('issue_comments', 'issue_id', 'issues', 'NO ACTION', 'issue_comments_issue_id_fkey', 'an issue'),
            ('issue_documents', 'issue_id', 'issues', 'NO ACTION', 'issue_documents_issue_id_fkey', 'an issue'),
            ('issue_work_products', 'issue_id', 'issues', 'NO ACTION', 'issue_work_products_issue_id_fkey', 'an issue'),
            ('activity_log', 'issue_id', 'issues', 'NO ACTION', NULL, 'an issue')
        ) AS v(tab, col, ref, on_delete, replaces, what)
    LOOP
        EXECUTE pg_catalog.format(
            'SELECT count(*), min(x.%2$I::text) FROM paperclip.%1$I x '
            'WHERE x.%2$I IS NOT NULL AND NOT EXISTS (SELECT 1 FROM paperclip.%3$I y '
            '  WHERE y.company_id OPERATOR(pg_catalog.=) x.company_id AND y.id OPERATOR(pg_catalog.=) x.%2$I)',
            k.tab, k.col, k.ref) INTO bad, example;
        IF bad > 0 THEN
            RAISE EXCEPTION 'cannot update paperclip: % row(s) of paperclip.% name % of another company, or one that does not exist',
                    bad, k.tab, k.what
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = pg_catalog.format('Column %s, e.g. %s, must name %s of the row''s company_id in paperclip.%s.',
                                                 k.col, example, k.what, k.ref),
                      HINT = 'Correct or delete those rows, then run ALTER EXTENSION paperclip UPDATE again.';
        END IF;
        IF k.replaces IS NOT NULL THEN
            EXECUTE pg_catalog.format('ALTER TABLE paperclip.%I DROP CONSTRAINT %I', k.tab, k.replaces);
        END IF;
        name := k.tab || '_company_id_' || k.col || '_fkey';
        EXECUTE pg_catalog.format(
            'ALTER TABLE paperclip.%I ADD CONSTRAINT %I FOREIGN KEY (company_id, %I) '
            'REFERENCES paperclip.%I (company_id, id) ON DELETE %s',
            k.tab, name, k.col, k.ref, k.on_delete);
        EXECUTE pg_catalog.format('COMMENT ON CONSTRAINT %I ON paperclip.%I IS %L', name, k.tab,
            pg_catalog.format('%s names %s of the row''s own company (paperclip.%s)', k.col, k.what, k.ref));
    END LOOP;
END
$company_keys$;

ALTER TABLE paperclip.issues
    ADD CONSTRAINT issues_company_id_fkey FOREIGN KEY (company_id) REFERENCES paperclip.companies (id);
COMMENT ON CONSTRAINT issues_company_id_fkey ON paperclip.issues IS 'an issue belongs to a company';

-- ---------------------------------------------------------------------------
-- What the API functions accept, documented where \df+ shows it. Text
-- arguments have length limits (54000 program_limit_exceeded beyond them),
-- and errors quote at most ~100 characters of what they refuse.
-- ---------------------------------------------------------------------------
COMMENT ON FUNCTION paperclip.enqueue_wakeup(uuid, text, text, text, jsonb, text, text, text, jsonb)
    IS 'apply the heartbeat policy, then coalesce into the active run or queue a new one; NULL when skipped. Limits: reason 64 kB; idempotency_key, requested_by_actor_id 1 kB; payload, context_snapshot 1 MB';
COMMENT ON FUNCTION paperclip.invoke(uuid, text, jsonb, text, text, text)
    IS 'enqueue_wakeup with the fields of a manual invocation. Limits: actor_id 1 kB; context_snapshot 1 MB';
COMMENT ON FUNCTION paperclip.finalize_run(uuid, jsonb)
    IS 'record an adapter result: outcome, usage and cost, session, runtime totals; idempotent. result at most 1 MB; its logStore, logRef and logCompressed are ignored (a run''s log is where its id says)';
COMMENT ON FUNCTION paperclip.append_run_event(uuid, text, text, jsonb, text, text)
    IS 'append an event to a run (for external runners); returns its seq. Limits: event_type 1 kB; message, payload 1 MB';
COMMENT ON FUNCTION paperclip.append_run_log(uuid, text, text)
    IS 'append a chunk to the run''s own log (for external runners); returns the log bytes so far. chunk at most 1 MB';
COMMENT ON FUNCTION paperclip.log_activity(uuid, text, text, text, text, text, uuid, uuid, jsonb)
    IS 'record an activity; its agent, run and issue (entity_type issue) must be of the company. Limits: actor_id, action, entity_type, entity_id 1 kB; details 1 MB';
COMMENT ON FUNCTION paperclip.read_log(uuid, bigint, int)
    IS 'a page of a run''s own log (JSON lines): whole characters, at most limit_bytes (one character at least); next_offset is null at the end, else beyond offset';
COMMENT ON FUNCTION paperclip.activity_for_issue(uuid)
    IS 'activity about an issue, newest first, in the issue''s company; none for a hidden issue (read-only: the calling query''s snapshot)';
COMMENT ON FUNCTION paperclip.list_events(uuid, int, int)
    IS 'events of a run with seq > after_seq, ascending; limit clamped to 1..1000 (read-only: the calling query''s snapshot)';
COMMENT ON FUNCTION paperclip.list_activity(uuid, uuid, text, text, int)
    IS 'activity of a company, newest first, filtered; rows about hidden issues left out (read-only: the calling query''s snapshot)';
COMMENT ON FUNCTION paperclip.runs_for_issue(uuid, uuid)
    IS 'runs whose context names the issue or that logged activity on it, newest first (read-only: the calling query''s snapshot)';
COMMENT ON FUNCTION paperclip.issues_for_run(uuid)
    IS 'the context issue of a run first, then issues with activity from it; hidden issues left out (read-only: the calling query''s snapshot)';

-- ---------------------------------------------------------------------------
-- issue 11 (workers): who a run's runner and agent are, so that the launcher
-- signals only processes it proves are the run's, and a database restored or
-- copied from another cluster never adopts that cluster's runners.
-- ---------------------------------------------------------------------------
ALTER TABLE paperclip.heartbeat_runs
    ADD COLUMN runner_start_ticks bigint,
    ADD COLUMN runner_system_identifier bigint,
    ADD COLUMN runner_postmaster_start timestamptz,
    ADD COLUMN agent_start_ticks bigint;
COMMENT ON COLUMN paperclip.heartbeat_runs.runner_start_ticks
    IS 'start time of the runner process in clock ticks since boot (field 22 of /proc/<runner_pid>/stat); the launcher signals the runner only while /proc still shows it';
COMMENT ON COLUMN paperclip.heartbeat_runs.runner_system_identifier
    IS 'system identifier of the cluster whose launcher started the runner (pg_control_system()); a runner of another cluster is never adopted nor signalled';
COMMENT ON COLUMN paperclip.heartbeat_runs.runner_postmaster_start
    IS 'start time of the postmaster whose launcher started the runner (pg_postmaster_start_time()); a runner started before a server restart is waited for but never signalled';
COMMENT ON COLUMN paperclip.heartbeat_runs.agent_start_ticks
    IS 'start time of the agent''s top process (agent_pid) in clock ticks since boot, as its runner reported it; the agent''s process group is killed only while /proc still shows it';

-- issue 10: agents isolated from the server. Running a program on the
-- server takes PostgreSQL's own privilege for that: writing an adapter_config
-- that runs one (process, the CLI adapters) needs superuser or the privileges
-- of pg_execute_server_program, as COPY ... PROGRAM does, unless its command
-- resolves inside paperclip.allowed_commands. (This issue's env rules live
-- in adapter_config_valid, the CHECK of agents.adapter_config.)
CREATE FUNCTION paperclip.adapter_config_guard()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'paperclip_adapter_config_guard';
COMMENT ON FUNCTION paperclip.adapter_config_guard() IS
    'Trigger of paperclip.agents: an adapter_config that makes the server run a program needs superuser or pg_execute_server_program, unless its command resolves inside paperclip.allowed_commands (42501)';
REVOKE ALL ON FUNCTION paperclip.adapter_config_guard() FROM PUBLIC;

CREATE TRIGGER agents_adapter_config_privilege
    BEFORE INSERT OR UPDATE OF adapter_type, adapter_config ON paperclip.agents
    FOR EACH ROW EXECUTE FUNCTION paperclip.adapter_config_guard();
COMMENT ON TRIGGER agents_adapter_config_privilege ON paperclip.agents IS
    'Who may make an agent run a program on the database server: see paperclip.adapter_config_guard()';

-- ---------------------------------------------------------------------------
-- issue 13: deferred wakes and follow-up runs, merged context on coalesce,
-- no timer wakes for agents in error, retry rules of today's Paperclip,
-- list_runs in pages
-- ---------------------------------------------------------------------------

-- The status vocabulary of wakeup requests has one home, src/run_state.h;
-- the CHECK reads it from there. It gains "deferred": a wake with news held
-- for the follow-up of the agent's running run.
CREATE FUNCTION paperclip.wakeup_request_statuses()
RETURNS text[]
AS 'MODULE_PATHNAME', 'paperclip_wakeup_request_statuses'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.wakeup_request_statuses()
    IS 'the statuses an agent_wakeup_requests row may have (the vocabulary its CHECK reads)';

ALTER TABLE paperclip.agent_wakeup_requests
    DROP CONSTRAINT agent_wakeup_requests_status_check,
    ADD CONSTRAINT agent_wakeup_requests_status_check
        CHECK (status OPERATOR(pg_catalog.=) ANY (paperclip.wakeup_request_statuses()));

-- What a deferred wake said: merged into the follow-up's context when its run ends.
ALTER TABLE paperclip.agent_wakeup_requests ADD COLUMN context_snapshot jsonb;
COMMENT ON COLUMN paperclip.agent_wakeup_requests.context_snapshot
    IS 'the context of a deferred wake, merged into its follow-up run''s context (null for other requests)';

-- Contexts of wakes: news for a running run, and merging into one run's context.
CREATE FUNCTION paperclip.wake_has_news(context jsonb, run_context jsonb)
RETURNS bool
AS 'MODULE_PATHNAME', 'paperclip_wake_has_news'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.wake_has_news(jsonb, jsonb)
    IS 'whether a wake''s context names a comment, an issue or an approval the run''s context has not seen (such a wake is deferred while the run runs)';

CREATE FUNCTION paperclip.wake_context_merge(existing jsonb, incoming jsonb,
                                             incoming_reason text DEFAULT NULL,
                                             existing_reason text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'paperclip_wake_context_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.wake_context_merge(jsonb, jsonb, text, text)
    IS 'a run''s context with a wake''s merged in: wakeCommentIds in arrival order without duplicates (wakeCommentId the latest), issueIds united, wakeReasons appended, the run''s issueId and taskId kept, other keys the wake''s';

CREATE FUNCTION paperclip.wake_context_accum(state jsonb, context jsonb, reason text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'paperclip_wake_context_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.wake_context_accum(jsonb, jsonb, text)
    IS 'transition function of paperclip.wake_context_agg';

CREATE AGGREGATE paperclip.wake_context_agg(context jsonb, reason text) (
    SFUNC = paperclip.wake_context_accum,
    STYPE = jsonb
);
COMMENT ON AGGREGATE paperclip.wake_context_agg(jsonb, text)
    IS 'the contexts of wakes (with their requests'' reasons) merged in the aggregate''s order, as a follow-up run gets them';

-- Agents in error get no timer wakes: no deadline (tick_timers reads only
-- agents due, through the timer_due_at index). A new C function, so that a
-- database still at 0.1 keeps the old meaning of its stored column; the
-- column of agents in error is recomputed.
CREATE OR REPLACE FUNCTION paperclip.timer_due_at(status text, runtime_config jsonb,
                                                  last_heartbeat_at timestamptz)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'paperclip_timer_due_at_v2'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.timer_due_at(text, jsonb, timestamptz)
    IS 'when an agent''s interval timer is next due: null without a timer (paused, terminated, in error, disabled, intervalSec <= 0), -infinity if it never beat';
UPDATE paperclip.agents SET status = status WHERE status = 'error' AND timer_due_at IS NOT NULL;

COMMENT ON FUNCTION paperclip.promote_due_retries(timestamptz)
    IS 'queue the scheduled retries due at "now" whose agent has no active run (those of an issue cancelled, done or reassigned end cancelled); returns how many were queued';

-- list_runs pages, newest first. The 0.1 signature (company_id, agent_id)
-- is replaced by one with defaults: callers by position and by name keep
-- working (they get the first 200 runs).
DROP FUNCTION paperclip.list_runs(uuid, uuid);
CREATE FUNCTION paperclip.list_runs(company_id uuid, agent_id uuid DEFAULT NULL,
                                    "limit" int DEFAULT 200, before_run_id uuid DEFAULT NULL)
RETURNS SETOF paperclip.heartbeat_runs
AS 'MODULE_PATHNAME', 'paperclip_list_runs'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.list_runs(uuid, uuid, int, uuid)
    IS 'runs of a company (or one agent), newest first: at most "limit" (1..1000) older than before_run_id, the last run of the previous page';

REVOKE ALL ON FUNCTION
    paperclip.wakeup_request_statuses(),
    paperclip.wake_has_news(jsonb, jsonb),
    paperclip.wake_context_merge(jsonb, jsonb, text, text),
    paperclip.wake_context_accum(jsonb, jsonb, text),
    paperclip.wake_context_agg(jsonb, text),
    paperclip.list_runs(uuid, uuid, int, uuid)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    paperclip.wakeup_request_statuses(),
    paperclip.wake_has_news(jsonb, jsonb),
    paperclip.wake_context_merge(jsonb, jsonb, text, text),
    paperclip.wake_context_accum(jsonb, jsonb, text),
    paperclip.wake_context_agg(jsonb, text),
    paperclip.list_runs(uuid, uuid, int, uuid)
TO paperclip_reader;

-- Deferred wakes that committed after their run's end are released by the
-- scheduler on its next pass (it is woken at their commit); the index finds
-- them without reading every request.
CREATE INDEX agent_wakeup_requests_deferred_idx
    ON paperclip.agent_wakeup_requests (run_id) WHERE status = 'deferred';
COMMENT ON INDEX paperclip.agent_wakeup_requests_deferred_idx
    IS 'deferred requests by the run they wait for (the scheduler''s release of those whose run is over)';

CREATE FUNCTION paperclip.release_deferred_wakes(batch_size int DEFAULT 100)
RETURNS int
AS 'MODULE_PATHNAME', 'paperclip_release_deferred_wakes'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.release_deferred_wakes(int)
    IS 'release the deferred wakes whose run is over (committed after its end released the others), as the scheduler does on each pass; returns how many runs'' wakes were released';
REVOKE ALL ON FUNCTION paperclip.release_deferred_wakes(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION paperclip.release_deferred_wakes(int) TO paperclip_admin;

-- ===========================================================================
-- issue 15: paperclip_worker runs agents on other machines. It claims runs
-- with worker_claim_runs, holds a lease on each (paperclip.worker_lease) that
-- it renews with worker_renew_leases, and reports results with
-- worker_finalize_run; the scheduler fails a run whose lease lapsed as
-- process_lost (retried as any lost run), and the worker's late result is
-- then refused (SQLSTATE PC001). The launcher's runs carry no lease.
-- ===========================================================================
ALTER TABLE paperclip.heartbeat_runs
    ADD COLUMN worker_name text,
    ADD COLUMN lease_expires_at timestamptz;
COMMENT ON COLUMN paperclip.heartbeat_runs.worker_name IS
    'the paperclip_worker that claimed and ran the run (its --name); null for runs of the launcher and of claim_runs';
COMMENT ON COLUMN paperclip.heartbeat_runs.lease_expires_at IS
    'a worker''s run: when its lease lapses unless the worker renews it (paperclip.worker_lease); the scheduler then fails the run as process_lost and the worker''s late result is refused (PC001). Kept once the run is finalized: finalized_at after it means the lease lapsed';
-- The runs workers hold: the scheduler's lease expiry reads only these. The
-- lease itself, renewed every few seconds, is in no index, so that a
-- renewal can be a HOT update.
CREATE INDEX heartbeat_runs_worker_idx ON paperclip.heartbeat_runs (worker_name)
    WHERE worker_name IS NOT NULL AND finalized_at IS NULL;
COMMENT ON INDEX paperclip.heartbeat_runs_worker_idx IS
    'runs that paperclip_workers hold (claimed, not finalized): the scheduler''s lease expiry reads only these';

CREATE FUNCTION paperclip.worker_claim_runs(worker_name text, max_runs int DEFAULT 1)
RETURNS TABLE(run_id uuid, spec jsonb)
AS 'MODULE_PATHNAME', 'paperclip_worker_claim_runs'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.worker_claim_runs(text, int)
    IS 'for paperclip_worker: claim up to max_runs (at most 1000) queued runs of the caller''s companies (SKIP LOCKED), each with a lease of paperclip.worker_lease, and return each run''s runner spec; when it finds fewer than asked, ends the queued runs that cannot start (agent paused: cancelled; over budget: failed budget_blocked). worker_name at most 1 kB';
REVOKE ALL ON FUNCTION paperclip.worker_claim_runs(text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION paperclip.worker_claim_runs(text, int) TO paperclip_operator;

CREATE FUNCTION paperclip.worker_renew_leases(worker_name text, run_ids uuid[])
RETURNS TABLE(run_id uuid, status text, held boolean)
AS 'MODULE_PATHNAME', 'paperclip_worker_renew_leases'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.worker_renew_leases(text, uuid[])
    IS 'for paperclip_worker: renew, in one statement, the leases of the runs it still holds (claimed by worker_name, not finalized, lease not lapsed) by paperclip.worker_lease; answers every run asked about: its status, and held false when the worker must stop it and drop its result';
REVOKE ALL ON FUNCTION paperclip.worker_renew_leases(text, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION paperclip.worker_renew_leases(text, uuid[]) TO paperclip_operator;

CREATE FUNCTION paperclip.worker_finalize_run(worker_name text, run_id uuid, result jsonb)
RETURNS paperclip.heartbeat_runs
AS 'MODULE_PATHNAME', 'paperclip_worker_finalize_run'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.worker_finalize_run(text, uuid, jsonb)
    IS 'for paperclip_worker: finalize_run for a run the worker holds; a run it does not hold (its lease lapsed, or another worker or none claimed it) is refused with SQLSTATE PC001 and nothing is counted; the same result delivered twice returns the run unchanged';
REVOKE ALL ON FUNCTION paperclip.worker_finalize_run(text, uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION paperclip.worker_finalize_run(text, uuid, jsonb) TO paperclip_operator;

CREATE FUNCTION paperclip.expire_worker_leases()
RETURNS int
AS 'MODULE_PATHNAME', 'paperclip_expire_worker_leases'
LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION paperclip.expire_worker_leases()
    IS 'fail as process_lost (retried as any lost run) the runs of the caller''s companies whose worker lease lapsed, as the scheduler does; returns how many';
REVOKE ALL ON FUNCTION paperclip.expire_worker_leases() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION paperclip.expire_worker_leases() TO paperclip_admin;

-- Who runs what: active_runs shows the worker and its lease next to the
-- launcher's runner_pid (the view is made again below, in issue 16's section).

-- ---------------------------------------------------------------------------
-- issue 15: every database. A supervisor starts a launcher and a scheduler in
-- each database that has the extension; a run records which database's
-- launcher started its runner, so that a copy of the database (CREATE
-- DATABASE ... TEMPLATE in the same cluster, with runs in flight) never
-- adopts, waits for or signals the runners of the database it was copied
-- from: there, as in a database restored on another cluster, they are lost.
-- ---------------------------------------------------------------------------
ALTER TABLE paperclip.heartbeat_runs
    ADD COLUMN runner_database oid;
COMMENT ON COLUMN paperclip.heartbeat_runs.runner_database
    IS 'OID of the database whose launcher started the runner; in a copy of the database (another OID) the runner is never adopted nor signalled';

-- ---------------------------------------------------------------------------
-- issue 14: comments
-- ---------------------------------------------------------------------------
-- Every table, view, column and function a user reads says what it is, so
-- \d+ and \df+ explain the extension (test/pgtap/comments.sql fails on any
-- object of the extension without a comment; README's function table is
-- checked against these by test/integration/readme.sh).

COMMENT ON SCHEMA paperclip IS 'pg_paperclip: the heartbeat control plane of Paperclip (wakeups, runs, timers, accounting)';

-- companies
COMMENT ON TABLE paperclip.companies IS 'a company: the unit of isolation; every other row belongs to one';
COMMENT ON COLUMN paperclip.companies.id IS 'company id';
COMMENT ON COLUMN paperclip.companies.name IS 'display name';
COMMENT ON COLUMN paperclip.companies.created_at IS 'when the row was created';
COMMENT ON COLUMN paperclip.companies.updated_at IS 'when the row was last changed';

-- agents
COMMENT ON TABLE paperclip.agents IS 'an AI agent of a company: how it runs (adapter), its heartbeat policy, status and budget';
COMMENT ON COLUMN paperclip.agents.id IS 'agent id';
COMMENT ON COLUMN paperclip.agents.company_id IS 'the company the agent belongs to';
COMMENT ON COLUMN paperclip.agents.name IS 'display name';
COMMENT ON COLUMN paperclip.agents.role IS 'free-form role (e.g. engineer, ceo)';
COMMENT ON COLUMN paperclip.agents.status IS 'idle, running, paused, error or terminated; paused and terminated agents are not woken';
COMMENT ON COLUMN paperclip.agents.adapter_config IS 'the adapter''s settings (command, args, cwd, env, timeoutSec, graceSec; url, method, headers), checked when written';
COMMENT ON COLUMN paperclip.agents.runtime_config IS 'runtime settings; "heartbeat": {enabled, intervalSec, wakeOnAssignment, wakeOnOnDemand, wakeOnAutomation} is the wakeup policy';
COMMENT ON COLUMN paperclip.agents.budget_monthly_cents IS 'monthly spend limit in cents (0: none); a run of an agent over it fails budget_blocked';
COMMENT ON COLUMN paperclip.agents.spent_monthly_cents IS 'spend this calendar month (UTC) in cents, from finalized runs; reset by the scheduler each month';
COMMENT ON COLUMN paperclip.agents.last_heartbeat_at IS 'when the agent''s last run was finalized; interval timers count from it';
COMMENT ON COLUMN paperclip.agents.timer_due_at IS 'derived: when its interval timer is next due (null: no timer, -infinity: never beat)';
COMMENT ON COLUMN paperclip.agents.created_at IS 'when the row was created';
COMMENT ON COLUMN paperclip.agents.updated_at IS 'when the row was last changed';

-- timer_agents
COMMENT ON TABLE paperclip.timer_agents IS 'internal: how many agents have an interval timer, kept by triggers on agents (tick_timers reports it as "checked")';
COMMENT ON COLUMN paperclip.timer_agents.singleton IS 'always true: the table has one row';
COMMENT ON COLUMN paperclip.timer_agents.agents IS 'agents whose timer_due_at is not null';
-- agent_runtime_state
COMMENT ON COLUMN paperclip.agent_runtime_state.agent_id IS 'the agent';
COMMENT ON COLUMN paperclip.agent_runtime_state.company_id IS 'the agent''s company';
COMMENT ON COLUMN paperclip.agent_runtime_state.adapter_type IS 'the agent''s adapter type when the state was created';
COMMENT ON COLUMN paperclip.agent_runtime_state.session_id IS 'the adapter session the next run resumes (null: a new session)';
COMMENT ON COLUMN paperclip.agent_runtime_state.state_json IS 'adapter state kept between runs';
COMMENT ON COLUMN paperclip.agent_runtime_state.last_run_id IS 'the agent''s last finalized run';
COMMENT ON COLUMN paperclip.agent_runtime_state.last_run_status IS 'that run''s status';
COMMENT ON COLUMN paperclip.agent_runtime_state.total_input_tokens IS 'input tokens over all finalized runs';
COMMENT ON COLUMN paperclip.agent_runtime_state.total_output_tokens IS 'output tokens over all finalized runs';
COMMENT ON COLUMN paperclip.agent_runtime_state.total_cached_input_tokens IS 'cached input tokens over all finalized runs';
COMMENT ON COLUMN paperclip.agent_runtime_state.total_cost_cents IS 'cost over all finalized runs, in cents (fractions kept)';
COMMENT ON COLUMN paperclip.agent_runtime_state.last_error IS 'the error of the last failed run, cleared by a success';
COMMENT ON COLUMN paperclip.agent_runtime_state.created_at IS 'when the row was created';
COMMENT ON COLUMN paperclip.agent_runtime_state.updated_at IS 'when the row was last changed';
-- agent_wakeup_requests
COMMENT ON COLUMN paperclip.agent_wakeup_requests.id IS 'request id';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.company_id IS 'the agent''s company';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.agent_id IS 'the agent to wake';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.source IS 'timer, assignment, on_demand or automation';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.trigger_detail IS 'manual, ping, callback, system, or null';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.reason IS 'why: the caller''s reason, or the policy that skipped it (heartbeat.disabled, ...)';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.payload IS 'the caller''s payload';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.status IS 'queued, claimed, coalesced, skipped, completed, failed, cancelled or timed_out';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.coalesced_count IS '1 when the request was coalesced into an active run';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.requested_by_actor_type IS 'user, agent, system, or null';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.requested_by_actor_id IS 'who asked, in the caller''s terms';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.idempotency_key IS 'a repeated key for the same agent returns the first request''s run and writes nothing';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.run_id IS 'the run it started or was coalesced into';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.requested_at IS 'when it was asked for';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.claimed_at IS 'when its run started';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.finished_at IS 'when it ended (its run finished, or it was coalesced or skipped)';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.error IS 'its run''s error, if it failed';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.created_at IS 'when the row was created';
COMMENT ON COLUMN paperclip.agent_wakeup_requests.updated_at IS 'when the row was last changed';
-- heartbeat_runs
COMMENT ON COLUMN paperclip.heartbeat_runs.id IS 'run id';
COMMENT ON COLUMN paperclip.heartbeat_runs.company_id IS 'the agent''s company';
COMMENT ON COLUMN paperclip.heartbeat_runs.agent_id IS 'the agent that runs';
COMMENT ON COLUMN paperclip.heartbeat_runs.invocation_source IS 'the source of the wakeup that queued it: timer, assignment, on_demand or automation';
COMMENT ON COLUMN paperclip.heartbeat_runs.trigger_detail IS 'manual, ping, callback, system, or null';
COMMENT ON COLUMN paperclip.heartbeat_runs.status IS 'scheduled_retry, queued, running, succeeded, failed, cancelled or timed_out; at most one queued or running run per agent';
COMMENT ON COLUMN paperclip.heartbeat_runs.started_at IS 'when it was claimed and its runner started';
COMMENT ON COLUMN paperclip.heartbeat_runs.finished_at IS 'when it reached a terminal status';
COMMENT ON COLUMN paperclip.heartbeat_runs.error IS 'what went wrong, in words';
COMMENT ON COLUMN paperclip.heartbeat_runs.error_code IS 'what went wrong, as a code (timeout, cancelled, process_lost, adapter_failed, budget_blocked, http_5xx, ...)';
COMMENT ON COLUMN paperclip.heartbeat_runs.wakeup_request_id IS 'the wakeup request that queued it';
COMMENT ON COLUMN paperclip.heartbeat_runs.exit_code IS 'the agent process''s exit code';
COMMENT ON COLUMN paperclip.heartbeat_runs.signal IS 'the signal that ended the agent process (e.g. SIGKILL)';
COMMENT ON COLUMN paperclip.heartbeat_runs.usage_json IS 'token usage reported by the adapter, plus costUsd';
COMMENT ON COLUMN paperclip.heartbeat_runs.result_json IS 'the adapter''s result object';
COMMENT ON COLUMN paperclip.heartbeat_runs.session_id_before IS 'the adapter session the run resumed';
COMMENT ON COLUMN paperclip.heartbeat_runs.session_id_after IS 'the adapter session the run left for the next';
COMMENT ON COLUMN paperclip.heartbeat_runs.log_store IS 'where the run log is kept (local_file), null when there is none or it was pruned';
COMMENT ON COLUMN paperclip.heartbeat_runs.log_ref IS 'the run log''s location in its store; read it with read_log';
COMMENT ON COLUMN paperclip.heartbeat_runs.log_bytes IS 'size of the run log in bytes';
COMMENT ON COLUMN paperclip.heartbeat_runs.log_sha256 IS 'SHA-256 of the run log, as the runner reported it';
COMMENT ON COLUMN paperclip.heartbeat_runs.log_compressed IS 'whether the stored log is compressed';
COMMENT ON COLUMN paperclip.heartbeat_runs.stdout_excerpt IS 'the last few kilobytes of the agent''s standard output';
COMMENT ON COLUMN paperclip.heartbeat_runs.stderr_excerpt IS 'the last few kilobytes of the agent''s standard error';
COMMENT ON COLUMN paperclip.heartbeat_runs.context_snapshot IS 'the context the agent was woken with (issueId, taskId, wakeCommentId, ...)';
COMMENT ON COLUMN paperclip.heartbeat_runs.external_run_id IS 'the run''s id in an external system, when an adapter reports one';
COMMENT ON COLUMN paperclip.heartbeat_runs.retry_of_run_id IS 'for a retry: the failed run it repeats';
COMMENT ON COLUMN paperclip.heartbeat_runs.scheduled_retry_at IS 'for a scheduled retry: when it is queued';
COMMENT ON COLUMN paperclip.heartbeat_runs.scheduled_retry_attempt IS 'retry attempt (0: the first run, 1: the first retry, ...)';
COMMENT ON COLUMN paperclip.heartbeat_runs.scheduled_retry_reason IS 'the transient error code that caused the retry';
COMMENT ON COLUMN paperclip.heartbeat_runs.liveness_state IS 'whether the finished run moved its issue forward: completed, advanced, plan_only, empty_response, blocked, failed, needs_followup; null until classified';
COMMENT ON COLUMN paperclip.heartbeat_runs.liveness_reason IS 'why it was classified so';
COMMENT ON COLUMN paperclip.heartbeat_runs.continuation_attempt IS 'how many follow-up runs the issue has had for want of progress';
COMMENT ON COLUMN paperclip.heartbeat_runs.last_useful_action_at IS 'the latest concrete evidence of progress the run left';
COMMENT ON COLUMN paperclip.heartbeat_runs.next_action IS 'the next step the run announced but did not take';
COMMENT ON COLUMN paperclip.heartbeat_runs.runner_pid IS 'the pid of the run''s paperclip_runner process';
COMMENT ON COLUMN paperclip.heartbeat_runs.process_started_at IS 'when the runner process started (tells a live runner from a reused pid)';
COMMENT ON COLUMN paperclip.heartbeat_runs.agent_pid IS 'the agent process''s pid, also its process group: killed when its runner is lost';
COMMENT ON COLUMN paperclip.heartbeat_runs.event_seq IS 'internal: the last seq handed out for the run''s events';
COMMENT ON COLUMN paperclip.heartbeat_runs.finalized_at IS 'when the adapter result was recorded: finalizing again counts nothing twice';
COMMENT ON COLUMN paperclip.heartbeat_runs.pruned_at IS 'when retention removed the run''s events and log (the run row stays)';
COMMENT ON COLUMN paperclip.heartbeat_runs.created_at IS 'when the row was created';
COMMENT ON COLUMN paperclip.heartbeat_runs.updated_at IS 'when the row was last changed';
-- heartbeat_run_events
COMMENT ON COLUMN paperclip.heartbeat_run_events.id IS 'event id';
COMMENT ON COLUMN paperclip.heartbeat_run_events.company_id IS 'the run''s company';
COMMENT ON COLUMN paperclip.heartbeat_run_events.run_id IS 'the run';
COMMENT ON COLUMN paperclip.heartbeat_run_events.agent_id IS 'the run''s agent';
COMMENT ON COLUMN paperclip.heartbeat_run_events.seq IS 'position in the run, from 1; list_events pages by it';
COMMENT ON COLUMN paperclip.heartbeat_run_events.event_type IS 'lifecycle, adapter.invoke, log, error, or a tool/action event type an adapter reported';
COMMENT ON COLUMN paperclip.heartbeat_run_events.stream IS 'system, stdout, stderr, or null';
COMMENT ON COLUMN paperclip.heartbeat_run_events.level IS 'info, warn, error, or null';
COMMENT ON COLUMN paperclip.heartbeat_run_events.color IS 'display colour, as Paperclip''s UI uses it';
COMMENT ON COLUMN paperclip.heartbeat_run_events.message IS 'the event in words (e.g. run started)';
COMMENT ON COLUMN paperclip.heartbeat_run_events.payload IS 'the event''s data';
COMMENT ON COLUMN paperclip.heartbeat_run_events.created_at IS 'when it happened';
-- cost_events
COMMENT ON COLUMN paperclip.cost_events.id IS 'cost event id';
COMMENT ON COLUMN paperclip.cost_events.company_id IS 'the agent''s company';
COMMENT ON COLUMN paperclip.cost_events.agent_id IS 'the agent charged';
COMMENT ON COLUMN paperclip.cost_events.run_id IS 'the run that cost it';
COMMENT ON COLUMN paperclip.cost_events.provider IS 'the model provider the adapter reported (unknown when none)';
COMMENT ON COLUMN paperclip.cost_events.model IS 'the model the adapter reported (unknown when none)';
COMMENT ON COLUMN paperclip.cost_events.input_tokens IS 'input tokens of the run';
COMMENT ON COLUMN paperclip.cost_events.output_tokens IS 'output tokens of the run';
COMMENT ON COLUMN paperclip.cost_events.cost_cents IS 'cost in whole cents';
COMMENT ON COLUMN paperclip.cost_events.occurred_at IS 'when the cost was incurred (the run''s finalization)';
COMMENT ON COLUMN paperclip.cost_events.created_at IS 'when the row was created';

-- activity_log
COMMENT ON TABLE paperclip.activity_log IS 'the activity feed: who did what to which entity (log_activity writes it)';
COMMENT ON COLUMN paperclip.activity_log.id IS 'activity id';
COMMENT ON COLUMN paperclip.activity_log.company_id IS 'the company';
COMMENT ON COLUMN paperclip.activity_log.actor_type IS 'user, agent or system';
COMMENT ON COLUMN paperclip.activity_log.actor_id IS 'who acted, in the caller''s terms';
COMMENT ON COLUMN paperclip.activity_log.action IS 'what was done (e.g. issue.comment_added)';
COMMENT ON COLUMN paperclip.activity_log.entity_type IS 'the kind of thing acted on (e.g. issue)';
COMMENT ON COLUMN paperclip.activity_log.entity_id IS 'the thing acted on';
COMMENT ON COLUMN paperclip.activity_log.agent_id IS 'the agent involved, if any';
COMMENT ON COLUMN paperclip.activity_log.run_id IS 'the run that did it, if any (liveness counts it as evidence)';
COMMENT ON COLUMN paperclip.activity_log.details IS 'free-form details';
COMMENT ON COLUMN paperclip.activity_log.created_at IS 'when it happened';

-- work evidence
COMMENT ON TABLE paperclip.issues IS 'an issue (task) agents work on; read by the activity feed and liveness';
COMMENT ON COLUMN paperclip.issues.id IS 'issue id';
COMMENT ON COLUMN paperclip.issues.company_id IS 'the company';
COMMENT ON COLUMN paperclip.issues.identifier IS 'human identifier (e.g. PAP-12)';
COMMENT ON COLUMN paperclip.issues.title IS 'title';
COMMENT ON COLUMN paperclip.issues.description IS 'description';
COMMENT ON COLUMN paperclip.issues.status IS 'backlog, todo, in_progress, in_review, blocked, done or cancelled';
COMMENT ON COLUMN paperclip.issues.priority IS 'priority, free-form';
COMMENT ON COLUMN paperclip.issues.assignee_agent_id IS 'the agent it is assigned to';
COMMENT ON COLUMN paperclip.issues.hidden_at IS 'when it was hidden (hidden issues are left out of feeds)';
COMMENT ON COLUMN paperclip.issues.created_at IS 'when the row was created';
COMMENT ON COLUMN paperclip.issues.updated_at IS 'when the row was last changed';

COMMENT ON TABLE paperclip.issue_comments IS 'comments on issues; one written by a run is evidence of its progress';
COMMENT ON COLUMN paperclip.issue_comments.id IS 'comment id';
COMMENT ON COLUMN paperclip.issue_comments.company_id IS 'the company';
COMMENT ON COLUMN paperclip.issue_comments.issue_id IS 'the issue';
COMMENT ON COLUMN paperclip.issue_comments.author_agent_id IS 'the agent that wrote it, if any';
COMMENT ON COLUMN paperclip.issue_comments.body IS 'the text';
COMMENT ON COLUMN paperclip.issue_comments.created_by_run_id IS 'the run that wrote it, if any';
COMMENT ON COLUMN paperclip.issue_comments.created_at IS 'when it was written';

COMMENT ON TABLE paperclip.issue_documents IS 'documents attached to issues under a key (plan is the plan document)';
COMMENT ON COLUMN paperclip.issue_documents.id IS 'row id';
COMMENT ON COLUMN paperclip.issue_documents.company_id IS 'the company';
COMMENT ON COLUMN paperclip.issue_documents.issue_id IS 'the issue';
COMMENT ON COLUMN paperclip.issue_documents.document_id IS 'the document (see document_revisions)';
COMMENT ON COLUMN paperclip.issue_documents.key IS 'the document''s role on the issue: plan, continuation-summary (not evidence), ...';

COMMENT ON TABLE paperclip.document_revisions IS 'revisions of documents; one written by a run is evidence of its progress';
COMMENT ON COLUMN paperclip.document_revisions.id IS 'revision id';
COMMENT ON COLUMN paperclip.document_revisions.company_id IS 'the company';
COMMENT ON COLUMN paperclip.document_revisions.document_id IS 'the document';
COMMENT ON COLUMN paperclip.document_revisions.body IS 'the revision''s text';
COMMENT ON COLUMN paperclip.document_revisions.created_by_run_id IS 'the run that wrote it, if any';
COMMENT ON COLUMN paperclip.document_revisions.created_at IS 'when it was written';

COMMENT ON TABLE paperclip.issue_work_products IS 'work products of issues (pull requests, files, ...); one made by a run is evidence of its progress';
COMMENT ON COLUMN paperclip.issue_work_products.id IS 'work product id';
COMMENT ON COLUMN paperclip.issue_work_products.company_id IS 'the company';
COMMENT ON COLUMN paperclip.issue_work_products.issue_id IS 'the issue';
COMMENT ON COLUMN paperclip.issue_work_products.kind IS 'what kind of product';
COMMENT ON COLUMN paperclip.issue_work_products.title IS 'title';
COMMENT ON COLUMN paperclip.issue_work_products.created_by_run_id IS 'the run that made it, if any';
COMMENT ON COLUMN paperclip.issue_work_products.created_at IS 'when it was made';

COMMENT ON TABLE paperclip.workspace_operations IS 'workspace operations of runs (checkouts, ...); counted by liveness, though alone they are no progress';
COMMENT ON COLUMN paperclip.workspace_operations.id IS 'operation id';
COMMENT ON COLUMN paperclip.workspace_operations.company_id IS 'the company';
COMMENT ON COLUMN paperclip.workspace_operations.heartbeat_run_id IS 'the run that did it';
COMMENT ON COLUMN paperclip.workspace_operations.kind IS 'what kind of operation';
COMMENT ON COLUMN paperclip.workspace_operations.started_at IS 'when it started';

-- company_roles (its table comment is 0.1's)
COMMENT ON COLUMN paperclip.company_roles.role_id IS 'the role (kept by OID: a rename keeps the binding)';
COMMENT ON COLUMN paperclip.company_roles.created_at IS 'when the binding was made';

-- views
-- (active_runs and run_stats are made again, with their comments, in issue 16's section)
COMMENT ON VIEW paperclip.agent_overview IS 'one row per agent: status, last heartbeat, next timer, runs today, spend against budget';
COMMENT ON COLUMN paperclip.agent_overview.agent_id IS 'agent id';
COMMENT ON COLUMN paperclip.agent_overview.company_id IS 'the company';
COMMENT ON COLUMN paperclip.agent_overview.name IS 'the agent''s name';
COMMENT ON COLUMN paperclip.agent_overview.status IS 'idle, running, paused, error or terminated';
COMMENT ON COLUMN paperclip.agent_overview.adapter_type IS 'how its runs are executed';
COMMENT ON COLUMN paperclip.agent_overview.last_heartbeat_at IS 'when its last run was finalized';
COMMENT ON COLUMN paperclip.agent_overview.next_timer_due_at IS 'when its interval timer is next due (null: no timer)';
COMMENT ON COLUMN paperclip.agent_overview.runs_today IS 'runs created since midnight (session time zone)';
COMMENT ON COLUMN paperclip.agent_overview.spent_monthly_cents IS 'spend this month, in cents';
COMMENT ON COLUMN paperclip.agent_overview.budget_monthly_cents IS 'monthly budget in cents (0: none)';
COMMENT ON COLUMN paperclip.agent_overview.total_cost_cents IS 'cost over all its runs, in cents';
COMMENT ON COLUMN paperclip.agent_overview.session_id IS 'the adapter session its next run resumes';

-- functions that 0.1 left without a comment
COMMENT ON FUNCTION paperclip.adapter_config_valid(text, jsonb)
    IS 'true, or an error (22023) naming the adapter_config key that is wrong (the check constraint of agents)';
COMMENT ON FUNCTION paperclip.count_timer_agents()
    IS 'trigger function: keeps paperclip.timer_agents in step with agents';
COMMENT ON FUNCTION paperclip.cancel_run(uuid)
    IS 'cancel a queued or running run (its runner is terminated); a finished run is returned unchanged';
COMMENT ON FUNCTION paperclip.cancel_active_for_agent(uuid)
    IS 'cancel every queued or running run of an agent; returns how many';
COMMENT ON FUNCTION paperclip.get_runtime_state(uuid)
    IS 'the agent''s runtime state (session, totals), created on first use';
COMMENT ON FUNCTION paperclip.reset_runtime_session(uuid)
    IS 'forget the agent''s adapter session and state: its next run starts a new session';
COMMENT ON FUNCTION paperclip.normalize_activity_limit(int)
    IS 'the activity feed''s page size: 100 for null, else clamped to 1..500';

-- ---------------------------------------------------------------------------
-- issue 14: DROP EXTENSION with runs in flight
-- ---------------------------------------------------------------------------
-- Before DROP EXTENSION paperclip (or DROP SCHEMA paperclip CASCADE) the
-- event trigger counts the runs in flight; if the drop commits, the client
-- gets a WARNING and the server log a LOG line with the counts, and the
-- launcher terminates the running runs' runners (src/extension_drop.c).

CREATE FUNCTION paperclip.on_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'paperclip_on_drop'
LANGUAGE C;
COMMENT ON FUNCTION paperclip.on_drop()
    IS 'event trigger function: before the extension is dropped, counts the runs in flight to report them at commit';
REVOKE ALL ON FUNCTION paperclip.on_drop() FROM PUBLIC;

CREATE EVENT TRIGGER paperclip_drop_watch ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION paperclip.on_drop();
COMMENT ON EVENT TRIGGER paperclip_drop_watch
    IS 'reports the runs in flight that DROP EXTENSION paperclip abandons (paperclip.on_drop)';

-- ===========================================================================
-- issue 16: the hot path near the physical limit. What every enqueue and
-- every finalization pays for the schema, cut to what integrity needs:
--   - status vocabularies are domains checked by one C function (22023
--     naming the allowed values, whoever writes), not CHECK (col IN (...)):
--     PostgreSQL reads every CHECK of a table back from its stored text and
--     plans it again for each statement that writes the table, and runs all
--     of them on every UPDATE; a domain's check is read once per backend and
--     runs only when a value of the domain is written;
--   - every index of the runtime tables is used by a query (sql/indexes.sql
--     shows each plan); the others are gone, and the index of runs by issue
--     reads a column that a merge of a wake's context leaves alone, so that
--     a coalescing wake updates its queued run in place (HOT);
--   - room on each page of runs, agents and runtime state for the updates
--     every run makes (fillfactor), so those can be HOT.
-- ===========================================================================

CREATE FUNCTION paperclip.in_vocabulary(value text, vocabulary text)
RETURNS bool
AS 'MODULE_PATHNAME', 'paperclip_in_vocabulary'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.in_vocabulary(text, text)
    IS 'true when value is in the vocabulary named (a domain: paperclip.run_status, ...), else an error (22023) naming the allowed values; the check of the status domains';

CREATE FUNCTION paperclip.agent_fields_valid(status text, adapter_type text, runtime_config jsonb)
RETURNS bool
AS 'MODULE_PATHNAME', 'paperclip_agent_fields_valid'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION paperclip.agent_fields_valid(text, text, jsonb)
    IS 'true, or an error (22023) naming what is wrong: status and adapter_type outside their vocabularies, a runtime_config that is not an object (the check constraint of agents)';

REVOKE ALL ON FUNCTION paperclip.in_vocabulary(text, text), paperclip.agent_fields_valid(text, text, jsonb)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION paperclip.in_vocabulary(text, text), paperclip.agent_fields_valid(text, text, jsonb)
    TO paperclip_reader;

CREATE DOMAIN paperclip.run_status AS text
    CONSTRAINT run_status_check CHECK (paperclip.in_vocabulary(VALUE, 'paperclip.run_status'));
CREATE DOMAIN paperclip.wakeup_status AS text
    CONSTRAINT wakeup_status_check CHECK (paperclip.in_vocabulary(VALUE, 'paperclip.wakeup_status'));
CREATE DOMAIN paperclip.wake_source AS text
    CONSTRAINT wake_source_check CHECK (paperclip.in_vocabulary(VALUE, 'paperclip.wake_source'));
CREATE DOMAIN paperclip.trigger_detail AS text
    CONSTRAINT trigger_detail_check CHECK (paperclip.in_vocabulary(VALUE, 'paperclip.trigger_detail'));
CREATE DOMAIN paperclip.actor_type AS text
    CONSTRAINT actor_type_check CHECK (paperclip.in_vocabulary(VALUE, 'paperclip.actor_type'));
CREATE DOMAIN paperclip.liveness_state AS text
    CONSTRAINT liveness_state_check CHECK (paperclip.in_vocabulary(VALUE, 'paperclip.liveness_state'));
CREATE DOMAIN paperclip.event_stream AS text
    CONSTRAINT event_stream_check CHECK (paperclip.in_vocabulary(VALUE, 'paperclip.event_stream'));
CREATE DOMAIN paperclip.event_level AS text
    CONSTRAINT event_level_check CHECK (paperclip.in_vocabulary(VALUE, 'paperclip.event_level'));
CREATE DOMAIN paperclip.issue_status AS text
    CONSTRAINT issue_status_check CHECK (paperclip.in_vocabulary(VALUE, 'paperclip.issue_status'));
COMMENT ON DOMAIN paperclip.run_status
    IS 'a run''s status: scheduled_retry, queued, running, succeeded, failed, cancelled, timed_out';
COMMENT ON DOMAIN paperclip.wakeup_status
    IS 'a wakeup request''s status: queued, claimed, coalesced, skipped, completed, failed, cancelled, timed_out, deferred';
COMMENT ON DOMAIN paperclip.wake_source
    IS 'where a wakeup came from: timer, assignment, on_demand, automation';
COMMENT ON DOMAIN paperclip.trigger_detail
    IS 'what triggered a wakeup: manual, ping, callback, system';
COMMENT ON DOMAIN paperclip.actor_type
    IS 'who acted: user, agent, system';
COMMENT ON DOMAIN paperclip.liveness_state
    IS 'whether a finished run moved its issue forward: completed, advanced, plan_only, empty_response, blocked, failed, needs_followup';
COMMENT ON DOMAIN paperclip.event_stream
    IS 'the stream of a run event: system, stdout, stderr';
COMMENT ON DOMAIN paperclip.event_level
    IS 'the level of a run event: info, warn, error';
COMMENT ON DOMAIN paperclip.issue_status
    IS 'an issue''s status: backlog, todo, in_progress, in_review, blocked, done, cancelled';

-- The views that read the columns whose type changes are made again, as
-- they were (their grants and comments too).
DROP VIEW paperclip.active_runs;
DROP VIEW paperclip.run_stats;

-- runs: indexes that no query uses go; an agent's scheduled retry has its
-- own small index (the enqueue finds the active run through the one-active
-- index); runs of an issue are found through context_issue_id, which a
-- merge into a queued run does not change (its issueId stays the run's).
DROP INDEX paperclip.heartbeat_runs_pending_idx;
DROP INDEX paperclip.heartbeat_runs_company_agent_started_idx;
DROP INDEX paperclip.heartbeat_runs_issue_idx;
ALTER TABLE paperclip.heartbeat_runs
    DROP CONSTRAINT heartbeat_runs_invocation_source_check,
    DROP CONSTRAINT heartbeat_runs_trigger_detail_check,
    DROP CONSTRAINT heartbeat_runs_status_check,
    DROP CONSTRAINT heartbeat_runs_liveness_state_check,
    ALTER COLUMN invocation_source TYPE paperclip.wake_source,
    ALTER COLUMN trigger_detail TYPE paperclip.trigger_detail,
    ALTER COLUMN status TYPE paperclip.run_status,
    ALTER COLUMN liveness_state TYPE paperclip.liveness_state,
    ADD COLUMN context_issue_id text
        GENERATED ALWAYS AS (context_snapshot OPERATOR(pg_catalog.->>) 'issueId') STORED,
    SET (fillfactor = 80);
COMMENT ON COLUMN paperclip.heartbeat_runs.context_issue_id
    IS 'derived: the issueId of context_snapshot (runs_for_issue, liveness); a merged wake keeps the run''s own';
CREATE INDEX heartbeat_runs_issue_idx ON paperclip.heartbeat_runs (context_issue_id)
    WHERE context_issue_id IS NOT NULL;
COMMENT ON INDEX paperclip.heartbeat_runs_issue_idx
    IS 'runs of an issue (runs_for_issue, backfill_run_liveness); not the context itself, so a merge of a wake''s context can be a HOT update';
CREATE INDEX heartbeat_runs_retry_agent_idx ON paperclip.heartbeat_runs (company_id, agent_id)
    WHERE status = 'scheduled_retry';
COMMENT ON INDEX paperclip.heartbeat_runs_retry_agent_idx
    IS 'an agent''s scheduled retry (enqueue_wakeup promotes it); its active run is found through heartbeat_runs_one_active_per_agent_idx';
CREATE INDEX heartbeat_runs_company_agent_created_idx
    ON paperclip.heartbeat_runs (company_id, agent_id, created_at, id);
COMMENT ON INDEX paperclip.heartbeat_runs_company_agent_created_idx
    IS 'an agent''s runs, newest first (list_runs of an agent, agent_overview''s runs today); and deletes of agents (the key to agents)';
COMMENT ON INDEX paperclip.heartbeat_runs_one_active_per_agent_idx
    IS 'at most one queued or running run per agent; also how enqueue_wakeup finds it';

-- wakeup requests: by agent and status (deferred releases, the key to
-- agents), by idempotency key, deferred by run, finished for retention.
DROP INDEX paperclip.agent_wakeup_requests_company_requested_idx;
DROP INDEX paperclip.agent_wakeup_requests_agent_requested_idx;
ALTER TABLE paperclip.agent_wakeup_requests
    DROP CONSTRAINT agent_wakeup_requests_source_check,
    DROP CONSTRAINT agent_wakeup_requests_trigger_detail_check,
    DROP CONSTRAINT agent_wakeup_requests_status_check,
    DROP CONSTRAINT agent_wakeup_requests_actor_type_check,
    ALTER COLUMN source TYPE paperclip.wake_source,
    ALTER COLUMN trigger_detail TYPE paperclip.trigger_detail,
    ALTER COLUMN status TYPE paperclip.wakeup_status,
    ALTER COLUMN requested_by_actor_type TYPE paperclip.actor_type;
COMMENT ON FUNCTION paperclip.wakeup_request_statuses()
    IS 'the statuses an agent_wakeup_requests row may have (the vocabulary of the domain paperclip.wakeup_status)';

-- run events: by run and seq (list_events, retention, the key to runs)
DROP INDEX paperclip.heartbeat_run_events_company_created_idx;
ALTER TABLE paperclip.heartbeat_run_events
    DROP CONSTRAINT heartbeat_run_events_stream_check,
    DROP CONSTRAINT heartbeat_run_events_level_check,
    ALTER COLUMN stream TYPE paperclip.event_stream,
    ALTER COLUMN level TYPE paperclip.event_level;

ALTER TABLE paperclip.activity_log
    DROP CONSTRAINT activity_log_actor_type_check,
    ALTER COLUMN actor_type TYPE paperclip.actor_type;
ALTER TABLE paperclip.issues
    DROP CONSTRAINT issues_status_check,
    ALTER COLUMN status TYPE paperclip.issue_status;

-- agents keep text columns (timer_due_at, a generated column, reads status);
-- their vocabularies and the shape of runtime_config are one check.
ALTER TABLE paperclip.agents
    DROP CONSTRAINT agents_status_check,
    DROP CONSTRAINT agents_adapter_type_check,
    DROP CONSTRAINT agents_runtime_config_check,
    ADD CONSTRAINT agents_fields_check
        CHECK (paperclip.agent_fields_valid(status, adapter_type, runtime_config)),
    SET (fillfactor = 90);
COMMENT ON CONSTRAINT agents_fields_check ON paperclip.agents
    IS 'status and adapter_type in their vocabularies, runtime_config an object (22023 otherwise)';
ALTER TABLE paperclip.agent_runtime_state SET (fillfactor = 90);

CREATE VIEW paperclip.active_runs WITH (security_invoker = true) AS
SELECT r.id AS run_id, r.company_id, r.agent_id, a.name AS agent_name, r.status,
       r.invocation_source, r.trigger_detail, r.created_at, r.started_at,
       pg_catalog.now() - coalesce(r.started_at, r.created_at) AS age,
       r.runner_pid, r.worker_name, r.lease_expires_at
  FROM paperclip.heartbeat_runs r
  JOIN paperclip.agents a ON a.id = r.agent_id
 WHERE r.status IN ('queued', 'running');
CREATE VIEW paperclip.run_stats WITH (security_invoker = true) AS
SELECT r.company_id, r.agent_id, r.status, count(*) AS runs,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - r.started_at))
           AS p50_duration_sec,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - r.started_at))
           AS p95_duration_sec,
       sum(coalesce((r.usage_json ->> 'costUsd')::numeric, 0)) AS cost_usd
  FROM paperclip.heartbeat_runs r
 GROUP BY r.company_id, r.agent_id, r.status;
REVOKE ALL ON paperclip.active_runs, paperclip.run_stats FROM PUBLIC;
GRANT SELECT ON paperclip.active_runs, paperclip.run_stats TO paperclip_reader;
GRANT INSERT, UPDATE, DELETE ON paperclip.active_runs, paperclip.run_stats TO paperclip_admin;
COMMENT ON VIEW paperclip.active_runs IS 'queued and running runs, with their agent and age';
COMMENT ON COLUMN paperclip.active_runs.run_id IS 'run id';
COMMENT ON COLUMN paperclip.active_runs.company_id IS 'the company';
COMMENT ON COLUMN paperclip.active_runs.agent_id IS 'the agent';
COMMENT ON COLUMN paperclip.active_runs.agent_name IS 'the agent''s name';
COMMENT ON COLUMN paperclip.active_runs.status IS 'queued or running';
COMMENT ON COLUMN paperclip.active_runs.invocation_source IS 'timer, assignment, on_demand or automation';
COMMENT ON COLUMN paperclip.active_runs.trigger_detail IS 'manual, ping, callback, system, or null';
COMMENT ON COLUMN paperclip.active_runs.created_at IS 'when it was queued';
COMMENT ON COLUMN paperclip.active_runs.started_at IS 'when it started (null while queued)';
COMMENT ON COLUMN paperclip.active_runs.age IS 'time since it started, or since it was queued';
COMMENT ON COLUMN paperclip.active_runs.runner_pid IS 'pid of its paperclip_runner';
COMMENT ON COLUMN paperclip.active_runs.worker_name IS
    'the paperclip_worker running the run (null: the launcher, or not started)';
COMMENT ON COLUMN paperclip.active_runs.lease_expires_at IS
    'when the worker''s lease on the run lapses unless renewed';
COMMENT ON VIEW paperclip.run_stats IS 'per company, agent and status: how many runs, median and 95th percentile duration, cost';
COMMENT ON COLUMN paperclip.run_stats.company_id IS 'the company';
COMMENT ON COLUMN paperclip.run_stats.agent_id IS 'the agent';
COMMENT ON COLUMN paperclip.run_stats.status IS 'the runs'' status';
COMMENT ON COLUMN paperclip.run_stats.runs IS 'how many runs';
COMMENT ON COLUMN paperclip.run_stats.p50_duration_sec IS 'median duration from start to finish, in seconds';
COMMENT ON COLUMN paperclip.run_stats.p95_duration_sec IS '95th percentile duration, in seconds';
COMMENT ON COLUMN paperclip.run_stats.cost_usd IS 'total cost in US dollars (usage_json costUsd)';

-- issue 14: run logs in the database
-- ===========================================================================
-- A run's log is a byte stream of JSON lines ({"ts","stream","chunk"}, one a
-- record, as 0.1 wrote them to files); it is now kept in the database, as
-- consecutive byte ranges of that stream (paperclip.run_log_chunks), so that
-- pg_basebackup, replicas, pg_dump and restores on another host carry it.
-- read_log reads it by byte offset as before. The launcher's runner writes
-- the log to a spool file first (its durable buffer: a crash of the launcher
-- or of the server loses none of it) and the launcher copies it into the
-- table in batches, and what is left when the run is finalized, in the same
-- transaction. paperclip.log_store = file keeps logs in files outside the
-- data directory instead.
CREATE TABLE paperclip.run_log_chunks (
    company_id   uuid NOT NULL,
    run_id       uuid NOT NULL,
    byte_offset  bigint NOT NULL
        CONSTRAINT run_log_chunks_byte_offset_check CHECK (byte_offset >= 0),
    content      bytea NOT NULL
        CONSTRAINT run_log_chunks_content_check CHECK (pg_catalog.octet_length(content) > 0),
    CONSTRAINT run_log_chunks_pkey PRIMARY KEY (company_id, run_id, byte_offset),
    CONSTRAINT run_log_chunks_company_id_run_id_fkey FOREIGN KEY (company_id, run_id)
        REFERENCES paperclip.heartbeat_runs (company_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE paperclip.run_log_chunks
    IS 'run logs (log_store db): each row holds the bytes of a run''s log (JSON lines) from byte_offset on; a run''s rows, in byte_offset order, are its whole log. Written only by the extension (the launcher, append_run_log); read with read_log; pruned with the run''s events';
COMMENT ON COLUMN paperclip.run_log_chunks.company_id IS 'the run''s company';
COMMENT ON COLUMN paperclip.run_log_chunks.run_id IS 'the run whose log this is';
COMMENT ON COLUMN paperclip.run_log_chunks.byte_offset
    IS 'where content starts in the run''s log; the next row starts where this one ends';
COMMENT ON COLUMN paperclip.run_log_chunks.content
    IS 'bytes of the log: UTF-8 JSON lines, a row may end inside a line or a character (read_log returns whole characters); compressed by TOAST';
COMMENT ON CONSTRAINT run_log_chunks_company_id_run_id_fkey ON paperclip.run_log_chunks
    IS 'run_id names a run of the row''s own company (paperclip.heartbeat_runs); its log goes with it';
COMMENT ON CONSTRAINT run_log_chunks_byte_offset_check ON paperclip.run_log_chunks IS 'offsets start at 0';
COMMENT ON CONSTRAINT run_log_chunks_content_check ON paperclip.run_log_chunks IS 'no empty row';

-- Compressed with lz4 when the server was built with it (faster than pglz at
-- a similar ratio for logs), else with the default, pglz.
DO $log_compression$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_settings
                WHERE name OPERATOR(pg_catalog.=) 'default_toast_compression'
                  AND 'lz4' OPERATOR(pg_catalog.=) ANY (enumvals)) THEN
        ALTER TABLE paperclip.run_log_chunks ALTER COLUMN content SET COMPRESSION lz4;
    END IF;
END
$log_compression$;

ALTER TABLE paperclip.run_log_chunks ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_isolation ON paperclip.run_log_chunks
    USING ((SELECT paperclip.visible_companies(CURRENT_USER)) IS NULL
           OR company_id OPERATOR(pg_catalog.=) ANY ((SELECT paperclip.visible_companies(CURRENT_USER))::uuid[]));
COMMENT ON POLICY company_isolation ON paperclip.run_log_chunks
    IS 'a bound role reads the logs of its companies only';
-- read by read_log as the caller (row-level security applies); no role writes it
REVOKE ALL ON paperclip.run_log_chunks FROM PUBLIC;
GRANT SELECT ON paperclip.run_log_chunks TO paperclip_reader;
SELECT pg_catalog.pg_extension_config_dump('paperclip.run_log_chunks', '');

-- Where a run's log is: db (paperclip.run_log_chunks), file (a file store
-- outside the data directory), local_file (0.1's files; only rows restored
-- from a 0.1 dump still say it: the update below moves the logs of this
-- database into the table). A vocabulary as issue 16 keeps them: a domain
-- checked by paperclip.in_vocabulary, not a CHECK that every UPDATE of a run
-- would evaluate.
CREATE DOMAIN paperclip.log_store AS text
    CONSTRAINT log_store_check CHECK (paperclip.in_vocabulary(VALUE, 'paperclip.log_store'));
COMMENT ON DOMAIN paperclip.log_store
    IS 'where a run''s log is kept: db (paperclip.run_log_chunks), file (<paperclip.run_log_directory>/<company_id>/<run_id>.ndjson), local_file (the same file, as 0.1 named it)';
ALTER TABLE paperclip.heartbeat_runs ALTER COLUMN log_store TYPE paperclip.log_store;
COMMENT ON COLUMN paperclip.heartbeat_runs.log_store
    IS 'where the run''s log is: db (paperclip.run_log_chunks, the default), file (paperclip.log_store = file: a file outside the data directory), local_file (0.1''s files); NULL: no log';
COMMENT ON COLUMN paperclip.heartbeat_runs.log_ref
    IS 'the log''s file when log_store is file or local_file (shown only: a log is always read where its company and id say); NULL for db';
COMMENT ON COLUMN paperclip.heartbeat_runs.log_bytes
    IS 'bytes of the run''s log, as its runner counted them (paperclip.max_log_bytes caps it)';
COMMENT ON COLUMN paperclip.heartbeat_runs.log_sha256
    IS 'sha256 of the run''s log, as its runner computed it';

COMMENT ON FUNCTION paperclip.read_log(uuid, bigint, int)
    IS 'a page of a run''s own log (JSON lines) from byte offset "offset": whole characters, at most limit_bytes (one character at least); next_offset is null at the end, else beyond offset. Reads paperclip.run_log_chunks (or the file of a file-store log)';
COMMENT ON FUNCTION paperclip.append_run_log(uuid, text, text)
    IS 'append a record ({"ts","stream","chunk"}) to the run''s log in paperclip.run_log_chunks (for external runners); returns the log bytes so far. chunk at most 1 MB; a record past paperclip.max_log_bytes is dropped (one lifecycle event says so); not while the launcher''s runner writes the run''s log (55000)';
COMMENT ON FUNCTION paperclip.prune_expired(int)
    IS 'one retention batch: events and logs (rows of run_log_chunks, or files) of runs finished longer than paperclip.run_retention ago, and finished wakeup requests as old; log_files counts the runs whose log went';
COMMENT ON FUNCTION paperclip.run_log_path(uuid, uuid)
    IS 'the file of a run''s log in a file store: <paperclip.run_log_directory>/<company_id>/<run_id>.ndjson (for the launcher; no grant)';

-- The logs 0.1 wrote to files (log_store local_file, under the data
-- directory by default, where their names were too long for pg_basebackup's
-- tar format) move into paperclip.run_log_chunks, byte for byte, and their
-- runs say db; once this transaction commits, the files of finished runs and
-- the directories left empty are removed, and the file of a run still
-- running becomes its spool log (pg_paperclip/spool/<database OID>/
-- <run_id>.log: its runner goes on appending to it), whose rest the launcher
-- copies when it finalizes the run. A log whose file is gone is no log
-- (log_store NULL), as read_log said before. Only this update, run by a
-- superuser, reads the files; the function is dropped once it has.
CREATE FUNCTION paperclip.import_file_logs()
RETURNS bigint
AS 'MODULE_PATHNAME', 'paperclip_import_file_logs'
LANGUAGE C VOLATILE;
SELECT paperclip.import_file_logs();
DROP FUNCTION paperclip.import_file_logs();
