/*-------------------------------------------------------------------------
 * runner_io.c
 *	  The launcher's side of its runners: slots, spawning a
 *	  paperclip_runner (posix_spawn, its stdin and stdout one end of a
 *	  socket pair whose other end, non-blocking, counts against
 *	  max_files_per_process: one descriptor a runner), writing to it,
 *	  reading its frames and handling them (see protocol.h) as units of
 *	  work: run events, the agent's identity, then the run's finalization.
 *	  Log frames need no transaction: they announce records of the run's
 *	  log, whose copy into the database and live events log_tail.c does.
 *
 *	  Frames stay in the runner's buffer until the unit that handled them
 *	  has committed; a unit that fails is tried again, a frame at a time
 *	  once a unit of several failed, and a frame that keeps failing (query
 *	  cancels aside) is dropped with a warning. The result frame is never
 *	  dropped: it starts the run's finalization (launcher.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "spi_util.h"
#include "bgworkers/bgworkers.h"
#include "bgworkers/launcher.h"

/* The launcher's descriptors of one runner: a socket to its stdin and stdout. */
#define FDS_PER_RUNNER 1

bool		slot_freed = false;	/* a runner finished: claim again */

/* $3 null when the runner did not say when the agent started */
static PcPlan plan_record_agent = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET agent_pid = $2, agent_start_ticks = $3 WHERE id = $1",
	UUIDOID, INT4OID, INT8OID);

/* ----------------------------------------------------------------------
 * Runner slots and descriptors
 * ----------------------------------------------------------------------
 */

int
runners_in_use(void)
{
	int			i,
				n = 0;

	for (i = 0; i < nrunners; i++)
		if (runners[i].in_use)
			n++;
	return n;
}

Runner *
free_slot(void)
{
	int			i;

	for (i = 0; i < nrunners; i++)
		if (!runners[i].in_use)
			return &runners[i];
	return NULL;
}

void
ensure_slots(int n)
{
	MemoryContext old;
	int			i;

	if (n <= nrunners)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	runners = runners ? repalloc(runners, sizeof(Runner) * n) : palloc(sizeof(Runner) * n);
	for (i = nrunners; i < n; i++)
	{
		memset(&runners[i], 0, sizeof(Runner));
		runners[i].fd = -1;
		initStringInfo(&runners[i].pending);
		initStringInfo(&runners[i].frames);
	}
	nrunners = n;
	MemoryContextSwitchTo(old);
}

/*
 * How many runners the descriptors fd.c lets this process hold allow.
 * External descriptors are limited to a third of max_safe_fds, and the
 * process holds some already (its latch's, PostgreSQL's version decides
 * which): the ones still free are counted by taking them all, then
 * giving them back. Besides one socket a runner, the wait event set takes
 * one while the launcher waits and a spawn one more for a moment.
 */
int
runner_fd_capacity(void)
{
	int			available = 0;
	int			held = 0;
	int			i;

	while (AcquireExternalFD())
		available++;
	for (i = 0; i < available; i++)
		ReleaseExternalFD();
	for (i = 0; i < nrunners; i++)
		if (runners[i].in_use && runners[i].fd >= 0)
			held++;
	return Max(1, (available + held - 2) / FDS_PER_RUNNER);
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
	{
		close(*fd);
		ReleaseExternalFD();
		*fd = -1;
	}
}

/* Reap exited children; a reaped runner's pid may be reused: mark it. */
void
reap_children(void)
{
	pid_t		pid;
	int			status;
	int			i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < nrunners; i++)
			if (runners[i].in_use && runners[i].runner.pid == pid)
				runners[i].reaped = true;
}

