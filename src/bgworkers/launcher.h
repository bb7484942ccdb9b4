/*-------------------------------------------------------------------------
 * launcher.h
 *	  What the files of the launcher share (launcher.c: the loop and its
 *	  transactions; runner_io.c: spawning runners, their pipes and frames;
 *	  reconcile.c: spool files, /proc identity, orphaned runs). Nothing
 *	  outside src/bgworkers/ includes it.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_LAUNCHER_H
#define PAPERCLIP_LAUNCHER_H

#include "postgres.h"

#include <sys/types.h>

#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* How often, without a wake, the launcher looks for work and orphans. */
#define LAUNCHER_TICK_MS 1000
/* A runner's frame longer than this is dropped (runner bug). */
#define FRAME_MAX (16 * 1024 * 1024)

typedef struct Runner
{
	bool		in_use;
	pid_t		pid;
	int			out_fd;			/* runner's stdout: frames */
	int			in_fd;			/* runner's stdin: spec and "start" */
	StringInfoData pending;		/* bytes still to write to in_fd */
	StringInfoData frames;		/* partial frame line read from out_fd */
	bool		skipping;		/* dropping an overlong frame */
	pg_uuid_t	run_id;
	pid_t		agent_pid;		/* the agent's process group, once spawned */
	char		run_id_str[UUID_LEN * 2 + 5];
	char		agent_id_str[UUID_LEN * 2 + 5];
	char		company_id_str[UUID_LEN * 2 + 5];
	bool		finalized;
	bool		ack_pending;	/* finalized in the open transaction: ack after commit */
	bool		cancel_sent;
	bool		abandoned;		/* its extension was dropped: drain, record nothing */
} Runner;

/* A running run whose runner belongs to an earlier launcher. */
typedef struct Orphan
{
	pg_uuid_t	run_id;
	pid_t		pid;
	bool		cancel_sent;
} Orphan;

/* launcher.c */
extern Runner *runners;
extern int	nrunners;
extern char run_log_dir[MAXPGPATH];
extern char spool_dir[MAXPGPATH];
extern char runner_path[MAXPGPATH];
extern MemoryContext loop_cxt;

extern bool begin_tx(const char *activity);
extern void commit_tx(void);
extern Datum uuid_datum(pg_uuid_t *u);
extern void make_dirs(const char *path);
extern Jsonb *make_result(const char *error_code, const char *message);
extern void finalize_safely(pg_uuid_t *run_id, Jsonb *result);

/* runner_io.c */
extern bool slot_freed;

extern int	runners_in_use(void);
extern Runner *free_slot(void);
extern void ensure_slots(int n);
extern void reap_children(void);
extern void flush_pending(Runner *r);
extern bool spawn_runner(Runner *r, char **error);
extern bool read_runner(Runner *r);
extern void runner_gone(Runner *r);

/* reconcile.c */
extern Orphan *orphans;
extern int	norphans;

extern bool process_start_time(pid_t pid, TimestampTz *out);
extern void kill_agent_group(pid_t agent_pid);
extern Jsonb *read_spool(const char *run_id);
extern void remove_spool(const char *run_id);
extern Datum in_flight_ids(void);
extern void reconcile_orphans(void);

#endif
