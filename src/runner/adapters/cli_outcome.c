/*-------------------------------------------------------------------------
 * cli_outcome.c
 *	  What a CLI run's output and exit mean, as adapter result keys
 *	  (adapters.md, "Coding-agent CLI adapters"): success or failure, the
 *	  error message and code (login required, turns exhausted, transient
 *	  upstream trouble with the time to retry after), usage, cost, session,
 *	  provider, model, billing and the summary. Pure: the runner's unit tests
 *	  call it with recorded outputs.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* What the regular expressions look at: what the CLI said went wrong. */
static char *
haystack(const CliOutput *out, const CliRunFacts *f)
{
	TextBuf		h;

	textbuf_init(&h, 0);
	textbuf_puts(&h, textbuf_str(&out->errors));
	textbuf_puts(&h, "\n");
	if (f->stderr_text)
	{
		textbuf_puts(&h, f->stderr_text);
		textbuf_puts(&h, "\n");
	}
	if (f->plain_stdout)
		textbuf_puts(&h, f->plain_stdout);
	if (h.data == NULL)
		return strdup("");
	return h.data;
}

bool
cli_unknown_session(const CliDescription *d, const CliOutput *out, const CliRunFacts *f)
{
	char	   *h;
	bool		unknown;

	if (!f->resumed || out->end == CLI_END_SUCCESS || f->timed_out || f->cancelled)
		return false;
	h = haystack(out, f);
	unknown = cli_regex_match(d->unknown_session_re, h, NULL, 0);
	free(h);
	return unknown;
}

static bool
succeeded(const CliDescription *d, const CliOutput *out, const CliRunFacts *f)
{
	if (f->timed_out || f->cancelled)
		return false;
	if (out->end != CLI_END_NONE)
		return out->end == CLI_END_SUCCESS;
	return !d->parser->needs_end && f->exited && f->exit_code == 0;
}

/* The first non-blank line of text, capped. */
static void
first_line(const char *text, char *buf, size_t size)
{
	const char *p = text ? text : "";
	size_t		n;

	buf[0] = '\0';
	while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, "\r\n");
	if (n >= size)
		n = utf8_prefix_len(p, size - 1);
	memcpy(buf, p, n);
	buf[n] = '\0';
}

static void
add_error_message(const CliDescription *d, const CliOutput *out, const CliRunFacts *f,
				  cJSON *result)
{
	TextBuf		m;
	char		line[1024];
	const char *detail = out->error_message ? out->error_message : out->final_text;

	textbuf_init(&m, CLI_ERROR_MAX);
	textbuf_puts(&m, d->label);
	if (out->end == CLI_END_FAILURE || (out->error_message && out->end == CLI_END_NONE))
	{
		textbuf_puts(&m, " run failed");
		if (out->subtype)
		{
			textbuf_puts(&m, ": subtype=");
			textbuf_puts(&m, out->subtype);
		}
		if (detail)
		{
			textbuf_puts(&m, ": ");
			textbuf_puts(&m, detail);
		}
	}
	else
	{
		if (f->exited)
			snprintf(line, sizeof(line), " exited with code %d", f->exit_code);
		else
			snprintf(line, sizeof(line), " was killed by a signal");
		textbuf_puts(&m, line);
		if (f->exited && f->exit_code == 0)
			textbuf_puts(&m, " without reporting a result");
		first_line(f->stderr_text, line, sizeof(line));
		if (line[0])
		{
			textbuf_puts(&m, ": ");
			textbuf_puts(&m, line);
		}
	}
	cJSON_AddStringToObject(result, "errorMessage", textbuf_str(&m));
	textbuf_free(&m);
}

