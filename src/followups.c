/*-------------------------------------------------------------------------
 * followups.c
 *	  Owns what becomes of deferred wakeup requests when the run they waited
 *	  for ends (succeeded, failed, timed out, cancelled, lost): they become
 *	  exactly one queued follow-up run, whose context merges theirs in
 *	  arrival order (paperclip.wake_context_agg) and whose request, source
 *	  and trigger_detail are the first one's; the others are coalesced into
 *	  it. When the agent is paused or terminated, or all of its runs are
 *	  being cancelled (cancel_active_for_agent), they are cancelled instead.
 *
 *	  When the agent has a scheduled retry (the run that just failed
 *	  transiently got one, or an older one waits), the news folds into the
 *	  retry: it is promoted to queued at once with the deferred contexts
 *	  merged into its own, as for any wakeup that meets a scheduled retry.
 *	  So there is never a follow-up and a retry of the same failure, and
 *	  never two active runs. A retry of an issue that is over or now another
 *	  agent's is cancelled first (retries.c), and a plain follow-up is queued.
 *
 *	  The handshake with a deferral racing the end of its run is a
 *	  transaction lock on the run of our own advisory class: a deferral
 *	  takes it shared (pc_lock_deferral) before it checks, with a new
 *	  snapshot, that the run still runs, and holds it until it commits; the
 *	  end of the run (finalize_run, cancel_run, with the run's row locked and
 *	  its status changed) takes it exclusive, without waiting. Taken, no
 *	  deferral is in flight: every deferral has committed and is released
 *	  now, and any later one waits for this transaction, then finds the run
 *	  over and merges into the follow-up or queues a run. Not taken, a
 *	  deferral is in flight: what has committed is released now, and that
 *	  deferral, committed later against a run already over, is released by
 *	  the scheduler (pc_release_orphaned_deferrals; the deferral wakes it at
 *	  commit), into the follow-up if it is still queued, to wait for it if
 *	  it already runs. So the launcher never waits for a client's open
 *	  transaction, no deferral is lost, and none makes a second follow-up.
 *	  The requests are locked while released, so a release runs once.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "paperclip.h"
#include "run_state.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_release_deferred_wakes);

/*
 * The handshake lock between deferrals and the end of a run: pg_locks shows
 * it as locktype advisory, objsubid PC_LOCKTAG_DEFERRAL, classid and objid
 * the first eight bytes of the run's id.
 */
#define PC_LOCKTAG_DEFERRAL 20548

#define RELEASE_BATCH 100

/* The deferred requests of a run, oldest first, and the agent's status. */
static PcPlan plan_deferred = PC_PLAN(
	"SELECT q.id, a.status AS agent_status FROM paperclip.agent_wakeup_requests q "
	"JOIN paperclip.agents a ON a.id = q.agent_id "
	"WHERE q.company_id = $1 AND q.agent_id = $2 AND q.status = '" PC_WAKEUP_DEFERRED "' "
	"AND q.run_id = $3 ORDER BY q.requested_at, q.id FOR UPDATE OF q SKIP LOCKED",
	UUIDOID, UUIDOID, UUIDOID);

static PcPlan plan_cancel_deferred = PC_PLAN(
	"UPDATE paperclip.agent_wakeup_requests SET status = '" PC_WAKEUP_CANCELLED "', "
	" finished_at = now(), error = $2, updated_at = now() "
	"WHERE id = ANY($1) RETURNING id",
	UUIDARRAYOID, TEXTOID);

/* the agent's pending run, the active one first */
static PcPlan plan_pending_run = PC_PLAN(
	"SELECT id, status FROM paperclip.heartbeat_runs "
	"WHERE company_id = $1 AND agent_id = $2 "
	"AND status IN ('" PC_RUN_QUEUED "', '" PC_RUN_RUNNING "', '" PC_RUN_SCHEDULED_RETRY "') "
	"ORDER BY status = '" PC_RUN_SCHEDULED_RETRY "', created_at DESC LIMIT 1",
	UUIDOID, UUIDOID);

