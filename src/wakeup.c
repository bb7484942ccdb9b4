/*-------------------------------------------------------------------------
 * wakeup.c
 *	  Owns wakeups: paperclip.enqueue_wakeup and paperclip.invoke, and the
 *	  heartbeat policy read from agents.runtime_config -> 'heartbeat'.
 *
 *	  A wakeup is two statements. A read-only probe (plan_probe) reads the
 *	  agent, decides the policy skip and finds its pending run (its active
 *	  run through the one-active-run index, else its scheduled retry); then
 *	  one statement does what the wake calls for, the request and the run
 *	  together:
 *	    plan_new_run   no pending run: the queued run and its queued request
 *	                   (the hot path);
 *	    plan_merge     the run is queued: a coalesced request, and the
 *	                   wake's context merged into the run's;
 *	    plan_defer     the run is running and the wake has news for it: a
 *	                   deferred request, released into one follow-up when
 *	                   that run ends (followups.c);
 *	    plan_coalesce  the run is running, no news: a coalesced request;
 *	  and a scheduled retry is promoted and merged into (coalesce_into_retry).
 *
 *	  Races, without locking the agent row: each write depends on the
 *	  pending run still being what the probe read, and a lost race writes
 *	  nothing, so the wakeup looks again with a new snapshot.
 *	    - a new run: the one-active-run index arbitrates (ON CONFLICT);
 *	    - a merge: the UPDATE of the queued run re-checks it is still queued
 *	      after waiting for a concurrent claim or cancel;
 *	    - a deferral: the run's handshake lock with its end, taken shared
 *	      (followups.c), then the run re-checked to be running with a new
 *	      snapshot: a run whose end is in flight makes it wait, then look
 *	      again (it merges into the follow-up or queues a run); a deferral
 *	      that commits after the end released the others is released by
 *	      the scheduler, woken at commit. It takes no lock on the run's row,
 *	      so it never waits for the launcher's updates of a running run.
 *	  Lock order: a wakeup takes no lock on the agent row and, while it
 *	  waits for a run's row, holds no lock that finalize, cancel or the
 *	  launcher's claim (run rows, then the agent row) could wait for. An
 *	  idempotency key is serialised by a transaction lock on (agent, key),
 *	  not by the agent row, for the same reason.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "json_util.h"
#include "paperclip.h"
#include "run_state.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_enqueue_wakeup);
PG_FUNCTION_INFO_V1(paperclip_invoke);

/*
 * Idempotency keys are serialised by an advisory lock of our own class:
 * pg_locks shows it as locktype advisory, objsubid PC_LOCKTAG_IDEMPOTENCY,
 * classid and objid hashes of the agent and the key. User advisory locks
 * use classes 1 and 2 and never meet it.
 */
#define PC_LOCKTAG_IDEMPOTENCY 20547

/* A lost race means another transaction changed the agent's runs: look again. */
#define MAX_ENQUEUE_ATTEMPTS 10

static PcPlan plan_idempotent_request = PC_PLAN(
	"SELECT w.status, w.run_id FROM paperclip.agent_wakeup_requests w "
	"WHERE w.agent_id = $1 AND w.idempotency_key = $2",
	UUIDOID, TEXTOID);

static PcPlan plan_get_run = PC_PLAN(
	"SELECT * FROM paperclip.heartbeat_runs WHERE id = $1", UUIDOID);

/* a wakeup promotes the agent's scheduled retry at once and merges into it */
static PcPlan plan_promote_retry = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs r SET status = '" PC_RUN_QUEUED "', updated_at = now(), "
	" context_snapshot = paperclip.wake_context_merge(r.context_snapshot, $2, $3) "
	"WHERE r.id = $1 AND " PC_NO_INDEX("r.status") " = '" PC_RUN_SCHEDULED_RETRY "' RETURNING r.id",
	UUIDOID, JSONBOID, TEXTOID);