static void
reset_runner(Runner *r)
{
	close_fd(&r->fd);
	if (!r->reaped && r->runner.pid > 0)
		(void) waitpid(r->runner.pid, NULL, WNOHANG);
	resetStringInfo(&r->pending);
	resetStringInfo(&r->frames);
	/* a long frame grew the buffer: the next runner of this slot starts small */
	if (r->frames.maxlen > READ_AHEAD)
	{
		pfree(r->frames.data);
		r->frames.data = MemoryContextAlloc(TopMemoryContext, 1024);
		r->frames.maxlen = 1024;
		resetStringInfo(&r->frames);
	}
	finalize_forget(&r->fin);
	r->in_use = false;
}

/* The runner is done: its slot is free, its spool (if it wrote one) goes. */
static void
release_slot(Runner *r)
{
	if (r->dropped)
		log_file_discard(&r->log, r->run_id_str);	/* its run went with the extension */
	else
		log_file_done(&r->log, r->run_id_str, r->company_id_str);
	remove_spool(r->run_id_str);
	reset_runner(r);
	slot_freed = true;
}

/*
 * A runner spawned by a claim that did not commit: closing its socket
 * before "start" makes it exit without running anything.
 */
void
abandon_runner(Runner *r)
{
	reset_runner(r);
}

/*
 * The extension was dropped (and maybe created again): the runner's run is
 * gone with it. Terminate the runner (it forwards SIGTERM to its agent, and
 * SIGKILL after the agent's grace), tell it no acknowledgement will come
 * (its stdin ends), then drain it without recording anything until it
 * exits; serve_runner frees the slot and removes the spool file then.
 */
void
drop_runner(Runner *r)
{
	if (r->dropped)
		return;
	(void) cancel_runner(r);
	r->dropped = true;
	resetStringInfo(&r->pending);
	if (r->fd >= 0)
		(void) shutdown(r->fd, SHUT_WR);
	finalize_forget(&r->fin);
}

/* Write what is pending to the runner's stdin without blocking. */
void
flush_pending(Runner *r)
{
	while (r->fd >= 0 && r->pending.len > 0)
	{
		ssize_t		n = send(r->fd, r->pending.data, r->pending.len, MSG_NOSIGNAL);

		if (n < 0)
		{
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* the runner is gone: reading its socket's EOF handles the rest */
			resetStringInfo(&r->pending);
			return;
		}
		memmove(r->pending.data, r->pending.data + n, r->pending.len - n);
		r->pending.len -= n;
		r->pending.data[r->pending.len] = '\0';
	}
}

void
send_line(Runner *r, const char *line)
{
	if (r->fd < 0)
		return;
	appendStringInfoString(&r->pending, line);
	appendStringInfoChar(&r->pending, '\n');
	flush_pending(r);
}

/* ----------------------------------------------------------------------
 * Starting runners
 * ----------------------------------------------------------------------
 */

/*
 * Start a runner whose stdin and stdout are one end of a socket pair, the
 * other end ours; its start time from /proc (it is our child: the pid is
 * ours until we reap it). On failure *error says why and nothing is left
 * open.
 */
