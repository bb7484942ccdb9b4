/*-------------------------------------------------------------------------
 * runlog.c
 *	  Owns run logs as seen from SQL, whatever writes them.
 *
 *	  A run's log is a byte stream of JSON lines, one record a line:
 *	  {"ts":...,"stream":...,"chunk":...}. Where it is kept is the run's
 *	  log_store:
 *	  - db (the default): paperclip.run_log_chunks, rows of consecutive
 *	    byte ranges of the stream (company_id, run_id, byte_offset,
 *	    content), TOAST-compressed. The launcher copies its runners' spool
 *	    logs there (bgworkers/log_tail.c, through pc_log_rows_*);
 *	    paperclip.append_run_log appends records of external runners.
 *	  - file: <paperclip.run_log_directory>/<company_id>/<run_id>.ndjson, a
 *	    file store outside the data directory, written by the runner;
 *	    local_file is the same file as 0.1 named it.
 *	  A file's location is derived from the run's company and id
 *	  (pc_run_log_path, the one rule), never taken from a caller.
 *
 *	  paperclip.read_log reads either by byte offset: whole characters,
 *	  next_offset. The update from 0.1 moves 0.1's log files into the table
 *	  (paperclip_import_file_logs) and removes them once it has committed.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_run_log_path);
PG_FUNCTION_INFO_V1(paperclip_read_log);
PG_FUNCTION_INFO_V1(paperclip_append_run_log);
PG_FUNCTION_INFO_V1(paperclip_import_file_logs);

#define READ_LOG_MAX (16 * 1024 * 1024)
/* the directory 0.1 wrote its logs to by default, relative to the data directory */
#define LEGACY_LOG_DIR "pg_paperclip/run-logs"
/* bytes of one file copied into the table per statement */
#define IMPORT_BATCH (1024 * 1024)

static const char *const log_streams[] = {"stdout", "stderr", "system", NULL};

static PcPlan plan_run_log = PC_PLAN(
	"SELECT company_id, log_store FROM paperclip.heartbeat_runs WHERE id = $1", UUIDOID);

/* $1 company, $2 run: where the log ends (its last row's end) */
static PcPlan plan_log_end = PC_PLAN(
	"SELECT byte_offset + pg_catalog.octet_length(content) AS log_end "
	"FROM paperclip.run_log_chunks WHERE company_id = $1 AND run_id = $2 "
	"ORDER BY byte_offset DESC LIMIT 1",
	UUIDOID, UUIDOID);

/*
 * $1 company, $2 run, $3 offset, $4 bytes wanted: the pieces of the rows
 * that hold [$3, $3 + $4), each from where it is needed (a compressed row
 * is decompressed only up to what is taken).
 */
static PcPlan plan_read_rows = PC_PLAN(
	"SELECT byte_offset, pg_catalog.substring(content, "
	"  GREATEST($3 - byte_offset, 0)::int + 1, $4) AS part "
	"FROM paperclip.run_log_chunks "
	"WHERE company_id = $1 AND run_id = $2 AND byte_offset < $3 + $4 "
	"AND byte_offset >= coalesce((SELECT pg_catalog.max(byte_offset) FROM paperclip.run_log_chunks "
	"  WHERE company_id = $1 AND run_id = $2 AND byte_offset <= $3), 0) "
	"ORDER BY byte_offset",
	UUIDOID, UUIDOID, INT8OID, INT4OID);

static PcPlan plan_insert_rows = PC_PLAN(
	"INSERT INTO paperclip.run_log_chunks (company_id, run_id, byte_offset, content) "
	"SELECT * FROM ROWS FROM (pg_catalog.unnest($1::uuid[]), pg_catalog.unnest($2::uuid[]), "
	"  pg_catalog.unnest($3::bigint[]), pg_catalog.unnest($4::bytea[]))",
	UUIDARRAYOID, UUIDARRAYOID, INT8ARRAYOID, BYTEAARRAYOID);

