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

#include "runner.h"

#define SPEC_MAX (64 * 1024 * 1024)

/* Exit codes: the launcher never told us to start, or the spec is unreadable. */
#define EXIT_NOT_STARTED 3
#define EXIT_BAD_SPEC 4

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

/* Read one line of stdin (without its newline), or NULL at EOF first. */
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
			char	   *line = malloc(len + 1);

			memcpy(line, pending, len);
			line[len] = '\0';
			memmove(pending, nl + 1, pending_len - len - 1);
			pending_len -= len + 1;
			return line;
		}
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || pending_len + n > SPEC_MAX)
			return NULL;
		pending = realloc(pending, pending_len + n);
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
	max = cJSON_GetObjectItemCaseSensitive(s->json, PC_SPEC_MAX_LIVE_LOG);
	s->max_live_log = cJSON_IsNumber(max) ? (long) max->valuedouble : PC_DEFAULT_MAX_LIVE_LOG;
	return s->run_id && s->spool_path;
}

/*
 * Write the result to the spool atomically: temp file, then rename. It then
 * survives the launcher and the server (their crashes do not lose the page
 * cache). No fsync: after an OS crash the run is lost with its agent anyway,
 * and reconciliation fails it as process_lost, to be retried.
 */
static void
write_spool(const char *path, cJSON *result)
{
	char	   *text = cJSON_PrintUnformatted(result);
	char	   *tmp = malloc(strlen(path) + 5);
	int			fd;
	size_t		len = strlen(text);

	sprintf(tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t) len ||
		close(fd) != 0 || rename(tmp, path) != 0)
		fprintf(stderr, "paperclip_runner: cannot write spool \"%s\": %s\n", path, strerror(errno));
	free(text);
	free(tmp);
}

/* Whether the launcher acknowledged the result within the timeout. */
static bool
acknowledged(void)
{
	struct pollfd p = {.fd = STDIN_FILENO,.events = POLLIN};
	char		buf[64];
	ssize_t		n;

	if (frames_launcher_gone())
		return false;
	if (poll(&p, 1, PC_ACK_TIMEOUT_MS) != 1)
		return false;
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

int
main(void)
{
	RunSpec		spec;
	char	   *spec_line;
	char	   *start;
	int			sigfd;
	cJSON	   *result;
	cJSON	   *frame;
	pid_t		parent = getppid();

	sigfd = signals_init();
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
	else
		result = make_error_result(PC_ERR_CONFIG, "unknown adapter type: %s",
								   spec.adapter_type ? spec.adapter_type : "(none)");

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
