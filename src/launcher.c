/*-------------------------------------------------------------------------
 * launcher.c
 *	  The launcher background worker: claims queued runs (FOR UPDATE SKIP
 *	  LOCKED, up to paperclip.max_concurrent_runs), starts one
 *	  paperclip_runner per run, multiplexes the runners' pipes in a
 *	  WaitEventSet, turns their frames into live events, run events and the
 *	  final finalize_run, forwards cancellations, and reconciles runs left
 *	  running by a crash.
 *
 *	  Crash model: the claim, the runner's spawn and the record of its pid
 *	  and start time commit together; only then is the runner told "start".
 *	  A runner outlives the launcher and leaves its result in a spool file,
 *	  so reconciliation finalizes every running run exactly once: from the
 *	  spool, by waiting for a live runner, or as failed with process_lost.
 *
 *	  Nothing here blocks: pipes are non-blocking, the worker sleeps on its
 *	  latch (set at commit by enqueue_wakeup and cancel_run) and on the
 *	  runners' pipes.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "compat.h"
#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "spi_util.h"

extern char **environ;

/* How often, without a wake, the launcher looks for work and orphans. */
#define LAUNCHER_TICK_MS 1000
/* A runner's frame longer than this is dropped (runner bug). */
#define FRAME_MAX (16 * 1024 * 1024)

typedef struct Runner
{
	bool		in_use;
	pid_t		pid;
	int			out_fd;			/* runner's stdout: frames */
	int			in_fd;			/* runner's stdin: spec and "start" */
	StringInfoData pending;		/* bytes still to write to in_fd */
	StringInfoData frames;		/* partial frame line read from out_fd */
	bool		skipping;		/* dropping an overlong frame */
	pg_uuid_t	run_id;
	pid_t		agent_pid;		/* the agent's process group, once spawned */
	char		run_id_str[UUID_LEN * 2 + 5];
	char		agent_id_str[UUID_LEN * 2 + 5];
	char		company_id_str[UUID_LEN * 2 + 5];
	bool		finalized;
	bool		ack_pending;	/* finalized in the open transaction: ack after commit */
	bool		cancel_sent;
	bool		abandoned;		/* its extension was dropped: drain, record nothing */
} Runner;

/* A running run whose runner belongs to an earlier launcher. */
typedef struct Orphan
{
	pg_uuid_t	run_id;
	pid_t		pid;
	bool		cancel_sent;
} Orphan;

static Runner *runners = NULL;
static int	nrunners = 0;			/* slots allocated */
static Orphan *orphans = NULL;
static int	norphans = 0;
static int	orphans_cap = 0;
static char run_log_dir[MAXPGPATH];
static char spool_dir[MAXPGPATH];
static char runner_path[MAXPGPATH];
static char *allowed_commands_json = NULL;	/* the allowlists as JSON arrays, */
static char *allowed_hosts_json = NULL; /* read with the settings */
static bool slot_freed = false;	/* a runner finished: claim again */
static MemoryContext loop_cxt = NULL;	/* reset every loop iteration */
static Oid	served_extension = InvalidOid;	/* the extension whose runs we run */

/* Queued runs whose agent can no longer run: paused, terminated, over budget. */
static PcPlan plan_blocked_runs = PC_PLAN(
	"SELECT r.id, a.status IN ('paused', 'terminated') AS not_invokable "
	"FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id "
	"WHERE r.status = 'queued' AND (a.status IN ('paused', 'terminated') "
	"  OR (a.budget_monthly_cents > 0 AND a.spent_monthly_cents >= a.budget_monthly_cents)) "
	"ORDER BY r.created_at LIMIT 100 FOR UPDATE OF r SKIP LOCKED");

