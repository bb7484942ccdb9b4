/*-------------------------------------------------------------------------
 * common.c
 *	  What every background worker of paperclip does alike: its session
 *	  settings, and one unit of work in its own transaction, whose error is
 *	  logged and costs that unit only.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "bgworkers/bgworkers.h"

/*
 * Session settings of the workers. They resolve names with pg_catalog
 * first and nothing a user can create: their queries qualify everything of
 * ours.
 */
void
pc_worker_session_settings(void)
{
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * A worker keeps its plans for its whole life, and makes them when it
	 * starts: on a new install, against empty tables, where a sequential
	 * scan looks cheapest. Every query of the workers reads by key or
	 * through a partial index, so plan them that way from the start.
	 */
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/* the same statements run thousands of times: plan each once */
	SetConfigOption("plan_cache_mode", "force_generic_plan", PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * Run fn(arg) as one unit of work in its own transaction; an error is
 * logged and the worker goes on with the next unit. False on error.
 */
bool
pc_run_unit(const char *activity, PcUnitFn fn, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, activity);
		fn(arg);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}
