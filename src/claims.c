/*-------------------------------------------------------------------------
 * claims.c
 *	  Owns paperclip.claim_runs, the claim of external runners (with
 *	  paperclip.launcher_enabled off, or next to the launcher): queued runs
 *	  of invokable agents within budget, oldest first, locked with SKIP
 *	  LOCKED so that racing claims never take one run twice nor wait on
 *	  each other. The claimed runs are then recorded as started the way
 *	  the launcher records its own (pc_mark_runs_started). As in the
 *	  launcher's claim guard, queued runs of a blocked issue (of the
 *	  companies the caller may claim for) are cancelled, not claimed.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "paperclip.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_claim_runs);

#define MAX_CLAIM 1000

/* $1 how many, $2 the caller's role: a bound role claims only its companies' runs */
static PcPlan plan_claim = PC_PLAN(
	"WITH companies AS (SELECT paperclip.visible_companies($2) AS c), "
	"picked AS (SELECT r.id FROM paperclip.heartbeat_runs r "
	"  JOIN paperclip.agents a ON a.id = r.agent_id, companies "
	"  WHERE r.status = 'queued' AND a.status NOT IN ('paused', 'terminated') "
	"  AND NOT (a.budget_monthly_cents > 0 AND a.spent_monthly_cents >= a.budget_monthly_cents) "
	"  AND (companies.c IS NULL OR r.company_id = ANY (companies.c)) "
	"  ORDER BY r.created_at LIMIT $1 FOR NO KEY UPDATE OF r SKIP LOCKED) "
	"UPDATE paperclip.heartbeat_runs r SET status = 'running', started_at = now(), "
	"  updated_at = now(), event_seq = r.event_seq + 1, "
	"  session_id_before = coalesce((SELECT s.session_id FROM paperclip.agent_runtime_state s "
	"    WHERE s.agent_id = r.agent_id), r.session_id_before) "
	"FROM picked WHERE r.id = picked.id RETURNING r.*",
	INT4OID, NAMEOID);

/*
 * paperclip.claim_runs(max_runs DEFAULT 1) RETURNS SETOF heartbeat_runs:
 * the runs this caller now runs; it reports them with append_run_log,
 * append_run_event and finalize_run.
 */
Datum
paperclip_claim_runs(PG_FUNCTION_ARGS)
{
	Datum		v[2];
	int			n;
	int			i;
	SPITupleTable *claimed;

	pc_check_not_null(fcinfo, 0, "max_runs");
	v[0] = Int32GetDatum(Max(0, Min(PG_GETARG_INT32(0), MAX_CLAIM)));
	v[1] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetOuterUserId(), false)));
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	(void) pc_cancel_blocked_issue_runs(v[1], false);
	n = pc_exec(&plan_claim, v, NULL, 0);
	claimed = SPI_tuptable;
	if (n > 0)
	{
		Datum	   *ids = palloc(sizeof(Datum) * n);
		Datum		started[6] = {0, 0, 0, 0, 0, 0};
		bool		isnull;

		for (i = 0; i < n; i++)
		{
			ids[i] = pc_getattr(i, "id", &isnull);
			pc_notify_run_status(i);
		}
		started[0] = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
		pc_mark_runs_started(started, " nnnnn");
	}
	SPI_tuptable = claimed;
	SPI_processed = n;
	pc_return_rows(fcinfo);
	SPI_finish();
	return (Datum) 0;
}
