/*-------------------------------------------------------------------------
 * log_tail.c
 *	  The launcher's side of run logs: its runners append each run's log to
 *	  a spool file (<spool>/<run_id>.log, their durable buffer: it survives
 *	  a crash of the launcher and of the server), and the launcher copies
 *	  what paperclip.run_log_chunks lacks of it into the table.
 *
 *	  - While a run goes on: a runner's log frames only announce records
 *	    (stream, offset, bytes). Within LOG_FLUSH_MS of an announcement,
 *	    and every tick for every run (frames may be dropped or capped), one
 *	    unit of work copies what the files have grown by, LOG_FLUSH_BUDGET
 *	    bytes at most for all runs together, in one INSERT, and sends the
 *	    live events of the records the table now holds. These units commit
 *	    asynchronously (synchronous_commit off): what a crash takes of them
 *	    is copied again from the file, which stays until the run is
 *	    finalized.
 *	  - When a run is finalized: the rest of its file is copied in the
 *	    finalization's own transaction (a run with much left is copied in
 *	    batches first), so a finished run's log is whole once its result is
 *	    recorded; a log shorter than the result's logBytes gets a warning
 *	    event. After that commit, the file goes.
 *	  - Runs of a file store (paperclip.log_store = file) copy nothing:
 *	    only their live events wait here until the file holds the record.
 *
 *	  The table holds a prefix of each file: rows are appended in the
 *	  file's order, and a crash loses only the latest commits.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "json_util.h"
#include "paperclip.h"
#include "spi_util.h"
#include "bgworkers/bgworkers.h"
#include "bgworkers/launcher.h"

/* When the next copy is due (0: none asked for) */
static TimestampTz flush_at = 0;
/* Where the next pass starts among the runs, so that none waits behind the others */
static int	next_first = 0;

void
log_tail_start(LogTail *t, bool db, bool fresh)
{
	LogNote    *notes = t->notes;

	memset(t, 0, sizeof(*t));
	t->notes = notes;
	t->db = db;
	t->stored = fresh ? 0 : -1;
	t->copied = -1;
}

void
log_tail_forget(LogTail *t)
{
	if (t->notes)
		pfree(t->notes);
	memset(t, 0, sizeof(*t));
}

static void
flush_soon(TimestampTz at)
{
	if (flush_at == 0 || at < flush_at)
		flush_at = at;
}

/* A record its runner announced; its live event goes once the table holds it. */
void
log_tail_note(LogTail *t, const char *stream, int64 offset, int64 bytes)
{
	LogNote    *n;

	/* frames are handled again after a failed unit: once is enough */
	if (offset < t->noted_upto || bytes <= 0 || bytes > PG_INT32_MAX)
		return;
	t->noted_upto = offset + bytes;
	t->grew = true;
	flush_soon(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), LOG_FLUSH_MS));
	if (t->nnotes >= LOG_NOTES_MAX)
		return;					/* live events are hints: these go unsaid */
	if (t->notes == NULL)
		t->notes = MemoryContextAlloc(TopMemoryContext, sizeof(LogNote) * LOG_NOTES_MAX);
	n = &t->notes[t->nnotes++];
	n->offset = offset;
	n->bytes = (int32) bytes;
	n->stream = strcmp(stream, "stderr") == 0 ? 'e' : strcmp(stream, "stdout") == 0 ? 'o' : 's';
}

/* The earlier of next and the next copy due. */
TimestampTz
log_flush_next(TimestampTz next)
{
	return flush_at == 0 ? next : Min(next, flush_at);
}

/* The file a run's log is copied from, or (a file store) kept in. */
static char *
log_file(LogTail *t, const char *run_id_str, const char *company_id_str)
{
	struct stat st;
	char	   *spool = spool_log_path(run_id_str);
	char	   *legacy;

	if (!t->db)
		return pc_run_log_path(company_id_str, run_id_str, false);
	if (stat(spool, &st) == 0)
		return spool;
	/* a run that 0.1's runner started: its log file is 0.1's */
	legacy = pc_legacy_run_log_path(company_id_str, run_id_str);
	if (stat(legacy, &st) == 0)
		return legacy;
	return spool;
}

