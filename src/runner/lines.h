/*-------------------------------------------------------------------------
 * lines.h
 *	  Streaming helpers of paperclip_runner that know nothing of processes:
 *	  a text buffer with a cap, and a reader that cuts an output stream into
 *	  lines as it arrives. No backend header; used by the adapters and by the
 *	  runner's unit tests (test/unit).
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_RUNNER_LINES_H
#define PAPERCLIP_RUNNER_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing string (always NUL-terminated) that stops at max bytes. */
typedef struct TextBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		max;			/* 0: no cap */
	bool		truncated;		/* something was left out */
	bool		failed;			/* out of memory: what is there is all */
} TextBuf;

extern void textbuf_init(TextBuf *b, size_t max);
extern void textbuf_append(TextBuf *b, const char *s, size_t n);
extern void textbuf_puts(TextBuf *b, const char *s);
extern const char *textbuf_str(const TextBuf *b);
extern void textbuf_free(TextBuf *b);
/* The n first bytes of s cut back to a character boundary. */
extern size_t utf8_prefix_len(const char *s, size_t n);

/*
 * Cuts a stream into lines and hands each complete one (without its "\n"
 * or a "\r" before it, leading blanks dropped) to on_line. A line whose
 * first non-blank byte is "{" (a JSON object, maybe) is kept whole up to
 * max_line bytes; a longer one is skipped (counted in lines_too_long). Any
 * other line is kept up to plain_max bytes, the rest of it dropped as it
 * streams past (plain_max 0: such lines are skipped), so a banner of any
 * length costs no memory. Memory stays bounded whatever the agent prints.
 * finish() hands over a last line without "\n" (an agent killed mid-line
 * leaves one: a JSON parser then ignores it).
 */
typedef void (*LineFn) (void *arg, const char *line, size_t len);

typedef struct LineReader
{
	LineFn		on_line;
	void	   *arg;
	size_t		max_line;
	size_t		plain_max;
	char	   *buf;
	size_t		len;
	size_t		cap;
	bool		started;		/* a non-blank byte of this line was seen */
	bool		json;			/* ... and it was "{" */
	bool		skipping;		/* the line is not handed over */
	bool		full;			/* a plain line's kept part is full */
	bool		too_long;		/* a JSON line passed max_line */
	uint64_t	lines_too_long;
} LineReader;

extern void lines_init(LineReader *r, LineFn on_line, void *arg, size_t max_line, size_t plain_max);
extern void lines_feed(LineReader *r, const char *data, size_t n);
extern void lines_finish(LineReader *r);
extern void lines_free(LineReader *r);

#endif
