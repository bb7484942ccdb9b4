/*-------------------------------------------------------------------------
 * runner_io.c
 *	  The launcher's side of its runners: slots, spawning a
 *	  paperclip_runner (posix_spawn, its stdin and stdout as non-blocking
 *	  pipes), writing to it, and turning the frames it sends into live
 *	  events, run events and the run's finalization (see protocol.h).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "compat.h"
#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "spi_util.h"
#include "bgworkers/launcher.h"

bool		slot_freed = false;	/* a runner finished: claim again */

static PcPlan plan_record_agent = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET agent_pid = $2 WHERE id = $1",
	UUIDOID, INT4OID);

/* ----------------------------------------------------------------------
 * Runner slots
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
		runners[i].in_fd = runners[i].out_fd = -1;
		initStringInfo(&runners[i].pending);
		initStringInfo(&runners[i].frames);
	}
	nrunners = n;
	MemoryContextSwitchTo(old);
}

static void
release_slot(Runner *r)
{
	int			status;

	if (r->out_fd >= 0)
		close(r->out_fd);
	if (r->in_fd >= 0)
		close(r->in_fd);
	r->out_fd = r->in_fd = -1;
	/* reap; a runner that has not exited yet is reaped by reap_children() */
	(void) waitpid(r->pid, &status, WNOHANG);
	resetStringInfo(&r->pending);
	resetStringInfo(&r->frames);
	r->in_use = false;
	r->abandoned = false;
	slot_freed = true;
}

void
reap_children(void)
{
	int			status;

	while (waitpid(-1, &status, WNOHANG) > 0)
		;
}

/* Write what is pending to the runner's stdin without blocking. */
void
flush_pending(Runner *r)
{
	while (r->in_fd >= 0 && r->pending.len > 0)
	{
		ssize_t		n = write(r->in_fd, r->pending.data, r->pending.len);

		if (n < 0)
		{
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* the runner is gone; its pipe EOF handles the rest */
			close(r->in_fd);
			r->in_fd = -1;
			resetStringInfo(&r->pending);
			return;
		}
		memmove(r->pending.data, r->pending.data + n, r->pending.len - n);
		r->pending.len -= n;
		r->pending.data[r->pending.len] = '\0';
	}
}

/* ----------------------------------------------------------------------
 * Starting runners
 * ----------------------------------------------------------------------
 */

bool
spawn_runner(Runner *r, char **error)
{
	int			in_pipe[2];
	int			out_pipe[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t	none,
				dflt;
	char	   *argv[] = {runner_path, NULL};
	char	   *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", NULL};
	pid_t		pid;
	int			rc;

	r->in_fd = r->out_fd = -1;
	r->pid = 0;
	if (pipe2(in_pipe, O_CLOEXEC) != 0)
	{
		*error = psprintf("could not create pipe: %m");
		return false;
	}
	if (pipe2(out_pipe, O_CLOEXEC) != 0)
	{
		*error = psprintf("could not create pipe: %m");
		close(in_pipe[0]);
		close(in_pipe[1]);
		return false;
	}

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&dflt);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
							 POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, runner_path, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in_pipe[0]);
	close(out_pipe[1]);
	if (rc != 0)
	{
		errno = rc;
		*error = psprintf("could not start runner \"%s\": %m", runner_path);
		close(in_pipe[1]);
		close(out_pipe[0]);
		return false;
	}

	fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
	fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
	r->pid = pid;
	r->in_fd = in_pipe[1];
	r->out_fd = out_pipe[0];
	return true;
}

