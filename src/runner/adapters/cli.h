/*-------------------------------------------------------------------------
 * cli.h
 *	  The coding-agent CLI adapters of paperclip_runner: claude_local,
 *	  codex_local and the data-described "cli". One engine runs all three:
 *	  a CLI is a description (command line template with conditional flags,
 *	  prompt on stdin or as last argument, resume arguments, a parser kind,
 *	  regular expressions for unknown session / login required / transient
 *	  errors); claude_local and codex_local are built-in descriptions
 *	  (claude.c, codex.c), "cli" reads its description from adapter_config
 *	  (cli.c). The parsers (parse_*.c, one per output kind) turn the CLI's
 *	  JSON lines, one at a time as they stream, into a CliOutput.
 *
 *	  Everything here but cli_run.c (the run itself) is pure (no process, no frame): the unit
 *	  tests in test/unit link it alone.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_RUNNER_CLI_H
#define PAPERCLIP_RUNNER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "lines.h"
#include "protocol.h"

/* caps of what the result carries, so it stays far below finalize's 1 MB */
#define CLI_SUMMARY_MAX (32 * 1024)
#define CLI_ERROR_MAX (4 * 1024)
#define CLI_ERRORS_MAX (64 * 1024)	/* error texts kept for the regexes */
#define CLI_PLAIN_MAX (64 * 1024)	/* non-JSON stdout kept for the regexes */
#define CLI_LINE_MAX (64 * 1024 * 1024)	/* a longer JSON line is skipped */
#define CLI_PROMPT_MAX (8 * 1024 * 1024)
#define CLI_INSTRUCTIONS_MAX (1024 * 1024)
#define CLI_DEFAULT_GRACE_SEC 20
#define CLI_DEFAULT_PROMPT \
	"You are agent {{agent.id}} ({{agent.name}}). Continue your Paperclip work."

/* ---------------------------------------------------------------------
 * Parsers (parse_*.c, registry in cli_output.c)
 * ---------------------------------------------------------------------
 */

typedef enum CliTerminal
{
	CLI_END_NONE,				/* no line said how the run ended */
	CLI_END_SUCCESS,
	CLI_END_FAILURE
} CliTerminal;

/* What a CLI's output said, accumulated line by line. */
typedef struct CliOutput
{
	char	   *session_id;
	char	   *model;
	bool		has_usage;
	double		input_tokens;
	double		cached_input_tokens;
	double		output_tokens;
	bool		has_cost;
	double		cost_usd;
	TextBuf		texts;			/* assistant texts, joined by blank lines */
	bool		texts_delta;	/* the last text was a delta: glue the next on */
	char	   *final_text;		/* the result's text / the last agent message */
	char	   *error_message;	/* the last error message */
	TextBuf		errors;			/* every error text, for classification */
	char	   *subtype;		/* Claude's result subtype */
	bool		max_turns;		/* the CLI ran out of turns */
	CliTerminal end;
	long		json_lines;		/* lines that were JSON objects */
} CliOutput;

typedef void (*CliFeedFn) (CliOutput *out, const cJSON *event);

typedef struct CliParser
{
	const char *name;			/* the "parser" value of a cli description */
	CliFeedFn	feed;
	const char *provider;		/* or NULL: from the model ("provider/model") */
	int			max_turns_exit_code;	/* 0: none */
	bool		cost_reported;	/* false: costUsd is null */
	bool		needs_end;		/* success only with a line saying so */
} CliParser;

extern const CliParser cli_parser_claude_stream_json;
extern const CliParser cli_parser_codex_jsonl;
extern const CliParser cli_parser_opencode_jsonl;
extern const CliParser cli_parser_gemini_stream_json;

extern const CliParser *cli_parser_find(const char *name);
extern const char *cli_parser_names(void);
extern void cli_output_init(CliOutput *out);
extern void cli_output_free(CliOutput *out);
/* One line of output (NUL-terminated): parsed when it is a JSON object. */
extern void cli_output_line(const CliParser *parser, CliOutput *out, const char *line, size_t len);

