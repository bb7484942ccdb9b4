/*-------------------------------------------------------------------------
 * registry.c
 *	  The registry of paperclip's workers in shared memory: one slot per
 *	  worker, named by its kind and the OID of the database it serves,
 *	  holding its state, pid and latch under the registry's LWLock, the
 *	  wake flag backends raise at commit, and what the worker, backing off
 *	  from a misconfiguration, has already reported (so that a restarted
 *	  worker does not say it again).
 *
 *	  The supervisor (supervisor.c) adds a slot for each database it
 *	  serves and starts the worker of each slot it finds WANTED; the worker
 *	  claims its slot (RUNNING) and, when it exits, says what becomes of
 *	  it: started again after its restart delay (WANTED), not until the
 *	  extension is created there (ABSENT), or not at all (IDLE). One worker
 *	  of each kind per database: a second worker claiming a slot whose
 *	  process lives is refused.
 *
 *	  Besides the slots: the supervisor's pid and latch; the databases that
 *	  backends hold (being dropped, renamed, moved or copied, which an open
 *	  connection would block), whose workers are terminated and not started
 *	  again until the holding transaction ends; and the databases whose
 *	  extension was created, updated or dropped, for the supervisor to look
 *	  at again.
 *
 *	  Slots are never moved. Backends wake a worker without the lock: they
 *	  remember the slot they found and check, at each use, that it still
 *	  names their database.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "paperclip.h"
#include "bgworkers/bgworkers.h"

#define REGISTRY_TRANCHE "paperclip"

/* Databases held at once (DROP DATABASE and the like, each until its commit). */
#define PC_MAX_HOLDS 32
/* Databases whose extension changed, waiting for the supervisor. */
#define PC_MAX_NUDGES 64

typedef struct PcHold
{
	Oid			database;		/* InvalidOid: free */
	pid_t		pid;			/* the backend holding it */
} PcHold;

typedef struct PcRegistry
{
	LWLock	   *lock;
	pg_atomic_uint32 generation;	/* bumped when a worker comes or goes */
	pid_t		supervisor_pid;
	Latch	   *supervisor_latch;
	uint32		holds_generation;	/* bumped when a hold is taken */
	PcHold		holds[PC_MAX_HOLDS];
	int			nnudges;
	bool		nudge_overflow; /* some were lost: look at every database */
	Oid			nudges[PC_MAX_NUDGES];
	bool		full;			/* a slot was wanted and none was free */
	bool		said_short;		/* the supervisor warned of too few workers */
	NameData	said_missing;	/* the database_name it said does not exist */
	int			nslots;
	PcWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} PcRegistry;

static PcRegistry *registry = NULL;

/* This backend holds databases (pc_registry_hold) until its transaction ends. */
static bool holding = false;

/*
 * Per backend: the slot last found for each kind of worker, or -1; and,
 * when none was found, the generation of the registry then (a database
 * without workers costs no lock at each commit until a worker comes).
 */
static int	cached_slot[PC_WORKER_KINDS] = {-1, -1};
static uint32 cached_none_generation[PC_WORKER_KINDS] = {0, 0};
static Oid	cached_none_database[PC_WORKER_KINDS] = {InvalidOid, InvalidOid};

/*
 * Two slots (a launcher and a scheduler) for more databases than the
 * background workers could ever serve: a database left without workers
 * for want of them keeps its slots, which say so.
 */
static int
registry_slots(void)
{
	return 2 * max_worker_processes + PC_WORKER_KINDS;
}

void
pc_registry_shmem_request(void)
{
	RequestAddinShmemSpace(pc_registry_shmem_size());
	RequestNamedLWLockTranche(REGISTRY_TRANCHE, 1);
}

Size
pc_registry_shmem_size(void)
{
	return MAXALIGN(add_size(offsetof(PcRegistry, slots),
							 mul_size(registry_slots(), sizeof(PcWorkerSlot))));
}