/* ----------------------------------------------------------------------
 * Frames from runners
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

static void
handle_frame(Runner *r, char *line, int len)
{
	JsonLexContext *lex = pc_json_lex_context(line, len, PG_UTF8, true);
	Jsonb	   *frame;
	char	   *type;

	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
	{
		ereport(LOG, (errmsg("paperclip launcher: run %s: unreadable frame from runner",
							 r->run_id_str)));
		return;
	}
	frame = pc_jsonb_from_cstring(line);
	type = frame_string(frame, "type");
	if (type == NULL)
		return;

	if (strcmp(type, PC_FRAME_LOG) == 0)
	{
		char	   *stream = frame_string(frame, "stream");
		JsonbValue	obuf,
					bbuf;
		JsonbValue *offset = pc_json_get(&frame->root, "offset", &obuf);
		JsonbValue *bytes = pc_json_get(&frame->root, "bytes", &bbuf);

		/* where the record is in the run log: the live event says only that */
		if (stream && offset && bytes && offset->type == jbvNumeric && bytes->type == jbvNumeric)
			pc_notify_run_log(r->company_id_str, r->run_id_str, stream,
							  (int64) pc_numeric_to_double(offset->val.numeric),
							  (int64) pc_numeric_to_double(bytes->val.numeric));
	}
	else if (strcmp(type, PC_FRAME_LOG_CAPPED) == 0)
		pc_append_run_event(uuid_datum(&r->run_id), "log", "system", "warn",
							"live log capped; the run log keeps the output (up to paperclip.max_log_bytes)", NULL);
	else if (strcmp(type, PC_FRAME_SPAWNED) == 0)
	{
		JsonbValue	buf;
		JsonbValue *pid = pc_json_get(&frame->root, "pid", &buf);

		if (pid != NULL && pid->type == jbvNumeric)
		{
			Datum		v[2];

			r->agent_pid = (pid_t) pc_numeric_to_double(pid->val.numeric);
			v[0] = uuid_datum(&r->run_id);
			v[1] = Int32GetDatum(r->agent_pid);
			pc_exec(&plan_record_agent, v, NULL, 0);
		}
	}
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
	else if (strcmp(type, PC_FRAME_RESULT) == 0 && !r->finalized)
	{
		Jsonb	   *result = frame_object(frame, "result");

		finalize_safely(&r->run_id, result ? result :
						make_result(PC_ERR_BAD_RESULT, "runner sent a result that is not an object"));
		r->finalized = true;
		r->ack_pending = true;
	}
}

/* Read what a runner wrote; handle whole frames; true at EOF. */
bool
read_runner(Runner *r)
{
	char		buf[65536];

	for (;;)
	{
		ssize_t		n = read(r->out_fd, buf, sizeof(buf));
		int			start;
		int			i;

		if (n == 0)
			return true;
		if (n < 0)
			return !(errno == EAGAIN || errno == EINTR);

		start = 0;
		for (i = 0; i < n; i++)
		{
			if (buf[i] != '\n')
				continue;
			if (!r->skipping && !r->abandoned)
			{
				appendBinaryStringInfo(&r->frames, buf + start, i - start);
				handle_frame(r, r->frames.data, r->frames.len);
			}
			resetStringInfo(&r->frames);
			r->skipping = false;
			start = i + 1;
		}
		if (!r->skipping && n > start)
		{
			if (r->frames.len + (n - start) > FRAME_MAX)
			{
				resetStringInfo(&r->frames);
				r->skipping = true;
			}
			else
				appendBinaryStringInfo(&r->frames, buf + start, n - start);
		}
	}
}

/*
 * A runner closed its stdout: it has exited, with or without a result. An
 * abandoned runner's run went with its extension: nothing is recorded (no
 * transaction is open then).
 */
void
runner_gone(Runner *r)
{
	if (!r->finalized && !r->abandoned)
	{
		Jsonb	   *spooled = read_spool(r->run_id_str);

		if (spooled == NULL)
			kill_agent_group(r->agent_pid);
		finalize_safely(&r->run_id, spooled ? spooled :
						make_result("process_lost", "runner exited without a result"));
		r->finalized = true;
	}
	/* a spool written by a runner that was not acknowledged in time */
	remove_spool(r->run_id_str);
	release_slot(r);
}