/* $1..$9 as in request_params(); $10 status, $11 run_id */
static PcPlan plan_insert_finished_request = PC_PLAN(
	"INSERT INTO paperclip.agent_wakeup_requests "
	"(company_id, agent_id, source, trigger_detail, reason, payload, "
	" requested_by_actor_type, requested_by_actor_id, idempotency_key, "
	" status, coalesced_count, run_id, finished_at) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
	" CASE WHEN $10 = '" PC_WAKEUP_COALESCED "' THEN 1 ELSE 0 END, $11, now())",
	UUIDOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, UUIDOID);

/*
 * What the wakeup needs to know of the agent, read-only (see the header).
 * $1..$9 as in request_params() ($1 unused: the company is the agent's),
 * $10 context, $11 trigger_detail is ping. Its row: the agent's company,
 * status and session, the policy skip, the pending run (its active run
 * through the one-active-run index, else its scheduled retry) and whether
 * the wake has news for it when it runs.
 */
#define POLICY_FALSE(key) "(a.runtime_config -> 'heartbeat' -> '" key "') = 'false'::jsonb"
static PcPlan plan_probe = PC_PLAN(
	"SELECT a.company_id, a.status, s.session_id, "
	"  p.id AS pending_id, p.status AS pending_status, "
	"  CASE WHEN p.status = '" PC_RUN_RUNNING "' "
	"    THEN paperclip.wake_has_news($10, p.context_snapshot) END AS news, "
	"  CASE WHEN $3 = 'timer' AND " POLICY_FALSE("enabled") " THEN '" PC_SKIP_DISABLED "' "
	"       WHEN $3 = 'timer' AND a.status = 'error' THEN '" PC_SKIP_AGENT_ERROR "' "
	"       WHEN $3 = 'assignment' AND " POLICY_FALSE("wakeOnAssignment") " THEN '" PC_SKIP_ASSIGNMENT "' "
	"       WHEN $3 = 'automation' AND " POLICY_FALSE("wakeOnAutomation") " THEN '" PC_SKIP_AUTOMATION "' "
	"       WHEN $3 = 'on_demand' AND $11 AND " POLICY_FALSE("wakeOnOnDemand") " THEN '" PC_SKIP_ON_DEMAND "' "
	"  END AS skip "
	"FROM paperclip.agents a "
	"LEFT JOIN paperclip.agent_runtime_state s ON s.agent_id = a.id "
	"LEFT JOIN LATERAL (SELECT * FROM ("
	"  SELECT r.id, r.status, r.context_snapshot, 0 AS ord, r.created_at "
	"  FROM paperclip.heartbeat_runs r WHERE r.company_id = a.company_id AND r.agent_id = a.id "
	"  AND r.status IN ('" PC_RUN_QUEUED "', '" PC_RUN_RUNNING "') "
	"  UNION ALL SELECT r.id, r.status, r.context_snapshot, 1, r.created_at "
	"  FROM paperclip.heartbeat_runs r WHERE r.company_id = a.company_id AND r.agent_id = a.id "
	"  AND r.status = '" PC_RUN_SCHEDULED_RETRY "') r "
	"  ORDER BY r.ord, r.created_at DESC LIMIT 1) p ON true "
	"WHERE a.id = $2",
	UUIDOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID,
	TEXTOID, JSONBOID, BOOLOID);

/*
 * The new queued run and its queued request, when the probe found the agent
 * invokable, not skipped and without a pending run. $1..$9 as in
 * request_params(), $10 context, $11 the agent's session. The run is
 * inserted first and its request only with it, so a run lost to a
 * concurrent wakeup (the one-active-run index) leaves nothing behind: no
 * row, and the wakeup looks again.
 */
static PcPlan plan_new_run = PC_PLAN(
	"WITH n AS (INSERT INTO paperclip.heartbeat_runs "
	"  (company_id, agent_id, invocation_source, trigger_detail, "
	"   wakeup_request_id, context_snapshot, session_id_before) "
	"  VALUES ($1, $2, $3, $4, gen_random_uuid(), $10, $11) "
	"  ON CONFLICT (company_id, agent_id) WHERE status IN ('queued', 'running') DO NOTHING "
	"  RETURNING *), "
	"w AS (INSERT INTO paperclip.agent_wakeup_requests "
	"  (id, company_id, agent_id, source, trigger_detail, reason, payload, "
	"   requested_by_actor_type, requested_by_actor_id, idempotency_key, run_id) "
	"  SELECT n.wakeup_request_id, $1, $2, $3, $4, $5, $6, $7, $8, $9, n.id FROM n) "
	"SELECT * FROM n",
	UUIDOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID,
	TEXTOID, JSONBOID, TEXTOID);

