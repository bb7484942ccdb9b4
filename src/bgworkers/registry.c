/*-------------------------------------------------------------------------
 * registry.c
 *	  The registry of paperclip's workers in shared memory: one slot per
 *	  worker, named by its kind and the database it serves, holding its pid
 *	  and latch under the registry's LWLock, the wake flag backends raise at
 *	  commit, and what the worker, backing off from a misconfiguration, has
 *	  already reported (so that a restarted worker does not say it again).
 *
 *	  One worker of each kind per database: a second worker claiming a slot
 *	  whose process lives is refused. Today the launcher and the scheduler
 *	  are static workers serving paperclip.database_name; a supervisor
 *	  starting one of each per database claims slots the same way.
 *
 *	  Slots are never moved; a slot stays claimed for its (kind, database)
 *	  when its worker exits, so the next worker finds what was reported.
 *	  Backends wake a worker without the lock: they remember the slot they
 *	  found and check, at each use, that it still names their database.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "paperclip.h"
#include "bgworkers/bgworkers.h"

#define REGISTRY_TRANCHE "paperclip"

typedef struct PcRegistry
{
	LWLock	   *lock;
	pg_atomic_uint32 generation;	/* bumped when a worker comes or goes */
	int			nslots;
	PcWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} PcRegistry;

static PcRegistry *registry = NULL;

/*
 * Per backend: the slot last found for each kind of worker, or -1; and,
 * when none was found, the generation of the registry then (a database
 * without workers costs no lock at each commit until a worker comes).
 */
static int	cached_slot[PC_WORKER_KINDS] = {-1, -1};
static uint32 cached_none_generation[PC_WORKER_KINDS] = {0, 0};
static Oid	cached_none_database[PC_WORKER_KINDS] = {InvalidOid, InvalidOid};

/* Every worker of ours is a background worker: at most this many slots. */
static int
registry_slots(void)
{
	return Max(max_worker_processes, PC_WORKER_KINDS);
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

/* In the shmem startup hook, under AddinShmemInitLock. */
void
pc_registry_shmem_init(void)
{
	bool		found;
	int			i;

	registry = ShmemInitStruct("paperclip worker registry", pc_registry_shmem_size(), &found);
	if (found)
		return;
	registry->lock = &(GetNamedLWLockTranche(REGISTRY_TRANCHE))->lock;
	pg_atomic_init_u32(&registry->generation, 1);
	registry->nslots = registry_slots();
	for (i = 0; i < registry->nslots; i++)
	{
		PcWorkerSlot *slot = &registry->slots[i];

		memset(slot, 0, sizeof(*slot));
		pg_atomic_init_u32(&slot->wake, 0);
		pg_atomic_init_u32(&slot->trouble, PC_TROUBLE_NONE);
		pg_atomic_init_u32(&slot->backoffs, 0);
	}
}

/* Whether the library was preloaded: without it there are no workers. */
bool
pc_registry_attached(void)
{
	return registry != NULL;
}

/*
 * Claim the slot of a worker of this kind for the database named dbname,
 * for this process. NULL when another live process holds it (its pid in
 * *holder) or when every slot is taken (*holder 0).
 */
PcWorkerSlot *
pc_registry_claim(PcWorkerKind kind, const char *dbname, pid_t *holder)
{
	PcWorkerSlot *mine = NULL;
	PcWorkerSlot *free_slot = NULL;
	int			i;

	*holder = 0;
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	for (i = 0; i < registry->nslots && mine == NULL; i++)
	{
		PcWorkerSlot *slot = &registry->slots[i];

		if (!slot->in_use)
		{
			if (free_slot == NULL)
				free_slot = slot;
		}
		else if (slot->kind == kind && strcmp(NameStr(slot->dbname), dbname) == 0)
			mine = slot;
	}
	if (mine != NULL && mine->pid != 0 && mine->pid != MyProcPid &&
		kill(mine->pid, 0) == 0)
	{
		*holder = mine->pid;
		mine = NULL;
	}
	else
	{
		if (mine == NULL && free_slot != NULL)
		{
			mine = free_slot;
			mine->in_use = true;
			mine->kind = kind;
			namestrcpy(&mine->dbname, dbname);
			pg_atomic_write_u32(&mine->wake, 0);
			pg_atomic_write_u32(&mine->trouble, PC_TROUBLE_NONE);
			pg_atomic_write_u32(&mine->backoffs, 0);
		}
		if (mine != NULL)
		{
			mine->database = InvalidOid;
			mine->pid = MyProcPid;
			mine->latch = MyLatch;
			mine->started_at = GetCurrentTimestamp();
		}
	}
	pg_atomic_fetch_add_u32(&registry->generation, 1);
	LWLockRelease(registry->lock);
	return mine;
}

/* The worker is connected to its database: backends may now wake it. */
void
pc_registry_connected(PcWorkerSlot *slot)
{
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	slot->database = MyDatabaseId;
	pg_atomic_fetch_add_u32(&registry->generation, 1);
	LWLockRelease(registry->lock);
}

/* The worker exits; the slot keeps its name and what it reported. */
void
pc_registry_release(PcWorkerSlot *slot)
{
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	if (slot->pid == MyProcPid)
	{
		slot->pid = 0;
		slot->latch = NULL;
		slot->database = InvalidOid;
	}
	pg_atomic_fetch_add_u32(&registry->generation, 1);
	LWLockRelease(registry->lock);
}

/* The running worker of this kind serving database, or NULL. */
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

	slot = NULL;
	LWLockAcquire(registry->lock, LW_SHARED);
	generation = pg_atomic_read_u32(&registry->generation);
	for (i = 0; i < registry->nslots; i++)
		if (registry->slots[i].in_use && registry->slots[i].kind == kind &&
			registry->slots[i].database == database)
		{
			slot = &registry->slots[i];
			cached_slot[kind] = i;
			break;
		}
	LWLockRelease(registry->lock);
	if (slot == NULL)
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