/* $1 the deferred requests, in arrival order by their requested_at */
#define MERGED_CONTEXT \
	"SELECT paperclip.wake_context_agg(q.context_snapshot, q.reason " \
	" ORDER BY q.requested_at, q.id) AS c FROM paperclip.agent_wakeup_requests q " \
	"WHERE q.id = ANY($1)"

/*
 * $1 the deferred requests, $2 the agent's pending run, $3 its status now
 * (queued: merge into it; scheduled_retry: promote it and merge): the
 * requests coalesce into it. No row: the run is no longer in that status.
 */
static PcPlan plan_merge_into = PC_PLAN(
	"WITH c AS (" MERGED_CONTEXT "), "
	"m AS (UPDATE paperclip.heartbeat_runs r SET status = '" PC_RUN_QUEUED "', updated_at = now(), "
	"  context_snapshot = paperclip.wake_context_merge(r.context_snapshot, c.c) "
	"  FROM c WHERE r.id = $2 AND " PC_NO_INDEX("r.status") " = $3 RETURNING r.*), "
	"u AS (UPDATE paperclip.agent_wakeup_requests q SET status = '" PC_WAKEUP_COALESCED "', "
	"  coalesced_count = 1, run_id = m.id, finished_at = now(), updated_at = now() "
	"  FROM m WHERE q.id = ANY($1)) "
	"SELECT * FROM m",
	UUIDARRAYOID, UUIDOID, TEXTOID);

/* $1 the deferred requests, $2 the agent's running run: they wait for it now */
static PcPlan plan_relink = PC_PLAN(
	"WITH r AS (SELECT id FROM paperclip.heartbeat_runs "
	"  WHERE id = $2 AND " PC_NO_INDEX("status") " = '" PC_RUN_RUNNING "') "
	"UPDATE paperclip.agent_wakeup_requests q SET run_id = r.id, updated_at = now() "
	"FROM r WHERE q.id = ANY($1) RETURNING q.id",
	UUIDARRAYOID, UUIDOID);

/*
 * $1 the deferred requests (first = oldest): the follow-up run, with the
 * first request as its own (queued) and the others coalesced into it. No
 * row: a run of the agent became active meanwhile.
 */
static PcPlan plan_follow_up = PC_PLAN(
	"WITH f AS (SELECT * FROM paperclip.agent_wakeup_requests WHERE id = ($1)[1]), "
	"c AS (" MERGED_CONTEXT "), "
	"n AS (INSERT INTO paperclip.heartbeat_runs "
	"  (company_id, agent_id, invocation_source, trigger_detail, wakeup_request_id, "
	"   context_snapshot, session_id_before) "
	"  SELECT f.company_id, f.agent_id, f.source, f.trigger_detail, f.id, c.c, "
	"   (SELECT s.session_id FROM paperclip.agent_runtime_state s WHERE s.agent_id = f.agent_id) "
	"  FROM f, c "
	"  ON CONFLICT (company_id, agent_id) WHERE status IN ('queued', 'running') DO NOTHING "
	"  RETURNING *), "
	"u AS (UPDATE paperclip.agent_wakeup_requests q SET "
	"  status = CASE WHEN q.id = n.wakeup_request_id THEN '" PC_WAKEUP_QUEUED "' "
	"    ELSE '" PC_WAKEUP_COALESCED "' END, "
	"  coalesced_count = CASE WHEN q.id = n.wakeup_request_id THEN 0 ELSE 1 END, "
	"  run_id = n.id, updated_at = now(), "
	"  finished_at = CASE WHEN q.id = n.wakeup_request_id THEN NULL ELSE now() END "
	"  FROM n WHERE q.id = ANY($1)) "
	"SELECT * FROM n",
	UUIDARRAYOID);

/* Deferred requests whose run is no longer running (committed after its release). */
static PcPlan plan_orphaned = PC_PLAN(
	"SELECT DISTINCT q.run_id, q.company_id, q.agent_id FROM paperclip.agent_wakeup_requests q "
	"JOIN paperclip.heartbeat_runs r ON r.id = q.run_id "
	"WHERE q.status = '" PC_WAKEUP_DEFERRED "' AND r.status <> '" PC_RUN_RUNNING "' LIMIT $1",
	INT4OID);

