/*-------------------------------------------------------------------------
 * wakeup.c
 *	  Owns wakeups: paperclip.enqueue_wakeup and paperclip.invoke, and the
 *	  heartbeat policy read from agents.runtime_config -> 'heartbeat'.
 *
 *	  The hot path is one statement: read the agent, decide the policy skip,
 *	  find its pending run, and write the queued request and run. Concurrent
 *	  enqueues for one agent are arbitrated by the one-active-run index (the
 *	  loser coalesces); only requests with an idempotency key lock the agent
 *	  row, to serialise the key check. Skips, coalescing into the pending run
 *	  (promoting a scheduled retry) and lost races take extra statements.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "json_util.h"
#include "paperclip.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_enqueue_wakeup);
PG_FUNCTION_INFO_V1(paperclip_invoke);

/* Serialises requests that carry an idempotency key. */
static PcPlan plan_lock_agent = PC_PLAN(
	"SELECT 1 FROM paperclip.agents WHERE id = $1 FOR NO KEY UPDATE", UUIDOID);

static PcPlan plan_idempotent_request = PC_PLAN(
	"SELECT w.status, w.run_id FROM paperclip.agent_wakeup_requests w "
	"WHERE w.agent_id = $1 AND w.idempotency_key = $2",
	UUIDOID, TEXTOID);

static PcPlan plan_get_run = PC_PLAN(
	"SELECT * FROM paperclip.heartbeat_runs WHERE id = $1", UUIDOID);

static PcPlan plan_active_run = PC_PLAN(
	"SELECT id FROM paperclip.heartbeat_runs "
	"WHERE company_id = $1 AND agent_id = $2 AND status IN ('queued', 'running')",
	UUIDOID, UUIDOID);

static PcPlan plan_promote_retry = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET status = 'queued', updated_at = now() "
	"WHERE id = $1 AND status = 'scheduled_retry' RETURNING *",
	UUIDOID);

/* $1..$9 as in request_params(); $10 status, $11 run_id */
static PcPlan plan_insert_finished_request = PC_PLAN(
	"INSERT INTO paperclip.agent_wakeup_requests "
	"(company_id, agent_id, source, trigger_detail, reason, payload, "
	" requested_by_actor_type, requested_by_actor_id, idempotency_key, "
	" status, coalesced_count, run_id, finished_at) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
	" CASE WHEN $10 = 'coalesced' THEN 1 ELSE 0 END, $11, now())",
	UUIDOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, UUIDOID);

/*
 * The hot path in one statement: read the agent, decide the policy skip,
 * find its pending run, and, when none of these stops it, write the queued
 * request and the queued run. The one-active-run index arbitrates a race:
 * the loser writes its request but no run (n.id is null) and coalesces.
 * The request names its run only when the run was written (both keys
 * between them are checked at the end of the statement).
 * $1..$9 as in request_params(); $10 context, $11 trigger_detail is ping.
 */
#define POLICY_FALSE(key) "(a.runtime_config -> 'heartbeat' -> '" key "') = 'false'::jsonb"
static PcPlan plan_enqueue = PC_PLAN(
	"WITH a AS (SELECT a.company_id, a.status, s.session_id, "
	"  p.id AS pending_id, p.status AS pending_status, "
	"  CASE WHEN $3 = 'timer' AND " POLICY_FALSE("enabled") " THEN 'heartbeat.disabled' "
	"       WHEN $3 = 'assignment' AND " POLICY_FALSE("wakeOnAssignment") " THEN 'heartbeat.wakeOnAssignment.disabled' "
	"       WHEN $3 = 'automation' AND " POLICY_FALSE("wakeOnAutomation") " THEN 'heartbeat.wakeOnAutomation.disabled' "
	"       WHEN $3 = 'on_demand' AND $11 AND " POLICY_FALSE("wakeOnOnDemand") " THEN 'heartbeat.wakeOnOnDemand.disabled' "
	"  END AS skip "
	"  FROM paperclip.agents a "
	"  LEFT JOIN paperclip.agent_runtime_state s ON s.agent_id = a.id "
	"  LEFT JOIN LATERAL (SELECT r.id, r.status FROM paperclip.heartbeat_runs r "
	"    WHERE r.company_id = a.company_id AND r.agent_id = a.id "
	"    AND r.status IN ('queued', 'running', 'scheduled_retry') "
	"    ORDER BY r.status = 'scheduled_retry', r.created_at DESC LIMIT 1) p ON true "
	"  WHERE a.id = $2), "
	"go AS (SELECT a.*, gen_random_uuid() AS run_id, gen_random_uuid() AS request_id FROM a "
	"  WHERE a.status NOT IN ('paused', 'terminated') AND a.skip IS NULL AND a.pending_id IS NULL), "
	"n AS (INSERT INTO paperclip.heartbeat_runs "
	"  (id, company_id, agent_id, invocation_source, trigger_detail, "
	"   wakeup_request_id, context_snapshot, session_id_before) "
	"  SELECT go.run_id, go.company_id, $2, $3, $4, go.request_id, $10, go.session_id FROM go "
	"  ON CONFLICT (company_id, agent_id) WHERE status IN ('queued', 'running') DO NOTHING "
	"  RETURNING *), "
	"w AS (INSERT INTO paperclip.agent_wakeup_requests "
	"  (id, company_id, agent_id, source, trigger_detail, reason, payload, "
	"   requested_by_actor_type, requested_by_actor_id, idempotency_key, run_id) "
	"  SELECT go.request_id, go.company_id, $2, $3, $4, $5, $6, $7, $8, $9, (SELECT n.id FROM n) FROM go "
	"  RETURNING id, run_id) "
	"SELECT n.*, a.company_id AS agent_company_id, a.status AS agent_status, a.skip, "
	"  a.pending_id, a.pending_status, w.id AS queued_request_id "
	"FROM a LEFT JOIN w ON true LEFT JOIN n ON true",
	UUIDOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID,
	TEXTOID, JSONBOID, BOOLOID);

