/*-------------------------------------------------------------------------
 * adapters/cli_run.c
 *	  The run of a coding-agent CLI (claude_local, codex_local, cli): reads
 *	  the common adapter_config keys, decides whether the saved session is
 *	  resumed (a session id is saved and its cwd is empty or this run's),
 *	  renders the prompt (the bootstrap template only for a fresh session;
 *	  the instructions file's text first when the CLI takes it in the
 *	  prompt), builds the command line from the CLI's description, and runs
 *	  it through agent.c -- the same isolation, limits, log and cleanup as
 *	  the process adapter -- with the prompt on stdin (then closed) or as
 *	  the last argument, the parser reading its output line by line as it
 *	  streams. A resumed run whose CLI says the session is unknown is run
 *	  once more without resuming (one log line says so); if that run yields
 *	  no session, the result clears the saved one.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"

#define PLAIN_LINE_MAX 4096		/* of a non-JSON stdout line, kept for the regexes */
#define STDERR_KEPT (64 * 1024)

/* The adapter_config keys every CLI adapter takes (adapters.md). */
typedef struct CliConfig
{
	const char *command;
	char		resolved[PATH_MAX];
	const char *model;
	const char *cwd;
	cJSON	   *env;
	cJSON	   *extra_args;
	const char *prompt_template;
	const char *bootstrap_template;
	const char *instructions_path;
	double		timeout_sec;
	double		grace_sec;
} CliConfig;

/* One invocation of the CLI and what it printed. */
typedef struct Invocation
{
	const CliParser *parser;
	CliOutput	out;
	TextBuf		plain;			/* non-JSON stdout */
	TextBuf		stderr_text;
	AgentExit	x;
} Invocation;

/* ---------------------------------------------------------------------
 * Configuration
 * ---------------------------------------------------------------------
 */

static cJSON *
config_error(const char *key, const char *why)
{
	return make_error_result(PC_ERR_CONFIG, "adapter_config.%s %s", key, why);
}

/* A string key: NULL when absent or null; false when of another type. */
static bool
opt_string(const cJSON *config, const char *key, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsString(v))
		return false;
	*out = v->valuestring;
	return true;
}

static bool
opt_seconds(const cJSON *config, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);

	if (v == NULL || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0)
		return false;
	*out = v->valuedouble;
	return true;
}

static bool
opt_strings(const cJSON *config, const char *key, bool object, cJSON **out)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(config, key);
	cJSON	   *e;

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return true;
	if (object ? !cJSON_IsObject(v) : !cJSON_IsArray(v))
		return false;
	cJSON_ArrayForEach(e, v)
		if (!cJSON_IsString(e))
		return false;
	*out = v;
	return true;
}

static cJSON *
read_config(const cJSON *config, const CliDescription *d, CliConfig *c)
{
	static const char *const strings[] = {"command", "model", "cwd", "promptTemplate",
	"bootstrapPromptTemplate", "instructionsFilePath"};
	const char **fields[] = {&c->command, &c->model, &c->cwd, &c->prompt_template,
	&c->bootstrap_template, &c->instructions_path};
	int			i;

	memset(c, 0, sizeof(*c));
	c->grace_sec = CLI_DEFAULT_GRACE_SEC;
	if (!cJSON_IsObject(config))
		return config_error("", "must be an object");
	/* {} is "not configured yet": nobody chose to run a program */
	if (config->child == NULL)
		return make_error_result(PC_ERR_CONFIG, "adapter_config is empty: the agent is not configured yet");
	for (i = 0; i < 6; i++)
		if (!opt_string(config, strings[i], fields[i]))
			return config_error(strings[i], "must be a string");
	if (c->command == NULL || c->command[0] == '\0')
		c->command = d->default_command;
	if (c->command == NULL)
		return config_error("command", "is required");
	if (c->model && c->model[0] == '\0')
		c->model = NULL;
	if (c->cwd && c->cwd[0] == '\0')
		c->cwd = NULL;
	if (c->cwd && c->cwd[0] != '/')
		return config_error("cwd", "must be an absolute path");
	if (c->instructions_path && c->instructions_path[0] == '\0')
		c->instructions_path = NULL;
	if (c->instructions_path && c->instructions_path[0] != '/')
		return config_error("instructionsFilePath", "must be an absolute path");
	if (!opt_strings(config, "env", true, &c->env))
		return config_error("env", "must be an object of strings");
	if (!opt_strings(config, "extraArgs", false, &c->extra_args))
		return config_error("extraArgs", "must be an array of strings");
	if (!opt_seconds(config, "timeoutSec", &c->timeout_sec))
		return config_error("timeoutSec", "must be a number >= 0");
	if (!opt_seconds(config, "graceSec", &c->grace_sec))
		return config_error("graceSec", "must be a number >= 0");
	return NULL;
}

