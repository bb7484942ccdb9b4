/*-------------------------------------------------------------------------
 * runlog.c
 *	  Owns run logs as seen from SQL: where a run's log lives
 *	  (pc_run_log_path, the one rule: derived from the run's company and id,
 *	  never from a caller), paperclip.read_log (pages of a run's log) and
 *	  paperclip.append_run_log (for external runners). The store is
 *	  "local_file": one JSON line per chunk in
 *	  <paperclip.run_log_directory>/<company_id>/<run_id>.ndjson.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_run_log_path);
PG_FUNCTION_INFO_V1(paperclip_read_log);
PG_FUNCTION_INFO_V1(paperclip_append_run_log);

#define READ_LOG_MAX (16 * 1024 * 1024)
#define LOG_STORE_FILE "local_file"

static const char *const log_streams[] = {"stdout", "stderr", "system", NULL};

static PcPlan plan_run_log = PC_PLAN(
	"SELECT company_id, log_store FROM paperclip.heartbeat_runs WHERE id = $1", UUIDOID);

static PcPlan plan_lock_run_log = PC_PLAN(
	"SELECT company_id FROM paperclip.heartbeat_runs WHERE id = $1 FOR NO KEY UPDATE", UUIDOID);

/* $1 run, $2 log_ref, $3 bytes, $4 stream, $5 chunk */
static PcPlan plan_log_appended = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET log_store = '" LOG_STORE_FILE "', log_ref = $2, "
	" log_bytes = $3, "
	" stdout_excerpt = CASE WHEN $4 = 'stdout' "
	"   THEN right(coalesce(stdout_excerpt, '') || $5, " CppAsString2(PC_EXCERPT_BYTES) ") "
	"   ELSE stdout_excerpt END, "
	" stderr_excerpt = CASE WHEN $4 = 'stderr' "
	"   THEN right(coalesce(stderr_excerpt, '') || $5, " CppAsString2(PC_EXCERPT_BYTES) ") "
	"   ELSE stderr_excerpt END, "
	" updated_at = now() WHERE id = $1",
	UUIDOID, TEXTOID, INT8OID, TEXTOID, TEXTOID);

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

static char *
uuid_cstring(Datum uuid)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, uuid));
}

/*
 * paperclip.run_log_path(company_id, run_id) RETURNS text: the launcher
 * names its runners' logs with it (the same rule as read_log's).
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
 * the end and always beyond offset otherwise. The file read is the one the
 * run's company and id name, whatever its log_ref column says.
 */
Datum
paperclip_read_log(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext caller;
	Datum		run_id;
	int64		offset = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);
	int			limit = PG_ARGISNULL(2) ? 262144 : PG_GETARG_INT32(2);
	char	   *run_id_str;
	char	   *store;
	char	   *path;
	int			fd;
	struct stat st;
	char	   *buf;
	ssize_t		n;
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
	run_id_str = uuid_cstring(run_id);

	/* what must outlive SPI_finish is made in the caller's context */
	caller = CurrentMemoryContext;
	SPI_connect();
	if (!pc_exec_row(&plan_run_log, &run_id, NULL))
		run_not_found();
	store = pc_getattr_cstring(0, "log_store");
	if (store == NULL)
		log_not_found(NULL);
	if (strcmp(store, LOG_STORE_FILE) != 0)
		log_not_found(psprintf("Its store is \"%s\", which read_log does not read.", pc_quote(store)));
	MemoryContextSwitchTo(caller);
	path = pc_run_log_path(pc_getattr_cstring(0, "company_id"), run_id_str, false);
	SPI_finish();

	if ((fd = OpenTransientFile(path, O_RDONLY | PG_BINARY)) < 0)
		log_not_found(psprintf("could not open \"%s\": %m", path));
	if (fstat(fd, &st) != 0)
		log_not_found(psprintf("could not stat \"%s\": %m", path));
	/* room to finish the last character, or a first one larger than the limit */
	buf = palloc(limit + MAX_MULTIBYTE_CHAR_LEN);
	n = (offset < st.st_size) ?
		pg_pread(fd, buf, limit + MAX_MULTIBYTE_CHAR_LEN - 1, (off_t) offset) : 0;
	CloseTransientFile(fd);
	if (n < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read \"%s\": %m", path)));

	/* a character cut at the start belongs to the page before */
	while (start < n && start < MAX_MULTIBYTE_CHAR_LEN - 1 && (buf[start] & 0xC0) == 0x80)
		start++;
	len = page_length(buf + start, n - start, Max(limit - start, 0), &skip);
	content = pg_any_to_server(buf + start, len, PG_UTF8);
	next = offset + start + len + skip;

	out[0] = run_id;
	out[1] = CStringGetTextDatum(LOG_STORE_FILE);
	out[2] = CStringGetTextDatum(path);
	out[3] = PointerGetDatum(content == buf + start ?
							 cstring_to_text_with_len(content, len) :
							 cstring_to_text(content));
	out[4] = Int64GetDatum(next);
	outnull[4] = next >= st.st_size;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnull);
	return (Datum) 0;
}

/* One log line: {"ts":...,"stream":...,"chunk":...}\n */
static char *
log_line(const char *stream, const char *chunk)
{
	StringInfoData buf;
	PcJson		j;

	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_timestamptz(&j, "ts", TimestampTzGetDatum(GetCurrentTimestamp()), false);
	pc_json_str(&j, "stream", stream);
	pc_json_str(&j, "chunk", chunk);
	pc_json_close(&j);
	appendStringInfoChar(&buf, '\n');
	return buf.data;
}

/*
 * paperclip.append_run_log(run_id, stream, chunk) RETURNS bigint: the log's
 * bytes so far. For external runners; the chunk goes to the run's own log.
 */
Datum
paperclip_append_run_log(PG_FUNCTION_ARGS)
{
	Datum		run_id;
	char	   *run_id_str;
	char	   *stream;
	char	   *chunk;
	char	   *path;
	char	   *company_id;
	char	   *line;
	size_t		line_len;
	int			fd;
	struct stat st;
	Datum		v[5];

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
	path = pc_run_log_path(company_id, run_id_str, true);

	line = log_line(stream, chunk);
	line_len = strlen(line);
	fd = OpenTransientFilePerm(path, O_WRONLY | O_CREAT | O_APPEND | PG_BINARY,
							   S_IRUSR | S_IWUSR);
	if (fd < 0 || write(fd, line, line_len) != (ssize_t) line_len || fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not append to run log \"%s\": %m", path)));
	CloseTransientFile(fd);

	v[0] = run_id;
	v[1] = CStringGetTextDatum(path);
	v[2] = Int64GetDatum((int64) st.st_size);
	v[3] = CStringGetTextDatum(stream);
	v[4] = CStringGetTextDatum(chunk);
	pc_exec(&plan_log_appended, v, NULL, 0);
	/* the run row is locked: nobody appended between our write and the fstat */
	pc_notify_run_log(company_id, run_id_str, stream,
					  (int64) st.st_size - (int64) line_len, (int64) line_len);
	SPI_finish();
	PG_RETURN_INT64((int64) st.st_size);
}
