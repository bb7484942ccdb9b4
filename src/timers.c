/*-------------------------------------------------------------------------
 * timers.c
 *	  Owns interval timers: paperclip.tick_timers, and the immutable
 *	  paperclip.timer_due_at that keeps each agent's next deadline in an
 *	  indexed generated column, so a tick reads only the agents due.
 *	  Since 0.2 an agent in error has no deadline (it gets no timer wakes
 *	  until another wake clears the error): paperclip.timer_due_at is bound
 *	  to paperclip_timer_due_at_v2; 0.1 keeps its own function, so the
 *	  stored column of a database not yet upgraded never changes meaning.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/uuid.h"
#include "utils/timestamp.h"

#include "json_util.h"
#include "paperclip.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_timer_due_at);
PG_FUNCTION_INFO_V1(paperclip_timer_due_at_v2);
PG_FUNCTION_INFO_V1(paperclip_tick_timers);

/* kept by triggers on agents: no need to read every timer */
static PcPlan plan_count_timers = PC_PLAN(
	"SELECT agents::int AS n FROM paperclip.timer_agents");

static PcPlan plan_due_agents = PC_PLAN(
	"SELECT id FROM paperclip.agents WHERE timer_due_at <= $1 ORDER BY timer_due_at",
	TIMESTAMPTZOID);

static PcPlan plan_timer_context = PC_PLAN(
	"SELECT jsonb_build_object('source', 'scheduler', 'reason', 'interval_elapsed', "
	"'now', to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) AS ctx",
	TIMESTAMPTZOID);

/*
 * paperclip.timer_due_at(status, runtime_config, last_heartbeat_at)
 * RETURNS timestamptz: null without a timer, -infinity if never beaten.
 */
static Datum
timer_due_at(FunctionCallInfo fcinfo, bool error_has_timer)
{
	char	   *status;
	Jsonb	   *config;
	JsonbContainer *hb;
	double		interval_sec;
	TimestampTz last;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	status = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strcmp(status, "paused") == 0 || strcmp(status, "terminated") == 0 ||
		(!error_has_timer && strcmp(status, "error") == 0))
		PG_RETURN_NULL();

	config = PG_GETARG_JSONB_P(1);
	hb = pc_json_get_object(&config->root, "heartbeat");
	if (!pc_json_bool_or(hb, "enabled", true))
		PG_RETURN_NULL();
	interval_sec = pc_json_number_or(hb, "intervalSec", 0);
	if (!(interval_sec > 0))
		PG_RETURN_NULL();

	if (PG_ARGISNULL(2))
		PG_RETURN_TIMESTAMPTZ(DT_NOBEGIN);
	last = PG_GETARG_TIMESTAMPTZ(2);
	if (TIMESTAMP_NOT_FINITE(last))
		PG_RETURN_TIMESTAMPTZ(last);
	/* whole microseconds; a deadline past the representable range never comes */
	if (interval_sec * USECS_PER_SEC >= (double) (END_TIMESTAMP - last))
		PG_RETURN_TIMESTAMPTZ(DT_NOEND);
	PG_RETURN_TIMESTAMPTZ(last + (int64) (interval_sec * USECS_PER_SEC));
}

/* 0.1: agents in error keep their timer */
Datum
paperclip_timer_due_at(PG_FUNCTION_ARGS)
{
	return timer_due_at(fcinfo, true);
}

/* 0.2: agents in error get no timer wakes */
Datum
paperclip_timer_due_at_v2(PG_FUNCTION_ARGS)
{
	return timer_due_at(fcinfo, false);
}

typedef struct TickOne
{
	WakeupRequest *req;
	bool		run;
} TickOne;

static void
enqueue_one(void *arg)
{
	TickOne    *t = (TickOne *) arg;

	t->run = pc_enqueue_wakeup(t->req);
}

/*
 * One timer wakeup, counted. With isolate_failures (the scheduler) it runs
 * in a subtransaction, so one agent's error costs that agent's wakeup, not
 * the tick: it is logged and counted as failed.
 */
static void
tick_one(WakeupRequest *req, bool isolate_failures, TickCounts *counts)
{
	TickOne		t = {req, false};
	ErrorData  *edata = NULL;

	if (!isolate_failures)
		t.run = pc_enqueue_wakeup(req);
	else if ((edata = pc_try_subxact(enqueue_one, &t)) != NULL)
	{
		ereport(WARNING,
				(errmsg("paperclip scheduler: timer wakeup of agent %s failed: %s",
						DatumGetCString(DirectFunctionCall1(uuid_out, req->agent_id)),
						edata->message)));
		counts->failed++;
		return;
	}
	if (t.run)
	{
		counts->enqueued++;
		/* the run it returns: nobody reads it, and ticks loop over many agents */
		pc_free_tuptable(SPI_tuptable);
	}
	else
		counts->skipped++;
}

/*
 * A timer wakeup for every agent due at "now". Needs SPI. Reads the due
 * agents through the timer_due_at index and "checked" from the count the
 * agents' triggers keep: the cost grows with agents due.
 */
void
pc_tick_timers(Datum now, bool isolate_failures, TickCounts *counts)
{
	int			ndue;
	Datum	   *due;
	Datum		context;
	MemoryContext tick_cxt;
	MemoryContext old;
	bool		isnull;
	int			i;

	memset(counts, 0, sizeof(*counts));
	pc_exec_row(&plan_count_timers, NULL, NULL);
	counts->checked = DatumGetInt32(pc_getattr(0, "n", &isnull));

	pc_exec_row(&plan_timer_context, &now, NULL);
	context = pc_getattr(0, "ctx", &isnull);

	ndue = pc_exec(&plan_due_agents, &now, NULL, 0);
	due = palloc(sizeof(Datum) * Max(ndue, 1));
	for (i = 0; i < ndue; i++)
		due[i] = pc_getattr(i, "id", &isnull);

	tick_cxt = AllocSetContextCreate(CurrentMemoryContext, "paperclip tick",
									 ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < ndue; i++)
	{
		WakeupRequest req = {0};

		old = MemoryContextSwitchTo(tick_cxt);
		req.agent_id = due[i];
		req.source = "timer";
		req.trigger_detail = "system";
		req.reason = CStringGetTextDatum("heartbeat_timer");
		req.payload_null = true;
		req.idempotency_key_null = true;
		req.actor_type = "system";
		req.actor_id = CStringGetTextDatum("heartbeat_scheduler");
		req.context_snapshot = context;
		req.quiet_if_not_invokable = true;
		tick_one(&req, isolate_failures, counts);
		MemoryContextSwitchTo(old);
		MemoryContextReset(tick_cxt);
	}
	MemoryContextDelete(tick_cxt);
}

/*
 * paperclip.tick_timers(now DEFAULT now()) RETURNS TABLE(checked, enqueued,
 * skipped): a timer wakeup for every agent whose interval has elapsed.
 */
Datum
paperclip_tick_timers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TickCounts	counts;
	Datum		out[3];
	bool		outnull[3] = {false, false, false};

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "now");
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	pc_check_all_companies("tick_timers");
	pc_tick_timers(PG_GETARG_DATUM(0), false, &counts);
	SPI_finish();

	out[0] = Int32GetDatum(counts.checked);
	out[1] = Int32GetDatum(counts.enqueued);
	out[2] = Int32GetDatum(counts.skipped);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnull);
	return (Datum) 0;
}