/*
 * The pending run is found again by id, its status re-checked after waiting
 * for its row (what a concurrent claim, finalize or cancel changed), by the
 * primary key only (PC_NO_INDEX). $1..$9 as in request_params(), $10
 * context, $11 the pending run. No row: a lost race.
 */
#define PENDING_RUN(status) \
	"r.id = $11 AND " PC_NO_INDEX("r.status") " = '" status "'"
#define REQUEST_COLUMNS \
	"company_id, agent_id, source, trigger_detail, reason, payload, " \
	"requested_by_actor_type, requested_by_actor_id, idempotency_key"
#define REQUEST_TYPES \
	UUIDOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, TEXTOID, \
	JSONBOID, UUIDOID

/*
 * the queued run gets the wake's context merged into its own; a generic
 * plan (the run by its primary key): planned anew on every call, a custom
 * plan was 9 % of a coalescing wake
 */
static PcPlan plan_merge = PC_PLAN_GENERIC(
	"WITH m AS (UPDATE paperclip.heartbeat_runs r SET updated_at = now(), "
	"  context_snapshot = paperclip.wake_context_merge(r.context_snapshot, $10, $5, "
	"    CASE WHEN r.context_snapshot ? 'wakeReasons' THEN NULL ELSE "
	"    (SELECT q.reason FROM paperclip.agent_wakeup_requests q WHERE q.id = r.wakeup_request_id) END) "
	"  WHERE " PENDING_RUN(PC_RUN_QUEUED) " RETURNING r.*), "
	"w AS (INSERT INTO paperclip.agent_wakeup_requests (" REQUEST_COLUMNS ", "
	"  status, coalesced_count, run_id, finished_at) "
	"  SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, '" PC_WAKEUP_COALESCED "', 1, m.id, now() FROM m) "
	"SELECT * FROM m",
	REQUEST_TYPES);

/* the running run's handshake lock is held (pc_lock_deferral) */
static PcPlan plan_defer = PC_PLAN(
	"WITH k AS (SELECT r.* FROM paperclip.heartbeat_runs r "
	"  WHERE " PENDING_RUN(PC_RUN_RUNNING) "), "
	"w AS (INSERT INTO paperclip.agent_wakeup_requests (" REQUEST_COLUMNS ", "
	"  status, run_id, context_snapshot, requested_at) "
	"  SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, '" PC_WAKEUP_DEFERRED "', k.id, $10, "
	"  clock_timestamp() FROM k RETURNING id) "
	"SELECT k.*, w.id AS request_id FROM k, w",
	REQUEST_TYPES);

/* a wake without news for the running run: recorded as coalesced into it */
static PcPlan plan_coalesce = PC_PLAN(
	"WITH w AS (INSERT INTO paperclip.agent_wakeup_requests (" REQUEST_COLUMNS ", "
	"  status, coalesced_count, run_id, finished_at) "
	"  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '" PC_WAKEUP_COALESCED "', 1, $11, now())) "
	"SELECT * FROM paperclip.heartbeat_runs r WHERE r.id = $11",
	REQUEST_TYPES);

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
	pc_free_tuptable(SPI_tuptable);
}

/*
 * Serialise wakeups that carry the same idempotency key for one agent until
 * this transaction ends (see PC_LOCKTAG_IDEMPOTENCY).
 */