static int64
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64) st.st_size : -1;
}

/*
 * Whether a run to be finalized has more left to copy than a finalization
 * should take on (or an unknown amount): then a copy comes first.
 */
bool
log_tail_behind(LogTail *t, const char *run_id_str)
{
	int64		size;

	if (!t->db || t->failures >= LOG_FLUSH_FAILURES)
		return false;
	size = file_size(spool_log_path(run_id_str));
	if (size <= 0 || (t->stored >= 0 && size - t->stored <= LOG_FLUSH_BUDGET))
		return false;
	t->grew = true;
	flush_soon(GetCurrentTimestamp());
	return true;
}

/* ----------------------------------------------------------------------
 * Copies while runs go on
 * ----------------------------------------------------------------------
 */

typedef struct Tail
{
	LogTail    *t;
	const char *run_id_str;
	const char *company_id_str;
	char	   *path;
	int64		size;			/* the file's, when looked at */
	int64		stored;			/* the table's after this unit */
	int			delivered;		/* notes whose live event went */
} Tail;

typedef struct FlushPass
{
	Tail	   *tails;
	int			n;
	bool		more;			/* some run has more to copy */
} FlushPass;

/*
 * Send the live events of the records announced that the log now holds
 * (up to stored); returns how many, to be dropped once this commits.
 */
static int
notify_stored(LogTail *t, const char *run_id_str, const char *company_id_str, int64 stored)
{
	int			n = 0;

	while (n < t->nnotes && t->notes[n].offset + t->notes[n].bytes <= stored)
	{
		LogNote    *note = &t->notes[n];

		pc_notify_run_log(company_id_str, run_id_str,
						  note->stream == 'o' ? "stdout" : note->stream == 'e' ? "stderr" : "system",
						  note->offset, note->bytes);
		n++;
	}
	return n;
}

/* Forget the notes whose live events were sent by a unit that committed. */
static void
drop_notes(LogTail *t, int n)
{
	if (n <= 0)
		return;
	memmove(t->notes, t->notes + n, sizeof(LogNote) * (t->nnotes - n));
	t->nnotes -= n;
}

static Datum
uuid_of(const char *s)
{
	return DirectFunctionCall1(uuid_in, CStringGetDatum(s));
}

static void
flush_unit(void *arg)
{
	FlushPass  *p = (FlushPass *) arg;
	PcLogRows	rows;
	int64		budget = LOG_FLUSH_BUDGET;

	/* a crash loses nothing a file still holds: no need to wait for the WAL */
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	pc_log_rows_init(&rows);
	p->more = false;
	for (int i = 0; i < p->n; i++)
	{
		Tail	   *c = &p->tails[i];
		Datum		company_id = uuid_of(c->company_id_str);
		Datum		run_id = uuid_of(c->run_id_str);
		int64		from;

		c->delivered = 0;
		if (!c->t->db)
		{
			c->stored = c->size;	/* the file is the log */
			continue;
		}
		from = c->t->stored >= 0 ? c->t->stored : pc_run_log_end(company_id, run_id);
		c->stored = from + pc_log_rows_add_file(&rows, company_id, run_id, c->path, from,
												Max(budget, 0), &c->size);
		budget -= c->stored - from;
		if (c->stored < c->size)
			p->more = true;
	}
	pc_log_rows_insert(&rows);

	/* the live events of the records now readable */
	for (int i = 0; i < p->n; i++)
		p->tails[i].delivered = notify_stored(p->tails[i].t, p->tails[i].run_id_str,
											  p->tails[i].company_id_str, p->tails[i].stored);
}

/* After a unit committed: what it copied and said is done. */
static void
flush_done(Tail *c)
{
	LogTail    *t = c->t;

	t->stored = c->stored;
	t->failures = 0;
	drop_notes(t, c->delivered);
	t->grew = t->stored < c->size || t->nnotes > 0;
}

