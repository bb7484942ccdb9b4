--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18
-- Dumped by pg_dump version 15.18

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Data for Name: activity_log; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.activity_log (id, company_id, actor_type, actor_id, action, entity_type, entity_id, agent_id, run_id, details, created_at) FROM stdin;
3b21cbdb-b720-44ae-8593-df33e729c252	e0000000-0000-0000-0000-000000000001	agent	e0000000-0000-0000-0000-0000000000a1	issue.comment_added	issue	e0000000-0000-0000-0000-0000000000b1	e0000000-0000-0000-0000-0000000000a1	c312a90c-1954-420f-a2b0-1d97dc1dff99	{"comment": "done"}	2026-11-26 02:58:08.697787+00
\.


--
-- Data for Name: companies; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.companies (id, name, created_at, updated_at) FROM stdin;
e0000000-0000-0000-0000-000000000001	upgrade one	2026-11-26 02:58:08.567715+00	2026-11-26 02:58:08.567715+00
e0000000-0000-0000-0000-000000000002	upgrade two	2026-11-26 02:58:08.567715+00	2026-11-26 02:58:08.567715+00
\.


--
-- Data for Name: agents; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.agents (id, company_id, name, role, status, adapter_type, adapter_config, runtime_config, budget_monthly_cents, spent_monthly_cents, last_heartbeat_at, created_at, updated_at) FROM stdin;
e0000000-0000-0000-0000-0000000000a3	e0000000-0000-0000-0000-000000000001	quiet	\N	idle	process	{"command": "/bin/true"}	{"heartbeat": {"enabled": false, "wakeOnOnDemand": false}}	0	0	\N	2026-11-26 02:58:08.571277+00	2026-11-26 02:58:08.571277+00
e0000000-0000-0000-0000-0000000000a1	e0000000-0000-0000-0000-000000000001	worker	engineer	idle	process	{"args": ["-x"], "command": "/bin/true", "graceSec": 5, "timeoutSec": 60}	{"heartbeat": {"enabled": true, "intervalSec": 3600}}	10000	5	2026-11-26 02:58:08.652508+00	2026-11-26 02:58:08.571277+00	2026-11-26 02:58:08.652508+00
e0000000-0000-0000-0000-0000000000a2	e0000000-0000-0000-0000-000000000001	caller	ceo	error	http	{"url": "http://127.0.0.1:9/hook", "method": "POST", "headers": {"X-Team": "one"}}	{"heartbeat": {"enabled": true, "intervalSec": 60}}	0	0	2026-11-26 02:58:08.661344+00	2026-11-26 02:58:08.571277+00	2026-11-26 02:58:08.661344+00
e0000000-0000-0000-0000-0000000000a5	e0000000-0000-0000-0000-000000000002	flaky	\N	error	process	{"command": "/bin/true"}	{}	0	0	2026-11-26 02:58:08.663007+00	2026-11-26 02:58:08.571277+00	2026-11-26 02:58:08.663007+00
e0000000-0000-0000-0000-0000000000a6	e0000000-0000-0000-0000-000000000002	slow	\N	error	process	{"command": "/bin/true"}	{}	0	0	2026-11-26 02:58:08.672424+00	2026-11-26 02:58:08.571277+00	2026-11-26 02:58:08.672424+00
e0000000-0000-0000-0000-0000000000a4	e0000000-0000-0000-0000-000000000002	other	\N	running	process	{"command": "/bin/true"}	{}	0	0	\N	2026-11-26 02:58:08.571277+00	2026-11-26 02:58:08.679529+00
\.