static void
lock_idempotency_key(const WakeupRequest *req)
{
	LOCKTAG		tag;
	text	   *key = DatumGetTextPP(req->idempotency_key);
	uint32		agent_hash = hash_bytes(DatumGetUUIDP(req->agent_id)->data, UUID_LEN);
	uint32		key_hash = hash_bytes((unsigned char *) VARDATA_ANY(key),
									  VARSIZE_ANY_EXHDR(key));

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, agent_hash, key_hash, PC_LOCKTAG_IDEMPOTENCY);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
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
	SPITupleTable *found;

	if (!pc_exec_row(&plan_idempotent_request, v, NULL))
	{
		pc_free_tuptable(SPI_tuptable);
		return false;
	}
	found = SPI_tuptable;
	run_id = pc_getattr(0, "run_id", &isnull);
	if (isnull)
		SPI_processed = 0;
	else
		pc_exec_row(&plan_get_run, &run_id, NULL);
	pc_free_tuptable(found);
	return true;
}

typedef struct RetryPromotion
{
	const WakeupRequest *req;
	Datum		company_id;
	Datum		retry_id;
	bool		promoted;
} RetryPromotion;

static void
promote_retry(void *arg)
{
	RetryPromotion *p = (RetryPromotion *) arg;
	Datum		v[3] = {p->retry_id, p->req->context_snapshot, p->req->reason};
	char		n[3] = {' ', ' ', pc_null(p->req->reason_null)};

	p->promoted = pc_exec_row(&plan_promote_retry, v, n);
	pc_free_tuptable(SPI_tuptable);
	if (p->promoted)
		insert_finished_request(p->req, p->company_id, PC_WAKEUP_COALESCED, NULL,
								p->retry_id, false);
}

/*
 * The agent has a scheduled retry and no active run: promote the retry at
 * once and coalesce into it, merging the wake's context; a retry of an issue
 * that is over or now another agent's is cancelled instead. Leaves the run
 * in row 0 of SPI_tuptable and returns true, or returns false when a
 * concurrent transaction changed the agent's runs (the caller looks again).
 */
static bool
coalesce_into_retry(const WakeupRequest *req, Datum company_id, Datum retry_id)
{
	RetryPromotion p = {req, company_id, retry_id, false};
	ErrorData  *edata;

	if (pc_cancel_stale_retries_of_agent(company_id, req->agent_id) > 0)
		return false;
	/* a run queued for the agent meanwhile makes it fail on the one-active-run index */
	edata = pc_try_subxact(promote_retry, &p);
	if (edata != NULL)
	{
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			ReThrowError(edata);
		return false;
	}
	if (!p.promoted)
		return false;
	pc_exec_row(&plan_get_run, &retry_id, NULL);
	pc_notify_run_queued(0);
	pc_wake_launcher_at_commit();
	return true;
}

/*
 * The parameters of a writing statement: the request columns and context
 * of v/n, with $1 the agent's company and $11 last (NULL when last_null).
 */
static void
write_params(const Datum *v, const char *n, Datum company_id,
			 Datum last, bool last_null, Datum *pv, char *pn)
{
	memcpy(pv, v, 11 * sizeof(Datum));
	memcpy(pn, n, 11);
	pv[0] = company_id;
	pn[0] = ' ';
	pv[10] = last;
	pn[10] = pc_null(last_null);
}

/*
 * The agent has no pending run: queue one, with the request columns in v/n
 * ($11 the agent's session). Leaves the run in row 0 of SPI_tuptable and
 * returns true, or returns false when a concurrent wakeup queued the agent's
 * run first (the caller looks again).
 */
static bool
new_run(Datum *v, char *n, Datum company_id, Datum session_id, bool session_null)
{
	Datum		pv[11];
	char		pn[11];

	write_params(v, n, company_id, session_id, session_null, pv, pn);
	if (!pc_exec_row(&plan_new_run, pv, pn))
	{
		pc_free_tuptable(SPI_tuptable);
		return false;
	}
	pc_notify_run_queued(0);
	pc_wake_launcher_at_commit();
	return true;
}

/*
 * The agent has a pending run (queued, or running): coalesce into it, merge
 * into it or defer for it, with plan (plan_merge, plan_defer, plan_coalesce)
 * and the request columns in v/n (their $1 and $11 set here). Leaves the
 * run in row 0 of SPI_tuptable and returns true, or returns false when the
 * run is no longer what the probe read (the caller looks again).
 */
