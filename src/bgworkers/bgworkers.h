/*-------------------------------------------------------------------------
 * bgworkers.h
 *	  What every background worker of paperclip shares: the registry of
 *	  workers in shared memory (registry.c), and the worker's life
 *	  (common.c): its start, one unit of work in its own transaction, its
 *	  interrupts, its recovery from errors outside a unit, and its back-off
 *	  from a misconfiguration.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_BGWORKERS_H
#define PAPERCLIP_BGWORKERS_H

#include "postgres.h"

#include "port/atomics.h"
#include "storage/latch.h"
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
	PC_TROUBLE_NO_DATABASE,		/* paperclip.database_name: cannot connect */
	PC_TROUBLE_NO_EXTENSION,	/* CREATE EXTENSION paperclip not done */
	PC_TROUBLE_OLD_EXTENSION,	/* the extension is not at the library's
								 * version: ALTER EXTENSION ... UPDATE not done */
	PC_TROUBLE_READ_ONLY,		/* the database refuses writes */
	PC_TROUBLE_DIRECTORIES		/* run log or spool directory unusable */
} PcTrouble;

/* Shortest wait before a worker tries again after a misconfiguration. */
#define PC_BACKOFF_MIN_MS 10000
#define PC_BACKOFF_MAX_MS 60000

/*
 * One worker's slot in the registry. The fields above "wake" change under
 * the registry's LWLock; the atomics are read and set without it.
 */
typedef struct PcWorkerSlot
{
	bool		in_use;			/* names a worker: kind and database */
	PcWorkerKind kind;
	NameData	dbname;			/* the database it serves, by name */
	Oid			database;		/* and by OID once connected */
	pid_t		pid;			/* 0 while no process holds the slot */
	Latch	   *latch;
	TimestampTz started_at;
	pg_atomic_uint32 wake;		/* raised at commit: work is waiting */
	pg_atomic_uint32 trouble;	/* the PcTrouble last reported, or 0 */
	pg_atomic_uint32 backoffs;	/* back-offs in a row, for their length */
} PcWorkerSlot;

/* registry.c */
extern PcWorkerSlot *pc_registry_claim(PcWorkerKind kind, const char *dbname,
									   pid_t *holder);
extern void pc_registry_connected(PcWorkerSlot *slot);
extern void pc_registry_release(PcWorkerSlot *slot);

/* common.c: the worker's life */
extern PcWorkerSlot *MyWorkerSlot;
extern const char *pc_worker_name(void);
extern void pc_worker_start(PcWorkerKind kind);
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

extern void pc_worker_back_off(PcTrouble trouble, const char *why);
extern void pc_worker_working(void);
extern void pc_worker_resolved(PcTrouble trouble);
extern void pc_worker_trouble_over(void);

#pragma GCC visibility pop

#endif
