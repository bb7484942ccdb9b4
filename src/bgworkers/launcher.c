/*-------------------------------------------------------------------------
 * launcher.c
 *	  The launcher background worker, one per database that has the
 *	  extension (started by the supervisor): claims queued runs (FOR UPDATE SKIP
 *	  LOCKED, up to paperclip.max_concurrent_runs as the descriptors allow),
 *	  starts one paperclip_runner per run, multiplexes the runners' sockets
 *	  in a WaitEventSet, turns their frames into live events, run events
 *	  and the final finalize_run, forwards cancellations, and reconciles
 *	  runs left running by a crash.
 *
 *	  Every unit of work (a claim, a runner's frames, each finalization,
 *	  reconciliation) runs in its own transaction (pc_run_unit): an error or
 *	  a query cancel costs that unit only, which is tried again; the
 *	  launcher keeps its pid and its runners.
 *
 *	  Crash model: the claim, the runner's spawn and the record of its
 *	  identity (pid, /proc start ticks, the cluster's system identifier and
 *	  postmaster start time) commit together; only then is the runner told
 *	  "start". A runner outlives the launcher and leaves its result in a
 *	  spool file, so reconciliation finalizes every running run exactly
 *	  once: from the spool, by waiting for a live runner, or as failed with
 *	  process_lost.
 *
 *	  Nothing here blocks: sockets are non-blocking, the worker sleeps on
 *	  its latch (set at commit by enqueue_wakeup and cancel_run) and on the
 *	  runners' sockets.
 *
 *	  This file holds the loop, claims and finalizations; runner_io.c the
 *	  runners' sockets and frames; reconcile.c spool files, process identity
 *	  and orphaned runs.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "spi_util.h"
#include "bgworkers/bgworkers.h"
#include "bgworkers/launcher.h"

Runner	   *runners = NULL;
int			nrunners = 0;			/* slots allocated */
char		run_log_dir[MAXPGPATH];
char		spool_dir[MAXPGPATH];		/* this database's */
char		shared_spool_dir[MAXPGPATH];	/* before 0.2: every database's */
char		runner_path[MAXPGPATH];
static bool file_store = false;	/* paperclip.log_store = file, outside the data directory */
static char *allowed_commands_json = NULL;	/* the allowlists as JSON arrays, */
static char *allowed_hosts_json = NULL; /* read with the settings */
static char *runner_settings_json = NULL;	/* isolation, OS user, log cap */
MemoryContext loop_cxt = NULL;	/* reset every loop iteration */

static int	max_runs = 0;			/* max_concurrent_runs as descriptors allow */
static int	claim_failures = 0;		/* claims that failed in a row */
static TimestampTz claim_retry_at = 0;
static WaitEventSet *wait_set = NULL;	/* while waiting; freed on error */

/* What a failed unit showed: the database cannot be worked in as it is. */
static PcTrouble trouble = PC_TROUBLE_NONE;
static char *trouble_why = NULL;


/* Queued runs whose agent can no longer run: paused, terminated, over budget. */
static PcPlan plan_blocked_runs = PC_PLAN(
	"SELECT r.id, a.status IN ('paused', 'terminated') AS not_invokable "
	"FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id "
	"WHERE r.status = 'queued' AND (a.status IN ('paused', 'terminated') "
	"  OR (a.budget_monthly_cents > 0 AND a.spent_monthly_cents >= a.budget_monthly_cents)) "
	"ORDER BY r.created_at LIMIT 100 FOR NO KEY UPDATE OF r, a SKIP LOCKED");

/*
 * $1 how many, $2 the log store (db or file), $3 spool dir, $4 $5 the
 * allowlists, $6 the runner's settings (isolation, OS user, log cap). The
 * runner writes the log to logPath: its spool log (the launcher copies it
 * into paperclip.run_log_chunks), or the file of a file store
 * (paperclip.run_log_path names it).
 */
static PcPlan plan_claim = PC_PLAN(
	"WITH c AS (SELECT r.id FROM paperclip.heartbeat_runs r "
	"  JOIN paperclip.agents a ON a.id = r.agent_id "
	"  WHERE r.status = 'queued' AND a.status NOT IN ('paused', 'terminated') "
	"  AND NOT (a.budget_monthly_cents > 0 AND a.spent_monthly_cents >= a.budget_monthly_cents) "
	"  ORDER BY r.created_at LIMIT $1 FOR NO KEY UPDATE OF r, a SKIP LOCKED) "
	"UPDATE paperclip.heartbeat_runs r SET status = 'running', started_at = now(), "
	" updated_at = now(), log_store = $2, "
	" log_ref = CASE WHEN $2 = '" PC_LOG_STORE_FILE "' THEN paperclip.run_log_path(r.company_id, r.id) END, "
	" session_id_before = coalesce((SELECT s.session_id FROM paperclip.agent_runtime_state s "
	"   WHERE s.agent_id = r.agent_id), r.session_id_before), "
	" event_seq = r.event_seq + 1 "
	"FROM c, paperclip.agents a WHERE r.id = c.id AND a.id = r.agent_id "
	"RETURNING r.*, (jsonb_build_object("
	" 'runId', r.id, 'agentId', r.agent_id, 'companyId', r.company_id, "
	" 'adapterType', a.adapter_type, 'config', a.adapter_config, "
	" 'context', coalesce(r.context_snapshot, '{}'), 'sessionId', r.session_id_before, "
	" 'sessionParams', (SELECT s.session_params FROM paperclip.agent_runtime_state s "
	"   WHERE s.agent_id = r.agent_id), 'agentName', a.name, 'runSource', r.invocation_source, "
	" 'wakeReason', (SELECT w.reason FROM paperclip.agent_wakeup_requests w "
	"   WHERE w.id = r.wakeup_request_id), "
	" 'logPath', CASE WHEN $2 = '" PC_LOG_STORE_FILE "' THEN paperclip.run_log_path(r.company_id, r.id) "
	"   ELSE $3 || '/' || r.id || '.log' END, "
	" 'spoolPath', $3 || '/' || r.id || '.json', "
	" 'resultFilePath', $3 || '/' || r.id || '.result', "
	" 'allowedCommands', $4::jsonb, 'allowedHttpHosts', $5::jsonb) || $6::jsonb)::text AS spec",
	INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID);

