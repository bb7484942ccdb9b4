/*-------------------------------------------------------------------------
 * cli_output.c
 *	  The registry of CLI output parsers and what they share: one line is
 *	  parsed only when it is a JSON object (anything else a CLI prints --
 *	  banners, progress, warnings -- is ignored), and the accumulated
 *	  CliOutput with its capped texts.
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const CliParser *const parsers[] = {
	&cli_parser_claude_stream_json,
	&cli_parser_codex_jsonl,
	&cli_parser_opencode_jsonl,
	&cli_parser_gemini_stream_json,
	NULL
};

const CliParser *
cli_parser_find(const char *name)
{
	int			i;

	for (i = 0; name && parsers[i]; i++)
		if (strcmp(parsers[i]->name, name) == 0)
			return parsers[i];
	return NULL;
}

const char *
cli_parser_names(void)
{
	return PC_CLI_PARSER_NAMES;
}

void
cli_output_init(CliOutput *out)
{
	memset(out, 0, sizeof(*out));
	textbuf_init(&out->texts, CLI_SUMMARY_MAX);
	textbuf_init(&out->errors, CLI_ERRORS_MAX);
}

void
cli_output_free(CliOutput *out)
{
	free(out->session_id);
	free(out->model);
	free(out->final_text);
	free(out->error_message);
	free(out->subtype);
	textbuf_free(&out->texts);
	textbuf_free(&out->errors);
	memset(out, 0, sizeof(*out));
}

void
cli_output_line(const CliParser *parser, CliOutput *out, const char *line, size_t len)
{
	cJSON	   *event;

	(void) len;
	event = cJSON_Parse(line);
	if (cJSON_IsObject(event))
	{
		out->json_lines++;
		parser->feed(out, event);
	}
	cJSON_Delete(event);
}

/* ---------------------------------------------------------------------
 * Helpers for the parsers
 * ---------------------------------------------------------------------
 */

const char *
cj_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *
cj_obj(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsObject(v) ? v : NULL;
}

/* A finite, non-negative number under key. */
bool
cj_num(const cJSON *obj, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
		return false;
	*out = v->valuedouble;
	return true;
}

/* Replace a string field with a copy of value (an empty value is ignored). */
void
cli_set(char **field, const char *value)
{
	char	   *copy;

	if (value == NULL || value[0] == '\0')
		return;
	copy = strdup(value);
	if (copy == NULL)
		return;
	free(*field);
	*field = copy;
}

/* An assistant text: a delta continues the previous one, else a new paragraph. */
void
cli_add_text(CliOutput *out, const char *text, bool delta)
{
	if (text == NULL || text[0] == '\0')
		return;
	if (out->texts.len > 0 && !(delta && out->texts_delta))
		textbuf_puts(&out->texts, "\n\n");
	textbuf_puts(&out->texts, text);
	out->texts_delta = delta;
}

void
cli_add_error(CliOutput *out, const char *message)
{
	if (message == NULL || message[0] == '\0')
		return;
	cli_set(&out->error_message, message);
	if (out->errors.len > 0)
		textbuf_puts(&out->errors, "\n");
	textbuf_puts(&out->errors, message);
}
