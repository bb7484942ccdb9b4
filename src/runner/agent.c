/*-------------------------------------------------------------------------
 * agent.c
 *	  Running an agent program (see agent.h): command resolution and the
 *	  allowlist, the clean environment, the start through sandbox.c (no
 *	  shell, every other descriptor closed; isolated as the agents' OS user
 *	  in a pid namespace of the run, or in its own process group), stdin
 *	  fed from memory, stdout and stderr pumped into the run log and stdout
 *	  cut into lines for the adapter, timeout and cancellation (SIGTERM,
 *	  grace, SIGKILL), and every descendant killed and reaped at the end.
 *	  (Factored out of the process adapter, which uses it as the CLI
 *	  adapters do.)
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

#define DRAIN_MS 2000

/* ---------------------------------------------------------------------
 * Command resolution
 * ---------------------------------------------------------------------
 */

/*
 * allowedCommands: empty or missing allows any; else the command, with
 * symbolic links and ".." resolved, must be one of the entries (resolved
 * the same way) or lie inside one of them (agent_rules.h). The resolved path
 * is what runs.
 */
static cJSON *
check_allowed(const RunSpec *spec, char resolved[PATH_MAX])
{
	cJSON	   *e;
	char		real[PATH_MAX];

	if (!cJSON_IsArray(spec->allowed_commands) || cJSON_GetArraySize(spec->allowed_commands) == 0)
		return NULL;
	if (realpath(resolved, real) == NULL)
		return make_error_result(PC_ERR_NOT_ALLOWED,
								 "command is not in paperclip.allowed_commands: %s (%s)",
								 resolved, strerror(errno));
	cJSON_ArrayForEach(e, spec->allowed_commands)
		if (cJSON_IsString(e) && pc_path_within(real, e->valuestring))
		{
			snprintf(resolved, PATH_MAX, "%s", real);
			return NULL;
		}
	return make_error_result(PC_ERR_NOT_ALLOWED,
							 "command is not in paperclip.allowed_commands: %s", real);
}

cJSON *
agent_resolve(const RunSpec *spec, const char *command, const char *cwd, char resolved[PATH_MAX])
{
	(void) cwd;					/* checked when the program starts, as its OS user */
	if (!pc_command_resolve(command, resolved, PATH_MAX))
	{
		if (strchr(command, '/') != NULL)
			return make_error_result(PC_ERR_CONFIG,
									 "adapter_config.command must be absolute or a bare name: %s",
									 command);
		return make_error_result(PC_ERR_SPAWN, "command not found in PATH (%s): %s",
								 AGENT_CLEAN_PATH, command);
	}
	return check_allowed(spec, resolved);
}

/* ---------------------------------------------------------------------
 * Environment
 * ---------------------------------------------------------------------
 */

/* Set key (replacing an earlier value: the first of duplicates is what getenv sees). */
void
agent_env_set(AgentEnv *env, const char *key, const char *value)
{
	size_t		klen = strlen(key);
	char	   *kv = malloc(klen + strlen(value ? value : "") + 2);
	char	  **v;
	int			i;

	if (kv == NULL)
	{
		env->failed = true;
		return;
	}
	sprintf(kv, "%s=%s", key, value ? value : "");
	for (i = 0; i < env->n; i++)
		if (strncmp(env->v[i], key, klen) == 0 && env->v[i][klen] == '=')
		{
			free(env->v[i]);
			env->v[i] = kv;
			return;
		}
	v = realloc(env->v, sizeof(char *) * (env->n + 2));
	if (v == NULL)
	{
		free(kv);
		env->failed = true;
		return;
	}
	env->v = v;
	env->v[env->n++] = kv;
	env->v[env->n] = NULL;
}