static PcPlan plan_coalesce_request = PC_PLAN(
	"UPDATE paperclip.agent_wakeup_requests SET status = 'coalesced', coalesced_count = 1, "
	" run_id = $2, finished_at = now(), updated_at = now() WHERE id = $1",
	UUIDOID, UUIDOID);

/* Fill the request columns $1..$9 shared by every request insert. */
static void
request_params(const WakeupRequest *req, Datum company_id, Datum *v, char *n)
{
	v[0] = company_id;
	n[0] = ' ';
	v[1] = req->agent_id;
	n[1] = ' ';
	v[2] = CStringGetTextDatum(req->source);
	n[2] = ' ';
	v[3] = req->trigger_detail ? CStringGetTextDatum(req->trigger_detail) : (Datum) 0;
	n[3] = pc_null(req->trigger_detail == NULL);
	v[4] = req->reason;
	n[4] = pc_null(req->reason_null);
	v[5] = req->payload;
	n[5] = pc_null(req->payload_null);
	v[6] = req->actor_type ? CStringGetTextDatum(req->actor_type) : (Datum) 0;
	n[6] = pc_null(req->actor_type == NULL);
	v[7] = req->actor_id;
	n[7] = pc_null(req->actor_id_null);
	v[8] = req->idempotency_key;
	n[8] = pc_null(req->idempotency_key_null);
}

static void
insert_finished_request(const WakeupRequest *req, Datum company_id,
						const char *status, const char *reason,
						Datum run_id, bool run_id_null)
{
	Datum		v[11];
	char		n[11];

	request_params(req, company_id, v, n);
	if (reason != NULL)
	{
		v[4] = CStringGetTextDatum(reason);
		n[4] = ' ';
	}
	v[9] = CStringGetTextDatum(status);
	n[9] = ' ';
	v[10] = run_id;
	n[10] = pc_null(run_id_null);
	pc_exec(&plan_insert_finished_request, v, n, 0);
}

/*
 * A key this agent already used: leave the earlier request's run (or no
 * row, when it was skipped) in SPI_tuptable. Returns true on a hit.
 */
static bool
find_idempotent(const WakeupRequest *req)
{
	Datum		v[2] = {req->agent_id, req->idempotency_key};
	bool		isnull;
	Datum		run_id;
	SPITupleTable *request;

	if (!pc_exec_row(&plan_idempotent_request, v, NULL))
	{
		pc_free_tuptable(SPI_tuptable);
		return false;
	}
	request = SPI_tuptable;
	run_id = pc_getattr(0, "run_id", &isnull);
	if (isnull)
		SPI_processed = 0;
	else
		pc_exec_row(&plan_get_run, &run_id, NULL);
	pc_free_tuptable(request);
	return true;
}