static PcPlan plan_cancelled_of = PC_PLAN(
	"SELECT id FROM paperclip.heartbeat_runs WHERE id = ANY($1) AND status <> 'running'",
	UUIDARRAYOID);

/* ----------------------------------------------------------------------
 * Units of work and small helpers
 * ----------------------------------------------------------------------
 */

/*
 * A unit of work of the launcher (pc_run_unit); an error that says the
 * database cannot be worked in as configured makes the loop back off.
 */
bool
launcher_unit(const char *activity, PcUnitFn fn, void *arg, ErrorData **error)
{
	ErrorData  *edata;
	PcTrouble	t;

	if (error != NULL)
		*error = NULL;
	if (pc_run_unit(activity, fn, arg, &edata))
		return true;
	if (pc_error_is_misconfiguration(edata, &t))
		trouble = t;
	if (error != NULL)
		*error = edata;
	else
		FreeErrorData(edata);
	return false;
}

Datum
uuid_datum(pg_uuid_t *u)
{
	return UUIDPGetDatum(u);
}

void
make_dirs(const char *path)
{
	if (pg_mkdir_p((char *) path, S_IRWXU) != 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", path)));
}

/* At most max bytes of s, cut on a character. */
static char *
clipped(const char *s, int max)
{
	int			len = strlen(s);

	if (len <= max)
		return pstrdup(s);
	return psprintf("%s...", pnstrdup(s, pg_mbcliplen(s, len, max)));
}

/* Whether path is the data directory or inside it. */
static bool
in_data_directory(const char *path)
{
	size_t		len = strlen(DataDir);

	return strncmp(path, DataDir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

static void
resolve_paths(void *arg)
{
	static bool warned = false;

	strlcpy(run_log_dir, pc_run_log_dir(), MAXPGPATH);
	snprintf(shared_spool_dir, MAXPGPATH, "%s/" PC_SPOOL_DIRECTORY, DataDir);
	snprintf(spool_dir, MAXPGPATH, "%s/%u", shared_spool_dir, MyDatabaseId);
	if (pc_runner_path != NULL && pc_runner_path[0] != '\0')
		strlcpy(runner_path, pc_runner_path, MAXPGPATH);
	else
		snprintf(runner_path, MAXPGPATH, "%s/%s", pkglib_path, PC_RUNNER_NAME);
	/*
	 * A file store inside the data directory would break pg_basebackup (tar
	 * refuses its long names) and go unseen by pg_dump: logs go to the
	 * database instead, and a WARNING says why.
	 */
	file_store = pc_log_store == PC_LOG_STORE_SETTING_FILE && !in_data_directory(run_log_dir);
	if (pc_log_store == PC_LOG_STORE_SETTING_FILE && !file_store)
	{
		if (!warned)
			ereport(WARNING,
					(errmsg("paperclip launcher: paperclip.log_store is file, but paperclip.run_log_directory \"%s\" is inside the data directory: run logs are kept in the database",
							run_log_dir),
					 errhint("Set paperclip.run_log_directory to an absolute path outside the data directory.")));
		warned = true;
	}
	else
		warned = false;
	if (file_store)
		make_dirs(run_log_dir);
	make_dirs(spool_dir);
	if (allowed_commands_json)
		pfree(allowed_commands_json);
	if (allowed_hosts_json)
		pfree(allowed_hosts_json);
	allowed_commands_json = MemoryContextStrdup(TopMemoryContext,
												pc_json_list_of_guc(pc_allowed_commands));
	allowed_hosts_json = MemoryContextStrdup(TopMemoryContext,
											 pc_json_list_of_guc(pc_allowed_http_hosts));
	if (runner_settings_json)
		pfree(runner_settings_json);
	runner_settings_json = MemoryContextStrdup(TopMemoryContext, pc_runner_settings_json());
	pc_warn_if_isolation_off("paperclip launcher");
}

/* Read the settings; false (and the trouble set) when the directories are unusable. */
static bool
read_settings(void)
{
	ErrorData  *edata;
	int			capacity;
	int			effective;

	if (!launcher_unit("paperclip launcher: reading its settings", resolve_paths, NULL, &edata))
	{
		if (trouble == PC_TROUBLE_NONE && edata->sqlerrcode != ERRCODE_QUERY_CANCELED)
		{
			trouble = PC_TROUBLE_DIRECTORIES;
			trouble_why = MemoryContextStrdup(loop_cxt, clipped(edata->message, 200));
		}
		FreeErrorData(edata);
		return false;
	}

	/* as many runners as the descriptors allow */
	capacity = runner_fd_capacity();
	effective = Min(pc_max_concurrent_runs, capacity);
	if (effective < pc_max_concurrent_runs && effective != max_runs)
		ereport(LOG,
				(errmsg("paperclip launcher: paperclip.max_concurrent_runs is %d, but the launcher's file descriptors allow %d runs at once",
						pc_max_concurrent_runs, capacity),
				 errdetail("Each runner holds a descriptor; the launcher may hold a third of the %d that max_files_per_process (%d) leaves it.",
						   max_safe_fds, max_files_per_process),
				 errhint("Raise max_files_per_process (and the server's limit on open files, ulimit -n), then restart the server.")));
	max_runs = effective;
	ensure_slots(max_runs);
	pc_worker_resolved(PC_TROUBLE_DIRECTORIES);
	return true;
}

Jsonb *
make_result(const char *error_code, const char *message)
{
	StringInfoData buf;
	PcJson		j;

	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_raw(&j, "exitCode", NULL);
	pc_json_str(&j, "errorCode", error_code);
	pc_json_str(&j, "errorMessage", message);
	pc_json_close(&j);
	return pc_jsonb_from_cstring(buf.data);
}

/* ----------------------------------------------------------------------
 * Finalization: the run's result, then what is recorded when it is
 * refused or when finalizing keeps failing. Each attempt is a unit of
 * work; see FinalizeMode.
 * ----------------------------------------------------------------------
 */

typedef struct FinalizeArgs
{
	pg_uuid_t  *run_id;
	const char *run_id_str;
	const char *company_id_str;
	LogTail    *log;
	Finalization *fin;
} FinalizeArgs;

/* What the result of the wrong shape raises (finalize_run's validation). */
static bool
is_shape_error(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED;
}

void
finalize_forget(Finalization *fin)
{
	if (fin->frame)
		pfree(fin->frame);
	if (fin->why)
		pfree(fin->why);
	memset(fin, 0, sizeof(*fin));
}

void
finalize_begin(Finalization *fin, ResultSource source, char *frame, const char *lost_message)
{
	finalize_forget(fin);
	fin->mode = FIN_RESULT;
	fin->source = source;
	fin->frame = frame ? MemoryContextStrdup(TopMemoryContext, frame) : NULL;
	fin->lost_message = lost_message;
}

bool
finalize_due(const Finalization *fin, TimestampTz now)
{
	return fin->mode != FIN_NONE && !fin->done && fin->retry_at <= now;
}

/* The earlier of next and when this finalization is tried again. */
TimestampTz
finalize_next(const Finalization *fin, TimestampTz next)
{
	if (fin->mode == FIN_NONE || fin->done)
		return next;
	return Min(next, fin->retry_at);
}

static void
set_why(Finalization *fin, const char *why)
{
	if (fin->why)
		pfree(fin->why);
	fin->why = MemoryContextStrdup(TopMemoryContext, clipped(why, 500));
}

/* The runner's result as it sent it (22023 when it is not an object). */
static Jsonb *
source_result(FinalizeArgs *a)
{
	Finalization *fin = a->fin;

	if (fin->source == SRC_FRAME)
	{
		Jsonb	   *frame = pc_jsonb_from_cstring(fin->frame);
		JsonbValue	buf;
		JsonbValue *v = pc_json_get(&frame->root, "result", &buf);

		if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid adapter result: the runner's result is not a JSON object")));
		return JsonbValueToJsonb(v);
	}
	if (fin->source == SRC_SPOOL)
	{
		Jsonb	   *spooled = read_spool(a->run_id_str);

		if (spooled != NULL)
			return spooled;
		return make_result(PC_ERR_PROCESS_LOST, "the runner's spool file is missing or unreadable");
	}
	return make_result(PC_ERR_PROCESS_LOST, fin->lost_message);
}

/*
 * The keys of a result kept when it is refused or cannot be recorded,
 * read leniently (JSON tokens, no conversion that could fail): exitCode,
 * signal and the output excerpts.
 */
typedef struct KeptFields
{
	int			depth;			/* of objects and arrays */
	int			result_depth;	/* the result's keys: 1 in a spool, 2 in a frame */
	bool		in_result;
	char	   *top_field;		/* the key at depth 1 */
	char	   *field;			/* the key at the result's depth */
	char	   *exit_code;
	char	   *signal;
	char	   *stdout_excerpt;
	char	   *stderr_excerpt;
} KeptFields;

static PC_SEM_RESULT
kept_object_start(void *state)
{
	KeptFields *k = (KeptFields *) state;

	k->depth++;
	if (k->depth == k->result_depth &&
		(k->result_depth == 1 || (k->top_field && strcmp(k->top_field, "result") == 0)))
		k->in_result = true;
	return PC_SEM_OK;
}

static PC_SEM_RESULT
kept_object_end(void *state)
{
	KeptFields *k = (KeptFields *) state;

	if (k->depth == k->result_depth)
		k->in_result = false;
	k->depth--;
	return PC_SEM_OK;
}

static PC_SEM_RESULT
kept_array_start(void *state)
{
	((KeptFields *) state)->depth++;
	return PC_SEM_OK;
}

static PC_SEM_RESULT
kept_array_end(void *state)
{
	((KeptFields *) state)->depth--;
	return PC_SEM_OK;
}

static PC_SEM_RESULT
kept_field_start(void *state, char *fname, bool isnull)
{
	KeptFields *k = (KeptFields *) state;

	if (k->depth == 1)
		k->top_field = fname;
	if (k->depth == k->result_depth)
		k->field = fname;
	return PC_SEM_OK;
}

static PC_SEM_RESULT
kept_scalar(void *state, char *token, JsonTokenType type)
{
	KeptFields *k = (KeptFields *) state;

	if (!k->in_result || k->depth != k->result_depth || k->field == NULL)
		return PC_SEM_OK;
	if (strcmp(k->field, "exitCode") == 0 && type == JSON_TOKEN_NUMBER)
	{
		char	   *end;
		long		v;

		errno = 0;
		v = strtol(token, &end, 10);
		if (errno == 0 && *end == '\0' && v >= PG_INT32_MIN && v <= PG_INT32_MAX)
			k->exit_code = token;
	}
	else if (type == JSON_TOKEN_STRING)
	{
		if (strcmp(k->field, "signal") == 0)
			k->signal = token;
		else if (strcmp(k->field, "stdoutExcerpt") == 0)
			k->stdout_excerpt = token;
		else if (strcmp(k->field, "stderrExcerpt") == 0)
			k->stderr_excerpt = token;
	}
	return PC_SEM_OK;
}

/* A result with error_code and fin->why, keeping what the runner's result had of use. */
static Jsonb *
kept_result(FinalizeArgs *a, const char *error_code)
{
	KeptFields	k;
	char	   *text = NULL;
	StringInfoData buf;
	PcJson		j;

	memset(&k, 0, sizeof(k));
	if (a->fin->source == SRC_FRAME)
		text = a->fin->frame;
	else if (a->fin->source == SRC_SPOOL)
		text = read_spool_text(a->run_id_str);
	if (text != NULL)
	{
		JsonSemAction sem;
		JsonLexContext *lex = pc_json_lex_context(text, strlen(text), PG_UTF8, true);

		memset(&sem, 0, sizeof(sem));
		sem.semstate = &k;
		sem.object_start = kept_object_start;
		sem.object_end = kept_object_end;
		sem.array_start = kept_array_start;
		sem.array_end = kept_array_end;
		sem.object_field_start = kept_field_start;
		sem.scalar = kept_scalar;
		k.result_depth = a->fin->source == SRC_FRAME ? 2 : 1;
		/* what it found before an error, if any, is kept */
		(void) pg_parse_json(lex, &sem);
	}

	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_raw(&j, "exitCode", k.exit_code);
	if (k.signal)
		pc_json_str(&j, "signal", k.signal);
	pc_json_str(&j, "errorCode", error_code);
	pc_json_str(&j, "errorMessage", a->fin->why ? a->fin->why : "the run's result could not be recorded");
	if (k.stdout_excerpt)
		pc_json_str(&j, "stdoutExcerpt", k.stdout_excerpt);
	if (k.stderr_excerpt)
		pc_json_str(&j, "stderrExcerpt", k.stderr_excerpt);
	pc_json_close(&j);
	return pc_jsonb_from_cstring(buf.data);
}

static void
finalize_unit(void *arg)
{
	FinalizeArgs *a = (FinalizeArgs *) arg;
	Jsonb	   *result;

	switch (a->fin->mode)
	{
		case FIN_RESULT:
			result = source_result(a);
			break;
		case FIN_REFUSED:
			result = kept_result(a, PC_ERR_BAD_RESULT);
			break;
		case FIN_FAILED:
			result = kept_result(a, PC_ERR_FINALIZE);
			break;
		default:
			result = make_result(PC_ERR_FINALIZE, a->fin->why);
			break;
	}
	/* the run's whole log is in the table once its result is */
	log_copy_rest(DirectFunctionCall1(uuid_in, CStringGetDatum(a->company_id_str)),
				  uuid_datum(a->run_id), a->run_id_str, a->company_id_str, a->log,
				  a->fin->mode == FIN_RESULT ? result : NULL);
	(void) pc_finalize_run(uuid_datum(a->run_id), result);
}

/*
 * One attempt at a run's finalization, as a unit of work. A result of the
 * wrong shape is recorded as bad_result (keeping exit code and excerpts);
 * any other error is tried again, a second later each time; after
 * FINALIZE_ATTEMPTS the run is recorded as failed with finalize_error,
 * keeping what it can. A query cancel or a misconfiguration costs no
 * attempt.
 */
void
finalize_step(pg_uuid_t *run_id, const char *run_id_str, const char *company_id_str,
			  LogTail *log, Finalization *fin)
{
	FinalizeArgs a = {run_id, run_id_str, company_id_str, log, fin};
	ErrorData  *edata;
	PcTrouble	t;
	TimestampTz now;

	if (launcher_unit(psprintf("paperclip launcher: finalizing run %s", run_id_str),
					  finalize_unit, &a, &edata))
	{
		if (fin->mode == FIN_RESULT && fin->source == SRC_SPOOL)
			ereport(LOG, (errmsg("paperclip launcher: run %s finalized from its spool", run_id_str)));
		fin->done = true;
		pc_worker_working();
		return;
	}
	if (!pc_error_is_lock_timeout(edata))
		fin->lock_waits = 0;
	now = GetCurrentTimestamp();
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || pc_error_is_misconfiguration(edata, &t))
		fin->retry_at = now;
	else if (pc_error_is_lock_timeout(edata))
	{
		/* its rows are locked by a client's open transaction: later, uncounted */
		fin->retry_at = TimestampTzPlusMilliseconds(now, pc_lock_retry_ms(++fin->lock_waits));
	}
	else if (fin->mode == FIN_RESULT && is_shape_error(edata->sqlerrcode))
	{
		set_why(fin, edata->message);
		fin->mode = FIN_REFUSED;
		fin->attempts = 0;
		fin->retry_at = now;
	}
	else if (fin->mode == FIN_BARE)
		fin->retry_at = TimestampTzPlusMilliseconds(now, FINALIZE_LAST_RETRY_MS);
	else if (++fin->attempts < FINALIZE_ATTEMPTS)
		fin->retry_at = TimestampTzPlusMilliseconds(now, fin->attempts * FINALIZE_RETRY_MS);
	else
	{
		set_why(fin, psprintf("finalizing the run failed %d times (SQLSTATE %s): %s",
							  fin->attempts, unpack_sql_state(edata->sqlerrcode), edata->message));
		ereport(WARNING,
				(errmsg("paperclip launcher: run %s: finalizing it failed %d times; it is recorded as failed with %s",
						run_id_str, fin->attempts, PC_ERR_FINALIZE)));
		fin->mode = fin->mode == FIN_FAILED ? FIN_BARE : FIN_FAILED;
		fin->attempts = 0;
		fin->retry_at = now;
	}
	FreeErrorData(edata);
}

/* ----------------------------------------------------------------------
 * Claims
 * ----------------------------------------------------------------------
 */

/*
 * Fail or cancel queued runs whose agent cannot run any more, and those of
 * blocked issues, each on its own (pc_end_unstartable_run) and without
 * waiting for a lock (lock_timeout 1 ms): a run whose rows a client keeps
 * locked is left for a later claim, and costs the claim of the other
 * companies' runs nothing.
 */
static void
guard_blocked_runs(void)
{
	int			nest = NewGUCNestLevel();
	int			n;
	SPITupleTable *tt;
	int			i;

	(void) set_config_option("lock_timeout", "1", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	n = pc_exec(&plan_blocked_runs, NULL, NULL, 0);
	tt = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		run_id = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);
		bool		not_invokable = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));

		(void) pc_end_unstartable_run(run_id,
									  not_invokable ? "Cancelled: agent is paused or terminated" : NULL,
									  PC_ERR_CANCELLED);
	}
	/* queued runs of blocked issues end cancelled (issue_blocked) */
	(void) pc_cancel_blocked_issue_runs((Datum) 0, true);
	AtEOXact_GUC(true, nest);
}