/* helpers for the parsers */
extern const char *cj_str(const cJSON *obj, const char *key);
extern const cJSON *cj_obj(const cJSON *obj, const char *key);
extern bool cj_num(const cJSON *obj, const char *key, double *out);
extern void cli_set(char **field, const char *value);
extern void cli_add_text(CliOutput *out, const char *text, bool delta);
extern void cli_add_error(CliOutput *out, const char *message);

/* ---------------------------------------------------------------------
 * Templates (template.c)
 * ---------------------------------------------------------------------
 */

/* "{{ dotted.path }}" replaced from scope: missing -> "", string -> itself,
 * anything else -> its JSON. Returns malloc'd text, NULL only without memory. */
extern char *template_render(const char *tmpl, const cJSON *scope);
extern const cJSON *scope_get(const cJSON *scope, const char *path, size_t len);
/* true, a non-zero number, a non-empty string, array or object */
extern bool scope_truthy(const cJSON *v);

/* ---------------------------------------------------------------------
 * Descriptions (cli.c; built-ins in claude.c and codex.c)
 * ---------------------------------------------------------------------
 */

typedef struct CliDescription
{
	const char *adapter_type;
	const char *label;			/* "Claude", "Codex", or the cli's "name" */
	const char *default_command;
	cJSON	   *args;			/* template: strings, {"if"|"unless","args"}, {"each"} */
	cJSON	   *resume_args;	/* appended after args when resuming */
	bool		can_resume;
	bool		prompt_as_arg;	/* else on stdin */
	bool		instructions_in_prompt; /* else the args use instructionsFilePath */
	const CliParser *parser;
	const char *unknown_session_re;
	const char *login_re;
	const char *transient_re;
	const char *retry_at_re;	/* its first group is a time */
	const char *auth_code;		/* error codes this CLI's failures get */
	const char *transient_code;
	const char *provider;		/* NULL: the parser's */
	const char *api_key_env[4]; /* billingType "api" when one is set */
	cJSON	   *owned;			/* what the strings above point into */
} CliDescription;

extern bool cli_describe_claude(CliDescription *d);
extern bool cli_describe_codex(CliDescription *d);
/* NULL, or why the config is not a usable description (names the key). */
extern const char *cli_describe_config(CliDescription *d, const cJSON *config);
extern void cli_description_free(CliDescription *d);

/* argv (without argv[0]) rendered from the description over scope;
 * a malloc'd NULL-terminated array of malloc'd strings. */
extern char **cli_build_args(const CliDescription *d, const cJSON *scope, const cJSON *extra_args,
							 bool resume, const char *prompt);
extern void cli_free_args(char **args);

/* POSIX extended, case-insensitive: does re match text? */
extern bool cli_regex_match(const char *re, const char *text, char *group1, size_t group1_size);

/* ---------------------------------------------------------------------
 * Outcome (cli_outcome.c): the adapter result keys a CLI run produces
 * ---------------------------------------------------------------------
 */

typedef struct CliRunFacts
{
	bool		exited;			/* else killed by a signal */
	int			exit_code;
	bool		timed_out;
	bool		cancelled;
	bool		resumed;
	const char *cwd;			/* this run's cwd ("" when none) */
	const char *config_model;
	bool		api_key_set;
	const char *stderr_text;	/* tail of stderr */
	const char *plain_stdout;	/* non-JSON stdout, capped */
	time_t		now;
} CliRunFacts;

/* Does the output say the resumed session is unknown? */
extern bool cli_unknown_session(const CliDescription *d, const CliOutput *out,
								const CliRunFacts *f);
/* Add the result keys (exit code, error, usage, cost, session ...) to result. */
extern void cli_outcome(const CliDescription *d, const CliOutput *out, const CliRunFacts *f,
						cJSON *result);
/* A time in text ("3:45 PM", "15:45 (UTC)", ISO 8601) after now; false if none. */
extern bool cli_parse_retry_time(const char *text, time_t now, time_t *at);

/* cli_run.c: the adapter (claude_local, codex_local, cli), for runner_main.c */
struct RunSpec;
extern cJSON *cli_adapter_run(const struct RunSpec *spec, int sigfd);

#endif
