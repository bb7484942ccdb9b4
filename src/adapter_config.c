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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <regex.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"

PG_FUNCTION_INFO_V1(paperclip_adapter_config_valid);

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

static void
check_process(JsonbContainer *obj)
{
	char	   *command = string_key(obj, "command", true);
	char	   *cwd;

	if (command[0] != '/' && strchr(command, '/') != NULL)
		bad_config("command", "must be an absolute path or a bare name looked up in PATH");
	strings_key(obj, "args", false);
	strings_key(obj, "env", true);
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

/* Environment of a CLI agent: strings, and never a PAPERCLIP_* variable. */
static void
cli_env_key(JsonbContainer *obj)
{
	JsonbValue	buf;
	JsonbValue *v = get(obj, "env", &buf);
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;

	strings_key(obj, "env", true);
	if (v == NULL)
		return;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
		if (tok == WJB_KEY && elem.val.string.len >= 10 &&
			strncmp(elem.val.string.val, "PAPERCLIP_", 10) == 0)
			bad_config("env", "may not set PAPERCLIP_* variables (the runner sets them)");
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
			bad_config(key, "elements must be strings or {\"if\"|\"unless\": path, \"args\": [...]} or {\"each\": path}");
		o = elem.val.binary.data;
		if ((cond = get(o, "each", &b1)) != NULL)
		{
			if (cond->type != jbvString || get(o, "args", &b2) != NULL)
				bad_config(key, "an {\"each\": path} element takes a path (a string) and nothing else");
			continue;
		}
		cond = get(o, "if", &b1);
		if (cond == NULL)
			cond = get(o, "unless", &b1);
		args = get(o, "args", &b2);
		if (cond == NULL || cond->type != jbvString)
			bad_config(key, "elements must be strings or {\"if\"|\"unless\": path, \"args\": [...]} or {\"each\": path}");
		if (args == NULL || args->type != jbvBinary || !JsonContainerIsArray(args->val.binary.data))
			bad_config(key, "a conditional element needs \"args\": [...]");
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
	cli_env_key(obj);
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