/* $1 how many, $2 log dir, $3 spool dir */
static PcPlan plan_claim = PC_PLAN(
	"WITH c AS (SELECT r.id FROM paperclip.heartbeat_runs r "
	"  JOIN paperclip.agents a ON a.id = r.agent_id "
	"  WHERE r.status = 'queued' AND a.status NOT IN ('paused', 'terminated') "
	"  AND NOT (a.budget_monthly_cents > 0 AND a.spent_monthly_cents >= a.budget_monthly_cents) "
	"  ORDER BY r.created_at LIMIT $1 FOR UPDATE OF r SKIP LOCKED) "
	"UPDATE paperclip.heartbeat_runs r SET status = 'running', started_at = now(), "
	" updated_at = now(), log_store = 'local_file', "
	" log_ref = $2 || '/' || r.company_id || '/' || r.id || '.ndjson', "
	" session_id_before = coalesce((SELECT s.session_id FROM paperclip.agent_runtime_state s "
	"   WHERE s.agent_id = r.agent_id), r.session_id_before), "
	" event_seq = r.event_seq + 1 "
	"FROM c, paperclip.agents a WHERE r.id = c.id AND a.id = r.agent_id "
	"RETURNING r.*, jsonb_build_object("
	" 'runId', r.id, 'agentId', r.agent_id, 'companyId', r.company_id, "
	" 'adapterType', a.adapter_type, 'config', a.adapter_config, "
	" 'context', coalesce(r.context_snapshot, '{}'), 'sessionId', r.session_id_before, "
	" 'wakeReason', (SELECT w.reason FROM paperclip.agent_wakeup_requests w "
	"   WHERE w.id = r.wakeup_request_id), "
	" 'logPath', $2 || '/' || r.company_id || '/' || r.id || '.ndjson', "
	" 'spoolPath', $3 || '/' || r.id || '.json', "
	" 'resultFilePath', $3 || '/' || r.id || '.result', "
	" 'allowedCommands', $4::jsonb, 'allowedHttpHosts', $5::jsonb)::text AS spec",
	INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID);

static PcPlan plan_record_agent = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET agent_pid = $2 WHERE id = $1",
	UUIDOID, INT4OID);

static PcPlan plan_cancelled_of = PC_PLAN(
	"SELECT id FROM paperclip.heartbeat_runs WHERE id = ANY($1) AND status <> 'running'",
	UUIDARRAYOID);

static PcPlan plan_orphans = PC_PLAN(
	"SELECT id, runner_pid, process_started_at, agent_pid FROM paperclip.heartbeat_runs "
	"WHERE status = 'running' AND runner_pid IS NOT NULL AND NOT (id = ANY($1))",
	UUIDARRAYOID);

/* ----------------------------------------------------------------------
 * Small helpers
 * ----------------------------------------------------------------------
 */

/*
 * Begin a transaction of work on the served extension's tables; false (and
 * no transaction) when that extension is gone. The lock on the extension
 * makes a DROP EXTENSION wait for this transaction, or this transaction
 * wait for the DROP and then see it.
 */
static bool
begin_tx(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	LockDatabaseObject(ExtensionRelationId, served_extension, 0, AccessShareLock);
	if (get_extension_name(served_extension) == NULL)
	{
		CommitTransactionCommand();
		MemoryContextSwitchTo(loop_cxt);
		return false;
	}
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
	return true;
}

static void
commit_tx(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	/* commit leaves TopMemoryContext current: go back to the loop's context */
	MemoryContextSwitchTo(loop_cxt);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

static Datum
uuid_datum(pg_uuid_t *u)
{
	return UUIDPGetDatum(u);
}

/* A runner's or agent's start time from /proc, to tell a live pid from a reused one. */
static bool
process_start_time(pid_t pid, TimestampTz *out)
{
	char		path[64];
	char		buf[1024];
	FILE	   *f;
	char	   *p;
	unsigned long long ticks = 0;
	unsigned long long btime = 0;
	int			field;
	size_t		n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command name, which is in parentheses */
	if ((p = strrchr(buf, ')')) == NULL)
		return false;
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1)
		return false;

	if ((f = fopen("/proc/stat", "r")) == NULL)
		return false;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	if (btime == 0)
		return false;
	*out = time_t_to_timestamptz((pg_time_t) btime) +
		(TimestampTz) (ticks * USECS_PER_SEC / sysconf(_SC_CLK_TCK));
	return true;
}

static bool
runner_alive(pid_t pid, TimestampTz started)
{
	TimestampTz now_started;

	if (pid <= 0 || kill(pid, 0) != 0)
		return false;
	return process_start_time(pid, &now_started) && now_started == started;
}

/* Kill what is left of a lost runner's agent: its whole process group. */
static void
kill_agent_group(pid_t agent_pid)
{
	if (agent_pid > 1 && getpgid(agent_pid) == agent_pid)
	{
		ereport(LOG, (errmsg("paperclip launcher: killing process group %d of a lost run",
							 (int) agent_pid)));
		kill(-agent_pid, SIGKILL);
	}
}

