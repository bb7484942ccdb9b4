/*-------------------------------------------------------------------------
 * spi_util.c
 *	  Owns the plan cache of every SQL-facing module: each statement is
 *	  prepared on first use with SPI_prepare_cursor (its cursor options:
 *	  PC_PLAN_GENERIC), kept with SPI_keepplan, and run
 *	  with parameters thereafter. Also the helpers that read columns of the
 *	  last result and return rows to the executor.
 *
 *	  Every function here expects an open SPI connection.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "spi_util.h"

static SPIPlanPtr
pc_plan_get(PcPlan *p)
{
	if (p->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(p->sql, p->nargs, p->argtypes,
											  p->cursor_options);

		if (plan == NULL)
			elog(ERROR, "paperclip: SPI_prepare failed (%s) for: %s",
				 SPI_result_code_string(SPI_result), p->sql);
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "paperclip: SPI_keepplan failed");
		p->plan = plan;
	}
	return p->plan;
}

static int
exec_plan(PcPlan *p, Datum *values, const char *nulls, bool read_only, long tcount)
{
	int			rc = SPI_execute_plan(pc_plan_get(p), values, nulls, read_only, tcount);

	if (rc < 0)
		elog(ERROR, "paperclip: SPI_execute_plan failed (%s) for: %s",
			 SPI_result_code_string(rc), p->sql);
	return (int) SPI_processed;
}

/*
 * Run a kept plan; returns the number of rows processed. Results stay in
 * SPI_tuptable until the next call (and in memory until SPI_finish, or
 * pc_free_tuptable).
 */
int
pc_exec(PcPlan *p, Datum *values, const char *nulls, long tcount)
{
	return exec_plan(p, values, nulls, false, tcount);
}

/*
 * Run a kept plan read-only, as STABLE functions must: it sees the snapshot
 * of the query that called the function, and may not write.
 */
int
pc_exec_ro(PcPlan *p, Datum *values, const char *nulls, long tcount)
{
	return exec_plan(p, values, nulls, true, tcount);
}

/*
 * Free a result nobody reads any more: loops that run statements call this,
 * so that their results do not pile up until SPI_finish. SPI_tuptable is
 * reset when it is the one freed.
 */
void
pc_free_tuptable(SPITupleTable *tuptable)
{
	if (tuptable == NULL)
		return;
	if (tuptable == SPI_tuptable)
		SPI_tuptable = NULL;
	SPI_freetuptable(tuptable);
}

/* Run a plan expected to produce at most one row; true when it did. */
bool
pc_exec_row(PcPlan *p, Datum *values, const char *nulls)
{
	return pc_exec(p, values, nulls, 1) > 0;
}

char
pc_null(bool isnull)
{
	return isnull ? 'n' : ' ';
}

static int
pc_fnumber(const char *name)
{
	int			fno = SPI_fnumber(SPI_tuptable->tupdesc, name);

	if (fno <= 0)
		elog(ERROR, "paperclip: result has no column \"%s\"", name);
	return fno;
}

/* Column "name" of row "row" of the last result. */
Datum
pc_getattr(int row, const char *name, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 pc_fnumber(name), isnull);
}

/* Column "name" of row "row" as text (type output function), or NULL. */
char *
pc_getattr_cstring(int row, const char *name)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						pc_fnumber(name));
}

/* Column "name" of row "row", an integer column (int2, int4 or int8), or 0 when null. */
int64
pc_getattr_int64(int row, const char *name)
{
	bool		isnull;
	Datum		d = pc_getattr(row, name, &isnull);

	if (isnull)
		return 0;
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, pc_fnumber(name)))
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		default:
			return DatumGetInt64(d);
	}
}

/*
 * Return row "row" of the last result as the function's composite result:
 * a tuple of the declared row type, from the result's leading columns
 * (which must be that table's columns, in its order), in the caller's
 * memory context.
 */
Datum
pc_return_row(FunctionCallInfo fcinfo, int row)
{
	TupleDesc	spi_desc = SPI_tuptable->tupdesc;
	TupleDesc	ret_desc;
	Datum	   *values;
	bool	   *nulls;
	HeapTuple	tuple;

	if (get_call_result_type(fcinfo, NULL, &ret_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "paperclip: function does not return a row type");
	if (spi_desc->natts < ret_desc->natts)
		elog(ERROR, "paperclip: result has %d columns, its row type %d",
			 spi_desc->natts, ret_desc->natts);

	values = palloc(sizeof(Datum) * spi_desc->natts);
	nulls = palloc(sizeof(bool) * spi_desc->natts);
	heap_deform_tuple(SPI_tuptable->vals[row], spi_desc, values, nulls);
	tuple = heap_form_tuple(ret_desc, values, nulls);

	/* copied (and flattened) into the caller's context by SPI */
	return PointerGetDatum(SPI_returntuple(tuple, ret_desc));
}

/*
 * Materialize every row of the last result as the set-returning function's
 * result. The query's columns must match the declared result columns.
 */
void
pc_return_rows(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
		tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
}

/*
 * Run fn(arg) in an internal subtransaction. On success NULL; on error the
 * subtransaction is rolled back and the error, copied into the caller's
 * memory context, is returned for the caller to report or rethrow. SPI
 * connections opened before stay usable. A query cancel is never returned:
 * it cancels the caller's statement (or the worker's unit of work) as a
 * whole, so it is raised again once the subtransaction is rolled back.
 */
ErrorData *
pc_try_subxact(PcSubxactFn fn, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (edata != NULL && edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		ReThrowError(edata);
	return edata;
}
