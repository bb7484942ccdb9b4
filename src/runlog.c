/*-------------------------------------------------------------------------
 * runlog.c
 *	  Owns run logs as seen from SQL: paperclip.read_log (pages of a run's
 *	  log file) and paperclip.append_run_log (for external runners). The
 *	  store is "local_file": one JSON line per chunk under
 *	  paperclip.run_log_directory; a log_ref outside it is never opened.
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

PG_FUNCTION_INFO_V1(paperclip_read_log);
PG_FUNCTION_INFO_V1(paperclip_append_run_log);

#define READ_LOG_MAX (16 * 1024 * 1024)

static const char *const log_streams[] = {"stdout", "stderr", "system", NULL};

static PcPlan plan_run_log = PC_PLAN(
	"SELECT company_id, agent_id, log_store, log_ref FROM paperclip.heartbeat_runs "
	"WHERE id = $1", UUIDOID);

static PcPlan plan_lock_run_log = PC_PLAN(
	"SELECT company_id, agent_id, log_store, log_ref FROM paperclip.heartbeat_runs "
	"WHERE id = $1 FOR UPDATE", UUIDOID);

/* $1 run, $2 log_ref, $3 bytes, $4 stream, $5 chunk */
static PcPlan plan_log_appended = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET log_store = 'local_file', log_ref = $2, "
	" log_bytes = $3, "
	" stdout_excerpt = CASE WHEN $4 = 'stdout' "
	"   THEN right(coalesce(stdout_excerpt, '') || $5, " CppAsString2(PC_EXCERPT_BYTES) ") "
	"   ELSE stdout_excerpt END, "
	" stderr_excerpt = CASE WHEN $4 = 'stderr' "
	"   THEN right(coalesce(stderr_excerpt, '') || $5, " CppAsString2(PC_EXCERPT_BYTES) ") "
	"   ELSE stderr_excerpt END, "
	" updated_at = now() WHERE id = $1",
	UUIDOID, TEXTOID, INT8OID, TEXTOID, TEXTOID);

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

/* A log_ref we may open: a file inside the run log directory. */
static void
check_log_ref(const char *log_ref)
{
	if (!pc_log_ref_is_ours(log_ref))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("run log \"%s\" is outside paperclip.run_log_directory", log_ref)));
}

/*
 * paperclip.read_log(run_id, offset, limit_bytes) RETURNS TABLE(run_id,
 * store, log_ref, content, next_offset): next_offset null at the end.
 */
Datum
paperclip_read_log(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		run_id;
	int64		offset = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);
	int			limit = PG_ARGISNULL(2) ? 262144 : PG_GETARG_INT32(2);
	char	   *store;
	char	   *log_ref;
	int			fd;
	struct stat st;
	char	   *buf;
	ssize_t		n;
	int			start = 0;
	int			len;
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

	SPI_connect();
	if (!pc_exec_row(&plan_run_log, &run_id, NULL))
		run_not_found();
	store = pc_getattr_cstring(0, "log_store");
	log_ref = pc_getattr_cstring(0, "log_ref");
	if (store == NULL || log_ref == NULL)
		log_not_found(NULL);
	/* SPI_finish frees SPI's memory: copy them into the caller's (SPI_palloc) */
	store = strcpy(SPI_palloc(strlen(store) + 1), store);
	log_ref = strcpy(SPI_palloc(strlen(log_ref) + 1), log_ref);
	SPI_finish();

	check_log_ref(log_ref);
	if ((fd = OpenTransientFile(log_ref, O_RDONLY | PG_BINARY)) < 0)
		log_not_found(psprintf("could not open \"%s\": %m", log_ref));
	if (fstat(fd, &st) != 0)
		log_not_found(psprintf("could not stat \"%s\": %m", log_ref));
	buf = palloc(limit + 1);
	n = (offset < st.st_size) ? pg_pread(fd, buf, limit, (off_t) offset) : 0;
	CloseTransientFile(fd);
	if (n < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read \"%s\": %m", log_ref)));

	/* whole characters only: skip a cut one at the start, stop before one at the end */
	while (start < n && (buf[start] & 0xC0) == 0x80)
		start++;
	len = n - start;
	if (offset + n < st.st_size || n == limit)
		len = pg_mbcliplen(buf + start, len, len);
	len = pg_verify_mbstr_len(PG_UTF8, buf + start, len, true) >= 0 ? len : 0;

	out[0] = run_id;
	out[1] = CStringGetTextDatum(store);
	out[2] = CStringGetTextDatum(log_ref);
	out[3] = PointerGetDatum(cstring_to_text_with_len(buf + start, len));
	if (offset + start + len < st.st_size)
		out[4] = Int64GetDatum(offset + start + len);
	else
		outnull[4] = true;
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
 * bytes so far. For external runners.
 */
Datum
paperclip_append_run_log(PG_FUNCTION_ARGS)
{
	Datum		run_id;
	char	   *stream;
	char	   *chunk;
	char	   *log_ref;
	char	   *company_id;
	char	   *agent_id;
	char	   *line;
	int			fd;
	struct stat st;
	Datum		v[5];

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "run_id");
	pc_check_not_null(fcinfo, 1, "stream");
	pc_check_not_null(fcinfo, 2, "chunk");
	run_id = PG_GETARG_DATUM(0);
	stream = text_to_cstring(PG_GETARG_TEXT_PP(1));
	pc_check_vocabulary("stream", stream, log_streams);
	chunk = text_to_cstring(PG_GETARG_TEXT_PP(2));

	SPI_connect();
	pc_check_run_access(run_id);
	if (!pc_exec_row(&plan_lock_run_log, &run_id, NULL))
		run_not_found();
	company_id = pc_getattr_cstring(0, "company_id");
	agent_id = pc_getattr_cstring(0, "agent_id");
	log_ref = pc_getattr_cstring(0, "log_ref");
	if (log_ref == NULL)
	{
		char	   *dir = psprintf("%s/%s", pc_run_log_dir(), company_id);

		if (pg_mkdir_p(dir, S_IRWXU) != 0 && errno != EEXIST)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create directory \"%s\": %m", dir)));
		log_ref = psprintf("%s/%s.ndjson", dir,
						   DatumGetCString(DirectFunctionCall1(uuid_out, run_id)));
	}
	check_log_ref(log_ref);

	line = log_line(stream, chunk);
	fd = OpenTransientFilePerm(log_ref, O_WRONLY | O_CREAT | O_APPEND | PG_BINARY,
							   S_IRUSR | S_IWUSR);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t) strlen(line) ||
		fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not append to run log \"%s\": %m", log_ref)));
	CloseTransientFile(fd);

	v[0] = run_id;
	v[1] = CStringGetTextDatum(log_ref);
	v[2] = Int64GetDatum((int64) st.st_size);
	v[3] = CStringGetTextDatum(stream);
	v[4] = CStringGetTextDatum(chunk);
	pc_exec(&plan_log_appended, v, NULL, 0);
	pc_notify_run_log(company_id, DatumGetCString(DirectFunctionCall1(uuid_out, run_id)),
					  agent_id, stream, chunk);
	SPI_finish();
	PG_RETURN_INT64((int64) st.st_size);
}
