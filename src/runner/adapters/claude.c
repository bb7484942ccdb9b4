/*-------------------------------------------------------------------------
 * claude.c
 *	  claude_local: Claude Code as a built-in CLI description (adapters.md,
 *	  "claude_local"; Paperclip's packages/adapters/claude-local):
 *	    claude --print - --output-format stream-json --verbose
 *	           [--resume <id>] [--model <m>] [--max-turns <n>]
 *	           [--dangerously-skip-permissions]
 *	           [--append-system-prompt-file <instructionsFilePath>] [extraArgs]
 *	  with the prompt on stdin and the "claude-stream-json" parser.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "cli.h"

static const char claude_args[] =
	"[\"--print\", \"-\", \"--output-format\", \"stream-json\", \"--verbose\","
	" {\"if\": \"resume\", \"args\": [\"--resume\", \"{{sessionId}}\"]},"
	" {\"if\": \"model\", \"args\": [\"--model\", \"{{model}}\"]},"
	" {\"if\": \"config.maxTurnsPerRun\", \"args\": [\"--max-turns\", \"{{config.maxTurnsPerRun}}\"]},"
	" {\"if\": \"config.dangerouslySkipPermissions\", \"args\": [\"--dangerously-skip-permissions\"]},"
	" {\"if\": \"instructionsFilePath\","
	"  \"args\": [\"--append-system-prompt-file\", \"{{instructionsFilePath}}\"]},"
	" {\"each\": \"extraArgs\"}]";

bool
cli_describe_claude(CliDescription *d)
{
	memset(d, 0, sizeof(*d));
	d->adapter_type = "claude_local";
	d->label = "Claude";
	d->default_command = "claude";
	d->owned = cJSON_Parse(claude_args);
	d->args = d->owned;
	d->can_resume = true;
	d->instructions_in_prompt = false;	/* --append-system-prompt-file */
	d->parser = &cli_parser_claude_stream_json;
	d->unknown_session_re =
		"no conversation found with session id|unknown session|session .* not found";
	d->login_re =
		"not logged in|please log ?in|please run /login|claude login|login required|requires login|"
		"invalid api key|authentication required|invalid authentication credentials|"
		"failed to authenticate";
	d->transient_re =
		"overloaded|rate[-_ ]?limit|too many requests|(^|[^0-9])(429|503|529)([^0-9]|$)|"
		"service unavailable|temporarily unavailable|high demand|try again later|"
		"usage limit reached|limit reached|out of extra usage";
	d->retry_at_re =
		"resets?[ at]*([0-9]{1,2}(:[0-9]{2})? ?[ap]\\.?m\\.?( ?\\([^)]*\\))?)";
	d->auth_code = PC_ERR_CLAUDE_AUTH;
	d->transient_code = PC_ERR_CLAUDE_TRANSIENT;
	d->api_key_env[0] = "ANTHROPIC_API_KEY";
	return d->args != NULL;
}
