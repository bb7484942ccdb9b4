/*-------------------------------------------------------------------------
 * adapter_config.c
 *	  Owns the validation of agents.adapter_config, enforced by a CHECK
 *	  constraint: a config of the wrong shape is refused with 22023 naming
 *	  the key, when it is written, not when the agent first runs. An empty
 *	  object means "not configured yet" and is accepted. Unknown keys are
 *	  kept (Paperclip's configs carry more than the runner reads).
 *	  The coding-agent CLI adapters (claude_local, codex_local, cli) share
 *	  one set of keys (adapters.md); a cli description's regular
 *	  expressions are compiled with the same POSIX regcomp() the runner uses.
 *	  Env keys follow agent_rules.h (no LD_*, none of glibc's unsecure
 *	  variables, no PAPERCLIP_*), for every adapter that runs a program.
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
#include <regex.h>

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
#include "protocol.h"

PG_FUNCTION_INFO_V1(paperclip_adapter_config_valid);
PG_FUNCTION_INFO_V1(paperclip_adapter_config_guard);

/* which documentation the hint points to: the adapter type being checked */
static const char *hint = "See the process and http adapter settings in the paperclip documentation.";
#define CLI_HINT "See the coding-agent CLI adapter settings in the paperclip documentation."

static void
bad_config(const char *key, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid adapter_config: \"%s\" %s", key, why),
			 errhint("%s", hint)));
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

static void
bool_key(JsonbContainer *obj, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = get(obj, key, &buf);

	if (v != NULL && v->type != jbvBool)
		bad_config(key, "must be a boolean");
}

/* An absolute path without "..", when present. */
static void
path_key(JsonbContainer *obj, const char *key)
{
	char	   *path = string_key(obj, key, false);

	if (path != NULL && (path[0] != '/' || pc_path_has_parent_ref(path)))
		bad_config(key, "must be an absolute path without \"..\"");
}

/* A bare name looked up in PATH, or an absolute path. */
static void
command_key(JsonbContainer *obj, bool required)
{
	char	   *command = string_key(obj, "command", required);

	if (command != NULL && command[0] != '/' && strchr(command, '/') != NULL)
		bad_config("command", "must be an absolute path or a bare name looked up in PATH");
}

/* A command-line template: strings, {"if"|"unless": path, "args": [...]}, {"each": path}. */
static void
template_elements(JsonbContainer *arr, const char *key)
{
	JsonbIterator *it = JsonbIteratorInit(arr);
	JsonbValue	elem;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		JsonbContainer *o;
		JsonbValue	b1,
					b2;
		JsonbValue *cond;
		JsonbValue *args;

		if (tok != WJB_ELEM || elem.type == jbvString)
			continue;
		if (elem.type != jbvBinary || !JsonContainerIsObject(elem.val.binary.data))
			bad_config(key, "must hold strings, {\"if\"|\"unless\": path, \"args\": [...]} or {\"each\": path}");
		o = elem.val.binary.data;
		if ((cond = get(o, "each", &b1)) != NULL)
		{
			if (cond->type != jbvString || get(o, "args", &b2) != NULL)
				bad_config(key, "has an {\"each\": path} element with more than a path");
			continue;
		}
		cond = get(o, "if", &b1);
		if (cond == NULL)
			cond = get(o, "unless", &b1);
		args = get(o, "args", &b2);
		if (cond == NULL || cond->type != jbvString)
			bad_config(key, "must hold strings, {\"if\"|\"unless\": path, \"args\": [...]} or {\"each\": path}");
		if (args == NULL || args->type != jbvBinary || !JsonContainerIsArray(args->val.binary.data))
			bad_config(key, "has a conditional element without \"args\": [...]");
		template_elements(args->val.binary.data, key);
	}
}

static void
template_key(JsonbContainer *obj, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = get(obj, key, &buf);

	if (v == NULL)
		return;
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		bad_config(key, "must be an array (a command-line template)");
	template_elements(v->val.binary.data, key);
}