static void
make_dirs(const char *path)
{
	if (pg_mkdir_p((char *) path, S_IRWXU) != 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", path)));
}

static void
resolve_paths(void)
{
	strlcpy(run_log_dir, pc_run_log_dir(), MAXPGPATH);
	snprintf(spool_dir, MAXPGPATH, "%s/pg_paperclip/spool", DataDir);
	if (pc_runner_path != NULL && pc_runner_path[0] != '\0')
		strlcpy(runner_path, pc_runner_path, MAXPGPATH);
	else
		snprintf(runner_path, MAXPGPATH, "%s/%s", pkglib_path, PC_RUNNER_NAME);
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
}

static char *
spool_path(const char *run_id)
{
	return psprintf("%s/%s.json", spool_dir, run_id);
}

/* The spool file's result, or NULL when there is none or it is unreadable. */
static Jsonb *
read_spool(const char *run_id)
{
	char	   *path = spool_path(run_id);
	StringInfoData buf;
	FILE	   *f;
	char		chunk[8192];
	size_t		n;
	JsonLexContext *lex;

	if ((f = AllocateFile(path, "r")) == NULL)
		return NULL;
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		appendBinaryStringInfo(&buf, chunk, n);
	FreeFile(f);
	lex = pc_json_lex_context(buf.data, buf.len, PG_UTF8, true);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
	{
		ereport(LOG,
				(errmsg("paperclip launcher: spool file \"%s\" is not valid JSON", path)));
		return NULL;
	}
	return pc_jsonb_from_cstring(buf.data);
}

static void
remove_spool(const char *run_id)
{
	char	   *path = spool_path(run_id);

	if (unlink(path) != 0 && errno != ENOENT)
		ereport(LOG, (errcode_for_file_access(),
					  errmsg("could not remove \"%s\": %m", path)));
}

static Jsonb *
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

typedef struct FinalizeArgs
{
	pg_uuid_t  *run_id;
	Jsonb	   *result;
} FinalizeArgs;

static void
finalize_one(void *arg)
{
	FinalizeArgs *a = (FinalizeArgs *) arg;

	pc_finalize_run(uuid_datum(a->run_id), a->result);
}

/*
 * Finalize a run in a subtransaction, so a result the SQL path refuses
 * fails the run as bad_result instead of the launcher.
 */
static void
finalize_safely(pg_uuid_t *run_id, Jsonb *result)
{
	FinalizeArgs args = {run_id, result};
	ErrorData  *edata = pc_try_subxact(finalize_one, &args);

	if (edata == NULL)
		return;
	ereport(LOG,
			(errmsg("paperclip launcher: run result refused: %s", edata->message)));
	pc_finalize_run(uuid_datum(run_id), make_result(PC_ERR_BAD_RESULT, edata->message));
}

/* ----------------------------------------------------------------------
 * Runner slots
 * ----------------------------------------------------------------------
 */

static int
runners_in_use(void)
{
	int			i,
				n = 0;

	for (i = 0; i < nrunners; i++)
		if (runners[i].in_use)
			n++;
	return n;
}

static Runner *
free_slot(void)
{
	int			i;

	for (i = 0; i < nrunners; i++)
		if (!runners[i].in_use)
			return &runners[i];
	return NULL;
}

static void
ensure_slots(int n)
{
	MemoryContext old;
	int			i;

	if (n <= nrunners)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	runners = runners ? repalloc(runners, sizeof(Runner) * n) : palloc(sizeof(Runner) * n);
	for (i = nrunners; i < n; i++)
	{
		memset(&runners[i], 0, sizeof(Runner));
		runners[i].in_fd = runners[i].out_fd = -1;
		initStringInfo(&runners[i].pending);
		initStringInfo(&runners[i].frames);
	}
	nrunners = n;
	MemoryContextSwitchTo(old);
}

static void
release_slot(Runner *r)
{
	int			status;

	if (r->out_fd >= 0)
		close(r->out_fd);
	if (r->in_fd >= 0)
		close(r->in_fd);
	r->out_fd = r->in_fd = -1;
	/* reap; a runner that has not exited yet is reaped by reap_children() */
	(void) waitpid(r->pid, &status, WNOHANG);
	resetStringInfo(&r->pending);
	resetStringInfo(&r->frames);
	r->in_use = false;
	r->abandoned = false;
	slot_freed = true;
}

static void
reap_children(void)
{
	int			status;

	while (waitpid(-1, &status, WNOHANG) > 0)
		;
}

/* Write what is pending to the runner's stdin without blocking. */
static void
flush_pending(Runner *r)
{
	while (r->in_fd >= 0 && r->pending.len > 0)
	{
		ssize_t		n = write(r->in_fd, r->pending.data, r->pending.len);

		if (n < 0)
		{
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* the runner is gone; its pipe EOF handles the rest */
			close(r->in_fd);
			r->in_fd = -1;
			resetStringInfo(&r->pending);
			return;
		}
		memmove(r->pending.data, r->pending.data + n, r->pending.len - n);
		r->pending.len -= n;
		r->pending.data[r->pending.len] = '\0';
	}
}

/* ----------------------------------------------------------------------
 * Starting runners
 * ----------------------------------------------------------------------
 */

static bool
spawn_runner(Runner *r, char **error)
{
	int			in_pipe[2];
	int			out_pipe[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t	none,
				dflt;
	char	   *argv[] = {runner_path, NULL};
	char	   *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", NULL};
	pid_t		pid;
	int			rc;

	r->in_fd = r->out_fd = -1;
	r->pid = 0;
	if (pipe2(in_pipe, O_CLOEXEC) != 0)
	{
		*error = psprintf("could not create pipe: %m");
		return false;
	}
	if (pipe2(out_pipe, O_CLOEXEC) != 0)
	{
		*error = psprintf("could not create pipe: %m");
		close(in_pipe[0]);
		close(in_pipe[1]);
		return false;
	}

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&dflt);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
							 POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, runner_path, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in_pipe[0]);
	close(out_pipe[1]);
	if (rc != 0)
	{
		errno = rc;
		*error = psprintf("could not start runner \"%s\": %m", runner_path);
		close(in_pipe[1]);
		close(out_pipe[0]);
		return false;
	}

	fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
	fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
	r->pid = pid;
	r->in_fd = in_pipe[1];
	r->out_fd = out_pipe[0];
	return true;
}

