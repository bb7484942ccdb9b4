/*-------------------------------------------------------------------------
 * json_util.c
 *	  Typed reads of jsonb objects (the heartbeat policy, adapter results)
 *	  and the builder for live-event payloads.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/numeric.h"

#include "json_util.h"

JsonbValue *
pc_json_get(JsonbContainer *obj, const char *key, JsonbValue *buf)
{
	JsonbValue *v;

	if (obj == NULL || !JsonContainerIsObject(obj))
		return NULL;
	v = getKeyJsonValueFromContainer(obj, key, strlen(key), buf);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	return v;
}

JsonbContainer *
pc_json_get_object(JsonbContainer *obj, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(obj, key, &buf);

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

/* The string under key (a copy), or NULL when missing or not a string. */
char *
pc_json_string(JsonbContainer *obj, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(obj, key, &buf);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

bool
pc_json_bool_or(JsonbContainer *obj, const char *key, bool dflt)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(obj, key, &buf);

	return (v != NULL && v->type == jbvBool) ? v->val.boolean : dflt;
}

double
pc_numeric_to_double(Numeric num)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(num)));
}

double
pc_json_number_or(JsonbContainer *obj, const char *key, double dflt)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(obj, key, &buf);
	double		d;

	if (v == NULL || v->type != jbvNumeric)
		return dflt;
	d = pc_numeric_to_double(v->val.numeric);
	return isfinite(d) ? d : dflt;
}

bool
pc_jsonb_is_object(Jsonb *jb)
{
	return JB_ROOT_IS_OBJECT(jb) && !JB_ROOT_IS_SCALAR(jb);
}

/* A jsonb from JSON text (which must be valid: built here or checked first). */
Jsonb *
pc_jsonb_from_cstring(const char *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

void
pc_json_open(PcJson *j, StringInfo buf)
{
	j->buf = buf;
	j->first = true;
	appendStringInfoChar(buf, '{');
}

void
pc_json_close(PcJson *j)
{
	appendStringInfoChar(j->buf, '}');
}

void
pc_json_key(PcJson *j, const char *key)
{
	if (!j->first)
		appendStringInfoChar(j->buf, ',');
	j->first = false;
	escape_json(j->buf, key);
	appendStringInfoChar(j->buf, ':');
}

void
pc_json_str(PcJson *j, const char *key, const char *value)
{
	pc_json_key(j, key);
	if (value == NULL)
		appendStringInfoString(j->buf, "null");
	else
		escape_json(j->buf, value);
}

void
pc_json_int(PcJson *j, const char *key, int64 value)
{
	pc_json_key(j, key);
	appendStringInfo(j->buf, INT64_FORMAT, value);
}

void
pc_json_bool(PcJson *j, const char *key, bool value)
{
	pc_json_key(j, key);
	appendStringInfoString(j->buf, value ? "true" : "false");
}

void
pc_json_raw(PcJson *j, const char *key, const char *json)
{
	pc_json_key(j, key);
	appendStringInfoString(j->buf, json ? json : "null");
}

/* ISO 8601 in UTC, as the service's toISOString() gives (to microseconds). */
void
pc_json_timestamptz(PcJson *j, const char *key, Datum ts, bool isnull)
{
	char		tmp[MAXDATELEN + 1];
	int			utc = 0;

	pc_json_key(j, key);
	if (isnull)
	{
		appendStringInfoString(j->buf, "null");
		return;
	}
	JsonEncodeDateTime(tmp, ts, TIMESTAMPTZOID, &utc);
	appendStringInfo(j->buf, "\"%s\"", tmp);
}