/* A POSIX extended regular expression, as the runner compiles it. */
static void
regex_key(JsonbContainer *obj, const char *key)
{
	char	   *re = string_key(obj, key, false);
	regex_t		rx;
	int			rc;

	if (re == NULL)
		return;
	rc = regcomp(&rx, re, REG_EXTENDED | REG_ICASE | REG_NEWLINE | REG_NOSUB);
	if (rc != 0)
	{
		char		why[256];

		regerror(rc, &rx, why, sizeof(why));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid adapter_config: \"%s\" is not a valid regular expression", key),
				 errdetail("regcomp: %s.", why),
				 errhint("These are POSIX extended regular expressions, matched case-insensitively within a line.")));
	}
	regfree(&rx);
}

/* One of the allowed words, when present. */
static void
choice_key(JsonbContainer *obj, const char *key, const char *const *allowed, const char *list)
{
	char	   *v = string_key(obj, key, false);
	int			i;

	if (v == NULL)
		return;
	for (i = 0; allowed[i]; i++)
		if (strcmp(v, allowed[i]) == 0)
			return;
	bad_config(key, psprintf("must be one of: %s", list));
}

/* A string that may be empty (a template that renders nothing). */
static void
text_key(JsonbContainer *obj, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = get(obj, key, &buf);

	if (v != NULL && v->type != jbvString)
		bad_config(key, "must be a string");
}

/* The keys every coding-agent CLI adapter takes. */
static void
check_cli_common(JsonbContainer *obj, bool command_required)
{
	hint = CLI_HINT;
	command_key(obj, command_required);
	(void) string_key(obj, "model", false);
	path_key(obj, "cwd");
	env_key(obj);
	strings_key(obj, "extraArgs", false);
	text_key(obj, "promptTemplate");
	text_key(obj, "bootstrapPromptTemplate");
	path_key(obj, "instructionsFilePath");
	seconds_key(obj, "timeoutSec");
	seconds_key(obj, "graceSec");
}

static void
check_claude(JsonbContainer *obj)
{
	check_cli_common(obj, false);
	number_key(obj, "maxTurnsPerRun", 0, 100000, true, "must be a number of turns",
			   "must be a whole number of turns from 0 (no limit) to 100000");
	bool_key(obj, "dangerouslySkipPermissions");
}

static void
check_codex(JsonbContainer *obj)
{
	char	   *effort;
	const char *p;

	check_cli_common(obj, false);
	effort = string_key(obj, "modelReasoningEffort", false);
	for (p = effort; p && *p; p++)
		if (!isalnum((unsigned char) *p) && *p != '-' && *p != '_')
			bad_config("modelReasoningEffort", "must be a word such as low, medium or high");
	bool_key(obj, "dangerouslyBypassApprovalsAndSandbox");
}

static void
check_cli(JsonbContainer *obj)
{
	static const char *const parsers[] = {PC_CLI_PARSERS_LIST, NULL};
	static const char *const vias[] = {"stdin", "arg", NULL};
	JsonbValue	buf;
	JsonbValue *v;

	check_cli_common(obj, true);
	(void) string_key(obj, "parser", true);
	choice_key(obj, "parser", parsers, PC_CLI_PARSER_NAMES);
	(void) string_key(obj, "name", false);
	(void) string_key(obj, "provider", false);
	template_key(obj, "args");
	template_key(obj, "resumeArgs");
	choice_key(obj, "promptVia", vias, "stdin, arg");
	bool_key(obj, "instructionsInPrompt");
	regex_key(obj, "unknownSessionRegex");
	regex_key(obj, "loginRequiredRegex");
	regex_key(obj, "transientRegex");
	regex_key(obj, "retryAtRegex");
	v = get(obj, "apiKeyEnv", &buf);
	if (v != NULL && v->type != jbvString)
	{
		strings_key(obj, "apiKeyEnv", false);
		if (JsonContainerSize(v->val.binary.data) > 4)
			bad_config("apiKeyEnv", "must be a name or an array of at most 4 names");
	}
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
	hint = "See the process and http adapter settings in the paperclip documentation.";
	if (strcmp(type, "process") == 0)
		check_process(&config->root);
	else if (strcmp(type, "http") == 0)
		check_http(&config->root);
	else if (strcmp(type, PC_ADAPTER_CLAUDE) == 0)
		check_claude(&config->root);
	else if (strcmp(type, PC_ADAPTER_CODEX) == 0)
		check_codex(&config->root);
	else if (strcmp(type, PC_ADAPTER_CLI) == 0)
		check_cli(&config->root);
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
