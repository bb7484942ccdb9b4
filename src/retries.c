/*-------------------------------------------------------------------------
 * retries.c
 *	  Owns the promotion of scheduled retries: a scheduled_retry run whose
 *	  scheduled_retry_at has come becomes queued, unless its agent already
 *	  has a queued or running run (then it waits for the next pass: one
 *	  active run per agent still holds). finalize_run schedules retries
 *	  (runs.c); enqueue_wakeup promotes one at once when a wakeup arrives
 *	  (wakeup.c); the scheduler calls this for the rest.
 *
 *	  A retry is not promoted when its context issue is cancelled or done,
 *	  or is now assigned to another agent: it ends cancelled, error_code
 *	  issue_cancelled or issue_reassigned (the due pass here, and before a
 *	  wakeup or a release of deferred wakes promotes one at once).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "paperclip.h"
#include "run_state.h"
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

/* Retries whose context issue is over or another agent's, and why. */
#define STALE_RETRY \
	"SELECT r.id, CASE WHEN i.status IN ('cancelled', 'done') THEN '" PC_ERR_ISSUE_CANCELLED "' " \
	"  ELSE '" PC_ERR_ISSUE_REASSIGNED "' END AS error_code " \
	"FROM paperclip.heartbeat_runs r JOIN paperclip.issues i ON i.company_id = r.company_id " \
	"  AND i.id = " PC_CONTEXT_ISSUE("r.context_snapshot") " " \
	"WHERE r.status = '" PC_RUN_SCHEDULED_RETRY "' " \
	"AND (i.status IN ('cancelled', 'done') " \
	"  OR (i.assignee_agent_id IS NOT NULL AND i.assignee_agent_id <> r.agent_id)) "

/* $1 now, $2 limit */
static PcPlan plan_stale_due = PC_PLAN(
	STALE_RETRY "AND r.scheduled_retry_at <= $1 "
	"ORDER BY r.scheduled_retry_at LIMIT $2 FOR UPDATE OF r SKIP LOCKED",
	TIMESTAMPTZOID, INT4OID);

/* $1 company, $2 agent */
static PcPlan plan_stale_of_agent = PC_PLAN(
	STALE_RETRY "AND r.company_id = $1 AND r.agent_id = $2 FOR UPDATE OF r SKIP LOCKED",
	UUIDOID, UUIDOID);

/* Cancel the stale retries in the last result; returns how many. */
static int
cancel_stale(int n)
{
	SPITupleTable *tt = SPI_tuptable;
	int			i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		id;
		char	   *code;

		SPI_tuptable = tt;
		SPI_processed = n;
		id = pc_getattr(i, "id", &isnull);
		code = pc_getattr_cstring(i, "error_code");
		pc_cancel_run_with_code(id, strcmp(code, PC_ERR_ISSUE_CANCELLED) == 0
								? "Cancelled: the issue is cancelled or done"
								: "Cancelled: the issue is assigned to another agent",
								code);
		pc_free_tuptable(SPI_tuptable);
	}
	pc_free_tuptable(tt);
	return n;
}

/*
 * Cancel the agent's scheduled retries whose issue is over or another
 * agent's; returns how many. Needs SPI; the caller's SPI result is kept.
 */
int
pc_cancel_stale_retries_of_agent(Datum company_id, Datum agent_id)
{
	SPITupleTable *saved = SPI_tuptable;
	uint64		saved_processed = SPI_processed;
	Datum		v[2] = {company_id, agent_id};
	int			n = cancel_stale(pc_exec(&plan_stale_of_agent, v, NULL, 0));

	SPI_tuptable = saved;
	SPI_processed = saved_processed;
	return n;
}

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
 * Due retries of an issue that is over or another agent's are cancelled.
 * Set-based; only when a concurrent wakeup wins a race for some agent does
 * it fall back to one run at a time, leaving that agent's retry scheduled.
 */
int
pc_promote_due_retries(Datum now, int limit)
{
	Datum		args[3] = {now, Int32GetDatum(limit), (Datum) 0};
	int			promoted = 0;

	/* not promoted: retries whose issue is over or another agent's */
	(void) cancel_stale(pc_exec(&plan_stale_due, args, NULL, 0));

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
