/*-------------------------------------------------------------------------
 * claims.c
 *	  Owns the claims of external runners (with paperclip.launcher_enabled
 *	  off, or next to the launcher):
 *	  - paperclip.claim_runs: the runs themselves, for any external runner;
 *	  - paperclip.worker_claim_runs: for paperclip_worker, which also
 *	    records the worker and a lease on each run (leases.c renews and
 *	    expires them), and gets each run's spec as the launcher sends it to
 *	    its runner (protocol.h), less what is the worker machine's own (log,
 *	    spool and result file paths). Queued runs that can never start end
 *	    when a claim finds fewer runs than it asked for, as in the launcher's
 *	    claim guard: an agent paused or terminated cancels its run, one over
 *	    budget fails it budget_blocked.
 *	  Both take queued runs of invokable agents within budget, oldest first,
 *	  of the companies the caller may see, locked with SKIP LOCKED so that
 *	  racing claims never take one run twice nor wait on each other; the
 *	  run's agent is locked the same way, so that no transaction left open
 *	  on an agent (an admin's) holds a claim: its runs wait, others go. The
 *	  claimed runs are then recorded as started the way the launcher records
 *	  its own (pc_mark_runs_started). As in the launcher's claim guard,
 *	  queued runs of a blocked issue (of the companies the caller may claim
 *	  for) are cancelled first, not claimed.
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

#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_claim_runs);
PG_FUNCTION_INFO_V1(paperclip_worker_claim_runs);

#define MAX_CLAIM 1000
#define GUARD_BATCH 100

/*
 * The runs a claim takes: $1 how many, $2 the caller's role (a bound role
 * claims only its companies' runs).
 */
#define CLAIM_PICKED \
	"WITH companies AS (SELECT paperclip.visible_companies($2) AS c), " \
	"picked AS (SELECT r.id FROM paperclip.heartbeat_runs r " \
	"  JOIN paperclip.agents a ON a.id = r.agent_id, companies " \
	"  WHERE r.status = 'queued' AND a.status NOT IN ('paused', 'terminated') " \
	"  AND NOT (a.budget_monthly_cents > 0 AND a.spent_monthly_cents >= a.budget_monthly_cents) " \
	"  AND (companies.c IS NULL OR r.company_id = ANY (companies.c)) " \
	"  ORDER BY r.created_at LIMIT $1 FOR NO KEY UPDATE OF r, a SKIP LOCKED) "

/* what every claim sets on the runs it takes */
#define CLAIM_SET \
	"status = 'running', started_at = now(), updated_at = now(), event_seq = r.event_seq + 1, " \
	"session_id_before = coalesce((SELECT s.session_id FROM paperclip.agent_runtime_state s " \
	"  WHERE s.agent_id = r.agent_id), r.session_id_before) "

static PcPlan plan_claim = PC_PLAN(
	CLAIM_PICKED
	"UPDATE paperclip.heartbeat_runs r SET " CLAIM_SET
	"FROM picked WHERE r.id = picked.id RETURNING r.*",
	INT4OID, NAMEOID);

/*
 * $3 the worker, $4 its lease in seconds, $5 $6 the allowlists (JSON
 * arrays), $7 the runner's settings (isolation, OS user, log cap). The spec
 * has the keys of the launcher's (bgworkers/launcher.c) but the paths,
 * which the worker adds.
 */
static PcPlan plan_worker_claim = PC_PLAN(
	CLAIM_PICKED
	"UPDATE paperclip.heartbeat_runs r SET " CLAIM_SET ", "
	"  worker_name = $3, lease_expires_at = now() + make_interval(secs => $4) "
	"FROM picked, paperclip.agents a WHERE r.id = picked.id AND a.id = r.agent_id "
	"RETURNING r.*, jsonb_build_object("
	" 'runId', r.id, 'agentId', r.agent_id, 'companyId', r.company_id, "
	" 'adapterType', a.adapter_type, 'config', a.adapter_config, "
	" 'context', coalesce(r.context_snapshot, '{}'), 'sessionId', r.session_id_before, "
	" 'sessionParams', (SELECT s.session_params FROM paperclip.agent_runtime_state s "
	"   WHERE s.agent_id = r.agent_id), 'agentName', a.name, 'runSource', r.invocation_source, "
	" 'wakeReason', (SELECT w.reason FROM paperclip.agent_wakeup_requests w "
	"   WHERE w.id = r.wakeup_request_id), "
	" 'allowedCommands', $5::jsonb, 'allowedHttpHosts', $6::jsonb) || $7::jsonb AS spec",
	INT4OID, NAMEOID, TEXTOID, FLOAT8OID, TEXTOID, TEXTOID, TEXTOID);