/* ---------------------------------------------------------------------
 * Session, prompt, environment
 * ---------------------------------------------------------------------
 */

/* The same directory: the same path, or the same file once resolved. */
static bool
same_dir(const char *a, const char *b)
{
	char		ra[PATH_MAX],
				rb[PATH_MAX];
	size_t		la = strlen(a),
				lb = strlen(b);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	if (la == lb && strncmp(a, b, la) == 0)
		return true;
	return realpath(a, ra) != NULL && realpath(b, rb) != NULL && strcmp(ra, rb) == 0;
}

/*
 * The session to resume, or NULL: a saved session id, and the saved cwd
 * empty or this run's.
 */
static const char *
session_to_resume(const RunSpec *spec, const CliDescription *d, const CliConfig *c)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(spec->json, PC_SPEC_SESSION_PARAMS);
	const char *id = spec->session_id;
	const char *saved_cwd = cj_str(params, "cwd");

	if (!d->can_resume)
		return NULL;
	if (id == NULL || id[0] == '\0')
		id = cj_str(params, "sessionId");
	if (id == NULL || id[0] == '\0')
		return NULL;
	if (saved_cwd && saved_cwd[0] && !same_dir(saved_cwd, c->cwd ? c->cwd : ""))
		return NULL;
	return id;
}

/* {agentId, companyId, runId, agent:{id,name}, company:{id}, run:{id,source}, context} */
static cJSON *
prompt_scope(const RunSpec *spec)
{
	cJSON	   *s = cJSON_CreateObject();
	cJSON	   *agent = cJSON_AddObjectToObject(s, "agent");
	cJSON	   *company = cJSON_AddObjectToObject(s, "company");
	cJSON	   *run = cJSON_AddObjectToObject(s, "run");
	const char *name = cj_str(spec->json, PC_SPEC_AGENT_NAME);
	const char *source = cj_str(spec->json, PC_SPEC_RUN_SOURCE);

	cJSON_AddStringToObject(s, "agentId", spec->agent_id ? spec->agent_id : "");
	cJSON_AddStringToObject(s, "companyId", spec->company_id ? spec->company_id : "");
	cJSON_AddStringToObject(s, "runId", spec->run_id);
	cJSON_AddStringToObject(agent, "id", spec->agent_id ? spec->agent_id : "");
	cJSON_AddStringToObject(agent, "name", name ? name : "");
	cJSON_AddStringToObject(company, "id", spec->company_id ? spec->company_id : "");
	cJSON_AddStringToObject(run, "id", spec->run_id);
	cJSON_AddStringToObject(run, "source", source ? source : "");
	cJSON_AddItemToObject(s, "context", spec->context ? cJSON_Duplicate(spec->context, 1)
						  : cJSON_CreateObject());
	return s;
}

/*
 * Open path for reading as any user could read it, or return -1 with why
 * set. The runner may read more than the agents' OS user may: it reads for
 * an agent only a regular file readable by others whose every directory
 * others may search. Symbolic links in the configured path are resolved
 * first (realpath); the result is then walked from the root one component
 * at a time, never following a link, and each check is made on what was
 * opened: a directory the agent swaps for a symbolic link meanwhile (into
 * the data directory, say) fails the walk instead of being followed, and a
 * file swapped for a FIFO cannot block the open.
 */
