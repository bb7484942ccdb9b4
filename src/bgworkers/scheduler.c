/*-------------------------------------------------------------------------
 * scheduler.c
 *	  The scheduler background worker, one per database that has the
 *	  extension (started by the supervisor): ticks interval timers, promotes due
 *	  retries, releases deferred wakes that committed after their run's end
 *	  (followups.c), classifies the liveness of finished runs and prunes what
 *	  paperclip.run_retention lets go, each unit of work in its own
 *	  transaction.
 *
 *	  It sleeps on its latch until the next deadline: the next timer due,
 *	  the next retry due, the next housekeeping pass, and at most
 *	  paperclip.timer_interval. finalize_run sets the latch at commit when it
 *	  schedules a retry, a deferred wake when it commits. It is a process of its own, so the launcher's work
 *	  never delays a tick and a tick never delays the launcher.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "paperclip.h"
#include "spi_util.h"
#include "bgworkers/bgworkers.h"

/* Ticks are at least this far apart: overdue busy agents coalesce once a second at most. */
#define MIN_TICK_SPACING_MS 1000
#define LIVENESS_INTERVAL_MS 2000
#define LIVENESS_BATCH 100
#define LIVENESS_MAX_BATCHES 10
#define RETENTION_INTERVAL_MS 60000
#define RETENTION_BATCH 1000
#define RETENTION_MAX_BATCHES 10
#define RETRY_BATCH 1000
#define RETRY_RECHECK_MS 1000
#define IDLE_CHECK_MS 5000
#define LEASE_BATCH 100

static MemoryContext loop_cxt = NULL;

/* the extension's version, if it is installed: 0 rows when it is not */
static PcPlan plan_extension_present = PC_PLAN(
	"SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'paperclip'");

/* $1 now: the next deadlines after it, and whether a due retry still waits */
static PcPlan plan_deadlines = PC_PLAN(
	"SELECT (SELECT min(timer_due_at) FROM paperclip.agents "
	"        WHERE timer_due_at > $1) AS next_timer, "
	"       (SELECT min(scheduled_retry_at) FROM paperclip.heartbeat_runs "
	"        WHERE status = 'scheduled_retry' AND scheduled_retry_at > $1) AS next_retry, "
	"       EXISTS (SELECT 1 FROM paperclip.heartbeat_runs "
	"        WHERE status = 'scheduled_retry' AND scheduled_retry_at <= $1) AS retry_waiting",
	TIMESTAMPTZOID);

typedef struct Deadlines
{
	TimestampTz next_timer;		/* 0: none */
	TimestampTz next_retry;		/* 0: none */
	bool		retry_waiting;
	TimestampTz next_lapse;		/* a paperclip_worker's lease; 0: none */
} Deadlines;

/* ----------------------------------------------------------------------
 * Units of work: each in its own transaction (pc_run_unit); an error is
 * logged and costs that pass only, which the scheduler tries again.
 * ----------------------------------------------------------------------
 */

/* What a failed unit showed: the database cannot be worked in as it is. */
static PcTrouble trouble = PC_TROUBLE_NONE;

static bool
scheduler_unit(const char *activity, PcUnitFn fn, void *arg)
{
	ErrorData  *edata;
	PcTrouble	t;

	if (pc_run_unit(activity, fn, arg, &edata))
		return true;
	if (pc_error_is_misconfiguration(edata, &t))
		trouble = t;
	FreeErrorData(edata);
	return false;
}

/* NULL when the extension is not installed, else its version (loop memory) */
static void
unit_extension_present(void *arg)
{
	*(char **) arg = pc_exec_row(&plan_extension_present, NULL, NULL) ?
		MemoryContextStrdup(loop_cxt, pc_getattr_cstring(0, "extversion")) : NULL;
}

static void
unit_tick(void *arg)
{
	TickCounts	counts;

	pc_tick_timers(TimestampTzGetDatum(GetCurrentTimestamp()), true, &counts);
	if (counts.enqueued + counts.skipped + counts.failed > 0)
		elog(DEBUG1, "paperclip scheduler: %d timer wakeup(s) enqueued, %d skipped, %d failed",
			 counts.enqueued, counts.skipped, counts.failed);
}

