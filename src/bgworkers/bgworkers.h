/*-------------------------------------------------------------------------
 * bgworkers.h
 *	  What every background worker of paperclip shares: the registry of
 *	  workers in shared memory (registry.c), the supervisor that starts one
 *	  launcher and one scheduler per database (supervisor.c), and the
 *	  worker's life (common.c): its start, one unit of work in its own
 *	  transaction, its interrupts, its recovery from errors outside a unit,
 *	  its back-off from a misconfiguration, and its exit.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_BGWORKERS_H
#define PAPERCLIP_BGWORKERS_H

#include "postgres.h"

#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

#include "paperclip.h"

/*
 * Internal to the library: not exported, so that another library loaded
 * into the same process can neither see nor shadow these names.
 */
#pragma GCC visibility push(hidden)

/*
 * What keeps a worker from working, reported once (also across its
 * restarts) and waited out with a back-off; 0 while there is none.
 */
typedef enum PcTrouble
{
	PC_TROUBLE_NONE = 0,
	PC_TROUBLE_NO_DATABASE,		/* its database refuses the connection */
	PC_TROUBLE_NO_EXTENSION,	/* CREATE EXTENSION paperclip not done */
	PC_TROUBLE_OLD_EXTENSION,	/* the extension is not at the library's
								 * version: ALTER EXTENSION ... UPDATE not done */
	PC_TROUBLE_READ_ONLY,		/* the database refuses writes */
	PC_TROUBLE_DIRECTORIES		/* run log or spool directory unusable */
} PcTrouble;

/*
 * How long a worker's statement waits for a row lock before its unit of
 * work fails with 55P03 and is tried again later. A client transaction left
 * open on rows the workers write (an agent an admin updates, a run an
 * external runner appends to) must not hold the one launcher of a database,
 * which serves every company; a lock timeout is not the unit's fault.
 */
#define PC_WORKER_LOCK_TIMEOUT_MS 100
/* The retry after a lock timeout: from this, doubling up to the maximum. */
#define PC_LOCK_RETRY_MIN_MS 250
#define PC_LOCK_RETRY_MAX_MS 10000

/* Shortest wait before a worker tries again after a misconfiguration. */
#define PC_BACKOFF_MIN_MS 10000
#define PC_BACKOFF_MAX_MS 60000

/*
 * What the registry says of a worker: the supervisor starts the ones
 * WANTED, the worker itself says RUNNING when it claims its slot and, when
 * it exits, what should become of it.
 */
typedef enum PcSlotState
{
	PC_SLOT_WANTED = 0,			/* to be started, not before restart_at */
	PC_SLOT_STARTING,			/* registered by the supervisor, not claimed yet */
	PC_SLOT_RUNNING,			/* a process holds it (pid) */
	PC_SLOT_ABSENT,				/* exited: its database has no extension */
	PC_SLOT_IDLE				/* exited: its database is not to be served */
} PcSlotState;

/*
 * One worker's slot in the registry, named by its kind and the OID of the
 * database it serves. The fields above "wake" change under the registry's
 * LWLock; the atomics are read and set without it.
 */
typedef struct PcWorkerSlot
{
	bool		in_use;			/* names a worker: kind and database */
	PcWorkerKind kind;
	Oid			database;		/* the database it serves */
	NameData	dbname;			/* and its name, for messages */
	PcSlotState state;
	TimestampTz restart_at;		/* PC_SLOT_WANTED: not started before */
	TimestampTz started_at;		/* registered (STARTING) or claimed (RUNNING) */
	bool		present;		/* a launcher: it found the extension */
	bool		short_of_workers;	/* no background worker slot was free for it */
	pid_t		pid;			/* 0 while no process holds the slot */
	Latch	   *latch;
	pg_atomic_uint32 wake;		/* raised at commit: work is waiting */
	pg_atomic_uint32 trouble;	/* the PcTrouble last reported, or 0 */
	pg_atomic_uint32 backoffs;	/* back-offs in a row, for their length */
	pg_atomic_uint32 nudged;	/* the extension was created, updated or
								 * dropped since the worker last looked */
} PcWorkerSlot;

/* Why a worker could not claim its slot. */
typedef enum PcClaimRefusal
{
	PC_CLAIM_DUPLICATE,			/* another live process holds it */
	PC_CLAIM_HELD,				/* its database is held (being dropped, ...) */
	PC_CLAIM_FULL				/* every slot is taken */
} PcClaimRefusal;

/* How long after exiting a worker is started again (as bgw_restart_time was). */
#define PC_LAUNCHER_RESTART_MS 1000
#define PC_SCHEDULER_RESTART_MS 5000

/* registry.c: for the workers */
extern PcWorkerSlot *pc_registry_claim(PcWorkerKind kind, Oid database,
									   PcClaimRefusal *refusal, pid_t *holder);
extern void pc_registry_named(PcWorkerSlot *slot, const char *dbname);
extern void pc_registry_release(PcWorkerSlot *slot, PcSlotState next, int restart_ms);
extern void pc_registry_found_extension(PcWorkerSlot *slot);

/* registry.c: for the supervisor, which reads and changes slots under the lock */
extern bool pc_registry_supervisor_attach(pid_t *other);
extern void pc_registry_supervisor_detach(void);
extern void pc_registry_lock(LWLockMode mode);
extern void pc_registry_unlock(void);
extern int	pc_registry_nslots(void);
extern PcWorkerSlot *pc_registry_slot(int i);
extern PcWorkerSlot *pc_registry_find_locked(PcWorkerKind kind, Oid database);
extern PcWorkerSlot *pc_registry_add_locked(PcWorkerKind kind, Oid database,
											const char *dbname);
extern void pc_registry_free_locked(PcWorkerSlot *slot);
extern bool pc_registry_held_locked(Oid database);
extern uint32 pc_registry_holds_generation_locked(void);
extern int	pc_registry_take_nudges_locked(Oid *databases, int max, bool *overflow);
extern bool *pc_registry_said_short_locked(void);
extern NameData *pc_registry_said_missing_locked(void);

/* common.c: the worker's life */
extern PcWorkerSlot *MyWorkerSlot;
extern const char *pc_worker_name(void);
extern const char *pc_worker_database(void);
extern void pc_worker_start(PcWorkerKind kind);
extern void pc_worker_reload_config(void);
extern void pc_worker_found_extension(void);
extern bool pc_worker_nudged(void);
extern void pc_worker_exit(PcSlotState next);
extern void pc_worker_session_settings(void);
extern bool pc_worker_take_wake(void);
extern void pc_worker_check_interrupts(void);
extern void pc_worker_recover(void);

/*
 * A unit of work: runs in its own transaction with an open SPI connection.
 * An error (a query cancel included) rolls the unit back, is logged with
 * its SQLSTATE, and is handed to the caller (in the caller's memory
 * context) when "error" is not NULL, to retry the unit or record it.
 */
typedef void (*PcUnitFn) (void *arg);
extern bool pc_run_unit(const char *activity, PcUnitFn fn, void *arg,
						ErrorData **error);
extern bool pc_error_is_misconfiguration(const ErrorData *edata, PcTrouble *trouble);
extern bool pc_error_is_lock_timeout(const ErrorData *edata);
extern long pc_lock_retry_ms(int n);

extern void pc_worker_back_off(PcTrouble trouble, const char *why);
extern void pc_worker_working(void);
extern void pc_worker_resolved(PcTrouble trouble);
extern void pc_worker_trouble_over(void);

#pragma GCC visibility pop

#endif
