/*-------------------------------------------------------------------------
 * adapters/process.c
 *	  The "process" adapter: checks the config, resolves the command,
 *	  starts it (no shell) through sandbox.c with a clean environment (as
 *	  the agents' OS user in the run's namespaces, or without isolation in
 *	  its own process group), pumps its stdout and stderr into the run log,
 *	  enforces timeoutSec and cancellation (SIGTERM, graceSec, SIGKILL),
 *	  leaves no process of the run behind, and builds the adapter result,
 *	  taking usage, cost and session from PAPERCLIP_RESULT_FILE or a
 *	  {"type":"paperclip.result",...} stdout line. The exit status from the
 *	  OS always wins over a claimed one. The context reaches the program in
 *	  PAPERCLIP_CONTEXT_FILE (readable by it only), and in PAPERCLIP_CONTEXT
 *	  too while it is at most PC_CONTEXT_ENV_MAX bytes.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_rules.h"
#include "runner.h"

#define DRAIN_MS 2000

typedef struct ProcessConfig
{
	const char *command;
	char		resolved[PATH_MAX];
	cJSON	   *args;
	const char *cwd;
	cJSON	   *env;
	double		timeout_sec;
	double		grace_sec;
} ProcessConfig;

/* What happened while the process ran. */
typedef struct RunState
{
	Agent		agent;
	bool		exited;
	int			status;
	bool		timed_out;
	bool		cancelled;
	long long	kill_at_ms;		/* SIGKILL deadline after SIGTERM, or 0 */
	long long	drain_until_ms; /* after exit: read what is left until then */
	StreamState out;
	StreamState err;
	char	   *line;			/* current stdout line, for result lines */
	size_t		line_len;
	bool		line_overflow;
	cJSON	   *claimed;		/* the last result line seen */
} RunState;

/* ---------------------------------------------------------------------
 * Configuration and command resolution
 * ---------------------------------------------------------------------
 */

static cJSON *
config_error(const char *key, const char *why)
{
	return make_error_result(PC_ERR_CONFIG, "adapter_config.%s %s", key, why);
}

static cJSON *
read_config(const cJSON *config, ProcessConfig *pc)
{
	cJSON	   *v;
	cJSON	   *e;

	memset(pc, 0, sizeof(*pc));
	pc->grace_sec = PC_DEFAULT_GRACE_SEC;
	if (!cJSON_IsObject(config))
		return config_error("", "must be an object");

	v = cJSON_GetObjectItemCaseSensitive(config, "command");
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
		return config_error("command", "is required and must be a non-empty string");
	pc->command = v->valuestring;

	pc->args = cJSON_GetObjectItemCaseSensitive(config, "args");
	if (pc->args && !cJSON_IsNull(pc->args))
	{
		if (!cJSON_IsArray(pc->args))
			return config_error("args", "must be an array of strings");
		cJSON_ArrayForEach(e, pc->args)
			if (!cJSON_IsString(e))
			return config_error("args", "must contain only strings");
	}
	else
		pc->args = NULL;

	v = cJSON_GetObjectItemCaseSensitive(config, "cwd");
	if (v && !cJSON_IsNull(v))
	{
		if (!cJSON_IsString(v))
			return config_error("cwd", "must be a string");
		pc->cwd = v->valuestring;
	}

	pc->env = cJSON_GetObjectItemCaseSensitive(config, "env");
	if (pc->env && !cJSON_IsNull(pc->env))
	{
		if (!cJSON_IsObject(pc->env))
			return config_error("env", "must be an object of strings");
		cJSON_ArrayForEach(e, pc->env)
			if (!cJSON_IsString(e))
			return config_error("env", "must have string values");
	}
	else
		pc->env = NULL;

	v = cJSON_GetObjectItemCaseSensitive(config, "timeoutSec");
	if (v && !cJSON_IsNull(v))
	{
		if (!cJSON_IsNumber(v) || v->valuedouble < 0)
			return config_error("timeoutSec", "must be a number >= 0");
		pc->timeout_sec = v->valuedouble;
	}
	v = cJSON_GetObjectItemCaseSensitive(config, "graceSec");
	if (v && !cJSON_IsNull(v))
	{
		if (!cJSON_IsNumber(v) || v->valuedouble < 0)
			return config_error("graceSec", "must be a number >= 0");
		pc->grace_sec = v->valuedouble;
	}
	return NULL;
}