/* Coalesce into an existing run; leaves it in row 0 of SPI_tuptable. */
static void
coalesce_into(const WakeupRequest *req, Datum company_id, Datum run_id, bool is_retry)
{
	insert_finished_request(req, company_id, "coalesced", NULL, run_id, false);
	if (is_retry)
	{
		if (pc_exec_row(&plan_promote_retry, &run_id, NULL))
		{
			pc_notify_run_queued(0);
			pc_wake_launcher_at_commit();
			return;
		}
		pc_free_tuptable(SPI_tuptable);
	}
	pc_exec_row(&plan_get_run, &run_id, NULL);
}

/*
 * A concurrent enqueue won the race for the agent's one active run: turn our
 * request (row 0's queued_request_id) into a coalesced one. Leaves the run in
 * row 0 of SPI_tuptable.
 */
static void
coalesce_lost_race(Datum company_id, Datum agent_id)
{
	bool		isnull;
	Datum		coalesce[2];
	Datum		active[2] = {company_id, agent_id};
	SPITupleTable *found;

	coalesce[0] = pc_getattr(0, "queued_request_id", &isnull);
	if (!pc_exec_row(&plan_active_run, active, NULL))
		/* the winner's run finished between our insert and this read */
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not queue a run: a concurrent wakeup's run for this agent just ended"),
				 errhint("Retry the wakeup.")));
	found = SPI_tuptable;
	coalesce[1] = pc_getattr(0, "id", &isnull);
	pc_exec(&plan_coalesce_request, coalesce, NULL, 0);
	pc_exec_row(&plan_get_run, &coalesce[1], NULL);
	pc_free_tuptable(found);
}

/*
 * Enqueue one wakeup. Returns true with the run in row 0 of SPI_tuptable,
 * or false when the request was skipped (by policy, by an idempotent hit
 * on a skipped request, or, for timer ticks, an agent no longer invokable).
 * Needs an open SPI connection. Of the results it makes, only the one it
 * returns is left: loops of enqueues (timer ticks) free it and keep none.
 */
bool
pc_enqueue_wakeup(const WakeupRequest *req)
{
	Datum		v[11];
	char		n[11];
	Datum		company_id;
	char	   *status;
	char	   *skip;
	bool		isnull;
	bool		no_run;
	bool		pending_null;
	SPITupleTable *enqueued;

	/* a key already used: the earlier request's answer, nothing written */
	if (!req->idempotency_key_null)
	{
		bool		agent_found = pc_exec_row(&plan_lock_agent, (Datum *) &req->agent_id, NULL);

		pc_free_tuptable(SPI_tuptable);
		if (!agent_found)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("agent not found")));
		if (find_idempotent(req))
			return SPI_processed > 0;
	}

	request_params(req, (Datum) 0, v, n);
	n[0] = 'n';					/* $1 (company) is read from the agent */
	v[9] = req->context_snapshot;
	n[9] = ' ';
	v[10] = BoolGetDatum(req->trigger_detail != NULL && strcmp(req->trigger_detail, "ping") == 0);
	n[10] = ' ';
	if (!pc_exec_row(&plan_enqueue, v, n))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("agent not found")));

	/* the hot path: a new queued run */
	(void) pc_getattr(0, "id", &no_run);
	if (!no_run)
	{
		pc_notify_run_queued(0);
		pc_wake_launcher_at_commit();
		return true;
	}

	enqueued = SPI_tuptable;
	company_id = pc_getattr(0, "agent_company_id", &isnull);
	status = pc_getattr_cstring(0, "agent_status");
	if (strcmp(status, "paused") == 0 || strcmp(status, "terminated") == 0)
	{
		if (req->quiet_if_not_invokable)
		{
			pc_free_tuptable(enqueued);
			return false;
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("agent is not invokable in its current state"),
				 errdetail("status: %s", status),
				 errhint("Resume the agent (set its status to idle) before waking it.")));
	}

	/* the policy skips it */
	skip = pc_getattr_cstring(0, "skip");
	if (skip != NULL)
	{
		insert_finished_request(req, company_id, "skipped", skip, (Datum) 0, true);
		pc_free_tuptable(enqueued);
		return false;
	}

	/* it coalesces into the pending run, promoting a scheduled retry */
	(void) pc_getattr(0, "pending_id", &pending_null);
	if (!pending_null)
		coalesce_into(req, company_id, pc_getattr(0, "pending_id", &isnull),
					  strcmp(pc_getattr_cstring(0, "pending_status"), "scheduled_retry") == 0);
	else
		/* a concurrent enqueue won the race for the one active run */
		coalesce_lost_race(company_id, req->agent_id);
	pc_free_tuptable(enqueued);
	return true;
}

