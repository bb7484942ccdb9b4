/*-------------------------------------------------------------------------
 * parse_claude_stream_json.c
 *	  Parser "claude-stream-json": the output of
 *	  `claude --print - --output-format stream-json --verbose`, one JSON
 *	  object a line (adapters.md, "claude_local"):
 *	    {"type":"system","subtype":"init","session_id","model"}
 *	    {"type":"assistant","session_id","message":{"content":[{"type":"text","text"}...]}}
 *	    {"type":"result","subtype":"success"|"error_max_turns"|...,"is_error",
 *	     "session_id","result","total_cost_usd",
 *	     "usage":{"input_tokens","cache_read_input_tokens","output_tokens"}}
 *	  The last result line counts: success is subtype "success" with
 *	  is_error false; its usage and cost are the run's.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void
assistant_texts(CliOutput *out, const cJSON *event)
{
	const cJSON *message = cj_obj(event, "message");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
	const cJSON *block;

	if (!cJSON_IsArray(content))
		return;
	cJSON_ArrayForEach(block, content)
	{
		const char *type = cj_str(block, "type");

		if (type && strcmp(type, "text") == 0)
			cli_add_text(out, cj_str(block, "text"), false);
	}
}

static void
result_line(CliOutput *out, const cJSON *event)
{
	const cJSON *usage = cj_obj(event, "usage");
	const cJSON *is_error = cJSON_GetObjectItemCaseSensitive(event, "is_error");
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(event, "errors");
	const char *subtype = cj_str(event, "subtype");
	const char *text = cj_str(event, "result");
	const cJSON *e;

	free(out->subtype);
	out->subtype = NULL;
	cli_set(&out->subtype, subtype);
	free(out->final_text);
	out->final_text = NULL;
	cli_set(&out->final_text, text);
	out->has_cost = cj_num(event, "total_cost_usd", &out->cost_usd);
	out->has_usage = usage != NULL;
	out->input_tokens = out->cached_input_tokens = out->output_tokens = 0;
	if (usage)
	{
		(void) cj_num(usage, "input_tokens", &out->input_tokens);
		(void) cj_num(usage, "cache_read_input_tokens", &out->cached_input_tokens);
		(void) cj_num(usage, "output_tokens", &out->output_tokens);
	}
	out->max_turns = subtype && strcmp(subtype, "error_max_turns") == 0;
	if (subtype && strcmp(subtype, "success") == 0 && !cJSON_IsTrue(is_error))
		out->end = CLI_END_SUCCESS;
	else
	{
		out->end = CLI_END_FAILURE;
		/* error results may list their errors as strings or {message} */
		if (cJSON_IsArray(errors))
			cJSON_ArrayForEach(e, errors)
				cli_add_error(out, cJSON_IsString(e) ? e->valuestring : cj_str(e, "message"));
		cli_add_error(out, text);	/* the result's text is the message */
	}
}

static void
feed(CliOutput *out, const cJSON *event)
{
	const char *type = cj_str(event, "type");

	if (type == NULL)
		return;
	cli_set(&out->session_id, cj_str(event, "session_id"));
	if (strcmp(type, "system") == 0)
	{
		const char *subtype = cj_str(event, "subtype");

		if (subtype && strcmp(subtype, "init") == 0)
			cli_set(&out->model, cj_str(event, "model"));
	}
	else if (strcmp(type, "assistant") == 0)
		assistant_texts(out, event);
	else if (strcmp(type, "result") == 0)
		result_line(out, event);
}

const CliParser cli_parser_claude_stream_json = {
	.name = PC_CLI_PARSER_CLAUDE,
	.feed = feed,
	.provider = "anthropic",
	.cost_reported = true,
	.needs_end = true,
};