static PcPlan plan_lock_run_log = PC_PLAN(
	"SELECT company_id, log_store, status = 'running' AND runner_pid IS NOT NULL AS launcher_writes "
	"FROM paperclip.heartbeat_runs WHERE id = $1 FOR NO KEY UPDATE", UUIDOID);

/* $1 run: whether a lifecycle event already said its log was truncated */
static PcPlan plan_truncation_said = PC_PLAN(
	"SELECT 1 FROM paperclip.heartbeat_run_events WHERE run_id = $1 AND event_type = 'lifecycle' "
	"AND message LIKE 'run log truncated at %' LIMIT 1", UUIDOID);

/* $1 run, $2 bytes, $3 stream, $4 chunk */
static PcPlan plan_log_appended = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET log_store = '" PC_LOG_STORE_DB "', log_ref = NULL, "
	" log_bytes = $2, "
	" stdout_excerpt = CASE WHEN $3 = 'stdout' "
	"   THEN right(coalesce(stdout_excerpt, '') || $4, " CppAsString2(PC_EXCERPT_BYTES) ") "
	"   ELSE stdout_excerpt END, "
	" stderr_excerpt = CASE WHEN $3 = 'stderr' "
	"   THEN right(coalesce(stderr_excerpt, '') || $4, " CppAsString2(PC_EXCERPT_BYTES) ") "
	"   ELSE stderr_excerpt END, "
	" updated_at = now() WHERE id = $1",
	UUIDOID, INT8OID, TEXTOID, TEXTOID);

/*
 * The file of a run's log, in the current memory context. The run's
 * company and id are uuids in their text form, so the path stays inside
 * the run log directory; with create_dir, the company's directory is
 * created (0700) when missing.
 */
char *
pc_run_log_path(const char *company_id, const char *run_id, bool create_dir)
{
	char	   *dir = psprintf("%s/%s", pc_run_log_dir(), company_id);

	if (create_dir && pg_mkdir_p(dir, S_IRWXU) != 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", dir)));
	return psprintf("%s/%s.ndjson", dir, run_id);
}

/*
 * Where 0.1 wrote a run's log: in paperclip.run_log_directory when the file
 * is there, else in 0.1's default directory (the setting may have changed
 * since). Both derived from the run, never from its log_ref.
 */
char *
pc_legacy_run_log_path(const char *company_id, const char *run_id)
{
	char	   *path = pc_run_log_path(company_id, run_id, false);
	struct stat st;

	if (stat(path, &st) == 0)
		return path;
	return psprintf("%s/%s/%s/%s.ndjson", DataDir, LEGACY_LOG_DIR, company_id, run_id);
}

static char *
uuid_cstring(Datum uuid)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, uuid));
}

/*
 * paperclip.run_log_path(company_id, run_id) RETURNS text: the launcher
 * names its runners' logs in a file store with it (the same rule as
 * read_log's).
 */
Datum
paperclip_run_log_path(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(pc_run_log_path(uuid_cstring(PG_GETARG_DATUM(0)),
													 uuid_cstring(PG_GETARG_DATUM(1)),
													 false)));
}

static void
run_not_found(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("heartbeat run not found")));
}

static void
log_not_found(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("run log not found"),
			 detail ? errdetail("%s", detail) : 0));
}

/* ----------------------------------------------------------------------
 * Rows of paperclip.run_log_chunks
 * ----------------------------------------------------------------------
 */

/* Where a run's log ends in the table (0: no row). Needs SPI. */
int64
pc_run_log_end(Datum company_id, Datum run_id)
{
	Datum		v[2] = {company_id, run_id};
	bool		isnull;
	int64		end = 0;

	if (pc_exec(&plan_log_end, v, NULL, 1) > 0)
		end = DatumGetInt64(pc_getattr(0, "log_end", &isnull));
	pc_free_tuptable(SPI_tuptable);
	return end;
}

