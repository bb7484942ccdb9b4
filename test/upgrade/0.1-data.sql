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
1f3e9f2c-27e3-4230-b5dd-f96c971cf53f	e0000000-0000-0000-0000-000000000001	agent	e0000000-0000-0000-0000-0000000000a1	issue.comment_added	issue	e0000000-0000-0000-0000-0000000000b1	e0000000-0000-0000-0000-0000000000a1	7311c0b0-c357-4efe-8441-08ca4f87f13b	{"comment": "done"}	2026-11-26 03:17:33.312493+00
\.


--
-- Data for Name: companies; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.companies (id, name, created_at, updated_at) FROM stdin;
e0000000-0000-0000-0000-000000000001	upgrade one	2026-11-26 03:17:33.129143+00	2026-11-26 03:17:33.129143+00
e0000000-0000-0000-0000-000000000002	upgrade two	2026-11-26 03:17:33.129143+00	2026-11-26 03:17:33.129143+00
\.


--
-- Data for Name: agents; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.agents (id, company_id, name, role, status, adapter_type, adapter_config, runtime_config, budget_monthly_cents, spent_monthly_cents, last_heartbeat_at, created_at, updated_at) FROM stdin;
e0000000-0000-0000-0000-0000000000a3	e0000000-0000-0000-0000-000000000001	quiet	\N	idle	process	{"command": "/bin/true"}	{"heartbeat": {"enabled": false, "wakeOnOnDemand": false}}	0	0	\N	2026-11-26 03:17:33.132529+00	2026-11-26 03:17:33.132529+00
e0000000-0000-0000-0000-0000000000a1	e0000000-0000-0000-0000-000000000001	worker	engineer	idle	process	{"args": ["-x"], "command": "/bin/true", "graceSec": 5, "timeoutSec": 60}	{"heartbeat": {"enabled": true, "intervalSec": 3600}}	10000	5	2026-11-26 03:17:33.229539+00	2026-11-26 03:17:33.132529+00	2026-11-26 03:17:33.229539+00
e0000000-0000-0000-0000-0000000000a2	e0000000-0000-0000-0000-000000000001	caller	ceo	error	http	{"url": "http://127.0.0.1:9/hook", "method": "POST", "headers": {"X-Team": "one"}}	{"heartbeat": {"enabled": true, "intervalSec": 60}}	0	0	2026-11-26 03:17:33.24268+00	2026-11-26 03:17:33.132529+00	2026-11-26 03:17:33.24268+00
e0000000-0000-0000-0000-0000000000a5	e0000000-0000-0000-0000-000000000002	flaky	\N	error	process	{"command": "/bin/true"}	{}	0	0	2026-11-26 03:17:33.244956+00	2026-11-26 03:17:33.132529+00	2026-11-26 03:17:33.244956+00
e0000000-0000-0000-0000-0000000000a6	e0000000-0000-0000-0000-000000000002	slow	\N	error	process	{"command": "/bin/true"}	{}	0	0	2026-11-26 03:17:33.276385+00	2026-11-26 03:17:33.132529+00	2026-11-26 03:17:33.276385+00
e0000000-0000-0000-0000-0000000000a4	e0000000-0000-0000-0000-000000000002	other	\N	running	process	{"command": "/bin/true"}	{}	0	0	\N	2026-11-26 03:17:33.132529+00	2026-11-26 03:17:33.284171+00
\.