bool
spawn_runner(Runner *r, char **error)
{
	int			sv[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t	none,
				dflt;
	char	   *argv[] = {runner_path, NULL};
	char	   *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", NULL};
	pid_t		pid;
	int			rc;

	r->fd = -1;
	r->runner.pid = 0;
	r->runner.start_ticks = 0;
	r->reaped = false;
	if (!AcquireExternalFD())
	{
		*error = psprintf("too many open files in the launcher (max_files_per_process is %d)",
						  max_files_per_process);
		return false;
	}
	ReserveExternalFD();		/* the runner's end, until it is spawned */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
	{
		*error = psprintf("could not create a socket pair: %m");
		ReleaseExternalFD();
		ReleaseExternalFD();
		return false;
	}

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		pid = 0;
	else if ((rc = posix_spawnattr_init(&attr)) != 0)
		posix_spawn_file_actions_destroy(&fa);
	else
	{
		posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
		posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
		posix_spawn_file_actions_addclosefrom_np(&fa, 3);
		sigemptyset(&none);
		sigfillset(&dflt);
		posix_spawnattr_setsigmask(&attr, &none);
		posix_spawnattr_setsigdefault(&attr, &dflt);
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
								 POSIX_SPAWN_SETSIGDEF);
		rc = posix_spawn(&pid, runner_path, &fa, &attr, argv, envp);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&attr);
	}
	/* the runner's end */
	close(sv[1]);
	ReleaseExternalFD();
	if (rc != 0)
	{
		errno = rc;
		*error = psprintf("could not start runner \"%s\": %m", runner_path);
		close(sv[0]);
		ReleaseExternalFD();
		return false;
	}

	r->runner.pid = pid;
	r->fd = sv[0];
	if (!pc_proc_start_ticks(pid, &r->runner.start_ticks))
	{
		*error = psprintf("runner %d has no /proc entry", (int) pid);
		abandon_runner(r);
		return false;
	}
	if (fcntl(r->fd, F_SETFL, O_NONBLOCK) != 0)
	{
		*error = psprintf("could not make the runner's socket non-blocking: %m");
		abandon_runner(r);
		return false;
	}
	return true;
}

/* Ask the runner to cancel (SIGTERM), once, if /proc still shows it. */
bool
cancel_runner(Runner *r)
{
	if (r->cancel_sent)
		return false;
	r->cancel_sent = true;
	if (r->reaped)
		return false;
	return signal_proven_runner(&r->runner, SIGTERM);
}

/* ----------------------------------------------------------------------
 * Reading frames
 * ----------------------------------------------------------------------
 */

static bool
has_frame(Runner *r)
{
	return r->frames.len > 0 && memchr(r->frames.data, '\n', r->frames.len) != NULL;
}

/*
 * Whether to read more of a runner now: not while READ_AHEAD bytes of
 * frames wait to be handled, but always while no whole frame is there (a
 * long one is coming).
 */
bool
wants_input(Runner *r)
{
	return r->frames.len < READ_AHEAD || !has_frame(r);
}

/*
 * Read what a runner wrote (see wants_input); true at EOF. A frame longer
 * than FRAME_MAX is dropped; what follows a result frame is of no use and
 * dropped.
 */
bool
read_runner(Runner *r)
{
	char		buf[65536];

	while (wants_input(r))
	{
		ssize_t		n = read(r->fd, buf, sizeof(buf));
		char	   *data = buf;
		char	   *last_nl;

		if (n == 0)
			return true;
		if (n < 0)
			return !(errno == EAGAIN || errno == EINTR);
		if (r->fin.mode != FIN_NONE || r->fin.done)
			continue;
		if (r->skipping)
		{
			char	   *nl = memchr(buf, '\n', n);

			if (nl == NULL)
				continue;
			r->skipping = false;
			n -= nl + 1 - buf;
			data = nl + 1;
		}
		appendBinaryStringInfo(&r->frames, data, n);
		/* the partial frame at the end: dropped once it is too long */
		last_nl = memrchr(r->frames.data, '\n', r->frames.len);
		if (r->frames.len - (last_nl ? last_nl + 1 - r->frames.data : 0) > FRAME_MAX)
		{
			r->frames.len = last_nl ? last_nl + 1 - r->frames.data : 0;
			r->frames.data[r->frames.len] = '\0';
			r->skipping = true;
			ereport(LOG,
					(errmsg("paperclip launcher: run %s: dropping a frame longer than %d bytes",
							r->run_id_str, FRAME_MAX)));
		}
	}
	return false;
}

/* The runner closed its end (it has exited): nothing more to read or write. */
void
runner_closed(Runner *r)
{
	close_fd(&r->fd);
	resetStringInfo(&r->pending);
	r->eof = true;
}

/* Drop the first n bytes of the frames read. */
static void
consume(Runner *r, int n)
{
	memmove(r->frames.data, r->frames.data + n, r->frames.len - n);
	r->frames.len -= n;
	r->frames.data[r->frames.len] = '\0';
}

