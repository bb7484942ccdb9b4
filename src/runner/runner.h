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
#include <sys/types.h>
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
	bool		http_allow_private;	/* connect to loopback, private... */
	long		max_live_log;
	long long	max_log_bytes;	/* the run log's cap */
	bool		isolation;		/* run programs as os_user in namespaces */
	const char *os_user;
	const char *home;			/* the agent's home: its default cwd */
	long		max_processes;	/* isolated: RLIMIT_NPROC of the run; 0 none */
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
extern void frame_log(const char *stream, long long offset, long long bytes);
extern void frame_warning(const char *message, const cJSON *payload);
extern void iso_now(char *buf, size_t size);
extern long long now_ms(void);

/* redact.c: secrets out of everything stored */
typedef struct RedactCarry
{
	char	   *buf;			/* held back until the next piece */
	size_t		len;
} RedactCarry;

extern void redact_init(const cJSON *config);
extern bool redact_key_is_secret(const char *key);
extern char *redact_text(const char *text, size_t len, size_t *out_len);
extern char *redact_stream(RedactCarry *carry, const char *text, size_t len,
						   bool final, size_t *out_len);
extern void redact_json(cJSON *item);

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
	RedactCarry redact;
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
	long		live_sent;		/* bytes of records announced in log frames */
	long		live_max;
	bool		live_capped;
	uint64_t	max_bytes;		/* paperclip.max_log_bytes */
	bool		truncated;		/* past it: output drained, not stored */
	uint64_t	dropped;		/* bytes of output not stored */
} RunLog;

extern void runlog_open(RunLog *log, const char *path, long live_max, long long max_bytes);
extern void runlog_chunk(RunLog *log, StreamState *st, const char *text, size_t len);
extern char *utf8_sanitize(Utf8Carry *carry, const unsigned char *in, size_t n,
						   bool final, size_t *out_len);
extern void runlog_finish(RunLog *log, cJSON *result, StreamState *out, StreamState *err);

/* sandbox.c: starting and containing an agent's program */
#define SANDBOX_TMP "/var/tmp"	/* private to each isolated run */
#define SANDBOX_CONTEXT_NAME "paperclip-context.json"
#define SANDBOX_RESULT_NAME "paperclip-result.json"

typedef struct AgentCommand
{
	const char *path;			/* absolute */
	char	  **argv;
	char	  **envp;
	const char *cwd;			/* NULL: sandbox_default_cwd() */
	bool		stdin_pipe;		/* false: stdin is /dev/null */
	const char *context;		/* written to the context file */
	size_t		context_len;
} AgentCommand;

typedef struct Agent
{
	pid_t		pid;			/* the run's top process, as the host sees it */
	bool		isolated;		/* pid is the init of the run's namespaces */
	bool		reaped;			/* pid was waited for */
	int			out_fd;
	int			err_fd;
	int			in_fd;			/* the program's stdin, when asked for */
	int			report_fd;		/* isolated: the init's messages */
	int			alive_fd;		/* isolated: its EOF tells the init we are gone */
	char	   *report;			/* a message being received */
	size_t		report_len;
	bool		status_known;	/* the init reported the program's status */
	int			status;
	char	   *result_text;	/* the result file, as the init read it */
	char	   *result_why;		/* or why it refused it */
	const char *context_path;	/* not isolated: our context file, removed after */
} Agent;

typedef enum SandboxOutcome
{
	SANDBOX_OK,
	SANDBOX_SPAWN_FAILED,		/* the program: adapter_spawn_failed */
	SANDBOX_UNAVAILABLE			/* the isolation: agent_isolation_unavailable */
} SandboxOutcome;

extern void sandbox_prepare(void);
extern void sandbox_drop_privileges(void);
extern const char *sandbox_context_file(const RunSpec *spec);
extern const char *sandbox_result_file(const RunSpec *spec);
extern const char *sandbox_default_cwd(const RunSpec *spec);
extern SandboxOutcome agent_start(const RunSpec *spec, const AgentCommand *cmd, Agent *a,
								  char *msg, size_t msglen);
extern void agent_signal(const Agent *a, int sig);
extern void agent_read_reports(Agent *a);
extern int	agent_exit_status(Agent *a, int status);
extern char *agent_result_file(Agent *a, const RunSpec *spec, char *why, size_t whylen);
extern void agent_release(Agent *a);

/* adapters/process.c, adapters/http.c */
extern cJSON *process_adapter_run(const RunSpec *spec, int sigfd);
extern cJSON *http_adapter_run(const RunSpec *spec, int sigfd);

/* result.c */
extern const char *result_take_claimed(cJSON *result, cJSON *claimed);
extern char *result_file_read(const char *path, size_t max, char *why, size_t whylen);

/* runner_main.c */
extern cJSON *make_error_result(const char *code, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern int	runner_sigfd(void);
extern bool runner_poll_signals(void);
extern bool runner_term_requested(void);

/* allocations that cannot fail: out of memory, the runner exits (runner_main.c) */
#define EXIT_NO_MEMORY 5
extern void runner_out_of_memory(void) __attribute__((noreturn));
extern void *xmalloc(size_t n);
extern void *xrealloc(void *p, size_t n);
extern char *xstrdup(const char *s);

#endif
