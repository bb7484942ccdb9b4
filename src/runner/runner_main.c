/*-------------------------------------------------------------------------
 * runner_main.c
 *	  paperclip_runner: runs one agent run outside the database. Reads the
 *	  run spec and waits for "start" on stdin (see protocol.h), runs the
 *	  adapter, writes the result to the spool file (so it survives the
 *	  launcher and the server), then sends it as the last frame.
 *	  Stateless; never connects to the database.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent_rules.h"
#include "runner.h"
#include "adapters/cli.h"

#define SPEC_MAX (64 * 1024 * 1024)

/*
 * Exit codes: the launcher never told us to start, the spec is unreadable,
 * signals cannot be watched (EXIT_NO_MEMORY is in runner.h).
 */
#define EXIT_NOT_STARTED 3
#define EXIT_BAD_SPEC 4
#define EXIT_NO_SIGNALS 6

cJSON *
make_error_result(const char *code, const char *fmt,...)
{
	cJSON	   *r = cJSON_CreateObject();
	char		msg[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddNullToObject(r, "exitCode");
	cJSON_AddStringToObject(r, "errorCode", code);
	cJSON_AddStringToObject(r, "errorMessage", msg);
	return r;
}

/*
 * Out of memory: nothing sensible can be sent any more. The launcher sees
 * the runner gone without a result and fails the run as process_lost
 * (retried), killing the agent's group.
 */
void
runner_out_of_memory(void)
{
	static const char msg[] = "paperclip_runner: out of memory\n";

	(void) write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(EXIT_NO_MEMORY);
}

void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		runner_out_of_memory();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void	   *q = realloc(p, n ? n : 1);

	if (q == NULL)
		runner_out_of_memory();
	return q;
}