--
-- Data for Name: agent_runtime_state; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.agent_runtime_state (agent_id, company_id, adapter_type, session_id, state_json, last_run_id, last_run_status, total_input_tokens, total_output_tokens, total_cached_input_tokens, total_cost_cents, last_error, created_at, updated_at) FROM stdin;
e0000000-0000-0000-0000-0000000000a1	e0000000-0000-0000-0000-000000000001	process	sess-1	{}	7311c0b0-c357-4efe-8441-08ca4f87f13b	succeeded	1200	300	100	5.000000	\N	2026-11-26 03:17:33.229539+00	2026-11-26 03:17:33.229539+00
e0000000-0000-0000-0000-0000000000a2	e0000000-0000-0000-0000-000000000001	http	\N	{}	1db83675-ae4f-4e6c-a04a-ba29bdaf96c5	failed	0	0	0	0.000000	bad request	2026-11-26 03:17:33.24268+00	2026-11-26 03:17:33.24268+00
e0000000-0000-0000-0000-0000000000a5	e0000000-0000-0000-0000-000000000002	process	\N	{}	e4a4a514-ba52-4cb8-9601-e1e19308ecd7	failed	0	0	0	0.000000	runner lost	2026-11-26 03:17:33.244956+00	2026-11-26 03:17:33.244956+00
e0000000-0000-0000-0000-0000000000a6	e0000000-0000-0000-0000-000000000002	process	\N	{}	0148602c-d470-4baa-b127-a55f56376705	timed_out	0	0	0	0.000000	Timed out	2026-11-26 03:17:33.276385+00	2026-11-26 03:17:33.276385+00
e0000000-0000-0000-0000-0000000000a4	e0000000-0000-0000-0000-000000000002	process	\N	{}	\N	\N	0	0	0	0.000000	\N	2026-11-26 03:17:33.307994+00	2026-11-26 03:17:33.307994+00
\.


--
-- Data for Name: agent_wakeup_requests; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.agent_wakeup_requests (id, company_id, agent_id, source, trigger_detail, reason, payload, status, coalesced_count, requested_by_actor_type, requested_by_actor_id, idempotency_key, run_id, requested_at, claimed_at, finished_at, error, created_at, updated_at) FROM stdin;
3357d7fd-e95e-436f-b3e4-97e7437b1c1d	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	on_demand	ping	again	\N	coalesced	1	\N	\N	\N	7311c0b0-c357-4efe-8441-08ca4f87f13b	2026-11-26 03:17:33.16867+00	\N	2026-11-26 03:17:33.16867+00	\N	2026-11-26 03:17:33.16867+00	2026-11-26 03:17:33.16867+00
bc149e29-a4b0-45d9-95b7-0a8cb78542c1	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a3	on_demand	ping	heartbeat.wakeOnOnDemand.disabled	\N	skipped	0	\N	\N	\N	\N	2026-11-26 03:17:33.173299+00	\N	2026-11-26 03:17:33.173299+00	\N	2026-11-26 03:17:33.173299+00	2026-11-26 03:17:33.173299+00
0a0841ac-2b41-4713-a358-7a69e05540c8	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	assignment	system	issue assigned	{"issue": "UP-1"}	completed	0	user	u-1	assign-UP-1	7311c0b0-c357-4efe-8441-08ca4f87f13b	2026-11-26 03:17:33.150205+00	2026-11-26 03:17:33.192559+00	2026-11-26 03:17:33.229539+00	\N	2026-11-26 03:17:33.150205+00	2026-11-26 03:17:33.229539+00
a7120dba-4610-4527-be58-3c74f74fa2eb	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a2	on_demand	manual	\N	\N	failed	0	user	u-2	\N	1db83675-ae4f-4e6c-a04a-ba29bdaf96c5	2026-11-26 03:17:33.17716+00	2026-11-26 03:17:33.192559+00	2026-11-26 03:17:33.24268+00	bad request	2026-11-26 03:17:33.17716+00	2026-11-26 03:17:33.24268+00
6cf5a0f8-5d32-4800-a7ae-d8e91f3425d0	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a5	automation	callback	\N	\N	failed	0	\N	\N	\N	e4a4a514-ba52-4cb8-9601-e1e19308ecd7	2026-11-26 03:17:33.181641+00	2026-11-26 03:17:33.192559+00	2026-11-26 03:17:33.244956+00	runner lost	2026-11-26 03:17:33.181641+00	2026-11-26 03:17:33.244956+00
fc30c232-580a-4a49-90f0-ea013fae9dda	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a6	on_demand	\N	\N	\N	cancelled	0	\N	\N	\N	bd81dbdc-3db7-40af-af48-8ab92233e4c3	2026-11-26 03:17:33.187974+00	2026-11-26 03:17:33.192559+00	2026-11-26 03:17:33.2551+00	Cancelled by control plane	2026-11-26 03:17:33.187974+00	2026-11-26 03:17:33.2551+00
bc6d46a9-46e8-4166-bd69-91d6b8b593e6	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a6	on_demand	\N	\N	\N	timed_out	0	\N	\N	\N	0148602c-d470-4baa-b127-a55f56376705	2026-11-26 03:17:33.258819+00	2026-11-26 03:17:33.262975+00	2026-11-26 03:17:33.276385+00	Timed out	2026-11-26 03:17:33.258819+00	2026-11-26 03:17:33.276385+00
b402be18-9d60-48db-b87d-7d148307764f	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a4	on_demand	\N	\N	\N	claimed	0	\N	\N	\N	0a9501fa-83d6-4582-823c-efc189036aa1	2026-11-26 03:17:33.280821+00	2026-11-26 03:17:33.284171+00	\N	\N	2026-11-26 03:17:33.280821+00	2026-11-26 03:17:33.284171+00
ca287358-664b-401e-9b5b-eddbf6141b85	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	on_demand	manual	follow up	\N	queued	0	\N	\N	\N	d8d32126-7e6d-4ca4-8e32-6288fd416d5b	2026-11-26 03:17:33.300011+00	\N	\N	\N	2026-11-26 03:17:33.300011+00	2026-11-26 03:17:33.300011+00
312a10f0-3396-4de3-bb34-12f204e91d8a	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a2	timer	system	heartbeat_timer	\N	queued	0	system	heartbeat_scheduler	\N	829b0264-fed4-4134-83b0-6a31265ffba3	2026-11-26 03:17:33.302963+00	\N	\N	\N	2026-11-26 03:17:33.302963+00	2026-11-26 03:17:33.302963+00
6560bbc5-abcb-46ec-b8e4-6016f203104c	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	timer	system	heartbeat_timer	\N	coalesced	1	system	heartbeat_scheduler	\N	d8d32126-7e6d-4ca4-8e32-6288fd416d5b	2026-11-26 03:17:33.302963+00	\N	2026-11-26 03:17:33.302963+00	\N	2026-11-26 03:17:33.302963+00	2026-11-26 03:17:33.302963+00
\.