static void
init_slot(PcWorkerSlot *slot)
{
	memset(slot, 0, sizeof(*slot));
	pg_atomic_init_u32(&slot->wake, 0);
	pg_atomic_init_u32(&slot->trouble, PC_TROUBLE_NONE);
	pg_atomic_init_u32(&slot->backoffs, 0);
	pg_atomic_init_u32(&slot->nudged, 0);
}

/* In the shmem startup hook, under AddinShmemInitLock. */
void
pc_registry_shmem_init(void)
{
	bool		found;
	int			i;

	registry = ShmemInitStruct("paperclip worker registry", pc_registry_shmem_size(), &found);
	if (found)
		return;
	memset(registry, 0, offsetof(PcRegistry, slots));
	registry->lock = &(GetNamedLWLockTranche(REGISTRY_TRANCHE))->lock;
	pg_atomic_init_u32(&registry->generation, 1);
	registry->nslots = registry_slots();
	for (i = 0; i < registry->nslots; i++)
		init_slot(&registry->slots[i]);
}

/* Whether the library was preloaded: without it there are no workers. */
bool
pc_registry_attached(void)
{
	return registry != NULL;
}

static bool
alive(pid_t pid)
{
	return pid != 0 && (pid == MyProcPid || kill(pid, 0) == 0);
}

/* ----------------------------------------------------------------------
 * Slots, under the lock
 * ----------------------------------------------------------------------
 */

void
pc_registry_lock(LWLockMode mode)
{
	LWLockAcquire(registry->lock, mode);
}

void
pc_registry_unlock(void)
{
	LWLockRelease(registry->lock);
}

int
pc_registry_nslots(void)
{
	return registry->nslots;
}

PcWorkerSlot *
pc_registry_slot(int i)
{
	return &registry->slots[i];
}

PcWorkerSlot *
pc_registry_find_locked(PcWorkerKind kind, Oid database)
{
	int			i;

	for (i = 0; i < registry->nslots; i++)
	{
		PcWorkerSlot *slot = &registry->slots[i];

		if (slot->in_use && slot->kind == kind && slot->database == database)
			return slot;
	}
	return NULL;
}

/* A new slot, WANTED at once; NULL (and the registry marked full) when none is free. */
PcWorkerSlot *
pc_registry_add_locked(PcWorkerKind kind, Oid database, const char *dbname)
{
	int			i;

	for (i = 0; i < registry->nslots; i++)
	{
		PcWorkerSlot *slot = &registry->slots[i];

		if (slot->in_use)
			continue;
		init_slot(slot);
		slot->in_use = true;
		slot->kind = kind;
		slot->database = database;
		namestrcpy(&slot->dbname, dbname ? dbname : "");
		slot->state = PC_SLOT_WANTED;
		pg_atomic_fetch_add_u32(&registry->generation, 1);
		return slot;
	}
	registry->full = true;
	return NULL;
}

/* The slot names nothing any more (its process, if any, is gone). */
void
pc_registry_free_locked(PcWorkerSlot *slot)
{
	Assert(slot->pid == 0);
	slot->in_use = false;
	slot->database = InvalidOid;
	registry->full = false;
	pg_atomic_fetch_add_u32(&registry->generation, 1);
}

bool
pc_registry_held_locked(Oid database)
{
	int			i;

	for (i = 0; i < PC_MAX_HOLDS; i++)
		if (registry->holds[i].database == database && alive(registry->holds[i].pid))
			return true;
	return false;
}

uint32
pc_registry_holds_generation_locked(void)
{
	return registry->holds_generation;
}

/* The databases backends said changed since the last call (up to max). */
int
pc_registry_take_nudges_locked(Oid *databases, int max, bool *overflow)
{
	int			n = Min(registry->nnudges, max);

	memcpy(databases, registry->nudges, sizeof(Oid) * n);
	*overflow = registry->nudge_overflow || registry->nnudges > max;
	registry->nnudges = 0;
	registry->nudge_overflow = false;
	return n;
}