static int
open_readable_by_anyone(const char *path, const char **why)
{
	char		real[PATH_MAX];
	char	   *name,
			   *next,
			   *save = NULL;
	struct stat st;
	int			dir,
				fd;

	if (realpath(path, real) == NULL)
	{
		*why = strerror(errno);
		return -1;
	}
	if ((dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
	{
		*why = strerror(errno);
		return -1;
	}
	for (name = strtok_r(real, "/", &save); name != NULL; name = next)
	{
		next = strtok_r(NULL, "/", &save);
		if (fstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || !(st.st_mode & S_IXOTH))
		{
			*why = "in a directory other users cannot enter";
			close(dir);
			return -1;
		}
		fd = openat(dir, name, (next ? O_PATH | O_DIRECTORY : O_RDONLY | O_NOCTTY | O_NONBLOCK) |
					O_NOFOLLOW | O_CLOEXEC);
		close(dir);
		if (fd < 0)
		{
			*why = errno == ELOOP || errno == ENOTDIR ? "a symbolic link appeared in its path" :
				strerror(errno);
			return -1;
		}
		dir = fd;
	}
	/* dir is the file now (realpath names a file: at least one component) */
	if (fstat(dir, &st) != 0 || !S_ISREG(st.st_mode))
		*why = "not a regular file";
	else if (!(st.st_mode & S_IROTH))
		*why = "not readable by other users";
	else
		return dir;
	close(dir);
	return -1;
}

/* The instructions file's text (capped), or NULL with a note why not. */
static char *
read_instructions(const char *path, AgentOutput *o)
{
	const char *why = NULL;
	int			fd = open_readable_by_anyone(path, &why);
	TextBuf		b;
	char		buf[65536];
	ssize_t		n;
	char		note[PATH_MAX + 128];

	if (fd < 0)
	{
		snprintf(note, sizeof(note), "paperclip: instructions file %s not read: %s", path, why);
		agent_output_note(o, note);
		return NULL;
	}
	textbuf_init(&b, CLI_INSTRUCTIONS_MAX);
	while ((n = read(fd, buf, sizeof(buf))) > 0 && !b.truncated)
		textbuf_append(&b, buf, n);
	close(fd);
	if (b.truncated)
	{
		snprintf(note, sizeof(note), "paperclip: instructions file %s cut at %d bytes", path,
				 CLI_INSTRUCTIONS_MAX);
		agent_output_note(o, note);
	}
	return b.data ? b.data : strdup("");
}

/* A section of the prompt, without the blank lines around it. */
static void
add_section(TextBuf *prompt, const char *text)
{
	size_t		len;

	if (text == NULL)
		return;
	while (*text == '\n' || *text == '\r')
		text++;
	len = strlen(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
					   text[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	if (prompt->len > 0)
		textbuf_puts(prompt, "\n\n");
	textbuf_append(prompt, text, len);
}

/* Sections joined by a blank line: instructions, bootstrap (fresh only), prompt. */
static char *
render_prompt(const CliConfig *c, const cJSON *scope, const char *instructions, bool fresh)
{
	TextBuf		prompt;
	char	   *part;

	textbuf_init(&prompt, CLI_PROMPT_MAX);
	add_section(&prompt, instructions);
	if (fresh && c->bootstrap_template)
	{
		part = template_render(c->bootstrap_template, scope);
		add_section(&prompt, part);
		free(part);
	}
	part = template_render(c->prompt_template ? c->prompt_template : CLI_DEFAULT_PROMPT, scope);
	add_section(&prompt, part);
	free(part);
	return prompt.data ? prompt.data : strdup("");
}

/* Is one of the provider's API-key variables set in the agent's env? */
static bool
api_key_set(const CliDescription *d, const CliConfig *c)
{
	int			i;

	for (i = 0; i < 4 && d->api_key_env[i]; i++)
	{
		const char *v = cj_str(c->env, d->api_key_env[i]);

		if (v && v[0])
			return true;
	}
	return false;
}

/* The context's wake payload (Paperclip's "paperclipWake"), as JSON. */
static char *
wake_payload(const RunSpec *spec)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec->context, "paperclipWake");

	if (v == NULL || cJSON_IsNull(v))
		v = cJSON_GetObjectItemCaseSensitive(spec->context, "wakePayload");
	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	return cJSON_PrintUnformatted(v);
}

/* ---------------------------------------------------------------------
 * Invocations
 * ---------------------------------------------------------------------
 */

static void
on_line(void *arg, const char *line, size_t len)
{
	Invocation *inv = arg;

	if (line[0] == '{')
		cli_output_line(inv->parser, &inv->out, line, len);
	else
	{
		textbuf_append(&inv->plain, line, len);
		textbuf_puts(&inv->plain, "\n");
	}
}

static void
invocation_init(Invocation *inv, const CliParser *parser)
{
	memset(inv, 0, sizeof(*inv));
	inv->parser = parser;
	cli_output_init(&inv->out);
	textbuf_init(&inv->plain, CLI_PLAIN_MAX);
	textbuf_init(&inv->stderr_text, STDERR_KEPT);
}

static void
invocation_free(Invocation *inv)
{
	free(inv->x.result_file);	/* a CLI's result file is not read */
	inv->x.result_file = NULL;
	cli_output_free(&inv->out);
	textbuf_free(&inv->plain);
	textbuf_free(&inv->stderr_text);
}

static void
send_meta(const CliDescription *d, const CliConfig *c, char **argv, const char *resume,
		  size_t prompt_len, bool retry)
{
	cJSON	   *f = cJSON_CreateObject();
	cJSON	   *m = cJSON_AddObjectToObject(f, "meta");
	cJSON	   *args = cJSON_AddArrayToObject(m, "args");
	cJSON	   *keys = cJSON_AddArrayToObject(m, "envKeys");
	cJSON	   *e;
	int			i;

	cJSON_AddStringToObject(f, "type", PC_FRAME_META);
	cJSON_AddStringToObject(m, "adapterType", d->adapter_type);
	cJSON_AddStringToObject(m, "command", c->resolved);
	for (i = 1; argv[i]; i++)
		cJSON_AddItemToArray(args, cJSON_CreateString(d->prompt_as_arg && argv[i + 1] == NULL
													  ? "<prompt>" : argv[i]));
	if (c->cwd)
		cJSON_AddStringToObject(m, "cwd", c->cwd);
	else
		cJSON_AddNullToObject(m, "cwd");
	if (c->env)
		cJSON_ArrayForEach(e, c->env)
			cJSON_AddItemToArray(keys, cJSON_CreateString(e->string));	/* names only */
	cJSON_AddStringToObject(m, "parser", d->parser->name);
	cJSON_AddStringToObject(m, "promptVia", d->prompt_as_arg ? "arg" : "stdin");
	cJSON_AddNumberToObject(m, "promptBytes", (double) prompt_len);
	if (resume)
		cJSON_AddStringToObject(m, "resumeSessionId", resume);
	else
		cJSON_AddNullToObject(m, "resumeSessionId");
	if (retry)
		cJSON_AddBoolToObject(m, "freshSessionRetry", true);
	cJSON_AddNumberToObject(m, "timeoutSec", c->timeout_sec);
	cJSON_AddNumberToObject(m, "graceSec", c->grace_sec);
	frame_send(f, true);
	cJSON_Delete(f);
}

typedef struct CliRun
{
	const RunSpec *spec;
	const CliDescription *d;
	const CliConfig *c;
	cJSON	   *scope;			/* of the prompt */
	char	   *instructions;	/* text put in the prompt, or NULL */
	AgentEnv	env;
	AgentOutput output;
	int			sigfd;
	long long	deadline_ms;	/* of the whole run, 0: none */
} CliRun;

/* Run the CLI once, resuming session (or fresh when NULL). */
static cJSON *
invoke(CliRun *r, const char *session, bool retry, Invocation *inv)
{
	const CliConfig *c = r->c;
	cJSON	   *args_scope = cJSON_CreateObject();
	char	   *prompt = render_prompt(c, r->scope, r->instructions, session == NULL);
	char	  **argv;
	AgentProgram p;
	cJSON	   *err;

	cJSON_AddItemToObject(args_scope, "config", cJSON_Duplicate(r->spec->config, 1));
	if (c->model)
		cJSON_AddStringToObject(args_scope, "model", c->model);
	if (c->cwd)
		cJSON_AddStringToObject(args_scope, "cwd", c->cwd);
	cJSON_AddBoolToObject(args_scope, "resume", session != NULL);
	if (session)
		cJSON_AddStringToObject(args_scope, "sessionId", session);
	if (c->instructions_path)
		cJSON_AddStringToObject(args_scope, "instructionsFilePath", c->instructions_path);
	if (c->extra_args)
		cJSON_AddItemToObject(args_scope, "extraArgs", cJSON_Duplicate(c->extra_args, 1));
	cJSON_AddStringToObject(args_scope, "runId", r->spec->run_id);
	cJSON_AddStringToObject(args_scope, "agentId", r->spec->agent_id ? r->spec->agent_id : "");
	cJSON_AddStringToObject(args_scope, "companyId", r->spec->company_id ? r->spec->company_id : "");

	argv = prompt ? cli_build_args(r->d, args_scope, c->extra_args, session != NULL, prompt) : NULL;
	cJSON_Delete(args_scope);
	if (argv == NULL)
	{
		free(prompt);
		return make_error_result(PC_ERR_SPAWN, "out of memory building the command line");
	}
	free(argv[0]);
	argv[0] = strdup(c->resolved);

	memset(&p, 0, sizeof(p));
	p.path = c->resolved;
	p.argv = argv;
	p.envp = r->env.v;
	p.cwd = c->cwd;
	if (!r->d->prompt_as_arg)
	{
		p.stdin_data = prompt;
		p.stdin_len = strlen(prompt);
	}
	p.timeout_sec = c->timeout_sec;
	if (r->deadline_ms)
	{
		long long	left = r->deadline_ms - now_ms();

		p.timeout_sec = left > 1 ? left / 1000.0 : 0.001;
	}
	p.grace_sec = c->grace_sec;
	/* a resumed session the CLI does not know is run once more, fresh */
	p.may_run_again = session != NULL && !retry;
	p.on_line = on_line;
	p.arg = inv;
	p.max_line = CLI_LINE_MAX;
	p.plain_max = PLAIN_LINE_MAX;
	p.stderr_copy = &inv->stderr_text;

	send_meta(r->d, c, argv, session, strlen(prompt), retry);
	err = agent_run(&p, &r->output, r->sigfd, &inv->x);
	cli_free_args(argv);
	free(prompt);
	if (err == NULL && inv->x.lines_too_long > 0)
	{
		char		note[160];

		snprintf(note, sizeof(note), "paperclip: %llu output line(s) longer than %d bytes were not parsed",
				 (unsigned long long) inv->x.lines_too_long, CLI_LINE_MAX);
		agent_output_note(&r->output, note);
	}
	return err;
}

static CliRunFacts
facts_of(const CliRun *r, const Invocation *inv, bool resumed)
{
	CliRunFacts f = {0};

	f.exited = WIFEXITED(inv->x.status);
	f.exit_code = f.exited ? WEXITSTATUS(inv->x.status) : -1;
	f.timed_out = inv->x.timed_out;
	f.cancelled = inv->x.cancelled;
	f.resumed = resumed;
	f.cwd = r->c->cwd ? r->c->cwd : "";
	f.config_model = r->c->model;
	f.api_key_set = api_key_set(r->d, r->c);
	f.stderr_text = textbuf_str(&inv->stderr_text);
	f.plain_stdout = textbuf_str(&inv->plain);
	f.now = time(NULL);
	return f;
}

/* The adapter result of the invocation that counts. */
static cJSON *
build_result(const CliRun *r, const Invocation *inv, const CliRunFacts *f)
{
	cJSON	   *result = cJSON_CreateObject();

	cli_outcome(r->d, &inv->out, f, result);
	if (WIFSIGNALED(inv->x.status))
		cJSON_AddStringToObject(result, "signal", agent_signal_name(WTERMSIG(inv->x.status)));
	else
		cJSON_AddNullToObject(result, "signal");
	cJSON_AddBoolToObject(result, "timedOut", f->timed_out);
	if (f->cancelled)
	{
		cJSON_AddStringToObject(result, "errorCode", PC_ERR_CANCELLED);
		cJSON_AddStringToObject(result, "errorMessage", "Cancelled by control plane");
	}
	else if (f->timed_out)
	{
		char		msg[64];

		snprintf(msg, sizeof(msg), "Timed out after %g s", r->c->timeout_sec);
		cJSON_AddStringToObject(result, "errorMessage", msg);
	}
	return result;
}

/* ---------------------------------------------------------------------
 * The adapter
 * ---------------------------------------------------------------------
 */

static cJSON *
describe(const RunSpec *spec, CliDescription *d)
{
	const char *why;

	if (strcmp(spec->adapter_type, PC_ADAPTER_CLAUDE) == 0)
		return cli_describe_claude(d) ? NULL : make_error_result(PC_ERR_CONFIG, "out of memory");
	if (strcmp(spec->adapter_type, PC_ADAPTER_CODEX) == 0)
		return cli_describe_codex(d) ? NULL : make_error_result(PC_ERR_CONFIG, "out of memory");
	if (!cJSON_IsObject(spec->config))
		return make_error_result(PC_ERR_CONFIG, "adapter_config must be an object");
	if ((why = cli_describe_config(d, spec->config)) != NULL)
		return make_error_result(PC_ERR_CONFIG, "%s", why);
	return NULL;
}

cJSON *
cli_adapter_run(const RunSpec *spec, int sigfd)
{
	CliDescription d;
	CliConfig	c;
	CliRun		r;
	Invocation	inv;
	CliRunFacts f;
	const char *session;
	cJSON	   *err;
	cJSON	   *result;
	char	   *payload;
	bool		retried = false;

	memset(&r, 0, sizeof(r));
	if ((err = describe(spec, &d)) != NULL)
		return err;
	if ((err = read_config(spec->config, &d, &c)) != NULL ||
		(err = agent_resolve(spec, c.command, c.cwd, c.resolved)) != NULL)
	{
		cli_description_free(&d);
		return err;
	}
	r.spec = spec;
	r.d = &d;
	r.c = &c;
	r.sigfd = sigfd;
	if (c.timeout_sec > 0)
		r.deadline_ms = now_ms() + (long long) (c.timeout_sec * 1000);
	r.scope = prompt_scope(spec);
	agent_output_open(&r.output, spec);
	if (c.instructions_path && d.instructions_in_prompt)
		r.instructions = read_instructions(c.instructions_path, &r.output);
	agent_env_init(&r.env, spec, c.env, c.cwd);
	if ((payload = wake_payload(spec)) != NULL)
		agent_env_set(&r.env, "PAPERCLIP_WAKE_PAYLOAD_JSON", payload);
	free(payload);

	session = session_to_resume(spec, &d, &c);
	agent_env_set(&r.env, "PAPERCLIP_SESSION_ID", session ? session : "");
	invocation_init(&inv, d.parser);
	err = r.env.failed ? make_error_result(PC_ERR_SPAWN, "out of memory") : invoke(&r, session, false, &inv);
	f = facts_of(&r, &inv, session != NULL);
	if (err == NULL && cli_unknown_session(&d, &inv.out, &f) &&
		(r.deadline_ms == 0 || r.deadline_ms - now_ms() > 1000))
	{
		char		note[512];

		snprintf(note, sizeof(note),
				 "paperclip: %s does not know session %.200s; running it once more with a fresh session",
				 d.label, session);
		agent_output_note(&r.output, note);
		invocation_free(&inv);
		invocation_init(&inv, d.parser);
		retried = true;
		agent_env_set(&r.env, "PAPERCLIP_SESSION_ID", "");
		err = invoke(&r, NULL, true, &inv);
		f = facts_of(&r, &inv, false);
	}

	if (err != NULL)
		result = err;
	else
	{
		result = build_result(&r, &inv, &f);
		if (retried)
		{
			cJSON_AddBoolToObject(result, "freshSessionRetry", true);
			if (inv.out.session_id == NULL && !cJSON_GetObjectItemCaseSensitive(result, "clearSession"))
				cJSON_AddBoolToObject(result, "clearSession", true);
		}
	}
	agent_output_finish(&r.output, result);

	invocation_free(&inv);
	agent_env_free(&r.env);
	free(r.instructions);
	cJSON_Delete(r.scope);
	cli_description_free(&d);
	return result;
}
