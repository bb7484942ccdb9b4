/*-------------------------------------------------------------------------
 * parse_codex_jsonl.c
 *	  Parser "codex-jsonl": the output of `codex exec --json`, one JSON
 *	  object a line (adapters.md, "codex_local"):
 *	    {"type":"thread.started","thread_id"}            the session id
 *	    {"type":"item.completed","item":{"type":"agent_message","text"}}
 *	                                                      the last is the summary
 *	    {"type":"turn.completed","usage":{"input_tokens","cached_input_tokens",
 *	     "output_tokens"}}                                success
 *	    {"type":"turn.failed","error":{"message"}}        failure
 *	    {"type":"error","message"}                        an error message
 *	  Codex reports no cost.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "cli.h"

static void
feed(CliOutput *out, const cJSON *event)
{
	const char *type = cj_str(event, "type");

	if (type == NULL)
		return;
	if (strcmp(type, "thread.started") == 0)
		cli_set(&out->session_id, cj_str(event, "thread_id"));
	else if (strcmp(type, "item.completed") == 0)
	{
		const cJSON *item = cj_obj(event, "item");
		const char *item_type = cj_str(item, "type");

		if (item_type && strcmp(item_type, "agent_message") == 0)
			cli_set(&out->final_text, cj_str(item, "text"));
	}
	else if (strcmp(type, "turn.completed") == 0)
	{
		const cJSON *usage = cj_obj(event, "usage");

		out->end = CLI_END_SUCCESS;
		if (usage)
		{
			out->has_usage = true;
			(void) cj_num(usage, "input_tokens", &out->input_tokens);
			(void) cj_num(usage, "cached_input_tokens", &out->cached_input_tokens);
			(void) cj_num(usage, "output_tokens", &out->output_tokens);
		}
	}
	else if (strcmp(type, "turn.failed") == 0)
	{
		out->end = CLI_END_FAILURE;
		cli_add_error(out, cj_str(cj_obj(event, "error"), "message"));
	}
	else if (strcmp(type, "error") == 0)
		cli_add_error(out, cj_str(event, "message"));
}

const CliParser cli_parser_codex_jsonl = {
	.name = PC_CLI_PARSER_CODEX,
	.feed = feed,
	.provider = "openai",
	.cost_reported = false,
};