/* What the supervisor said already, kept across its restarts. */
bool *
pc_registry_said_short_locked(void)
{
	return &registry->said_short;
}

NameData *
pc_registry_said_missing_locked(void)
{
	return &registry->said_missing;
}

/* ----------------------------------------------------------------------
 * The supervisor
 * ----------------------------------------------------------------------
 */

/* This process is the supervisor; false (its pid in *other) when another lives. */
bool
pc_registry_supervisor_attach(pid_t *other)
{
	bool		ok;

	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	*other = registry->supervisor_pid;
	ok = !alive(*other) || *other == MyProcPid;
	if (ok)
	{
		registry->supervisor_pid = MyProcPid;
		registry->supervisor_latch = MyLatch;
	}
	LWLockRelease(registry->lock);
	return ok;
}

void
pc_registry_supervisor_detach(void)
{
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	if (registry->supervisor_pid == MyProcPid)
	{
		registry->supervisor_pid = 0;
		registry->supervisor_latch = NULL;
	}
	LWLockRelease(registry->lock);
}

static void
wake_supervisor_locked(void)
{
	if (registry->supervisor_latch != NULL)
		SetLatch(registry->supervisor_latch);
}

/* Tell the supervisor to look again (a database came or went). */
void
pc_wake_supervisor(void)
{
	if (registry == NULL)
		return;
	LWLockAcquire(registry->lock, LW_SHARED);
	wake_supervisor_locked();
	LWLockRelease(registry->lock);
}

/* ----------------------------------------------------------------------
 * The workers
 * ----------------------------------------------------------------------
 */

/*
 * Claim the slot of a worker of this kind for database, for this process
 * (RUNNING). NULL, and why in *refusal, when another live process holds
 * it (its pid in *holder), when a backend holds the database (the slot is
 * left WANTED: the supervisor starts a worker again once the hold ends),
 * or when every slot is taken.
 */
PcWorkerSlot *
pc_registry_claim(PcWorkerKind kind, Oid database, PcClaimRefusal *refusal, pid_t *holder)
{
	PcWorkerSlot *mine;

	*holder = 0;
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	mine = pc_registry_find_locked(kind, database);
	if (mine != NULL && mine->pid != 0 && mine->pid != MyProcPid && alive(mine->pid))
	{
		*holder = mine->pid;
		*refusal = PC_CLAIM_DUPLICATE;
		mine = NULL;
	}
	else if (pc_registry_held_locked(database))
	{
		if (mine != NULL)
		{
			mine->pid = 0;
			mine->state = PC_SLOT_WANTED;
			mine->restart_at = 0;
		}
		*refusal = PC_CLAIM_HELD;
		mine = NULL;
	}
	else
	{
		if (mine == NULL)
			mine = pc_registry_add_locked(kind, database, NULL);
		if (mine == NULL)
			*refusal = PC_CLAIM_FULL;
		else
		{
			mine->pid = MyProcPid;
			mine->latch = MyLatch;
			mine->state = PC_SLOT_RUNNING;
			mine->started_at = GetCurrentTimestamp();
		}
	}
	pg_atomic_fetch_add_u32(&registry->generation, 1);
	LWLockRelease(registry->lock);
	return mine;
}

/* The worker, connected, names its database for messages. */
void
pc_registry_named(PcWorkerSlot *slot, const char *dbname)
{
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	namestrcpy(&slot->dbname, dbname);
	LWLockRelease(registry->lock);
}

/* A launcher found the extension: the supervisor may start the scheduler. */
void
pc_registry_found_extension(PcWorkerSlot *slot)
{
	if (slot->present)			/* read without the lock: only we set it */
		return;
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	slot->present = true;
	wake_supervisor_locked();
	LWLockRelease(registry->lock);
}

