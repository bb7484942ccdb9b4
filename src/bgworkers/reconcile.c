/*-------------------------------------------------------------------------
 * reconcile.c
 *	  What the launcher knows of processes and runs it did not start or
 *	  lost track of: a process's identity from /proc, the signals it may
 *	  send, spool files of runners that outlived their launcher, and the
 *	  reconciliation of every running run whose runner is not one of its
 *	  children.
 *
 *	  Signals go only to proven processes. A runner is proven when /proc
 *	  shows, just before the signal, the pid with the start time (clock
 *	  ticks since boot, field 22 of /proc/pid/stat) recorded when it was
 *	  spawned, leading its own session under the runner's name; the signal
 *	  goes through a pidfd, so the pid cannot be reused between check and
 *	  signal. An agent's process group is killed only when its leader shows
 *	  the start time its runner reported and lives in its runner's session,
 *	  and is none of PostgreSQL's processes. Every recorded runner carries the identity of the
 *	  cluster that started it (system identifier, postmaster start time): a
 *	  runner of another cluster (a restored or copied database) is never
 *	  adopted nor signalled, and one started before this postmaster (a
 *	  server restart) is waited for, for its spool, but never signalled.
 *
 *	  Reconciliation (at start, then every tick) finalizes each orphaned
 *	  run exactly once: from its spool file; by waiting while its runner
 *	  lives; else as failed with process_lost. Each finalization is a unit
 *	  of work of its own (launcher.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "storage/fd.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "spi_util.h"
#include "bgworkers/launcher.h"

Orphan	   *orphans = NULL;
int			norphans = 0;
static int	orphans_cap = 0;

/* $1 the runs of this launcher's own runners */
static PcPlan plan_orphans = PC_PLAN(
	"SELECT id, company_id, runner_pid, runner_start_ticks, runner_system_identifier, "
	" runner_postmaster_start, agent_pid, agent_start_ticks, runner_database, "
	" log_store IS DISTINCT FROM '" PC_LOG_STORE_FILE "' AS log_db "
	"FROM paperclip.heartbeat_runs "
	"WHERE status = 'running' AND runner_pid IS NOT NULL AND NOT (id = ANY($1))",
	UUIDARRAYOID);

/* $1 run ids (text, checked to be uuids): those finished, whose spool files may go */
static PcPlan plan_finished_of = PC_PLAN(
	"SELECT id::text, company_id::text, log_store IS DISTINCT FROM '" PC_LOG_STORE_FILE "' AS log_db "
	"FROM paperclip.heartbeat_runs WHERE id = ANY($1::uuid[]) "
	"AND status IN ('succeeded', 'failed', 'cancelled', 'timed_out')",
	TEXTARRAYOID);

/* ----------------------------------------------------------------------
 * Process identity
 * ----------------------------------------------------------------------
 */

/*
 * The start of /proc/<pid>/<name> into buf (NUL-terminated); false when the
 * process or the file is gone or empty.
 */
