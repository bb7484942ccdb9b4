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
 *
 *	  This file holds the loop and its transactions; runner_io.c the
 *	  runners' pipes and frames; reconcile.c spool files, process identity
 *	  and orphaned runs.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "spi_util.h"
#include "bgworkers/bgworkers.h"
#include "bgworkers/launcher.h"

Runner	   *runners = NULL;
int			nrunners = 0;			/* slots allocated */
char		run_log_dir[MAXPGPATH];
char		spool_dir[MAXPGPATH];
char		runner_path[MAXPGPATH];
static char *allowed_commands_json = NULL;	/* the allowlists as JSON arrays, */
static char *allowed_hosts_json = NULL; /* read with the settings */
static char *runner_settings_json = NULL;	/* isolation, OS user, log cap */
MemoryContext loop_cxt = NULL;	/* reset every loop iteration */
static Oid	served_extension = InvalidOid;	/* the extension whose runs we run */

/* Queued runs whose agent can no longer run: paused, terminated, over budget. */
static PcPlan plan_blocked_runs = PC_PLAN(
	"SELECT r.id, a.status IN ('paused', 'terminated') AS not_invokable "
	"FROM paperclip.heartbeat_runs r JOIN paperclip.agents a ON a.id = r.agent_id "
	"WHERE r.status = 'queued' AND (a.status IN ('paused', 'terminated') "
	"  OR (a.budget_monthly_cents > 0 AND a.spent_monthly_cents >= a.budget_monthly_cents)) "
	"ORDER BY r.created_at LIMIT 100 FOR NO KEY UPDATE OF r SKIP LOCKED");

/* $1 how many, $3 spool dir ($2, the log dir, is unused: paperclip.run_log_path names logs),
 * $4 $5 the allowlists, $6 the runner's settings (isolation, OS user, log cap) */
static PcPlan plan_claim = PC_PLAN(
	"WITH c AS (SELECT r.id FROM paperclip.heartbeat_runs r "
	"  JOIN paperclip.agents a ON a.id = r.agent_id "
	"  WHERE r.status = 'queued' AND a.status NOT IN ('paused', 'terminated') "
	"  AND NOT (a.budget_monthly_cents > 0 AND a.spent_monthly_cents >= a.budget_monthly_cents) "
	"  ORDER BY r.created_at LIMIT $1 FOR NO KEY UPDATE OF r SKIP LOCKED) "
	"UPDATE paperclip.heartbeat_runs r SET status = 'running', started_at = now(), "
	" updated_at = now(), log_store = 'local_file', "
	" log_ref = paperclip.run_log_path(r.company_id, r.id), "
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
	" 'logPath', paperclip.run_log_path(r.company_id, r.id), "
	" 'spoolPath', $3 || '/' || r.id || '.json', "
	" 'resultFilePath', $3 || '/' || r.id || '.result', "
	" 'allowedCommands', $4::jsonb, 'allowedHttpHosts', $5::jsonb) || $6::jsonb)::text AS spec",
	INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID);

static PcPlan plan_cancelled_of = PC_PLAN(
	"SELECT id FROM paperclip.heartbeat_runs WHERE id = ANY($1) AND status <> 'running'",
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
bool
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

void
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
	if (runner_settings_json)
		pfree(runner_settings_json);
	runner_settings_json = MemoryContextStrdup(TopMemoryContext, pc_runner_settings_json());
	pc_warn_if_isolation_off("paperclip launcher");
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
void
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
	Datum		v[6];
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
	v[5] = CStringGetTextDatum(runner_settings_json);
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
		(void) pc_run_log_path(r->company_id_str, r->run_id_str, true);	/* its directory */
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
							"lifecycle", "system", "info");
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
 * Cancellation
 * ----------------------------------------------------------------------
 */

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
/* ----------------------------------------------------------------------
 * The worker
 * ----------------------------------------------------------------------
 */

/*
 * The paperclip extension of this database now, or InvalidOid; *ours tells
 * whether it is at the library's version (after a new version is installed
 * and until ALTER EXTENSION paperclip UPDATE, it is not: runs then wait).
 */
static Oid
current_extension(bool *ours)
{
	static bool said = false;
	Oid			ext;
	char	   *version;

	StartTransactionCommand();
	ext = get_extension_oid("paperclip", true);
	version = OidIsValid(ext) ? pc_installed_version() : NULL;
	*ours = version != NULL && strcmp(version, PC_EXTVERSION) == 0;
	if (OidIsValid(ext) && !*ours && !said)
		ereport(LOG,
				(errmsg("paperclip launcher: the extension in database \"%s\" is version %s, its library %s; "
						"runs wait for ALTER EXTENSION paperclip UPDATE",
						pc_database_name, version ? version : "(none)", PC_EXTVERSION)));
	said = OidIsValid(ext) && !*ours;
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
				runner_gone(r);
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
		bool		ours;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			resolve_paths();
		}

		now_extension = current_extension(&ours);
		if (now_extension != served_extension)
		{
			if (OidIsValid(served_extension))
				abandon_runners();
			served_extension = now_extension;
		}
		reap_children();
		if (!OidIsValid(served_extension) || !ours)
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
