/*-------------------------------------------------------------------------
 * runner.h
 *	  Declarations shared by the files of paperclip_runner, the executable
 *	  that runs one agent run outside the database (see protocol.h).
 *	  No backend header may be included here.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_RUNNER_H
#define PAPERCLIP_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "protocol.h"

/* The run spec the launcher sends. */
typedef struct RunSpec
{
	cJSON	   *json;
	const char *run_id;
	const char *agent_id;
	const char *company_id;
	const char *adapter_type;
	cJSON	   *config;
	cJSON	   *context;
	const char *session_id;
	const char *wake_reason;
	const char *log_path;
	const char *spool_path;
	const char *result_file;
	cJSON	   *allowed_commands;
	cJSON	   *allowed_hosts;
	long		max_live_log;
} RunSpec;

/* sha256.c */
typedef struct Sha256
{
	uint32_t	h[8];
	uint64_t	len;
	unsigned char buf[64];
	size_t		fill;
} Sha256;
extern void sha256_init(Sha256 *s);
extern void sha256_update(Sha256 *s, const void *data, size_t n);
extern void sha256_hex(Sha256 *s, char out[65]);

/* frames.c: messages to the launcher on stdout */
extern void frames_init(void);
extern bool frames_launcher_gone(void);
extern void frame_send(cJSON *frame, bool must_deliver);
extern void frame_log(const char *stream, const char *chunk, size_t len,
					  long long offset, long long bytes);
extern void iso_now(char *buf, size_t size);
extern long long now_ms(void);

/* runlog.c: the run log, excerpts, UTF-8 sanitising */
typedef struct Utf8Carry
{
	unsigned char bytes[4];
	int			len;
} Utf8Carry;

typedef struct StreamState
{
	const char *name;
	Utf8Carry	carry;
	char	   *excerpt;		/* tail, at most PC_EXCERPT_BYTES */
	size_t		excerpt_len;
} StreamState;

typedef struct RunLog
{
	int			fd;				/* -1: not open (yet) */
	bool		failed;			/* could not be written: unavailable */
	const char *path;
	uint64_t	bytes;
	Sha256		sha;
	long		live_sent;
	long		live_max;
	bool		live_capped;
} RunLog;

extern void runlog_open(RunLog *log, const char *path, long live_max);
extern void runlog_chunk(RunLog *log, StreamState *st, const char *text, size_t len);
extern char *utf8_sanitize(Utf8Carry *carry, const unsigned char *in, size_t n,
						   bool final, size_t *out_len);
extern void runlog_finish(RunLog *log, cJSON *result, StreamState *out, StreamState *err);

/* adapters/process.c, adapters/http.c */
extern cJSON *process_adapter_run(const RunSpec *spec, int sigfd);
extern cJSON *http_adapter_run(const RunSpec *spec, int sigfd);

/* result.c */
extern const char *result_take_claimed(cJSON *result, cJSON *claimed);

/* runner_main.c */
extern cJSON *make_error_result(const char *code, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

#endif