static bool
read_proc_file(pid_t pid, const char *name, char *buf, size_t size)
{
	char		path[64];
	int			fd;
	ssize_t		n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/*
 * A process's start time in clock ticks since boot: field 22 of
 * /proc/pid/stat, counted after the command name (in parentheses, and
 * free to contain spaces and parentheses itself).
 */
bool
pc_proc_start_ticks(pid_t pid, uint64 *ticks)
{
	char		buf[1024];
	char	   *p;
	int			field;
	unsigned long long value;

	if (pid <= 0 || !read_proc_file(pid, "stat", buf, sizeof(buf)))
		return false;
	if ((p = strrchr(buf, ')')) == NULL)
		return false;
	/* p + 2 is field 3 (state) */
	for (field = 3, p += 2; field < 22 && p != NULL; field++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL || sscanf(p, "%llu", &value) != 1 || value == 0)
		return false;
	*ticks = (uint64) value;
	return true;
}

/* Whether /proc shows this pid started at these ticks. */
bool
proc_is(const ProcIdentity *id)
{
	uint64		ticks;

	return id->pid > 1 && id->start_ticks != 0 &&
		pc_proc_start_ticks(id->pid, &ticks) && ticks == id->start_ticks;
}

/* Whether the process's name is the runner's (the kernel keeps 15 bytes). */
static bool
named_as_runner(pid_t pid)
{
	char		comm[32];
	char		expected[16];
	const char *base = strrchr(runner_path, '/');

	if (!read_proc_file(pid, "comm", comm, sizeof(comm)))
		return false;
	comm[strcspn(comm, "\n")] = '\0';
	strlcpy(expected, base ? base + 1 : runner_path, sizeof(expected));
	return strcmp(comm, expected) == 0;
}

/*
 * Whether /proc shows a runner as recorded: the pid with its start time,
 * leading its own session, named as the runner; never this process nor
 * the postmaster.
 */
bool
runner_proven(const ProcIdentity *id)
{
	if (id->pid <= 1 || id->pid == MyProcPid || id->pid == PostmasterPid)
		return false;
	return proc_is(id) && getsid(id->pid) == id->pid && named_as_runner(id->pid);
}

static int
pidfd_for(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int) syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * Signal a runner that /proc proves to be the one recorded. The pidfd,
 * opened before the check, pins the process: its pid cannot be reused
 * between the check and the signal.
 */
bool
signal_proven_runner(const ProcIdentity *id, int sig)
{
	int			pidfd = pidfd_for(id->pid);
	bool		sent = false;

	if (pidfd < 0 && errno == ESRCH)
		return false;
	if (runner_proven(id))
	{
#ifdef SYS_pidfd_send_signal
		if (pidfd >= 0)
			sent = syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0;
		else
#endif
			sent = kill(id->pid, sig) == 0;
	}
	if (pidfd >= 0)
		close(pidfd);
	return sent;
}

/* Whether a process runs the PostgreSQL server's executable (any of its processes). */
static bool
runs_postgres(pid_t pid)
{
	char		path[64];
	char		exe[MAXPGPATH];
	ssize_t		n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	return strcmp(exe, my_exec_path) == 0;
}

/*
 * Whether a process is the init (pid 1) of a pid namespace of its own:
 * the last of its pids in /proc/pid/status's NSpid line is 1.
 */
static bool
is_namespace_init(pid_t pid)
{
	char		buf[4096];
	char	   *line;
	char	   *last;

	if (!read_proc_file(pid, "status", buf, sizeof(buf)))
		return false;
	if ((line = strstr(buf, "\nNSpid:")) == NULL)
		return false;
	line += strlen("\nNSpid:");
	if ((last = strchr(line, '\n')) != NULL)
		*last = '\0';
	last = strrchr(line, '\t');
	/* two pids at least (the host's, then the namespace's), the last 1 */
	return last != NULL && last != strchr(line, '\t') && strcmp(last + 1, "1") == 0;
}

/*
 * Kill what is left of a lost runner's agent: its process group, only if
 * its leader is the process the runner reported (pid and start ticks), is
 * not the runner, lives in its runner's session (the runner leads one; a
 * plain agent's group is inside it) or is the init of the run's own pid
 * namespace, and is none of PostgreSQL's processes (their groups are their
 * own, or the postmaster's). An agent whose start time is unknown is left
 * to its runner or its pid namespace.
 */
void
kill_agent_group(const ProcIdentity *agent, pid_t runner_pid, const char *run_id_str)
{
	pid_t		pgid;

	if (!proc_is(agent) || agent->pid == runner_pid || runner_pid <= 1 ||
		(getsid(agent->pid) != runner_pid && !is_namespace_init(agent->pid)))
		return;
	pgid = getpgid(agent->pid);
	if (pgid != agent->pid || pgid == getpgrp() || pgid == getpgid(PostmasterPid) ||
		agent->pid == PostmasterPid || runs_postgres(agent->pid))
		return;
	ereport(LOG,
			(errmsg("paperclip launcher: run %s: killing process group %d of its lost runner's agent",
					run_id_str, (int) pgid)));
	(void) kill(-pgid, SIGKILL);
}

/* ----------------------------------------------------------------------
 * Spool files
 * ----------------------------------------------------------------------
 */

#define SPOOL_LOG_SUFFIX ".log"

/*
 * The run's spool file: in this database's spool directory, or, for a
 * runner started before 0.2, in the directory every database shared then.
 */
char *
spool_path(const char *run_id)
{
	char	   *path = psprintf("%s/%s.json", spool_dir, run_id);
	char	   *shared;
	struct stat st;

	if (stat(path, &st) == 0)
		return path;
	shared = psprintf("%s/%s.json", shared_spool_dir, run_id);
	if (stat(shared, &st) == 0)
	{
		pfree(path);
		return shared;
	}
	pfree(shared);
	return path;
}

/*
 * The run's log as its runner writes it (paperclip.log_store = db), for the
 * launcher to copy: in this database's spool directory (where the update
 * from 0.1 also moves the log file of a run still running), or in the one
 * every database shared before 0.2.
 */
char *
spool_log_path(const char *run_id)
{
	char	   *path = psprintf("%s/%s%s", spool_dir, run_id, SPOOL_LOG_SUFFIX);
	char	   *shared;
	struct stat st;

	if (stat(path, &st) == 0)
		return path;
	shared = psprintf("%s/%s%s", shared_spool_dir, run_id, SPOOL_LOG_SUFFIX);
	if (stat(shared, &st) == 0)
	{
		pfree(path);
		return shared;
	}
	pfree(shared);
	return path;
}

bool
spool_exists(const char *run_id)
{
	struct stat st;

	return stat(spool_path(run_id), &st) == 0;
}

/* The spool file's text, or NULL when there is none. */
char *
read_spool_text(const char *run_id)
{
	char	   *path = spool_path(run_id);
	StringInfoData buf;
	FILE	   *f;
	char		chunk[8192];
	size_t		n;

	if ((f = AllocateFile(path, "r")) == NULL)
		return NULL;
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		appendBinaryStringInfo(&buf, chunk, n);
	FreeFile(f);
	return buf.data;
}

/* The spool file's result, or NULL when there is none or it is not JSON. */
Jsonb *
read_spool(const char *run_id)
{
	char	   *text = read_spool_text(run_id);
	JsonLexContext *lex;

	if (text == NULL)
		return NULL;
	lex = pc_json_lex_context(text, strlen(text), PG_UTF8, true);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
	{
		ereport(LOG,
				(errmsg("paperclip launcher: spool file \"%s\" is not valid JSON", spool_path(run_id))));
		return NULL;
	}
	return pc_jsonb_from_cstring(text);
}

/*
 * What a run may have left in the spool directory: its spool file, the
 * spool's temp file, the result file and the context file of a run
 * without isolation; and its log (SPOOL_LOG_SUFFIX), which goes only once
 * the database holds it (log_tail.c).
 */
static const char *const spool_suffixes[] = {".json", ".json.tmp", ".result", ".context.json", NULL};

void
remove_spool(const char *run_id)
{
	const char *dirs[] = {spool_dir, shared_spool_dir};
	int			d;
	int			i;

	for (d = 0; d < lengthof(dirs); d++)
		for (i = 0; spool_suffixes[i] != NULL; i++)
		{
			char	   *path = psprintf("%s/%s%s", dirs[d], run_id, spool_suffixes[i]);

			if (unlink(path) != 0 && errno != ENOENT)
				ereport(LOG, (errcode_for_file_access(),
							  errmsg("could not remove \"%s\": %m", path)));
			pfree(path);
		}
}

/* Whether name is a run id followed by one of the spool suffixes; the id in id. */
static bool
spool_file_run(const char *name, char *id)
{
	int			i;

	if (strlen(name) < 36)
		return false;
	for (i = 0; i < 36; i++)
	{
		char		c = name[i];

		if (i == 8 || i == 13 || i == 18 || i == 23 ? c != '-' : !isxdigit((unsigned char) c))
			return false;
	}
	for (i = 0; spool_suffixes[i] != NULL; i++)
		if (strcmp(name + 36, spool_suffixes[i]) == 0)
		{
			memcpy(id, name, 36);
			id[36] = '\0';
			return true;
		}
	if (strcmp(name + 36, SPOOL_LOG_SUFFIX) == 0)
	{
		memcpy(id, name, 36);
		id[36] = '\0';
		return true;
	}
	return false;
}

/* Spool logs of finished runs, copied into the table: their files go after the commit. */
typedef struct Cleaning
{
	int			removed;		/* runs whose spool files went */
	int			nlogs;
	char	  **log_runs;		/* run ids (loop memory) */
	char	  **log_companies;
	LogTail    *logs;
} Cleaning;

static void
clean_spool_unit(void *arg)
{
	Cleaning   *c = (Cleaning *) arg;
	const char *dirs[] = {spool_dir, shared_spool_dir};
	struct dirent *de;
	Datum	   *ids = NULL;
	int			n = 0;
	int			cap = 0;
	int			found;
	int			d;
	int			i;
	Datum		array;
	SPITupleTable *tt;

	c->removed = c->nlogs = 0;
	for (d = 0; d < lengthof(dirs); d++)
	{
		DIR		   *dir = AllocateDir(dirs[d]);

		while ((de = ReadDir(dir, dirs[d])) != NULL)
		{
			char		id[37];

			if (!spool_file_run(de->d_name, id))
				continue;
			if (n == cap)
			{
				cap = Max(64, cap * 2);
				ids = ids ? repalloc(ids, sizeof(Datum) * cap) : palloc(sizeof(Datum) * cap);
			}
			ids[n++] = CStringGetTextDatum(id);
		}
		FreeDir(dir);
	}
	if (n == 0)
		return;
	array = PointerGetDatum(construct_array(ids, n, TEXTOID, -1, false, TYPALIGN_INT));
	found = pc_exec(&plan_finished_of, &array, NULL, 0);
	tt = SPI_tuptable;
	c->log_runs = MemoryContextAlloc(loop_cxt, sizeof(char *) * Max(found, 1));
	c->log_companies = MemoryContextAlloc(loop_cxt, sizeof(char *) * Max(found, 1));
	c->logs = MemoryContextAllocZero(loop_cxt, sizeof(LogTail) * Max(found, 1));
	for (i = 0; i < found; i++)
	{
		bool		isnull;
		char	   *run = MemoryContextStrdup(loop_cxt, SPI_getvalue(tt->vals[i], tt->tupdesc, 1));
		char	   *company = MemoryContextStrdup(loop_cxt, SPI_getvalue(tt->vals[i], tt->tupdesc, 2));
		bool		db = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
		LogTail    *t = &c->logs[c->nlogs];

		remove_spool(run);
		c->removed++;
		/* a log the runner left: what the table lacks of it is copied, the file goes after the commit */
		log_tail_start(t, db, false);
		if (!db)
			continue;
		log_copy_rest(DirectFunctionCall1(uuid_in, CStringGetDatum(company)),
					  DirectFunctionCall1(uuid_in, CStringGetDatum(run)), run, company, t, NULL);
		c->log_runs[c->nlogs] = run;
		c->log_companies[c->nlogs] = company;
		c->nlogs++;
	}
}

/*
 * At launcher start: the spool files runners left for runs that have
 * finished since (their results are recorded) go, from this database's
 * spool directory and from the one every database shared before 0.2;
 * their logs first go into the database, if it lacks anything of them.
 * Files of runs still running are reconciliation's; files of runs this
 * database does not know are left alone.
 */
void
clean_spool(void)
{
	Cleaning	c = {0};

	if (!launcher_unit("paperclip launcher: cleaning the spool", clean_spool_unit, &c, NULL))
		return;
	for (int i = 0; i < c.nlogs; i++)
		log_file_done(&c.logs[i], c.log_runs[i], c.log_companies[i]);
	if (c.removed > 0)
		ereport(LOG,
				(errmsg("paperclip launcher: removed the spool files of %d finished run(s)", c.removed)));
}

/* ----------------------------------------------------------------------
 * Reconciliation
 * ----------------------------------------------------------------------
 */

/* The run ids of this launcher's own runners, as a uuid[]. */
Datum
runner_run_ids(void)
{
	Datum	   *ids = palloc(sizeof(Datum) * (Max(nrunners, 0) + 1));
	int			n = 0;
	int			i;

	for (i = 0; i < nrunners; i++)
		if (runners[i].in_use)
			ids[n++] = uuid_datum(&runners[i].run_id);
	return PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
}

/* A running run with a runner not ours, as listed. */
typedef struct Listed
{
	pg_uuid_t	run_id;
	char		run_id_str[RUN_ID_LEN];
	char		company_id_str[RUN_ID_LEN];
	bool		log_db;			/* its log is copied into the table */
	ProcIdentity runner;
	ProcIdentity agent;
	bool		ours;			/* same system identifier */
	bool		same_postmaster;
	bool		copied;			/* but another database's launcher: we are a copy */
} Listed;

typedef struct Listing
{
	int			n;
	Listed	   *rows;			/* loop memory */
} Listing;

static void
list_unit(void *arg)
{
	Listing    *l = (Listing *) arg;
	Datum		ids = runner_run_ids();
	int			n = pc_exec(&plan_orphans, &ids, NULL, 0);
	uint64		sysid = GetSystemIdentifier();
	int			i;

	l->rows = MemoryContextAllocZero(loop_cxt, sizeof(Listed) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		Listed	   *row = &l->rows[i];
		bool		isnull;
		int64		ticks;
		Datum		v;

		memcpy(&row->run_id, DatumGetUUIDP(pc_getattr(i, "id", &isnull)), sizeof(pg_uuid_t));
		strlcpy(row->run_id_str, pc_getattr_cstring(i, "id"), sizeof(row->run_id_str));
		strlcpy(row->company_id_str, pc_getattr_cstring(i, "company_id"), sizeof(row->company_id_str));
		row->log_db = DatumGetBool(pc_getattr(i, "log_db", &isnull));
		row->runner.pid = (pid_t) pc_getattr_int64(i, "runner_pid");
		ticks = pc_getattr_int64(i, "runner_start_ticks");
		row->runner.start_ticks = ticks > 0 ? (uint64) ticks : 0;
		row->agent.pid = (pid_t) pc_getattr_int64(i, "agent_pid");
		ticks = pc_getattr_int64(i, "agent_start_ticks");
		row->agent.start_ticks = ticks > 0 ? (uint64) ticks : 0;
		v = pc_getattr(i, "runner_system_identifier", &isnull);
		row->ours = !isnull && (uint64) DatumGetInt64(v) == sysid;
		/* by this database's launcher (runs started before 0.2 say nothing) */
		v = pc_getattr(i, "runner_database", &isnull);
		row->copied = row->ours && !isnull && DatumGetObjectId(v) != MyDatabaseId;
		v = pc_getattr(i, "runner_postmaster_start", &isnull);
		row->same_postmaster = !isnull && DatumGetTimestampTz(v) == PgStartTime;
	}
	l->n = n;
}

static Orphan *
find_orphan(pg_uuid_t *run_id)
{
	int			i;

	for (i = 0; i < norphans; i++)
		if (memcmp(&orphans[i].run_id, run_id, sizeof(pg_uuid_t)) == 0)
			return &orphans[i];
	return NULL;
}

static Orphan *
add_orphan(Listed *row)
{
	Orphan	   *o;

	if (norphans == orphans_cap)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		orphans_cap = Max(16, orphans_cap * 2);
		orphans = orphans ? repalloc(orphans, sizeof(Orphan) * orphans_cap)
			: palloc(sizeof(Orphan) * orphans_cap);
		MemoryContextSwitchTo(old);
	}
	o = &orphans[norphans++];
	memset(o, 0, sizeof(*o));
	memcpy(&o->run_id, &row->run_id, sizeof(pg_uuid_t));
	strlcpy(o->run_id_str, row->run_id_str, sizeof(o->run_id_str));
	strlcpy(o->company_id_str, row->company_id_str, sizeof(o->company_id_str));
	/*
	 * What its runner logged since the table's end is copied each tick, the
	 * rest when it is finalized. Not a runner of another cluster's or of
	 * another database's (a copy's): a spool file of that run here is not
	 * its runner's, and is left alone.
	 */
	log_tail_start(&o->log, row->log_db && row->ours && !row->copied, false);
	return o;
}

