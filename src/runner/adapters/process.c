/*-------------------------------------------------------------------------
 * adapters/process.c
 *	  The "process" adapter: checks the config, runs the command through
 *	  agent.c (no shell, isolated as the agents' OS user in a pid namespace
 *	  of the run, clean environment, run log, timeout and cancellation,
 *	  nothing left behind), and builds the adapter result, taking usage,
 *	  cost and session from PAPERCLIP_RESULT_FILE or a
 *	  {"type":"paperclip.result",...} stdout line. The exit status from the
 *	  OS always wins over a claimed one.
 *-------------------------------------------------------------------------
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

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

/* ---------------------------------------------------------------------
 * Configuration
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

/* ---------------------------------------------------------------------
 * Meta and output
 * ---------------------------------------------------------------------
 */

static void
send_meta(const RunSpec *spec, const ProcessConfig *pc, const cJSON *stripped)
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

/* A complete stdout line: is it a result line? The last one counts. */
static void
scan_line(void *arg, const char *line, size_t len)
{
	cJSON	  **claimed = arg;
	cJSON	   *j;
	cJSON	   *type;

	(void) len;
	if (line[0] != '{' || strstr(line, "paperclip.result") == NULL)
		return;
	j = cJSON_Parse(line);
	type = cJSON_GetObjectItemCaseSensitive(j, "type");
	if (cJSON_IsObject(j) && cJSON_IsString(type) && strcmp(type->valuestring, "paperclip.result") == 0)
	{
		cJSON_Delete(*claimed);
		*claimed = j;
		return;
	}
	cJSON_Delete(j);
}

/* ---------------------------------------------------------------------
 * Result
 * ---------------------------------------------------------------------
 */

/*
 * The claimed result from the result file (agent.c read it, regular files
 * of a sane size only), else the last result line.
 */
static cJSON *
claimed_result(const AgentExit *x, cJSON *line_claim)
{
	cJSON	   *j;

	if (x->result_file == NULL)
		return line_claim;
	j = cJSON_Parse(x->result_file);
	if (cJSON_IsObject(j))
		return j;
	cJSON_Delete(j);
	return cJSON_CreateString("the result file is not a JSON object");
}

static cJSON *
build_result(const AgentExit *rs, cJSON *line_claim, const ProcessConfig *pc)
{
	cJSON	   *result = cJSON_CreateObject();
	cJSON	   *claimed = claimed_result(rs, line_claim);
	bool		signaled = WIFSIGNALED(rs->status);
	const char *bad = NULL;

	if (signaled)
	{
		cJSON_AddNullToObject(result, "exitCode");
		cJSON_AddStringToObject(result, "signal", agent_signal_name(WTERMSIG(rs->status)));
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
			snprintf(msg, sizeof(msg), "Process killed by %s", agent_signal_name(WTERMSIG(rs->status)));
		else
			snprintf(msg, sizeof(msg), "Process exited with code %d", WEXITSTATUS(rs->status));
		cJSON_AddStringToObject(result, "errorMessage", msg);
	}
	if (claimed != line_claim)
		cJSON_Delete(claimed);
	return result;
}

/* ---------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------
 */

cJSON *
process_adapter_run(const RunSpec *spec, int sigfd)
{
	ProcessConfig pc;
	AgentOutput out;
	AgentEnv	env;
	AgentProgram prog;
	AgentExit	x;
	cJSON	   *err;
	cJSON	   *result;
	cJSON	   *claimed = NULL;
	cJSON	   *e;
	char	  **argv;
	int			i = 0;

	if ((err = read_config(spec->config, &pc)) != NULL ||
		(err = agent_resolve(spec, pc.command, pc.cwd, pc.resolved)) != NULL)
		return err;

	argv = calloc((pc.args ? cJSON_GetArraySize(pc.args) : 0) + 2, sizeof(char *));
	agent_env_init(&env, spec, pc.env, pc.cwd);
	if (argv == NULL || env.failed)
	{
		free(argv);
		agent_env_free(&env);
		return make_error_result(PC_ERR_SPAWN, "out of memory");
	}
	argv[i++] = pc.resolved;
	if (pc.args)
		cJSON_ArrayForEach(e, pc.args)
			argv[i++] = e->valuestring;

	memset(&prog, 0, sizeof(prog));
	prog.path = pc.resolved;
	prog.argv = argv;
	prog.envp = env.v;
	prog.cwd = pc.cwd;
	prog.timeout_sec = pc.timeout_sec;
	prog.grace_sec = pc.grace_sec;
	prog.on_line = scan_line;
	prog.arg = &claimed;
	prog.max_line = PC_RESULT_LINE_MAX;

	agent_output_open(&out, spec);
	send_meta(spec, &pc, env.stripped);
	err = agent_run(&prog, &out, sigfd, &x);
	free(argv);
	agent_env_free(&env);
	if (err != NULL)
	{
		agent_output_finish(&out, err);
		return err;
	}
	result = build_result(&x, claimed, &pc);
	agent_output_finish(&out, result);
	cJSON_Delete(claimed);
	free(x.result_file);
	return result;
}
