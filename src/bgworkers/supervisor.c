/*-------------------------------------------------------------------------
 * supervisor.c
 *	  The supervisor background worker: one per cluster, started at
 *	  preload, connected to no database (it reads the shared catalog
 *	  pg_database only). It starts one launcher and one scheduler, as
 *	  dynamic background workers, for each database that has the extension
 *	  (paperclip.database_name empty) or for the one it names, as
 *	  TimescaleDB's loader starts its schedulers.
 *
 *	  It cannot see which databases have the extension: it starts a
 *	  launcher in every database that accepts connections and is no
 *	  template; a launcher that finds no extension exits and says so in its
 *	  slot (ABSENT), and the supervisor starts none there again until a
 *	  backend's CREATE (or ALTER) EXTENSION paperclip commits there
 *	  (serving.c nudges it). A launcher that finds it says so (present): the
 *	  supervisor then starts the database's scheduler. New databases are
 *	  found at each pass: CREATE DATABASE wakes the supervisor, and it
 *	  looks every PC_RESCAN_MS anyway.
 *
 *	  What becomes of a worker that exits is written in its registry slot
 *	  (registry.c): started again after its restart delay (an error,
 *	  pg_terminate_backend), not until the extension is created (ABSENT),
 *	  or not at all (IDLE: paperclip.database_name names another
 *	  database). Workers are registered with BGW_NEVER_RESTART and this
 *	  process as bgw_notify_pid, so their start and exit set its latch.
 *	  Databases a backend holds (being dropped, renamed, moved or used as a
 *	  template) get no worker until the holding transaction ends.
 *
 *	  Within max_worker_processes: the launchers of databases known to
 *	  have the extension first, then their schedulers, then launchers that
 *	  look at databases not known yet. When no background worker is free
 *	  for a database that needs one (and none of ours is merely looking), a
 *	  WARNING says how many paperclip needs: 2 per database it serves and
 *	  1 for itself.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "paperclip.h"
#include "bgworkers/bgworkers.h"

/* How often the supervisor looks at pg_database without being woken. */
#define PC_RESCAN_MS 5000
/* A worker registered by an earlier supervisor that has not claimed its slot by then never will. */
#define PC_START_TIMEOUT_MS 10000

/* A database as pg_database shows it. */
typedef struct PcDatabase
{
	Oid			oid;
	NameData	name;
	bool		servable;		/* accepts connections, no template, valid */
} PcDatabase;

/* A worker to start in this pass. */
typedef struct PcStart
{
	int			slot;			/* index in the registry */
	PcWorkerKind kind;
	Oid			database;
	NameData	dbname;
} PcStart;

static MemoryContext loop_cxt = NULL;

/* Per registry slot: the handle of the worker this supervisor registered, or NULL. */
static BackgroundWorkerHandle **handles = NULL;

/* Databases whose launcher found no extension; kept by this process only. */
static Oid *absent = NULL;
static int	nabsent = 0;
static int	absent_cap = 0;

static const char *const kind_types[PC_WORKER_KINDS] = {
	"paperclip launcher", "paperclip scheduler"
};
static const char *const kind_functions[PC_WORKER_KINDS] = {
	"paperclip_launcher_main", "paperclip_scheduler_main"
};

/* ----------------------------------------------------------------------
 * Databases known to lack the extension
 * ----------------------------------------------------------------------
 */

static bool
is_absent(Oid database)
{
	int			i;

	for (i = 0; i < nabsent; i++)
		if (absent[i] == database)
			return true;
	return false;
}

static void
set_absent(Oid database)
{
	if (is_absent(database))
		return;
	if (nabsent == absent_cap)
	{
		absent_cap = Max(16, absent_cap * 2);
		absent = absent ? repalloc(absent, sizeof(Oid) * absent_cap)
			: MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * absent_cap);
	}
	absent[nabsent++] = database;
}

static void
forget_absent(Oid database)
{
	int			i;

	for (i = 0; i < nabsent; i++)
		if (absent[i] == database)
		{
			absent[i] = absent[--nabsent];
			return;
		}
}

/* ----------------------------------------------------------------------
 * pg_database
 * ----------------------------------------------------------------------
 */

