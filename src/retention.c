/*-------------------------------------------------------------------------
 * retention.c
 *	  Owns retention: runs finished longer than paperclip.run_retention ago
 *	  lose their events and their logs (rows of paperclip.run_log_chunks,
 *	  or files of a file store; the run rows stay: they carry the
 *	  accounting), and wakeup requests in a terminal state that long lose
 *	  their rows. Bounded batches; nothing queued, running or scheduled is
 *	  ever pruned.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "paperclip.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_prune_expired);

#define ACTIVE_STATUSES "('queued', 'running', 'scheduled_retry')"

/* $1 retention in seconds, $2 batch size */
static PcPlan plan_expired_runs = PC_PLAN(
	"SELECT id, company_id, log_store FROM paperclip.heartbeat_runs "
	"WHERE pruned_at IS NULL AND finished_at IS NOT NULL "
	"AND finished_at < now() - make_interval(secs => $1) "
	"AND status NOT IN " ACTIVE_STATUSES " "
	"ORDER BY finished_at LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED",
	FLOAT8OID, INT4OID);

static PcPlan plan_delete_events = PC_PLAN(
	"DELETE FROM paperclip.heartbeat_run_events WHERE run_id = ANY ($1)",
	UUIDARRAYOID);

/* $1 runs: their logs' rows; the runs whose log had any */
static PcPlan plan_delete_log_rows = PC_PLAN(
	"WITH d AS (DELETE FROM paperclip.run_log_chunks c USING paperclip.heartbeat_runs r "
	" WHERE r.id = ANY ($1) AND c.company_id = r.company_id AND c.run_id = r.id "
	" RETURNING c.run_id) SELECT count(DISTINCT run_id) AS runs FROM d",
	UUIDARRAYOID);

static PcPlan plan_mark_pruned = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET pruned_at = now(), log_store = NULL, "
	" log_ref = NULL, updated_at = now() WHERE id = ANY ($1)",
	UUIDARRAYOID);

static PcPlan plan_delete_requests = PC_PLAN(
	"DELETE FROM paperclip.agent_wakeup_requests WHERE id IN ("
	" SELECT w.id FROM paperclip.agent_wakeup_requests w "
	" WHERE w.finished_at IS NOT NULL "
	" AND w.finished_at < now() - make_interval(secs => $1) "
	" AND w.status IN ('coalesced', 'skipped', 'completed', 'failed', 'cancelled', 'timed_out') "
	" AND NOT EXISTS (SELECT 1 FROM paperclip.heartbeat_runs r "
	"   WHERE r.wakeup_request_id = w.id AND r.status IN " ACTIVE_STATUSES ") "
	" ORDER BY w.finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
	FLOAT8OID, INT4OID);

/*
 * Remove a run's log file (a file store's): the one its company and id
 * name (runlog.c), never what a log_ref says. One already gone is fine (a
 * pass that rolled back removed it).
 */
static bool
remove_log(const char *store, const char *company_id, const char *run_id)
{
	char	   *path;

	if (store == NULL ||
		(strcmp(store, PC_LOG_STORE_FILE) != 0 && strcmp(store, PC_LOG_STORE_LEGACY) != 0))
		return false;
	path = pc_run_log_path(company_id, run_id, false);
	if (unlink(path) == 0)
		return true;
	if (errno != ENOENT)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not remove run log \"%s\": %m", path)));
	return false;
}

/* One batch of each kind. Needs SPI. */
void
pc_prune_expired(int batch_size, PruneCounts *counts)
{
	Datum		args[2] = {Float8GetDatum((double) pc_run_retention_s), Int32GetDatum(batch_size)};
	int			n;
	int			i;

	memset(counts, 0, sizeof(*counts));
	n = pc_exec(&plan_expired_runs, args, NULL, 0);
	if (n > 0)
	{
		Datum	   *ids = palloc(sizeof(Datum) * n);
		char	  **stores = palloc(sizeof(char *) * n);
		char	  **companies = palloc(sizeof(char *) * n);
		char	  **runs = palloc(sizeof(char *) * n);
		Datum		arr;
		bool		isnull;

		for (i = 0; i < n; i++)
		{
			ids[i] = pc_getattr(i, "id", &isnull);
			stores[i] = pc_getattr_cstring(i, "log_store");
			companies[i] = pc_getattr_cstring(i, "company_id");
			runs[i] = pc_getattr_cstring(i, "id");
		}
		arr = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
		counts->events = pc_exec(&plan_delete_events, &arr, NULL, 0);
		pc_exec(&plan_delete_log_rows, &arr, NULL, 0);
		counts->log_files = (int) DatumGetInt64(pc_getattr(0, "runs", &isnull));
		pc_exec(&plan_mark_pruned, &arr, NULL, 0);
		counts->runs = n;
		/* files last: they cannot roll back, a later pass finds them gone */
		for (i = 0; i < n; i++)
			if (remove_log(stores[i], companies[i], runs[i]))
				counts->log_files++;
	}
	counts->wakeup_requests = pc_exec(&plan_delete_requests, args, NULL, 0);
}

/*
 * paperclip.prune_expired(batch_size DEFAULT 1000) RETURNS TABLE(runs,
 * events, log_files, wakeup_requests): one retention batch, as the
 * scheduler runs them.
 */
Datum
paperclip_prune_expired(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PruneCounts counts;
	Datum		out[4];
	bool		outnull[4] = {false, false, false, false};

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "batch_size");
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	pc_check_all_companies("prune_expired");
	pc_prune_expired(Max(1, Min(PG_GETARG_INT32(0), 100000)), &counts);
	SPI_finish();

	out[0] = Int32GetDatum(counts.runs);
	out[1] = Int64GetDatum(counts.events);
	out[2] = Int32GetDatum(counts.log_files);
	out[3] = Int64GetDatum(counts.wakeup_requests);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnull);
	return (Datum) 0;
}
