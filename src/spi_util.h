/*-------------------------------------------------------------------------
 * spi_util.h
 *	  Kept SPI plans and the small helpers every SQL-facing module uses to run
 *	  them and hand their rows back to the executor.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_SPI_UTIL_H
#define PAPERCLIP_SPI_UTIL_H

#include "postgres.h"
#include "executor/spi.h"
#include "fmgr.h"

/* A statement prepared once per backend and kept across calls. */
typedef struct PcPlan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[16];
	int			cursor_options; /* CURSOR_OPT_* given to SPI_prepare_cursor */
	SPIPlanPtr	plan;
} PcPlan;

#define PC_PLAN(sql_, ...) \
	{ .sql = (sql_), .nargs = (sizeof((Oid[]){__VA_ARGS__}) / sizeof(Oid)), .argtypes = {__VA_ARGS__} }

/*
 * A statement always run with its generic plan, whatever plan_cache_mode
 * says: for statements whose every plan is the same primary-key probe, so
 * that planning it again on each call (a custom plan, chosen when the
 * generic plan's estimate looks dearer) buys nothing. Check the generic
 * plan with EXPLAIN (GENERIC_PLAN is PostgreSQL 16's; in 15, PREPARE it and
 * EXPLAIN EXECUTE it six times under plan_cache_mode = force_generic_plan).
 */
#define PC_PLAN_GENERIC(sql_, ...) \
	{ .sql = (sql_), .nargs = (sizeof((Oid[]){__VA_ARGS__}) / sizeof(Oid)), .argtypes = {__VA_ARGS__}, \
	  .cursor_options = CURSOR_OPT_GENERIC_PLAN }

/*
 * A text column compared without the help of any index, e.g. the status of a
 * run found by id: a partial index on that status (claim, pending, retries
 * due) planned against stale statistics looks free and would be scanned
 * whole instead of the one primary-key probe.
 */
#define PC_NO_INDEX(column) "(" column " || '')"

extern int	pc_exec(PcPlan *p, Datum *values, const char *nulls, long tcount);
extern bool pc_exec_row(PcPlan *p, Datum *values, const char *nulls);
extern int	pc_exec_ro(PcPlan *p, Datum *values, const char *nulls, long tcount);
extern void pc_free_tuptable(SPITupleTable *tuptable);

extern Datum pc_getattr(int row, const char *name, bool *isnull);
extern char *pc_getattr_cstring(int row, const char *name);
extern int64 pc_getattr_int64(int row, const char *name);
extern Datum pc_return_row(FunctionCallInfo fcinfo, int row);
extern void pc_return_rows(FunctionCallInfo fcinfo);

extern char pc_null(bool isnull);

/* Run fn(arg) in a subtransaction: NULL, or its error (rolled back, flushed). */
typedef void (*PcSubxactFn) (void *arg);
extern ErrorData *pc_try_subxact(PcSubxactFn fn, void *arg);

#endif