/* Every database, read in a transaction of its own, into the current context. */
static PcDatabase *
scan_databases(int *n)
{
	MemoryContext cxt = CurrentMemoryContext;
	PcDatabase *dbs = NULL;
	int			cap = 0;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	*n = 0;
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);

		if (*n == cap)
		{
			cap = Max(16, cap * 2);
			dbs = dbs ? repalloc(dbs, sizeof(PcDatabase) * cap)
				: MemoryContextAlloc(cxt, sizeof(PcDatabase) * cap);
		}
		dbs[*n].oid = d->oid;
		namestrcpy(&dbs[*n].name, NameStr(d->datname));
		dbs[*n].servable = d->datallowconn && !d->datistemplate && !database_is_invalid_form(d);
		(*n)++;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return dbs;
}

static PcDatabase *
find_database(PcDatabase *dbs, int n, Oid oid)
{
	int			i;

	for (i = 0; i < n; i++)
		if (dbs[i].oid == oid)
			return &dbs[i];
	return NULL;
}

/* Whether the supervisor serves this database (paperclip.database_name). */
static bool
candidate(const PcDatabase *db)
{
	return db != NULL && db->servable &&
		(pc_database_name[0] == '\0' || strcmp(pc_database_name, NameStr(db->name)) == 0);
}

/* paperclip.database_name names a database that does not exist: said once per name. */
static void
check_named_database(PcDatabase *dbs, int n)
{
	NameData   *said;
	bool		exists = false;
	int			i;

	if (pc_database_name[0] == '\0')
		return;
	for (i = 0; i < n && !exists; i++)
		exists = strcmp(NameStr(dbs[i].name), pc_database_name) == 0;
	pc_registry_lock(LW_EXCLUSIVE);
	said = pc_registry_said_missing_locked();
	if (exists)
		NameStr(*said)[0] = '\0';
	else if (strcmp(NameStr(*said), pc_database_name) != 0)
	{
		namestrcpy(said, pc_database_name);
		pc_registry_unlock();
		ereport(WARNING,
				(errmsg("paperclip supervisor: database \"%s\" named by paperclip.database_name does not exist",
						pc_database_name),
				 errdetail("Its workers start when it is created (with the extension)."),
				 errhint("Create it, or set paperclip.database_name to the database that has the extension "
						 "(empty: every database) and reload the configuration.")));
		return;
	}
	pc_registry_unlock();
}

/*
 * The spool directories of databases that no longer exist (dropped with
 * runs in flight: their results have no run to go to) are removed. Only
 * directories named by an OID, below the spool directory.
 */
static void
remove_dropped_spools(PcDatabase *dbs, int ndb)
{
	char	   *spool = psprintf("%s/%s", DataDir, PC_SPOOL_DIRECTORY);
	DIR		   *dir = AllocateDir(spool);
	struct dirent *de;

	if (dir == NULL)
	{
		FreeDir(dir);
		return;					/* no launcher made it yet */
	}
	while ((de = ReadDirExtended(dir, spool, LOG)) != NULL)
	{
		char	   *end;
		unsigned long oid;

		if (!isdigit((unsigned char) de->d_name[0]))
			continue;
		errno = 0;
		oid = strtoul(de->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || oid == 0 || oid > PG_UINT32_MAX ||
			find_database(dbs, ndb, (Oid) oid) != NULL)
			continue;
		ereport(LOG,
				(errmsg("paperclip supervisor: removing the spool directory of dropped database %lu", oid)));
		if (!rmtree(psprintf("%s/%s", spool, de->d_name), true))
			ereport(LOG,
					(errmsg("paperclip supervisor: could not remove the spool directory of dropped database %lu",
							oid)));
	}
	FreeDir(dir);
}

/* ----------------------------------------------------------------------
 * Starting workers
 * ----------------------------------------------------------------------
 */

/* Register a launcher or scheduler for database; false when no slot is free. */
static bool
start_worker(PcStart *s, BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;
	MemoryContext old;
	bool		ok;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
#ifdef BGWORKER_INTERRUPTIBLE
	/* proposed after 18: terminated by DROP DATABASE and the like (serving.c holds it too) */
	worker.bgw_flags |= BGWORKER_INTERRUPTIBLE;
#endif
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* the supervisor restarts it */
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "paperclip");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", kind_functions[s->kind]);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s for database \"%s\"", kind_types[s->kind],
			 NameStr(s->dbname));
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", kind_types[s->kind]);
	worker.bgw_main_arg = ObjectIdGetDatum(s->database);
	worker.bgw_notify_pid = MyProcPid;
	/* the handle outlives this pass */
	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&worker, handle);
	MemoryContextSwitchTo(old);
	return ok;
}