typedef struct Claim
{
	int			want;
	int			nstarted;
	Runner	  **started;		/* spawned in this unit (loop memory) */
} Claim;

static void
start_runner_state(Runner *r)
{
	r->in_use = true;
	memset(&r->agent, 0, sizeof(r->agent));
	finalize_forget(&r->fin);
	r->cancel_sent = false;
	r->dropped = false;
	r->skipping = false;
	r->eof = false;
	r->frame_failures = 0;
	r->one_frame_units = false;
	r->frame_lock_waits = 0;
	r->frames_retry_at = 0;
	resetStringInfo(&r->frames);
}

/*
 * Claim queued runs up to the free slots and spawn a runner for each; the
 * claim and the runners' identities commit together, and only then are
 * the runners told to start (claim_and_start).
 */
static void
claim_unit(void *arg)
{
	Claim	   *c = (Claim *) arg;
	Datum		v[6];
	int			n;
	int			i;
	SPITupleTable *tt;
	Datum	   *run_ids;
	Datum	   *pids;
	Datum	   *starts;
	Datum	   *ticks;

	guard_blocked_runs();
	v[0] = Int32GetDatum(c->want);
	v[1] = CStringGetTextDatum(file_store ? PC_LOG_STORE_FILE : PC_LOG_STORE_DB);
	v[2] = CStringGetTextDatum(spool_dir);
	v[3] = CStringGetTextDatum(allowed_commands_json);
	v[4] = CStringGetTextDatum(allowed_hosts_json);
	v[5] = CStringGetTextDatum(runner_settings_json);
	n = pc_exec(&plan_claim, v, NULL, 0);
	tt = SPI_tuptable;

	run_ids = palloc(sizeof(Datum) * Max(n, 1));
	pids = palloc(sizeof(Datum) * Max(n, 1));
	starts = palloc(sizeof(Datum) * Max(n, 1));
	ticks = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		Runner	   *r = free_slot();
		bool		isnull;
		Datum		run_id;
		char	   *error = NULL;

		if (r == NULL)
			elog(ERROR, "paperclip launcher: claimed more runs than free slots");
		SPI_tuptable = tt;
		SPI_processed = n;
		run_id = pc_getattr(i, "id", &isnull);
		strlcpy(r->run_id_str, pc_getattr_cstring(i, "id"), sizeof(r->run_id_str));
		strlcpy(r->agent_id_str, pc_getattr_cstring(i, "agent_id"), sizeof(r->agent_id_str));
		strlcpy(r->company_id_str, pc_getattr_cstring(i, "company_id"), sizeof(r->company_id_str));
		memcpy(&r->run_id, DatumGetUUIDP(run_id), sizeof(pg_uuid_t));
		if (file_store)
			(void) pc_run_log_path(r->company_id_str, r->run_id_str, true); /* its directory */
		pc_notify_run_status(i);
		resetStringInfo(&r->pending);
		appendStringInfoString(&r->pending, pc_getattr_cstring(i, "spec"));
		appendStringInfoChar(&r->pending, '\n');

		if (!spawn_runner(r, &error))
		{
			ereport(WARNING, (errmsg("paperclip launcher: run %s: %s", r->run_id_str, error)));
			resetStringInfo(&r->pending);
			pc_finalize_run(run_id, make_result(PC_ERR_RUNNER_SPAWN, error));
			continue;
		}
		start_runner_state(r);
		log_tail_start(&r->log, !file_store, true);
		c->started[c->nstarted] = r;
		/* its "run started" event is inserted with the batch below */
		pc_notify_run_event(r->company_id_str, run_id, pc_getattr(i, "agent_id", &isnull),
							DatumGetInt32(pc_getattr(i, "event_seq", &isnull)),
							"lifecycle", "system", "info");
		run_ids[c->nstarted] = run_id;
		pids[c->nstarted] = Int32GetDatum(r->runner.pid);
		starts[c->nstarted] = TimestampTzGetDatum(GetCurrentTimestamp());
		ticks[c->nstarted] = Int64GetDatum((int64) r->runner.start_ticks);
		c->nstarted++;
	}
	if (c->nstarted > 0)
	{
		Datum		s[6];

		s[0] = PointerGetDatum(construct_array(run_ids, c->nstarted, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
		s[1] = PointerGetDatum(construct_array(pids, c->nstarted, INT4OID, 4, true, TYPALIGN_INT));
		s[2] = PointerGetDatum(construct_array(starts, c->nstarted, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		s[3] = PointerGetDatum(construct_array(ticks, c->nstarted, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		/* the cluster that started them: a restored or copied database never adopts them */
		s[4] = Int64GetDatum((int64) GetSystemIdentifier());
		s[5] = TimestampTzGetDatum(PgStartTime);
		pc_mark_runs_started(s, "      ");
	}
}

/*
 * Claim and start runs. A claim that fails is rolled back and its runners,
 * told nothing, exit; claims that keep failing (query cancels and lock
 * timeouts aside) are tried less often, PC_BACKOFF_MIN_MS apart and more.
 */
static void
claim_and_start(void)
{
	Claim		c;
	ErrorData  *edata;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	c.want = max_runs - runners_in_use();
	if (c.want <= 0 || !pc_launcher_enabled || now < claim_retry_at)
		return;
	c.nstarted = 0;
	c.started = palloc(sizeof(Runner *) * c.want);
	if (launcher_unit("paperclip launcher: claiming runs", claim_unit, &c, &edata))
	{
		claim_failures = 0;
		pc_worker_working();
		/* committed: let the runners go */
		for (i = 0; i < c.nstarted; i++)
			send_line(c.started[i], PC_START_LINE);
		return;
	}
	for (i = 0; i < c.nstarted; i++)
		abandon_runner(c.started[i]);
	if (edata->sqlerrcode != ERRCODE_QUERY_CANCELED && !pc_error_is_lock_timeout(edata) &&
		++claim_failures >= 3)
		claim_retry_at = TimestampTzPlusMilliseconds(now,
													 Min(PC_BACKOFF_MIN_MS << Min(claim_failures - 3, 3),
														 PC_BACKOFF_MAX_MS));
	FreeErrorData(edata);
}

/* ----------------------------------------------------------------------
 * Cancellation
 * ----------------------------------------------------------------------
 */

typedef struct Cancelled
{
	int			n;
	pg_uuid_t  *ids;			/* loop memory */
} Cancelled;

static void
cancelled_unit(void *arg)
{
	Cancelled  *c = (Cancelled *) arg;
	Datum	   *ids = palloc(sizeof(Datum) * (Max(nrunners, 0) + norphans + 1));
	Datum		array;
	int			n = 0;
	int			i;

	for (i = 0; i < nrunners; i++)
		if (runners[i].in_use && !runners[i].cancel_sent && !runners[i].fin.done)
			ids[n++] = uuid_datum(&runners[i].run_id);
	for (i = 0; i < norphans; i++)
		if (!orphans[i].cancel_sent && orphans[i].waiting)
			ids[n++] = uuid_datum(&orphans[i].run_id);
	array = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	c->n = pc_exec(&plan_cancelled_of, &array, NULL, 0);
	c->ids = MemoryContextAlloc(loop_cxt, sizeof(pg_uuid_t) * Max(c->n, 1));
	for (i = 0; i < c->n; i++)
	{
		bool		isnull;

		memcpy(&c->ids[i], DatumGetUUIDP(pc_getattr(i, "id", &isnull)), sizeof(pg_uuid_t));
	}
}

/* Forward a cancel_run to the runners of runs no longer 'running'. */
static void
forward_cancellations(void)
{
	Cancelled	c = {0};
	int			i,
				k;

	if (runners_in_use() + norphans == 0 ||
		!launcher_unit("paperclip launcher: checking cancellations", cancelled_unit, &c, NULL))
		return;
	for (i = 0; i < c.n; i++)
	{
		for (k = 0; k < nrunners; k++)
			if (runners[k].in_use && memcmp(&runners[k].run_id, &c.ids[i], sizeof(pg_uuid_t)) == 0)
				cancel_runner(&runners[k]);
		for (k = 0; k < norphans; k++)
			if (memcmp(&orphans[k].run_id, &c.ids[i], sizeof(pg_uuid_t)) == 0)
				cancel_orphan(&orphans[k]);
	}
}

/* ----------------------------------------------------------------------
 * The worker
 * ----------------------------------------------------------------------
 */

/* The extension in this database now: its OID, and whether it is at the library's version. */
typedef struct ExtensionNow
{
	Oid			oid;
	bool		ours;
	char	   *version;		/* loop memory */
} ExtensionNow;

static Oid	served_extension = InvalidOid;	/* the extension whose runs we run */

static void
extension_unit(void *arg)
{
	ExtensionNow *e = (ExtensionNow *) arg;
	char	   *version;

	version = pc_installed_extension(&e->oid);
	e->ours = version != NULL && strcmp(version, PC_EXTVERSION) == 0;
	e->version = version ? MemoryContextStrdup(loop_cxt, version) : NULL;
}

/*
 * The extension this launcher served was dropped (and maybe created again):
 * its runs are gone with it, so its runners are terminated and drained
 * (drop_runner); runners of earlier launchers get SIGTERM too.
 */
static void
drop_runners(void)
{
	int			i;
	int			n = 0;

	for (i = 0; i < nrunners; i++)
		if (runners[i].in_use && !runners[i].dropped)
		{
			drop_runner(&runners[i]);
			n++;
		}
	for (i = 0; i < norphans; i++)
		if (cancel_orphan(&orphans[i]))
			n++;
	if (n > 0)
		ereport(LOG,
				(errmsg("paperclip launcher: the extension was dropped; terminating %d runner(s) of its runs",
						n)));
}

static int
dropped_runners(void)
{
	int			i;
	int			n = 0;

	for (i = 0; i < nrunners; i++)
		if (runners[i].in_use && runners[i].dropped)
			n++;
	return n;
}

static void
launcher_exit(int code, Datum arg)
{
	int			n = runners_in_use();

	if (n > 0)
		ereport(LOG,
				(errmsg("paperclip launcher exits; %d run(s) continue in their runners", n)));
}

/* Sleep on the latch and the runners' pipes; read what is readable. */
static void
wait_and_read(long timeout_ms)
{
	WaitEvent	events[64];
	int			nevents;
	int			i;

	wait_set = pc_create_wait_event_set(CurrentMemoryContext, 2 + 2 * Max(nrunners, 1));
	AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (i = 0; i < nrunners; i++)
	{
		Runner	   *r = &runners[i];
		uint32		ev = 0;

		if (!r->in_use)
			continue;

		if (r->fd < 0)
			continue;
		if (wants_input(r))
			ev |= WL_SOCKET_READABLE;
		if (r->pending.len > 0)
			ev |= WL_SOCKET_WRITEABLE;
		if (ev != 0)
			AddWaitEventToSet(wait_set, ev, r->fd, NULL, r);
	}

	nevents = WaitEventSetWait(wait_set, timeout_ms, events, lengthof(events), PG_WAIT_EXTENSION);
	FreeWaitEventSet(wait_set);
	wait_set = NULL;

	for (i = 0; i < nevents; i++)
	{
		Runner	   *r = (Runner *) events[i].user_data;

		if (events[i].events & WL_LATCH_SET)
			ResetLatch(MyLatch);
		if (r == NULL || !r->in_use)
			continue;
		if (events[i].events & WL_SOCKET_WRITEABLE)
			flush_pending(r);
		if ((events[i].events & WL_SOCKET_READABLE) && r->fd >= 0 && read_runner(r))
			runner_closed(r);
	}
}

/* When the loop must look again at the latest: the next tick, or a finalization due. */
static long
next_timeout(TimestampTz last_tick)
{
	TimestampTz next = TimestampTzPlusMilliseconds(last_tick, LAUNCHER_TICK_MS);
	int			i;

	for (i = 0; i < nrunners; i++)
		if (runners[i].in_use)
			next = finalize_next(&runners[i].fin, next);
	for (i = 0; i < norphans; i++)
		next = finalize_next(&orphans[i].fin, next);
	next = log_flush_next(next);
	return Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next));
}

static void
back_off(void)
{
	PcTrouble	t = trouble;

	/* leaving a database without the extension: no spool directory left behind (if empty) */
	if (t == PC_TROUBLE_NO_EXTENSION && spool_dir[0] != '\0')
		(void) rmdir(spool_dir);

	trouble = PC_TROUBLE_NONE;
	pc_worker_back_off(t, trouble_why);
	trouble_why = NULL;
}

void
paperclip_launcher_main(Datum arg)
{
	sigjmp_buf	local_sigjmp_buf;
	static TimestampTz last_tick = 0;	/* static: kept across an error's longjmp */
	static bool first = true;
	static bool read_config = true;

	pc_worker_start(PC_WORKER_LAUNCHER);
	before_shmem_exit(launcher_exit, (Datum) 0);
	/* said at LOG level once it finds the extension (pc_worker_found_extension) */
	ereport(DEBUG1, (errmsg("paperclip launcher started in database \"%s\"", pc_worker_database())));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "paperclip launcher loop",
									 ALLOCSET_DEFAULT_SIZES);

	/* an ERROR outside every unit of work lands here: logged, then go on */
	if (sigsetjmp(local_sigjmp_buf, 1) != 0)
	{
		if (wait_set != NULL)
		{
			FreeWaitEventSet(wait_set);
			wait_set = NULL;
		}
		MemoryContextSwitchTo(loop_cxt);
		pc_worker_recover();
	}
	PG_exception_stack = &local_sigjmp_buf;

	for (;;)
	{
		TimestampTz now;
		bool		tick;
		bool		woken;
		int			i;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		pc_worker_check_interrupts();
		trouble = PC_TROUBLE_NONE;
		trouble_why = NULL;

		if (ConfigReloadPending)
		{
			pc_worker_reload_config();
			read_config = true;
		}
		if (read_config && !read_settings())
		{
			back_off();
			continue;
		}
		read_config = false;

		now = GetCurrentTimestamp();
		/* the extension created, updated or dropped: look at once */
		tick = first || pc_worker_nudged() ||
			TimestampDifferenceExceeds(last_tick, now, LAUNCHER_TICK_MS);
		woken = pc_worker_take_wake();
		if (tick)
		{
			ExtensionNow ext = {InvalidOid, false, NULL};

			if (launcher_unit("paperclip launcher: looking for the extension",
							  extension_unit, &ext, NULL))
			{
				uint32		was = pg_atomic_read_u32(&MyWorkerSlot->trouble);

				if (OidIsValid(served_extension) && ext.oid != served_extension)
					drop_runners();
				served_extension = ext.oid;
				if (!OidIsValid(ext.oid))
					trouble = PC_TROUBLE_NO_EXTENSION;
				else
				{
					pc_worker_found_extension();	/* the scheduler may start */
					if (!ext.ours)
					{
						trouble = PC_TROUBLE_OLD_EXTENSION;
						trouble_why = psprintf("extension \"paperclip\" in database \"%s\" is version %s, its library %s",
											   pc_worker_database(), ext.version ? ext.version : "(none)",
											   PC_EXTVERSION);
					}
					else if (was == PC_TROUBLE_NO_EXTENSION || was == PC_TROUBLE_OLD_EXTENSION)
					{
						/* created or updated: the scheduler, waiting for it too, may look now */
						pc_worker_resolved((PcTrouble) was);
						pc_wake_worker(PC_WORKER_SCHEDULER, MyDatabaseId);
					}
				}
			}
			if (trouble != PC_TROUBLE_NONE && dropped_runners() > 0)
			{
				/* no back-off while the runners of a dropped extension exit */
				for (i = 0; i < nrunners; i++)
					if (runners[i].in_use && runners[i].dropped)
						serve_runner(&runners[i]);
				reap_children();
				last_tick = now;
				wait_and_read(LAUNCHER_TICK_MS);
				continue;
			}
			if (trouble != PC_TROUBLE_NONE)
			{
				reap_children();	/* runners that exited meanwhile */
				back_off();
				continue;
			}
		}

		reap_children();
		if (first)
			clean_spool();
		if (tick)
		{
			reconcile_orphans();
			last_tick = now;
		}
		serve_orphans();
		if (woken || tick)
			forward_cancellations();
		if (woken || tick || slot_freed)
		{
			slot_freed = false;
			claim_and_start();
		}
		for (i = 0; i < nrunners; i++)
			if (runners[i].in_use)
				serve_runner(&runners[i]);
		/* output into the table: every run's on a tick, else what runners announced */
		if (tick || log_flush_next(DT_NOEND) <= GetCurrentTimestamp())
			flush_logs(tick);
		first = false;
		if (trouble != PC_TROUBLE_NONE)
		{
			back_off();
			continue;
		}

		/* more work may be waiting: claim again at once if we were woken */
		if (pg_atomic_read_u32(&MyWorkerSlot->wake) != 0)
			continue;
		wait_and_read(next_timeout(last_tick));
	}
}