static void
add_tail(FlushPass *p, LogTail *t, const char *run_id_str, const char *company_id_str,
		 bool look_at_all)
{
	Tail	   *c;
	int64		size;
	char	   *path;

	if (t->failures >= LOG_FLUSH_FAILURES || !(t->grew || look_at_all))
		return;
	if (!t->db && t->nnotes == 0)
		return;
	path = log_file(t, run_id_str, company_id_str);
	size = file_size(path);
	/* nothing new to copy, nor a live event to send: no transaction */
	if (size <= 0 ||
		(t->stored >= 0 && size <= t->stored &&
		 (t->nnotes == 0 || t->notes[0].offset + t->notes[0].bytes > t->stored)))
	{
		t->grew = false;
		return;
	}
	c = &p->tails[p->n++];
	c->t = t;
	c->run_id_str = run_id_str;
	c->company_id_str = company_id_str;
	c->path = path;
	c->size = size;
}

/*
 * Copy what the runs' files have grown by (look_at_all: every run's, else
 * those announced), in one unit of work; if it fails, run by run, so that
 * one run's trouble does not hold back the others (a run whose copies
 * keep failing is copied when it is finalized).
 */
void
flush_logs(bool look_at_all)
{
	FlushPass	p;
	int			total = nrunners + norphans;
	ErrorData  *edata;

	flush_at = 0;
	if (total == 0)
		return;
	p.tails = palloc(sizeof(Tail) * total);
	p.n = 0;
	for (int k = 0; k < nrunners; k++)
	{
		Runner	   *r = &runners[(k + next_first) % nrunners];

		if (r->in_use && !r->fin.done && !r->dropped)
			add_tail(&p, &r->log, r->run_id_str, r->company_id_str, look_at_all);
	}
	next_first = nrunners > 0 ? (next_first + 1) % nrunners : 0;
	for (int k = 0; k < norphans; k++)
	{
		Orphan	   *o = &orphans[k];

		if (!o->fin.done && o->log.db)
			add_tail(&p, &o->log, o->run_id_str, o->company_id_str, look_at_all);
	}
	if (p.n == 0)
		return;

	if (launcher_unit("paperclip launcher: copying run logs", flush_unit, &p, &edata))
	{
		for (int i = 0; i < p.n; i++)
			flush_done(&p.tails[i]);
		if (p.more)
			flush_soon(GetCurrentTimestamp());
		return;
	}
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || p.n == 1)
	{
		if (edata->sqlerrcode != ERRCODE_QUERY_CANCELED &&
			++p.tails[0].t->failures >= LOG_FLUSH_FAILURES)
			ereport(WARNING,
					(errmsg("paperclip launcher: run %s: copying its log failed %d times; the rest is copied when the run is finalized",
							p.tails[0].run_id_str, LOG_FLUSH_FAILURES)));
		FreeErrorData(edata);
		flush_soon(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), LAUNCHER_TICK_MS));
		return;
	}
	FreeErrorData(edata);
	/* one run at a time, to find the one that fails */
	for (int i = 0; i < p.n; i++)
	{
		FlushPass	one = {&p.tails[i], 1, false};

		if (launcher_unit("paperclip launcher: copying a run log", flush_unit, &one, &edata))
		{
			flush_done(&p.tails[i]);
			if (one.more)
				flush_soon(GetCurrentTimestamp());
			continue;
		}
		if (edata->sqlerrcode != ERRCODE_QUERY_CANCELED &&
			++p.tails[i].t->failures >= LOG_FLUSH_FAILURES)
			ereport(WARNING,
					(errmsg("paperclip launcher: run %s: copying its log failed %d times; the rest is copied when the run is finalized",
							p.tails[i].run_id_str, LOG_FLUSH_FAILURES)));
		FreeErrorData(edata);
		flush_soon(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), LAUNCHER_TICK_MS));
	}
}

/* ----------------------------------------------------------------------
 * The rest, when the run is finalized
 * ----------------------------------------------------------------------
 */

