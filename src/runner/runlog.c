/*-------------------------------------------------------------------------
 * runlog.c
 *	  Owns what happens to the agent's output: sanitising it to UTF-8
 *	  without NUL (bad bytes become U+FFFD, a sequence cut by a read is
 *	  carried to the next), redacting its secrets (redact.c) before anything
 *	  of it is kept, the run log file (one JSON line per chunk, its byte
 *	  count and sha256) up to paperclip.max_log_bytes (past it the output is
 *	  drained, not stored, and a warning says how much was dropped), the
 *	  capped tails kept as excerpts, and the live log frames that announce
 *	  each record (where it is, not what it says) up to their cap.
 *
 *	  The file is the launcher's spool log (where the launcher copies it
 *	  from into the database, also after a crash of the launcher or the
 *	  server: it survives both), or the log itself in a file store; the
 *	  spec says where (logPath). Records are appended, never rewritten.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"

static const unsigned char REPLACEMENT[3] = {0xEF, 0xBF, 0xBD};

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid, -1 if cut short. */
static int
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	int			len;
	unsigned char lo = 0x80,
				hi = 0xBF;
	int			i;

	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;			/* no overlongs */
		if (c == 0xED)
			hi = 0x9F;			/* no surrogates */
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;			/* nothing past U+10FFFF */
	}
	else
		return 0;				/* NUL, continuation, or never valid */

	for (i = 1; i < len; i++)
	{
		if ((size_t) i >= n)
			return -1;
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
			return 0;
	}
	return len;
}

/*
 * Valid UTF-8 without NUL from n bytes of output (and what an earlier call
 * carried). A sequence cut at the end is carried over unless final.
 * Returns a malloc'd, NUL-terminated buffer.
 */
char *
utf8_sanitize(Utf8Carry *carry, const unsigned char *in, size_t n, bool final, size_t *out_len)
{
	size_t		total = carry->len + n;
	unsigned char *src = xmalloc(total + 1);
	char	   *out = xmalloc(total * 3 + 1);
	size_t		i = 0,
				o = 0;

	memcpy(src, carry->bytes, carry->len);
	memcpy(src + carry->len, in, n);
	carry->len = 0;
	while (i < total)
	{
		int			len = utf8_seq(src + i, total - i);

		if (len < 0 && !final)
		{
			carry->len = (int) (total - i);
			memcpy(carry->bytes, src + i, carry->len);
			break;
		}
		if (len <= 0)
		{
			memcpy(out + o, REPLACEMENT, 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, src + i, len);
		o += len;
		i += len;
	}
	out[o] = '\0';
	free(src);
	*out_len = o;
	return out;
}

void
runlog_open(RunLog *log, const char *path, long live_max, long long max_bytes)
{
	memset(log, 0, sizeof(*log));
	log->path = path;
	log->live_max = live_max > 0 ? live_max : PC_DEFAULT_MAX_LIVE_LOG;
	log->max_bytes = max_bytes > 0 ? (uint64_t) max_bytes : (uint64_t) PC_DEFAULT_MAX_LOG_BYTES;
	sha256_init(&log->sha);
	log->fd = -1;				/* created on the first output: a silent run has none */
}

static bool
log_ensure_open(RunLog *log)
{
	if (log->fd >= 0 || log->failed || log->path == NULL)
		return log->fd >= 0;
	log->fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log->fd < 0)
	{
		fprintf(stderr, "paperclip_runner: cannot open run log \"%s\": %s\n", log->path, strerror(errno));
		log->failed = true;
	}
	return log->fd >= 0;
}

static void
log_write(RunLog *log, const char *data, size_t len)
{
	size_t		done = 0;

	if (!log_ensure_open(log))
		return;
	while (log->fd >= 0 && done < len)
	{
		ssize_t		n = write(log->fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			fprintf(stderr, "paperclip_runner: run log write failed: %s\n", strerror(errno));
			close(log->fd);
			log->fd = -1;
			log->failed = true;
			return;
		}
		sha256_update(&log->sha, data + done, n);
		log->bytes += n;
		done += n;
	}
}

/* Keep the last PC_EXCERPT_BYTES of a stream, starting on a character. */
static void
keep_tail(StreamState *st, const char *text, size_t len)
{
	size_t		cap = PC_EXCERPT_BYTES;
	size_t		skip = 0;

	if (st->excerpt == NULL)
		st->excerpt = xmalloc(2 * cap + 1);
	if (len >= cap)
	{
		text += len - cap;
		len = cap;
		st->excerpt_len = 0;
	}
	else if (st->excerpt_len + len > cap)
	{
		size_t		drop = st->excerpt_len + len - cap;

		memmove(st->excerpt, st->excerpt + drop, st->excerpt_len - drop);
		st->excerpt_len -= drop;
	}
	memcpy(st->excerpt + st->excerpt_len, text, len);
	st->excerpt_len += len;
	while (skip < st->excerpt_len && ((unsigned char) st->excerpt[skip] & 0xC0) == 0x80)
		skip++;
	if (skip > 0)
	{
		memmove(st->excerpt, st->excerpt + skip, st->excerpt_len - skip);
		st->excerpt_len -= skip;
	}
	st->excerpt[st->excerpt_len] = '\0';
}