static void
remove_orphan(int i)
{
	finalize_forget(&orphans[i].fin);
	log_tail_forget(&orphans[i].log);
	orphans[i] = orphans[--norphans];
}

/*
 * Decide what becomes of an orphaned run: finalized from its spool;
 * waited for while its runner lives (a runner of this cluster only);
 * else failed as lost, its agent killed if that is proven to be safe.
 */
static void
judge(Orphan *o, Listed *row)
{
	bool		was_waiting = o->waiting;

	o->runner = row->runner;
	o->agent = row->agent;
	o->ours = row->ours && !row->copied;
	o->signallable = o->ours && row->same_postmaster;
	o->waiting = false;

	if (row->copied)
	{
		ereport(LOG,
				(errmsg("paperclip launcher: run %s: its runner was started by the launcher of another database; it is neither adopted nor signalled",
						o->run_id_str),
				 errdetail("This database is a copy (CREATE DATABASE ... TEMPLATE) of the one whose run it is.")));
		finalize_begin(&o->fin, SRC_LOST, NULL,
					   "runner of another database (copied database): not adopted");
	}
	else if (spool_exists(o->run_id_str))
		finalize_begin(&o->fin, SRC_SPOOL, NULL, NULL);
	else if (o->ours && runner_proven(&o->runner))
	{
		o->waiting = true;
		if (!was_waiting)
			ereport(LOG,
					(errmsg("paperclip launcher: run %s: waiting for its runner (PID %d) started before this launcher%s",
							o->run_id_str, (int) o->runner.pid,
							o->signallable ? "" : " and this server; it is not signalled")));
	}
	else if (!o->ours)
	{
		ereport(LOG,
				(errmsg("paperclip launcher: run %s: its runner was started by another cluster; it is neither adopted nor signalled",
						o->run_id_str),
				 errdetail("The database was restored or copied from a cluster with another system identifier.")));
		finalize_begin(&o->fin, SRC_LOST, NULL,
					   "runner of another cluster (restored or copied database): not adopted");
	}
	else
	{
		ereport(LOG, (errmsg("paperclip launcher: run %s lost its runner", o->run_id_str)));
		if (o->signallable)
			kill_agent_group(&o->agent, o->runner.pid, o->run_id_str);
		finalize_begin(&o->fin, SRC_LOST, NULL,
					   "runner process lost (server or launcher restart)");
	}
}