static void
deferral_tag(LOCKTAG *tag, Datum run_id)
{
	const unsigned char *u = DatumGetUUIDP(run_id)->data;
	uint32		hi;
	uint32		lo;

	memcpy(&hi, u, sizeof(hi));
	memcpy(&lo, u + sizeof(hi), sizeof(lo));
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, hi, lo, PC_LOCKTAG_DEFERRAL);
}

/*
 * A deferral for this running run is about to be written: hold the run's
 * handshake lock (shared) until this transaction ends. Waits only for a
 * transaction that is ending the run.
 */
void
pc_lock_deferral(Datum run_id)
{
	LOCKTAG		tag;

	deferral_tag(&tag, run_id);
	(void) LockAcquire(&tag, ShareLock, false, false);
}

/* Whether no deferral of this run is in flight; if so, none starts until we end. */
static bool
lock_release(Datum run_id)
{
	LOCKTAG		tag;

	deferral_tag(&tag, run_id);
	return LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL;
}

/* Announce each released request. */
static void
announce_requests(Datum *ids, int n, const char *company_id, const char *agent_id,
				  const char *run_id, const char *first_status, const char *others_status)
{
	int			i;

	for (i = 0; i < n; i++)
		pc_notify_wakeup_status(company_id,
								DatumGetCString(DirectFunctionCall1(uuid_out, ids[i])),
								agent_id, run_id, i == 0 ? first_status : others_status);
}

/*
 * Release the deferred requests in array (ids, oldest first) of an agent
 * that is not paused: into its pending run if it has one (a follow-up
 * queued meanwhile, a retry), else into a new follow-up. Returns false when
 * the agent's runs changed under us (the caller tries again).
 */
static bool
release_into_runs(Datum array, Datum *ids, int n, Datum company_id, Datum agent_id,
				  const char *company, const char *agent)
{
	Datum		v[2] = {company_id, agent_id};
	SPITupleTable *pending;
	bool		isnull;
	bool		done = false;

	if (!pc_exec_row(&plan_pending_run, v, NULL))
	{
		pc_free_tuptable(SPI_tuptable);
		if (pc_exec_row(&plan_follow_up, &array, NULL))
		{
			pc_notify_run_queued(0);
			pc_wake_launcher_at_commit();
			announce_requests(ids, n, company, agent, pc_getattr_cstring(0, "id"),
							  PC_WAKEUP_QUEUED, PC_WAKEUP_COALESCED);
			done = true;
		}
		pc_free_tuptable(SPI_tuptable);
		return done;
	}

	pending = SPI_tuptable;
	if (strcmp(pc_getattr_cstring(0, "status"), PC_RUN_RUNNING) == 0)
	{
		Datum		r[2] = {array, pc_getattr(0, "id", &isnull)};

		/* a deferral for that run, like any other */
		pc_lock_deferral(r[1]);
		done = pc_exec(&plan_relink, r, NULL, 0) > 0;
		if (done)
		{
			pc_wake_scheduler_at_commit();
			announce_requests(ids, n, company, agent, pc_getattr_cstring(0, "id"),
							  PC_WAKEUP_DEFERRED, PC_WAKEUP_DEFERRED);
		}
	}
	else
	{
		Datum		m[3] = {array, pc_getattr(0, "id", &isnull),
		CStringGetTextDatum(pc_getattr_cstring(0, "status"))};

		done = pc_exec_row(&plan_merge_into, m, NULL);
		if (done)
		{
			pc_notify_run_queued(0);
			pc_wake_launcher_at_commit();
			announce_requests(ids, n, company, agent, pc_getattr_cstring(0, "id"),
							  PC_WAKEUP_COALESCED, PC_WAKEUP_COALESCED);
		}
	}
	pc_free_tuptable(SPI_tuptable);
	pc_free_tuptable(pending);
	return done;
}

/*
 * Release the deferred requests of a run that is over (see the header).
 * Needs SPI; the caller's SPI result is kept, the results made here are
 * freed. cancel: cancel them whatever the agent's status.
 */
