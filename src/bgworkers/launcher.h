/*-------------------------------------------------------------------------
 * launcher.h
 *	  What the files of the launcher share (launcher.c: the loop, its units
 *	  of work and finalizations; runner_io.c: spawning runners, their pipes
 *	  and frames; reconcile.c: spool files, /proc identity, orphaned runs).
 *	  Nothing outside src/bgworkers/ includes it.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_LAUNCHER_H
#define PAPERCLIP_LAUNCHER_H

#include "postgres.h"

#include <sys/types.h>

#include "common/jsonapi.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "bgworkers/bgworkers.h"
#include "compat.h"

/*
 * Internal to the library: not exported, so that another library loaded
 * into the same process can neither see nor shadow these names.
 */
#pragma GCC visibility push(hidden)

/* JsonSemAction callbacks return an error code from PostgreSQL 16 on. */
#if PG_VERSION_NUM >= 160000
#define PC_SEM_RESULT JsonParseErrorType
#define PC_SEM_OK JSON_SUCCESS
#else
#define PC_SEM_RESULT void
#define PC_SEM_OK
#endif

/* How often, without a wake, the launcher looks for work and orphans. */
#define LAUNCHER_TICK_MS 1000
/* A runner's frame longer than this is dropped (runner bug). */
#define FRAME_MAX (16 * 1024 * 1024)
/* Bytes read from one runner before its frames are handled. */
#define READ_AHEAD (256 * 1024)
/* Frames of one runner handled in one unit of work. */
#define FRAMES_PER_UNIT 64
/* A frame whose unit failed this often (cancels aside) is dropped. */
#define FRAME_MAX_FAILURES 3
/* Attempts at each step of a finalization, a second more apart each time. */
#define FINALIZE_ATTEMPTS 3
#define FINALIZE_RETRY_MS 1000
#define FINALIZE_LAST_RETRY_MS 10000
/* Spaces for "run " + a uuid's text + NUL. */
#define RUN_ID_LEN (UUID_LEN * 2 + 5)
/* A run's output reaches paperclip.run_log_chunks this long after its runner wrote it, at most. */
#define LOG_FLUSH_MS 100
/* Bytes of spool logs copied into the table in one unit of work, all runs together. */
#define LOG_FLUSH_BUDGET (256 * 1024)
/* Records announced by a runner and not readable yet, kept per run (their live events). */
#define LOG_NOTES_MAX 1024
/* A run whose copies failed this often in a row is copied only when it is finalized. */
#define LOG_FLUSH_FAILURES 3

/* A process as /proc must still show it before it is signalled. */
typedef struct ProcIdentity
{
	pid_t		pid;
	uint64		start_ticks;	/* field 22 of /proc/pid/stat; 0: unknown */
} ProcIdentity;

/*
 * The steps of a finalization: the runner's result; if its shape is
 * refused, bad_result keeping exit code and excerpts; if finalizing keeps
 * failing, finalize_error keeping them; last, finalize_error alone.
 */
typedef enum FinalizeMode
{
	FIN_NONE = 0,				/* nothing to finalize (yet) */
	FIN_RESULT,
	FIN_REFUSED,
	FIN_FAILED,
	FIN_BARE
} FinalizeMode;

typedef enum ResultSource
{
	SRC_FRAME,					/* the runner's result frame */
	SRC_SPOOL,					/* the runner's spool file */
	SRC_LOST					/* no result: process_lost */
} ResultSource;

/* A run's finalization, tried as units of work until one commits. */
typedef struct Finalization
{
	FinalizeMode mode;
	ResultSource source;
	char	   *frame;			/* SRC_FRAME: the frame (TopMemoryContext) */
	const char *lost_message;	/* SRC_LOST: why */
	int			attempts;		/* failed attempts at this step */
	int			lock_waits;		/* lock timeouts in a row (not failures) */
	TimestampTz retry_at;
	char	   *why;			/* refusal or last failure (TopMemoryContext) */
	bool		done;			/* committed */
} Finalization;

/* A record a runner announced: its live event waits until the table holds it. */
typedef struct LogNote
{
	int64		offset;
	int32		bytes;
	char		stream;			/* o(ut), e(rr), s(ystem) */
} LogNote;

/*
 * A run's spool log, as the launcher copies it into paperclip.run_log_chunks
 * (log_tail.c): the runner appends to the file, the launcher copies what
 * the table lacks, in batches while the run goes on and the rest when it
 * is finalized; then the file goes.
 */
typedef struct LogTail
{
	bool		db;				/* the run's log is kept in the table (else: a file store) */
	int64		stored;			/* bytes of the file the table holds (committed); -1: unknown */
	int64		copied;			/* the table's bytes if the finalization in flight commits */
	int			notified;		/* notes it sent live events for */
	bool		grew;			/* its runner announced a record since the last copy */
	int			failures;		/* copies that failed in a row */
	LogNote    *notes;			/* TopMemoryContext, LOG_NOTES_MAX */
	int			nnotes;
	int64		noted_upto;		/* end of the last record noted */
} LogTail;

