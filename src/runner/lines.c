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
lines_init(LineReader *r, LineFn on_line, void *arg, bool json_only, size_t max_line)
{
	memset(r, 0, sizeof(*r));
	r->on_line = on_line;
	r->arg = arg;
	r->json_only = json_only;
	r->max_line = max_line;
}

/* Keep n more bytes of the current line; false when it cannot be kept. */
static bool
keep(LineReader *r, const char *data, size_t n)
{
	if (r->len + n > r->max_line)
	{
		r->too_long = true;
		return false;
	}
	if (r->len + n + 1 > r->cap)
	{
		size_t		cap = r->cap ? r->cap : 4096;
		char	   *buf;

		while (cap < r->len + n + 1)
			cap *= 2;
		if (cap > r->max_line + 1)
			cap = r->max_line + 1;
		buf = realloc(r->buf, cap);
		if (buf == NULL)
		{
			r->failed = true;
			return false;
		}
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
	r->started = false;
	r->skipping = false;
	r->too_long = false;
	/* a huge line's buffer is not kept for the lines after it */
	if (r->cap > 1024 * 1024)
	{
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
}

void
lines_feed(LineReader *r, const char *data, size_t n)
{
	while (n > 0)
	{
		const char *nl = memchr(data, '\n', n);
		size_t		piece = nl ? (size_t) (nl - data) : n;
		const char *p = data;
		size_t		left = piece;

		if (!r->started && !r->skipping)
		{
			/* leading blanks are dropped; the first other byte decides */
			while (left > 0 && (*p == ' ' || *p == '\t' || *p == '\r'))
			{
				p++;
				left--;
			}
			if (left > 0)
			{
				r->started = true;
				if (r->json_only && *p != '{')
					r->skipping = true;
			}
		}
		if (r->started && !r->skipping && left > 0 && !keep(r, p, left))
			r->skipping = true;
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
