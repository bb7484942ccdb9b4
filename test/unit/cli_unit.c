/*
 * Unit tests of paperclip_runner's CLI adapter pieces that need no process:
 * the streaming line reader, templates, the four output parsers (fed the
 * recordings of test/agents/recorded in chunks of every size), outcomes and
 * error codes, command lines of the built-in and data-described CLIs, retry
 * times, and the http adapter's classes of refused addresses. Prints TAP.
 * Usage: cli_unit <dir of the recordings>
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "adapters/cli.h"
#include "adapters/netaddr.h"

static int	n_tests = 0;
static int	n_failed = 0;
static const char *recorded_dir = "test/agents/recorded";

static void
ok(int cond, const char *fmt,...)
{
	va_list		ap;

	n_tests++;
	if (!cond)
		n_failed++;
	printf("%sok %d - ", cond ? "" : "not ", n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void
is_str(const char *got, const char *want, const char *what)
{
	int			same = (got == NULL && want == NULL) ||
		(got && want && strcmp(got, want) == 0);

	ok(same, "%s", what);
	if (!same)
		printf("#   got: '%s'\n#   expected: '%s'\n", got ? got : "(null)", want ? want : "(null)");
}

static void
is_num(double got, double want, const char *what)
{
	ok(got == want, "%s", what);
	if (got != want)
		printf("#   got: %g\n#   expected: %g\n", got, want);
}

/* A recording with @SESSION@ replaced; malloc'd. */
static char *
recording(const char *name, const char *session)
{
	char		path[1024];
	FILE	   *f;
	TextBuf		raw,
				out;
	char		buf[4096];
	size_t		n;
	const char *p;
	const char *at;

	snprintf(path, sizeof(path), "%s/%s", recorded_dir, name);
	if ((f = fopen(path, "r")) == NULL)
	{
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	textbuf_init(&raw, 0);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		textbuf_append(&raw, buf, n);
	fclose(f);
	textbuf_init(&out, 0);
	for (p = textbuf_str(&raw); (at = strstr(p, "@SESSION@")) != NULL; p = at + 9)
	{
		textbuf_append(&out, p, at - p);
		textbuf_puts(&out, session);
	}
	textbuf_puts(&out, p);
	textbuf_free(&raw);
	return out.data;
}

/* ------------------------------------------------------------------ */

typedef struct Collected
{
	int			n;
	char		lines[16][64];
	size_t		lens[16];
} Collected;

static void
collect(void *arg, const char *line, size_t len)
{
	Collected  *c = arg;

	if (c->n < 16)
	{
		snprintf(c->lines[c->n], sizeof(c->lines[0]), "%.*s", (int) (len < 60 ? len : 60), line);
		c->lens[c->n] = len;
	}
	c->n++;
}

static void
test_lines(void)
{
	LineReader	r;
	Collected	c = {0};
	const char *text = "banner line\n  {\"a\":1}\r\n{\"b\":\nnot json {\n\n{\"c\":3}";
	size_t		i;
	char	   *big;

	/* fed one byte at a time */
	lines_init(&r, collect, &c, 1024, 0);
	for (i = 0; i < strlen(text); i++)
		lines_feed(&r, text + i, 1);
	lines_finish(&r);
	lines_free(&r);
	ok(c.n == 3, "plain_max 0: three candidate lines of six (banners and blank lines skipped)");
	is_str(c.lines[0], "{\"a\":1}", "leading blanks and \\r are dropped");
	is_str(c.lines[1], "{\"b\":", "a cut JSON line is still handed over (the parser ignores it)");
	is_str(c.lines[2], "{\"c\":3}", "a last line without newline comes with finish()");

	/* a line over the cap is skipped whole and counted; the next one is fine */
	memset(&c, 0, sizeof(c));
	lines_init(&r, collect, &c, 100, 0);
	big = malloc(1000);
	big[0] = '{';
	memset(big + 1, 'x', 998);
	big[999] = '\n';
	lines_feed(&r, big, 1000);
	lines_feed(&r, "{\"after\":1}\n", 12);
	lines_free(&r);
	free(big);
	ok(c.n == 1 && strcmp(c.lines[0], "{\"after\":1}") == 0 && r.lines_too_long == 1,
	   "a line over max_line is skipped and counted, the next line parses");

	/* plain lines too, cut at plain_max (on a character) */
	memset(&c, 0, sizeof(c));
	lines_init(&r, collect, &c, 1024, 5);
	lines_feed(&r, "one\ntwo three four\n\xc3\xa9\xc3\xa9\xc3\xa9\n{\"json\":\"longer than five\"}\n", 54);
	lines_finish(&r);
	lines_free(&r);
	ok(c.n == 4, "plain_max 5: every line is handed over");
	is_str(c.lines[1], "two t", "a plain line is cut at plain_max");
	is_str(c.lines[2], "\xc3\xa9\xc3\xa9", "... on a character boundary");
	is_str(c.lines[3], "{\"json\":\"longer than five\"}", "JSON lines are kept whole");
}

static void
test_templates(void)
{
	cJSON	   *scope = cJSON_Parse("{\"agent\":{\"id\":\"a-1\",\"name\":\"Ada\"},"
									"\"run\":{\"id\":\"r-1\",\"source\":\"timer\"},"
									"\"context\":{\"issueId\":\"I-7\",\"n\":3,\"flag\":true,"
									"\"obj\":{\"k\":\"v\"},\"list\":[\"x\",\"y\"],\"nul\":null}}");
	char	   *s;

	s = template_render("You are agent {{agent.id}} ({{ agent.name }}).", scope);
	is_str(s, "You are agent a-1 (Ada).", "dotted paths, blanks inside braces");
	free(s);
	s = template_render("[{{context.missing}}][{{context.nul}}][{{nothing.at.all}}]", scope);
	is_str(s, "[][][]", "missing and null render as empty strings");
	free(s);
	s = template_render("{{context.n}} {{context.flag}} {{context.obj}} {{context.list}} {{context.list.1}}", scope);
	is_str(s, "3 true {\"k\":\"v\"} [\"x\",\"y\"] y", "numbers, booleans, objects and arrays as JSON; array index");
	free(s);
	s = template_render("{{run.source}} {{ unterminated", scope);
	is_str(s, "timer {{ unterminated", "text without closing braces stays");
	free(s);
	s = template_render(NULL, scope);
	is_str(s, "", "no template renders empty");
	free(s);
	ok(scope_truthy(scope_get(scope, "context.flag", 12)) && !scope_truthy(scope_get(scope, "context.nul", 11)) &&
	   !scope_truthy(scope_get(scope, "context.missing", 15)), "truthiness for conditional flags");
	cJSON_Delete(scope);
}

/* ------------------------------------------------------------------ */

typedef struct ParseCtx
{
	const CliParser *parser;
	CliOutput  *out;
} ParseCtx;

static void
parse_line_cb(void *arg, const char *line, size_t len)
{
	ParseCtx   *c = arg;

	cli_output_line(c->parser, c->out, line, len);
}

/* Parse text in pieces of chunk bytes, as it streams from a pipe. */
static void
parse_recording(const CliParser *parser, CliOutput *out, const char *text, size_t chunk)
{
	LineReader	r;
	ParseCtx	c = {parser, out};
	size_t		len = strlen(text);
	size_t		i;

	cli_output_init(out);
	lines_init(&r, parse_line_cb, &c, CLI_LINE_MAX, 0);
	for (i = 0; i < len; i += chunk)
		lines_feed(&r, text + i, len - i < chunk ? len - i : chunk);
	lines_finish(&r);
	lines_free(&r);
}

static CliRunFacts
facts(int exit_code)
{
	CliRunFacts f = {0};

	f.exited = true;
	f.exit_code = exit_code;
	f.cwd = "/work";
	f.now = 1800000000;			/* 2027-01-15T08:00:00Z */
	return f;
}

static cJSON *
outcome(const CliDescription *d, const CliOutput *out, const CliRunFacts *f)
{
	cJSON	   *r = cJSON_CreateObject();

	cli_outcome(d, out, f, r);
	return r;
}

static const char *
rs(const cJSON *r, const char *key)
{
	return cj_str(r, key);
}

static double
rn(const cJSON *r, const char *path)
{
	const cJSON *v = scope_get(r, path, strlen(path));

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void
test_claude(void)
{
	CliDescription d;
	CliOutput	out;
	CliRunFacts f;
	cJSON	   *r;
	char	   *text;
	static const size_t chunks[] = {1, 7, 64, 4096, 1 << 20};
	size_t		i;
	int			same = 1;

	cli_describe_claude(&d);

	text = recording("claude-success.jsonl", "sess-1");
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
	{
		parse_recording(d.parser, &out, text, chunks[i]);
		same &= out.end == CLI_END_SUCCESS && out.session_id && strcmp(out.session_id, "sess-1") == 0 &&
			out.input_tokens == 1200 && out.cached_input_tokens == 800 && out.output_tokens == 340;
		if (i + 1 < sizeof(chunks) / sizeof(chunks[0]))
			cli_output_free(&out);
	}
	ok(same, "claude-stream-json: the same result whatever the read sizes (1 byte to 1 MB)");
	f = facts(0);
	r = outcome(&d, &out, &f);
	is_num(rn(r, "exitCode"), 0, "claude success: exit code 0");
	ok(rs(r, "errorMessage") == NULL && rs(r, "errorCode") == NULL, "claude success: no error");
	is_num(rn(r, "usage.inputTokens"), 1200, "usage.inputTokens = input_tokens");
	is_num(rn(r, "usage.cachedInputTokens"), 800, "usage.cachedInputTokens = cache_read_input_tokens");
	is_num(rn(r, "usage.outputTokens"), 340, "usage.outputTokens = output_tokens");
	is_num(rn(r, "costUsd"), 0.0123, "costUsd = total_cost_usd");
	is_str(rs(r, "sessionId"), "sess-1", "sessionId from the stream");
	is_str(cj_str(cj_obj(r, "sessionParams"), "sessionId"), "sess-1", "sessionParams.sessionId");
	is_str(cj_str(cj_obj(r, "sessionParams"), "cwd"), "/work", "sessionParams.cwd is the run's cwd");
	is_str(rs(r, "sessionDisplayId"), "sess-1", "sessionDisplayId");
	is_str(rs(r, "model"), "claude-sonnet-4-5", "model from the init line");
	is_str(rs(r, "provider"), "anthropic", "provider anthropic");
	is_str(rs(r, "billingType"), "subscription", "billingType subscription without ANTHROPIC_API_KEY");
	is_str(rs(r, "summary"), "Done: the issue is fixed.", "summary is the result's text");
	cJSON_Delete(r);
	f.api_key_set = true;
	f.exit_code = 1;
	r = outcome(&d, &out, &f);
	is_str(rs(r, "billingType"), "api", "billingType api with the key set");
	is_num(rn(r, "exitCode"), 0, "a success result line wins over a non-zero exit code");
	is_num(rn(r, "processExitCode"), 1, "the process's own exit code is kept aside");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);

	/* no result line: the assistant texts are the summary, and it fails */
	text = strdup("{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\",\"model\":\"m\"}\n"
				  "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"one\"}]}}\n"
				  "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"two\"}]}}\n");
	parse_recording(d.parser, &out, text, 3);
	f = facts(0);
	r = outcome(&d, &out, &f);
	is_str(rs(r, "summary"), "one\n\ntwo", "without a result line the assistant texts, joined, are the summary");
	ok(rs(r, "errorMessage") != NULL, "... and without a result line the run failed");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);

	/* nothing parsed: "Claude exited with code n: <first stderr line>" */
	parse_recording(d.parser, &out, "segfault\n", 4);
	f = facts(2);
	f.stderr_text = "\n  fatal: cannot start\nmore\n";
	r = outcome(&d, &out, &f);
	is_str(rs(r, "errorMessage"), "Claude exited with code 2: fatal: cannot start",
		   "without a parsed line: the exit code and the first stderr line");
	is_num(rn(r, "exitCode"), 2, "the exit code is reported");
	cJSON_Delete(r);
	cli_output_free(&out);

	text = recording("claude-banner.jsonl", "sess-b");
	parse_recording(d.parser, &out, text, 5);
	f = facts(0);
	r = outcome(&d, &out, &f);
	ok(out.end == CLI_END_SUCCESS && out.json_lines == 3, "banner and broken lines are ignored (3 JSON lines of 7)");
	is_str(rs(r, "summary"), "Done after banners.", "the result line is found among banners");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);

	text = recording("claude-not-logged-in.jsonl", "sess-l");
	parse_recording(d.parser, &out, text, 4096);
	f = facts(1);
	r = outcome(&d, &out, &f);
	is_str(rs(r, "errorCode"), "claude_auth_required", "not logged in: claude_auth_required");
	is_str(rs(r, "errorMessage"), "Claude run failed: subtype=success: Invalid API key · Please run /login",
		   "the message says subtype and text");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);

	text = recording("claude-max-turns.jsonl", "sess-m");
	parse_recording(d.parser, &out, text, 4096);
	f = facts(1);
	r = outcome(&d, &out, &f);
	is_str(rs(r, "errorCode"), "max_turns_exhausted", "error_max_turns: max_turns_exhausted");
	ok(cJSON_IsTrue(cJSON_GetObjectItem(r, "clearSession")) && rs(r, "sessionId") == NULL,
	   "max turns clears the session");
	is_num(rn(r, "costUsd"), 0.5, "the cost of a failed run still counts");
	is_str(rs(r, "errorMessage"), "Claude run failed: subtype=error_max_turns", "message with the subtype");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);

	text = recording("claude-overloaded.jsonl", "sess-o");
	parse_recording(d.parser, &out, text, 4096);
	f = facts(1);
	r = outcome(&d, &out, &f);
	is_str(rs(r, "errorCode"), "claude_transient_upstream", "529 overloaded: claude_transient_upstream");
	is_str(rs(r, "errorFamily"), "transient_upstream", "errorFamily transient_upstream");
	is_str(rs(r, "retryNotBefore"), "2027-01-15T16:00:00Z", "retryNotBefore from \"resets 4pm (UTC)\"");
	ok(rs(r, "sessionId") != NULL && cJSON_GetObjectItem(r, "clearSession") == NULL,
	   "a transient failure keeps the session");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);

	/* unknown session: only when resuming, from stderr */
	parse_recording(d.parser, &out, "", 1);
	f = facts(1);
	text = recording("claude-unknown-session.stderr", "old-1");
	f.stderr_text = text;
	ok(!cli_unknown_session(&d, &out, &f), "unknown session is not checked for a fresh run");
	f.resumed = true;
	ok(cli_unknown_session(&d, &out, &f), "claude: \"No conversation found with session ID\" is an unknown session");
	f.stderr_text = "Error: session abc not found";
	ok(cli_unknown_session(&d, &out, &f), "claude: \"session ... not found\" too");
	f.stderr_text = "other trouble";
	ok(!cli_unknown_session(&d, &out, &f), "other failures are not");
	cli_output_free(&out);
	free(text);

	/* a 1 MB line: parsed whole, the summary capped */
	{
		size_t		big = 1024 * 1024;
		char	   *line = malloc(big + 400);
		int			len = sprintf(line, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
								  "\"session_id\":\"sess-big\",\"total_cost_usd\":0.01,"
								  "\"usage\":{\"input_tokens\":1,\"cache_read_input_tokens\":2,\"output_tokens\":3},"
								  "\"result\":\"");

		memset(line + len, 'y', big);
		strcpy(line + len + big, "\"}\n");
		parse_recording(d.parser, &out, line, 65536);
		f = facts(0);
		r = outcome(&d, &out, &f);
		ok(out.end == CLI_END_SUCCESS && rn(r, "usage.outputTokens") == 3, "a 1 MB result line is parsed");
		ok(rs(r, "summary") && strlen(rs(r, "summary")) == CLI_SUMMARY_MAX, "the summary is capped at %d bytes",
		   CLI_SUMMARY_MAX);
		cJSON_Delete(r);
		cli_output_free(&out);
		free(line);
	}
	cli_description_free(&d);
}