--
-- Data for Name: agent_runtime_state; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.agent_runtime_state (agent_id, company_id, adapter_type, session_id, state_json, last_run_id, last_run_status, total_input_tokens, total_output_tokens, total_cached_input_tokens, total_cost_cents, last_error, created_at, updated_at) FROM stdin;
e0000000-0000-0000-0000-0000000000a1	e0000000-0000-0000-0000-000000000001	process	sess-1	{}	c312a90c-1954-420f-a2b0-1d97dc1dff99	succeeded	1200	300	100	5.000000	\N	2026-11-26 02:58:08.652508+00	2026-11-26 02:58:08.652508+00
e0000000-0000-0000-0000-0000000000a2	e0000000-0000-0000-0000-000000000001	http	\N	{}	050bc5ef-bb2f-48e3-ab17-de4d1d6682c2	failed	0	0	0	0.000000	bad request	2026-11-26 02:58:08.661344+00	2026-11-26 02:58:08.661344+00
e0000000-0000-0000-0000-0000000000a5	e0000000-0000-0000-0000-000000000002	process	\N	{}	218b4bff-46de-4817-aee6-9bc20636bb23	failed	0	0	0	0.000000	runner lost	2026-11-26 02:58:08.663007+00	2026-11-26 02:58:08.663007+00
e0000000-0000-0000-0000-0000000000a6	e0000000-0000-0000-0000-000000000002	process	\N	{}	30e2fb54-f953-466c-8256-f71bafde621a	timed_out	0	0	0	0.000000	Timed out	2026-11-26 02:58:08.672424+00	2026-11-26 02:58:08.672424+00
e0000000-0000-0000-0000-0000000000a4	e0000000-0000-0000-0000-000000000002	process	\N	{}	\N	\N	0	0	0	0.000000	\N	2026-11-26 02:58:08.696553+00	2026-11-26 02:58:08.696553+00
\.


--
-- Data for Name: agent_wakeup_requests; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.agent_wakeup_requests (id, company_id, agent_id, source, trigger_detail, reason, payload, status, coalesced_count, requested_by_actor_type, requested_by_actor_id, idempotency_key, run_id, requested_at, claimed_at, finished_at, error, created_at, updated_at) FROM stdin;
346e2ef6-2b39-483e-a7d4-8dc8db50e4db	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	on_demand	ping	again	\N	coalesced	1	\N	\N	\N	c312a90c-1954-420f-a2b0-1d97dc1dff99	2026-11-26 02:58:08.611297+00	\N	2026-11-26 02:58:08.611297+00	\N	2026-11-26 02:58:08.611297+00	2026-11-26 02:58:08.611297+00
e1805aef-d364-48f4-bd60-8a425b1cd93f	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a3	on_demand	ping	heartbeat.wakeOnOnDemand.disabled	\N	skipped	0	\N	\N	\N	\N	2026-11-26 02:58:08.617052+00	\N	2026-11-26 02:58:08.617052+00	\N	2026-11-26 02:58:08.617052+00	2026-11-26 02:58:08.617052+00
6a51568a-8413-45d2-ab78-27016a8b3cff	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	assignment	system	issue assigned	{"issue": "UP-1"}	completed	0	user	u-1	assign-UP-1	c312a90c-1954-420f-a2b0-1d97dc1dff99	2026-11-26 02:58:08.591958+00	2026-11-26 02:58:08.63367+00	2026-11-26 02:58:08.652508+00	\N	2026-11-26 02:58:08.591958+00	2026-11-26 02:58:08.652508+00
598be92c-270c-4165-ab93-7a7027e595a5	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a2	on_demand	manual	\N	\N	failed	0	user	u-2	\N	050bc5ef-bb2f-48e3-ab17-de4d1d6682c2	2026-11-26 02:58:08.620514+00	2026-11-26 02:58:08.63367+00	2026-11-26 02:58:08.661344+00	bad request	2026-11-26 02:58:08.620514+00	2026-11-26 02:58:08.661344+00
1dcc3c57-416d-42ca-915b-4290907787a7	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a5	automation	callback	\N	\N	failed	0	\N	\N	\N	218b4bff-46de-4817-aee6-9bc20636bb23	2026-11-26 02:58:08.625454+00	2026-11-26 02:58:08.63367+00	2026-11-26 02:58:08.663007+00	runner lost	2026-11-26 02:58:08.625454+00	2026-11-26 02:58:08.663007+00
5cc72a70-c188-4046-b728-fbf842c7cfbb	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a6	on_demand	\N	\N	\N	cancelled	0	\N	\N	\N	510d5ca5-8599-4c2a-bfeb-4584ae02c4fb	2026-11-26 02:58:08.628935+00	2026-11-26 02:58:08.63367+00	2026-11-26 02:58:08.666361+00	Cancelled by control plane	2026-11-26 02:58:08.628935+00	2026-11-26 02:58:08.666361+00
b87f367b-6f4a-4ab4-81d1-e387d0b462a0	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a6	on_demand	\N	\N	\N	timed_out	0	\N	\N	\N	30e2fb54-f953-466c-8256-f71bafde621a	2026-11-26 02:58:08.668225+00	2026-11-26 02:58:08.66922+00	2026-11-26 02:58:08.672424+00	Timed out	2026-11-26 02:58:08.668225+00	2026-11-26 02:58:08.672424+00
3063c1ee-fafd-4f48-a936-1a8d853293cc	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a4	on_demand	\N	\N	\N	claimed	0	\N	\N	\N	3eaef467-a4d1-4744-b5e7-ccbcccf70708	2026-11-26 02:58:08.678612+00	2026-11-26 02:58:08.679529+00	\N	\N	2026-11-26 02:58:08.678612+00	2026-11-26 02:58:08.679529+00
eb87a313-7055-4bf9-b58b-2acb5e1b640e	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	on_demand	manual	follow up	\N	queued	0	\N	\N	\N	aa7667cc-2841-40aa-81f5-3ef558f5788b	2026-11-26 02:58:08.688262+00	\N	\N	\N	2026-11-26 02:58:08.688262+00	2026-11-26 02:58:08.688262+00
7926415e-f3c3-44af-af64-9ecaa348864f	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a2	timer	system	heartbeat_timer	\N	queued	0	system	heartbeat_scheduler	\N	9b015a62-e30e-411b-85c5-808d94eec6c2	2026-11-26 02:58:08.692636+00	\N	\N	\N	2026-11-26 02:58:08.692636+00	2026-11-26 02:58:08.692636+00
b5929c0b-c2e0-44c2-b62d-93a746cbbc8f	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	timer	system	heartbeat_timer	\N	coalesced	1	system	heartbeat_scheduler	\N	aa7667cc-2841-40aa-81f5-3ef558f5788b	2026-11-26 02:58:08.692636+00	\N	2026-11-26 02:58:08.692636+00	\N	2026-11-26 02:58:08.692636+00	2026-11-26 02:58:08.692636+00
\.


