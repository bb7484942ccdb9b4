/*-------------------------------------------------------------------------
 * bgworkers.h
 *	  What every background worker of paperclip shares (common.c): the
 *	  session settings of a worker, and one unit of work in its own
 *	  transaction.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_BGWORKERS_H
#define PAPERCLIP_BGWORKERS_H

#include "postgres.h"

extern void pc_worker_session_settings(void);

/* A unit of work: runs in its own transaction with an open SPI connection. */
typedef void (*PcUnitFn) (void *arg);
extern bool pc_run_unit(const char *activity, PcUnitFn fn, void *arg);

#endif
