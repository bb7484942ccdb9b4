/*-------------------------------------------------------------------------
 * cli.c
 *	  The "cli" adapter: a CLI described by data in adapter_config. And what
 *	  every description (also the built-in claude_local and codex_local)
 *	  shares: rendering its command line, matching its regular expressions.
 *
 *	  An argument template is an array whose elements are
 *	    "text {{path}}"                    one argument, rendered
 *	    {"if": "path", "args": [...]}      those arguments when path is truthy
 *	    {"unless": "path", "args": [...]}  ... when it is not
 *	    {"each": "path"}                   every string of the array at path
 *	  over the scope {config, model, cwd, resume, sessionId,
 *	  instructionsFilePath, extraArgs, runId, agentId, companyId}. Then come
 *	  resumeArgs (when resuming), extraArgs (unless the template placed
 *	  them with {"each": "extraArgs"}), and the prompt when it is passed as
 *	  the last argument.
 *
 *	  Regular expressions are POSIX extended, case-insensitive, and match
 *	  within a line; adapter_config.c checks them with the same regcomp()
 *	  when the config is written.
 *-------------------------------------------------------------------------
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---------------------------------------------------------------------
 * Command lines
 * ---------------------------------------------------------------------
 */

typedef struct ArgList
{
	char	  **v;
	int			n;
	int			cap;
	bool		failed;
} ArgList;

static void
arg_push(ArgList *a, char *s)
{
	if (s == NULL)
	{
		a->failed = true;
		return;
	}
	if (a->n + 2 > a->cap)
	{
		int			cap = a->cap ? a->cap * 2 : 16;
		char	  **v = realloc(a->v, sizeof(char *) * cap);

		if (v == NULL)
		{
			free(s);
			a->failed = true;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void
render_args(ArgList *a, const cJSON *tmpl, const cJSON *scope)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, tmpl)
	{
		if (cJSON_IsString(e))
			arg_push(a, template_render(e->valuestring, scope));
		else if (cJSON_IsObject(e))
		{
			const char *cond = cj_str(e, "if");
			const char *unless = cj_str(e, "unless");
			const char *each = cj_str(e, "each");

			if (each)
			{
				const cJSON *list = scope_get(scope, each, strlen(each));
				const cJSON *s;

				if (cJSON_IsArray(list))
					cJSON_ArrayForEach(s, list)
						if (cJSON_IsString(s))
						arg_push(a, strdup(s->valuestring));
			}
			else if ((cond && scope_truthy(scope_get(scope, cond, strlen(cond)))) ||
					 (unless && !scope_truthy(scope_get(scope, unless, strlen(unless)))))
				render_args(a, cJSON_GetObjectItemCaseSensitive(e, "args"), scope);
		}
	}
}

/* Does the template place extraArgs itself? */
static bool
places_extra_args(const cJSON *tmpl)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, tmpl)
	{
		const char *each = cj_str(e, "each");

		if (each && strcmp(each, "extraArgs") == 0)
			return true;
		if (cJSON_IsObject(e) && places_extra_args(cJSON_GetObjectItemCaseSensitive(e, "args")))
			return true;
	}
	return false;
}

char	  **
cli_build_args(const CliDescription *d, const cJSON *scope, const cJSON *extra_args,
			   bool resume, const char *prompt)
{
	ArgList		a = {0};
	const cJSON *e;

	arg_push(&a, strdup(""));	/* room for argv[0], set by the caller */
	render_args(&a, d->args, scope);
	if (resume && d->resume_args)
		render_args(&a, d->resume_args, scope);
	if (!places_extra_args(d->args) && cJSON_IsArray(extra_args))
		cJSON_ArrayForEach(e, extra_args)
			if (cJSON_IsString(e))
			arg_push(&a, strdup(e->valuestring));
	if (d->prompt_as_arg)
		arg_push(&a, strdup(prompt ? prompt : ""));
	if (a.failed)
	{
		cli_free_args(a.v);
		return NULL;
	}
	return a.v;
}

void
cli_free_args(char **args)
{
	int			i;

	for (i = 0; args && args[i]; i++)
		free(args[i]);
	free(args);
}

/* ---------------------------------------------------------------------
 * Regular expressions
 * ---------------------------------------------------------------------
 */

bool
cli_regex_match(const char *re, const char *text, char *group1, size_t group1_size)
{
	regex_t		rx;
	regmatch_t	m[2];
	bool		found;

	if (group1 && group1_size)
		group1[0] = '\0';
	if (re == NULL || re[0] == '\0' || text == NULL)
		return false;
	if (regcomp(&rx, re, REG_EXTENDED | REG_ICASE | REG_NEWLINE) != 0)
		return false;
	found = regexec(&rx, text, 2, m, 0) == 0;
	if (found && group1 && group1_size && m[1].rm_so >= 0)
	{
		size_t		len = m[1].rm_eo - m[1].rm_so;

		if (len >= group1_size)
			len = group1_size - 1;
		memcpy(group1, text + m[1].rm_so, len);
		group1[len] = '\0';
	}
	regfree(&rx);
	return found;
}

/* ---------------------------------------------------------------------
 * "cli": the description in adapter_config
 * ---------------------------------------------------------------------
 */

