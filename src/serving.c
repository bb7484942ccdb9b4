/*-------------------------------------------------------------------------
 * serving.c
 *	  What backends do for the workers that serve each database (the
 *	  supervisor, launchers and schedulers of src/bgworkers/):
 *
 *	  - An open connection makes DROP DATABASE, ALTER DATABASE RENAME or
 *	    SET TABLESPACE, and CREATE DATABASE with the database as template
 *	    fail ("being accessed by other users"); PostgreSQL up to 18 signals
 *	    no background worker for them. So before these statements run, a
 *	    ProcessUtility hook holds the database: its workers are terminated
 *	    and none is started again until the transaction ends (registry.c),
 *	    and the hook waits for them to be gone. Only for a role that may do
 *	    the statement (owner or superuser), so that nobody else can stop the
 *	    workers.
 *	  - CREATE EXTENSION paperclip (both its scripts), ALTER EXTENSION and
 *	    DROP EXTENSION, however reached (DROP SCHEMA ... CASCADE, DROP
 *	    OWNED), are seen by an object access hook; when the transaction
 *	    commits, the supervisor is told (pc_registry_nudge), so that a
 *	    database gains its workers, or they see the extension gone and
 *	    exit, at once. CREATE DATABASE, ALTER DATABASE and a rename wake
 *	    the supervisor at commit to look at pg_database again.
 *	  - enqueue_wakeup in a database that no local launcher serves and to
 *	    which no paperclip_worker is connected warns, once per session
 *	    (paperclip.unserved_warning), rather than queueing runs that will
 *	    not start.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "paperclip.h"

/* How long a statement that holds a database waits for its workers to leave. */
#define HOLD_WAIT_MS 5000
/* A session that saw a paperclip_worker connected looks again after this. */
#define WORKER_RECHECK_MS 10000

static ProcessUtility_hook_type prev_utility_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

/* This transaction created, updated or dropped the extension paperclip. */
static bool extension_changed = false;
/* It created or renamed a database: the supervisor looks at pg_database at commit. */
static bool databases_changed = false;
/* The extension whose script runs, found to be paperclip or not. */
static Oid	checked_extension = InvalidOid;
static bool checked_is_paperclip = false;

/* The unserved warning, once per session. */
static bool unserved_warned = false;
static TimestampTz next_worker_check = 0;

/* ----------------------------------------------------------------------
 * Holding a database
 * ----------------------------------------------------------------------
 */

static bool
owns_database(Oid database)
{
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(DatabaseRelationId, database, GetUserId());
#else
	return pg_database_ownercheck(database, GetUserId());
#endif
}

static bool
may_create_databases(void)
{
	HeapTuple	tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	bool		result = false;

	if (HeapTupleIsValid(tuple))
	{
		result = ((Form_pg_authid) GETSTRUCT(tuple))->rolcreatedb;
		ReleaseSysCache(tuple);
	}
	return result;
}

/*
 * Hold the database named name for this transaction, if the current role
 * may run the statement that needs it free of connections (the statement
 * checks that again, and fails with its own message otherwise).
 */
static void
hold_database(const char *name, bool needs_createdb)
{
	Oid			database;

	if (name == NULL || !pc_registry_attached())
		return;
	database = get_database_oid(name, true);
	if (!OidIsValid(database) || database == MyDatabaseId)
		return;
	if (!superuser() && !(owns_database(database) && (!needs_createdb || may_create_databases())))
		return;
	if (pc_registry_hold(database) != 0 && !pc_registry_wait_gone(database, HOLD_WAIT_MS))
		ereport(LOG,
				(errmsg("paperclip's workers of database \"%s\" did not exit within %d ms",
						name, HOLD_WAIT_MS)));
}

/* The option of a CREATE DATABASE or ALTER DATABASE statement, or NULL. */
static DefElem *
option_named(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, name) == 0)
			return d;
	}
	return NULL;
}

static void
pc_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	bool		changes_databases = false;

	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			hold_database(((DropdbStmt *) stmt)->dbname, false);
			break;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
			{
				hold_database(((RenameStmt *) stmt)->subname, true);
				changes_databases = true;
			}
			break;
		case T_AlterDatabaseStmt:
			if (option_named(((AlterDatabaseStmt *) stmt)->options, "tablespace") != NULL)
				hold_database(((AlterDatabaseStmt *) stmt)->dbname, false);
			/* ALLOW_CONNECTIONS, IS_TEMPLATE: whether the workers serve it */
			changes_databases = true;
			break;
		case T_CreatedbStmt:
			{
				DefElem    *template = option_named(((CreatedbStmt *) stmt)->options, "template");

				/* the default template, template1, is a template: never served */
				if (template != NULL && template->arg != NULL)
					hold_database(defGetString(template), true);
				changes_databases = true;
			}
			break;
		default:
			break;
	}

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);

	if (changes_databases)
		databases_changed = true;
}

/* ----------------------------------------------------------------------
 * The extension created, updated or dropped
 * ----------------------------------------------------------------------
 */

/* Whether this extension is paperclip; NULL name (not visible yet) is not cached. */
static bool
extension_is_paperclip(Oid extension, bool cache)
{
	char	   *name;

	if (cache && extension == checked_extension)
		return checked_is_paperclip;
	name = get_extension_name(extension);
	if (name == NULL)
		return false;
	if (cache)
	{
		checked_extension = extension;
		checked_is_paperclip = strcmp(name, "paperclip") == 0;
	}
	return strcmp(name, "paperclip") == 0;
}