char *
xstrdup(const char *s)
{
	size_t		n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

/* ---------------------------------------------------------------------
 * Signals: SIGTERM and SIGINT (cancel) and SIGCHLD arrive on a signalfd,
 * read only through runner_poll_signals(), so a cancel seen anywhere (a
 * wait for the launcher, an adapter's loop) is never lost.
 * ---------------------------------------------------------------------
 */
static int sigfd = -1;
static bool term_requested = false;

int
runner_sigfd(void)
{
	return sigfd;
}

/* Take the pending signals; true once SIGTERM or SIGINT has come. */
bool
runner_poll_signals(void)
{
	struct signalfd_siginfo si;

	while (sigfd >= 0 && read(sigfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			term_requested = true;
	return term_requested;
}

bool
runner_term_requested(void)
{
	return term_requested;
}

/*
 * Wait until fd is readable, a cancel comes, or timeout_ms (-1: none)
 * passes; true only when fd is readable (or at its EOF).
 */
static bool
wait_readable(int fd, int timeout_ms)
{
	long long	deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;

	for (;;)
	{
		struct pollfd p[2] = {{.fd = fd,.events = POLLIN}, {.fd = sigfd,.events = POLLIN}};
		int			wait = -1;
		int			rc;

		if (timeout_ms >= 0 && (wait = (int) (deadline - now_ms())) <= 0)
			return false;
		rc = poll(p, 2, wait);
		if (rc < 0 && errno != EINTR)
			return false;
		if (rc > 0 && p[1].revents && runner_poll_signals())
			return false;
		if (rc > 0 && p[0].revents)
			return true;
	}
}

/* Read one line of stdin (without its newline), or NULL at EOF or a cancel first. */
static char *
read_line(void)
{
	static char *pending = NULL;
	static size_t pending_len = 0;

	for (;;)
	{
		char	   *nl = pending ? memchr(pending, '\n', pending_len) : NULL;
		char		buf[65536];
		ssize_t		n;

		if (nl != NULL)
		{
			size_t		len = nl - pending;
			char	   *line = xmalloc(len + 1);

			memcpy(line, pending, len);
			line[len] = '\0';
			memmove(pending, nl + 1, pending_len - len - 1);
			pending_len -= len + 1;
			return line;
		}
		if (!wait_readable(STDIN_FILENO, -1))
			return NULL;
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0 || pending_len + n > SPEC_MAX)
			return NULL;
		pending = xrealloc(pending, pending_len + n);
		memcpy(pending + pending_len, buf, n);
		pending_len += n;
	}
}

static const char *
spec_string(cJSON *spec, const char *key)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(spec, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
parse_spec(const char *text, RunSpec *s)
{
	cJSON	   *max;

	memset(s, 0, sizeof(*s));
	s->json = cJSON_Parse(text);
	if (!cJSON_IsObject(s->json))
		return false;
	s->run_id = spec_string(s->json, PC_SPEC_RUN_ID);
	s->agent_id = spec_string(s->json, PC_SPEC_AGENT_ID);
	s->company_id = spec_string(s->json, PC_SPEC_COMPANY_ID);
	s->adapter_type = spec_string(s->json, PC_SPEC_ADAPTER_TYPE);
	s->config = cJSON_GetObjectItemCaseSensitive(s->json, PC_SPEC_CONFIG);
	s->context = cJSON_GetObjectItemCaseSensitive(s->json, PC_SPEC_CONTEXT);
	s->session_id = spec_string(s->json, PC_SPEC_SESSION_ID);
	s->wake_reason = spec_string(s->json, PC_SPEC_WAKE_REASON);
	s->log_path = spec_string(s->json, PC_SPEC_LOG_PATH);
	s->spool_path = spec_string(s->json, PC_SPEC_SPOOL_PATH);
	s->result_file = spec_string(s->json, PC_SPEC_RESULT_FILE);
	s->allowed_commands = cJSON_GetObjectItemCaseSensitive(s->json, PC_SPEC_ALLOWED_COMMANDS);
	s->allowed_hosts = cJSON_GetObjectItemCaseSensitive(s->json, PC_SPEC_ALLOWED_HOSTS);
	/* without a word: off (fail closed) */
	s->http_allow_private = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s->json, PC_SPEC_HTTP_ALLOW_PRIVATE));
	max = cJSON_GetObjectItemCaseSensitive(s->json, PC_SPEC_MAX_LIVE_LOG);
	s->max_live_log = cJSON_IsNumber(max) ? (long) max->valuedouble : PC_DEFAULT_MAX_LIVE_LOG;
	max = cJSON_GetObjectItemCaseSensitive(s->json, PC_SPEC_MAX_LOG_BYTES);
	s->max_log_bytes = cJSON_IsNumber(max) ? (long long) max->valuedouble : PC_DEFAULT_MAX_LOG_BYTES;
	/* without a word on isolation: on (fail closed) */
	s->isolation = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s->json, PC_SPEC_AGENT_ISOLATION));
	s->os_user = spec_string(s->json, PC_SPEC_AGENT_OS_USER);
	if (s->os_user == NULL || s->os_user[0] == '\0')
		s->os_user = PC_DEFAULT_AGENT_OS_USER;
	max = cJSON_GetObjectItemCaseSensitive(s->json, PC_SPEC_AGENT_MAX_PROCESSES);
	s->max_processes = cJSON_IsNumber(max) && max->valuedouble >= 0 && max->valuedouble <= 1e9 ?
		(long) max->valuedouble : PC_DEFAULT_AGENT_MAX_PROCESSES;
	s->home = spec_string(s->json, PC_SPEC_AGENT_HOME);
	if (s->home == NULL || s->home[0] != '/')
		s->home = PC_DEFAULT_AGENT_HOME;
	return s->run_id && s->spool_path;
}

/* Write all of len bytes; false on error (errno set). */
static bool
write_all(int fd, const char *data, size_t len)
{
	while (len > 0)
	{
		ssize_t		n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= n;
	}
	return true;
}

/*
 * Write the result to the spool atomically: temp file, then rename. It then
 * survives the launcher and the server (their crashes do not lose the page
 * cache). No fsync: after an OS crash the run is lost with its agent anyway,
 * and reconciliation fails it as process_lost, to be retried. A temp file
 * that could not be completed is removed.
 */
static void
write_spool(const char *path, cJSON *result)
{
	char	   *text = cJSON_PrintUnformatted(result);
	size_t		plen = strlen(path);
	char	   *tmp = xmalloc(plen + 5);
	int			fd;
	bool		ok;

	if (text == NULL)
		runner_out_of_memory();
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	ok = fd >= 0 && write_all(fd, text, strlen(text));
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (ok && rename(tmp, path) != 0)
		ok = false;
	if (!ok)
	{
		fprintf(stderr, "paperclip_runner: cannot write spool \"%s\": %s\n", path, strerror(errno));
		if (fd >= 0)
			(void) unlink(tmp);
	}
	free(text);
	free(tmp);
}

