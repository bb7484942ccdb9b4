/*-------------------------------------------------------------------------
 * lines.c
 *	  Capped text buffers and the streaming line reader (see lines.h).
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "lines.h"

void
textbuf_init(TextBuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

size_t
utf8_prefix_len(const char *s, size_t n)
{
	/* back off continuation bytes, then the lead byte of a cut character */
	size_t		end = n;

	while (end > 0 && ((unsigned char) s[end] & 0xC0) == 0x80)
		end--;
	return end;
}

void
textbuf_append(TextBuf *b, const char *s, size_t n)
{
	if (b->failed || n == 0)
		return;
	if (b->max > 0 && b->len + n > b->max)
	{
		/* keep what fits, cut on a character */
		size_t		room = b->max - b->len;

		n = room < n ? utf8_prefix_len(s, room) : n;
		b->truncated = true;
		if (n == 0)
			return;
	}
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;
		char	   *data;

		while (cap < b->len + n + 1)
			cap *= 2;
		data = realloc(b->data, cap);
		if (data == NULL)
		{
			b->failed = true;
			b->truncated = true;
			return;
		}
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
textbuf_puts(TextBuf *b, const char *s)
{
	textbuf_append(b, s, strlen(s));
}

const char *
textbuf_str(const TextBuf *b)
{
	return b->data ? b->data : "";
}

void
textbuf_free(TextBuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
lines_init(LineReader *r, LineFn on_line, void *arg, size_t max_line, size_t plain_max)
{
	memset(r, 0, sizeof(*r));
	r->on_line = on_line;
	r->arg = arg;
	r->max_line = max_line;
	r->plain_max = plain_max;
}

/* Keep n more bytes of the current line, up to limit; false when they do not fit. */
static bool
keep(LineReader *r, const char *data, size_t n, size_t limit)
{
	if (r->len + n > limit)
		return false;
	if (r->len + n + 1 > r->cap)
	{
		size_t		cap = r->cap ? r->cap : 4096;
		char	   *buf;

		while (cap < r->len + n + 1)
			cap *= 2;
		if (cap > limit + 1)
			cap = limit + 1;
		buf = realloc(r->buf, cap);
		if (buf == NULL)
			return false;
		r->buf = buf;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	return true;
}

/* The line ends: hand it over unless it was skipped. */
static void
end_line(LineReader *r)
{
	if (r->too_long)
		r->lines_too_long++;
	if (!r->skipping && r->started && r->len > 0)
	{
		size_t		len = r->len;

		if (len > 0 && r->buf[len - 1] == '\r')
			len--;
		r->buf[len] = '\0';
		r->on_line(r->arg, r->buf, len);
	}
	r->len = 0;
	r->started = r->json = r->skipping = r->full = r->too_long = false;
	/* a huge line's buffer is not kept for the lines after it */
	if (r->cap > 1024 * 1024)
	{
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
}

/* n bytes of the current line (no newline among them). */
static void
add(LineReader *r, const char *p, size_t n)
{
	if (!r->started)
	{
		/* leading blanks are dropped; the first other byte decides */
		while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++, n--;
		if (n == 0)
			return;
		r->started = true;
		r->json = *p == '{';
		r->skipping = !r->json && r->plain_max == 0;
	}
	if (r->skipping || r->full || n == 0)
		return;
	if (r->json)
	{
		if (!keep(r, p, n, r->max_line))
		{
			r->too_long = true;
			r->skipping = true;
		}
	}
	else if (!keep(r, p, n, r->plain_max))
	{
		/* keep what fits, on a character boundary */
		size_t		room = r->plain_max > r->len ? r->plain_max - r->len : 0;

		(void) keep(r, p, utf8_prefix_len(p, room), r->plain_max);
		r->full = true;
	}
}

void
lines_feed(LineReader *r, const char *data, size_t n)
{
	while (n > 0)
	{
		const char *nl = memchr(data, '\n', n);
		size_t		piece = nl ? (size_t) (nl - data) : n;

		add(r, data, piece);
		if (nl == NULL)
			return;
		end_line(r);
		data += piece + 1;
		n -= piece + 1;
	}
}

void
lines_finish(LineReader *r)
{
	end_line(r);
}

void
lines_free(LineReader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->len = 0;
}