typedef struct RestArgs
{
	Datum		company_id;
	Datum		run_id;
	const char *path;
	LogTail    *t;
	int64		stored;
	int64		size;
} RestArgs;

static void
copy_rest(void *arg)
{
	RestArgs   *a = (RestArgs *) arg;

	a->stored = pc_run_log_import(a->company_id, a->run_id, a->path, a->t->stored, &a->size);
}

/*
 * In a run's finalization: copy the rest of its log file into the table
 * (a failure is logged, not the finalization's: the file then stays for
 * the next launcher start to copy), and say so in a warning event when the
 * table holds less than the result's logBytes; the live events of the
 * records announced go with it. t->copied is what the table holds if the
 * finalization commits. Needs SPI.
 */
void
log_copy_rest(Datum company_id, Datum run_id, const char *run_id_str,
			  const char *company_id_str, LogTail *t, Jsonb *result)
{
	RestArgs	a = {company_id, run_id, NULL, t, -1, -1};
	ErrorData  *edata;
	JsonbValue	buf;
	JsonbValue *claimed;

	t->copied = -1;
	t->notified = 0;
	if (!t->db)
	{
		/* a file store: the file has every record its runner announced */
		int64		size = file_size(log_file(t, run_id_str, company_id_str));

		t->notified = notify_stored(t, run_id_str, company_id_str, size);
		return;
	}
	a.path = log_file(t, run_id_str, company_id_str);
	if ((edata = pc_try_subxact(copy_rest, &a)) != NULL)
	{
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("paperclip launcher: run %s: could not copy the rest of its log: %s",
						run_id_str, edata->message),
				 errdetail("The file \"%s\" is kept; the launcher copies it when it starts again.", a.path)));
		FreeErrorData(edata);
		return;
	}
	t->copied = a.stored;
	t->notified = notify_stored(t, run_id_str, company_id_str, a.stored);
	claimed = result ? pc_json_get(&result->root, "logBytes", &buf) : NULL;
	if (claimed != NULL && claimed->type == jbvNumeric &&
		pc_numeric_to_double(claimed->val.numeric) > (double) a.stored)
	{
		StringInfoData payload;
		PcJson		j;
		double		bytes = pc_numeric_to_double(claimed->val.numeric);

		initStringInfo(&payload);
		pc_json_open(&j, &payload);
		pc_json_int(&j, "logBytes", (int64) bytes);
		pc_json_int(&j, "storedBytes", a.stored);
		pc_json_close(&j);
		pc_append_run_event(run_id, "lifecycle", "system", "warn",
							psprintf("run log incomplete: its runner wrote %.0f bytes, " INT64_FORMAT " are kept",
									 bytes, a.stored),
							pc_jsonb_from_cstring(payload.data));
	}
}

/*
 * After the run's finalization committed: its log file goes, once the
 * table holds all of it (else it stays, for clean_spool to copy).
 */
void
log_file_done(LogTail *t, const char *run_id_str, const char *company_id_str)
{
	char	   *path;
	int64		size;

	if (t->copied >= 0)
		t->stored = t->copied;
	drop_notes(t, t->notified);
	t->notified = 0;
	if (!t->db)
		return;
	path = log_file(t, run_id_str, company_id_str);
	size = file_size(path);
	if (size < 0)
		return;
	if (t->stored < size)
	{
		ereport(LOG,
				(errmsg("paperclip launcher: run %s: its log file \"%s\" is kept: " INT64_FORMAT " of its " INT64_FORMAT " bytes are in the database",
						run_id_str, path, Max(t->stored, 0), size)));
		return;
	}
	if (unlink(path) != 0 && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove \"%s\": %m", path)));
}

/* A run gone with the extension: its spool log goes, copied or not. */
void
log_file_discard(LogTail *t, const char *run_id_str)
{
	char	   *path = spool_log_path(run_id_str);

	if (t->db && unlink(path) != 0 && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove \"%s\": %m", path)));
}
