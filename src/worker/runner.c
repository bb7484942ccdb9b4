/*-------------------------------------------------------------------------
 * runner.c
 *	  paperclip_worker's runners: one paperclip_runner per claimed run,
 *	  started with posix_spawn in a session of its own, its stdin and stdout
 *	  non-blocking pipes (protocol.h: the spec line and "start" at once, for
 *	  the claim has committed; "ack" once the result is in the spool). Its
 *	  frames are turned into what relay.c sends to the database and the
 *	  result spool.c keeps. The spec gets what is this machine's: the run
 *	  log, spool and result file paths, and stopWithParent, so a runner
 *	  stops its run (as a cancel) when the worker dies: the run's lease then
 *	  lapses and it is retried, without an agent left behind.
 *
 *	  A slot is in use from the claim until the runner has exited and its
 *	  result is delivered or dropped; settings.concurrency slots.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker.h"

Run		   *runs = NULL;
int			nruns = 0;

int
runs_busy(void)
{
	int			i,
				n = 0;

	for (i = 0; i < nruns; i++)
		if (runs[i].in_use)
			n++;
	return n;
}

Run *
run_find(const char *id)
{
	int			i;

	for (i = 0; i < nruns; i++)
		if (runs[i].in_use && strcmp(runs[i].id, id) == 0)
			return &runs[i];
	return NULL;
}

static Run *
free_slot(void)
{
	int			i;

	for (i = 0; i < nruns; i++)
		if (!runs[i].in_use)
			return &runs[i];
	return NULL;
}

/* The spec the database gave, with what is this machine's. */
static char *
local_spec(const char *id, const char *spec_json)
{
	cJSON	   *spec = cJSON_Parse(spec_json);
	char	   *log_path = xasprintf("%s/%s.ndjson", settings.log_dir, id);
	char	   *spool = spool_path(id, ".json");
	char	   *result_file = spool_path(id, ".result");
	char	   *text;

	if (!cJSON_IsObject(spec))
		fatal("run %s: the database sent a spec that is not a JSON object", id);
	cJSON_DeleteItemFromObjectCaseSensitive(spec, PC_SPEC_LOG_PATH);
	cJSON_DeleteItemFromObjectCaseSensitive(spec, PC_SPEC_SPOOL_PATH);
	cJSON_DeleteItemFromObjectCaseSensitive(spec, PC_SPEC_RESULT_FILE);
	cJSON_DeleteItemFromObjectCaseSensitive(spec, PC_SPEC_STOP_WITH_PARENT);
	if (!cJSON_AddStringToObject(spec, PC_SPEC_LOG_PATH, log_path) ||
		!cJSON_AddStringToObject(spec, PC_SPEC_SPOOL_PATH, spool) ||
		!cJSON_AddStringToObject(spec, PC_SPEC_RESULT_FILE, result_file) ||
		!cJSON_AddTrueToObject(spec, PC_SPEC_STOP_WITH_PARENT) ||
		(text = cJSON_PrintUnformatted(spec)) == NULL)
		fatal("out of memory");
	cJSON_Delete(spec);
	free(log_path);
	free(spool);
	free(result_file);
	return text;
}