--
-- Data for Name: company_roles; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.company_roles (role_id, company_id, created_at) FROM stdin;
paperclip_reader	e0000000-0000-0000-0000-000000000002	2026-11-26 02:58:08.591193+00
\.


--
-- Data for Name: cost_events; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.cost_events (id, company_id, agent_id, run_id, provider, model, input_tokens, output_tokens, cost_cents, occurred_at, created_at) FROM stdin;
9669fea0-0127-4855-bf6f-e8f35a359599	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	c312a90c-1954-420f-a2b0-1d97dc1dff99	anthropic	claude	1200	300	5	2026-11-26 02:58:08.652508+00	2026-11-26 02:58:08.652508+00
\.


--
-- Data for Name: document_revisions; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.document_revisions (id, company_id, document_id, body, created_by_run_id, created_at) FROM stdin;
8a80394f-5f05-472f-a02f-e6ba823b6fed	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000d1	plan: ship	c312a90c-1954-420f-a2b0-1d97dc1dff99	2026-11-26 02:58:08.701694+00
\.


--
-- Data for Name: heartbeat_runs; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.heartbeat_runs (id, company_id, agent_id, invocation_source, trigger_detail, status, started_at, finished_at, error, error_code, wakeup_request_id, exit_code, signal, usage_json, result_json, session_id_before, session_id_after, log_store, log_ref, log_bytes, log_sha256, log_compressed, stdout_excerpt, stderr_excerpt, context_snapshot, external_run_id, retry_of_run_id, scheduled_retry_at, scheduled_retry_attempt, scheduled_retry_reason, liveness_state, liveness_reason, continuation_attempt, last_useful_action_at, next_action, runner_pid, process_started_at, agent_pid, event_seq, finalized_at, pruned_at, created_at, updated_at) FROM stdin;
aa7667cc-2841-40aa-81f5-3ef558f5788b	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	on_demand	manual	queued	\N	\N	\N	\N	eb87a313-7055-4bf9-b58b-2acb5e1b640e	\N	\N	\N	\N	sess-1	\N	\N	\N	\N	\N	f	\N	\N	{"issueId": "e0000000-0000-0000-0000-0000000000b1"}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	0	\N	\N	2026-11-26 02:58:08.688262+00	2026-11-26 02:58:08.688262+00
9b015a62-e30e-411b-85c5-808d94eec6c2	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a2	timer	system	queued	\N	\N	\N	\N	7926415e-f3c3-44af-af64-9ecaa348864f	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	f	\N	\N	{"now": "2026-11-26T04:58:08.692Z", "reason": "interval_elapsed", "source": "scheduler"}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	0	\N	\N	2026-11-26 02:58:08.692636+00	2026-11-26 02:58:08.692636+00
c312a90c-1954-420f-a2b0-1d97dc1dff99	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	assignment	system	succeeded	2026-11-26 02:58:08.63367+00	2026-11-26 02:58:08.652508+00	\N	\N	6a51568a-8413-45d2-ab78-27016a8b3cff	0	\N	{"costUsd": 0.05, "inputTokens": 1200, "outputTokens": 300, "cachedInputTokens": 100}	{"summary": "done UP-1"}	\N	sess-1	local_file	@RUN_LOG_DIRECTORY@/e0000000-0000-0000-0000-000000000001/c312a90c-1954-420f-a2b0-1d97dc1dff99.ndjson	170	\N	f	working on UP-1\n	a warning\n	{"taskId": "e0000000-0000-0000-0000-0000000000b1", "issueId": "e0000000-0000-0000-0000-0000000000b1"}	\N	\N	\N	0	\N	advanced	Run produced concrete action evidence: 1 issue comment(s), 1 document revision(s), 1 work product(s), 1 workspace operation(s), 1 activity event(s), 1 tool/action event(s)	0	2026-11-26 02:58:08.704004+00	\N	\N	\N	\N	3	2026-11-26 02:58:08.652508+00	\N	2026-11-26 02:58:08.591958+00	2026-11-26 02:58:08.706414+00
050bc5ef-bb2f-48e3-ab17-de4d1d6682c2	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a2	on_demand	manual	failed	2026-11-26 02:58:08.63367+00	2026-11-26 02:58:08.661344+00	bad request	http_4xx	598be92c-270c-4165-ab93-7a7027e595a5	1	\N	\N	\N	\N	\N	local_file	@RUN_LOG_DIRECTORY@/e0000000-0000-0000-0000-000000000001/050bc5ef-bb2f-48e3-ab17-de4d1d6682c2.ndjson	80	\N	f	calling\n	\N	{"why": "manual"}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	2	2026-11-26 02:58:08.661344+00	\N	2026-11-26 02:58:08.620514+00	2026-11-26 02:58:08.661344+00
02d22bd3-72a1-4da7-a934-b13392f5a8df	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a5	automation	callback	scheduled_retry	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	f	\N	\N	{}	\N	218b4bff-46de-4817-aee6-9bc20636bb23	2026-11-26 03:00:27.236443+00	1	process_lost	\N	\N	0	\N	\N	\N	\N	\N	0	\N	\N	2026-11-26 02:58:08.663007+00	2026-11-26 02:58:08.663007+00
218b4bff-46de-4817-aee6-9bc20636bb23	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a5	automation	callback	failed	2026-11-26 02:58:08.63367+00	2026-11-26 02:58:08.663007+00	runner lost	process_lost	1dcc3c57-416d-42ca-915b-4290907787a7	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	f	\N	\N	{}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	3	2026-11-26 02:58:08.663007+00	\N	2026-11-26 02:58:08.625454+00	2026-11-26 02:58:08.663007+00
510d5ca5-8599-4c2a-bfeb-4584ae02c4fb	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a6	on_demand	\N	cancelled	2026-11-26 02:58:08.63367+00	2026-11-26 02:58:08.666361+00	Cancelled by control plane	cancelled	5cc72a70-c188-4046-b728-fbf842c7cfbb	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	f	\N	\N	{}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	2	\N	\N	2026-11-26 02:58:08.628935+00	2026-11-26 02:58:08.666361+00
30e2fb54-f953-466c-8256-f71bafde621a	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a6	on_demand	\N	timed_out	2026-11-26 02:58:08.66922+00	2026-11-26 02:58:08.672424+00	Timed out	timeout	b87f367b-6f4a-4ab4-81d1-e387d0b462a0	\N	SIGKILL	\N	\N	\N	\N	\N	\N	\N	\N	f	\N	\N	{}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	2	2026-11-26 02:58:08.672424+00	\N	2026-11-26 02:58:08.668225+00	2026-11-26 02:58:08.672424+00
3eaef467-a4d1-4744-b5e7-ccbcccf70708	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a4	on_demand	\N	running	2026-11-26 02:58:08.679529+00	\N	\N	\N	3063c1ee-fafd-4f48-a936-1a8d853293cc	\N	\N	\N	\N	\N	\N	local_file	@RUN_LOG_DIRECTORY@/e0000000-0000-0000-0000-000000000002/3eaef467-a4d1-4744-b5e7-ccbcccf70708.ndjson	81	\N	f	half way\n	\N	{}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	2	\N	\N	2026-11-26 02:58:08.678612+00	2026-11-26 02:58:08.684167+00
\.


