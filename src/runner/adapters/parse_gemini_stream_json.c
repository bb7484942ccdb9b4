/*-------------------------------------------------------------------------
 * parse_gemini_stream_json.c
 *	  Parser "gemini-stream-json": the output of
 *	  `gemini --output-format stream-json`.
 *
 *	  What this relies on (gemini-cli's packages/core/src/output/types.ts,
 *	  JsonStreamEventType, and docs/cli/headless.md, read 2026-11): one
 *	  JSON object a line, each with "type" and "timestamp":
 *	    "init"        {"session_id","model"}
 *	    "message"     {"role":"user"|"assistant","content","delta"?}
 *	                  (delta: a chunk that continues the previous message)
 *	    "tool_use"    {"tool_name","tool_id","parameters"}       (ignored)
 *	    "tool_result" {"tool_id","status","output"?,"error"?}    (ignored)
 *	    "error"       {"severity":"warning"|"error","message"}
 *	    "result"      {"status":"success"|"error","error"?:{"type","message"},
 *	                   "stats"?:{"total_tokens","input_tokens","output_tokens",
 *	                             "cached","input","duration_ms","tool_calls"}}
 *	  input_tokens counts the cached ones ("cached" + "input" break it
 *	  down): inputTokens = input (else input_tokens - cached),
 *	  cachedInputTokens = cached. Exit code 53 means the turn limit was
 *	  reached. No cost is reported.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "cli.h"

static void
result_line(CliOutput *out, const cJSON *event)
{
	const char *status = cj_str(event, "status");
	const cJSON *stats = cj_obj(event, "stats");
	double		total = 0,
				cached = 0,
				input = 0;

	if (status && strcmp(status, "success") == 0)
		out->end = CLI_END_SUCCESS;
	else
	{
		out->end = CLI_END_FAILURE;
		cli_add_error(out, cj_str(cj_obj(event, "error"), "message"));
	}
	if (stats == NULL)
		return;
	out->has_usage = true;
	(void) cj_num(stats, "cached", &cached);
	if (!cj_num(stats, "input", &input) && cj_num(stats, "input_tokens", &total))
		input = total > cached ? total - cached : 0;
	out->input_tokens = input;
	out->cached_input_tokens = cached;
	out->output_tokens = 0;
	(void) cj_num(stats, "output_tokens", &out->output_tokens);
}

static void
feed(CliOutput *out, const cJSON *event)
{
	const char *type = cj_str(event, "type");

	if (type == NULL)
		return;
	if (strcmp(type, "init") == 0)
	{
		cli_set(&out->session_id, cj_str(event, "session_id"));
		cli_set(&out->model, cj_str(event, "model"));
	}
	else if (strcmp(type, "message") == 0)
	{
		const char *role = cj_str(event, "role");

		if (role && strcmp(role, "assistant") == 0)
			cli_add_text(out, cj_str(event, "content"),
						 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(event, "delta")));
	}
	else if (strcmp(type, "error") == 0)
	{
		const char *severity = cj_str(event, "severity");
		const char *message = cj_str(event, "message");

		if (severity && strcmp(severity, "warning") == 0)
		{
			/* kept for classification, not the run's error */
			if (message && out->errors.len > 0)
				textbuf_puts(&out->errors, "\n");
			if (message)
				textbuf_puts(&out->errors, message);
		}
		else
			cli_add_error(out, message);
	}
	else if (strcmp(type, "result") == 0)
		result_line(out, event);
}

const CliParser cli_parser_gemini_stream_json = {
	.name = PC_CLI_PARSER_GEMINI,
	.feed = feed,
	.provider = "google",
	.max_turns_exit_code = 53,
	.cost_reported = false,
};