static void
test_codex(void)
{
	CliDescription d;
	CliOutput	out;
	CliRunFacts f;
	cJSON	   *r;
	char	   *text;

	cli_describe_codex(&d);
	text = recording("codex-success.jsonl", "thr-1");
	parse_recording(d.parser, &out, text, 13);
	f = facts(0);
	f.config_model = "gpt-5";
	r = outcome(&d, &out, &f);
	is_str(rs(r, "sessionId"), "thr-1", "codex: thread_id is the session");
	is_str(rs(r, "summary"), "Codex finished the task.", "codex: the last agent message is the summary");
	is_num(rn(r, "usage.inputTokens"), 2400, "codex: input_tokens");
	is_num(rn(r, "usage.cachedInputTokens"), 1024, "codex: cached_input_tokens");
	is_num(rn(r, "usage.outputTokens"), 180, "codex: output_tokens");
	ok(cJSON_IsNull(cJSON_GetObjectItem(r, "costUsd")), "codex: costUsd is null");
	is_str(rs(r, "provider"), "openai", "codex: provider openai");
	is_str(rs(r, "model"), "gpt-5", "codex: model from the config");
	cJSON_Delete(r);
	f.exit_code = 1;
	r = outcome(&d, &out, &f);
	is_num(rn(r, "exitCode"), 0, "codex: turn.completed means exit code 0");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);

	text = recording("codex-usage-limit.jsonl", "thr-2");
	parse_recording(d.parser, &out, text, 4096);
	f = facts(1);
	r = outcome(&d, &out, &f);
	is_str(rs(r, "errorCode"), "codex_transient_upstream", "codex usage limit: codex_transient_upstream");
	ok(rs(r, "retryNotBefore") != NULL, "codex: retryNotBefore from \"try again at 3:45 PM\" (%s)",
	   rs(r, "retryNotBefore") ? rs(r, "retryNotBefore") : "none");
	ok(strstr(rs(r, "errorMessage"), "Codex run failed: You've hit your usage limit") == rs(r, "errorMessage"),
	   "codex: the error message is the turn's error");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);

	parse_recording(d.parser, &out, "", 1);
	text = recording("codex-unknown-session.stderr", "thr-x");
	f = facts(1);
	f.resumed = true;
	f.stderr_text = text;
	ok(cli_unknown_session(&d, &out, &f), "codex: \"no rollout found for thread id\" is an unknown session");
	f.stderr_text = "thread thr-x not found";
	ok(cli_unknown_session(&d, &out, &f), "codex: \"thread ... not found\" too");
	cli_output_free(&out);
	free(text);

	/* no turn line: the exit code decides */
	parse_recording(d.parser, &out, "{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n", 4096);
	f = facts(0);
	r = outcome(&d, &out, &f);
	ok(rs(r, "errorMessage") == NULL, "codex: exit 0 without turn line succeeds");
	cJSON_Delete(r);
	cli_output_free(&out);
	cli_description_free(&d);
}

