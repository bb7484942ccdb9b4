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
COMMENT ON TABLE paperclip.agent_runtime_state IS 'per agent: adapter session, last run and running totals of tokens and cost (written by finalization)';
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
COMMENT ON TABLE paperclip.agent_wakeup_requests IS 'every wakeup asked for, and what became of it: a run, a coalesce into the active run, or a skip';
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
COMMENT ON TABLE paperclip.heartbeat_runs IS 'one execution of an agent: from queued to a terminal status, with its outcome, usage, log and retries';
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
COMMENT ON TABLE paperclip.heartbeat_run_events IS 'what happened during a run, in order: lifecycle, adapter invocation, log notes, errors, tool and action events';
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
COMMENT ON TABLE paperclip.cost_events IS 'one row per finalized run that cost something: provider, model, tokens and cents';
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
COMMENT ON COLUMN paperclip.company_roles.company_id IS 'a company the role may see and touch';
COMMENT ON COLUMN paperclip.company_roles.created_at IS 'when the binding was made';

-- views
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

COMMENT ON VIEW paperclip.run_stats IS 'per company, agent and status: how many runs, median and 95th percentile duration, cost';
COMMENT ON COLUMN paperclip.run_stats.company_id IS 'the company';
COMMENT ON COLUMN paperclip.run_stats.agent_id IS 'the agent';
COMMENT ON COLUMN paperclip.run_stats.status IS 'the runs'' status';
COMMENT ON COLUMN paperclip.run_stats.runs IS 'how many runs';
COMMENT ON COLUMN paperclip.run_stats.p50_duration_sec IS 'median duration from start to finish, in seconds';
COMMENT ON COLUMN paperclip.run_stats.p95_duration_sec IS '95th percentile duration, in seconds';
COMMENT ON COLUMN paperclip.run_stats.cost_usd IS 'total cost in US dollars (usage_json costUsd)';

-- functions that 0.1 left without a comment
COMMENT ON FUNCTION paperclip.timer_due_at(text, jsonb, timestamptz)
    IS 'when an agent''s interval timer is next due (agents.timer_due_at): null without a timer, -infinity when it never beat';
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
COMMENT ON FUNCTION paperclip.list_runs(uuid, uuid)
    IS 'runs of a company, or of one of its agents, newest first';
COMMENT ON FUNCTION paperclip.list_events(uuid, int, int)
    IS 'a run''s events with seq > after_seq, in order; limit clamped to 1..1000';
COMMENT ON FUNCTION paperclip.append_run_event(uuid, text, text, jsonb, text, text)
    IS 'append an event to a run (for external runners); returns its seq';
COMMENT ON FUNCTION paperclip.normalize_activity_limit(int)
    IS 'the activity feed''s page size: 100 for null, else clamped to 1..500';
COMMENT ON FUNCTION paperclip.list_activity(uuid, uuid, text, text, int)
    IS 'the company''s activity feed, newest first, optionally of one agent or entity; hidden issues left out';
COMMENT ON FUNCTION paperclip.activity_for_issue(uuid)
    IS 'activity on an issue, newest first';
COMMENT ON FUNCTION paperclip.log_activity(uuid, text, text, text, text, text, uuid, uuid, jsonb)
    IS 'record an activity row (who did what to which entity); returns it';
COMMENT ON FUNCTION paperclip.runs_for_issue(uuid, uuid)
    IS 'runs that worked on an issue (its context or its activity), with usage, result, retry and liveness, newest first';
COMMENT ON FUNCTION paperclip.issues_for_run(uuid)
    IS 'the issues a run worked on: its context issue first, then issues with activity from it';

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