void
pc_log_rows_init(PcLogRows *rows)
{
	memset(rows, 0, sizeof(*rows));
}

static void
add_row(PcLogRows *rows, Datum company_id, Datum run_id, int64 offset, const char *data, int len)
{
	bytea	   *content;

	if (rows->n == rows->cap)
	{
		int			cap = Max(16, rows->cap * 2);

		rows->company_ids = rows->cap ? repalloc(rows->company_ids, sizeof(Datum) * cap)
			: palloc(sizeof(Datum) * cap);
		rows->run_ids = rows->cap ? repalloc(rows->run_ids, sizeof(Datum) * cap)
			: palloc(sizeof(Datum) * cap);
		rows->offsets = rows->cap ? repalloc(rows->offsets, sizeof(Datum) * cap)
			: palloc(sizeof(Datum) * cap);
		rows->contents = rows->cap ? repalloc(rows->contents, sizeof(Datum) * cap)
			: palloc(sizeof(Datum) * cap);
		rows->cap = cap;
	}
	content = palloc(VARHDRSZ + len);
	SET_VARSIZE(content, VARHDRSZ + len);
	memcpy(VARDATA(content), data, len);
	rows->company_ids[rows->n] = company_id;
	rows->run_ids[rows->n] = run_id;
	rows->offsets[rows->n] = Int64GetDatum(offset);
	rows->contents[rows->n] = PointerGetDatum(content);
	rows->n++;
	rows->bytes += len;
}

/*
 * Rows for what a file holds from byte "from" on, at most max_bytes of it,
 * each at most PC_LOG_ROW_MAX. Returns the bytes added; *file_size is the
 * file's size, -1 when there is no such file.
 */
int64
pc_log_rows_add_file(PcLogRows *rows, Datum company_id, Datum run_id, const char *path,
					 int64 from, int64 max_bytes, int64 *file_size)
{
	int			fd;
	struct stat st;
	int64		pos = from;
	char	   *buf;

	*file_size = -1;
	if ((fd = OpenTransientFile(path, O_RDONLY | PG_BINARY)) < 0)
	{
		if (errno == ENOENT)
			return 0;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open run log \"%s\": %m", path)));
	}
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat run log \"%s\": %m", path)));
	*file_size = (int64) st.st_size;
	buf = palloc(PC_LOG_ROW_MAX);
	while (pos < *file_size && pos - from < max_bytes)
	{
		int			want = (int) Min((int64) PC_LOG_ROW_MAX, Min(*file_size - pos, max_bytes - (pos - from)));
		ssize_t		n = pg_pread(fd, buf, want, (off_t) pos);

		if (n < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read run log \"%s\": %m", path)));
		if (n == 0)
			break;				/* shorter than it was: a file store's log, cut */
		add_row(rows, company_id, run_id, pos, buf, (int) n);
		pos += n;
	}
	pfree(buf);
	CloseTransientFile(fd);
	return pos - from;
}