static void
forget_handle(int i)
{
	if (handles[i] != NULL)
	{
		pfree(handles[i]);
		handles[i] = NULL;
	}
}

/* A worker this supervisor registered that stopped before it claimed its slot. */
static bool
never_came(int i, PcWorkerSlot *slot, TimestampTz now)
{
	pid_t		pid;

	if (slot->state != PC_SLOT_STARTING || slot->pid != 0)
		return false;
	if (handles[i] != NULL)
		return GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED;
	return TimestampDifferenceExceeds(slot->started_at, now, PC_START_TIMEOUT_MS);
}

/*
 * Under the lock: what the slots say. Slots of databases gone or not to
 * be served are freed once their process is gone (a worker of a database
 * that became a template or refuses connections is terminated); a
 * launcher that found no extension makes its database known absent.
 */
static void
read_slots(PcDatabase *dbs, int ndb, TimestampTz now)
{
	int			i;

	for (i = 0; i < pc_registry_nslots(); i++)
	{
		PcWorkerSlot *slot = pc_registry_slot(i);
		PcDatabase *db;

		if (!slot->in_use)
		{
			forget_handle(i);
			continue;
		}
		db = find_database(dbs, ndb, slot->database);
		if (never_came(i, slot, now))
		{
			forget_handle(i);
			slot->state = PC_SLOT_WANTED;
			slot->restart_at = TimestampTzPlusMilliseconds(now, slot->kind == PC_WORKER_LAUNCHER ?
														   PC_LAUNCHER_RESTART_MS :
														   PC_SCHEDULER_RESTART_MS);
		}
		if (slot->state == PC_SLOT_RUNNING)
			forget_handle(i);
		if (!candidate(db))
		{
			/* a worker whose database_name changed exits by itself */
			if (slot->pid != 0 && db != NULL && !db->servable && slot->state != PC_SLOT_IDLE)
			{
				slot->state = PC_SLOT_IDLE;
				(void) kill(slot->pid, SIGTERM);
			}
			if (slot->pid == 0 && slot->state != PC_SLOT_STARTING)
			{
				forget_handle(i);
				pc_registry_free_locked(slot);
			}
			continue;
		}
		if (strcmp(NameStr(slot->dbname), NameStr(db->name)) != 0)
			namestrcpy(&slot->dbname, NameStr(db->name));
		if (slot->state == PC_SLOT_ABSENT && slot->pid == 0)
		{
			if (slot->kind == PC_WORKER_LAUNCHER)
				set_absent(slot->database);
			forget_handle(i);
			pc_registry_free_locked(slot);
		}
	}
	/* databases dropped: forget they lacked the extension */
	for (i = nabsent - 1; i >= 0; i--)
		if (find_database(dbs, ndb, absent[i]) == NULL)
			forget_absent(absent[i]);
}

/* Under the lock: the extension changed in these databases; look at them again. */
static void
read_nudges(void)
{
	Oid			nudged[64];
	bool		overflow;
	int			n = pc_registry_take_nudges_locked(nudged, lengthof(nudged), &overflow);
	int			i;

	if (overflow)
		nabsent = 0;
	for (i = 0; i < n; i++)
		forget_absent(nudged[i]);
}

/*
 * Under the lock: add the slots of the databases served, and list the
 * workers to start now (launchers known to find the extension, then
 * schedulers, then launchers looking at a database not known yet), and
 * when the next WANTED slot is due. Counts the databases that need
 * workers.
 */