/* NULL, or why the argument template under key is wrong. */
static const char *
check_template(const cJSON *tmpl, const char *key)
{
	static char why[160];
	const cJSON *e;

	if (!cJSON_IsArray(tmpl))
	{
		snprintf(why, sizeof(why), "adapter_config.%s must be an array", key);
		return why;
	}
	cJSON_ArrayForEach(e, tmpl)
	{
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args");
		const char *sub;

		if (cJSON_IsString(e) || (cJSON_IsObject(e) && cj_str(e, "each") && !args))
			continue;
		if (!cJSON_IsObject(e) || (!cj_str(e, "if") && !cj_str(e, "unless")))
		{
			snprintf(why, sizeof(why),
					 "adapter_config.%s elements must be strings or {\"if\"|\"unless\": path, \"args\": [...]} or {\"each\": path}",
					 key);
			return why;
		}
		if (!cJSON_IsArray(args))
		{
			snprintf(why, sizeof(why), "adapter_config.%s: a conditional needs \"args\": [...]", key);
			return why;
		}
		if ((sub = check_template(args, key)) != NULL)
			return sub;
	}
	return NULL;
}

static const char *
optional_string(const cJSON *config, const char *key, const char **out)
{
	static char why[128];
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsString(v))
	{
		snprintf(why, sizeof(why), "adapter_config.%s must be a string", key);
		return why;
	}
	*out = v->valuestring[0] ? v->valuestring : NULL;
	return NULL;
}

const char *
cli_describe_config(CliDescription *d, const cJSON *config)
{
	static char why[160];
	const char *err;
	const char *parser;
	const char *via;
	const cJSON *v;
	const char *const regex_keys[] = {"unknownSessionRegex", "loginRequiredRegex",
	"transientRegex", "retryAtRegex"};
	const char **regex_fields[] = {&d->unknown_session_re, &d->login_re,
	&d->transient_re, &d->retry_at_re};
	int			i;

	memset(d, 0, sizeof(*d));
	d->adapter_type = "cli";
	d->auth_code = PC_ERR_CLI_AUTH;
	d->transient_code = PC_ERR_CLI_TRANSIENT;
	d->can_resume = false;
	d->instructions_in_prompt = true;

	if ((err = optional_string(config, "parser", &parser)) != NULL)
		return err;
	d->parser = cli_parser_find(parser);
	if (d->parser == NULL)
	{
		snprintf(why, sizeof(why), "adapter_config.parser must be one of: %s", cli_parser_names());
		return why;
	}
	if ((err = optional_string(config, "name", &d->label)) != NULL)
		return err;
	if (d->label == NULL)
		d->label = "CLI";
	if ((err = optional_string(config, "provider", &d->provider)) != NULL)
		return err;
	d->default_command = NULL;	/* "command" is required */

	d->args = cJSON_GetObjectItemCaseSensitive(config, "args");
	if (d->args == NULL || cJSON_IsNull(d->args))
		d->args = NULL;
	else if ((err = check_template(d->args, "args")) != NULL)
		return err;
	d->resume_args = cJSON_GetObjectItemCaseSensitive(config, "resumeArgs");
	if (d->resume_args == NULL || cJSON_IsNull(d->resume_args))
		d->resume_args = NULL;
	else if ((err = check_template(d->resume_args, "resumeArgs")) != NULL)
		return err;
	d->can_resume = d->resume_args != NULL;

	if ((err = optional_string(config, "promptVia", &via)) != NULL)
		return err;
	if (via && strcmp(via, "stdin") != 0 && strcmp(via, "arg") != 0)
		return "adapter_config.promptVia must be \"stdin\" or \"arg\"";
	d->prompt_as_arg = via && strcmp(via, "arg") == 0;

	v = cJSON_GetObjectItemCaseSensitive(config, "instructionsInPrompt");
	if (v && !cJSON_IsNull(v))
	{
		if (!cJSON_IsBool(v))
			return "adapter_config.instructionsInPrompt must be a boolean";
		d->instructions_in_prompt = cJSON_IsTrue(v);
	}

	for (i = 0; i < 4; i++)
	{
		regex_t		rx;

		if ((err = optional_string(config, regex_keys[i], regex_fields[i])) != NULL)
			return err;
		if (*regex_fields[i] && regcomp(&rx, *regex_fields[i], REG_EXTENDED | REG_ICASE | REG_NEWLINE) != 0)
		{
			snprintf(why, sizeof(why), "adapter_config.%s is not a valid POSIX extended regular expression",
					 regex_keys[i]);
			return why;
		}
		if (*regex_fields[i])
			regfree(&rx);
	}

	v = cJSON_GetObjectItemCaseSensitive(config, "apiKeyEnv");
	if (cJSON_IsString(v))
		d->api_key_env[0] = v->valuestring;
	else if (cJSON_IsArray(v))
	{
		const cJSON *e;
		int			n = 0;

		cJSON_ArrayForEach(e, v)
		{
			if (!cJSON_IsString(e) || n >= 4)
				return "adapter_config.apiKeyEnv must be a name or an array of at most 4 names";
			d->api_key_env[n++] = e->valuestring;
		}
	}
	else if (v && !cJSON_IsNull(v))
		return "adapter_config.apiKeyEnv must be a name or an array of at most 4 names";
	return NULL;
}

void
cli_description_free(CliDescription *d)
{
	cJSON_Delete(d->owned);
	d->owned = NULL;
}