/* Whether the launcher acknowledged the result within the timeout. */
static bool
acknowledged(void)
{
	char		buf[64];
	ssize_t		n;

	if (frames_launcher_gone())
		return false;
	if (!wait_readable(STDIN_FILENO, PC_ACK_TIMEOUT_MS))
		return false;			/* no ack in time, or told to stop: spool it */
	n = read(STDIN_FILENO, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;			/* EOF: the launcher is gone */
	buf[n] = '\0';
	return strncmp(buf, PC_ACK_LINE, strlen(PC_ACK_LINE)) == 0;
}

/* Cancel (SIGTERM, SIGINT) and child exits arrive on a signalfd. */
static int
signals_init(void)
{
	sigset_t	set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/*
 * No secret in the result's texts that are shown as messages (the run's
 * error, its events). resultJson is the agent's data, kept as it is.
 */
static void
redact_result(cJSON *result)
{
	redact_json(cJSON_GetObjectItemCaseSensitive(result, "errorMessage"));
	redact_json(cJSON_GetObjectItemCaseSensitive(result, "summary"));
}

int
main(void)
{
	RunSpec		spec;
	char	   *spec_line;
	char	   *start;
	cJSON	   *result;
	cJSON	   *frame;
	pid_t		parent = getppid();

	/* cJSON allocates through these too: never a silently missing value */
	cJSON_InitHooks(&(cJSON_Hooks) {.malloc_fn = xmalloc,.free_fn = free});
	/* the switch capabilities, permitted only; dropped by every path but one */
	sandbox_prepare();
	/*
	 * Not dumpable: our /proc files (our pipes to the launcher among them)
	 * are nobody else's, not even a process of our own OS user, as an agent
	 * is without isolation.
	 */
	(void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sigfd = signals_init();
	if (sigfd < 0)
	{
		fprintf(stderr, "paperclip_runner: cannot watch signals: %s\n", strerror(errno));
		return EXIT_NO_SIGNALS;
	}
	if (getsid(0) != getpid())
		(void) setsid();		/* outlive the launcher's process group */
	/* descendants the agent orphans come back to us, to be killed and reaped */
	(void) prctl(PR_SET_CHILD_SUBREAPER, 1);

	spec_line = read_line();
	start = spec_line ? read_line() : NULL;
	if (start == NULL || strcmp(start, PC_START_LINE) != 0)
		return EXIT_NOT_STARTED;	/* the claim did not commit: run nothing */
	if (!parse_spec(spec_line, &spec))
	{
		fprintf(stderr, "paperclip_runner: unreadable run spec\n");
		return EXIT_BAD_SPEC;
	}
	if (!(spec.isolation && pc_adapter_runs_program(spec.adapter_type, NULL)))
		sandbox_drop_privileges();
	redact_init(spec.config);
	/*
	 * A paperclip_worker's run stops when its worker dies (the launcher's
	 * runners outlive it instead): SIGTERM, as a cancel, stops the agent;
	 * the run's lease then lapses and it is retried elsewhere.
	 */
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec.json, PC_SPEC_STOP_WITH_PARENT)))
	{
		(void) prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			(void) kill(getpid(), SIGTERM);
	}
	frames_init();

	if (spec.adapter_type && strcmp(spec.adapter_type, "process") == 0)
		result = process_adapter_run(&spec, sigfd);
	else if (spec.adapter_type && strcmp(spec.adapter_type, "http") == 0)
		result = http_adapter_run(&spec, sigfd);
	else if (spec.adapter_type && (strcmp(spec.adapter_type, PC_ADAPTER_CLAUDE) == 0 ||
								   strcmp(spec.adapter_type, PC_ADAPTER_CODEX) == 0 ||
								   strcmp(spec.adapter_type, PC_ADAPTER_CLI) == 0))
		result = cli_adapter_run(&spec, sigfd);
	else
		result = make_error_result(PC_ERR_CONFIG, "unknown adapter type: %s",
								   spec.adapter_type ? spec.adapter_type : "(none)");

	sandbox_drop_privileges();	/* no program runs after the adapter */
	redact_result(result);
	frame = cJSON_CreateObject();
	cJSON_AddStringToObject(frame, "type", PC_FRAME_RESULT);
	cJSON_AddItemToObject(frame, "result", result);
	frame_send(frame, true);
	/* recorded by the launcher, or else kept in the spool for reconciliation */
	if (!acknowledged())
		write_spool(spec.spool_path, result);
	cJSON_Delete(frame);
	cJSON_Delete(spec.json);
	return 0;
}
