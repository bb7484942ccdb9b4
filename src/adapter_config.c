/*-------------------------------------------------------------------------
 * adapter_config.c
 *	  Owns the validation of agents.adapter_config, enforced by a CHECK
 *	  constraint: a config of the wrong shape is refused with 22023 naming
 *	  the key, when it is written, not when the agent first runs. An empty
 *	  object means "not configured yet" and is accepted. Env keys follow
 *	  agent_rules.h (no LD_*, none of glibc's unsecure variables, no
 *	  PAPERCLIP_*).
 *
 *	  And who may write one: a config that makes the server run a program
 *	  (process and the CLI adapters) takes superuser or the privileges of
 *	  pg_execute_server_program, as COPY ... PROGRAM does, unless its
 *	  command resolves inside paperclip.allowed_commands (which only a
 *	  superuser sets). A BEFORE trigger enforces it when adapter_type or
 *	  adapter_config changes (42501).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/varlena.h"

#include "agent_rules.h"
#include "json_util.h"
#include "paperclip.h"

PG_FUNCTION_INFO_V1(paperclip_adapter_config_valid);
PG_FUNCTION_INFO_V1(paperclip_adapter_config_guard);

static void
bad_config(const char *key, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid adapter_config: \"%s\" %s", key, why),
			 errhint("See the process and http adapter settings in the paperclip documentation.")));
}

static JsonbValue *
get(JsonbContainer *obj, const char *key, JsonbValue *buf)
{
	return pc_json_get(obj, key, buf);
}

static char *
string_key(JsonbContainer *obj, const char *key, bool required)
{
	JsonbValue	buf;
	JsonbValue *v = get(obj, key, &buf);

	if (v == NULL)
	{
		if (required)
			bad_config(key, "is required");
		return NULL;
	}
	if (v->type != jbvString)
		bad_config(key, "must be a string");
	if (v->val.string.len == 0)
		bad_config(key, "must not be empty");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* A number from min to max (whole when asked), else 22023 saying so. */
static void
number_key(JsonbContainer *obj, const char *key, double min, double max, bool whole,
		   const char *what, const char *range)
{
	JsonbValue	buf;
	JsonbValue *v = get(obj, key, &buf);
	double		d;

	if (v == NULL)
		return;
	if (v->type != jbvNumeric)
		bad_config(key, what);
	d = pc_numeric_to_double(v->val.numeric);
	if (!isfinite(d) || d < min || d > max || (whole && d != floor(d)))
		bad_config(key, range);
}

static void
seconds_key(JsonbContainer *obj, const char *key)
{
	number_key(obj, key, 0, 7 * 86400, false, "must be a number of seconds",
			   "must be between 0 and 604800 seconds");
}

/* An array of strings, or an object of string values. */
static void
strings_key(JsonbContainer *obj, const char *key, bool object)
{
	JsonbValue	buf;
	JsonbValue *v = get(obj, key, &buf);
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;

	if (v == NULL)
		return;
	if (v->type != jbvBinary ||
		(object ? !JsonContainerIsObject(v->val.binary.data) : !JsonContainerIsArray(v->val.binary.data)))
		bad_config(key, object ? "must be an object of strings" : "must be an array of strings");
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
		if ((tok == WJB_ELEM || tok == WJB_VALUE) && elem.type != jbvString)
			bad_config(key, object ? "must have string values" : "must contain only strings");
}

/* env: an object of strings whose keys agent_rules.h accepts. */
static void
env_key(JsonbContainer *obj)
{
	JsonbValue	buf;
	JsonbValue *v;
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;

	strings_key(obj, "env", true);
	if ((v = get(obj, "env", &buf)) == NULL)
		return;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		char	   *key;
		const char *why;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(elem.val.string.val, elem.val.string.len);
		if ((why = pc_env_key_refused(key)) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid adapter_config: \"env\" key \"%.64s\" %s", key, why),
					 errhint("An agent's env may not set dynamic loader variables (LD_*), glibc's "
							 "unsecure variables, nor PAPERCLIP_* variables.")));
	}
}

static void
check_process(JsonbContainer *obj)
{
	char	   *command = string_key(obj, "command", true);
	char	   *cwd;

	if (command[0] != '/' && strchr(command, '/') != NULL)
		bad_config("command", "must be an absolute path or a bare name looked up in PATH");
	strings_key(obj, "args", false);
	env_key(obj);
	cwd = string_key(obj, "cwd", false);
	if (cwd != NULL && (cwd[0] != '/' || pc_path_has_parent_ref(cwd)))
		bad_config("cwd", "must be an absolute path without \"..\"");
	seconds_key(obj, "timeoutSec");
	seconds_key(obj, "graceSec");
}

