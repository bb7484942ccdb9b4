/*-------------------------------------------------------------------------
 * frames.c
 *	  Owns the runner's stdout: one JSON frame a line to the launcher.
 *	  Writes never block the run for long: they do not wait (stdout is
 *	  non-blocking; the launcher's socket, which is stdin too, is written
 *	  with MSG_DONTWAIT so that reads of stdin still block), a live log
 *	  frame that does not fit is dropped (it only announces a record of the
 *	  log file, which keeps it), a frame
 *	  begun is always finished, and a launcher that went away (EPIPE)
 *	  silences the frames while the run goes on to its spool file.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

#define MUST_DELIVER_MS 10000

static bool launcher_gone = false;
static bool stdout_is_socket = false;

bool
frames_launcher_gone(void)
{
	return launcher_gone;
}

void
frames_init(void)
{
	struct stat st;
	int			flags;

	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISSOCK(st.st_mode))
	{
		stdout_is_socket = true;
		return;
	}
	if ((flags = fcntl(STDOUT_FILENO, F_GETFL)) >= 0)
		fcntl(STDOUT_FILENO, F_SETFL, flags | O_NONBLOCK);
}

/*
 * Wait until stdout is writable, up to ms; false on timeout or error. A
 * signal meanwhile (a cancel) is taken and kept for the adapter.
 */
static bool
wait_writable(int ms)
{
	long long	deadline = now_ms() + ms;

	for (;;)
	{
		struct pollfd p[2] = {{.fd = STDOUT_FILENO,.events = POLLOUT},
		{.fd = runner_sigfd(),.events = POLLIN}};
		long long	left = deadline - now_ms();
		int			rc;

		if (left <= 0)
			return false;
		rc = poll(p, p[1].fd >= 0 ? 2 : 1, (int) left);
		if (rc < 0 && errno != EINTR)
			return false;
		if (rc > 0 && p[1].revents)
			(void) runner_poll_signals();
		if (rc > 0 && p[0].revents)
			return (p[0].revents & POLLOUT) != 0;
	}
}

static void
write_frame(const char *line, size_t len, bool must_deliver)
{
	size_t		done = 0;

	while (done < len && !launcher_gone)
	{
		ssize_t		n = stdout_is_socket ?
			send(STDOUT_FILENO, line + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL) :
			write(STDOUT_FILENO, line + done, len - done);

		if (n > 0)
		{
			done += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
		{
			/* nothing of it written yet and only a live log line: drop it */
			if (done == 0 && !must_deliver)
				return;
			if (wait_writable(MUST_DELIVER_MS))
				continue;
		}
		/* EPIPE, or a launcher that stopped reading: frames end here */
		launcher_gone = true;
	}
}

void
frame_send(cJSON *frame, bool must_deliver)
{
	char	   *text = cJSON_PrintUnformatted(frame);
	size_t		len;

	if (text == NULL)
		return;
	len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	text[len] = '\0';
	write_frame(text, len, must_deliver);
	free(text);
}

/*
 * A live log frame: a record of the run log was written, at offset, bytes
 * long. It carries no output: the launcher copies the log itself (from the
 * file) and its live event says only where the record is.
 */
void
frame_log(const char *stream, long long offset, long long bytes)
{
	cJSON	   *f = cJSON_CreateObject();

	cJSON_AddStringToObject(f, "type", PC_FRAME_LOG);
	cJSON_AddStringToObject(f, "stream", stream);
	cJSON_AddNumberToObject(f, "offset", (double) offset);
	cJSON_AddNumberToObject(f, "bytes", (double) bytes);
	frame_send(f, false);
	cJSON_Delete(f);
}

/* A warning the launcher records as a lifecycle event of the run. */
void
frame_warning(const char *message, const cJSON *payload)
{
	cJSON	   *f = cJSON_CreateObject();

	cJSON_AddStringToObject(f, "type", PC_FRAME_WARNING);
	cJSON_AddStringToObject(f, "message", message);
	if (payload != NULL)
		cJSON_AddItemToObject(f, "payload", cJSON_Duplicate(payload, 1));
	frame_send(f, true);
	cJSON_Delete(f);
}

/* Now in ISO 8601, UTC, to the millisecond. */
void
iso_now(char *buf, size_t size)
{
	struct timeval tv;
	struct tm	tm;
	char		base[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03dZ", base, (int) (tv.tv_usec / 1000));
}

/* Milliseconds on the monotonic clock, for deadlines. */
long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