static void
release_deferred(Datum run_id, Datum company_id, Datum agent_id, bool cancel)
{
	Datum		v[3] = {company_id, agent_id, run_id};
	SPITupleTable *deferred;
	Datum	   *ids;
	Datum		array;
	char	   *company = DatumGetCString(DirectFunctionCall1(uuid_out, company_id));
	char	   *agent = DatumGetCString(DirectFunctionCall1(uuid_out, agent_id));
	char	   *agent_status;
	bool		isnull;
	int			n;
	int			i;
	int			attempt;

	n = pc_exec(&plan_deferred, v, NULL, 0);
	deferred = SPI_tuptable;
	if (n == 0)
	{
		pc_free_tuptable(deferred);
		return;
	}
	ids = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		ids[i] = pc_getattr(i, "id", &isnull);
	agent_status = pc_getattr_cstring(0, "agent_status");
	array = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));

	if (cancel || strcmp(agent_status, "paused") == 0 || strcmp(agent_status, "terminated") == 0)
	{
		Datum		c[2] = {array, CStringGetTextDatum(cancel ? "Cancelled with the agent's runs"
														: "Cancelled: the agent is paused or terminated")};

		pc_exec(&plan_cancel_deferred, c, NULL, 0);
		pc_free_tuptable(SPI_tuptable);
		announce_requests(ids, n, company, agent, NULL, PC_WAKEUP_CANCELLED, PC_WAKEUP_CANCELLED);
	}
	else
	{
		/* a retry of an issue that is over or another agent's takes no news */
		(void) pc_cancel_stale_retries_of_agent(company_id, agent_id);
		for (attempt = 1; !release_into_runs(array, ids, n, company_id, agent_id, company, agent);
			 attempt++)
		{
			if (attempt >= 10)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not release the deferred wakeups of a run: the agent's runs kept changing"),
						 errhint("The scheduler releases them on its next pass.")));
			CHECK_FOR_INTERRUPTS();
		}
	}
	pc_free_tuptable(deferred);
}

/*
 * The run just ended (finalize_run, cancel_run, in the transaction that
 * ended it, its row locked): release what was deferred for it. A deferral
 * still in flight is left to the scheduler (see the header). Needs SPI;
 * the caller's SPI result is kept.
 */
void
pc_release_deferred(Datum run_id, Datum company_id, Datum agent_id, bool cancel)
{
	SPITupleTable *saved = SPI_tuptable;
	uint64		saved_processed = SPI_processed;

	(void) lock_release(run_id);
	release_deferred(run_id, company_id, agent_id, cancel);
	SPI_tuptable = saved;
	SPI_processed = saved_processed;
}

/*
 * Release up to "limit" runs' deferred requests that committed after their
 * run's release (their run is no longer running); returns how many runs.
 * A run with a deferral still in flight waits for a later pass. Needs SPI.
 */
int
pc_release_orphaned_deferrals(int limit)
{
	Datum		v = Int32GetDatum(limit);
	int			n = pc_exec(&plan_orphaned, &v, NULL, 0);
	SPITupleTable *orphaned = SPI_tuptable;
	int			released = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		run_id;

		SPI_tuptable = orphaned;
		SPI_processed = n;
		run_id = pc_getattr(i, "run_id", &isnull);
		if (!lock_release(run_id))
			continue;
		release_deferred(run_id, pc_getattr(i, "company_id", &isnull),
						 pc_getattr(i, "agent_id", &isnull), false);
		released++;
	}
	pc_free_tuptable(orphaned);
	return released;
}

/*
 * paperclip.release_deferred_wakes(batch_size DEFAULT 100) RETURNS int: what
 * the scheduler does on each pass, for operators and tests.
 */
Datum
paperclip_release_deferred_wakes(PG_FUNCTION_ARGS)
{
	int			released;

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "batch_size");
	SPI_connect();
	pc_check_all_companies("release_deferred_wakes");
	released = pc_release_orphaned_deferrals(Max(0, Min(PG_GETARG_INT32(0), 10000)));
	SPI_finish();
	PG_RETURN_INT32(released);
}
