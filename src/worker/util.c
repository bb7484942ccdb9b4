/*-------------------------------------------------------------------------
 * util.c
 *	  What every file of paperclip_worker uses: allocation that never
 *	  fails silently, growable buffers, the monotonic clock, and logging to
 *	  stderr in PostgreSQL's style (time, pid, level).
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

int			log_verbosity = LOG_INFO;

void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void	   *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatal("out of memory");
	return q;
}

char *
xstrdup(const char *s)
{
	size_t		n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

char *
xasprintf(const char *fmt,...)
{
	va_list		ap;
	char	   *s;
	int			n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("out of memory");
	return s;
}

void
buf_append(Buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_appendstr(Buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* Drop the first n bytes. */
void
buf_consume(Buf *b, size_t n)
{
	if (n >= b->len)
	{
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
buf_reset(Buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Empty, and give back memory a long frame or a large batch took. */
void
buf_free(Buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
vlog(const char *level, const char *fmt, va_list ap)
{
	struct timeval tv;
	struct tm	tm;
	char		ts[32];
	char		line[2048];
	int			saved = errno;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s.%03d UTC [%d] %s:  %s\n", ts, (int) (tv.tv_usec / 1000),
			(int) getpid(), level, line);
	errno = saved;
}

void
wlog(LogLevel level, const char *fmt,...)
{
	static const char *const names[] = {"DEBUG", "LOG", "WARNING", "ERROR"};
	va_list		ap;

	if ((int) level < log_verbosity)
		return;
	va_start(ap, fmt);
	vlog(names[level], fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vlog("FATAL", fmt, ap);
	va_end(ap);
	exit(1);
}