/* Insert the rows gathered, in one statement, and start again. Needs SPI. */
void
pc_log_rows_insert(PcLogRows *rows)
{
	Datum		v[4];

	if (rows->n == 0)
		return;
	v[0] = PointerGetDatum(construct_array(rows->company_ids, rows->n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	v[1] = PointerGetDatum(construct_array(rows->run_ids, rows->n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	v[2] = PointerGetDatum(construct_array(rows->offsets, rows->n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	v[3] = PointerGetDatum(construct_array(rows->contents, rows->n, BYTEAOID, -1, false, TYPALIGN_INT));
	pc_exec(&plan_insert_rows, v, NULL, 0);
	pfree(DatumGetPointer(v[0]));
	pfree(DatumGetPointer(v[1]));
	pfree(DatumGetPointer(v[2]));
	pfree(DatumGetPointer(v[3]));
	for (int i = 0; i < rows->n; i++)
		pfree(DatumGetPointer(rows->contents[i]));
	rows->n = 0;
	rows->bytes = 0;
}

/*
 * Copy into the table what a file holds past the log's end there (from;
 * < 0: read from the table), in statements of IMPORT_BATCH bytes. Returns
 * where the log ends in the table now; *file_size as in
 * pc_log_rows_add_file. Needs SPI.
 */
int64
pc_run_log_import(Datum company_id, Datum run_id, const char *path, int64 from, int64 *file_size)
{
	PcLogRows	rows;

	if (from < 0)
		from = pc_run_log_end(company_id, run_id);
	pc_log_rows_init(&rows);
	for (;;)
	{
		int64		added = pc_log_rows_add_file(&rows, company_id, run_id, path, from,
												 IMPORT_BATCH, file_size);

		pc_log_rows_insert(&rows);
		from += added;
		if (added == 0 || from >= *file_size)
			return from;
		CHECK_FOR_INTERRUPTS();
	}
}

/* ----------------------------------------------------------------------
 * read_log
 * ----------------------------------------------------------------------
 */

/*
 * Up to want bytes of a log kept in the table, from offset, into buf;
 * returns how many, and the log's end in *log_end.
 */
static int
read_db(Datum company_id, Datum run_id, int64 offset, int want, char *buf, int64 *log_end)
{
	Datum		v[4] = {company_id, run_id, Int64GetDatum(offset), Int32GetDatum(want)};
	bool		isnull;
	int			n = 0;
	int			rows;

	*log_end = 0;
	if (pc_exec_ro(&plan_log_end, v, NULL, 1) > 0)
		*log_end = DatumGetInt64(pc_getattr(0, "log_end", &isnull));
	if (offset >= *log_end)
		return 0;
	rows = pc_exec_ro(&plan_read_rows, v, NULL, 0);
	for (int i = 0; i < rows && n < want; i++)
	{
		int64		start = DatumGetInt64(pc_getattr(i, "byte_offset", &isnull));
		bytea	   *part = DatumGetByteaPP(pc_getattr(i, "part", &isnull));
		int			len = VARSIZE_ANY_EXHDR(part);

		/* the rows are consecutive; a piece starts at offset + n */
		if (Max(start, offset) != offset + n)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("run log of run %s has a gap at byte " INT64_FORMAT,
							uuid_cstring(run_id), offset + n)));
		len = Min(len, want - n);
		memcpy(buf + n, VARDATA_ANY(part), len);
		n += len;
	}
	return n;
}

/* Up to want bytes of a log file, from offset, into buf; *log_end its size. */
static int
read_file(const char *path, int64 offset, int want, char *buf, int64 *log_end)
{
	int			fd;
	struct stat st;
	ssize_t		n;

	if ((fd = OpenTransientFile(path, O_RDONLY | PG_BINARY)) < 0)
		log_not_found(psprintf("could not open \"%s\": %m", path));
	if (fstat(fd, &st) != 0)
		log_not_found(psprintf("could not stat \"%s\": %m", path));
	*log_end = (int64) st.st_size;
	n = (offset < st.st_size) ? pg_pread(fd, buf, want, (off_t) offset) : 0;
	CloseTransientFile(fd);
	if (n < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read \"%s\": %m", path)));
	return (int) n;
}

/*
 * The length of the page of a log that starts at buf[0] (n bytes read, at
 * most limit wanted): whole, valid UTF-8 characters only. When not even one
 * fits in the limit, the first character alone; *skip is set instead when
 * buf[0] is not valid UTF-8 (a reader passes over it: next_offset moves on).
 */
static int
page_length(const char *buf, int n, int limit, int *skip)
{
	int			len = pg_encoding_verifymbstr(PG_UTF8, buf, Min(n, limit));
	int			first;

	*skip = 0;
	if (len > 0 || n == 0)
		return len;
	first = pg_utf_mblen((const unsigned char *) buf);
	if (first <= n && pg_encoding_verifymbstr(PG_UTF8, buf, first) == first)
		return first;
	*skip = 1;
	return 0;
}

/*
 * paperclip.read_log(run_id, offset, limit_bytes) RETURNS TABLE(run_id,
 * store, log_ref, content, next_offset): whole characters from offset, at
 * most limit_bytes of them (one character at least); next_offset is null at
 * the end and always beyond offset otherwise. Runs as the caller: the run
 * and its rows are read under row-level security. A file read is the one
 * the run's company and id name, whatever its log_ref column says.
 */
Datum
paperclip_read_log(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext caller;
	Datum		run_id;
	int64		offset = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);
	int			limit = PG_ARGISNULL(2) ? 262144 : PG_GETARG_INT32(2);
	int			want;
	char	   *store;
	char	   *path = NULL;
	char	   *buf;
	int			n;
	int64		log_end;
	int			start = 0;
	int			len;
	int			skip;
	char	   *content;
	int64		next;
	Datum		out[5];
	bool		outnull[5] = {false, false, false, false, false};

	pc_check_not_null(fcinfo, 0, "run_id");
	run_id = PG_GETARG_DATUM(0);
	if (offset < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset must not be negative")));
	limit = Max(1, Min(limit, READ_LOG_MAX));
	InitMaterializedSRF(fcinfo, 0);

	/* room to finish the last character, or a first one larger than the limit */
	want = limit + MAX_MULTIBYTE_CHAR_LEN - 1;
	buf = palloc(want + 1);

	/* what must outlive SPI_finish is made in the caller's context */
	caller = CurrentMemoryContext;
	SPI_connect();
	if (pc_exec_ro(&plan_run_log, &run_id, NULL, 1) == 0)
		run_not_found();
	MemoryContextSwitchTo(caller);
	store = pc_getattr_cstring(0, "log_store");
	if (store == NULL)
		log_not_found(NULL);
	if (strcmp(store, PC_LOG_STORE_DB) == 0)
	{
		bool		isnull;
		Datum		company_id = pc_getattr(0, "company_id", &isnull);

		n = read_db(company_id, run_id, offset, want, buf, &log_end);
	}
	else if (strcmp(store, PC_LOG_STORE_FILE) == 0 || strcmp(store, PC_LOG_STORE_LEGACY) == 0)
	{
		path = pc_run_log_path(pc_getattr_cstring(0, "company_id"), uuid_cstring(run_id), false);
		n = read_file(path, offset, want, buf, &log_end);
	}
	else
		log_not_found(psprintf("Its store is \"%s\", which read_log does not read.", pc_quote(store)));
	SPI_finish();

	/* a character cut at the start belongs to the page before */
	while (start < n && start < MAX_MULTIBYTE_CHAR_LEN - 1 && (buf[start] & 0xC0) == 0x80)
		start++;
	len = page_length(buf + start, n - start, Max(limit - start, 0), &skip);
	content = pg_any_to_server(buf + start, len, PG_UTF8);
	next = offset + start + len + skip;

	out[0] = run_id;
	out[1] = CStringGetTextDatum(store);
	out[2] = path ? CStringGetTextDatum(path) : (Datum) 0;
	outnull[2] = path == NULL;
	out[3] = PointerGetDatum(content == buf + start ?
							 cstring_to_text_with_len(content, len) :
							 cstring_to_text(content));
	out[4] = Int64GetDatum(next);
	outnull[4] = next >= log_end;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnull);
	return (Datum) 0;
}

/* ----------------------------------------------------------------------
 * append_run_log
 * ----------------------------------------------------------------------
 */

/* One log line, in UTF-8: {"ts":...,"stream":...,"chunk":...}\n */
static char *
log_line(const char *stream, const char *chunk, int *len)
{
	StringInfoData buf;
	PcJson		j;
	char	   *utf8;

	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_timestamptz(&j, "ts", TimestampTzGetDatum(GetCurrentTimestamp()), false);
	pc_json_str(&j, "stream", stream);
	pc_json_str(&j, "chunk", chunk);
	pc_json_close(&j);
	appendStringInfoChar(&buf, '\n');
	utf8 = pg_server_to_any(buf.data, buf.len, PG_UTF8);
	*len = utf8 == buf.data ? buf.len : (int) strlen(utf8);
	return utf8;
}

/*
 * paperclip.append_run_log(run_id, stream, chunk) RETURNS bigint: the log's
 * bytes so far. For external runners: the record goes to the run's log in
 * paperclip.run_log_chunks, one row, at its end (the run's row is locked,
 * so appends to one run are serialized). Not for a run whose log the
 * launcher's runner is writing, nor for one kept in a file. A record that
 * would take the log past paperclip.max_log_bytes is dropped (the excerpts
 * still get it), and a lifecycle event says so, once.
 */
Datum
paperclip_append_run_log(PG_FUNCTION_ARGS)
{
	Datum		run_id;
	char	   *run_id_str;
	char	   *stream;
	char	   *chunk;
	char	   *company_id;
	Datum		company;
	char	   *store;
	char	   *line;
	int			line_len;
	bool		isnull;
	int64		end;
	int64		cap = (int64) pc_max_log_kb * 1024;
	bool		stored;
	PcLogRows	rows;
	Datum		v[4];

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "run_id");
	pc_check_not_null(fcinfo, 1, "stream");
	pc_check_not_null(fcinfo, 2, "chunk");
	pc_check_length(fcinfo, 2, "chunk", PC_MAX_CONTENT_BYTES);
	run_id = PG_GETARG_DATUM(0);
	run_id_str = uuid_cstring(run_id);
	stream = text_to_cstring(PG_GETARG_TEXT_PP(1));
	pc_check_vocabulary("stream", stream, log_streams);
	chunk = text_to_cstring(PG_GETARG_TEXT_PP(2));

	SPI_connect();
	pc_check_run_access(run_id);
	if (!pc_exec_row(&plan_lock_run_log, &run_id, NULL))
		run_not_found();
	company_id = pc_getattr_cstring(0, "company_id");
	company = pc_getattr(0, "company_id", &isnull);
	store = pc_getattr_cstring(0, "log_store");
	if (DatumGetBool(pc_getattr(0, "launcher_writes", &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the log of this run is written by its runner"),
				 errdetail("The launcher started the run; it copies its runner's log.")));
	if (store != NULL && strcmp(store, PC_LOG_STORE_DB) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the log of this run is kept in a file"),
				 errdetail("Its log_store is \"%s\"; append_run_log appends to logs kept in the database.",
						   pc_quote(store))));

	end = pc_run_log_end(company, run_id);
	line = log_line(stream, chunk, &line_len);
	stored = end + line_len <= cap;
	if (stored)
	{
		pc_log_rows_init(&rows);
		add_row(&rows, company, run_id, end, line, line_len);
		pc_log_rows_insert(&rows);
	}
	else if (!pc_exec_row(&plan_truncation_said, &run_id, NULL))
		pc_append_run_event(run_id, "lifecycle", "system", "warn",
							psprintf("run log truncated at " INT64_FORMAT " bytes (paperclip.max_log_bytes): records past it are dropped", cap),
							pc_jsonb_from_cstring(psprintf("{\"maxLogBytes\": " INT64_FORMAT ", \"logBytes\": " INT64_FORMAT "}",
														   cap, end)));
	if (stored)
		end += line_len;

	v[0] = run_id;
	v[1] = Int64GetDatum(end);
	v[2] = CStringGetTextDatum(stream);
	v[3] = CStringGetTextDatum(chunk);
	pc_exec(&plan_log_appended, v, NULL, 0);
	if (stored)
		pc_notify_run_log(company_id, run_id_str, stream, end - line_len, (int64) line_len);
	SPI_finish();
	PG_RETURN_INT64(end);
}

