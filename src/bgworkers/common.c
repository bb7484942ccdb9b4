/*-------------------------------------------------------------------------
 * common.c
 *	  The life of every paperclip launcher and scheduler, modelled on
 *	  worker_spi: its start (signals, its slot in the registry, the
 *	  connection to the database the supervisor started it for, session
 *	  settings), one unit of work in its own transaction whose error costs
 *	  that unit only, its interrupts, recovery from an error outside any
 *	  unit, the back-off from a misconfiguration, and its exit.
 *
 *	  SIGTERM is PostgreSQL's die(): the worker ends with FATAL (exit code
 *	  1) at its next CHECK_FOR_INTERRUPTS, and the supervisor starts it
 *	  again after PC_LAUNCHER_RESTART_MS or PC_SCHEDULER_RESTART_MS (the
 *	  slot says WANTED) unless the server is shutting down; so
 *	  pg_terminate_backend() restarts a worker. A query cancel
 *	  (pg_cancel_backend) cancels the unit of work in progress, which is
 *	  rolled back, logged and retried; between units it cancels nothing.
 *	  A worker whose database lost the extension, or is no longer to be
 *	  served, exits with code 0 and says so in its slot (pc_worker_exit).
 *
 *	  A misconfiguration (a database that refuses connections, a read-only
 *	  database, an unusable directory) is reported once, with a message
 *	  naming paperclip, and waited out: at least PC_BACKOFF_MIN_MS between
 *	  attempts, growing to PC_BACKOFF_MAX_MS. The registry slot remembers
 *	  what was reported, so a restarted worker does not say it again.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
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

#include "bgworkers/bgworkers.h"

PcWorkerSlot *MyWorkerSlot = NULL;

static PcWorkerKind my_kind;
static Oid	my_database = InvalidOid;
static bool connecting = false;
static bool exit_said = false;	/* pc_worker_exit chose what the slot says */
static bool found_extension = false;	/* this worker served its database */
static PcSlotState exit_state = PC_SLOT_WANTED;
static emit_log_hook_type prev_emit_log_hook = NULL;

static const char *const worker_names[PC_WORKER_KINDS] = {
	"paperclip launcher", "paperclip scheduler"
};

const char *
pc_worker_name(void)
{
	return worker_names[my_kind];
}

/* The name of the database this worker serves, for messages. */
const char *
pc_worker_database(void)
{
	if (MyWorkerSlot != NULL && NameStr(MyWorkerSlot->dbname)[0] != '\0')
		return NameStr(MyWorkerSlot->dbname);
	return psprintf("%u", my_database);
}

/* How long to wait before trying again: doubles with each back-off in a row. */
static long
backoff_ms(void)
{
	uint32		n = MyWorkerSlot ? pg_atomic_read_u32(&MyWorkerSlot->backoffs) : 0;
	long		ms = PC_BACKOFF_MIN_MS;

	while (n-- > 0 && ms < PC_BACKOFF_MAX_MS)
		ms *= 2;
	return Min(ms, PC_BACKOFF_MAX_MS);
}

/* Sleep on the latch for ms; a wake of this worker ends it early. */
static void
wait_ms(long ms, bool wake_ends_it)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);

		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		pc_worker_check_interrupts();
		if (ConfigReloadPending)
			break;
		if (wake_ends_it && MyWorkerSlot != NULL &&
			pg_atomic_read_u32(&MyWorkerSlot->wake) != 0)
			break;
	}
}

/*
 * While the worker connects, a failure to connect (FATAL: the database
 * went, or refuses connections) is logged the first time, naming the
 * worker; later ones (the worker is restarted) are not. The supervisor
 * stops starting workers for a database that went or refuses connections.
 */