static const char *
describe(CliDescription *d, const char *json, cJSON **config)
{
	*config = cJSON_Parse(json);
	return cli_describe_config(d, *config);
}

static void
test_opencode_gemini(void)
{
	CliDescription d;
	CliOutput	out;
	CliRunFacts f;
	cJSON	   *r;
	cJSON	   *config;
	char	   *text;
	const char *why;

	why = describe(&d, "{\"command\":\"opencode\",\"parser\":\"opencode-jsonl\",\"name\":\"OpenCode\","
				   "\"retryAtRegex\":\"try again (in [0-9]+ [a-z]+)\",\"transientRegex\":\"rate limit\"}", &config);
	ok(why == NULL, "an opencode description is accepted");
	text = recording("opencode-success.jsonl", "ses_1");
	parse_recording(d.parser, &out, text, 100);
	f = facts(0);
	f.config_model = "anthropic/claude-sonnet-4-5";
	r = outcome(&d, &out, &f);
	is_str(rs(r, "sessionId"), "ses_1", "opencode: sessionID is the session");
	is_num(rn(r, "usage.inputTokens"), 2000, "opencode: input tokens summed over steps");
	is_num(rn(r, "usage.cachedInputTokens"), 1000, "opencode: cache reads summed");
	is_num(rn(r, "usage.outputTokens"), 110, "opencode: output + reasoning tokens summed");
	is_num(rn(r, "costUsd"), 0.01, "opencode: cost summed over steps");
	is_str(rs(r, "provider"), "anthropic", "opencode: provider from \"provider/model\"");
	is_str(rs(r, "summary"), "OpenCode is done.", "opencode: the texts are the summary");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);

	text = recording("opencode-error.jsonl", "ses_2");
	parse_recording(d.parser, &out, text, 100);
	f = facts(0);
	r = outcome(&d, &out, &f);
	is_str(rs(r, "errorCode"), "cli_transient_upstream", "opencode error line + transientRegex: cli_transient_upstream");
	is_str(rs(r, "errorMessage"), "OpenCode run failed: Rate limit exceeded, please try again in 20 minutes",
		   "opencode: the error's message, labelled with the description's name");
	is_str(rs(r, "retryNotBefore"), "2027-01-15T08:20:00Z", "retryAtRegex \"in 20 minutes\"");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);
	cli_description_free(&d);
	cJSON_Delete(config);

	why = describe(&d, "{\"command\":\"gemini\",\"parser\":\"gemini-stream-json\"}", &config);
	ok(why == NULL, "a gemini description is accepted");
	text = recording("gemini-success.jsonl", "gem-1");
	parse_recording(d.parser, &out, text, 9);
	f = facts(0);
	r = outcome(&d, &out, &f);
	is_str(rs(r, "sessionId"), "gem-1", "gemini: init session_id");
	is_str(rs(r, "model"), "gemini-2.5-pro", "gemini: init model");
	is_str(rs(r, "summary"), "Gemini is done.", "gemini: assistant deltas are glued");
	is_num(rn(r, "usage.inputTokens"), 800, "gemini: stats.input (not cached)");
	is_num(rn(r, "usage.cachedInputTokens"), 500, "gemini: stats.cached");
	is_num(rn(r, "usage.outputTokens"), 200, "gemini: stats.output_tokens");
	is_str(rs(r, "provider"), "google", "gemini: provider google");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);

	text = recording("gemini-error.jsonl", "gem-2");
	parse_recording(d.parser, &out, text, 9);
	f = facts(53);
	r = outcome(&d, &out, &f);
	is_str(rs(r, "errorCode"), "max_turns_exhausted", "gemini: exit code 53 is max_turns_exhausted");
	is_str(rs(r, "errorMessage"), "CLI run failed: Reached max session turns for this session",
		   "gemini: the result's error message");
	cJSON_Delete(r);
	cli_output_free(&out);
	free(text);
	cli_description_free(&d);
	cJSON_Delete(config);

	/* descriptions that are refused, naming the key */
	why = describe(&d, "{\"command\":\"x\",\"parser\":\"nope\"}", &config);
	ok(why && strstr(why, "adapter_config.parser must be one of"), "an unknown parser is refused: %s", why);
	cJSON_Delete(config);
	why = describe(&d, "{\"command\":\"x\",\"parser\":\"codex-jsonl\",\"transientRegex\":\"(\"}", &config);
	ok(why && strstr(why, "adapter_config.transientRegex"), "a bad regex is refused: %s", why);
	cJSON_Delete(config);
	why = describe(&d, "{\"command\":\"x\",\"parser\":\"codex-jsonl\",\"args\":[{\"if\":\"model\"}]}", &config);
	ok(why && strstr(why, "adapter_config.args"), "a conditional without args is refused: %s", why);
	cJSON_Delete(config);
	why = describe(&d, "{\"command\":\"x\",\"parser\":\"codex-jsonl\",\"promptVia\":\"pipe\"}", &config);
	ok(why && strstr(why, "promptVia"), "promptVia must be stdin or arg: %s", why);
	cJSON_Delete(config);
}

