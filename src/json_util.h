/*-------------------------------------------------------------------------
 * json_util.h
 *	  Typed reads of jsonb objects and a small builder for the JSON payloads
 *	  of live events.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_JSON_UTIL_H
#define PAPERCLIP_JSON_UTIL_H

#include "postgres.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* Lookups in a jsonb object container; NULL when absent or JSON null. */
extern JsonbValue *pc_json_get(JsonbContainer *obj, const char *key, JsonbValue *buf);
extern JsonbContainer *pc_json_get_object(JsonbContainer *obj, const char *key);

/* Lenient reads: a value of another JSON type reads as the default. */
extern char *pc_json_string(JsonbContainer *obj, const char *key);
extern bool pc_json_bool_or(JsonbContainer *obj, const char *key, bool dflt);
extern double pc_json_number_or(JsonbContainer *obj, const char *key, double dflt);

extern bool pc_jsonb_is_object(Jsonb *jb);
extern Jsonb *pc_jsonb_from_cstring(const char *json);
extern double pc_numeric_to_double(Numeric num);

/* Builder: {"k":v,...} appended to a StringInfo. */
typedef struct PcJson
{
	StringInfo	buf;
	bool		first;
} PcJson;

extern void pc_json_open(PcJson *j, StringInfo buf);
extern void pc_json_close(PcJson *j);
extern void pc_json_key(PcJson *j, const char *key);
extern void pc_json_str(PcJson *j, const char *key, const char *value);
extern void pc_json_int(PcJson *j, const char *key, int64 value);
extern void pc_json_bool(PcJson *j, const char *key, bool value);
extern void pc_json_raw(PcJson *j, const char *key, const char *json);
extern void pc_json_timestamptz(PcJson *j, const char *key, Datum ts, bool isnull);

#endif