--
-- Data for Name: company_roles; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.company_roles (role_id, company_id, created_at) FROM stdin;
paperclip_upgrade_bound	e0000000-0000-0000-0000-000000000002	2026-11-26 03:17:33.149573+00
\.


--
-- Data for Name: cost_events; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.cost_events (id, company_id, agent_id, run_id, provider, model, input_tokens, output_tokens, cost_cents, occurred_at, created_at) FROM stdin;
a04c4606-b1ec-483e-8529-bb7ccc9e9e85	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	7311c0b0-c357-4efe-8441-08ca4f87f13b	anthropic	claude	1200	300	5	2026-11-26 03:17:33.229539+00	2026-11-26 03:17:33.229539+00
\.


--
-- Data for Name: document_revisions; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.document_revisions (id, company_id, document_id, body, created_by_run_id, created_at) FROM stdin;
edd7260f-5766-4069-83cd-5b119039234e	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000d1	plan: ship	7311c0b0-c357-4efe-8441-08ca4f87f13b	2026-11-26 03:17:33.314521+00
\.


--
-- Data for Name: heartbeat_runs; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.heartbeat_runs (id, company_id, agent_id, invocation_source, trigger_detail, status, started_at, finished_at, error, error_code, wakeup_request_id, exit_code, signal, usage_json, result_json, session_id_before, session_id_after, log_store, log_ref, log_bytes, log_sha256, log_compressed, stdout_excerpt, stderr_excerpt, context_snapshot, external_run_id, retry_of_run_id, scheduled_retry_at, scheduled_retry_attempt, scheduled_retry_reason, liveness_state, liveness_reason, continuation_attempt, last_useful_action_at, next_action, runner_pid, process_started_at, agent_pid, event_seq, finalized_at, pruned_at, created_at, updated_at) FROM stdin;
d8d32126-7e6d-4ca4-8e32-6288fd416d5b	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	on_demand	manual	queued	\N	\N	\N	\N	ca287358-664b-401e-9b5b-eddbf6141b85	\N	\N	\N	\N	sess-1	\N	\N	\N	\N	\N	f	\N	\N	{"issueId": "e0000000-0000-0000-0000-0000000000b1"}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	0	\N	\N	2026-11-26 03:17:33.300011+00	2026-11-26 03:17:33.300011+00
829b0264-fed4-4134-83b0-6a31265ffba3	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a2	timer	system	queued	\N	\N	\N	\N	312a10f0-3396-4de3-bb34-12f204e91d8a	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	f	\N	\N	{"now": "2026-11-26T05:17:33.302Z", "reason": "interval_elapsed", "source": "scheduler"}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	0	\N	\N	2026-11-26 03:17:33.302963+00	2026-11-26 03:17:33.302963+00
7311c0b0-c357-4efe-8441-08ca4f87f13b	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a1	assignment	system	succeeded	2026-11-26 03:17:33.192559+00	2026-11-26 03:17:33.229539+00	\N	\N	0a0841ac-2b41-4713-a358-7a69e05540c8	0	\N	{"costUsd": 0.05, "inputTokens": 1200, "outputTokens": 300, "cachedInputTokens": 100}	{"summary": "done UP-1"}	\N	sess-1	local_file	@RUN_LOG_DIRECTORY@/e0000000-0000-0000-0000-000000000001/7311c0b0-c357-4efe-8441-08ca4f87f13b.ndjson	170	\N	f	working on UP-1\n	a warning\n	{"taskId": "e0000000-0000-0000-0000-0000000000b1", "issueId": "e0000000-0000-0000-0000-0000000000b1"}	\N	\N	\N	0	\N	advanced	Run produced concrete action evidence: 1 issue comment(s), 1 document revision(s), 1 work product(s), 1 workspace operation(s), 1 activity event(s), 1 tool/action event(s)	0	2026-11-26 03:17:33.317808+00	\N	\N	\N	\N	3	2026-11-26 03:17:33.229539+00	\N	2026-11-26 03:17:33.150205+00	2026-11-26 03:17:33.324508+00
1db83675-ae4f-4e6c-a04a-ba29bdaf96c5	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000a2	on_demand	manual	failed	2026-11-26 03:17:33.192559+00	2026-11-26 03:17:33.24268+00	bad request	http_4xx	a7120dba-4610-4527-be58-3c74f74fa2eb	1	\N	\N	\N	\N	\N	local_file	@RUN_LOG_DIRECTORY@/e0000000-0000-0000-0000-000000000001/1db83675-ae4f-4e6c-a04a-ba29bdaf96c5.ndjson	80	\N	f	calling\n	\N	{"why": "manual"}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	2	2026-11-26 03:17:33.24268+00	\N	2026-11-26 03:17:33.17716+00	2026-11-26 03:17:33.24268+00
04819225-1d3e-47b5-b914-8fa4450b69f5	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a5	automation	callback	scheduled_retry	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	f	\N	\N	{}	\N	e4a4a514-ba52-4cb8-9601-e1e19308ecd7	2026-11-26 03:19:39.491068+00	1	process_lost	\N	\N	0	\N	\N	\N	\N	\N	0	\N	\N	2026-11-26 03:17:33.244956+00	2026-11-26 03:17:33.244956+00
e4a4a514-ba52-4cb8-9601-e1e19308ecd7	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a5	automation	callback	failed	2026-11-26 03:17:33.192559+00	2026-11-26 03:17:33.244956+00	runner lost	process_lost	6cf5a0f8-5d32-4800-a7ae-d8e91f3425d0	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	f	\N	\N	{}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	3	2026-11-26 03:17:33.244956+00	\N	2026-11-26 03:17:33.181641+00	2026-11-26 03:17:33.244956+00
bd81dbdc-3db7-40af-af48-8ab92233e4c3	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a6	on_demand	\N	cancelled	2026-11-26 03:17:33.192559+00	2026-11-26 03:17:33.2551+00	Cancelled by control plane	cancelled	fc30c232-580a-4a49-90f0-ea013fae9dda	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	f	\N	\N	{}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	2	\N	\N	2026-11-26 03:17:33.187974+00	2026-11-26 03:17:33.2551+00
0148602c-d470-4baa-b127-a55f56376705	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a6	on_demand	\N	timed_out	2026-11-26 03:17:33.262975+00	2026-11-26 03:17:33.276385+00	Timed out	timeout	bc6d46a9-46e8-4166-bd69-91d6b8b593e6	\N	SIGKILL	\N	\N	\N	\N	\N	\N	\N	\N	f	\N	\N	{}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	2	2026-11-26 03:17:33.276385+00	\N	2026-11-26 03:17:33.258819+00	2026-11-26 03:17:33.276385+00
0a9501fa-83d6-4582-823c-efc189036aa1	e0000000-0000-0000-0000-000000000002	e0000000-0000-0000-0000-0000000000a4	on_demand	\N	running	2026-11-26 03:17:33.284171+00	\N	\N	\N	b402be18-9d60-48db-b87d-7d148307764f	\N	\N	\N	\N	\N	\N	local_file	@RUN_LOG_DIRECTORY@/e0000000-0000-0000-0000-000000000002/0a9501fa-83d6-4582-823c-efc189036aa1.ndjson	81	\N	f	half way\n	\N	{}	\N	\N	\N	0	\N	\N	\N	0	\N	\N	\N	\N	\N	2	\N	\N	2026-11-26 03:17:33.280821+00	2026-11-26 03:17:33.293424+00
\.