/* posix_spawn the runner; false with errno set. */
static bool
spawn(Run *r)
{
	int			in_pipe[2];
	int			out_pipe[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t	none,
				all;
	char	   *argv[] = {(char *) settings.runner_path, NULL};
	char	   *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", NULL};
	pid_t		pid;
	int			rc;

	if (pipe2(in_pipe, O_CLOEXEC) != 0)
		return false;
	if (pipe2(out_pipe, O_CLOEXEC) != 0)
	{
		rc = errno;
		close(in_pipe[0]);
		close(in_pipe[1]);
		errno = rc;
		return false;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
							 POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, settings.runner_path, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in_pipe[0]);
	close(out_pipe[1]);
	if (rc != 0)
	{
		close(in_pipe[1]);
		close(out_pipe[0]);
		errno = rc;
		return false;
	}
	(void) fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
	(void) fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
	r->runner_pid = pid;
	r->in_fd = in_pipe[1];
	r->out_fd = out_pipe[0];
	return true;
}

static void
flush_to_runner(Run *r)
{
	while (r->in_fd >= 0 && r->to_runner.len > 0)
	{
		ssize_t		n = write(r->in_fd, r->to_runner.data, r->to_runner.len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
		{
			/* the runner is gone: its stdout's EOF says the rest */
			close(r->in_fd);
			r->in_fd = -1;
			buf_reset(&r->to_runner);
			return;
		}
		buf_consume(&r->to_runner, n);
	}
}

/* Start the runner of a run this worker has just claimed. */
void
runner_start(const char *id, const char *spec_json)
{
	Run		   *r = free_slot();
	char	   *spec;

	if (r == NULL)
		fatal("internal error: claimed run %s without a free slot", id);
	memset(r, 0, sizeof(*r));
	r->in_use = true;
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->in_fd = r->out_fd = r->log_fd = -1;

	spec = local_spec(id, spec_json);
	buf_appendstr(&r->to_runner, spec);
	buf_appendstr(&r->to_runner, "\n" PC_START_LINE "\n");
	free(spec);
	if (!spawn(r))
	{
		int			e = errno;

		wlog(LOG_WARNING, "run %s: could not start runner \"%s\": %s", id,
			 settings.runner_path, strerror(e));
		buf_free(&r->to_runner);
		spool_result(r, make_error_result(PC_ERR_RUNNER_SPAWN, "could not start runner \"%s\": %s",
										  settings.runner_path, strerror(e)));
		return;
	}
	wlog(LOG_DEBUG, "run %s: runner %d started", id, (int) r->runner_pid);
	flush_to_runner(r);
}

/* Stop a run: SIGTERM to its runner, which cancels the agent (grace, SIGKILL). */
void
runner_stop(Run *r, bool lost)
{
	if (lost)
		r->lost = true;
	if (stopping)
		r->stopped_by_worker = true;
	if (r->cancel_sent || r->out_fd < 0 || r->runner_pid <= 0)
		return;
	/* our child, not reaped yet: the pid is still the runner's */
	(void) kill(r->runner_pid, SIGTERM);
	r->cancel_sent = true;
}

/* Send "ack" once the result is safe in the spool: the runner may exit. */
void
runner_ack(Run *r)
{
	buf_appendstr(&r->to_runner, PC_ACK_LINE "\n");
	flush_to_runner(r);
}

static void
handle_frame(Run *r, const char *line)
{
	cJSON	   *frame = cJSON_Parse(line);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(frame, "type"));

	if (type == NULL)
		wlog(LOG_WARNING, "run %s: unreadable frame from runner", r->id);
	else if (strcmp(type, PC_FRAME_LOG) == 0)
		relay_log_frame(r);
	else if (strcmp(type, PC_FRAME_META) == 0)
		relay_event(r, "adapter.invoke", "info", "adapter invocation",
					cJSON_GetObjectItemCaseSensitive(frame, "meta"));
	else if (strcmp(type, "warning") == 0)
	{
		const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(frame, "message"));

		if (message != NULL)
			relay_event(r, "lifecycle", "warn", message,
						cJSON_GetObjectItemCaseSensitive(frame, "payload"));
	}
	else if (strcmp(type, PC_FRAME_SPAWNED) == 0)
	{
		cJSON	   *pid = cJSON_GetObjectItemCaseSensitive(frame, "pid");

		if (cJSON_IsNumber(pid) && pid->valuedouble > 1)
			r->agent_pid = (pid_t) pid->valuedouble;
	}
	else if (strcmp(type, PC_FRAME_RESULT) == 0 && !r->result_received)
	{
		cJSON	   *result = cJSON_DetachItemFromObjectCaseSensitive(frame, "result");

		if (!cJSON_IsObject(result))
		{
			cJSON_Delete(result);
			result = make_error_result(PC_ERR_BAD_RESULT, "runner sent a result that is not an object");
		}
		spool_result(r, result);
		runner_ack(r);
	}
	cJSON_Delete(frame);
}

