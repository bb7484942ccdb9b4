/*-------------------------------------------------------------------------
 * extension_drop.c
 *	  What DROP EXTENSION paperclip abandons, said plainly. The event trigger
 *	  paperclip_drop_watch (ddl_command_start of DROP EXTENSION and DROP
 *	  SCHEMA) counts the runs in flight while their table still exists; when
 *	  the dropping transaction commits with the extension gone, the client
 *	  gets one WARNING and the server log one LOG line with the counts, and
 *	  the launcher is woken: it notices the extension is gone and terminates
 *	  the runners of its runs (launcher.c, abandon_runners).
 *
 *	  Counting happens before the drop, reporting only at commit: a DROP
 *	  that fails, or is rolled back, reports nothing.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/elog.h"

#include "paperclip.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_on_drop);

/* Runs in flight counted before a drop of the extension, reported at commit. */
typedef struct DropReport
{
	bool		pending;
	Oid			extension;		/* the extension being dropped */
	int64		running;
	int64		queued;
	int64		retries;		/* scheduled retries */
} DropReport;

static DropReport report = {0};
static bool callback_registered = false;

/*
 * Whether a DROP statement names the extension, or its schema (which the
 * control file fixes: paperclip too).
 */
static bool
drops_extension(Node *parsetree)
{
	DropStmt   *stmt;
	ListCell   *lc;

	if (parsetree == NULL || !IsA(parsetree, DropStmt))
		return false;
	stmt = (DropStmt *) parsetree;
	if (stmt->removeType != OBJECT_EXTENSION && stmt->removeType != OBJECT_SCHEMA)
		return false;
	foreach(lc, stmt->objects)
	{
		Node	   *object = lfirst(lc);

		if (IsA(object, String) && strcmp(strVal(object), "paperclip") == 0)
			return true;
	}
	return false;
}

static void
count_runs_in_flight(void *arg)
{
	DropReport *r = (DropReport *) arg;
	bool		isnull;

	if (SPI_execute("SELECT count(*) FILTER (WHERE status = 'running'), "
					"       count(*) FILTER (WHERE status = 'queued'), "
					"       count(*) FILTER (WHERE status = 'scheduled_retry') "
					"  FROM paperclip.heartbeat_runs "
					" WHERE status IN ('running', 'queued', 'scheduled_retry')",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count the runs in flight");
	r->running = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	r->queued = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	r->retries = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
}

/*
 * At commit: if the extension counted is gone, report what went with it and
 * wake the launcher, which terminates the runners.
 */
static void
drop_xact_callback(XactEvent event, void *arg)
{
	if (!report.pending)
		return;
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT)
	{
		char	   *counts;

		if (get_extension_oid("paperclip", true) == report.extension)
			return;				/* not dropped after all (e.g. a savepoint rolled back) */
		if (pc_registry_attached())
			pc_wake_launcher_at_commit();
		if (report.running + report.queued + report.retries == 0)
			return;
		counts = psprintf(INT64_FORMAT " running, " INT64_FORMAT " queued, "
						  INT64_FORMAT " scheduled for retry",
						  report.running, report.queued, report.retries);
		ereport(LOG_SERVER_ONLY,
				(errmsg("extension \"paperclip\" dropped with runs in flight: %s", counts),
				 errhidestmt(true)));
		ereport(WARNING_CLIENT_ONLY,
				(errmsg("extension \"paperclip\" dropped with runs in flight: %s", counts),
				 errdetail("Those runs are gone with the extension: the launcher terminates "
						   "the running runs' agents; queued runs and retries never start."),
				 errhint("Before dropping the extension, cancel runs with "
						 "paperclip.cancel_active_for_agent() or let them finish.")));
	}
	else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
			 event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		report.pending = false;
}

/*
 * paperclip.on_drop() RETURNS event_trigger: before DROP EXTENSION or DROP
 * SCHEMA, count the runs in flight if the statement drops this extension.
 * Never stops the drop: a count that fails is reported as a LOG line.
 */
Datum
paperclip_on_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Oid			extension;
	ErrorData  *edata;
	DropReport	counted = {0};

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("paperclip.on_drop() may only be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	extension = get_extension_oid("paperclip", true);
	if (!OidIsValid(extension) || !drops_extension(trigdata->parsetree))
		PG_RETURN_VOID();

	SPI_connect();
	edata = pc_try_subxact(count_runs_in_flight, &counted);
	SPI_finish();
	if (edata != NULL)
	{
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		ereport(LOG,
				(errmsg("could not count the runs abandoned by dropping extension \"paperclip\": %s",
						edata->message)));
	}

	if (!callback_registered)
	{
		RegisterXactCallback(drop_xact_callback, NULL);
		callback_registered = true;
	}
	report = counted;
	report.extension = extension;
	report.pending = true;
	PG_RETURN_VOID();
}