static const char *
context_string(const RunSpec *spec, const char *key)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(spec->context, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void
agent_env_init(AgentEnv *env, const RunSpec *spec, const cJSON *config_env, const char *cwd)
{
	cJSON	   *e;
	cJSON	   *empty = cJSON_CreateObject();
	char	   *context = cJSON_PrintUnformatted(spec->context ? spec->context : empty);
	const char *task = context_string(spec, "issueId");
	char		linked[8192] = "";
	cJSON	   *ids = cJSON_GetObjectItemCaseSensitive(spec->context, "linkedIssueIds");

	memset(env, 0, sizeof(*env));
	env->stripped = cJSON_CreateArray();
	agent_env_set(env, "PATH", AGENT_CLEAN_PATH);
	/* isolated: the agent's home; without isolation as before, its cwd */
	agent_env_set(env, "HOME", spec->isolation ? spec->home : (cwd ? cwd : sandbox_default_cwd(spec)));
	agent_env_set(env, "LANG", "C.UTF-8");
	/* isolated: temporary files in the run's private /var/tmp, not the shared /tmp */
	if (spec->isolation)
		agent_env_set(env, "TMPDIR", SANDBOX_TMP);
	if (cJSON_IsObject(config_env))
		cJSON_ArrayForEach(e, config_env)
		{
			if (!cJSON_IsString(e))
				continue;
			if (pc_env_key_refused(e->string) != NULL)
				cJSON_AddItemToArray(env->stripped, cJSON_CreateString(e->string));
			else
				agent_env_set(env, e->string, e->valuestring);
		}
	if (cJSON_IsArray(ids))
		cJSON_ArrayForEach(e, ids)
			if (cJSON_IsString(e) && strlen(linked) + strlen(e->valuestring) + 2 < sizeof(linked))
		{
			if (linked[0])
				strcat(linked, ",");
			strcat(linked, e->valuestring);
		}
	agent_env_set(env, "PAPERCLIP_RUN_ID", spec->run_id);
	agent_env_set(env, "PAPERCLIP_AGENT_ID", spec->agent_id);
	agent_env_set(env, "PAPERCLIP_COMPANY_ID", spec->company_id);
	agent_env_set(env, "PAPERCLIP_WAKE_REASON", spec->wake_reason);
	agent_env_set(env, "PAPERCLIP_TASK_ID", task ? task : context_string(spec, "taskId"));
	agent_env_set(env, "PAPERCLIP_WAKE_COMMENT_ID", context_string(spec, "wakeCommentId"));
	agent_env_set(env, "PAPERCLIP_LINKED_ISSUE_IDS", linked);
	agent_env_set(env, "PAPERCLIP_SESSION_ID", spec->session_id);
	/* in the environment only while small: execve refuses ~128 kB strings */
	if (context != NULL && strlen(context) <= PC_CONTEXT_ENV_MAX)
		agent_env_set(env, "PAPERCLIP_CONTEXT", context);
	agent_env_set(env, "PAPERCLIP_CONTEXT_FILE", sandbox_context_file(spec));
	agent_env_set(env, "PAPERCLIP_RESULT_FILE", sandbox_result_file(spec));
	if (context == NULL || env->stripped == NULL)
		env->failed = true;
	free(context);
	cJSON_Delete(empty);
}

void
agent_env_free(AgentEnv *env)
{
	int			i;

	for (i = 0; i < env->n; i++)
		free(env->v[i]);
	free(env->v);
	cJSON_Delete(env->stripped);
	memset(env, 0, sizeof(*env));
}

/* ---------------------------------------------------------------------
 * Output
 * ---------------------------------------------------------------------
 */

void
agent_output_open(AgentOutput *o, const RunSpec *spec)
{
	memset(o, 0, sizeof(*o));
	o->spec = spec;
	o->out.name = "stdout";
	o->err.name = "stderr";
	runlog_open(&o->log, spec->log_path, spec->max_live_log, spec->max_log_bytes);
}

void
agent_output_note(AgentOutput *o, const char *text)
{
	size_t		len = strlen(text);
	char	   *line = malloc(len + 2);

	if (line == NULL)
		return;
	memcpy(line, text, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	runlog_chunk(&o->log, &o->err, line, len + 1);
	free(line);
}

void
agent_output_finish(AgentOutput *o, cJSON *result)
{
	runlog_finish(&o->log, result, &o->out, &o->err);
	free(o->out.excerpt);
	free(o->err.excerpt);
	o->out.excerpt = o->err.excerpt = NULL;
}

/* ---------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------
 */

/* What happens while the program runs. */
typedef struct RunState
{
	const AgentProgram *p;
	Agent		agent;			/* the started program (sandbox.c) */
	bool		exited;
	int			status;
	bool		timed_out;
	bool		cancelled;
	long long	kill_at_ms;		/* SIGKILL deadline after SIGTERM, or 0 */
	long long	drain_until_ms; /* after exit: read what is left until then */
	LineReader	lines;
	int			in_fd;			/* stdin still being written, or -1 */
	size_t		in_done;
} RunState;

const char *
agent_signal_name(int sig)
{
	static char buf[32];
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev == NULL)
		snprintf(buf, sizeof(buf), "SIG%d", sig);
	else
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	return buf;
}

/* Start the program through the sandbox; NULL, or why it did not start. */
static cJSON *
spawn_program(const RunSpec *spec, const AgentProgram *p, Agent *agent)
{
	cJSON	   *empty = cJSON_CreateObject();
	char	   *context = cJSON_PrintUnformatted(spec->context ? spec->context : empty);
	AgentCommand cmd;
	cJSON	   *err = NULL;
	char		msg[1024];

	cJSON_Delete(empty);
	if (context == NULL)
		return make_error_result(PC_ERR_SPAWN, "out of memory");
	memset(&cmd, 0, sizeof(cmd));
	cmd.path = p->path;
	cmd.argv = p->argv;
	cmd.envp = p->envp;
	cmd.cwd = p->cwd;
	cmd.stdin_pipe = p->stdin_data != NULL;
	cmd.context = context;
	cmd.context_len = strlen(context);
	switch (agent_start(spec, &cmd, agent, msg, sizeof(msg)))
	{
		case SANDBOX_OK:
			break;
		case SANDBOX_SPAWN_FAILED:
			err = make_error_result(PC_ERR_SPAWN, "%s", msg);
			break;
		case SANDBOX_UNAVAILABLE:
			err = make_error_result(PC_ERR_ISOLATION, "agent isolation is unavailable: %s", msg);
			break;
	}
	free(context);
	if (!p->may_run_again)
		sandbox_drop_privileges();
	if (err != NULL)
	{
		agent_release(agent);
		return err;
	}
	fcntl(agent->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(agent->err_fd, F_SETFL, O_NONBLOCK);
	if (agent->in_fd >= 0)
		fcntl(agent->in_fd, F_SETFL, O_NONBLOCK);
	return NULL;
}

/* Write what stdin still takes; close it when all is written or the agent closed it. */
static void
feed_stdin(RunState *rs)
{
	const AgentProgram *p = rs->p;

	while (rs->in_fd >= 0 && rs->in_done < p->stdin_len)
	{
		ssize_t		n = write(rs->in_fd, p->stdin_data + rs->in_done, p->stdin_len - rs->in_done);

		if (n > 0)
			rs->in_done += n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN)
			return;
		else
			break;				/* EPIPE: the agent does not read its stdin */
	}
	if (rs->in_fd >= 0)
	{
		close(rs->in_fd);
		rs->in_fd = -1;
	}
}

/* Read what a pipe has; false at EOF. */
static bool
pump(int fd, StreamState *st, RunState *rs, RunLog *log, bool is_stdout)
{
	unsigned char buf[65536];

	for (;;)
	{
		ssize_t		n = read(fd, buf, sizeof(buf));
		size_t		len;
		char	   *text;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		text = utf8_sanitize(&st->carry, buf, n > 0 ? (size_t) n : 0, n <= 0, &len);
		runlog_chunk(log, st, text, len);
		if (is_stdout && rs->p->on_line)
			lines_feed(&rs->lines, text, len);
		if (!is_stdout && rs->p->stderr_copy)
			textbuf_append(rs->p->stderr_copy, text, len);
		free(text);
		if (n <= 0)
			return false;
	}
}

static void
terminate(RunState *rs)
{
	agent_signal(&rs->agent, SIGTERM);
	if (rs->kill_at_ms == 0)
		rs->kill_at_ms = now_ms() + (long long) (rs->p->grace_sec * 1000);
}

static void
handle_signals(RunState *rs)
{
	/* a cancel, now or taken earlier (while a frame waited, say) */
	if (runner_poll_signals() && !rs->exited && !rs->cancelled)
	{
		rs->cancelled = true;
		terminate(rs);
	}
	/* the run's top process, or a descendant orphaned to us (we are a subreaper) */
	for (;;)
	{
		int			status;
		pid_t		pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			break;
		if (pid == rs->agent.pid && !rs->exited)
		{
			rs->exited = true;
			rs->status = agent_exit_status(&rs->agent, status);
			/* leave nothing of the run behind; that also closes their pipes */
			agent_signal(&rs->agent, SIGKILL);
			rs->drain_until_ms = now_ms() + DRAIN_MS;
		}
	}
}

/*
 * Kill every process that is still our child: as a subreaper we adopt the
 * agent's orphaned descendants, even those that left its process group
 * (setsid). Returns how many were signalled.
 */
static int
kill_children(void)
{
	char		path[64];
	FILE	   *f;
	int			pid;
	int			n = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fscanf(f, "%d", &pid) == 1)
	{
		kill(-pid, SIGKILL);	/* its group, when it leads one */
		kill(pid, SIGKILL);
		n++;
	}
	fclose(f);
	return n;
}