static char *
join_args(char **args)
{
	TextBuf		b;
	int			i;

	textbuf_init(&b, 0);
	for (i = 1; args && args[i]; i++)
	{
		if (i > 1)
			textbuf_puts(&b, " ");
		textbuf_puts(&b, args[i]);
	}
	return b.data ? b.data : strdup("");
}

static void
is_args(const CliDescription *d, const char *scope_json, bool resume, const char *prompt,
		const char *want, const char *what)
{
	cJSON	   *scope = cJSON_Parse(scope_json);
	char	  **args = cli_build_args(d, scope, cJSON_GetObjectItem(scope, "extraArgs"), resume, prompt);
	char	   *got = join_args(args);

	is_str(got, want, what);
	free(got);
	cli_free_args(args);
	cJSON_Delete(scope);
}

static void
test_command_lines(void)
{
	CliDescription d;
	cJSON	   *config;

	cli_describe_claude(&d);
	is_args(&d, "{\"config\":{}}", false, NULL,
			"--print - --output-format stream-json --verbose", "claude: the fixed command line");
	is_args(&d, "{\"config\":{\"maxTurnsPerRun\":5,\"dangerouslySkipPermissions\":true},\"model\":\"opus\","
			"\"resume\":true,\"sessionId\":\"S1\",\"instructionsFilePath\":\"/i.md\",\"extraArgs\":[\"--x\",\"y z\"]}",
			true, NULL,
			"--print - --output-format stream-json --verbose --resume S1 --model opus --max-turns 5 "
			"--dangerously-skip-permissions --append-system-prompt-file /i.md --x y z",
			"claude: every flag, in order, extraArgs last");
	is_args(&d, "{\"config\":{\"maxTurnsPerRun\":0,\"dangerouslySkipPermissions\":false}}", false, NULL,
			"--print - --output-format stream-json --verbose", "claude: maxTurnsPerRun 0 and false flags add nothing");
	cli_description_free(&d);

	cli_describe_codex(&d);
	is_args(&d, "{\"config\":{}}", false, NULL, "exec --json -", "codex: a fresh run reads the prompt from stdin (-)");
	is_args(&d, "{\"config\":{\"modelReasoningEffort\":\"high\",\"dangerouslyBypassApprovalsAndSandbox\":true},"
			"\"model\":\"gpt-5\",\"resume\":true,\"sessionId\":\"T1\",\"extraArgs\":[\"--skip-git-repo-check\"]}",
			true, NULL,
			"exec --json --model gpt-5 -c model_reasoning_effort=\"high\" --dangerously-bypass-approvals-and-sandbox "
			"--skip-git-repo-check resume T1 -", "codex: resume <id> - after extraArgs");
	cli_description_free(&d);

	describe(&d, "{\"command\":\"opencode\",\"parser\":\"opencode-jsonl\","
			 "\"args\":[\"run\",\"--format\",\"json\",{\"if\":\"model\",\"args\":[\"--model\",\"{{model}}\"]},"
			 "{\"unless\":\"resume\",\"args\":[\"--title\",\"paperclip {{runId}}\"]}],"
			 "\"resumeArgs\":[\"--session\",\"{{sessionId}}\"],\"promptVia\":\"arg\"}", &config);
	ok(d.can_resume && d.prompt_as_arg, "cli: resumeArgs make it resumable; promptVia arg");
	is_args(&d, "{\"model\":\"anthropic/claude\",\"runId\":\"R\",\"extraArgs\":[\"--print-logs\"]}", false, "do it",
			"run --format json --model anthropic/claude --title paperclip R --print-logs do it",
			"cli: template, conditional flags, extraArgs, prompt as last argument");
	is_args(&d, "{\"resume\":true,\"sessionId\":\"ses_9\"}", true, "again",
			"run --format json --session ses_9 again", "cli: resumeArgs when resuming, unless-flags dropped");
	cli_description_free(&d);
	cJSON_Delete(config);
}