/* $1 the caller's role: queued runs of its companies whose agent cannot run */
static PcPlan plan_blocked_runs = PC_PLAN(
	"SELECT r.id, a.status IN ('paused', 'terminated') AS not_invokable "
	"FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id, "
	"  (SELECT paperclip.visible_companies($1) AS c) companies "
	"WHERE r.status = 'queued' AND (a.status IN ('paused', 'terminated') "
	"  OR (a.budget_monthly_cents > 0 AND a.spent_monthly_cents >= a.budget_monthly_cents)) "
	"  AND (companies.c IS NULL OR r.company_id = ANY (companies.c)) "
	"ORDER BY r.created_at LIMIT " CppAsString2(GUARD_BATCH) " FOR NO KEY UPDATE OF r, a SKIP LOCKED",
	NAMEOID);

/* The calling role (the outer user), as the name visible_companies takes. */
static Datum
caller_role(void)
{
	return DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetOuterUserId(), false)));
}

/*
 * Queued runs of the caller's companies that can never start end as the
 * launcher ends them: cancelled (agent paused or terminated) or failed
 * budget_blocked, never retried.
 */
static void
guard_blocked_runs(Datum role)
{
	int			n = pc_exec(&plan_blocked_runs, &role, NULL, 0);
	SPITupleTable *tt = SPI_tuptable;
	Datum	   *ids = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *not_invokable = palloc(sizeof(bool) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = pc_getattr(i, "id", &isnull);
		not_invokable[i] = DatumGetBool(pc_getattr(i, "not_invokable", &isnull));
	}
	for (i = 0; i < n; i++)
	{
		(void) pc_end_unstartable_run(ids[i],
									  not_invokable[i] ? "Cancelled: agent is paused or terminated" : NULL,
									  PC_ERR_CANCELLED);
		pc_free_tuptable(SPI_tuptable);
	}
	pc_free_tuptable(tt);
}

/*
 * Record the n runs of the last result (heartbeat_runs rows) as started and
 * announce them; the result is left as it was.
 */
static void
record_started(int n)
{
	SPITupleTable *claimed = SPI_tuptable;
	Datum	   *ids;
	Datum		started[6] = {0, 0, 0, 0, 0, 0};
	bool		isnull;
	int			i;

	if (n == 0)
		return;
	ids = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		ids[i] = pc_getattr(i, "id", &isnull);
		pc_notify_run_status(i);
	}
	started[0] = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	pc_mark_runs_started(started, " nnnnn");
	SPI_tuptable = claimed;
	SPI_processed = n;
}

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

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "max_runs");
	v[0] = Int32GetDatum(Max(0, Min(PG_GETARG_INT32(0), MAX_CLAIM)));
	v[1] = caller_role();
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	(void) pc_cancel_blocked_issue_runs(v[1], false);
	n = pc_exec(&plan_claim, v, NULL, 0);
	record_started(n);
	pc_return_rows(fcinfo);
	SPI_finish();
	return (Datum) 0;
}

/*
 * paperclip.worker_claim_runs(worker_name, max_runs DEFAULT 1) RETURNS
 * TABLE(run_id uuid, spec jsonb): the runs this worker now holds, each with
 * a lease of paperclip.worker_lease, and the spec of its runner.
 */
Datum
paperclip_worker_claim_runs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		v[7];
	int			n;
	int			i;

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "worker_name");
	pc_check_not_null(fcinfo, 1, "max_runs");
	pc_check_length(fcinfo, 0, "worker_name", PC_MAX_NAME_BYTES);
	if (VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("worker_name must not be empty")));
	v[0] = Int32GetDatum(Max(0, Min(PG_GETARG_INT32(1), MAX_CLAIM)));
	v[1] = caller_role();
	v[2] = PG_GETARG_DATUM(0);
	v[3] = Float8GetDatum((double) pc_worker_lease_s);
	v[4] = CStringGetTextDatum(pc_json_list_of_guc(pc_allowed_commands));
	v[5] = CStringGetTextDatum(pc_json_list_of_guc(pc_allowed_http_hosts));
	v[6] = CStringGetTextDatum(pc_runner_settings_json());
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	(void) pc_cancel_blocked_issue_runs(v[1], false);
	n = pc_exec(&plan_worker_claim, v, NULL, 0);
	record_started(n);
	/*
	 * Fewer runs than asked: the queue may hold runs that can never start
	 * (a scan of every queued run; not needed while claims are served in
	 * full). They end now; the caller claims again when told of new runs.
	 */
	if (n < DatumGetInt32(v[0]))
	{
		SPITupleTable *claimed = SPI_tuptable;

		guard_blocked_runs(v[1]);
		SPI_tuptable = claimed;
		SPI_processed = n;
	}
	for (i = 0; i < n; i++)
	{
		Datum		out[2];
		bool		outnull[2] = {false, false};

		out[0] = pc_getattr(i, "id", &outnull[0]);
		out[1] = pc_getattr(i, "spec", &outnull[1]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnull);
	}
	SPI_finish();
	return (Datum) 0;
}