/*
 * After the run: kill what is left of the agent's group (without isolation;
 * with it the run's namespace ended with its init) and every descendant
 * orphaned to us, and reap them all, so none outlives the runner.
 */
static void
reap_descendants(Agent *agent)
{
	long long	deadline = now_ms() + DRAIN_MS;

	agent_signal(agent, SIGKILL);
	while (now_ms() < deadline)
	{
		pid_t		pid = waitpid(-1, NULL, WNOHANG);

		if (pid < 0 && errno == ECHILD)
			return;
		if (pid == agent->pid)
			agent->reaped = true;
		if (pid <= 0)
		{
			agent_signal(agent, SIGKILL);
			kill_children();
			usleep(5000);
		}
	}
}

static int
poll_timeout(const RunState *rs, long long deadline_ms)
{
	long long	now = now_ms();
	long long	next = now + 1000;

	if (deadline_ms && !rs->timed_out && !rs->exited && deadline_ms < next)
		next = deadline_ms;
	if (rs->kill_at_ms && !rs->exited && rs->kill_at_ms < next)
		next = rs->kill_at_ms;
	if (rs->drain_until_ms && rs->drain_until_ms < next)
		next = rs->drain_until_ms;
	return next > now ? (int) (next - now) : 0;
}

cJSON *
agent_run(const AgentProgram *p, AgentOutput *o, int sigfd, AgentExit *x)
{
	RunState	rs;
	cJSON	   *err;
	long long	deadline_ms = 0;

	memset(x, 0, sizeof(*x));
	memset(&rs, 0, sizeof(rs));
	rs.p = p;
	rs.in_fd = -1;
	if ((err = spawn_program(o->spec, p, &rs.agent)) != NULL)
		return err;
	rs.in_fd = rs.agent.in_fd;
	rs.agent.in_fd = -1;		/* ours to write and close */
	if (p->on_line)
		lines_init(&rs.lines, p->on_line, p->arg, p->max_line, p->plain_max);
	if (p->timeout_sec > 0)
		deadline_ms = now_ms() + (long long) (p->timeout_sec * 1000);
	feed_stdin(&rs);

	while (rs.agent.out_fd >= 0 || rs.agent.err_fd >= 0 || !rs.exited)
	{
		struct pollfd pfd[5];
		int			np = 0;
		long long	now;

		pfd[np++] = (struct pollfd) {.fd = sigfd,.events = POLLIN};
		if (rs.agent.out_fd >= 0)
			pfd[np++] = (struct pollfd) {.fd = rs.agent.out_fd,.events = POLLIN};
		if (rs.agent.err_fd >= 0)
			pfd[np++] = (struct pollfd) {.fd = rs.agent.err_fd,.events = POLLIN};
		if (rs.agent.report_fd >= 0)
			pfd[np++] = (struct pollfd) {.fd = rs.agent.report_fd,.events = POLLIN};
		if (rs.in_fd >= 0)
			pfd[np++] = (struct pollfd) {.fd = rs.in_fd,.events = POLLOUT};
		if (poll(pfd, np, poll_timeout(&rs, deadline_ms)) < 0 && errno != EINTR)
			break;

		agent_read_reports(&rs.agent);
		handle_signals(&rs);
		feed_stdin(&rs);
		if (rs.agent.out_fd >= 0 && !pump(rs.agent.out_fd, &o->out, &rs, &o->log, true))
		{
			close(rs.agent.out_fd);
			rs.agent.out_fd = -1;
		}
		if (rs.agent.err_fd >= 0 && !pump(rs.agent.err_fd, &o->err, &rs, &o->log, false))
		{
			close(rs.agent.err_fd);
			rs.agent.err_fd = -1;
		}
		handle_signals(&rs);

		now = now_ms();
		if (!rs.exited && deadline_ms && !rs.timed_out && now >= deadline_ms)
		{
			rs.timed_out = true;
			terminate(&rs);
		}
		if (!rs.exited && rs.kill_at_ms && now >= rs.kill_at_ms)
			agent_signal(&rs.agent, SIGKILL);
		if (rs.exited && rs.drain_until_ms && now >= rs.drain_until_ms)
			break;				/* something still holds the pipes: stop reading */
	}
	if (rs.in_fd >= 0)
		close(rs.in_fd);
	reap_descendants(&rs.agent);
	if (p->on_line)
	{
		lines_finish(&rs.lines);	/* a line cut by the end of the output */
		x->lines_too_long = rs.lines.lines_too_long;
		lines_free(&rs.lines);
	}
	x->status = rs.status;
	x->timed_out = rs.timed_out;
	x->cancelled = rs.cancelled;
	x->result_file = agent_result_file(&rs.agent, o->spec, x->result_file_why,
									   sizeof(x->result_file_why));
	if (x->result_file_why[0] != '\0')
		frame_warning(x->result_file_why, NULL);
	agent_release(&rs.agent);
	return NULL;
}
