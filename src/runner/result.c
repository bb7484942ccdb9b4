/*-------------------------------------------------------------------------
 * result.c
 *	  The adapter result the agents claim: the keys of the protocol an agent
 *	  may report (a process agent's result line or file, an http agent's
 *	  response body), copied only when their types are right.
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>

#include "runner.h"

/*
 * Copy the claimed keys the protocol takes into result, checking their
 * types; NULL, or why the claim is refused.
 */
const char *
result_take_claimed(cJSON *result, cJSON *claimed)
{
	static const struct
	{
		const char *key;
		int			type;
	}			keys[] = {
		{"usage", cJSON_Object}, {"costUsd", cJSON_Number}, {"sessionId", cJSON_String},
		{"clearSession", cJSON_True | cJSON_False}, {"provider", cJSON_String},
		{"model", cJSON_String}, {"resultJson", -1}, {"errorMessage", cJSON_String},
		{"errorCode", cJSON_String}, {"transient", cJSON_True | cJSON_False},
	};
	static char why[128];
	size_t		i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
	{
		cJSON	   *v = cJSON_GetObjectItemCaseSensitive(claimed, keys[i].key);

		if (v == NULL || cJSON_IsNull(v))
			continue;
		if (keys[i].type != -1 && !(v->type & keys[i].type))
		{
			snprintf(why, sizeof(why), "the agent's result has the wrong type for \"%s\"", keys[i].key);
			return why;
		}
		if (keys[i].type == cJSON_Number && (!isfinite(v->valuedouble) || v->valuedouble < 0))
		{
			snprintf(why, sizeof(why), "the agent's result has a bad number for \"%s\"", keys[i].key);
			return why;
		}
		cJSON_AddItemToObject(result, keys[i].key, cJSON_Duplicate(v, 1));
	}
	return NULL;
}