static bool
into_pending(PcPlan *plan, const WakeupRequest *req, Datum *v, char *n,
			 Datum company_id, Datum pending_id)
{
	Datum		pv[11];
	char		pn[11];

	write_params(v, n, company_id, pending_id, false, pv, pn);
	if (plan == &plan_defer)
		pc_lock_deferral(pending_id);
	if (!pc_exec_row(plan, pv, pn))
	{
		pc_free_tuptable(SPI_tuptable);
		return false;
	}
	if (plan == &plan_merge)
	{
		/* a claim that met our lock on the run skipped it: claim again */
		pc_wake_launcher_at_commit();
	}
	else if (plan == &plan_defer)
	{
		pc_notify_wakeup_status(pc_getattr_cstring(0, "company_id"),
								pc_getattr_cstring(0, "request_id"),
								pc_getattr_cstring(0, "agent_id"),
								pc_getattr_cstring(0, "id"), PC_WAKEUP_DEFERRED);
		/* should the run's end have come before we commit, it releases us */
		pc_wake_scheduler_at_commit();
	}
	return true;
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
	int			attempt;

	/* a key already used: the earlier request's answer, nothing written */
	if (!req->idempotency_key_null)
	{
		lock_idempotency_key(req);
		if (find_idempotent(req))
			return SPI_processed > 0;
	}

	request_params(req, (Datum) 0, v, n);
	n[0] = 'n';					/* $1 (company) is read from the agent */
	v[9] = req->context_snapshot;
	n[9] = ' ';
	v[10] = BoolGetDatum(req->trigger_detail != NULL && strcmp(req->trigger_detail, "ping") == 0);
	n[10] = ' ';

	for (attempt = 1;; attempt++)
	{
		Datum		company_id;
		Datum		pending_id;
		Datum		session_id;
		char	   *status;
		char	   *skip;
		char	   *pending_status;
		bool		isnull;
		bool		session_null;
		bool		done;
		SPITupleTable *probe;

		if (!pc_exec_row(&plan_probe, v, n))
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("agent not found")));
		probe = SPI_tuptable;

		company_id = pc_getattr(0, "company_id", &isnull);
		status = pc_getattr_cstring(0, "status");
		if (strcmp(status, "paused") == 0 || strcmp(status, "terminated") == 0)
		{
			if (req->quiet_if_not_invokable)
			{
				pc_free_tuptable(probe);
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
			insert_finished_request(req, company_id, PC_WAKEUP_SKIPPED, skip, (Datum) 0, true);
			pc_free_tuptable(probe);
			return false;
		}

		/* a new run, or into the pending run: merge, defer, coalesce, promote */
		pending_id = pc_getattr(0, "pending_id", &isnull);
		pending_status = pc_getattr_cstring(0, "pending_status");
		if (pending_status == NULL)
		{
			/* the hot path: a new queued run */
			session_id = pc_getattr(0, "session_id", &session_null);
			done = new_run(v, n, company_id, session_id, session_null);
		}
		else if (strcmp(pending_status, PC_RUN_QUEUED) == 0)
			done = into_pending(&plan_merge, req, v, n, company_id, pending_id);
		else if (strcmp(pending_status, PC_RUN_RUNNING) != 0)
			done = coalesce_into_retry(req, company_id, pending_id);
		else if (DatumGetBool(pc_getattr(0, "news", &isnull)))
			done = into_pending(&plan_defer, req, v, n, company_id, pending_id);
		else
			done = into_pending(&plan_coalesce, req, v, n, company_id, pending_id);
		pc_free_tuptable(probe);
		if (done)
			return true;

		/* a concurrent transaction changed the agent's runs: look again */
		if (attempt >= MAX_ENQUEUE_ATTEMPTS)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not enqueue the wakeup: the agent's runs kept changing"),
					 errdetail("%d attempts each lost a race with a concurrent change.", attempt),
					 errhint("Retry the wakeup.")));
		CHECK_FOR_INTERRUPTS();
	}
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