static void
test_retry_times(void)
{
	time_t		now = 1800000000;	/* 2027-01-15T08:00:00Z */
	time_t		at;
	struct tm	tm;
	char		buf[32];

	setenv("TZ", "UTC", 1);
	tzset();
	ok(cli_parse_retry_time("3:45 PM.", now, &at) && at == now + 7 * 3600 + 45 * 60, "\"3:45 PM\" later today");
	ok(cli_parse_retry_time("7am", now, &at) && at == now + 23 * 3600, "\"7am\" (past today) is tomorrow");
	ok(cli_parse_retry_time("4 p.m. (UTC)", now, &at) && at == now + 8 * 3600, "\"4 p.m. (UTC)\"");
	ok(cli_parse_retry_time("10:00 (Europe/Paris)", now, &at) && at == now + 1 * 3600, "an IANA zone (Paris is UTC+1 in January)");
	ok(strcmp(getenv("TZ"), "UTC") == 0, "the zone is restored");
	ok(cli_parse_retry_time("2027-01-15T12:00:00Z", now, &at) && at == now + 4 * 3600, "ISO 8601 with Z");
	ok(cli_parse_retry_time("2027-01-15 12:00:00+02:00", now, &at) && at == now + 2 * 3600, "ISO 8601 with an offset");
	ok(cli_parse_retry_time("in 20 minutes", now, &at) && at == now + 1200, "\"in 20 minutes\"");
	ok(cli_parse_retry_time("Jan 16th, 2027 1:12 PM", now, &at), "\"Jan 16th, 2027 1:12 PM\"");
	gmtime_r(&at, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M", &tm);
	is_str(buf, "2027-01-16T13:12", "... is that day and time");
	ok(!cli_parse_retry_time("later", now, &at) && !cli_parse_retry_time("25:00", now, &at) &&
	   !cli_parse_retry_time("13pm", now, &at), "no time, no retryNotBefore");
}

/* The class http_address_class gives a literal address ("-" for none), and its text. */
static void
is_class(const char *literal, const char *expected)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
	const struct sockaddr *sa;
	size_t		len;
	const char *class;
	char		text[HTTP_ADDRESS_TEXT_MAX];
	char		what[128];

	if (inet_pton(AF_INET, literal, &v4.sin_addr) == 1)
		sa = (const struct sockaddr *) &v4, len = sizeof(v4);
	else if (inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1)
		sa = (const struct sockaddr *) &v6, len = sizeof(v6);
	else
	{
		ok(0, "%s is an address", literal);
		return;
	}
	class = http_address_class(sa, len);
	snprintf(what, sizeof(what), "address class of %s: %s", literal, expected);
	is_str(class ? class : "-", expected, what);
	http_address_text(sa, len, text);
	snprintf(what, sizeof(what), "%s as text", literal);
	is_str(text, literal, what);
}