/*
 * The absolute path of the command, or an error result. Whether it can be
 * executed (and the cwd entered) is checked as the identity that runs it,
 * by sandbox.c.
 */
static cJSON *
resolve_command(ProcessConfig *pc)
{
	if (pc_command_resolve(pc->command, pc->resolved, sizeof(pc->resolved)))
		return NULL;
	if (strchr(pc->command, '/') != NULL)
		return make_error_result(PC_ERR_CONFIG,
								 "adapter_config.command must be absolute or a bare name: %s",
								 pc->command);
	return make_error_result(PC_ERR_SPAWN, "command not found in PATH (%s): %s",
							 PC_AGENT_PATH, pc->command);
}

/*
 * allowedCommands: empty or missing allows any; else the command, with
 * symbolic links and ".." resolved, must be one of the entries (resolved
 * the same way) or lie inside one of them. The resolved path is what runs.
 */
static cJSON *
check_allowed(const RunSpec *spec, ProcessConfig *pc)
{
	cJSON	   *e;
	char		real[PATH_MAX];

	if (!cJSON_IsArray(spec->allowed_commands) || cJSON_GetArraySize(spec->allowed_commands) == 0)
		return NULL;
	if (realpath(pc->resolved, real) == NULL)
		return make_error_result(PC_ERR_NOT_ALLOWED,
								 "command is not in paperclip.allowed_commands: %s (%s)",
								 pc->resolved, strerror(errno));
	cJSON_ArrayForEach(e, spec->allowed_commands)
		if (cJSON_IsString(e) && pc_path_within(real, e->valuestring))
		{
			snprintf(pc->resolved, sizeof(pc->resolved), "%s", real);
			return NULL;
		}
	return make_error_result(PC_ERR_NOT_ALLOWED,
							 "command is not in paperclip.allowed_commands: %s", real);
}

/* ---------------------------------------------------------------------
 * Environment and spawn
 * ---------------------------------------------------------------------
 */

static void
env_add(char ***envp, int *n, const char *key, const char *value)
{
	char	   *kv = malloc(strlen(key) + strlen(value ? value : "") + 2);

	sprintf(kv, "%s=%s", key, value ? value : "");
	*envp = realloc(*envp, sizeof(char *) * (*n + 2));
	(*envp)[(*n)++] = kv;
	(*envp)[*n] = NULL;
}

