/*-------------------------------------------------------------------------
 * worker.h
 *	  paperclip_worker: runs paperclip's agent runs on any machine, over
 *	  libpq. It LISTENs for queued runs, claims them with
 *	  paperclip.worker_claim_runs (SKIP LOCKED: any number of workers share
 *	  the queue), runs each through the same paperclip_runner as the
 *	  launcher (protocol.h), relays the runner's log and events with
 *	  append_run_log / append_run_event, renews the leases of its runs, and
 *	  reports each result with worker_finalize_run. A result is first kept
 *	  in a local spool file, removed once the database has it: a database
 *	  that goes away (restart, network) costs a reconnection with backoff,
 *	  not a run.
 *
 *	  One process, one thread, one poll() loop: the database connection is
 *	  non-blocking (libpq pipeline mode), so runners are served while a
 *	  statement runs or the database is away.
 *
 *	  Files: main.c (options, state directory, the loop), db.c (connection,
 *	  reconnection, statements in the pipeline, notifications), claim.c
 *	  (claims, leases, cancellations), runner.c (runner processes and their
 *	  frames), relay.c (the run log and events to SQL), spool.c (results on
 *	  local disk until delivered), util.c (buffers, logging, time).
 *
 *	  No backend header may be included here.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_WORKER_H
#define PAPERCLIP_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "protocol.h"

#define WORKER_NAME "paperclip_worker"
#define UUID_STR_LEN 36

/* timings (milliseconds) */
#define CLAIM_POLL_MS 5000		/* safety net: claim without a notification */
#define SPOOL_SCAN_MS 30000		/* leftover spool files looked for */
#define LOG_SCAN_MS 1000		/* run logs read even without a log frame */
#define RETRY_DELIVERY_MS 2000	/* a result the database could not take now */
#define CONNECT_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
#define MIN_IO_TIMEOUT_MS 5000	/* a statement unanswered this long: connection lost */
#define LOG_BATCH_MAX (512 * 1024)	/* log bytes a run sends in one statement */
#define FRAME_MAX (16 * 1024 * 1024)	/* a longer frame is a runner bug: dropped */

/* ---- util.c ---- */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

