/*-------------------------------------------------------------------------
 * parse_opencode_jsonl.c
 *	  Parser "opencode-jsonl": the output of `opencode run --format json`.
 *
 *	  What this relies on (opencode's packages/opencode/src/cli/cmd/run.ts
 *	  and its message-v2 part schemas, read 2026-11): every line is
 *	  {"type", "timestamp" (ms), "sessionID", ...} with type
 *	    "step_start"  {"part":{"type":"step-start",...}}
 *	    "text"        {"part":{"type":"text","text",...}}   a finished text part
 *	    "reasoning"   {"part":{"type":"reasoning","text"}}  (ignored)
 *	    "tool_use"    {"part":{"type":"tool","tool","state":{"status",...}}}
 *	    "step_finish" {"part":{"type":"step-finish","reason","cost",
 *	                   "tokens":{"input","output","reasoning",
 *	                             "cache":{"read","write"}}}}  per step
 *	    "error"       {"error":{"name","data":{"message"}}}  the session failed
 *	    "done"        {"reason":"idle"}                      (newer versions)
 *	  sessionID is the session to resume with `--session <id>`. Usage and
 *	  cost are summed over the steps: inputTokens = tokens.input,
 *	  cachedInputTokens = tokens.cache.read, outputTokens = tokens.output +
 *	  tokens.reasoning. No line carries the model: it comes from the config
 *	  ("provider/model", whose provider part is the provider). Without an
 *	  error line, the exit code decides.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "cli.h"

static void
step_finish(CliOutput *out, const cJSON *part)
{
	const cJSON *tokens = cj_obj(part, "tokens");
	double		v;

	if (cj_num(part, "cost", &v))
	{
		out->has_cost = true;
		out->cost_usd += v;
	}
	if (tokens == NULL)
		return;
	out->has_usage = true;
	if (cj_num(tokens, "input", &v))
		out->input_tokens += v;
	if (cj_num(tokens, "output", &v))
		out->output_tokens += v;
	if (cj_num(tokens, "reasoning", &v))
		out->output_tokens += v;
	if (cj_num(cj_obj(tokens, "cache"), "read", &v))
		out->cached_input_tokens += v;
}

static void
error_line(CliOutput *out, const cJSON *event)
{
	const cJSON *error = cj_obj(event, "error");
	const char *message = cj_str(cj_obj(error, "data"), "message");

	if (message == NULL)
		message = cj_str(error, "message");
	if (message == NULL)
		message = cj_str(error, "name");
	if (message == NULL)
		message = cj_str(event, "message");
	cli_add_error(out, message ? message : "opencode reported an error");
	out->end = CLI_END_FAILURE;
}

static void
feed(CliOutput *out, const cJSON *event)
{
	const char *type = cj_str(event, "type");
	const cJSON *part = cj_obj(event, "part");

	if (type == NULL)
		return;
	cli_set(&out->session_id, cj_str(event, "sessionID"));
	if (strcmp(type, "text") == 0)
		cli_add_text(out, cj_str(part, "text"), false);
	else if (strcmp(type, "step_finish") == 0)
		step_finish(out, part);
	else if (strcmp(type, "error") == 0)
		error_line(out, event);
}

const CliParser cli_parser_opencode_jsonl = {
	.name = PC_CLI_PARSER_OPENCODE,
	.feed = feed,
	.provider = NULL,
	.cost_reported = true,
};