typedef struct Runner
{
	bool		in_use;
	ProcIdentity runner;		/* our child: its pid is ours until reaped */
	bool		reaped;			/* waited for: never signal its pid again */
	int			fd;				/* socket to the runner's stdin and stdout; -1 at EOF */
	StringInfoData pending;		/* bytes still to write: spec, "start", "ack" */
	StringInfoData frames;		/* frames read, not yet handled */
	bool		skipping;		/* dropping an overlong frame */
	bool		eof;			/* the runner closed its stdout */
	pg_uuid_t	run_id;
	char		run_id_str[RUN_ID_LEN];
	char		agent_id_str[RUN_ID_LEN];
	char		company_id_str[RUN_ID_LEN];
	ProcIdentity agent;			/* the agent's process group, once spawned */
	int			frame_failures; /* failed units of the frame at the head */
	bool		one_frame_units;	/* a unit of several frames failed */
	int			frame_lock_waits;	/* lock timeouts in a row of the frame at the head */
	TimestampTz frames_retry_at;	/* after one: not before */
	Finalization fin;
	bool		cancel_sent;
	bool		dropped;		/* its run went with the extension: drain, record nothing */
	LogTail		log;
} Runner;

/* A running run whose runner is not one of this launcher's children. */
typedef struct Orphan
{
	pg_uuid_t	run_id;
	char		run_id_str[RUN_ID_LEN];
	ProcIdentity runner;
	ProcIdentity agent;
	bool		ours;			/* started by this cluster: may be waited for */
	bool		signallable;	/* and by this postmaster: may be signalled */
	bool		waiting;		/* its runner lives: wait for its spool */
	bool		cancel_sent;
	bool		listed;			/* by the last reconciliation */
	Finalization fin;
	char		company_id_str[RUN_ID_LEN];
	LogTail		log;
} Orphan;

/* launcher.c */
extern Runner *runners;
extern int	nrunners;
extern char run_log_dir[MAXPGPATH];
extern char spool_dir[MAXPGPATH];
extern char shared_spool_dir[MAXPGPATH];
extern char runner_path[MAXPGPATH];
extern MemoryContext loop_cxt;

extern bool launcher_unit(const char *activity, PcUnitFn fn, void *arg,
						  ErrorData **error);
extern Datum uuid_datum(pg_uuid_t *u);
extern void make_dirs(const char *path);
extern Jsonb *make_result(const char *error_code, const char *message);
extern void finalize_begin(Finalization *fin, ResultSource source, char *frame,
						   const char *lost_message);
extern bool finalize_due(const Finalization *fin, TimestampTz now);
extern void finalize_step(pg_uuid_t *run_id, const char *run_id_str, const char *company_id_str,
						  LogTail *log, Finalization *fin);
extern void finalize_forget(Finalization *fin);
extern TimestampTz finalize_next(const Finalization *fin, TimestampTz next);

/* runner_io.c */
extern bool slot_freed;

extern int	runners_in_use(void);
extern Runner *free_slot(void);
extern void ensure_slots(int n);
extern int	runner_fd_capacity(void);
extern void reap_children(void);
extern void flush_pending(Runner *r);
extern bool spawn_runner(Runner *r, char **error);
extern void abandon_runner(Runner *r);
extern void send_line(Runner *r, const char *line);
extern bool wants_input(Runner *r);
extern bool read_runner(Runner *r);
extern void runner_closed(Runner *r);
extern void serve_runner(Runner *r);
extern bool cancel_runner(Runner *r);
extern void drop_runner(Runner *r);

/* reconcile.c */
extern Orphan *orphans;
extern int	norphans;

extern bool pc_proc_start_ticks(pid_t pid, uint64 *ticks);
extern bool proc_is(const ProcIdentity *id);
extern bool runner_proven(const ProcIdentity *id);
extern bool signal_proven_runner(const ProcIdentity *id, int sig);
extern void kill_agent_group(const ProcIdentity *agent, pid_t runner_pid,
							 const char *run_id_str);
extern char *spool_path(const char *run_id);
extern char *spool_log_path(const char *run_id);
extern bool spool_exists(const char *run_id);
extern char *read_spool_text(const char *run_id);
extern Jsonb *read_spool(const char *run_id);
extern void remove_spool(const char *run_id);
extern Datum runner_run_ids(void);
extern void reconcile_orphans(void);
extern void serve_orphans(void);
extern bool cancel_orphan(Orphan *o);
extern void clean_spool(void);

/* log_tail.c */
extern void log_tail_start(LogTail *t, bool db, bool fresh);
extern void log_tail_note(LogTail *t, const char *stream, int64 offset, int64 bytes);
extern void log_tail_forget(LogTail *t);
extern void flush_logs(bool look_at_all);
extern TimestampTz log_flush_next(TimestampTz next);
extern bool log_tail_behind(LogTail *t, const char *run_id_str);
extern void log_copy_rest(Datum company_id, Datum run_id, const char *run_id_str,
						  const char *company_id_str, LogTail *t, Jsonb *result);
extern void log_file_done(LogTail *t, const char *run_id_str, const char *company_id_str);
extern void log_file_discard(LogTail *t, const char *run_id_str);

#pragma GCC visibility pop

#endif