static void
check_http(JsonbContainer *obj)
{
	char	   *url = string_key(obj, "url", true);
	char	   *method;

	if (pg_strncasecmp(url, "http://", 7) != 0 && pg_strncasecmp(url, "https://", 8) != 0)
		bad_config("url", "must be an http:// or https:// URL");
	method = string_key(obj, "method", false);
	if (method != NULL && strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0 &&
		strcmp(method, "PATCH") != 0 && strcmp(method, "GET") != 0)
		bad_config("method", "must be one of POST, PUT, PATCH, GET");
	strings_key(obj, "headers", true);
	seconds_key(obj, "timeoutSec");
	seconds_key(obj, "graceSec");
	number_key(obj, "maxResponseBytes", 1, 64.0 * 1024 * 1024, true, "must be a number of bytes",
			   "must be a whole number of bytes from 1 to 67108864");
}

/*
 * paperclip.adapter_config_valid(adapter_type, adapter_config) RETURNS bool:
 * true, or an error naming the key and why.
 */
Datum
paperclip_adapter_config_valid(PG_FUNCTION_ARGS)
{
	char	   *type;
	Jsonb	   *config;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(true);	/* NOT NULL constraints speak for these */
	type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	config = PG_GETARG_JSONB_P(1);
	if (!pc_jsonb_is_object(config))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid adapter_config: it must be a JSON object")));
	if (JB_ROOT_COUNT(config) == 0)
		PG_RETURN_BOOL(true);	/* not configured yet */
	if (strcmp(type, "process") == 0)
		check_process(&config->root);
	else if (strcmp(type, "http") == 0)
		check_http(&config->root);
	PG_RETURN_BOOL(true);
}

/*
 * Whether a command resolves inside paperclip.allowed_commands, as the
 * runner will resolve and check it.
 */
static bool
command_allowed(const char *command)
{
	char		resolved[MAXPGPATH];
	char		real[PATH_MAX];
	char	   *raw;
	List	   *entries = NIL;
	ListCell   *lc;

	if (command == NULL || pc_allowed_commands == NULL || pc_allowed_commands[0] == '\0' ||
		!pc_command_resolve(command, resolved, sizeof(resolved)) ||
		realpath(resolved, real) == NULL)
		return false;
	raw = pstrdup(pc_allowed_commands);
	if (!SplitGUCList(raw, ',', &entries))
		return false;
	foreach(lc, entries)
		if (pc_path_within(real, (const char *) lfirst(lc)))
			return true;
	return false;
}

/* The value of a column of the trigger's row, by name. */
static Datum
row_value(TriggerData *td, HeapTuple tuple, const char *column, bool *isnull)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	int			attno = SPI_fnumber(desc, column);

	if (attno <= 0)
		elog(ERROR, "paperclip.agents has no column \"%s\"", column);
	return heap_getattr(tuple, attno, desc, isnull);
}

/*
 * paperclip.adapter_config_guard(): BEFORE INSERT OR UPDATE OF
 * adapter_type, adapter_config ON paperclip.agents. A config that runs a
 * program needs superuser or pg_execute_server_program, unless its command
 * resolves inside paperclip.allowed_commands; an unchanged config passes.
 */
Datum
paperclip_adapter_config_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	bool		type_null,
				config_null;
	Datum		type_datum,
				config_datum;
	char	   *type;
	Jsonb	   *config;
	const char *default_command = NULL;
	char	   *command;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "adapter_config_guard must be a BEFORE ROW trigger");
	tuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;

	type_datum = row_value(td, tuple, "adapter_type", &type_null);
	config_datum = row_value(td, tuple, "adapter_config", &config_null);
	if (type_null || config_null)
		return PointerGetDatum(tuple);	/* NOT NULL speaks for these */
	type = TextDatumGetCString(type_datum);
	config = DatumGetJsonbP(config_datum);
	if (!pc_adapter_runs_program(type, &default_command) || !pc_jsonb_is_object(config) ||
		JB_ROOT_COUNT(config) == 0)
		return PointerGetDatum(tuple);

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		bool		old_type_null,
					old_config_null;
		Datum		old_type = row_value(td, td->tg_trigtuple, "adapter_type", &old_type_null);
		Datum		old_config = row_value(td, td->tg_trigtuple, "adapter_config", &old_config_null);

		if (!old_type_null && !old_config_null &&
			strcmp(TextDatumGetCString(old_type), type) == 0 &&
			DatumGetBool(DirectFunctionCall2(jsonb_eq, old_config, config_datum)))
			return PointerGetDatum(tuple);
	}

	if (has_privs_of_role(GetUserId(), ROLE_PG_EXECUTE_SERVER_PROGRAM))
		return PointerGetDatum(tuple);
	command = pc_json_string(&config->root, "command");
	if (command_allowed(command ? command : default_command))
		return PointerGetDatum(tuple);

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to configure a \"%s\" agent to run a program", type),
			 errdetail("Its adapter_config makes the database server run %s%.100s%s.",
					   command || default_command ? "\"" : "a program",
					   command ? command : default_command ? default_command : "",
					   command || default_command ? "\"" : ""),
			 errhint("Only superusers and roles with privileges of pg_execute_server_program may, as for "
					 "COPY ... PROGRAM; or a superuser lists the command in paperclip.allowed_commands.")));
	return PointerGetDatum(NULL);	/* not reached */
}