/* Error code (and family, retry time, session clearing) of a failed run. */
static void
add_error_code(const CliDescription *d, const CliOutput *out, const CliRunFacts *f,
			   cJSON *result)
{
	char	   *h = haystack(out, f);
	char		when[256];
	time_t		at;

	if (out->max_turns ||
		(d->parser->max_turns_exit_code && f->exited && f->exit_code == d->parser->max_turns_exit_code))
	{
		cJSON_AddStringToObject(result, "errorCode", PC_ERR_MAX_TURNS);
		cJSON_AddBoolToObject(result, "clearSession", true);
	}
	else if (cli_regex_match(d->login_re, h, NULL, 0))
		cJSON_AddStringToObject(result, "errorCode", d->auth_code);
	else if (cli_regex_match(d->transient_re, h, NULL, 0))
	{
		cJSON_AddStringToObject(result, "errorCode", d->transient_code);
		cJSON_AddStringToObject(result, "errorFamily", PC_ERROR_FAMILY_TRANSIENT);
		if (cli_regex_match(d->retry_at_re, h, when, sizeof(when)) &&
			cli_parse_retry_time(when, f->now, &at))
		{
			struct tm	tm;
			char		iso[32];

			gmtime_r(&at, &tm);
			strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
			cJSON_AddStringToObject(result, "retryNotBefore", iso);
		}
	}
	free(h);
}

/* The provider: the description's, the parser's, or the model's "provider/" part. */
static char *
provider_of(const CliDescription *d, const char *model)
{
	const char *slash;

	if (d->provider)
		return strdup(d->provider);
	if (d->parser->provider)
		return strdup(d->parser->provider);
	if (model && (slash = strchr(model, '/')) != NULL && slash > model)
		return strndup(model, slash - model);
	return NULL;
}

static void
add_session(const CliOutput *out, const CliRunFacts *f, cJSON *result)
{
	cJSON	   *params;

	if (out->session_id == NULL || cJSON_GetObjectItemCaseSensitive(result, "clearSession"))
		return;
	cJSON_AddStringToObject(result, "sessionId", out->session_id);
	params = cJSON_AddObjectToObject(result, "sessionParams");
	cJSON_AddStringToObject(params, "sessionId", out->session_id);
	cJSON_AddStringToObject(params, "cwd", f->cwd ? f->cwd : "");
	cJSON_AddStringToObject(result, "sessionDisplayId", out->session_id);
}

void
cli_outcome(const CliDescription *d, const CliOutput *out, const CliRunFacts *f, cJSON *result)
{
	bool		ok = succeeded(d, out, f);
	const char *model = out->model ? out->model : f->config_model;
	char	   *provider = provider_of(d, model);
	TextBuf		summary;

	if (ok)
		cJSON_AddNumberToObject(result, "exitCode", 0);
	else if (f->exited)
		cJSON_AddNumberToObject(result, "exitCode", f->exit_code);
	else
		cJSON_AddNullToObject(result, "exitCode");
	if (ok && f->exited && f->exit_code != 0)
		cJSON_AddNumberToObject(result, "processExitCode", f->exit_code);	/* what the OS said */
	if (!ok && !f->timed_out && !f->cancelled)
	{
		add_error_message(d, out, f, result);
		add_error_code(d, out, f, result);
	}

	if (out->has_usage)
	{
		cJSON	   *usage = cJSON_AddObjectToObject(result, "usage");

		cJSON_AddNumberToObject(usage, "inputTokens", out->input_tokens);
		cJSON_AddNumberToObject(usage, "cachedInputTokens", out->cached_input_tokens);
		cJSON_AddNumberToObject(usage, "outputTokens", out->output_tokens);
	}
	if (out->has_cost)
		cJSON_AddNumberToObject(result, "costUsd", out->cost_usd);
	else if (!d->parser->cost_reported)
		cJSON_AddNullToObject(result, "costUsd");

	add_session(out, f, result);
	if (provider)
	{
		cJSON_AddStringToObject(result, "provider", provider);
		cJSON_AddStringToObject(result, "biller", provider);
	}
	if (model)
		cJSON_AddStringToObject(result, "model", model);
	cJSON_AddStringToObject(result, "billingType", f->api_key_set ? "api" : "subscription");

	textbuf_init(&summary, CLI_SUMMARY_MAX);
	textbuf_puts(&summary, out->final_text && out->final_text[0] ? out->final_text
				 : textbuf_str(&out->texts));
	if (summary.len > 0)
		cJSON_AddStringToObject(result, "summary", textbuf_str(&summary));
	textbuf_free(&summary);
	free(provider);
}
