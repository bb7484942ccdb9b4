/*-------------------------------------------------------------------------
 * leases.c
 *	  Owns the leases of the runs paperclip_worker runs (see protocol.h).
 *	  worker_claim_runs (claims.c) records the worker on each run it claims
 *	  (heartbeat_runs.worker_name) and a lease paperclip.worker_lease long
 *	  (lease_expires_at). Here:
 *	  - paperclip.worker_renew_leases: a worker renews the leases of all its
 *	    runs in one statement, and learns which it no longer holds and which
 *	    were cancelled;
 *	  - paperclip.worker_finalize_run: a worker's result, recorded through
 *	    the one finalization path (runs.c) only while the worker holds the
 *	    run, else refused with PC001 (PC_SQLSTATE_LEASE_LOST);
 *	  - pc_expire_worker_leases (the scheduler; paperclip.expire_worker_leases
 *	    from SQL): every run whose lease lapsed (its worker killed, its
 *	    machine or its network gone) is failed as process_lost, and retried
 *	    as any lost run.
 *
 *	  A worker holds a run it claimed while the run is not finalized and
 *	  its lease has not lapsed. Its result is then finalized before the
 *	  lease's end (finalized_at <= lease_expires_at), while a run failed
 *	  for its lease is finalized after it (finalized_at > lease_expires_at,
 *	  both times being now() of their transactions). So a late result is
 *	  told apart from the same result delivered twice (a worker that lost
 *	  its connection before the commit's answer): the late one is refused and
 *	  counts nothing; the repeated one returns the run unchanged, as
 *	  finalize_run does.
 *
 *	  The launcher's runs carry no lease (lease_expires_at null): their
 *	  crash model is the launcher's (bgworkers/reconcile.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_worker_renew_leases);
PG_FUNCTION_INFO_V1(paperclip_worker_finalize_run);
PG_FUNCTION_INFO_V1(paperclip_expire_worker_leases);

#define EXPIRE_BATCH 100

/*
 * $1 the worker, $2 its runs, $3 lease seconds, $4 the caller's role: the
 * runs still held get a new lease; every run asked about is answered, in
 * the order asked (status null: not visible to the caller, or no such run).
 */
static PcPlan plan_renew = PC_PLAN(
	"WITH companies AS (SELECT paperclip.visible_companies($4) AS c), "
	"renewed AS (UPDATE paperclip.heartbeat_runs r "
	"  SET lease_expires_at = now() + make_interval(secs => $3) FROM companies "
	"  WHERE r.id = ANY ($2) AND r.worker_name = $1 AND r.finalized_at IS NULL "
	"  AND r.lease_expires_at >= now() "
	"  AND (companies.c IS NULL OR r.company_id = ANY (companies.c)) "
	"  RETURNING r.id, r.status) "
	"SELECT i.id AS run_id, coalesce(renewed.status, h.status) AS status, "
	"  renewed.id IS NOT NULL AS held "
	"FROM unnest($2) WITH ORDINALITY AS i(id, n) "
	"LEFT JOIN renewed ON renewed.id = i.id "
	"LEFT JOIN paperclip.heartbeat_runs h ON h.id = i.id "
	"  AND ((SELECT c FROM companies) IS NULL OR h.company_id = ANY ((SELECT c FROM companies)::uuid[])) "
	"ORDER BY i.n",
	TEXTOID, UUIDARRAYOID, FLOAT8OID, NAMEOID);

static PcPlan plan_lease_of = PC_PLAN(
	"SELECT worker_name, lease_expires_at, finalized_at IS NOT NULL AS finalized, "
	"  finalized_at <= lease_expires_at AS recorded, lease_expires_at >= now() AS live "
	"FROM paperclip.heartbeat_runs WHERE id = $1 FOR NO KEY UPDATE",
	UUIDOID);

/*
 * $1 how many, $2 the caller's role or null (the scheduler): runs whose
 * lease lapsed, oldest lapse first. now(), the transaction's start, is
 * also what their finalized_at gets: after the lease, always.
 */