--
-- Data for Name: heartbeat_run_events; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.heartbeat_run_events (id, company_id, run_id, agent_id, seq, event_type, stream, level, color, message, payload, created_at) FROM stdin;
1	e0000000-0000-0000-0000-000000000001	7311c0b0-c357-4efe-8441-08ca4f87f13b	e0000000-0000-0000-0000-0000000000a1	1	lifecycle	system	info	\N	run started	\N	2026-11-26 03:17:33.192559+00
2	e0000000-0000-0000-0000-000000000001	1db83675-ae4f-4e6c-a04a-ba29bdaf96c5	e0000000-0000-0000-0000-0000000000a2	1	lifecycle	system	info	\N	run started	\N	2026-11-26 03:17:33.192559+00
3	e0000000-0000-0000-0000-000000000002	e4a4a514-ba52-4cb8-9601-e1e19308ecd7	e0000000-0000-0000-0000-0000000000a5	1	lifecycle	system	info	\N	run started	\N	2026-11-26 03:17:33.192559+00
4	e0000000-0000-0000-0000-000000000002	bd81dbdc-3db7-40af-af48-8ab92233e4c3	e0000000-0000-0000-0000-0000000000a6	1	lifecycle	system	info	\N	run started	\N	2026-11-26 03:17:33.192559+00
5	e0000000-0000-0000-0000-000000000001	7311c0b0-c357-4efe-8441-08ca4f87f13b	e0000000-0000-0000-0000-0000000000a1	2	tool.call	stdout	info	\N	edited a file	{"path": "README.md"}	2026-11-26 03:17:33.20966+00
6	e0000000-0000-0000-0000-000000000001	7311c0b0-c357-4efe-8441-08ca4f87f13b	e0000000-0000-0000-0000-0000000000a1	3	lifecycle	system	info	\N	run succeeded	{"status": "succeeded", "exitCode": 0}	2026-11-26 03:17:33.229539+00
7	e0000000-0000-0000-0000-000000000001	1db83675-ae4f-4e6c-a04a-ba29bdaf96c5	e0000000-0000-0000-0000-0000000000a2	2	lifecycle	system	error	\N	run failed	{"status": "failed", "exitCode": 1}	2026-11-26 03:17:33.24268+00
8	e0000000-0000-0000-0000-000000000002	e4a4a514-ba52-4cb8-9601-e1e19308ecd7	e0000000-0000-0000-0000-0000000000a5	2	lifecycle	system	error	\N	run failed	{"status": "failed", "exitCode": null}	2026-11-26 03:17:33.244956+00
9	e0000000-0000-0000-0000-000000000002	e4a4a514-ba52-4cb8-9601-e1e19308ecd7	e0000000-0000-0000-0000-0000000000a5	3	lifecycle	system	warn	\N	retry 1 of 4 scheduled in 126 s (process_lost)	\N	2026-11-26 03:17:33.244956+00
10	e0000000-0000-0000-0000-000000000002	bd81dbdc-3db7-40af-af48-8ab92233e4c3	e0000000-0000-0000-0000-0000000000a6	2	lifecycle	system	warn	\N	run cancelled	\N	2026-11-26 03:17:33.2551+00
11	e0000000-0000-0000-0000-000000000002	0148602c-d470-4baa-b127-a55f56376705	e0000000-0000-0000-0000-0000000000a6	1	lifecycle	system	info	\N	run started	\N	2026-11-26 03:17:33.262975+00
12	e0000000-0000-0000-0000-000000000002	0148602c-d470-4baa-b127-a55f56376705	e0000000-0000-0000-0000-0000000000a6	2	lifecycle	system	error	\N	run timed_out	{"status": "timed_out", "exitCode": null}	2026-11-26 03:17:33.276385+00
13	e0000000-0000-0000-0000-000000000002	0a9501fa-83d6-4582-823c-efc189036aa1	e0000000-0000-0000-0000-0000000000a4	1	lifecycle	system	info	\N	run started	\N	2026-11-26 03:17:33.284171+00
14	e0000000-0000-0000-0000-000000000002	0a9501fa-83d6-4582-823c-efc189036aa1	e0000000-0000-0000-0000-0000000000a4	2	tool.call	system	info	\N	still going	\N	2026-11-26 03:17:33.292509+00
\.