/* Fail or cancel queued runs whose agent cannot run any more. */
static void
guard_blocked_runs(void)
{
	int			n = pc_exec(&plan_blocked_runs, NULL, NULL, 0);
	SPITupleTable *tt = SPI_tuptable;
	int			i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		run_id = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);
		bool		not_invokable = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));

		if (not_invokable)
			pc_cancel_run(run_id, "Cancelled: agent is paused or terminated");
		else
			pc_finalize_run(run_id, make_result("budget_blocked",
												"Agent is over its monthly budget"));
	}
}

/*
 * Claim queued runs up to the free slots and start a runner for each; the
 * claim and the runners' pids commit together, then the runners may start.
 */
static void
claim_and_start(void)
{
	int			free = pc_max_concurrent_runs - runners_in_use();
	Datum		v[5];
	int			n;
	int			i;
	SPITupleTable *tt;
	Runner	  **started;
	int			nstarted = 0;
	Datum	   *run_ids;
	Datum	   *pids;
	Datum	   *starts;

	if (free <= 0 || !pc_launcher_enabled)
		return;
	ensure_slots(pc_max_concurrent_runs);
	/* outlives the transaction's SPI memory */
	started = palloc(sizeof(Runner *) * free);

	if (!begin_tx("paperclip launcher: claiming runs"))
		return;
	guard_blocked_runs();
	v[0] = Int32GetDatum(free);
	v[1] = CStringGetTextDatum(run_log_dir);
	v[2] = CStringGetTextDatum(spool_dir);
	v[3] = CStringGetTextDatum(allowed_commands_json);
	v[4] = CStringGetTextDatum(allowed_hosts_json);
	n = pc_exec(&plan_claim, v, NULL, 0);
	tt = SPI_tuptable;

	run_ids = palloc(sizeof(Datum) * Max(n, 1));
	pids = palloc(sizeof(Datum) * Max(n, 1));
	starts = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		Runner	   *r = free_slot();
		bool		isnull;
		Datum		run_id;
		char	   *error = NULL;
		TimestampTz started_at;

		if (r == NULL)
			elog(ERROR, "paperclip launcher: claimed more runs than free slots");
		SPI_tuptable = tt;
		SPI_processed = n;
		run_id = pc_getattr(i, "id", &isnull);
		strlcpy(r->run_id_str, pc_getattr_cstring(i, "id"), sizeof(r->run_id_str));
		strlcpy(r->agent_id_str, pc_getattr_cstring(i, "agent_id"), sizeof(r->agent_id_str));
		strlcpy(r->company_id_str, pc_getattr_cstring(i, "company_id"), sizeof(r->company_id_str));
		memcpy(&r->run_id, DatumGetUUIDP(run_id), sizeof(pg_uuid_t));
		make_dirs(psprintf("%s/%s", run_log_dir, r->company_id_str));
		pc_notify_run_status(i);
		resetStringInfo(&r->pending);
		appendStringInfoString(&r->pending, pc_getattr_cstring(i, "spec"));
		appendStringInfoChar(&r->pending, '\n');

		if (!spawn_runner(r, &error) || !process_start_time(r->pid, &started_at))
		{
			if (error == NULL)
			{
				error = psprintf("runner %d exited before it was recorded", (int) r->pid);
				kill(r->pid, SIGKILL);
				(void) waitpid(r->pid, NULL, 0);
			}
			ereport(WARNING, (errmsg("paperclip launcher: %s", error)));
			pc_finalize_run(run_id, make_result("runner_spawn_failed", error));
			if (r->in_fd >= 0)
				close(r->in_fd);
			if (r->out_fd >= 0)
				close(r->out_fd);
			r->in_fd = r->out_fd = -1;
			continue;
		}
		/* its "run started" event is inserted with the batch below */
		pc_notify_run_event(r->company_id_str, run_id, pc_getattr(i, "agent_id", &isnull),
							DatumGetInt32(pc_getattr(i, "event_seq", &isnull)),
							"lifecycle", "system", "info", "run started", NULL);
		run_ids[nstarted] = run_id;
		pids[nstarted] = Int32GetDatum(r->pid);
		starts[nstarted] = TimestampTzGetDatum(started_at);
		r->in_use = true;
		r->agent_pid = 0;
		r->finalized = false;
		r->ack_pending = false;
		r->cancel_sent = false;
		r->abandoned = false;
		r->skipping = false;
		started[nstarted++] = r;
	}
	if (nstarted > 0)
	{
		Datum		v[3];

		v[0] = PointerGetDatum(construct_array(run_ids, nstarted, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
		v[1] = PointerGetDatum(construct_array(pids, nstarted, INT4OID, 4, true, TYPALIGN_INT));
		v[2] = PointerGetDatum(construct_array(starts, nstarted, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		pc_mark_runs_started(v, "   ");
	}
	commit_tx();

	/* committed: let the runners go */
	for (i = 0; i < nstarted; i++)
	{
		appendStringInfoString(&started[i]->pending, PC_START_LINE "\n");
		flush_pending(started[i]);
	}
	pfree(started);
}

/* ----------------------------------------------------------------------
 * Frames from runners
 * ----------------------------------------------------------------------
 */

static char *
frame_string(Jsonb *frame, const char *key)
{
	return pc_json_string(&frame->root, key);
}

static Jsonb *
frame_object(Jsonb *frame, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(&frame->root, key, &buf);

	if (v == NULL || v->type != jbvBinary)
		return NULL;
	return JsonbValueToJsonb(v);
}

static void
handle_frame(Runner *r, char *line, int len)
{
	JsonLexContext *lex = pc_json_lex_context(line, len, PG_UTF8, true);
	Jsonb	   *frame;
	char	   *type;

	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
	{
		ereport(LOG, (errmsg("paperclip launcher: run %s: unreadable frame from runner",
							 r->run_id_str)));
		return;
	}
	frame = pc_jsonb_from_cstring(line);
	type = frame_string(frame, "type");
	if (type == NULL)
		return;

	if (strcmp(type, PC_FRAME_LOG) == 0)
	{
		char	   *stream = frame_string(frame, "stream");
		char	   *chunk = frame_string(frame, "chunk");

		if (stream && chunk)
			pc_notify_run_log(r->company_id_str, r->run_id_str, r->agent_id_str,
							  stream, chunk);
	}
	else if (strcmp(type, PC_FRAME_LOG_CAPPED) == 0)
		pc_append_run_event(uuid_datum(&r->run_id), "log", "system", "warn",
							"live log capped; the run log keeps all output", NULL);
	else if (strcmp(type, PC_FRAME_SPAWNED) == 0)
	{
		JsonbValue	buf;
		JsonbValue *pid = pc_json_get(&frame->root, "pid", &buf);

		if (pid != NULL && pid->type == jbvNumeric)
		{
			Datum		v[2];

			r->agent_pid = (pid_t) pc_numeric_to_double(pid->val.numeric);
			v[0] = uuid_datum(&r->run_id);
			v[1] = Int32GetDatum(r->agent_pid);
			pc_exec(&plan_record_agent, v, NULL, 0);
		}
	}
	else if (strcmp(type, PC_FRAME_META) == 0)
		pc_append_run_event(uuid_datum(&r->run_id), "adapter.invoke", "system", "info",
							"adapter invocation", frame_object(frame, "meta"));
	else if (strcmp(type, PC_FRAME_RESULT) == 0 && !r->finalized)
	{
		Jsonb	   *result = frame_object(frame, "result");

		finalize_safely(&r->run_id, result ? result :
						make_result(PC_ERR_BAD_RESULT, "runner sent a result that is not an object"));
		r->finalized = true;
		r->ack_pending = true;
	}
}

/* Read what a runner wrote; handle whole frames; true at EOF. */
static bool
read_runner(Runner *r)
{
	char		buf[65536];

	for (;;)
	{
		ssize_t		n = read(r->out_fd, buf, sizeof(buf));
		int			start;
		int			i;

		if (n == 0)
			return true;
		if (n < 0)
			return !(errno == EAGAIN || errno == EINTR);

		start = 0;
		for (i = 0; i < n; i++)
		{
			if (buf[i] != '\n')
				continue;
			if (!r->skipping && !r->abandoned)
			{
				appendBinaryStringInfo(&r->frames, buf + start, i - start);
				handle_frame(r, r->frames.data, r->frames.len);
			}
			resetStringInfo(&r->frames);
			r->skipping = false;
			start = i + 1;
		}
		if (!r->skipping && n > start)
		{
			if (r->frames.len + (n - start) > FRAME_MAX)
			{
				resetStringInfo(&r->frames);
				r->skipping = true;
			}
			else
				appendBinaryStringInfo(&r->frames, buf + start, n - start);
		}
	}
}

/* A runner closed its stdout: it has exited, with or without a result. */
static void
runner_gone(Runner *r)
{
	if (!r->finalized)
	{
		Jsonb	   *spooled = read_spool(r->run_id_str);

		if (spooled == NULL)
			kill_agent_group(r->agent_pid);
		finalize_safely(&r->run_id, spooled ? spooled :
						make_result("process_lost", "runner exited without a result"));
		r->finalized = true;
	}
	/* a spool written by a runner that was not acknowledged in time */
	remove_spool(r->run_id_str);
	release_slot(r);
}

/* ----------------------------------------------------------------------
 * Cancellation and reconciliation
 * ----------------------------------------------------------------------
 */

static Datum
in_flight_ids(void)
{
	Datum	   *ids = palloc(sizeof(Datum) * (Max(nrunners, 0) + norphans + 1));
	int			n = 0;
	int			i;

	for (i = 0; i < nrunners; i++)
		if (runners[i].in_use)
			ids[n++] = uuid_datum(&runners[i].run_id);
	for (i = 0; i < norphans; i++)
		ids[n++] = uuid_datum(&orphans[i].run_id);
	return PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
}

/* Forward a cancel_run to the runners of runs no longer 'running'. */
static void
forward_cancellations(void)
{
	Datum		ids;
	int			n;
	int			i,
				k;

	if (runners_in_use() + norphans == 0)
		return;
	if (!begin_tx("paperclip launcher: checking cancellations"))
		return;
	ids = in_flight_ids();
	n = pc_exec(&plan_cancelled_of, &ids, NULL, 0);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		pg_uuid_t  *id = DatumGetUUIDP(pc_getattr(i, "id", &isnull));

		for (k = 0; k < nrunners; k++)
			if (runners[k].in_use && !runners[k].cancel_sent &&
				memcmp(&runners[k].run_id, id, sizeof(pg_uuid_t)) == 0)
			{
				kill(runners[k].pid, SIGTERM);
				runners[k].cancel_sent = true;
			}
		for (k = 0; k < norphans; k++)
			if (!orphans[k].cancel_sent &&
				memcmp(&orphans[k].run_id, id, sizeof(pg_uuid_t)) == 0)
			{
				kill(orphans[k].pid, SIGTERM);
				orphans[k].cancel_sent = true;
			}
	}
	commit_tx();
}

static void
remember_orphan(pg_uuid_t *run_id, pid_t pid)
{
	int			i;
	MemoryContext old;

	for (i = 0; i < norphans; i++)
		if (memcmp(&orphans[i].run_id, run_id, sizeof(pg_uuid_t)) == 0)
			return;
	if (norphans == orphans_cap)
	{
		old = MemoryContextSwitchTo(TopMemoryContext);
		orphans_cap = Max(16, orphans_cap * 2);
		orphans = orphans ? repalloc(orphans, sizeof(Orphan) * orphans_cap)
			: palloc(sizeof(Orphan) * orphans_cap);
		MemoryContextSwitchTo(old);
	}
	memcpy(&orphans[norphans].run_id, run_id, sizeof(pg_uuid_t));
	orphans[norphans].pid = pid;
	orphans[norphans].cancel_sent = false;
	norphans++;
}

/*
 * Every running run with a runner that is not ours: finalize it from its
 * spool, keep waiting while its runner lives, else fail it as process_lost.
 */
static void
reconcile_orphans(void)
{
	Datum		ids;
	int			n;
	int			i;
	SPITupleTable *tt;

	if (!begin_tx("paperclip launcher: reconciling runs"))
		return;
	norphans = 0;
	ids = in_flight_ids();
	n = pc_exec(&plan_orphans, &ids, NULL, 0);
	tt = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		pg_uuid_t	run_id;
		char	   *run_id_str;
		pid_t		pid;
		TimestampTz started;
		Jsonb	   *spooled;

		SPI_tuptable = tt;
		SPI_processed = n;
		memcpy(&run_id, DatumGetUUIDP(pc_getattr(i, "id", &isnull)), sizeof(pg_uuid_t));
		run_id_str = pc_getattr_cstring(i, "id");
		pid = DatumGetInt32(pc_getattr(i, "runner_pid", &isnull));
		started = DatumGetTimestampTz(pc_getattr(i, "process_started_at", &isnull));

		if ((spooled = read_spool(run_id_str)) != NULL)
		{
			ereport(LOG, (errmsg("paperclip launcher: run %s finalized from its spool", run_id_str)));
			finalize_safely(&run_id, spooled);
			remove_spool(run_id_str);
		}
		else if (!isnull && runner_alive(pid, started))
			remember_orphan(&run_id, pid);
		else
		{
			bool		agent_null;
			Datum		agent_pid = pc_getattr(i, "agent_pid", &agent_null);

			ereport(LOG, (errmsg("paperclip launcher: run %s lost its runner", run_id_str)));
			if (!agent_null)
				kill_agent_group(DatumGetInt32(agent_pid));
			finalize_safely(&run_id, make_result("process_lost",
												 "runner process lost (server or launcher restart)"));
		}
	}
	commit_tx();
}

/* ----------------------------------------------------------------------
 * The worker
 * ----------------------------------------------------------------------
 */

/* The paperclip extension of this database now, or InvalidOid. */
static Oid
current_extension(void)
{
	Oid			ext;

	StartTransactionCommand();
	ext = get_extension_oid("paperclip", true);
	CommitTransactionCommand();
	MemoryContextSwitchTo(loop_cxt);
	return ext;
}

/*
 * The extension this launcher served was dropped (and maybe created again):
 * its runs are gone with it. Every runner we know of is terminated (it
 * forwards SIGTERM to its agent, and SIGKILL after its grace period); ours
 * are drained without recording anything, and their spool files removed.
 */
static void
abandon_runners(void)
{
	int			i;
	int			n = 0;

	for (i = 0; i < nrunners; i++)
	{
		Runner	   *r = &runners[i];

		if (!r->in_use || r->abandoned)
			continue;
		kill(r->pid, SIGTERM);
		r->cancel_sent = true;
		r->abandoned = true;
		r->ack_pending = false;
		/* no acknowledgement will come: the runner exits once its agent has */
		resetStringInfo(&r->pending);
		if (r->in_fd >= 0)
			close(r->in_fd);
		r->in_fd = -1;
		n++;
	}
	for (i = 0; i < norphans; i++)
		kill(orphans[i].pid, SIGTERM);
	n += norphans;
	norphans = 0;
	if (n > 0)
		ereport(LOG,
				(errmsg("paperclip launcher: the extension was dropped; terminating %d runner(s) of its runs",
						n)));
}

/* An abandoned runner exited: nothing to record, nothing to keep. */
static void
abandoned_runner_gone(Runner *r)
{
	remove_spool(r->run_id_str);
	release_slot(r);
}

static void
launcher_shmem_exit(int code, Datum arg)
{
	if (pc_shared != NULL && pc_shared->launcher_latch == MyLatch)
		pc_shared->launcher_latch = NULL;
}

/* Sleep on the latch and the runners' pipes; handle what is readable. */
static void
wait_and_read(long timeout_ms)
{
	WaitEventSet *set;
	WaitEvent	events[64];
	int			nevents;
	int			i;
	bool		in_tx = false;

	set = pc_create_wait_event_set(CurrentMemoryContext, 2 + 2 * Max(nrunners, 1));
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (i = 0; i < nrunners; i++)
	{
		Runner	   *r = &runners[i];

		if (!r->in_use)
			continue;
		AddWaitEventToSet(set, WL_SOCKET_READABLE, r->out_fd, NULL, r);
		if (r->pending.len > 0 && r->in_fd >= 0)
			AddWaitEventToSet(set, WL_SOCKET_WRITEABLE, r->in_fd, NULL, r);
	}

	nevents = WaitEventSetWait(set, timeout_ms, events, lengthof(events), PG_WAIT_EXTENSION);
	FreeWaitEventSet(set);

	for (i = 0; i < nevents; i++)
	{
		if (events[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (events[i].events & WL_SOCKET_WRITEABLE)
			flush_pending((Runner *) events[i].user_data);
	}

	/* read every readable runner, all in one transaction */
	for (i = 0; i < nevents; i++)
	{
		Runner	   *r = (Runner *) events[i].user_data;

		if (!(events[i].events & WL_SOCKET_READABLE) || r == NULL || !r->in_use)
			continue;
		if (r->abandoned)
		{
			if (read_runner(r))
				abandoned_runner_gone(r);
			continue;
		}
		if (!in_tx)
		{
			if (!begin_tx("paperclip launcher: reading runners"))
				break;			/* the extension is gone: the loop abandons them */
			in_tx = true;
		}
		if (read_runner(r))
			runner_gone(r);
	}
	if (in_tx)
		commit_tx();

	/* the results are committed: the runners may exit without a spool */
	for (i = 0; i < nrunners; i++)
		if (runners[i].in_use && runners[i].ack_pending)
		{
			runners[i].ack_pending = false;
			appendStringInfoString(&runners[i].pending, PC_ACK_LINE "\n");
			flush_pending(&runners[i]);
		}
}

void
paperclip_launcher_main(Datum arg)
{
	TimestampTz last_reconcile = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(pc_database_name, NULL, 0);
	pgstat_report_appname("paperclip launcher");
	pc_worker_session_settings();

	before_shmem_exit(launcher_shmem_exit, (Datum) 0);
	pc_shared->launcher_latch = MyLatch;
	pc_shared->launcher_database = MyDatabaseId;
	resolve_paths();
	ereport(LOG, (errmsg("paperclip launcher started in database \"%s\"", pc_database_name)));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "paperclip launcher loop",
									 ALLOCSET_DEFAULT_SIZES);
	while (!ShutdownRequestPending)
	{
		TimestampTz now;
		bool		tick;
		bool		woken;
		Oid			now_extension;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			resolve_paths();
		}

		now_extension = current_extension();
		if (now_extension != served_extension)
		{
			if (OidIsValid(served_extension))
				abandon_runners();
			served_extension = now_extension;
		}
		reap_children();
		if (!OidIsValid(served_extension))
		{
			/* drain abandoned runners until they exit, else only wait */
			if (runners_in_use() > 0)
				wait_and_read(LAUNCHER_TICK_MS);
			else
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 5000, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
			}
			continue;
		}

		now = GetCurrentTimestamp();
		tick = TimestampDifferenceExceeds(last_reconcile, now, LAUNCHER_TICK_MS);
		if (tick)
		{
			reconcile_orphans();
			last_reconcile = now;
		}
		woken = pg_atomic_exchange_u32(&pc_shared->launcher_wake, 0) != 0;
		if (woken || tick)
			forward_cancellations();
		if (woken || tick || slot_freed)
		{
			slot_freed = false;
			claim_and_start();
		}

		/* more work may be waiting: claim again at once if we were woken */
		if (pg_atomic_read_u32(&pc_shared->launcher_wake) != 0)
			continue;
		wait_and_read(LAUNCHER_TICK_MS);
	}
	ereport(LOG, (errmsg("paperclip launcher shutting down; %d run(s) continue in their runners",
						 runners_in_use())));
	proc_exit(0);
}