static int
plan_starts(PcDatabase *dbs, int ndb, TimestampTz now, PcStart *starts,
			TimestampTz *next, int *needing)
{
	int			nstarts = 0;
	int			pass;
	int			i;

	*needing = 0;
	for (i = 0; i < ndb; i++)
	{
		PcWorkerSlot *launcher;
		PcWorkerSlot *scheduler;

		if (!candidate(&dbs[i]) || is_absent(dbs[i].oid))
			continue;
		(*needing)++;
		launcher = pc_registry_find_locked(PC_WORKER_LAUNCHER, dbs[i].oid);
		if (launcher == NULL)
			launcher = pc_registry_add_locked(PC_WORKER_LAUNCHER, dbs[i].oid, NameStr(dbs[i].name));
		if (launcher == NULL || !launcher->present)
			continue;
		scheduler = pc_registry_find_locked(PC_WORKER_SCHEDULER, dbs[i].oid);
		if (scheduler == NULL)
			scheduler = pc_registry_add_locked(PC_WORKER_SCHEDULER, dbs[i].oid, NameStr(dbs[i].name));
		else if (scheduler->state == PC_SLOT_ABSENT && scheduler->pid == 0)
		{
			scheduler->state = PC_SLOT_WANTED;
			scheduler->restart_at = 0;
		}
	}

	/* pass 0: launchers that found the extension; 1: schedulers; 2: launchers looking */
	for (pass = 0; pass < 3; pass++)
		for (i = 0; i < pc_registry_nslots(); i++)
		{
			PcWorkerSlot *slot = pc_registry_slot(i);
			PcWorkerSlot *launcher;

			if (!slot->in_use)
				continue;
			if (slot->state != PC_SLOT_WANTED || slot->pid != 0 ||
				pc_registry_held_locked(slot->database))
				continue;
			if (slot->kind == PC_WORKER_SCHEDULER)
			{
				launcher = pc_registry_find_locked(PC_WORKER_LAUNCHER, slot->database);
				if (pass != 1 || launcher == NULL || !launcher->present)
					continue;
			}
			else if ((pass == 0) != slot->present || pass == 1)
				continue;
			if (slot->restart_at > now)
			{
				*next = *next == 0 ? slot->restart_at : Min(*next, slot->restart_at);
				continue;
			}
			starts[nstarts].slot = i;
			starts[nstarts].kind = slot->kind;
			starts[nstarts].database = slot->database;
			starts[nstarts].dbname = slot->dbname;
			nstarts++;
		}
	return nstarts;
}

/*
 * Not enough background workers: said once (also across restarts of the
 * supervisor) until every database is served again.
 */
static void
report_shortage(bool shortage, int needing)
{
	bool	   *said;

	pc_registry_lock(LW_EXCLUSIVE);
	said = pc_registry_said_short_locked();
	if (shortage == *said)
	{
		pc_registry_unlock();
		return;
	}
	*said = shortage;
	pc_registry_unlock();
	if (shortage)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("paperclip supervisor: too few background workers to serve every database with paperclip: %d needed, max_worker_processes is %d",
						1 + 2 * needing, max_worker_processes),
				 errdetail("paperclip needs 2 background workers (a launcher and a scheduler) for each of the %d database(s) it serves, and 1 for its supervisor; other background workers (logical replication, parallel queries, other extensions) take theirs from max_worker_processes too. Databases without their workers keep their runs queued.",
						   needing),
				 errhint("Set max_worker_processes to at least %d plus what other background workers need, then restart the server.",
						 1 + 2 * needing)));
	else
		ereport(LOG,
				(errmsg("paperclip supervisor: every database with paperclip has its workers again")));
}

/*
 * One pass: read pg_database, the slots and the nudges, start what should
 * run. Returns how long to sleep, in ms.
 */