/* A jsonb argument that must be an object (or NULL); checked for size. */
static Datum
object_arg(FunctionCallInfo fcinfo, int argno, const char *param, bool *isnull)
{
	Jsonb	   *jb;

	*isnull = PG_ARGISNULL(argno);
	if (*isnull)
		return (Datum) 0;
	jb = PG_GETARG_JSONB_P(argno);
	if (!pc_jsonb_is_object(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", param)));
	pc_check_size(param, jb);
	return JsonbPGetDatum(jb);
}

static const char *
vocabulary_arg(FunctionCallInfo fcinfo, int argno, const char *param,
			   const char *const *allowed, bool required)
{
	char	   *value;

	if (PG_ARGISNULL(argno))
	{
		if (required)
			pc_check_not_null(fcinfo, argno, param);
		return NULL;
	}
	value = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	pc_check_vocabulary(param, value, allowed);
	return value;
}

static Datum
enqueue_and_return(FunctionCallInfo fcinfo, WakeupRequest *req)
{
	Datum		result = (Datum) 0;
	bool		found;

	SPI_connect();
	pc_check_agent_access(req->agent_id);
	found = pc_enqueue_wakeup(req);
	if (found)
		result = pc_return_row(fcinfo, 0);
	SPI_finish();

	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

static Datum
context_arg(FunctionCallInfo fcinfo, int argno)
{
	bool		isnull;
	Datum		d = object_arg(fcinfo, argno, "context_snapshot", &isnull);

	return isnull ? JsonbPGetDatum(pc_jsonb_from_cstring("{}")) : d;
}

/*
 * paperclip.enqueue_wakeup(agent_id, source, trigger_detail, reason, payload,
 *		idempotency_key, requested_by_actor_type, requested_by_actor_id,
 *		context_snapshot) RETURNS heartbeat_runs (NULL when skipped)
 */
Datum
paperclip_enqueue_wakeup(PG_FUNCTION_ARGS)
{
	WakeupRequest req = {0};

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "agent_id");
	pc_check_length(fcinfo, 3, "reason", PC_MAX_REASON_BYTES);
	pc_check_length(fcinfo, 5, "idempotency_key", PC_MAX_NAME_BYTES);
	pc_check_length(fcinfo, 7, "requested_by_actor_id", PC_MAX_NAME_BYTES);
	req.agent_id = PG_GETARG_DATUM(0);
	req.source = vocabulary_arg(fcinfo, 1, "source", pc_sources, true);
	req.trigger_detail = vocabulary_arg(fcinfo, 2, "trigger_detail", pc_trigger_details, false);
	req.reason_null = PG_ARGISNULL(3);
	req.reason = req.reason_null ? (Datum) 0 : PG_GETARG_DATUM(3);
	req.payload = object_arg(fcinfo, 4, "payload", &req.payload_null);
	req.idempotency_key_null = PG_ARGISNULL(5);
	req.idempotency_key = req.idempotency_key_null ? (Datum) 0 : PG_GETARG_DATUM(5);
	req.actor_type = vocabulary_arg(fcinfo, 6, "requested_by_actor_type", pc_actor_types, false);
	req.actor_id_null = PG_ARGISNULL(7);
	req.actor_id = req.actor_id_null ? (Datum) 0 : PG_GETARG_DATUM(7);
	req.context_snapshot = context_arg(fcinfo, 8);

	return enqueue_and_return(fcinfo, &req);
}

/*
 * paperclip.invoke(agent_id, source, context_snapshot, trigger_detail,
 *		actor_type, actor_id) RETURNS heartbeat_runs
 */
Datum
paperclip_invoke(PG_FUNCTION_ARGS)
{
	WakeupRequest req = {0};

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "agent_id");
	pc_check_length(fcinfo, 5, "actor_id", PC_MAX_NAME_BYTES);
	req.agent_id = PG_GETARG_DATUM(0);
	req.source = vocabulary_arg(fcinfo, 1, "source", pc_sources, true);
	req.context_snapshot = context_arg(fcinfo, 2);
	req.trigger_detail = vocabulary_arg(fcinfo, 3, "trigger_detail", pc_trigger_details, false);
	req.actor_type = vocabulary_arg(fcinfo, 4, "actor_type", pc_actor_types, false);
	req.actor_id_null = PG_ARGISNULL(5);
	req.actor_id = req.actor_id_null ? (Datum) 0 : PG_GETARG_DATUM(5);
	req.reason_null = true;
	req.payload_null = true;
	req.idempotency_key_null = true;

	return enqueue_and_return(fcinfo, &req);
}