/* ----------------------------------------------------------------------
 * Handling frames
 * ----------------------------------------------------------------------
 */

static char *
frame_string(Jsonb *frame, const char *key)
{
	return pc_json_string(&frame->root, key);
}

static Jsonb *
frame_object(Jsonb *frame, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(&frame->root, key, &buf);

	if (v == NULL || v->type != jbvBinary)
		return NULL;
	return JsonbValueToJsonb(v);
}

/* A non-negative integer of a frame, or -1. */
static int64
frame_integer(Jsonb *frame, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(&frame->root, key, &buf);
	double		d;

	if (v == NULL || v->type != jbvNumeric)
		return -1;
	d = pc_numeric_to_double(v->val.numeric);
	if (!(d >= 0 && d <= (double) PG_INT64_MAX) || d != floor(d))
		return -1;
	return (int64) d;
}

/* The agent started: who it is, in memory (for signals) and on the run. */
static void
record_agent(Runner *r, Jsonb *frame)
{
	int64		pid = frame_integer(frame, "pid");
	int64		ticks = frame_integer(frame, "startTicks");
	Datum		v[3];
	char		n[3] = {' ', ' ', ' '};

	if (pid <= 1 || pid > INT_MAX)
		return;
	r->agent.pid = (pid_t) pid;
	r->agent.start_ticks = ticks > 0 ? (uint64) ticks : 0;
	v[0] = uuid_datum(&r->run_id);
	v[1] = Int32GetDatum((int32) pid);
	v[2] = Int64GetDatum(ticks);
	n[2] = pc_null(ticks <= 0);
	pc_exec(&plan_record_agent, v, n, 0);
}

/*
 * A frame's "type", read from its JSON tokens (no conversion that could
 * fail: a result frame is told apart even when its values are not ones
 * jsonb takes, and its finalization decides what to make of them); and of
 * a log frame, the record it announces.
 */
typedef struct TypeScan
{
	int			depth;
	char	   *field;			/* the top level's key whose value is next */
	char	   *type;
	char	   *stream;
	int64		offset;
	int64		bytes;
} TypeScan;

static PC_SEM_RESULT
scan_nest(void *state)
{
	((TypeScan *) state)->depth++;
	return PC_SEM_OK;
}

static PC_SEM_RESULT
scan_unnest(void *state)
{
	((TypeScan *) state)->depth--;
	return PC_SEM_OK;
}

static PC_SEM_RESULT
scan_field(void *state, char *fname, bool isnull)
{
	TypeScan   *t = (TypeScan *) state;

	if (t->depth == 1)
		t->field = fname;
	return PC_SEM_OK;
}

/* A non-negative integer token, or -1. */
static int64
scan_integer(const char *token)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(token, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return -1;
	return (int64) v;
}

static PC_SEM_RESULT
scan_scalar(void *state, char *token, JsonTokenType tokentype)
{
	TypeScan   *t = (TypeScan *) state;

	if (t->depth != 1 || t->field == NULL)
		return PC_SEM_OK;
	if (tokentype == JSON_TOKEN_STRING && strcmp(t->field, "type") == 0 && t->type == NULL)
		t->type = token;
	else if (tokentype == JSON_TOKEN_STRING && strcmp(t->field, "stream") == 0)
		t->stream = token;
	else if (tokentype == JSON_TOKEN_NUMBER && strcmp(t->field, "offset") == 0)
		t->offset = scan_integer(token);
	else if (tokentype == JSON_TOKEN_NUMBER && strcmp(t->field, "bytes") == 0)
		t->bytes = scan_integer(token);
	t->field = NULL;
	return PC_SEM_OK;
}