static void
pc_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (extension_changed || !pc_registry_attached())
		return;
	switch (access)
	{
		case OAT_POST_CREATE:
			/* an object that CREATE EXTENSION's or ALTER EXTENSION UPDATE's script creates */
			if (creating_extension && OidIsValid(CurrentExtensionObject) &&
				extension_is_paperclip(CurrentExtensionObject, true))
				extension_changed = true;
			break;
		case OAT_POST_ALTER:
		case OAT_DROP:
			if (classId == ExtensionRelationId && extension_is_paperclip(objectId, false))
				extension_changed = true;
			break;
		default:
			break;
	}
}

/*
 * At the end of every transaction: after a commit, tell the supervisor
 * (and the database's workers) what changed; then release what this
 * transaction held.
 */
void
pc_serving_xact_end(bool commit)
{
	if (commit && extension_changed)
		pc_registry_nudge(MyDatabaseId);
	if (commit && databases_changed)
		pc_wake_supervisor();
	pc_registry_unhold();
	extension_changed = false;
	databases_changed = false;
	checked_extension = InvalidOid;
}

void
pc_serving_init(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = pc_process_utility;
	prev_object_access_hook = object_access_hook;
	object_access_hook = pc_object_access;
}

/* ----------------------------------------------------------------------
 * Runs queued where nobody runs them
 * ----------------------------------------------------------------------
 */

#if PG_VERSION_NUM >= 170000
#define pc_local_beentry(i) pgstat_get_local_beentry_by_index(i)
#else
#define pc_local_beentry(i) pgstat_fetch_stat_local_beentry(i)
#endif

/* Whether a session of paperclip_worker (application_name) is connected to this database. */
static bool
worker_connected(void)
{
	int			n = pgstat_fetch_stat_numbackends();
	int			i;

	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pc_local_beentry(i);
		PgBackendStatus *b;

		if (local == NULL)
			continue;
		b = &local->backendStatus;
		if (b->st_databaseid == MyDatabaseId && b->st_appname != NULL &&
			strncmp(b->st_appname, PC_WORKER_APPLICATION_NAME,
					strlen(PC_WORKER_APPLICATION_NAME)) == 0)
			return true;
	}
	return false;
}

/* This database's name, and whether the workers may serve it; read once a session. */
static char *my_dbname = NULL;
static bool my_servable = true;

static void
read_my_database(void)
{
	HeapTuple	tuple;

	if (my_dbname != NULL)
		return;
	tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (!HeapTupleIsValid(tuple))
		return;
	my_dbname = MemoryContextStrdup(TopMemoryContext,
									NameStr(((Form_pg_database) GETSTRUCT(tuple))->datname));
	my_servable = ((Form_pg_database) GETSTRUCT(tuple))->datallowconn &&
		!((Form_pg_database) GETSTRUCT(tuple))->datistemplate;
	ReleaseSysCache(tuple);
}

/*
 * Whether a launcher of this server serves this database; if not, why
 * (for errdetail) and what to do (for errhint). Cheap when it does.
 */
static bool
served_here(char **why, char **hint)
{
	const char *or_worker = "or start a paperclip_worker for this database";

	if (!pc_registry_attached())
	{
		*why = pstrdup("paperclip is not loaded through shared_preload_libraries");
		*hint = psprintf("Add paperclip to shared_preload_libraries and restart the server, %s.", or_worker);
		return false;
	}
	if (!pc_launcher_enabled)
	{
		*why = pstrdup("paperclip.launcher_enabled is off");
		*hint = psprintf("Set paperclip.launcher_enabled = on, %s.", or_worker);
		return false;
	}
	if (pc_database_name[0] != '\0' && strcmp(pc_database_name, my_dbname) != 0)
	{
		*why = psprintf("paperclip.database_name is \"%s\"", pc_database_name);
		*hint = psprintf("Set paperclip.database_name to '' (every database) or to \"%s\" and reload the configuration, %s.",
						 my_dbname, or_worker);
		return false;
	}
	switch (pc_registry_served(MyDatabaseId))
	{
		case PC_SERVED:
			if (my_servable)
				return true;
			break;
		case PC_SERVED_SHORT:
			*why = pstrdup("no background worker is free for its launcher");
			*hint = psprintf("Raise max_worker_processes (paperclip needs 2 for each database it serves, and 1) and restart the server, %s.",
							 or_worker);
			return false;
		case PC_SERVED_NOT:
			break;
	}
	*why = pstrdup("the workers serve no template database, nor one that refuses connections");
	*hint = psprintf("Queue the runs in another database, %s.", or_worker);
	return false;
}

/*
 * A run was queued: if no launcher of this server serves this database
 * and no paperclip_worker is connected to it, say so, once per session.
 */
void
pc_warn_if_unserved(void)
{
	char	   *why;
	char	   *hint;
	TimestampTz now;

	if (unserved_warned || !pc_unserved_warning || MyBgworkerEntry != NULL)
		return;
	read_my_database();
	if (my_dbname == NULL || served_here(&why, &hint))
		return;
	now = GetCurrentTimestamp();
	if (now < next_worker_check)
		return;
	if (worker_connected())
	{
		next_worker_check = TimestampTzPlusMilliseconds(now, WORKER_RECHECK_MS);
		return;
	}
	unserved_warned = true;
	ereport(WARNING,
			(errmsg("no paperclip launcher serves database \"%s\" and no paperclip_worker is connected to it",
					my_dbname),
			 errdetail("Runs queued here wait until a launcher or a paperclip_worker claims them: %s.", why),
			 errhint("%s This warning is given once per session (paperclip.unserved_warning).", hint)));
}