/* ----------------------------------------------------------------------
 * The logs 0.1 wrote to files, into the table (ALTER EXTENSION UPDATE)
 * ----------------------------------------------------------------------
 */

/* Files to remove once the transaction that copied them commits. */
typedef struct ImportedFile
{
	char	   *path;
	char	   *move_to;		/* a running run's: becomes its spool log; NULL: removed */
	int64		bytes;			/* copied into the table; -1: the file was gone (path NULL) */
	SubTransactionId subid;		/* where it was copied: an abort of it keeps the file */
} ImportedFile;

static List *imported_files = NIL;	/* of ImportedFile, TopMemoryContext */
static bool import_callbacks = false;


/* A directory, if it is empty: removed. */
static void
remove_dir_if_empty(const char *dir)
{
	if (rmdir(dir) != 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove directory \"%s\": %m", dir)));
}

static void
import_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;
	int			removed = 0;
	int			moved = 0;
	int			copied = 0;
	int			missing = 0;
	int64		bytes = 0;
	char	   *legacy_dir;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT && event != XACT_EVENT_PREPARE)
		return;
	if (event == XACT_EVENT_COMMIT && imported_files != NIL)
	{
		/* committed: the logs are in the table, the files may go */
		foreach(lc, imported_files)
		{
			ImportedFile *f = (ImportedFile *) lfirst(lc);

			if (f->path == NULL)
			{
				missing++;
				continue;
			}
			copied++;
			bytes += f->bytes;

			/*
			 * A running run's file becomes its spool log, where the launcher
			 * copies the rest from (its runner appends to the same file).
			 */
			if (f->move_to != NULL)
			{
				/* this database's spool directory, made as the launcher makes it */
				char	   *dir = pstrdup(f->move_to);

				get_parent_directory(dir);
				(void) pg_mkdir_p(dir, S_IRWXU);
				pfree(dir);
			}
			if (f->move_to != NULL && rename(f->path, f->move_to) == 0)
				moved++;
			else if (f->move_to != NULL)
				ereport(LOG,
						(errcode_for_file_access(),
						 errmsg("could not move run log \"%s\" to \"%s\": %m", f->path, f->move_to),
						 errdetail("The launcher copies the rest of it from where it is when it finalizes the run.")));
			else if (unlink(f->path) == 0)
				removed++;
			else if (errno != ENOENT)
				ereport(LOG,
						(errcode_for_file_access(),
						 errmsg("could not remove run log \"%s\": %m", f->path)));
			/* its company's directory */
			get_parent_directory(f->path);
			remove_dir_if_empty(f->path);
		}
		/* 0.1's own directory, in the data directory, when nothing is left in it */
		legacy_dir = psprintf("%s/%s", DataDir, LEGACY_LOG_DIR);
		remove_dir_if_empty(legacy_dir);
		pfree(legacy_dir);
		ereport(LOG,
				(errmsg("paperclip: %d run log file(s) of 0.1 copied into paperclip.run_log_chunks (" INT64_FORMAT " bytes); %d removed, %d moved to the spool (runs in flight)",
						copied, bytes, removed, moved),
				 missing > 0 ?
				 errdetail("%d run(s) had no log file left: they have no log.", missing) : 0));
	}
	foreach(lc, imported_files)
	{
		ImportedFile *f = (ImportedFile *) lfirst(lc);

		if (f->path)
			pfree(f->path);
		if (f->move_to)
			pfree(f->move_to);
	}
	list_free_deep(imported_files);
	imported_files = NIL;
}