static PcPlan plan_lapsed = PC_PLAN(
	"SELECT r.id, r.worker_name, r.lease_expires_at FROM paperclip.heartbeat_runs r "
	"JOIN paperclip.agents a ON a.id = r.agent_id "
	"WHERE r.worker_name IS NOT NULL AND r.finalized_at IS NULL AND r.lease_expires_at < now() "
	"AND ($2::name IS NULL OR (SELECT paperclip.visible_companies($2)) IS NULL "
	"  OR r.company_id = ANY ((SELECT paperclip.visible_companies($2))::uuid[])) "
	"ORDER BY r.lease_expires_at LIMIT $1 FOR NO KEY UPDATE OF r, a SKIP LOCKED",
	INT4OID, NAMEOID);

static PcPlan plan_next_lapse = PC_PLAN(
	"SELECT min(lease_expires_at) AS next FROM paperclip.heartbeat_runs "
	"WHERE worker_name IS NOT NULL AND finalized_at IS NULL");

static Datum
caller_role(void)
{
	return DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetOuterUserId(), false)));
}

static char *
uuid_cstring(Datum uuid)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, uuid));
}

static void
check_worker_name(FunctionCallInfo fcinfo, int argno)
{
	pc_check_not_null(fcinfo, argno, "worker_name");
	pc_check_length(fcinfo, argno, "worker_name", PC_MAX_NAME_BYTES);
	if (VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(argno)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("worker_name must not be empty")));
}

/*
 * paperclip.worker_renew_leases(worker_name, run_ids) RETURNS TABLE(run_id
 * uuid, status text, held boolean): one statement for all the worker's
 * runs. held false: the worker must stop that run and drop its result.
 */
Datum
paperclip_worker_renew_leases(PG_FUNCTION_ARGS)
{
	Datum		v[4];

	pc_check_writable(fcinfo);
	check_worker_name(fcinfo, 0);
	pc_check_not_null(fcinfo, 1, "run_ids");
	v[0] = PG_GETARG_DATUM(0);
	v[1] = PG_GETARG_DATUM(1);
	v[2] = Float8GetDatum((double) pc_worker_lease_s);
	v[3] = caller_role();
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	pc_exec(&plan_renew, v, NULL, 0);
	pc_return_rows(fcinfo);
	SPI_finish();
	return (Datum) 0;
}

static void
lease_lost(const char *run_id, const char *worker, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_PC_LEASE_LOST),
			 errmsg("heartbeat run %s is not held by worker \"%s\"", run_id, pc_quote(worker)),
			 errdetail_internal("%s", detail),
			 errhint("The result is not recorded: drop it, and stop the run if it still runs.")));
}

/*
 * Refuse the result of a run the worker does not hold (PC001); the run is
 * locked in row 0 of SPI_tuptable. True when the result was recorded
 * already (a repeated delivery).
 */
static bool
check_held(Datum run_id, const char *worker)
{
	bool		isnull;
	char	   *holder;
	char	   *lease;
	bool		finalized;

	if (!pc_exec_row(&plan_lease_of, &run_id, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("heartbeat run not found")));
	holder = pc_getattr_cstring(0, "worker_name");
	lease = pc_getattr_cstring(0, "lease_expires_at");
	finalized = DatumGetBool(pc_getattr(0, "finalized", &isnull));

	if (holder == NULL)
		lease_lost(uuid_cstring(run_id), worker, "No worker claimed it.");
	if (strcmp(holder, worker) != 0)
		lease_lost(uuid_cstring(run_id), worker,
				   psprintf("Worker \"%s\" claimed it.", pc_quote(holder)));
	if (finalized)
	{
		Datum		recorded = pc_getattr(0, "recorded", &isnull);

		if (!isnull && DatumGetBool(recorded))
			return true;
		lease_lost(uuid_cstring(run_id), worker,
				   psprintf("Its lease lapsed at %s: it was failed as process_lost (and retried if attempts remain).",
							lease));
	}
	if (!DatumGetBool(pc_getattr(0, "live", &isnull)))
		lease_lost(uuid_cstring(run_id), worker,
				   psprintf("Its lease lapsed at %s: it is being failed as process_lost (and retried if attempts remain).",
							lease));
	return false;
}

/*
 * paperclip.worker_finalize_run(worker_name, run_id, result) RETURNS
 * heartbeat_runs: finalize_run for a run the worker holds.
 */
