/*-------------------------------------------------------------------------
 * paperclip.c
 *	  Module initialisation of the paperclip extension: its GUCs, its shared
 *	  memory, the supervisor worker, the hooks of serving.c, the
 *	  commit-time wake of the launcher, and the argument checks every SQL
 *	  entry point shares.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_extension.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/varlena.h"

#include "compat.h"
#include "paperclip.h"
#include "protocol.h"

PC_MODULE_MAGIC;

char	   *pc_database_name = NULL;
bool		pc_launcher_enabled = true;
int			pc_max_concurrent_runs = 8;
int			pc_timer_interval_s = 30;
char	   *pc_run_log_directory = NULL;
char	   *pc_runner_path = NULL;
int			pc_max_retry_attempts = 4;
int			pc_retry_base_delay_s = 120;
int			pc_run_retention_s = 30 * 24 * 3600;
int			pc_liveness_delay_s = 60;
bool		pc_scheduler_enabled = true;
bool		pc_live_events = true;
char	   *pc_allowed_commands = NULL;
char	   *pc_allowed_http_hosts = NULL;
bool		pc_http_allow_private_networks = false;
bool		pc_agent_isolation = true;
char	   *pc_agent_os_user = NULL;
char	   *pc_agent_home_directory = NULL;
int			pc_max_log_kb = (int) (PC_DEFAULT_MAX_LOG_BYTES / 1024);
int			pc_agent_max_processes = PC_DEFAULT_AGENT_MAX_PROCESSES;
bool		pc_unserved_warning = true;
int			pc_worker_lease_s = 30;
int			pc_log_store = PC_LOG_STORE_SETTING_DB;

static const struct config_enum_entry log_store_options[] = {
	{PC_LOG_STORE_DB, PC_LOG_STORE_SETTING_DB, false},
	{PC_LOG_STORE_FILE, PC_LOG_STORE_SETTING_FILE, false},
	{NULL, 0, false}
};

static bool wake_pending = false;
static bool scheduler_wake_pending = false;
static bool schema_checked = false; /* this transaction found the schema ours */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

const char *const pc_sources[] = {"timer", "assignment", "on_demand", "automation", NULL};
const char *const pc_trigger_details[] = {"manual", "ping", "callback", "system", NULL};
const char *const pc_actor_types[] = {"user", "agent", "system", NULL};
const char *const pc_streams[] = {"system", "stdout", "stderr", NULL};
const char *const pc_levels[] = {"info", "warn", "error", NULL};

void		_PG_init(void);

/*
 * The postmaster-context GUCs configure the background workers; they can only
 * be defined while shared_preload_libraries is processed (later is FATAL).
 */
