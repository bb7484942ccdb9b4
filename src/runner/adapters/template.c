/*-------------------------------------------------------------------------
 * template.c
 *	  "{{ dotted.path }}" templates, as Paperclip renders prompts: each
 *	  placeholder is looked up in a JSON scope (object keys by name, array
 *	  elements by index); a missing value or null renders as "", a string as
 *	  itself, anything else as its JSON. Text without a closing "}}" stays
 *	  as it is. Used for prompts and for the arguments of CLI descriptions.
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const cJSON *
scope_get(const cJSON *scope, const char *path, size_t len)
{
	const cJSON *v = scope;
	size_t		i = 0;

	while (len > 0 && isspace((unsigned char) path[0]))
		path++, len--;
	while (len > 0 && isspace((unsigned char) path[len - 1]))
		len--;
	if (len == 0)
		return NULL;
	while (i <= len && v != NULL)
	{
		size_t		start = i;
		char		key[256];

		while (i < len && path[i] != '.')
			i++;
		if (i - start == 0 || i - start >= sizeof(key))
			return NULL;
		memcpy(key, path + start, i - start);
		key[i - start] = '\0';
		if (cJSON_IsObject(v))
			v = cJSON_GetObjectItemCaseSensitive(v, key);
		else if (cJSON_IsArray(v))
		{
			char	   *end;
			long		idx = strtol(key, &end, 10);

			v = (*end == '\0' && idx >= 0) ? cJSON_GetArrayItem(v, (int) idx) : NULL;
		}
		else
			return NULL;
		i++;					/* past the dot */
	}
	return v;
}

bool
scope_truthy(const cJSON *v)
{
	if (v == NULL)
		return false;
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	if (cJSON_IsNumber(v))
		return v->valuedouble != 0;
	if (cJSON_IsString(v))
		return v->valuestring[0] != '\0';
	if (cJSON_IsArray(v) || cJSON_IsObject(v))
		return v->child != NULL;
	return false;				/* null */
}

static void
append_value(TextBuf *out, const cJSON *v)
{
	char	   *json;

	if (v == NULL || cJSON_IsNull(v))
		return;
	if (cJSON_IsString(v))
	{
		textbuf_puts(out, v->valuestring);
		return;
	}
	json = cJSON_PrintUnformatted(v);
	if (json == NULL)
	{
		out->failed = true;
		return;
	}
	textbuf_puts(out, json);
	free(json);
}

char *
template_render(const char *tmpl, const cJSON *scope)
{
	TextBuf		out;
	const char *p = tmpl ? tmpl : "";

	textbuf_init(&out, CLI_PROMPT_MAX);
	textbuf_append(&out, "", 0);
	for (;;)
	{
		const char *open = strstr(p, "{{");
		const char *close = open ? strstr(open + 2, "}}") : NULL;

		if (close == NULL)
		{
			textbuf_puts(&out, p);
			break;
		}
		textbuf_append(&out, p, open - p);
		append_value(&out, scope_get(scope, open + 2, close - (open + 2)));
		p = close + 2;
	}
	if (out.failed)
	{
		textbuf_free(&out);
		return NULL;
	}
	if (out.data == NULL)
		return strdup("");
	return out.data;
}
