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
 *	  Called by finalize_run and cancel_run (runs.c) with the ended run
 *	  locked FOR UPDATE: a deferral locks that run FOR KEY SHARE (wakeup.c),
 *	  so every deferral of it has committed before this reads them, and none
 *	  can follow. The requests are locked too, so a release runs once.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "paperclip.h"
#include "run_state.h"
#include "spi_util.h"

/* The deferred requests of a run, oldest first, and the agent's status. */
static PcPlan plan_deferred = PC_PLAN(
	"SELECT q.id, a.status AS agent_status FROM paperclip.agent_wakeup_requests q "
	"JOIN paperclip.agents a ON a.id = q.agent_id "
	"WHERE q.company_id = $1 AND q.agent_id = $2 AND q.status = '" PC_WAKEUP_DEFERRED "' "
	"AND q.run_id = $3 ORDER BY q.requested_at, q.id FOR UPDATE OF q",
	UUIDOID, UUIDOID, UUIDOID);

static PcPlan plan_cancel_deferred = PC_PLAN(
	"UPDATE paperclip.agent_wakeup_requests SET status = '" PC_WAKEUP_CANCELLED "', "
	" finished_at = now(), error = $2, updated_at = now() "
	"WHERE id = ANY($1) RETURNING id, company_id, agent_id, run_id, status",
	UUIDARRAYOID, TEXTOID);

static PcPlan plan_scheduled_retry = PC_PLAN(
	"SELECT id FROM paperclip.heartbeat_runs "
	"WHERE company_id = $1 AND agent_id = $2 AND status = '" PC_RUN_SCHEDULED_RETRY "' "
	"ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
	UUIDOID, UUIDOID);

/* $1 the deferred requests, in arrival order by their requested_at */
#define MERGED_CONTEXT \
	"SELECT paperclip.wake_context_agg(q.context_snapshot, q.reason " \
	" ORDER BY q.requested_at, q.id) AS c FROM paperclip.agent_wakeup_requests q " \
	"WHERE q.id = ANY($1)"

/* $1 the deferred requests, $2 the agent's scheduled retry (locked) */
static PcPlan plan_fold_into_retry = PC_PLAN(
	"WITH c AS (" MERGED_CONTEXT "), "
	"promoted AS (UPDATE paperclip.heartbeat_runs r SET status = '" PC_RUN_QUEUED "', updated_at = now(), "
	"  context_snapshot = paperclip.wake_context_merge(r.context_snapshot, c.c) "
	"  FROM c WHERE r.id = $2 AND " PC_NO_INDEX("r.status") " = '" PC_RUN_SCHEDULED_RETRY "' "
	"  RETURNING r.*), "
	"u AS (UPDATE paperclip.agent_wakeup_requests q SET status = '" PC_WAKEUP_COALESCED "', "
	"  coalesced_count = 1, run_id = promoted.id, finished_at = now(), updated_at = now() "
	"  FROM promoted WHERE q.id = ANY($1)) "
	"SELECT * FROM promoted",
	UUIDARRAYOID, UUIDOID);

/*
 * $1 the deferred requests (first = oldest): the follow-up run, with the
 * first request as its own (queued) and the others coalesced into it.
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

/*
 * The agent has an active run already (it cannot, while the ended run held
 * the one-active-run slot; should it ever): the requests wait for that one.
 */
static PcPlan plan_relink_deferred = PC_PLAN(
	"UPDATE paperclip.agent_wakeup_requests SET run_id = "
	" (SELECT r.id FROM paperclip.heartbeat_runs r WHERE r.company_id = $2 AND r.agent_id = $3 "
	"  AND r.status IN ('queued', 'running')), updated_at = now() "
	"WHERE id = ANY($1)",
	UUIDARRAYOID, UUIDOID, UUIDOID);

/* Announce each released request; SPI_tuptable is kept. */
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
 * Release the deferred requests of a run that just ended (see the header).
 * Needs SPI; the caller's SPI result is kept. cancel: cancel them whatever
 * the agent's status.
 */
void
pc_release_deferred(Datum run_id, Datum company_id, Datum agent_id, bool cancel)
{
	SPITupleTable *saved = SPI_tuptable;
	uint64		saved_processed = SPI_processed;
	Datum		v[3] = {company_id, agent_id, run_id};
	Datum	   *ids;
	Datum		array;
	char	   *company = DatumGetCString(DirectFunctionCall1(uuid_out, company_id));
	char	   *agent = DatumGetCString(DirectFunctionCall1(uuid_out, agent_id));
	char	   *agent_status;
	bool		isnull;
	int			n;
	int			i;

	n = pc_exec(&plan_deferred, v, NULL, 0);
	if (n == 0)
		goto done;
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
		announce_requests(ids, n, company, agent, NULL, PC_WAKEUP_CANCELLED, PC_WAKEUP_CANCELLED);
		goto done;
	}

	/* the news folds into the agent's scheduled retry, if it has a live one */
	(void) pc_cancel_stale_retries_of_agent(company_id, agent_id);
	if (pc_exec_row(&plan_scheduled_retry, v, NULL))
	{
		Datum		f[2] = {array, pc_getattr(0, "id", &isnull)};

		if (pc_exec_row(&plan_fold_into_retry, f, NULL))
		{
			pc_notify_run_queued(0);
			pc_wake_launcher_at_commit();
			announce_requests(ids, n, company, agent, pc_getattr_cstring(0, "id"),
							  PC_WAKEUP_COALESCED, PC_WAKEUP_COALESCED);
			goto done;
		}
	}

	if (pc_exec_row(&plan_follow_up, &array, NULL))
	{
		pc_notify_run_queued(0);
		pc_wake_launcher_at_commit();
		announce_requests(ids, n, company, agent, pc_getattr_cstring(0, "id"),
						  PC_WAKEUP_QUEUED, PC_WAKEUP_COALESCED);
	}
	else
	{
		Datum		r[3] = {array, company_id, agent_id};

		ereport(WARNING,
				(errmsg("paperclip: agent %s already has an active run; %d deferred wakeup(s) now wait for it",
						agent, n)));
		pc_exec(&plan_relink_deferred, r, NULL, 0);
	}

done:
	SPI_tuptable = saved;
	SPI_processed = saved_processed;
}