/* The frame's type (NULL when it has none) and record; false when it is not JSON. */
static bool
frame_scan(const char *line, int len, TypeScan *scan)
{
	JsonLexContext *lex = pc_json_lex_context((char *) line, len, PG_UTF8, true);
	JsonSemAction sem;

	memset(&sem, 0, sizeof(sem));
	memset(scan, 0, sizeof(*scan));
	scan->offset = scan->bytes = -1;
	sem.semstate = scan;
	sem.object_start = scan_nest;
	sem.object_end = scan_unnest;
	sem.array_start = scan_nest;
	sem.array_end = scan_unnest;
	sem.object_field_start = scan_field;
	sem.scalar = scan_scalar;
	return pg_parse_json(lex, &sem) == JSON_SUCCESS;
}

/* A log frame: the record it announces waits for its copy (log_tail.c). */
static void
note_record(Runner *r, TypeScan *scan)
{
	if (scan->stream != NULL && scan->offset >= 0 && scan->bytes > 0)
		log_tail_note(&r->log, scan->stream, scan->offset, scan->bytes);
}

/* Handle one frame; false (and nothing done) when it is the result frame. */
static bool
handle_frame(Runner *r, const char *line, int len)
{
	Jsonb	   *frame;
	TypeScan	scan;
	char	   *type;

	if (!frame_scan(line, len, &scan))
	{
		ereport(LOG, (errmsg("paperclip launcher: run %s: unreadable frame from runner",
							 r->run_id_str)));
		return true;
	}
	type = scan.type;
	if (type == NULL)
		return true;
	if (strcmp(type, PC_FRAME_RESULT) == 0)
		return false;
	if (strcmp(type, PC_FRAME_LOG) == 0)
	{
		note_record(r, &scan);
		return true;
	}
	frame = pc_jsonb_from_cstring(line);
	if (strcmp(type, PC_FRAME_LOG_CAPPED) == 0)
		pc_append_run_event(uuid_datum(&r->run_id), "log", "system", "warn",
							"live log events capped; the run log keeps the output (up to paperclip.max_log_bytes)", NULL);
	else if (strcmp(type, PC_FRAME_SPAWNED) == 0)
		record_agent(r, frame);
	else if (strcmp(type, PC_FRAME_WARNING) == 0)
	{
		char	   *message = frame_string(frame, "message");

		if (message != NULL)
			pc_append_run_event(uuid_datum(&r->run_id), "lifecycle", "system", "warn",
								message, frame_object(frame, "payload"));
	}
	else if (strcmp(type, PC_FRAME_META) == 0)
		pc_append_run_event(uuid_datum(&r->run_id), "adapter.invoke", "system", "info",
							"adapter invocation", frame_object(frame, "meta"));
	return true;
}

typedef struct FrameUnit
{
	Runner	   *r;
	int			max;			/* frames to handle at most */
	int			count;			/* frames handled */
	int			end;			/* bytes of r->frames they take */
	int			result_len;		/* > 0: the next frame is the result, this long */
} FrameUnit;

static void
frames_unit(void *arg)
{
	FrameUnit  *u = (FrameUnit *) arg;
	Runner	   *r = u->r;

	u->count = u->end = u->result_len = 0;
	while (u->count < u->max)
	{
		char	   *start = r->frames.data + u->end;
		char	   *nl = memchr(start, '\n', r->frames.len - u->end);
		int			len;

		if (nl == NULL)
			break;
		len = nl - start;
		/* a copy: the buffer must stay as it is should the unit fail */
		if (!handle_frame(r, pnstrdup(start, len), len))
		{
			u->result_len = len;
			break;
		}
		u->count++;
		u->end += len + 1;
	}
}

/*
 * The log frames at the head of what a runner sent: noted without a
 * transaction. False when the head is another frame.
 */