--
-- Data for Name: heartbeat_run_events; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.heartbeat_run_events (id, company_id, run_id, agent_id, seq, event_type, stream, level, color, message, payload, created_at) FROM stdin;
1	e0000000-0000-0000-0000-000000000001	c312a90c-1954-420f-a2b0-1d97dc1dff99	e0000000-0000-0000-0000-0000000000a1	1	lifecycle	system	info	\N	run started	\N	2026-11-26 02:58:08.63367+00
2	e0000000-0000-0000-0000-000000000001	050bc5ef-bb2f-48e3-ab17-de4d1d6682c2	e0000000-0000-0000-0000-0000000000a2	1	lifecycle	system	info	\N	run started	\N	2026-11-26 02:58:08.63367+00
3	e0000000-0000-0000-0000-000000000002	218b4bff-46de-4817-aee6-9bc20636bb23	e0000000-0000-0000-0000-0000000000a5	1	lifecycle	system	info	\N	run started	\N	2026-11-26 02:58:08.63367+00
4	e0000000-0000-0000-0000-000000000002	510d5ca5-8599-4c2a-bfeb-4584ae02c4fb	e0000000-0000-0000-0000-0000000000a6	1	lifecycle	system	info	\N	run started	\N	2026-11-26 02:58:08.63367+00
5	e0000000-0000-0000-0000-000000000001	c312a90c-1954-420f-a2b0-1d97dc1dff99	e0000000-0000-0000-0000-0000000000a1	2	tool.call	stdout	info	\N	edited a file	{"path": "README.md"}	2026-11-26 02:58:08.644063+00
6	e0000000-0000-0000-0000-000000000001	c312a90c-1954-420f-a2b0-1d97dc1dff99	e0000000-0000-0000-0000-0000000000a1	3	lifecycle	system	info	\N	run succeeded	{"status": "succeeded", "exitCode": 0}	2026-11-26 02:58:08.652508+00
7	e0000000-0000-0000-0000-000000000001	050bc5ef-bb2f-48e3-ab17-de4d1d6682c2	e0000000-0000-0000-0000-0000000000a2	2	lifecycle	system	error	\N	run failed	{"status": "failed", "exitCode": 1}	2026-11-26 02:58:08.661344+00
8	e0000000-0000-0000-0000-000000000002	218b4bff-46de-4817-aee6-9bc20636bb23	e0000000-0000-0000-0000-0000000000a5	2	lifecycle	system	error	\N	run failed	{"status": "failed", "exitCode": null}	2026-11-26 02:58:08.663007+00
9	e0000000-0000-0000-0000-000000000002	218b4bff-46de-4817-aee6-9bc20636bb23	e0000000-0000-0000-0000-0000000000a5	3	lifecycle	system	warn	\N	retry 1 of 4 scheduled in 139 s (process_lost)	\N	2026-11-26 02:58:08.663007+00
10	e0000000-0000-0000-0000-000000000002	510d5ca5-8599-4c2a-bfeb-4584ae02c4fb	e0000000-0000-0000-0000-0000000000a6	2	lifecycle	system	warn	\N	run cancelled	\N	2026-11-26 02:58:08.666361+00
11	e0000000-0000-0000-0000-000000000002	30e2fb54-f953-466c-8256-f71bafde621a	e0000000-0000-0000-0000-0000000000a6	1	lifecycle	system	info	\N	run started	\N	2026-11-26 02:58:08.66922+00
12	e0000000-0000-0000-0000-000000000002	30e2fb54-f953-466c-8256-f71bafde621a	e0000000-0000-0000-0000-0000000000a6	2	lifecycle	system	error	\N	run timed_out	{"status": "timed_out", "exitCode": null}	2026-11-26 02:58:08.672424+00
13	e0000000-0000-0000-0000-000000000002	3eaef467-a4d1-4744-b5e7-ccbcccf70708	e0000000-0000-0000-0000-0000000000a4	1	lifecycle	system	info	\N	run started	\N	2026-11-26 02:58:08.679529+00
14	e0000000-0000-0000-0000-000000000002	3eaef467-a4d1-4744-b5e7-ccbcccf70708	e0000000-0000-0000-0000-0000000000a4	2	tool.call	system	info	\N	still going	\N	2026-11-26 02:58:08.683471+00
\.