static void
connect_failure_hook(ErrorData *edata)
{
	if (connecting && edata->elevel >= ERROR && MyWorkerSlot != NULL)
	{
		if (pg_atomic_exchange_u32(&MyWorkerSlot->trouble, PC_TROUBLE_NO_DATABASE) ==
			PC_TROUBLE_NO_DATABASE)
			edata->output_to_server = false;	/* said already */
		else
		{
			char	   *context = psprintf("%s connecting to database \"%s\"; "
										   "it tries again every %d s or more",
										   pc_worker_name(), pc_worker_database(),
										   PC_BACKOFF_MIN_MS / 1000);

			edata->message = psprintf("%s: %s", pc_worker_name(), edata->message);
			edata->context = edata->context ?
				psprintf("%s\n%s", edata->context, context) : context;
		}
		pg_atomic_fetch_add_u32(&MyWorkerSlot->backoffs, 1);
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * The slot says what becomes of the worker: what pc_worker_exit chose, or
 * else (an error, SIGTERM) to be started again after its restart delay.
 */
static void
worker_exit(int code, Datum arg)
{
	if (MyWorkerSlot != NULL)
		pc_registry_release(MyWorkerSlot, exit_said ? exit_state : PC_SLOT_WANTED,
							my_kind == PC_WORKER_LAUNCHER ? PC_LAUNCHER_RESTART_MS
							: PC_SCHEDULER_RESTART_MS);
}

/*
 * Exit cleanly (code 0), the slot saying what becomes of the worker: next
 * is PC_SLOT_ABSENT (its database has no extension: started again when it
 * is created there), PC_SLOT_IDLE (not served any more) or PC_SLOT_WANTED.
 */
void
pc_worker_exit(PcSlotState next)
{
	exit_said = true;
	exit_state = next;
	proc_exit(0);
}

/* The name of the database we are connected to, into the slot. */
static void
name_database(void)
{
	char	   *name;

	StartTransactionCommand();
	name = get_database_name(MyDatabaseId);
	if (name != NULL)
		pc_registry_named(MyWorkerSlot, name);
	CommitTransactionCommand();
}

/*
 * The prologue of a worker: signals as worker_spi's, the registry slot of
 * its kind for the database the supervisor started it for (bgw_main_arg;
 * a second worker for it exits, and so does one for a database a backend
 * holds), the connection, session settings.
 */
void
pc_worker_start(PcWorkerKind kind)
{
	PcClaimRefusal refusal;
	pid_t		holder;

	my_kind = kind;
	my_database = DatumGetObjectId(MyBgworkerEntry->bgw_main_arg);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	MyWorkerSlot = pc_registry_claim(kind, my_database, &refusal, &holder);
	if (MyWorkerSlot == NULL)
	{
		if (refusal == PC_CLAIM_DUPLICATE)
			ereport(LOG,
					(errmsg("%s for database %u is already running (PID %d); this one exits",
							pc_worker_name(), my_database, (int) holder)));
		else if (refusal == PC_CLAIM_HELD)
			ereport(DEBUG1,
					(errmsg("%s for database %u exits: the database is being dropped, renamed, moved or copied",
							pc_worker_name(), my_database)));
		else
			ereport(LOG,
					(errmsg("%s for database %u exits: the worker registry is full",
							pc_worker_name(), my_database),
					 errhint("Raise max_worker_processes.")));
		proc_exit(0);
	}
	before_shmem_exit(worker_exit, (Datum) 0);

	/* the last start could not connect: wait before trying again */
	if (pg_atomic_read_u32(&MyWorkerSlot->trouble) == PC_TROUBLE_NO_DATABASE)
		wait_ms(backoff_ms(), false);

	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = connect_failure_hook;
	connecting = true;
	BackgroundWorkerInitializeConnectionByOid(my_database, InvalidOid, 0);
	connecting = false;
	emit_log_hook = prev_emit_log_hook;

	name_database();
	if (pg_atomic_read_u32(&MyWorkerSlot->trouble) == PC_TROUBLE_NO_DATABASE)
		pc_worker_trouble_over();
	pgstat_report_appname(pc_worker_name());
	pc_worker_session_settings();
}

/* A launcher found the extension: its database's scheduler may start. */
void
pc_worker_found_extension(void)
{
	if (!found_extension)
		ereport(LOG, (errmsg("%s started in database \"%s\"", pc_worker_name(), pc_worker_database())));
	found_extension = true;
	pc_registry_found_extension(MyWorkerSlot);
}

/* Whether a backend created, updated or dropped the extension since the worker looked. */
bool
pc_worker_nudged(void)
{
	return pg_atomic_read_u32(&MyWorkerSlot->nudged) != 0;
}

/*
 * SIGHUP: read the configuration again. A worker whose database
 * paperclip.database_name no longer names exits (not started again).
 */
void
pc_worker_reload_config(void)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	if (pc_database_name[0] != '\0' && strcmp(pc_database_name, pc_worker_database()) != 0)
	{
		ereport(LOG,
				(errmsg("%s: no longer serves database \"%s\": paperclip.database_name is now \"%s\"",
						pc_worker_name(), pc_worker_database(), pc_database_name)));
		pc_worker_exit(PC_SLOT_IDLE);
	}
}

/*
 * Session settings of the workers. They resolve names with pg_catalog
 * first and nothing a user can create: their queries qualify everything of
 * ours. No timeout of the server's configuration cancels a unit of work;
 * a lock held by another transaction is waited for PC_WORKER_LOCK_TIMEOUT_MS
 * at most (the unit is then tried again later: pc_error_is_lock_timeout).
 */
void
pc_worker_session_settings(void)
{
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", CppAsString2(PC_WORKER_LOCK_TIMEOUT_MS), PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);

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
 * Whether a backend raised this worker's wake flag; lowers it, and the
 * nudge of a created, updated or dropped extension: the loops look for the
 * extension after this, so an extension created after they looked keeps
 * the nudge, and their slot WANTED when they exit for want of it.
 */
bool
pc_worker_take_wake(void)
{
	pg_atomic_write_u32(&MyWorkerSlot->nudged, 0);
	return pg_atomic_exchange_u32(&MyWorkerSlot->wake, 0) != 0;
}

/*
 * Interrupts between units of work: SIGTERM ends the worker (die); a query
 * cancel that arrives while no unit runs has nothing to cancel, as for a
 * backend waiting for a command.
 */
void
pc_worker_check_interrupts(void)
{
	QueryCancelPending = false;
	CHECK_FOR_INTERRUPTS();
}

/*
 * After an ERROR outside any unit of work (the worker's sigsetjmp, as the
 * walwriter's): log it, clean up, and go on.
 */
void
pc_worker_recover(void)
{
	error_context_stack = NULL;
	HOLD_INTERRUPTS();
	EmitErrorReport();
	AbortCurrentTransaction();
	FlushErrorState();
	QueryCancelPending = false;
	RESUME_INTERRUPTS();
	/* no tight loop of errors */
	wait_ms(1000, false);
}

/*
 * A unit's error in the server log: what failed (activity names the
 * worker), its SQLSTATE. One that shows a misconfiguration is the worker's
 * back-off to report, once: here it is a debug message.
 */
static void
report_unit_error(const char *activity, ErrorData *edata)
{
	PcTrouble	trouble;
	int			elevel = WARNING;

	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || pc_error_is_lock_timeout(edata))
		elevel = LOG;
	else if (pc_error_is_misconfiguration(edata, &trouble))
		elevel = DEBUG1;
	ereport(elevel,
			(errcode(edata->sqlerrcode),
			 errmsg("%s failed (SQLSTATE %s): %s", activity,
					unpack_sql_state(edata->sqlerrcode), edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 edata->hint ? errhint("%s", edata->hint) : 0,
			 edata->context ? errcontext("%s", edata->context) : 0));
}

bool
pc_run_unit(const char *activity, PcUnitFn fn, void *arg, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *volatile edata = NULL;

	if (error != NULL)
		*error = NULL;
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
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		/* a cancel that came during the abort was meant for this unit */
		QueryCancelPending = false;
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (edata == NULL)
		return true;
	report_unit_error(activity, edata);
	if (error != NULL)
		*error = edata;
	else
		FreeErrorData(edata);
	return false;
}

/*
 * Whether a unit failed only because a row it writes was locked by another
 * transaction for longer than PC_WORKER_LOCK_TIMEOUT_MS: not the unit's
 * fault, to be tried again later (pc_lock_retry_ms).
 */
bool
pc_error_is_lock_timeout(const ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}

/* The wait before the next try after n lock timeouts in a row (n >= 1). */
long
pc_lock_retry_ms(int n)
{
	long		ms = PC_LOCK_RETRY_MIN_MS;

	while (--n > 0 && ms < PC_LOCK_RETRY_MAX_MS)
		ms *= 2;
	return Min(ms, PC_LOCK_RETRY_MAX_MS);
}

/*
 * Whether a unit's error says the database cannot be worked in as it is
 * configured, rather than that this unit failed: which trouble.
 */
bool
pc_error_is_misconfiguration(const ErrorData *edata, PcTrouble *trouble)
{
	switch (edata->sqlerrcode)
	{
		case ERRCODE_READ_ONLY_SQL_TRANSACTION:
			*trouble = PC_TROUBLE_READ_ONLY;
			return true;
		default:
			/* a dropped extension: the workers look for it each tick */
			return false;
	}
}

/*
 * The database has no extension (never had, or it was dropped): the
 * worker exits, and the supervisor starts it again when CREATE EXTENSION
 * paperclip runs there. Said at LOG level by a worker that served the
 * database, or when paperclip.database_name names it; a launcher looking
 * at a database for the first time (every database is looked at) says it
 * at DEBUG1.
 */
static void
exit_no_extension(void)
{
	bool		served = my_kind == PC_WORKER_SCHEDULER || found_extension ||
		pc_database_name[0] != '\0';

	ereport(served ? LOG : DEBUG1,
			(errmsg("%s: extension \"paperclip\" is not installed in database \"%s\"; exiting",
					pc_worker_name(), pc_worker_database()),
			 errdetail("The workers of that database start again when CREATE EXTENSION paperclip runs there.")));
	/* an extension created again at an old version is said anew */
	pg_atomic_write_u32(&MyWorkerSlot->trouble, PC_TROUBLE_NONE);
	pc_worker_exit(PC_SLOT_ABSENT);
}

/*
 * The worker cannot work: say why once (not again while the trouble
 * lasts, also across restarts) and wait before trying again; "why" adds
 * the error that showed it, if any. A read-only database may have become
 * so by ALTER DATABASE, which a session sees only when it connects: the
 * worker exits after its wait (or when a backend's commit in its database
 * wakes it), and the supervisor starts it again. Without the extension
 * the worker exits (exit_no_extension).
 */
void
pc_worker_back_off(PcTrouble trouble, const char *why)
{
	long		ms = backoff_ms();

	if (trouble == PC_TROUBLE_NO_EXTENSION)
		exit_no_extension();
	if (pg_atomic_exchange_u32(&MyWorkerSlot->trouble, trouble) != (uint32) trouble)
	{
		switch (trouble)
		{
			case PC_TROUBLE_OLD_EXTENSION:
				ereport(LOG,
						(errmsg("%s: %s; runs wait for ALTER EXTENSION paperclip UPDATE",
								pc_worker_name(), why ? why : "extension \"paperclip\" is not at its library's version"),
						 errdetail("It looks again every %d s or more.", PC_BACKOFF_MIN_MS / 1000),
						 errhint("Run ALTER EXTENSION paperclip UPDATE in database \"%s\".", pc_worker_database())));
				break;
			case PC_TROUBLE_READ_ONLY:
				ereport(WARNING,
						(errmsg("%s: database \"%s\" is read-only; no work is done until it accepts writes",
								pc_worker_name(), pc_worker_database()),
						 errdetail("It tries again every %d s or more.", PC_BACKOFF_MIN_MS / 1000),
						 errhint("Check default_transaction_read_only of the server, the database and its roles.")));
				break;
			default:
				ereport(WARNING,
						(errmsg("%s: %s", pc_worker_name(), why ? why : "cannot work"),
						 errdetail("It tries again every %d s or more.", PC_BACKOFF_MIN_MS / 1000)));
				break;
		}
	}
	pg_atomic_fetch_add_u32(&MyWorkerSlot->backoffs, 1);
	/* a backend's commit here (the extension updated, a write) ends the wait */
	wait_ms(ms, trouble == PC_TROUBLE_OLD_EXTENSION || trouble == PC_TROUBLE_READ_ONLY);
	if (trouble == PC_TROUBLE_READ_ONLY)
		proc_exit(1);
}

/*
 * After a unit that worked: whatever kept the worker from working is over
 * (costs an atomic read when nothing was wrong).
 */
void
pc_worker_working(void)
{
	if (pg_atomic_read_u32(&MyWorkerSlot->trouble) != PC_TROUBLE_NONE)
		pc_worker_trouble_over();
}

/* This trouble, if it is the one reported, is over. */
void
pc_worker_resolved(PcTrouble trouble)
{
	if (pg_atomic_read_u32(&MyWorkerSlot->trouble) == (uint32) trouble)
		pc_worker_trouble_over();
}

/* What kept the worker from working is over. */
void
pc_worker_trouble_over(void)
{
	pg_atomic_write_u32(&MyWorkerSlot->backoffs, 0);
	if (pg_atomic_exchange_u32(&MyWorkerSlot->trouble, PC_TROUBLE_NONE) != PC_TROUBLE_NONE)
		ereport(LOG,
				(errmsg("%s: working again in database \"%s\"", pc_worker_name(),
						pc_worker_database())));
}