static bool
take_log_frame(Runner *r)
{
	static const char head[] = "{\"type\":\"" PC_FRAME_LOG "\",";
	char	   *nl = memchr(r->frames.data, '\n', r->frames.len);
	int			len = nl - r->frames.data;
	TypeScan	scan;

	/* cheap test first: the runner writes "type" first */
	if (len < (int) sizeof(head) || strncmp(r->frames.data, head, sizeof(head) - 1) != 0)
		return false;
	if (!frame_scan(r->frames.data, len, &scan) || scan.type == NULL ||
		strcmp(scan.type, PC_FRAME_LOG) != 0)
		return false;
	note_record(r, &scan);
	consume(r, len + 1);
	return true;
}

/* Handle the frames read so far, up to the result frame. */
static void
serve_frames(Runner *r)
{
	if (r->frames_retry_at != 0 && GetCurrentTimestamp() < r->frames_retry_at)
		return;					/* a lock timeout: not yet */
	while (r->fin.mode == FIN_NONE && !r->fin.done && has_frame(r))
	{
		FrameUnit	u = {r, r->one_frame_units ? 1 : FRAMES_PER_UNIT};
		ErrorData  *edata;
		PcTrouble	trouble;

		if (take_log_frame(r))
			continue;
		if (launcher_unit(psprintf("paperclip launcher: handling frames of run %s", r->run_id_str),
						  frames_unit, &u, &edata))
		{
			consume(r, u.end);
			r->frame_failures = 0;
			r->frame_lock_waits = 0;
			r->frames_retry_at = 0;
			if (!has_frame(r))
				r->one_frame_units = false;
			if (u.result_len > 0)
			{
				finalize_begin(&r->fin, SRC_FRAME, pnstrdup(r->frames.data, u.result_len), NULL);
				consume(r, u.result_len + 1);
			}
			continue;
		}
		/*
		 * A cancel, a database that cannot be written, or a row locked by a
		 * client's open transaction (tried again later) is not the frame's
		 * fault.
		 */
		if (pc_error_is_lock_timeout(edata))
			r->frames_retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															 pc_lock_retry_ms(++r->frame_lock_waits));
		else if (edata->sqlerrcode != ERRCODE_QUERY_CANCELED &&
				 !pc_error_is_misconfiguration(edata, &trouble))
		{
			if (u.max > 1)
				r->one_frame_units = true;	/* find the frame that fails */
			else if (++r->frame_failures >= FRAME_MAX_FAILURES)
			{
				char	   *nl = memchr(r->frames.data, '\n', r->frames.len);

				ereport(WARNING,
						(errmsg("paperclip launcher: run %s: dropping a frame that failed %d times",
								r->run_id_str, r->frame_failures)));
				consume(r, nl + 1 - r->frames.data);
				r->frame_failures = 0;
			}
		}
		FreeErrorData(edata);
		break;					/* the next pass tries again */
	}
}

/*
 * Everything a runner needs now: its frames handled, its finalization
 * begun (from its result, else its spool, else as lost) and tried when
 * due, the ack once it committed, the slot freed once it is gone.
 */
void
serve_runner(Runner *r)
{
	if (r->dropped)
	{
		resetStringInfo(&r->frames);
		if (r->eof)
			release_slot(r);
		return;
	}
	serve_frames(r);
	if (r->eof && r->fin.mode == FIN_NONE && !r->fin.done && !has_frame(r))
	{
		if (spool_exists(r->run_id_str))
			finalize_begin(&r->fin, SRC_SPOOL, NULL, NULL);
		else
		{
			kill_agent_group(&r->agent, r->runner.pid, r->run_id_str);
			finalize_begin(&r->fin, SRC_LOST, NULL, "runner exited without a result");
		}
	}
	/* a run with much of its log left to copy: copied first (log_tail.c) */
	if (finalize_due(&r->fin, GetCurrentTimestamp()) && !log_tail_behind(&r->log, r->run_id_str))
	{
		finalize_step(&r->run_id, r->run_id_str, r->company_id_str, &r->log, &r->fin);
		/* committed: the runner may exit without writing its spool */
		if (r->fin.done)
			send_line(r, PC_ACK_LINE);
	}
	if (r->eof && r->fin.done)
		release_slot(r);
}