static void
import_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	foreach(lc, imported_files)
	{
		ImportedFile *f = (ImportedFile *) lfirst(lc);

		if (f->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			f->subid = parentSubid;
		else if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			imported_files = foreach_delete_current(imported_files, lc);
			if (f->path)
				pfree(f->path);
			if (f->move_to)
				pfree(f->move_to);
			pfree(f);
		}
	}
}

/*
 * Once this transaction commits: path (NULL: a run whose file was gone)
 * removed, or moved to move_to; bytes were copied from it.
 */
static void
remove_at_commit(const char *path, const char *move_to, int64 bytes)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	ImportedFile *f = palloc(sizeof(ImportedFile));

	if (!import_callbacks)
	{
		RegisterXactCallback(import_xact_callback, NULL);
		RegisterSubXactCallback(import_subxact_callback, NULL);
		import_callbacks = true;
	}
	f->path = path ? pstrdup(path) : NULL;
	f->move_to = move_to ? pstrdup(move_to) : NULL;
	f->bytes = bytes;
	f->subid = GetCurrentSubTransactionId();
	imported_files = lappend(imported_files, f);
	MemoryContextSwitchTo(old);
}

static PcPlan plan_file_logs = PC_PLAN(
	"SELECT id, company_id, status IN ('succeeded', 'failed', 'cancelled', 'timed_out') AS finished "
	"FROM paperclip.heartbeat_runs WHERE log_store = '" PC_LOG_STORE_LEGACY "' "
	"ORDER BY id FOR NO KEY UPDATE");