static const char *
context_string(const RunSpec *spec, const char *key)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(spec->context, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * A clean environment: never the server's. Config env keys that the rules
 * of env_rules.h refuse (written before those rules, or by hand) are
 * stripped and named in stripped.
 */
static char **
build_env(const RunSpec *spec, const ProcessConfig *pc, const char *context, cJSON *stripped)
{
	char	  **envp = NULL;
	int			n = 0;
	cJSON	   *e;
	const char *task = context_string(spec, "issueId");
	char		linked[8192] = "";
	cJSON	   *ids = cJSON_GetObjectItemCaseSensitive(spec->context, "linkedIssueIds");
	const char *home = spec->isolation ? spec->home : (pc->cwd ? pc->cwd : sandbox_default_cwd(spec));

	env_add(&envp, &n, "PATH", PC_AGENT_PATH);
	env_add(&envp, &n, "HOME", home);
	env_add(&envp, &n, "LANG", "C.UTF-8");
	if (pc->env)
		cJSON_ArrayForEach(e, pc->env)
		{
			if (pc_env_key_refused(e->string) != NULL)
				cJSON_AddItemToArray(stripped, cJSON_CreateString(e->string));
			else
				env_add(&envp, &n, e->string, e->valuestring);
		}
	if (cJSON_IsArray(ids))
		cJSON_ArrayForEach(e, ids)
			if (cJSON_IsString(e) && strlen(linked) + strlen(e->valuestring) + 2 < sizeof(linked))
		{
			if (linked[0])
				strcat(linked, ",");
			strcat(linked, e->valuestring);
		}
	env_add(&envp, &n, "PAPERCLIP_RUN_ID", spec->run_id);
	env_add(&envp, &n, "PAPERCLIP_AGENT_ID", spec->agent_id);
	env_add(&envp, &n, "PAPERCLIP_COMPANY_ID", spec->company_id);
	env_add(&envp, &n, "PAPERCLIP_WAKE_REASON", spec->wake_reason);
	env_add(&envp, &n, "PAPERCLIP_TASK_ID", task ? task : context_string(spec, "taskId"));
	env_add(&envp, &n, "PAPERCLIP_WAKE_COMMENT_ID", context_string(spec, "wakeCommentId"));
	env_add(&envp, &n, "PAPERCLIP_LINKED_ISSUE_IDS", linked);
	env_add(&envp, &n, "PAPERCLIP_SESSION_ID", spec->session_id);
	/* in the environment only while small: execve refuses ~128 kB strings */
	if (strlen(context) <= PC_CONTEXT_ENV_MAX)
		env_add(&envp, &n, "PAPERCLIP_CONTEXT", context);
	env_add(&envp, &n, "PAPERCLIP_CONTEXT_FILE", sandbox_context_file(spec));
	env_add(&envp, &n, "PAPERCLIP_RESULT_FILE", sandbox_result_file(spec));
	return envp;
}

static void
free_env(char **envp)
{
	int			i;

	for (i = 0; envp && envp[i]; i++)
		free(envp[i]);
	free(envp);
}

static void
send_meta(const RunSpec *spec, const ProcessConfig *pc, cJSON *stripped)
{
	cJSON	   *f = cJSON_CreateObject();
	cJSON	   *m = cJSON_AddObjectToObject(f, "meta");
	cJSON	   *keys = cJSON_CreateArray();
	cJSON	   *e;

	cJSON_AddStringToObject(f, "type", PC_FRAME_META);
	cJSON_AddStringToObject(m, "adapterType", "process");
	cJSON_AddStringToObject(m, "command", pc->resolved);
	cJSON_AddItemToObject(m, "args", pc->args ? cJSON_Duplicate(pc->args, 1) : cJSON_CreateArray());
	if (pc->cwd)
		cJSON_AddStringToObject(m, "cwd", pc->cwd);
	else
		cJSON_AddNullToObject(m, "cwd");
	if (pc->env)
		cJSON_ArrayForEach(e, pc->env)
			cJSON_AddItemToArray(keys, cJSON_CreateString(e->string));
	cJSON_AddItemToObject(m, "envKeys", keys);	/* names only, never values */
	if (cJSON_GetArraySize(stripped) > 0)
		cJSON_AddItemToObject(m, "envKeysStripped", cJSON_Duplicate(stripped, 1));
	cJSON_AddNumberToObject(m, "timeoutSec", pc->timeout_sec);
	cJSON_AddNumberToObject(m, "graceSec", pc->grace_sec);
	cJSON_AddBoolToObject(m, "isolated", spec->isolation);
	if (spec->isolation)
		cJSON_AddStringToObject(m, "osUser", spec->os_user);
	redact_json(m);				/* a token in the arguments stays out of the event */
	frame_send(f, true);
	cJSON_Delete(f);
}

/* Start the program; NULL, or the error result of a run that never started. */
static cJSON *
start_program(const RunSpec *spec, const ProcessConfig *pc, Agent *agent)
{
	int			nargs = pc->args ? cJSON_GetArraySize(pc->args) : 0;
	char	  **argv = calloc(nargs + 2, sizeof(char *));
	cJSON	   *stripped = cJSON_CreateArray();
	char	   *context = cJSON_PrintUnformatted(spec->context ? spec->context : cJSON_CreateObject());
	AgentCommand cmd;
	cJSON	   *e;
	cJSON	   *err = NULL;
	char		msg[1024];
	int			i = 0;

	if (argv == NULL || context == NULL)
		return make_error_result(PC_ERR_SPAWN, "out of memory");
	argv[i++] = (char *) pc->resolved;
	if (pc->args)
		cJSON_ArrayForEach(e, pc->args)
			argv[i++] = e->valuestring;
	argv[i] = NULL;

	memset(&cmd, 0, sizeof(cmd));
	cmd.path = pc->resolved;
	cmd.argv = argv;
	cmd.envp = build_env(spec, pc, context, stripped);
	cmd.cwd = pc->cwd;
	cmd.context = context;
	cmd.context_len = strlen(context);
	send_meta(spec, pc, stripped);
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
	free_env(cmd.envp);
	free(argv);
	free(context);
	cJSON_Delete(stripped);
	if (agent->out_fd >= 0)
		fcntl(agent->out_fd, F_SETFL, O_NONBLOCK);
	if (agent->err_fd >= 0)
		fcntl(agent->err_fd, F_SETFL, O_NONBLOCK);
	return err;
}

/* ---------------------------------------------------------------------
 * Output
 * ---------------------------------------------------------------------
 */

/* A complete stdout line: is it a result line? */
static void
scan_line(RunState *rs)
{
	const char *p = rs->line;
	cJSON	   *j;
	cJSON	   *type;

	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (*p != '{' || strstr(p, "paperclip.result") == NULL)
		return;
	j = cJSON_Parse(p);
	type = cJSON_GetObjectItemCaseSensitive(j, "type");
	if (cJSON_IsObject(j) && cJSON_IsString(type) && strcmp(type->valuestring, "paperclip.result") == 0)
	{
		cJSON_Delete(rs->claimed);
		rs->claimed = j;
		return;
	}
	cJSON_Delete(j);
}

static void
track_lines(RunState *rs, const char *text, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (text[i] == '\n')
		{
			if (!rs->line_overflow && rs->line)
			{
				rs->line[rs->line_len] = '\0';
				scan_line(rs);
			}
			rs->line_len = 0;
			rs->line_overflow = false;
			continue;
		}
		if (rs->line_overflow)
			continue;
		if (rs->line_len >= PC_RESULT_LINE_MAX)
		{
			rs->line_overflow = true;	/* memory stays bounded */
			continue;
		}
		if (rs->line == NULL)
			rs->line = malloc(PC_RESULT_LINE_MAX + 1);
		rs->line[rs->line_len++] = text[i];
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
		if (is_stdout)
			track_lines(rs, text, len);
		free(text);
		if (n <= 0)
			return false;
	}
}