/* Read the runner's frames; at EOF the runner is gone. */
static void
read_frames(Run *r)
{
	char		buf[65536];
	int			reads;

	/* a bounded share of the loop: other runners and the database go on */
	for (reads = 0; reads < 16; reads++)
	{
		ssize_t		n = read(r->out_fd, buf, sizeof(buf));
		ssize_t		start = 0;
		ssize_t		i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
		{
			close(r->out_fd);
			r->out_fd = -1;
			if (r->in_fd >= 0)
				close(r->in_fd);
			r->in_fd = -1;
			buf_free(&r->to_runner);
			buf_free(&r->frame);
			if (!r->result_received)
				spool_runner_gone(r);
			run_release_if_done(r);
			return;
		}
		for (i = 0; i < n; i++)
		{
			if (buf[i] != '\n')
				continue;
			if (!r->skipping)
			{
				buf_append(&r->frame, buf + start, i - start);
				handle_frame(r, r->frame.data);
			}
			buf_reset(&r->frame);
			r->skipping = false;
			start = i + 1;
		}
		if (!r->skipping && n > start)
		{
			if (r->frame.len + (n - start) > FRAME_MAX)
			{
				wlog(LOG_WARNING, "run %s: frame longer than %d bytes dropped", r->id, FRAME_MAX);
				buf_free(&r->frame);
				r->skipping = true;
			}
			else
				buf_append(&r->frame, buf + start, n - start);
		}
	}
}

/* The runners' descriptors to poll, and whose each is. */
void
runners_poll_fds(struct pollfd *fds, Run **owners, int *n)
{
	int			i;

	for (i = 0; i < nruns; i++)
	{
		Run		   *r = &runs[i];

		if (!r->in_use)
			continue;
		if (r->out_fd >= 0)
		{
			fds[*n].fd = r->out_fd;
			fds[*n].events = POLLIN;
			owners[(*n)++] = r;
		}
		if (r->in_fd >= 0 && r->to_runner.len > 0)
		{
			fds[*n].fd = r->in_fd;
			fds[*n].events = POLLOUT;
			owners[(*n)++] = r;
		}
	}
}

void
runner_io(Run *r, int fd, short revents)
{
	if (fd == r->in_fd && (revents & (POLLOUT | POLLERR | POLLHUP)))
		flush_to_runner(r);
	else if (fd == r->out_fd && (revents & (POLLIN | POLLHUP | POLLERR)))
		read_frames(r);
}

/* Reap exited runners (SIGCHLD); a runner killed by a signal is said. */
void
runners_reap(void)
{
	pid_t		pid;
	int			status;
	int			i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < nruns; i++)
			if (runs[i].in_use && runs[i].runner_pid == pid)
			{
				runs[i].runner_pid = 0;
				if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
					wlog(LOG_WARNING, "run %s: runner %d killed by signal %d",
						 runs[i].id, (int) pid, WTERMSIG(status));
				else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
					wlog(LOG_WARNING, "run %s: runner %d exited with code %d",
						 runs[i].id, (int) pid, WEXITSTATUS(status));
			}
}

/* Runners still running (their stdout open). */
int
runners_alive(void)
{
	int			i,
				n = 0;

	for (i = 0; i < nruns; i++)
		if (runs[i].in_use && runs[i].out_fd >= 0)
			n++;
	return n;
}

/* Free the slot once the runner is gone and its result and log are sent. */
void
run_release_if_done(Run *r)
{
	if (!r->in_use || r->out_fd >= 0 || r->result_spooled || !relay_idle(r))
		return;
	relay_close(r);
	buf_free(&r->to_runner);
	buf_free(&r->frame);
	r->in_use = false;
	claim_slot_freed();
}