static void
unit_release(void *arg)
{
	*(int *) arg = pc_release_orphaned_deferrals(RETRY_BATCH);
}

static void
unit_promote(void *arg)
{
	*(int *) arg = pc_promote_due_retries(TimestampTzGetDatum(GetCurrentTimestamp()),
										  RETRY_BATCH);
}

/* runs whose paperclip_worker lost its lease fail as process_lost (leases.c) */
static void
unit_expire_leases(void *arg)
{
	*(int *) arg = pc_expire_worker_leases(LEASE_BATCH, (Datum) 0);
}

static void
unit_classify(void *arg)
{
	*(int *) arg = pc_classify_finished_runs(LIVENESS_BATCH, (double) pc_liveness_delay_s);
}

static void
unit_prune(void *arg)
{
	pc_prune_expired(RETENTION_BATCH, (PruneCounts *) arg);
}

static void
unit_deadlines(void *arg)
{
	Deadlines  *d = (Deadlines *) arg;
	Datum		now = TimestampTzGetDatum(GetCurrentTimestamp());
	bool		isnull;
	Datum		v;

	memset(d, 0, sizeof(*d));
	pc_exec_row(&plan_deadlines, &now, NULL);
	v = pc_getattr(0, "next_timer", &isnull);
	if (!isnull && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(v)))
		d->next_timer = DatumGetTimestampTz(v);
	v = pc_getattr(0, "next_retry", &isnull);
	if (!isnull && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(v)))
		d->next_retry = DatumGetTimestampTz(v);
	d->retry_waiting = DatumGetBool(pc_getattr(0, "retry_waiting", &isnull));
	d->next_lapse = pc_next_lease_expiry();
}

/* ----------------------------------------------------------------------
 * The passes
 * ----------------------------------------------------------------------
 */

static void
classify_finished_runs(void)
{
	int			i;

	for (i = 0; i < LIVENESS_MAX_BATCHES; i++)
	{
		int			n = 0;

		if (!scheduler_unit("paperclip scheduler: classifying run liveness", unit_classify, &n) ||
			n < LIVENESS_BATCH)
			break;
		pc_worker_check_interrupts();
	}
}

static void
prune_expired(void)
{
	int			i;

	for (i = 0; i < RETENTION_MAX_BATCHES; i++)
	{
		PruneCounts counts = {0};

		if (!scheduler_unit("paperclip scheduler: pruning", unit_prune, &counts))
			break;
		if (counts.runs > 0 || counts.wakeup_requests > 0)
			elog(DEBUG1, "paperclip scheduler: pruned %lld event(s) and %d log(s) of %d run(s), %lld wakeup request(s)",
				 (long long) counts.events, counts.log_files, counts.runs,
				 (long long) counts.wakeup_requests);
		if (counts.runs < RETENTION_BATCH && counts.wakeup_requests < RETENTION_BATCH)
			break;
		pc_worker_check_interrupts();
	}
}

static void
expire_leases(void)
{
	int			n;

	do
	{
		n = 0;
		if (!scheduler_unit("paperclip scheduler: expiring worker leases", unit_expire_leases, &n))
			break;
	} while (n == LEASE_BATCH && !ShutdownRequestPending);
}

static TimestampTz
earliest(TimestampTz a, TimestampTz b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return Min(a, b);
}

static void
sleep_until(TimestampTz wake_at)
{
	long		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), wake_at);

	/*
	 * A wake raised during the pass (a nudge after DROP EXTENSION, a retry
	 * scheduled) may have had its SetLatch consumed by a lock wait inside a
	 * unit: the flag, not the latch, says whether to sleep.
	 */
	if (ms > 0 && pg_atomic_read_u32(&MyWorkerSlot->wake) == 0)
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	pc_worker_check_interrupts();
}

