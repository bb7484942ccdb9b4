/*-------------------------------------------------------------------------
 * reconcile.c
 *	  What the launcher knows of runs it did not start or lost track of:
 *	  a process's identity from /proc, spool files of runners that outlived
 *	  their launcher, and the reconciliation of every running run whose
 *	  runner is not one of ours (finalized from its spool, waited for while
 *	  its runner lives, else failed as process_lost).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "storage/fd.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "json_util.h"
#include "paperclip.h"
#include "spi_util.h"
#include "bgworkers/launcher.h"

Orphan	   *orphans = NULL;
int			norphans = 0;
static int	orphans_cap = 0;

static PcPlan plan_orphans = PC_PLAN(
	"SELECT id, runner_pid, process_started_at, agent_pid FROM paperclip.heartbeat_runs "
	"WHERE status = 'running' AND runner_pid IS NOT NULL AND NOT (id = ANY($1))",
	UUIDARRAYOID);

/* A runner's or agent's start time from /proc, to tell a live pid from a reused one. */
bool
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
void
kill_agent_group(pid_t agent_pid)
{
	if (agent_pid > 1 && getpgid(agent_pid) == agent_pid)
	{
		ereport(LOG, (errmsg("paperclip launcher: killing process group %d of a lost run",
							 (int) agent_pid)));
		kill(-agent_pid, SIGKILL);
	}
}
static char *
spool_path(const char *run_id)
{
	return psprintf("%s/%s.json", spool_dir, run_id);
}

/* The spool file's result, or NULL when there is none or it is unreadable. */
Jsonb *
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

void
remove_spool(const char *run_id)
{
	char	   *path = spool_path(run_id);

	if (unlink(path) != 0 && errno != ENOENT)
		ereport(LOG, (errcode_for_file_access(),
					  errmsg("could not remove \"%s\": %m", path)));
}
/* ----------------------------------------------------------------------
 * Reconciliation
 * ----------------------------------------------------------------------
 */

Datum
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
void
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