static long
supervise(void)
{
	PcDatabase *dbs;
	int			ndb;
	TimestampTz now;
	TimestampTz next = 0;
	PcStart    *starts;
	int			nstarts;
	int			needing;
	int			looking;
	uint32		holds_generation;
	bool		failed = false;
	bool		short_now;
	int			i;

	pc_registry_lock(LW_SHARED);
	holds_generation = pc_registry_holds_generation_locked();
	pc_registry_unlock();

	dbs = scan_databases(&ndb);
	check_named_database(dbs, ndb);
	remove_dropped_spools(dbs, ndb);
	now = GetCurrentTimestamp();
	starts = palloc(sizeof(PcStart) * pc_registry_nslots());

	pc_registry_lock(LW_EXCLUSIVE);
	if (pc_registry_holds_generation_locked() != holds_generation)
	{
		/* a database was held since it was read: it may be gone, read again */
		pc_registry_unlock();
		return 0;
	}
	read_slots(dbs, ndb, now);
	read_nudges();
	nstarts = plan_starts(dbs, ndb, now, starts, &next, &needing);
	pc_registry_unlock();

	for (i = 0; i < nstarts; i++)
	{
		BackgroundWorkerHandle *handle = NULL;
		bool		ok = !failed && start_worker(&starts[i], &handle);
		PcWorkerSlot *slot = pc_registry_slot(starts[i].slot);

		pc_registry_lock(LW_EXCLUSIVE);
		if (slot->in_use && slot->kind == starts[i].kind && slot->database == starts[i].database)
		{
			slot->short_of_workers = !ok;
			if (ok)
			{
				slot->state = PC_SLOT_STARTING;
				slot->started_at = now;
				forget_handle(starts[i].slot);
				handles[starts[i].slot] = handle;
				handle = NULL;
			}
		}
		pc_registry_unlock();
		if (handle != NULL)
			pfree(handle);
		failed |= !ok;
	}
	if (failed)
		next = TimestampTzPlusMilliseconds(now, 1000);

	/*
	 * Short when a worker found no background worker free and none of ours
	 * is merely looking at a database (those leave soon, or are served);
	 * served again when no worker waits for one.
	 */
	pc_registry_lock(LW_SHARED);
	short_now = false;
	looking = 0;
	for (i = 0; i < pc_registry_nslots(); i++)
	{
		PcWorkerSlot *slot = pc_registry_slot(i);

		if (!slot->in_use)
			continue;
		if (slot->short_of_workers && slot->pid == 0 && slot->state == PC_SLOT_WANTED)
			short_now = true;
		if (slot->kind == PC_WORKER_LAUNCHER && !slot->present &&
			(slot->state == PC_SLOT_STARTING || slot->state == PC_SLOT_RUNNING))
			looking++;
	}
	pc_registry_unlock();
	if (!short_now || looking == 0)
		report_shortage(short_now, needing);

	if (next == 0)
		return PC_RESCAN_MS;
	return Min(PC_RESCAN_MS, Max(0, TimestampDifferenceMilliseconds(now, next)));
}

/* ----------------------------------------------------------------------
 * The worker
 * ----------------------------------------------------------------------
 */

static void
supervisor_exit(int code, Datum arg)
{
	pc_registry_supervisor_detach();
}

/*
 * A new supervisor (after pg_terminate_backend or an error) adopts the
 * workers its predecessor started, as their slots show them; it looks
 * again at every database (what it knew of absent extensions died with
 * it).
 */
static void
adopt_slots(void)
{
	int			i;

	pc_registry_lock(LW_EXCLUSIVE);
	for (i = 0; i < pc_registry_nslots(); i++)
	{
		PcWorkerSlot *slot = pc_registry_slot(i);

		if (slot->in_use && slot->state == PC_SLOT_ABSENT && slot->pid == 0)
		{
			slot->state = PC_SLOT_WANTED;
			slot->restart_at = 0;
		}
	}
	pc_registry_unlock();
}

void
paperclip_supervisor_main(Datum arg)
{
	sigjmp_buf	local_sigjmp_buf;
	pid_t		other;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (!pc_registry_supervisor_attach(&other))
	{
		ereport(LOG,
				(errmsg("paperclip supervisor is already running (PID %d); this one exits", (int) other)));
		proc_exit(0);
	}
	before_shmem_exit(supervisor_exit, (Datum) 0);

	/* shared catalogs only */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("paperclip supervisor");
	handles = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(BackgroundWorkerHandle *) * pc_registry_nslots());
	adopt_slots();
	if (pc_database_name[0] == '\0')
		ereport(LOG, (errmsg("paperclip supervisor started: serving every database with the extension")));
	else
		ereport(LOG, (errmsg("paperclip supervisor started: serving database \"%s\" (paperclip.database_name)",
							 pc_database_name)));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "paperclip supervisor loop",
									 ALLOCSET_DEFAULT_SIZES);

	/* an ERROR lands here: logged, then go on */
	if (sigsetjmp(local_sigjmp_buf, 1) != 0)
	{
		MemoryContextSwitchTo(loop_cxt);
		pc_worker_recover();
	}
	PG_exception_stack = &local_sigjmp_buf;

	for (;;)
	{
		long		timeout;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		pc_worker_check_interrupts();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		timeout = supervise();
		if (timeout > 0)
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