Datum
paperclip_worker_finalize_run(PG_FUNCTION_ARGS)
{
	Datum		run_id;
	char	   *worker;
	Datum		result;

	pc_check_writable(fcinfo);
	check_worker_name(fcinfo, 0);
	pc_check_not_null(fcinfo, 1, "run_id");
	pc_check_not_null(fcinfo, 2, "result");
	worker = text_to_cstring(PG_GETARG_TEXT_PP(0));
	run_id = PG_GETARG_DATUM(1);

	SPI_connect();
	pc_check_run_access(run_id);
	(void) check_held(run_id, worker);
	/* recorded already: returns the run unchanged */
	pc_finalize_run(run_id, PG_GETARG_JSONB_P(2));
	result = pc_return_row(fcinfo, 0);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

typedef struct LapsedRun
{
	Datum		run_id;
	char	   *result;
} LapsedRun;

static void
finalize_lapsed(void *arg)
{
	LapsedRun  *l = (LapsedRun *) arg;

	pc_finalize_run(l->run_id, pc_jsonb_from_cstring(l->result));
}

/*
 * Fail up to limit runs whose worker's lease lapsed, as process_lost (a
 * transient failure: retried). role: only the runs of its companies, or
 * (Datum) 0 for every run. Runs whose agent is locked are passed over, and
 * each run is failed in a subtransaction of its own: one whose rows a
 * client's open transaction keeps locked (a company's own) waits for a
 * later pass, and costs the others nothing. Needs an open SPI connection;
 * returns how many it failed.
 */
int
pc_expire_worker_leases(int limit, Datum role)
{
	Datum		v[2];
	char		nulls[2] = {' ', pc_null(role == (Datum) 0)};
	int			n;
	int			i;
	int			failed = 0;
	Datum	   *ids;
	char	  **messages;
	SPITupleTable *tt;

	v[0] = Int32GetDatum(limit);
	v[1] = role;
	n = pc_exec(&plan_lapsed, v, nulls, 0);
	tt = SPI_tuptable;
	ids = palloc(sizeof(Datum) * Max(n, 1));
	messages = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		StringInfoData buf;
		PcJson		j;

		ids[i] = pc_getattr(i, "id", &isnull);
		initStringInfo(&buf);
		pc_json_open(&j, &buf);
		pc_json_raw(&j, "exitCode", NULL);
		pc_json_str(&j, "errorCode", PC_ERR_PROCESS_LOST);
		pc_json_str(&j, "errorMessage",
					psprintf("worker \"%s\" lost its lease on the run (it lapsed at %s)",
							 pc_quote(pc_getattr_cstring(i, "worker_name")),
							 pc_getattr_cstring(i, "lease_expires_at")));
		pc_json_close(&j);
		messages[i] = buf.data;
	}
	for (i = 0; i < n; i++)
	{
		LapsedRun	l = {ids[i], messages[i]};
		ErrorData  *edata = pc_try_subxact(finalize_lapsed, &l);

		if (edata != NULL)
		{
			SPI_tuptable = NULL;	/* gone with the subtransaction */
			ereport(edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ? DEBUG1 : WARNING,
					(errmsg("paperclip: run %s lost its worker's lease; failing it failed, to be tried again (SQLSTATE %s): %s",
							uuid_cstring(ids[i]), unpack_sql_state(edata->sqlerrcode), edata->message)));
			FreeErrorData(edata);
			continue;
		}
		ereport(LOG,
				(errmsg("paperclip: run %s lost its worker's lease; failed as process_lost",
						uuid_cstring(ids[i]))));
		pc_free_tuptable(SPI_tuptable);
		failed++;
	}
	pc_free_tuptable(tt);
	return failed;
}

/* When the next lease lapses, unless renewed; 0 when no worker holds a run. */
TimestampTz
pc_next_lease_expiry(void)
{
	bool		isnull;
	Datum		next;

	if (!pc_exec_row(&plan_next_lapse, NULL, NULL))
		return 0;
	next = pc_getattr(0, "next", &isnull);
	return isnull ? 0 : DatumGetTimestampTz(next);
}

/*
 * paperclip.expire_worker_leases() RETURNS int: what the scheduler does,
 * for the caller's companies: runs whose lease lapsed fail as process_lost.
 */
Datum
paperclip_expire_worker_leases(PG_FUNCTION_ARGS)
{
	int			total = 0;
	int			n;
	Datum		role;

	pc_check_writable(fcinfo);
	role = caller_role();
	SPI_connect();
	do
	{
		n = pc_expire_worker_leases(EXPIRE_BATCH, role);
		total += n;
	} while (n == EXPIRE_BATCH);
	SPI_finish();
	PG_RETURN_INT32(total);
}