/*
 * Every running run with a runner that is not ours: judged when it is
 * first seen, and again each tick while its runner is waited for.
 */
void
reconcile_orphans(void)
{
	Listing		l = {0};
	int			i;

	if (!launcher_unit("paperclip launcher: reconciling runs", list_unit, &l, NULL))
		return;
	for (i = 0; i < norphans; i++)
		orphans[i].listed = false;
	for (i = 0; i < l.n; i++)
	{
		Orphan	   *o = find_orphan(&l.rows[i].run_id);

		if (o == NULL)
			o = add_orphan(&l.rows[i]);
		o->listed = true;
		if (o->fin.mode == FIN_NONE && !o->fin.done)
			judge(o, &l.rows[i]);
	}
	/* runs no longer running: finished, or cancelled while waited for */
	for (i = norphans - 1; i >= 0; i--)
		if (!orphans[i].listed && (orphans[i].fin.mode == FIN_NONE || orphans[i].fin.done))
			remove_orphan(i);
}

/* Finalizations of orphaned runs that are due. */
void
serve_orphans(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	for (i = norphans - 1; i >= 0; i--)
	{
		Orphan	   *o = &orphans[i];

		if (!finalize_due(&o->fin, now) || log_tail_behind(&o->log, o->run_id_str))
			continue;
		finalize_step(&o->run_id, o->run_id_str, o->company_id_str, &o->log, &o->fin);
		if (o->fin.done)
		{
			log_file_done(&o->log, o->run_id_str, o->company_id_str);
			remove_spool(o->run_id_str);
			remove_orphan(i);
		}
	}
}

/* Forward a cancel to an orphan's runner: only one this postmaster started. */
bool
cancel_orphan(Orphan *o)
{
	if (o->cancel_sent)
		return false;
	o->cancel_sent = true;
	if (!o->signallable)
	{
		ereport(LOG,
				(errmsg("paperclip launcher: run %s was cancelled; its runner (PID %d), started before this server, is not signalled",
						o->run_id_str, (int) o->runner.pid)));
		return false;
	}
	return signal_proven_runner(&o->runner, SIGTERM);
}