static void
pc_define_worker_gucs(void)
{
	DefineCustomStringVariable("paperclip.runner_path",
							   "Path of the paperclip_runner executable (empty: the installed one).",
							   NULL, &pc_runner_path, "",
							   PGC_POSTMASTER, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
}

/* paperclip.agent_os_user: a user of the agents' own, which the runner accepts */
static bool
check_agent_os_user(char **newval, void **extra, GucSource source)
{
	if (strncmp(*newval, PC_AGENT_OS_USER_PREFIX, strlen(PC_AGENT_OS_USER_PREFIX)) != 0)
	{
		GUC_check_errdetail("The runner switches only to OS users whose name starts with \"%s\".",
							PC_AGENT_OS_USER_PREFIX);
		GUC_check_errhint("Create an OS user such as \"%s\" for the agents.", PC_DEFAULT_AGENT_OS_USER);
		return false;
	}
	return true;
}

/* paperclip.agent_home_directory: absolute, without ".." */
static bool
check_agent_home(char **newval, void **extra, GucSource source)
{
	if (!is_absolute_path(*newval) || pc_path_has_parent_ref(*newval))
	{
		GUC_check_errdetail("The agents' home directory must be an absolute path without \"..\".");
		return false;
	}
	return true;
}

static void
pc_define_isolation_gucs(void)
{
	DefineCustomBoolVariable("paperclip.agent_isolation",
							 "Whether agents' programs run isolated: as paperclip.agent_os_user, in a pid namespace of their run.",
							 "Off runs them as the server's OS user, able to reach everything the server can.",
							 &pc_agent_isolation, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("paperclip.agent_os_user",
							   "OS user that agents' programs run as (its name must start with \"paperclip\").",
							   NULL, &pc_agent_os_user, PC_DEFAULT_AGENT_OS_USER,
							   PGC_SIGHUP, 0, check_agent_os_user, NULL, NULL);
	DefineCustomStringVariable("paperclip.agent_home_directory",
							   "Home and default working directory of agents' programs (outside the data directory).",
							   NULL, &pc_agent_home_directory, PC_DEFAULT_AGENT_HOME,
							   PGC_SIGHUP, 0, check_agent_home, NULL, NULL);
	DefineCustomIntVariable("paperclip.max_log_bytes",
							"Largest run log; past it a run's output is drained, not stored.",
							"A lifecycle event of the run says how much was dropped.",
							&pc_max_log_kb, (int) (PC_DEFAULT_MAX_LOG_BYTES / 1024), 64, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("paperclip.agent_max_processes",
							"Most processes and threads an isolated run may have at once (0: no limit).",
							"A run past it cannot fork; a fork bomb stays within its run instead of "
							"exhausting the processes the server needs.",
							&pc_agent_max_processes, PC_DEFAULT_AGENT_MAX_PROCESSES, 0, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
}

static void
pc_define_gucs(void)
{
	DefineCustomStringVariable("paperclip.database_name",
							   "Database the paperclip background workers serve (empty: every database that has the extension).",
							   "The supervisor starts a launcher and a scheduler in each database served.",
							   &pc_database_name, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("paperclip.unserved_warning",
							 "Whether enqueue_wakeup warns, once per session, when no launcher serves the database and no paperclip_worker is connected to it.",
							 NULL, &pc_unserved_warning, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("paperclip.launcher_enabled",
							 "Whether the launcher starts queued runs (off: external runners claim them).",
							 NULL, &pc_launcher_enabled, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("paperclip.max_concurrent_runs",
							"Runs the launcher keeps in flight at once.",
							NULL, &pc_max_concurrent_runs, 8, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("paperclip.timer_interval",
							"How often the scheduler ticks interval timers.",
							NULL, &pc_timer_interval_s, 30, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomEnumVariable("paperclip.log_store",
							 "Where the launcher keeps the logs of the runs it starts: db (paperclip.run_log_chunks) or file.",
							 "file: in paperclip.run_log_directory, which must then be outside the data directory "
							 "(pg_basebackup, pg_dump and replicas do not carry those logs).",
							 &pc_log_store, PC_LOG_STORE_SETTING_DB, log_store_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("paperclip.run_log_directory",
							   "Directory of run logs kept in files (paperclip.log_store = file), and where 0.1 kept them.",
							   "Relative paths are relative to the data directory.",
							   &pc_run_log_directory, "pg_paperclip/run-logs",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomIntVariable("paperclip.max_retry_attempts",
							"Bounded retries of a run that failed transiently.",
							NULL, &pc_max_retry_attempts, 4, 0, 100,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("paperclip.retry_base_delay",
							"Delay before the first retry; each later attempt doubles it (plus or minus 25 percent jitter).",
							NULL, &pc_retry_base_delay_s, 120, 1, 7 * 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("paperclip.run_retention",
							"Age after which finished runs' events and logs are pruned.",
							NULL, &pc_run_retention_s, 30 * 86400, 3600, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("paperclip.liveness_delay",
							"How long after a run finishes the scheduler waits before classifying its liveness.",
							"Evidence an agent records just after its run is counted.",
							&pc_liveness_delay_s, 60, 0, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("paperclip.scheduler_enabled",
							 "Whether the scheduler ticks timers, promotes retries, classifies liveness and prunes.",
							 NULL, &pc_scheduler_enabled, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("paperclip.allowed_commands",
							   "Commands the process adapter may run: absolute paths of executables or directories (empty: any).",
							   "Compared after symbolic links and \"..\" are resolved; a refused command fails its run with command_not_allowed.",
							   &pc_allowed_commands, "",
							   PGC_SIGHUP, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomStringVariable("paperclip.allowed_http_hosts",
							   "Hosts the http adapter may reach, also after redirects (empty: any).",
							   "A host named exactly (not through a *.domain entry) may also be on the server's own machine or networks.",
							   &pc_allowed_http_hosts, "",
							   PGC_SIGHUP, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomBoolVariable("paperclip.http_allow_private_networks",
							 "Whether the http adapter may connect to loopback, link-local, private, shared (CGNAT), unique local, multicast and broadcast addresses.",
							 "Off, it connects there only to hosts named exactly in paperclip.allowed_http_hosts; a refused address fails its run with http_address_refused. "
							 "The address checked is the one connected to, after DNS, for every redirect.",
							 &pc_http_allow_private_networks, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("paperclip.live_events",
							 "Whether live events are sent with NOTIFY paperclip_events.",
							 "Off saves NOTIFY's commit-time queue lock where nobody listens.",
							 &pc_live_events, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("paperclip.worker_lease",
							"How long a paperclip_worker holds a run it claimed without renewing its lease.",
							"A run whose lease lapses (its worker was killed, lost its machine or its network) is failed as process_lost by the scheduler and retried; the worker's late result is then refused.",
							&pc_worker_lease_s, 30, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	pc_define_isolation_gucs();
	MarkGUCPrefixReserved("paperclip");
}

static void
pc_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	pc_registry_shmem_request();
}

static void
pc_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pc_registry_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * At commit, tell the workers of this database there is work; a rollback
 * wakes nothing. Only the commit that raises a worker's wake flag signals
 * it: commits that find it raised already cost no system call.
 */
static void
pc_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (wake_pending)
				pc_wake_worker(PC_WORKER_LAUNCHER, MyDatabaseId);
			if (scheduler_wake_pending)
				pc_wake_worker(PC_WORKER_SCHEDULER, MyDatabaseId);
			wake_pending = false;
			scheduler_wake_pending = false;
			pc_serving_xact_end(true);
			schema_checked = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_pending = false;
			scheduler_wake_pending = false;
			pc_serving_xact_end(false);
			schema_checked = false;
			break;
		case XACT_EVENT_PREPARE:
			/* what it holds is released; its commit, elsewhere, nudges no one */
			pc_serving_xact_end(false);
			schema_checked = false;
			break;
		default:
			break;
	}
}

/*
 * Wake the launcher when this transaction commits. Without the library
 * preloaded there is no launcher: a run queued then would wait forever,
 * unless external runners claim runs (launcher_enabled = off).
 */
void
pc_wake_launcher_at_commit(void)
{
	if (!pc_registry_attached() && pc_launcher_enabled)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("paperclip is not loaded through shared_preload_libraries"),
				 errdetail("Without its launcher, a queued run would never start."),
				 errhint("Add paperclip to shared_preload_libraries and restart the server, "
						 "or set paperclip.launcher_enabled = off if external runners claim runs.")));
	pc_warn_if_unserved();
	wake_pending = true;
}

/*
 * Wake the scheduler when this transaction commits: a retry was scheduled,
 * so its deadline may come before the scheduler's next wake.
 */
void
pc_wake_scheduler_at_commit(void)
{
	scheduler_wake_pending = true;
}

/* Whether a path has a ".." component anywhere. */
bool
pc_path_has_parent_ref(const char *path)
{
	const char *p = path;

	while (*p != '\0')
	{
		const char *end = strchr(p, '/');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

/* A comma-separated list setting as a JSON array of strings. */
char *
pc_json_list_of_guc(const char *value)
{
	StringInfoData buf;
	List	   *items = NIL;
	ListCell   *lc;
	char	   *raw = pstrdup(value ? value : "");

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	if (SplitGUCList(raw, ',', &items))
		foreach(lc, items)
		{
			if (buf.len > 1)
				appendStringInfoChar(&buf, ',');
			escape_json(&buf, (char *) lfirst(lc));
		}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * What the runner is told of its agents' sandbox, merged into every run
 * spec: isolation, OS user, home, the run log's cap, whether http runs may
 * reach private networks (protocol.h keys).
 */
char *
pc_runner_settings_json(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"%s\":%s,\"%s\":", PC_SPEC_AGENT_ISOLATION,
					 pc_agent_isolation ? "true" : "false", PC_SPEC_AGENT_OS_USER);
	escape_json(&buf, pc_agent_os_user);
	appendStringInfo(&buf, ",\"%s\":", PC_SPEC_AGENT_HOME);
	escape_json(&buf, pc_agent_home_directory);
	appendStringInfo(&buf, ",\"%s\":" INT64_FORMAT ",\"%s\":%d", PC_SPEC_MAX_LOG_BYTES,
					 (int64) pc_max_log_kb * 1024, PC_SPEC_AGENT_MAX_PROCESSES, pc_agent_max_processes);
	appendStringInfo(&buf, ",\"%s\":%s}", PC_SPEC_HTTP_ALLOW_PRIVATE,
					 pc_http_allow_private_networks ? "true" : "false");
	return buf.data;
}

/*
 * A worker that starts agents says so when they run unisolated: when it
 * starts, and when a reload turns isolation off.
 */
void
pc_warn_if_isolation_off(const char *worker)
{
	static bool warned = false;

	if (pc_agent_isolation)
		warned = false;
	else if (!warned)
	{
		warned = true;
		ereport(WARNING,
				(errmsg("%s: paperclip.agent_isolation is off: agents run as the server's OS user", worker),
				 errdetail("An agent's program can then read the data directory, connect as the server's "
						   "user and signal the server."),
				 errhint("Set up the OS user paperclip.agent_os_user and the runner's capabilities "
						 "(see the paperclip README), then set paperclip.agent_isolation = on.")));
	}
}

/* Absolute path of the run log directory. */
char *
pc_run_log_dir(void)
{
	char	   *dir;

	if (is_absolute_path(pc_run_log_directory))
		dir = pstrdup(pc_run_log_directory);
	else
		dir = psprintf("%s/%s", DataDir, pc_run_log_directory);
	canonicalize_path(dir);
	return dir;
}

/*
 * The supervisor (bgworkers/supervisor.c): the one static background
 * worker, connected to no database; it starts a launcher and a scheduler
 * per database served, as dynamic background workers.
 */
static void
register_supervisor(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "paperclip");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "paperclip_supervisor_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "paperclip supervisor");
	snprintf(worker.bgw_type, BGW_MAXLEN, "paperclip supervisor");
	RegisterBackgroundWorker(&worker);
}

void
_PG_init(void)
{
	if (process_shared_preload_libraries_in_progress)
		pc_define_worker_gucs();
	pc_define_gucs();

	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = pc_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = pc_shmem_startup;
		register_supervisor();
	}

	pc_serving_init();
	RegisterXactCallback(pc_xact_callback, NULL);
}

/*
 * Every SQL function that writes calls this before anything else. On a
 * standby its first statement would fail with "cannot execute INSERT in a
 * read-only transaction" and the internal SQL as context; say what is
 * true instead. A read-only transaction on the primary gets the server's
 * own message for it, naming the function.
 */
static const char *
called_function(FunctionCallInfo fcinfo)
{
	char	   *name = NULL;

	if (fcinfo->flinfo != NULL)
		name = get_func_name(fcinfo->flinfo->fn_oid);
	return name ? psprintf("paperclip.%s()", name) : "this function";
}

void
pc_check_writable(FunctionCallInfo fcinfo)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("paperclip is read-only on a standby"),
				 errdetail("%s writes, and this server is in recovery.",
						   called_function(fcinfo)),
				 errhint("Call it on the primary. Reading functions and views work here.")));
	if (XactReadOnly)
		PreventCommandIfReadOnly(called_function(fcinfo));

	/*
	 * The library writes the schema of its own version. Between installing
	 * a new version and ALTER EXTENSION paperclip UPDATE the database still
	 * has the old one: say so, rather than fail on a missing column. Once
	 * per transaction.
	 */
	if (!schema_checked)
	{
		char	   *installed = pc_installed_version();

		if (installed == NULL || strcmp(installed, PC_EXTVERSION) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("paperclip's library is version %s but the extension in this database is version %s",
							PC_EXTVERSION, installed ? installed : "(none)"),
					 errdetail("%s writes only the schema of its library's version.",
							   called_function(fcinfo)),
					 errhint("Run ALTER EXTENSION paperclip UPDATE (or, if the library is the older, "
							 "restart the server so that it loads the one installed).")));
		schema_checked = true;
	}
}

/*
 * The version of the paperclip extension in this database, or NULL; its
 * oid into *oid when not NULL (InvalidOid without it). One look at
 * pg_extension, so that the two agree (the syscache of get_extension_oid
 * may still hold an extension a concurrent DROP has just removed).
 */
char *
pc_installed_extension(Oid *oid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	if (oid != NULL)
		*oid = InvalidOid;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("paperclip"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (oid != NULL)
			*oid = ((Form_pg_extension) GETSTRUCT(tuple))->oid;
		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/* The version of the paperclip extension in this database, or NULL. */
char *
pc_installed_version(void)
{
	return pc_installed_extension(NULL);
}

/*
 * Argument checks shared by the SQL entry points.
 */
void
pc_check_not_null(FunctionCallInfo fcinfo, int argno, const char *param)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", param)));
}

/*
 * A value as error messages quote it: at most PC_QUOTE_MAX bytes (cut on a
 * character), "..." marking a cut. Every message that quotes an argument
 * goes through here, so no input can fill the server log.
 */
const char *
pc_quote(const char *value)
{
	int			len;

	if (value == NULL)
		return "(null)";
	len = strlen(value);
	if (len <= PC_QUOTE_MAX)
		return value;
	return psprintf("%s...", pnstrdup(value, pg_mbcliplen(value, len, PC_QUOTE_MAX)));
}

/* A text argument within its documented length limit (54000 beyond it). */
void
pc_check_length(FunctionCallInfo fcinfo, int argno, const char *param, int max_bytes)
{
	Size		len;

	if (PG_ARGISNULL(argno))
		return;
	/* the size without detoasting: a 10 MB argument costs no copy here */
	len = toast_raw_datum_size(PG_GETARG_DATUM(argno)) - VARHDRSZ;
	if (len > (Size) max_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too long", param),
				 errdetail("It is %zu bytes; at most %d are accepted.", len, max_bytes)));
}

void
pc_check_vocabulary(const char *param, const char *value, const char *const *allowed)
{
	StringInfoData list;
	int			i;

	for (i = 0; allowed[i] != NULL; i++)
		if (strcmp(value, allowed[i]) == 0)
			return;

	initStringInfo(&list);
	for (i = 0; allowed[i] != NULL; i++)
		appendStringInfo(&list, "%s%s", i > 0 ? ", " : "", allowed[i]);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for %s: \"%s\"", param, pc_quote(value)),
			 errhint("%s must be one of: %s.", param, list.data)));
}

void
pc_check_size(const char *param, Jsonb *jb)
{
	if (VARSIZE(jb) > PC_MAX_CONTENT_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too large", param),
				 errdetail("It is %zu bytes; at most %d are accepted.",
						   (size_t) VARSIZE(jb), PC_MAX_CONTENT_BYTES),
				 errhint("Store large content elsewhere and pass a reference.")));
}