/* $1 run, $2 the store it is in now (NULL: no log) */
static PcPlan plan_file_log_moved = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET log_store = $2, log_ref = NULL WHERE id = $1",
	UUIDOID, TEXTOID);

/*
 * paperclip.import_file_logs() RETURNS bigint, run once by the update from
 * 0.1 (as a superuser): every log 0.1 kept in a file (log_store
 * local_file) is copied into paperclip.run_log_chunks, byte for byte, and
 * its run says db (NULL when the file is gone: no log, as read_log said
 * before). Once the update commits, the files of finished runs are
 * removed, and those of runs still running become their spool logs
 * (<data directory>/pg_paperclip/spool/<database OID>/<run_id>.log, the
 * same file: their runner goes on appending to it), whose rest the
 * launcher copies when it finalizes them. Returns the bytes copied.
 */
Datum
paperclip_import_file_logs(PG_FUNCTION_ARGS)
{
	int64		total = 0;
	int			runs;
	SPITupleTable *tt;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to import run log files"),
				 errdetail("Only a superuser, updating the extension, reads them.")));
	SPI_connect();
	runs = pc_exec(&plan_file_logs, NULL, NULL, 0);
	tt = SPI_tuptable;
	for (int i = 0; i < runs; i++)
	{
		bool		isnull;
		Datum		run_id,
					company_id;
		bool		finished;
		char	   *path;
		int64		size;
		int64		end;
		Datum		v[2];
		char		n[2] = {' ', ' '};

		char	   *run_id_str;

		SPI_tuptable = tt;
		run_id = pc_getattr(i, "id", &isnull);
		run_id_str = pc_getattr_cstring(i, "id");
		company_id = pc_getattr(i, "company_id", &isnull);
		finished = DatumGetBool(pc_getattr(i, "finished", &isnull));
		path = pc_legacy_run_log_path(pc_getattr_cstring(i, "company_id"), run_id_str);
		end = pc_run_log_import(company_id, run_id, path, -1, &size);
		v[0] = run_id;
		v[1] = CStringGetTextDatum(PC_LOG_STORE_DB);
		n[1] = pc_null(size < 0);
		pc_exec(&plan_file_log_moved, v, n, 0);
		if (size < 0)
		{
			remove_at_commit(NULL, NULL, -1);
			continue;
		}
		total += end;
		/* a run still running: its runner may append; the launcher copies the rest */
		remove_at_commit(path, finished ? NULL :
						 psprintf("%s/" PC_SPOOL_DIRECTORY "/%u/%s.log", DataDir, MyDatabaseId, run_id_str),
						 end);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	PG_RETURN_INT64(total);
}
