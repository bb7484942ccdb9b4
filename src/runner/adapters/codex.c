/*-------------------------------------------------------------------------
 * codex.c
 *	  codex_local: OpenAI Codex as a built-in CLI description (adapters.md,
 *	  "codex_local"; Paperclip's packages/adapters/codex-local):
 *	    codex exec --json [--model <m>] [-c model_reasoning_effort="<e>"]
 *	          [--dangerously-bypass-approvals-and-sandbox] [extraArgs]
 *	          (resume <id> - | -)
 *	  with the prompt (the instructions file's text first) on stdin and the
 *	  "codex-jsonl" parser.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "cli.h"

static const char codex_args[] =
	"[\"exec\", \"--json\","
	" {\"if\": \"model\", \"args\": [\"--model\", \"{{model}}\"]},"
	" {\"if\": \"config.modelReasoningEffort\","
	"  \"args\": [\"-c\", \"model_reasoning_effort=\\\"{{config.modelReasoningEffort}}\\\"\"]},"
	" {\"if\": \"config.dangerouslyBypassApprovalsAndSandbox\","
	"  \"args\": [\"--dangerously-bypass-approvals-and-sandbox\"]},"
	" {\"each\": \"extraArgs\"},"
	" {\"if\": \"resume\", \"args\": [\"resume\", \"{{sessionId}}\"]},"
	" \"-\"]";

bool
cli_describe_codex(CliDescription *d)
{
	memset(d, 0, sizeof(*d));
	d->adapter_type = "codex_local";
	d->label = "Codex";
	d->default_command = "codex";
	d->owned = cJSON_Parse(codex_args);
	d->args = d->owned;
	d->can_resume = true;
	d->instructions_in_prompt = true;
	d->parser = &cli_parser_codex_jsonl;
	d->unknown_session_re =
		"unknown (session|thread)|(session|thread|conversation) .* not found|"
		"no rollout found for thread id|missing rollout path for thread";
	d->login_re =
		"not logged in|codex login|login required|invalid api key|401 unauthorized";
	d->transient_re =
		"high demand|temporary error|usage limit|try again at|try again later|"
		"service unavailable|server overloaded";
	d->retry_at_re = "try again at ([^\n]+)";
	d->auth_code = PC_ERR_CODEX_AUTH;
	d->transient_code = PC_ERR_CODEX_TRANSIENT;
	d->api_key_env[0] = "OPENAI_API_KEY";
	return d->args != NULL;
}