/* ---------------------------------------------------------------------
 * Signals and deadlines
 * ---------------------------------------------------------------------
 */

static void
terminate(RunState *rs, double grace_sec)
{
	agent_signal(&rs->agent, SIGTERM);
	if (rs->kill_at_ms == 0)
		rs->kill_at_ms = now_ms() + (long long) (grace_sec * 1000);
}

static void
handle_signals(RunState *rs, const ProcessConfig *pc)
{
	if (runner_poll_signals() && !rs->exited && !rs->cancelled)
	{
		rs->cancelled = true;
		terminate(rs, pc->grace_sec);
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

/* ---------------------------------------------------------------------
 * Result
 * ---------------------------------------------------------------------
 */

static const char *
signal_name(int sig)
{
	static char buf[32];
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev == NULL)
		snprintf(buf, sizeof(buf), "SIG%d", sig);
	else
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	return buf;
}

/*
 * The claimed result from the result file, else the last result line. A
 * result file that is not a regular file of a sane size is ignored, with a
 * warning.
 */
static cJSON *
claimed_result(const RunSpec *spec, RunState *rs)
{
	char		why[256];
	char	   *text = agent_result_file(&rs->agent, spec, why, sizeof(why));
	cJSON	   *j;

	if (text == NULL)
	{
		if (why[0] != '\0')
			frame_warning(why, NULL);
		return rs->claimed;
	}
	j = cJSON_Parse(text);
	free(text);
	if (cJSON_IsObject(j))
		return j;
	cJSON_Delete(j);
	return cJSON_CreateString("the result file is not a JSON object");
}

static cJSON *
build_result(const RunSpec *spec, RunState *rs, const ProcessConfig *pc)
{
	cJSON	   *result = cJSON_CreateObject();
	cJSON	   *claimed = claimed_result(spec, rs);
	bool		signaled = WIFSIGNALED(rs->status);
	const char *bad = NULL;

	if (signaled)
	{
		cJSON_AddNullToObject(result, "exitCode");
		cJSON_AddStringToObject(result, "signal", signal_name(WTERMSIG(rs->status)));
	}
	else
	{
		cJSON_AddNumberToObject(result, "exitCode", WEXITSTATUS(rs->status));
		cJSON_AddNullToObject(result, "signal");
	}
	cJSON_AddBoolToObject(result, "timedOut", rs->timed_out);

	if (cJSON_IsString(claimed))
		bad = claimed->valuestring;
	else if (claimed != NULL)
		bad = result_take_claimed(result, claimed);

	if (rs->cancelled)
	{
		cJSON_DeleteItemFromObject(result, "errorCode");
		cJSON_DeleteItemFromObject(result, "errorMessage");
		cJSON_AddStringToObject(result, "errorCode", PC_ERR_CANCELLED);
		cJSON_AddStringToObject(result, "errorMessage", "Cancelled by control plane");
	}
	else if (rs->timed_out)
	{
		char		msg[64];

		snprintf(msg, sizeof(msg), "Timed out after %g s", pc->timeout_sec);
		cJSON_DeleteItemFromObject(result, "errorMessage");
		cJSON_AddStringToObject(result, "errorMessage", msg);
	}
	else if (bad != NULL)
	{
		cJSON_DeleteItemFromObject(result, "errorCode");
		cJSON_DeleteItemFromObject(result, "errorMessage");
		cJSON_AddStringToObject(result, "errorCode", PC_ERR_BAD_RESULT);
		cJSON_AddStringToObject(result, "errorMessage", bad);
	}
	else if (!cJSON_GetObjectItemCaseSensitive(result, "errorMessage") &&
			 (signaled || WEXITSTATUS(rs->status) != 0))
	{
		char		msg[64];

		if (signaled)
			snprintf(msg, sizeof(msg), "Process killed by %s", signal_name(WTERMSIG(rs->status)));
		else
			snprintf(msg, sizeof(msg), "Process exited with code %d", WEXITSTATUS(rs->status));
		cJSON_AddStringToObject(result, "errorMessage", msg);
	}
	if (claimed != rs->claimed)
		cJSON_Delete(claimed);
	return result;
}

/* ---------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------
 */

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
process_adapter_run(const RunSpec *spec, int sigfd)
{
	ProcessConfig pc;
	RunState	rs;
	RunLog		log;
	cJSON	   *err;
	cJSON	   *result;
	long long	deadline_ms = 0;

	if ((err = read_config(spec->config, &pc)) != NULL ||
		(err = resolve_command(&pc)) != NULL ||
		(err = check_allowed(spec, &pc)) != NULL)
		return err;

	memset(&rs, 0, sizeof(rs));
	rs.out.name = "stdout";
	rs.err.name = "stderr";
	runlog_open(&log, spec->log_path, spec->max_live_log, spec->max_log_bytes);
	if ((err = start_program(spec, &pc, &rs.agent)) != NULL)
	{
		agent_release(&rs.agent);
		runlog_finish(&log, err, &rs.out, &rs.err);
		return err;
	}

	if (pc.timeout_sec > 0)
		deadline_ms = now_ms() + (long long) (pc.timeout_sec * 1000);

	while (rs.agent.out_fd >= 0 || rs.agent.err_fd >= 0 || !rs.exited)
	{
		struct pollfd p[4];
		int			np = 0;
		long long	now;

		p[np++] = (struct pollfd) {.fd = sigfd,.events = POLLIN};
		if (rs.agent.out_fd >= 0)
			p[np++] = (struct pollfd) {.fd = rs.agent.out_fd,.events = POLLIN};
		if (rs.agent.err_fd >= 0)
			p[np++] = (struct pollfd) {.fd = rs.agent.err_fd,.events = POLLIN};
		if (rs.agent.report_fd >= 0)
			p[np++] = (struct pollfd) {.fd = rs.agent.report_fd,.events = POLLIN};
		if (poll(p, np, poll_timeout(&rs, deadline_ms)) < 0 && errno != EINTR)
			break;

		agent_read_reports(&rs.agent);
		handle_signals(&rs, &pc);
		if (rs.agent.out_fd >= 0 && !pump(rs.agent.out_fd, &rs.out, &rs, &log, true))
		{
			close(rs.agent.out_fd);
			rs.agent.out_fd = -1;
		}
		if (rs.agent.err_fd >= 0 && !pump(rs.agent.err_fd, &rs.err, &rs, &log, false))
		{
			close(rs.agent.err_fd);
			rs.agent.err_fd = -1;
		}
		handle_signals(&rs, &pc);

		now = now_ms();
		if (!rs.exited && deadline_ms && !rs.timed_out && now >= deadline_ms)
		{
			rs.timed_out = true;
			terminate(&rs, pc.grace_sec);
		}
		if (!rs.exited && rs.kill_at_ms && now >= rs.kill_at_ms)
			agent_signal(&rs.agent, SIGKILL);
		if (rs.exited && rs.drain_until_ms && now >= rs.drain_until_ms)
			break;				/* something still holds the pipes: stop reading */
	}
	reap_descendants(&rs.agent);

	result = build_result(spec, &rs, &pc);
	agent_release(&rs.agent);
	runlog_finish(&log, result, &rs.out, &rs.err);
	cJSON_Delete(rs.claimed);
	free(rs.line);
	return result;
}