void
paperclip_scheduler_main(Datum arg)
{
	sigjmp_buf	local_sigjmp_buf;
	static TimestampTz next_tick = 0;	/* static: kept across an error's longjmp */
	static TimestampTz next_liveness = 0;
	static TimestampTz next_retention = 0;

	pc_worker_start(PC_WORKER_SCHEDULER);
	ereport(LOG, (errmsg("paperclip scheduler started in database \"%s\"", pc_worker_database())));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "paperclip scheduler loop",
									 ALLOCSET_DEFAULT_SIZES);

	/* an ERROR outside every unit of work lands here: logged, then go on */
	if (sigsetjmp(local_sigjmp_buf, 1) != 0)
	{
		MemoryContextSwitchTo(loop_cxt);
		pc_worker_recover();
	}
	PG_exception_stack = &local_sigjmp_buf;

	for (;;)
	{
		TimestampTz now;
		TimestampTz wake_at;
		Deadlines	d = {0};
		char	   *present = NULL;
		int			promoted = 0;
		int			released = 0;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		pc_worker_check_interrupts();
		if (ConfigReloadPending)
		{
			pc_worker_reload_config();
			/* settings may have changed: every pass looks again now */
			next_tick = next_liveness = next_retention = 0;
		}
		(void) pc_worker_take_wake();

		if (!pc_scheduler_enabled)
		{
			sleep_until(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), IDLE_CHECK_MS));
			continue;
		}
		trouble = PC_TROUBLE_NONE;
		if (scheduler_unit("paperclip scheduler: looking for the extension",
						   unit_extension_present, &present))
		{
			if (present == NULL)
				trouble = PC_TROUBLE_NO_EXTENSION;
			else if (strcmp(present, PC_EXTVERSION) != 0)
				/* until ALTER EXTENSION paperclip UPDATE, the schema is not the library's */
				trouble = PC_TROUBLE_OLD_EXTENSION;
			else
			{
				pc_worker_resolved(PC_TROUBLE_NO_EXTENSION);
				pc_worker_resolved(PC_TROUBLE_OLD_EXTENSION);
			}
		}
		if (trouble != PC_TROUBLE_NONE)
		{
			pc_worker_back_off(trouble, trouble == PC_TROUBLE_OLD_EXTENSION ?
							   psprintf("extension \"paperclip\" in database \"%s\" is version %s, its library %s",
										pc_worker_database(), present, PC_EXTVERSION) : NULL);
			continue;
		}

		now = GetCurrentTimestamp();
		if (now >= next_tick)
		{
			/* a failed tick is tried again a second later, not an interval later */
			if (scheduler_unit("paperclip scheduler: ticking timers", unit_tick, NULL))
				next_tick = TimestampTzPlusMilliseconds(now, pc_timer_interval_s * 1000L);
			else
				next_tick = TimestampTzPlusMilliseconds(now, MIN_TICK_SPACING_MS);
		}
		if (scheduler_unit("paperclip scheduler: promoting due retries", unit_promote, &promoted))
			pc_worker_working();
		if (scheduler_unit("paperclip scheduler: releasing deferred wakes", unit_release, &released))
			pc_worker_working();
		expire_leases();
		if (now >= next_liveness)
		{
			classify_finished_runs();
			next_liveness = TimestampTzPlusMilliseconds(now, LIVENESS_INTERVAL_MS);
		}
		if (now >= next_retention)
		{
			prune_expired();
			next_retention = TimestampTzPlusMilliseconds(now, RETENTION_INTERVAL_MS);
		}
		if (trouble != PC_TROUBLE_NONE)
		{
			pc_worker_back_off(trouble, NULL);
			continue;
		}

		/* sleep until the next deadline; ticks stay a second apart at least */
		if (!scheduler_unit("paperclip scheduler: reading deadlines", unit_deadlines, &d))
			d.next_timer = d.next_retry = 0;
		if (d.next_timer != 0)
			next_tick = Min(next_tick,
							Max(d.next_timer, TimestampTzPlusMilliseconds(now, MIN_TICK_SPACING_MS)));
		wake_at = earliest(earliest(next_tick, next_liveness), next_retention);
		wake_at = earliest(wake_at, d.next_retry);
		/* a lease is expired once past: wake just after it (a locked one: soon) */
		if (d.next_lapse != 0)
			wake_at = earliest(wake_at, d.next_lapse < now ?
							   TimestampTzPlusMilliseconds(now, RETRY_RECHECK_MS) :
							   TimestampTzPlusMilliseconds(d.next_lapse, 1));
		if (d.retry_waiting)
			wake_at = Min(wake_at, TimestampTzPlusMilliseconds(now, RETRY_RECHECK_MS));
		sleep_until(wake_at);
	}
}