static void
test_address_classes(void)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};

	is_class("127.0.0.1", "loopback");
	is_class("127.255.255.254", "loopback");
	is_class("0.0.0.0", "unspecified");
	is_class("0.1.2.3", "unspecified");
	is_class("169.254.169.254", "link-local");
	is_class("10.0.0.1", "private");
	is_class("172.16.0.1", "private");
	is_class("172.31.255.255", "private");
	is_class("172.32.0.1", "-");
	is_class("172.15.255.255", "-");
	is_class("192.168.1.1", "private");
	is_class("192.169.0.1", "-");
	is_class("100.64.0.1", "private (shared address space)");
	is_class("100.127.255.255", "private (shared address space)");
	is_class("100.128.0.1", "-");
	is_class("224.0.0.1", "multicast");
	is_class("239.255.255.250", "multicast");
	is_class("255.255.255.255", "broadcast");
	is_class("240.0.0.1", "reserved");
	is_class("8.8.8.8", "-");
	is_class("1.1.1.1", "-");
	is_class("::1", "loopback");
	is_class("::", "unspecified");
	is_class("::ffff:127.0.0.1", "loopback");
	is_class("::ffff:169.254.169.254", "link-local");
	is_class("::ffff:10.1.2.3", "private");
	is_class("::ffff:8.8.8.8", "-");
	is_class("::127.0.0.1", "loopback");
	is_class("64:ff9b::a9fe:a9fe", "link-local");
	is_class("2002:7f00:1::", "loopback");
	is_class("fe80::1", "link-local");
	is_class("febf::1", "link-local");
	is_class("fec0::1", "site-local");
	is_class("fc00::1", "private");
	is_class("fd12:3456::1", "private");
	is_class("ff02::1", "multicast");
	is_class("2001:4860:4860::8888", "-");
	is_class("2606:4700::1111", "-");
	is_str(http_address_class((const struct sockaddr *) &un, sizeof(un)), "not an IP address",
		   "another family is not an IP address");
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		recorded_dir = argv[1];
	test_lines();
	test_templates();
	test_claude();
	test_codex();
	test_opencode_gemini();
	test_command_lines();
	test_retry_times();
	test_address_classes();
	printf("1..%d\n", n_tests);
	return n_failed == 0 ? 0 : 1;
}
