/*-------------------------------------------------------------------------
 * adapter_config.c
 *	  Owns the validation of agents.adapter_config, enforced by a CHECK
 *	  constraint: a config of the wrong shape is refused with 22023 naming
 *	  the key, when it is written, not when the agent first runs. An empty
 *	  object means "not configured yet" and is accepted.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "json_util.h"
#include "paperclip.h"

PG_FUNCTION_INFO_V1(paperclip_adapter_config_valid);

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