/*
 * Announce a record written to the run log in a live log frame (where it
 * is, not what it says), up to the live cap: past it, one log_capped frame
 * and no more announcements (the log keeps every record).
 */
static void
announce(RunLog *log, const char *stream, long long offset, long long bytes)
{
	if (log->live_capped)
		return;
	if (log->live_sent + bytes > log->live_max)
	{
		cJSON	   *f = cJSON_CreateObject();

		cJSON_AddStringToObject(f, "type", PC_FRAME_LOG_CAPPED);
		cJSON_AddNumberToObject(f, "bytes", (double) log->live_sent);
		frame_send(f, true);
		cJSON_Delete(f);
		log->live_capped = true;
		return;
	}
	frame_log(stream, offset, bytes);
	log->live_sent += bytes;
}

/*
 * One redacted chunk: to the excerpt, and to the log file and the live log
 * while the log stays within its cap; past it only counted.
 */
static void
store_chunk(RunLog *log, StreamState *st, const char *text, size_t len)
{
	cJSON	   *line;
	char		ts[40];
	char	   *json;
	size_t		json_len;
	uint64_t	offset = log->bytes;

	if (len == 0)
		return;
	keep_tail(st, text, len);
	if (log->truncated)
	{
		log->dropped += len;
		return;
	}
	iso_now(ts, sizeof(ts));
	line = cJSON_CreateObject();
	cJSON_AddStringToObject(line, "ts", ts);
	cJSON_AddStringToObject(line, "stream", st->name);
	cJSON_AddStringToObject(line, "chunk", text);
	json = cJSON_PrintUnformatted(line);
	cJSON_Delete(line);
	json_len = json ? strlen(json) : 0;
	if (log->bytes + json_len + 1 > log->max_bytes)
	{
		log->truncated = true;
		log->dropped += len;
		free(json);
		return;
	}
	if (json != NULL)
	{
		log_write(log, json, json_len);
		log_write(log, "\n", 1);
		free(json);
	}
	if (log->bytes > offset)
		announce(log, st->name, (long long) offset, (long long) (log->bytes - offset));
}

/* One chunk of sanitised output, redacted, then stored. */
void
runlog_chunk(RunLog *log, StreamState *st, const char *text, size_t len)
{
	size_t		n;
	char	   *redacted = redact_stream(&st->redact, text, len, false, &n);

	store_chunk(log, st, redacted, n);
	free(redacted);
}

/* What redaction still held back of a stream, at its end. */
static void
flush_stream(RunLog *log, StreamState *st)
{
	size_t		n;
	char	   *rest = redact_stream(&st->redact, "", 0, true, &n);

	store_chunk(log, st, rest, n);
	free(rest);
}

/* The log summary and excerpts, added to the result. */
void
runlog_finish(RunLog *log, cJSON *result, StreamState *out, StreamState *err)
{
	char		hex[65];
	bool		available;

	flush_stream(log, out);
	flush_stream(log, err);
	if (log->dropped > 0)
	{
		cJSON	   *payload = cJSON_CreateObject();
		char		msg[200];

		snprintf(msg, sizeof(msg), "run log truncated at %llu bytes (paperclip.max_log_bytes): "
				 "%llu bytes of output dropped",
				 (unsigned long long) log->max_bytes, (unsigned long long) log->dropped);
		cJSON_AddNumberToObject(payload, "maxLogBytes", (double) log->max_bytes);
		cJSON_AddNumberToObject(payload, "logBytes", (double) log->bytes);
		cJSON_AddNumberToObject(payload, "droppedBytes", (double) log->dropped);
		frame_warning(msg, payload);
		cJSON_Delete(payload);
	}
	available = log->bytes > 0;
	if (log->fd >= 0)
	{
		close(log->fd);
		log->fd = -1;
	}
	cJSON_AddStringToObject(result, "stdoutExcerpt", out->excerpt ? out->excerpt : "");
	cJSON_AddStringToObject(result, "stderrExcerpt", err->excerpt ? err->excerpt : "");
	if (!available)
		return;
	sha256_hex(&log->sha, hex);
	cJSON_AddNumberToObject(result, "logBytes", (double) log->bytes);
	cJSON_AddStringToObject(result, "logSha256", hex);
}