extern void *xmalloc(size_t n);
extern void *xrealloc(void *p, size_t n);
extern char *xstrdup(const char *s);
extern char *xasprintf(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void buf_append(Buf *b, const void *data, size_t n);
extern void buf_appendstr(Buf *b, const char *s);
extern void buf_consume(Buf *b, size_t n);
extern void buf_reset(Buf *b);
extern void buf_free(Buf *b);
extern long long now_ms(void);

typedef enum LogLevel
{
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARNING,
	LOG_ERROR
} LogLevel;
extern int	log_verbosity;		/* LOG_INFO, or LOG_DEBUG with --verbose */
extern void wlog(LogLevel level, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern void fatal(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- main.c: settings and state of the whole worker ---- */
typedef struct Settings
{
	const char *dsn;			/* "" : libpq's environment */
	int			concurrency;
	const char *name;
	const char *runner_path;
	char	   *dir;			/* this worker's directory: spool/ and logs/ */
	char	   *spool_dir;
	char	   *log_dir;
} Settings;

extern Settings settings;
extern bool draining;			/* stop claiming; exit once every run is done */
extern bool stopping;			/* stop the runs now (second signal) */

/* ---- db.c ---- */
typedef struct DbReply
{
	PGresult   *result;			/* the statement's rows, or NULL */
	bool		failed;			/* error, or aborted with an earlier one */
	bool		conn_lost;		/* no answer: the connection went away */
	char		sqlstate[6];
	const char *message;		/* of the error */
} DbReply;

typedef void (*DbCallback) (const DbReply *reply, void *arg);

/* A statement run often: prepared once per connection, on first use. */
typedef struct DbStatement
{
	const char *name;
	const char *sql;
	int			nparams;
	bool		prepared;		/* on the current connection */
	bool		registered;
} DbStatement;

#define DB_STATEMENT(name_, nparams_, sql_) {.name = (name_), .sql = (sql_), .nparams = (nparams_)}

extern bool db_ready(void);
extern void db_send(const char *sql, int nparams, const char *const *values,
					DbCallback cb, void *arg);
extern void db_send_prepared(DbStatement *st, const char *const *values,
							 DbCallback cb, void *arg);
extern int	db_in_flight(void);
extern void db_poll_fd(int *fd, short *events);
extern void db_step(short revents);
extern long long db_next_wake(void);
extern void db_finish(void);

/* ---- claim.c ---- */
extern double lease_seconds;
extern void claim_on_connect(void);
extern void claim_notified(const char *payload);
extern void claim_step(void);
extern long long claim_next_wake(void);
extern void renew_now(void);
extern void claim_slot_freed(void);

/* ---- runner.c ---- */
typedef struct Run
{
	bool		in_use;
	char		id[UUID_STR_LEN + 1];
	pid_t		runner_pid;		/* 0 once reaped */
	int			in_fd;			/* runner's stdin: spec, "start", "ack" */
	int			out_fd;			/* runner's stdout: frames; -1 at EOF */
	Buf			to_runner;
	Buf			frame;
	bool		skipping;		/* dropping an overlong frame */
	pid_t		agent_pid;		/* the agent's process group, once spawned */
	bool		cancel_sent;	/* SIGTERM sent: cancelled, lost or stopping */
	bool		stopped_by_worker;	/* a cancelled result is process_lost */
	bool		lost;			/* the lease is gone: drop its result */
	bool		result_received;	/* the runner reported one (or its spool had it) */
	bool		result_spooled; /* its result is in the spool, to deliver */
	/* relay.c: the run log and events */
	int			log_fd;
	long long	log_offset;		/* read up to here */
	bool		log_at_end;		/* the last read reached the file's end */
	Buf			log_partial;	/* a log line read in part */
	char		seg_stream[8];	/* the chunks being merged: their stream */
	Buf			seg_text;		/* and their text */
	Buf			log_batch;		/* JSON items [stream, text], comma-separated */
	int			log_items;
	Buf			log_sending;	/* the batch in flight */
	int			log_sending_items;
	bool		log_in_flight;
	Buf			event_batch;	/* JSON items {type, level, message, payload} */
	int			event_items;
	Buf			event_sending;
	int			event_sending_items;
	bool		events_in_flight;
} Run;

extern Run *runs;
extern int	nruns;

extern int	runs_busy(void);
extern Run *run_find(const char *id);
extern void runner_start(const char *id, const char *spec_json);
extern void runner_stop(Run *r, bool lost);
extern void runners_poll_fds(struct pollfd *fds, Run **owners, int *n);
extern void runner_io(Run *r, int fd, short revents);
extern void runner_ack(Run *r);
extern int	runners_alive(void);
extern void runners_reap(void);
extern void run_release_if_done(Run *r);

/* ---- relay.c ---- */
extern void relay_log_frame(Run *r);
extern void relay_event(Run *r, const char *type, const char *level,
						const char *message, cJSON *payload);
extern void relay_read_log(Run *r);
extern void relay_read_all_logs(void);
extern void relay_flush(Run *r);
extern void relay_flush_all(void);
extern bool relay_drain(Run *r);
extern void relay_close(Run *r);
extern bool relay_idle(Run *r);

/* ---- spool.c ---- */
extern void spool_init(void);
extern void spool_result(Run *r, cJSON *result);
extern void spool_runner_gone(Run *r);
extern void spool_step(void);
extern long long spool_next_wake(void);
extern bool spool_pending(void);
extern void spool_remove_run_files(const char *id);
extern char *spool_path(const char *id, const char *suffix);
extern cJSON *make_error_result(const char *code, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

#endif