/*
 * The worker exits and says what becomes of its slot: next. WANTED
 * workers are started again after restart_ms, or as soon as the hold of
 * their database ends. An absent extension that was created (or updated)
 * since the worker looked makes it WANTED at once.
 */
void
pc_registry_release(PcWorkerSlot *slot, PcSlotState next, int restart_ms)
{
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	if (slot->pid == MyProcPid)
	{
		slot->pid = 0;
		slot->latch = NULL;
		if (next == PC_SLOT_ABSENT && pg_atomic_read_u32(&slot->nudged) != 0)
		{
			next = PC_SLOT_WANTED;
			restart_ms = 0;
		}
		slot->state = next;
		if (next == PC_SLOT_ABSENT)
		{
			/* no scheduler is started until a launcher finds it again */
			PcWorkerSlot *launcher = pc_registry_find_locked(PC_WORKER_LAUNCHER, slot->database);

			if (launcher != NULL)
				launcher->present = false;
		}
		slot->restart_at = 0;
		if (next == PC_SLOT_WANTED && restart_ms > 0 && !pc_registry_held_locked(slot->database))
			slot->restart_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), restart_ms);
		wake_supervisor_locked();
	}
	pg_atomic_fetch_add_u32(&registry->generation, 1);
	LWLockRelease(registry->lock);
}

/* ----------------------------------------------------------------------
 * Backends
 * ----------------------------------------------------------------------
 */

/* The slot of the worker of this kind serving database (in any state), or NULL. */
static PcWorkerSlot *
find_worker(PcWorkerKind kind, Oid database)
{
	int			i = cached_slot[kind];
	uint32		generation;
	PcWorkerSlot *slot;

	if (i >= 0)
	{
		slot = &registry->slots[i];
		/* read without the lock: a stale answer costs a wake at most */
		if (slot->in_use && slot->kind == kind && slot->database == database)
			return slot;
	}
	generation = pg_atomic_read_u32(&registry->generation);
	if (cached_none_database[kind] == database && cached_none_generation[kind] == generation)
		return NULL;			/* none, and no worker came since */

	LWLockAcquire(registry->lock, LW_SHARED);
	generation = pg_atomic_read_u32(&registry->generation);
	slot = pc_registry_find_locked(kind, database);
	LWLockRelease(registry->lock);
	if (slot != NULL)
		cached_slot[kind] = slot - registry->slots;
	else
	{
		cached_none_database[kind] = database;
		cached_none_generation[kind] = generation;
	}
	return slot;
}

/*
 * Tell the worker of this kind serving database that work is waiting.
 * Only the caller that raises the flag sets the latch: wakes that find it
 * raised already cost no system call.
 */
void
pc_wake_worker(PcWorkerKind kind, Oid database)
{
	PcWorkerSlot *slot;

	if (registry == NULL || (slot = find_worker(kind, database)) == NULL)
		return;
	if (pg_atomic_exchange_u32(&slot->wake, 1) == 0)
	{
		Latch	   *latch = slot->latch;

		if (latch != NULL)
			SetLatch(latch);
	}
}

/*
 * Whether the supervisor serves database, as far as the registry knows
 * (the configuration is the caller's to check): a launcher's slot that is
 * not IDLE, or none yet (the supervisor adds it soon), unless the
 * registry was full or its launcher found no background worker free.
 */
PcServed
pc_registry_served(Oid database)
{
	PcWorkerSlot *slot;

	if (registry == NULL)
		return PC_SERVED_NOT;
	slot = find_worker(PC_WORKER_LAUNCHER, database);
	if (slot == NULL)
		return registry->full ? PC_SERVED_SHORT : PC_SERVED;
	if (slot->state == PC_SLOT_IDLE)
		return PC_SERVED_NOT;
	if (slot->short_of_workers && slot->pid == 0)
		return PC_SERVED_SHORT;
	return PC_SERVED;
}

