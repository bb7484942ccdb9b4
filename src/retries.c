/*-------------------------------------------------------------------------
 * retries.c
 *	  Owns the promotion of scheduled retries: a scheduled_retry run whose
 *	  scheduled_retry_at has come becomes queued, unless its agent already
 *	  has a queued or running run (then it waits for the next pass: one
 *	  active run per agent still holds). finalize_run schedules retries
 *	  (runs.c); enqueue_wakeup promotes one at once when a wakeup arrives
 *	  (wakeup.c); the scheduler calls this for the rest.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "paperclip.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_promote_due_retries);

#define PROMOTE_BATCH 1000

/* $1 now, $2 limit, $3 one run only (or null): due retries of idle agents */
static PcPlan plan_promote = PC_PLAN(
	"WITH due AS (SELECT r.id FROM paperclip.heartbeat_runs r "
	"  WHERE r.status = 'scheduled_retry' AND r.scheduled_retry_at <= $1 "
	"  AND ($3::uuid IS NULL OR r.id = $3) "
	"  AND NOT EXISTS (SELECT 1 FROM paperclip.heartbeat_runs a "
	"    WHERE a.company_id = r.company_id AND a.agent_id = r.agent_id "
	"    AND a.status IN ('queued', 'running')) "
	"  ORDER BY r.scheduled_retry_at LIMIT $2 FOR NO KEY UPDATE OF r SKIP LOCKED) "
	"UPDATE paperclip.heartbeat_runs r SET status = 'queued', updated_at = now() "
	"FROM due WHERE r.id = due.id AND r.status = 'scheduled_retry' RETURNING r.*",
	TIMESTAMPTZOID, INT4OID, UUIDOID);

static PcPlan plan_due_ids = PC_PLAN(
	"SELECT id FROM paperclip.heartbeat_runs "
	"WHERE status = 'scheduled_retry' AND scheduled_retry_at <= $1 "
	"ORDER BY scheduled_retry_at LIMIT $2",
	TIMESTAMPTZOID, INT4OID);

typedef struct Promotion
{
	Datum	   *args;
	const char *nulls;
	int			promoted;
} Promotion;

static void
promote(void *arg)
{
	Promotion  *p = (Promotion *) arg;
	int			i;

	p->promoted = pc_exec(&plan_promote, p->args, p->nulls, 0);
	for (i = 0; i < p->promoted; i++)
		pc_notify_run_status(i);
	pc_free_tuptable(SPI_tuptable);
}

/*
 * Run the promotion in a subtransaction. A wakeup that queued a run for
 * the same agent meanwhile makes it fail on the one-active-run index:
 * then nothing of it happened and false is returned.
 */
static bool
try_promote(Datum *args, const char *nulls, int *promoted)
{
	Promotion	p = {args, nulls, 0};
	ErrorData  *edata = pc_try_subxact(promote, &p);

	*promoted = edata == NULL ? p.promoted : 0;
	if (edata != NULL && edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
		ReThrowError(edata);
	return edata == NULL;
}

/*
 * Promote up to "limit" retries due at "now"; returns how many. Needs SPI.
 * Set-based; only when a concurrent wakeup wins a race for some agent does
 * it fall back to one run at a time, leaving that agent's retry scheduled.
 */
int
pc_promote_due_retries(Datum now, int limit)
{
	Datum		args[3] = {now, Int32GetDatum(limit), (Datum) 0};
	int			promoted = 0;

	if (!try_promote(args, "  n", &promoted))
	{
		int			n = pc_exec(&plan_due_ids, args, NULL, 0);
		SPITupleTable *ids = SPI_tuptable;
		int			i;

		for (i = 0; i < n; i++)
		{
			bool		isnull;
			int			one = 0;

			SPI_tuptable = ids;
			args[2] = pc_getattr(i, "id", &isnull);
			args[1] = Int32GetDatum(1);
			if (try_promote(args, "   ", &one))
				promoted += one;
		}
	}
	if (promoted > 0)
		pc_wake_launcher_at_commit();
	return promoted;
}

/*
 * paperclip.promote_due_retries(now DEFAULT now()) RETURNS int: what the
 * scheduler does on each pass, for operators and tests.
 */
Datum
paperclip_promote_due_retries(PG_FUNCTION_ARGS)
{
	int			promoted;

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "now");
	SPI_connect();
	pc_check_all_companies("promote_due_retries");
	promoted = pc_promote_due_retries(PG_GETARG_DATUM(0), PROMOTE_BATCH);
	SPI_finish();
	PG_RETURN_INT32(promoted);
}
