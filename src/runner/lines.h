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
 * or a "\r" before it) to on_line. With json_only, lines whose first
 * non-blank byte is not "{" are skipped as they stream past, without being
 * buffered, so a banner of any length costs no memory. A line longer than
 * max_line is skipped too (counted in lines_too_long): memory stays bounded
 * whatever the agent prints. finish() hands over a last line without "\n"
 * (an agent killed mid-line leaves one: a JSON parser then ignores it).
 */
typedef void (*LineFn) (void *arg, const char *line, size_t len);

typedef struct LineReader
{
	LineFn		on_line;
	void	   *arg;
	bool		json_only;
	size_t		max_line;
	char	   *buf;
	size_t		len;
	size_t		cap;
	bool		started;		/* a non-blank byte of this line was seen */
	bool		skipping;		/* the rest of this line is not kept */
	bool		too_long;		/* ... because it passed max_line */
	uint64_t	lines_too_long;
	bool		failed;			/* out of memory once: this line is skipped */
} LineReader;

extern void lines_init(LineReader *r, LineFn on_line, void *arg, bool json_only, size_t max_line);
extern void lines_feed(LineReader *r, const char *data, size_t n);
extern void lines_finish(LineReader *r);
extern void lines_free(LineReader *r);

#endif