/*
 * Hold database until this transaction ends: its workers are terminated
 * now (SIGTERM, as pg_terminate_backend) and not started again meanwhile,
 * so that an open connection of theirs does not make DROP DATABASE, ALTER
 * DATABASE RENAME or SET TABLESPACE, or CREATE DATABASE with it as the
 * template fail. Returns how many workers were signalled; -1 when no hold
 * could be recorded (the workers are signalled all the same).
 */
int
pc_registry_hold(Oid database)
{
	int			i;
	int			n = 0;
	bool		recorded = false;

	if (registry == NULL)
		return 0;
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	for (i = 0; i < PC_MAX_HOLDS && !recorded; i++)
	{
		PcHold	   *h = &registry->holds[i];

		if (h->database == InvalidOid || !alive(h->pid) ||
			(h->database == database && h->pid == MyProcPid))
		{
			h->database = database;
			h->pid = MyProcPid;
			recorded = true;
		}
	}
	if (recorded)
	{
		registry->holds_generation++;
		holding = true;
	}
	for (i = 0; i < registry->nslots; i++)
	{
		PcWorkerSlot *slot = &registry->slots[i];

		if (slot->in_use && slot->database == database && slot->pid != 0 &&
			slot->pid != MyProcPid && kill(slot->pid, SIGTERM) == 0)
			n++;
	}
	LWLockRelease(registry->lock);
	return recorded ? n : -1;
}

/* Wait until no worker of database is left, up to timeout_ms; whether none is. */
bool
pc_registry_wait_gone(Oid database, long timeout_ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);

	for (;;)
	{
		bool		left = false;
		int			i;

		LWLockAcquire(registry->lock, LW_SHARED);
		for (i = 0; i < registry->nslots && !left; i++)
		{
			PcWorkerSlot *slot = &registry->slots[i];

			left = slot->in_use && slot->database == database && alive(slot->pid) &&
				slot->pid != MyProcPid;
		}
		LWLockRelease(registry->lock);
		if (!left)
			return true;
		if (GetCurrentTimestamp() >= until)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* At the end of the holding transaction: the databases it held are free again. */
void
pc_registry_unhold(void)
{
	int			i;

	if (!holding || registry == NULL)
		return;
	holding = false;
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	for (i = 0; i < PC_MAX_HOLDS; i++)
		if (registry->holds[i].pid == MyProcPid)
		{
			registry->holds[i].database = InvalidOid;
			registry->holds[i].pid = 0;
		}
	wake_supervisor_locked();
	LWLockRelease(registry->lock);
}

/*
 * The extension was created, updated or dropped in database (this
 * transaction committed): its running workers look again now (and exit
 * if it is gone; one that found it missing just before exits WANTED); a
 * launcher that exited for want of it is WANTED again; a database whose
 * launcher's slot the supervisor freed (it knows it absent) is queued for
 * the supervisor to look at again.
 */
void
pc_registry_nudge(Oid database)
{
	int			i;

	if (registry == NULL)
		return;
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	/* without a launcher's slot, the supervisor may know the database absent */
	if (pc_registry_find_locked(PC_WORKER_LAUNCHER, database) == NULL)
	{
		if (registry->nnudges < PC_MAX_NUDGES)
			registry->nudges[registry->nnudges++] = database;
		else
			registry->nudge_overflow = true;
	}
	for (i = 0; i < registry->nslots; i++)
	{
		PcWorkerSlot *slot = &registry->slots[i];

		if (!slot->in_use || slot->database != database)
			continue;
		if (slot->state == PC_SLOT_ABSENT)
		{
			slot->state = PC_SLOT_WANTED;
			slot->restart_at = 0;
		}
		else
		{
			pg_atomic_write_u32(&slot->nudged, 1);
			pg_atomic_write_u32(&slot->wake, 1);
			if (slot->latch != NULL)
				SetLatch(slot->latch);
		}
	}
	wake_supervisor_locked();
	LWLockRelease(registry->lock);
}