--
-- Data for Name: issues; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.issues (id, company_id, identifier, title, description, status, priority, assignee_agent_id, hidden_at, created_at, updated_at) FROM stdin;
e0000000-0000-0000-0000-0000000000b1	e0000000-0000-0000-0000-000000000001	UP-1	ship it	the upgrade	in_progress	high	e0000000-0000-0000-0000-0000000000a1	\N	2026-11-26 03:17:33.139438+00	2026-11-26 03:17:33.139438+00
e0000000-0000-0000-0000-0000000000b2	e0000000-0000-0000-0000-000000000002	UP-2	hidden	\N	todo	\N	\N	2026-11-26 03:17:33.140166+00	2026-11-26 03:17:33.139438+00	2026-11-26 03:17:33.139438+00
\.


--
-- Data for Name: issue_comments; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.issue_comments (id, company_id, issue_id, author_agent_id, body, created_by_run_id, created_at) FROM stdin;
e8b6e2d3-e2b8-47f3-87eb-2090a6c4d01a	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000b1	e0000000-0000-0000-0000-0000000000a1	shipped	7311c0b0-c357-4efe-8441-08ca4f87f13b	2026-11-26 03:17:33.313677+00
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
7205010c-9d52-4dd9-a571-3600287c8056	e0000000-0000-0000-0000-000000000001	e0000000-0000-0000-0000-0000000000b1	pull_request	PR 1	7311c0b0-c357-4efe-8441-08ca4f87f13b	2026-11-26 03:17:33.315684+00
\.


--
-- Data for Name: workspace_operations; Type: TABLE DATA; Schema: paperclip; Owner: postgres
--

COPY paperclip.workspace_operations (id, company_id, heartbeat_run_id, kind, started_at) FROM stdin;
3a3688c3-a87b-4730-9ce9-c9d843eff9ea	e0000000-0000-0000-0000-000000000001	7311c0b0-c357-4efe-8441-08ca4f87f13b	checkout	2026-11-26 03:17:33.317808+00
\.


--
-- Name: heartbeat_run_events_id_seq; Type: SEQUENCE SET; Schema: paperclip; Owner: postgres
--

SELECT pg_catalog.setval('paperclip.heartbeat_run_events_id_seq', 14, true);


--
-- PostgreSQL database dump complete
--