--
-- Data for Name: issues; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.issues (id, company_id, identifier, title, description, status, priority, assignee_agent_id, hidden_at, created_at, updated_at) FROM stdin;
e0000000-0000-0000-0000-0000000000b1	e0000000-0000-0000-0000-000000000001	UP-1	ship it	the upgrade	in_progress	high	e0000000-0000-0000-0000-0000000000a1	\N	2026-11-26 02:58:08.57589+00	2026-11-26 02:58:08.57589+00
e0000000-0000-0000-0000-0000000000b2	e0000000-0000-0000-0000-000000000002	UP-2	hidden	\N	todo	\N	\N	2026-11-26 02:58:08.582378+00	2026-11-26 02:58:08.57589+00	2026-11-26 02:58:08.57589+00
\.


--
-- Data for Name: issue_comments; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.issue_comments (id, company_id, issue_id, author_agent_id, body, created_by_run_id, created_at) FROM stdin;
cb778d79-7f12-449b-8f74-6329afe93107	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000b1	e0000000-0000-0000-0000-0000000000a1	shipped	c312a90c-1954-420f-a2b0-1d97dc1dff99	2026-11-26 02:58:08.699497+00
\.


--
-- Data for Name: issue_documents; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.issue_documents (id, company_id, issue_id, document_id, key) FROM stdin;
e0000000-0000-0000-0000-0000000000c1	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000b1	e0000000-0000-0000-0000-0000000000d1	plan
\.


--
-- Data for Name: issue_work_products; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.issue_work_products (id, company_id, issue_id, kind, title, created_by_run_id, created_at) FROM stdin;
f8a6524e-5532-401b-a54d-cfddc410a686	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000b1	pull_request	PR 1	c312a90c-1954-420f-a2b0-1d97dc1dff99	2026-11-26 02:58:08.702688+00
\.


--
-- Data for Name: workspace_operations; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.workspace_operations (id, company_id, heartbeat_run_id, kind, started_at) FROM stdin;
7ad6b7a5-328f-4542-aa97-f1466c578235	e0000000-0000-0000-0000-000000000001	c312a90c-1954-420f-a2b0-1d97dc1dff99	checkout	2026-11-26 02:58:08.704004+00
\.


--
-- Name: heartbeat_run_events_id_seq; Type: SEQUENCE SET; Schema: paperclip; Owner: postgres
--

SELECT pg_catalog.setval('paperclip.heartbeat_run_events_id_seq', 14, true);


--
-- PostgreSQL database dump complete
--


