/*-------------------------------------------------------------------------
 * agent.h
 *	  Running an agent program: the one way every adapter that runs a
 *	  program (process, claude_local, codex_local, cli) resolves and checks
 *	  its command, builds its clean environment, starts it (no shell, its
 *	  own process group), feeds its stdin, pumps its output into the run
 *	  log (and, line by line, to the adapter's parser), enforces the
 *	  timeout and cancellation (SIGTERM to the group, grace, SIGKILL) and
 *	  leaves no process behind. Whatever isolation the runner gives an
 *	  agent is given here, so it holds for every such adapter alike.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_RUNNER_AGENT_H
#define PAPERCLIP_RUNNER_AGENT_H

#include <limits.h>
#include <stdint.h>

#include "lines.h"
#include "runner.h"

/* Where a bare command name is looked up, and the agent's PATH. */
#define AGENT_CLEAN_PATH "/usr/local/bin:/usr/bin:/bin"

/*
 * The absolute path the command (absolute, or a bare name looked up in
 * AGENT_CLEAN_PATH) runs as, checked: an executable file, cwd an existing
 * directory, inside paperclip.allowed_commands when that is set. NULL, or
 * a failed result saying why (adapter_spawn_failed, command_not_allowed,
 * adapter_config_invalid).
 */
extern cJSON *agent_resolve(const RunSpec *spec, const char *command, const char *cwd,
							char resolved[PATH_MAX]);

/* A clean environment: PATH, HOME, LANG, the config's env (never a
 * PAPERCLIP_* variable of it), then the PAPERCLIP_* variables of the run. */
typedef struct AgentEnv
{
	char	  **v;				/* NULL-terminated "KEY=VALUE" strings */
	int			n;
	bool		failed;
} AgentEnv;

extern void agent_env_init(AgentEnv *env, const RunSpec *spec, const cJSON *config_env,
						   const char *cwd);
extern void agent_env_set(AgentEnv *env, const char *key, const char *value);
extern void agent_env_free(AgentEnv *env);

/* What runs. */
typedef struct AgentProgram
{
	const char *path;			/* from agent_resolve */
	char	  **argv;			/* argv[0] is path */
	char	  **envp;
	const char *cwd;			/* or NULL */
	const char *stdin_data;		/* written to stdin, which is then closed; */
	size_t		stdin_len;		/* NULL: stdin is /dev/null */
	double		timeout_sec;	/* 0: none */
	double		grace_sec;
	/* each complete stdout line, for the adapter's parser (see LineReader):
	 * JSON-looking lines whole up to max_line, others cut at plain_max
	 * (0: not handed over). NULL: nobody reads the lines. */
	LineFn		on_line;
	void	   *arg;
	size_t		max_line;
	size_t		plain_max;
} AgentProgram;

/* The run log and excerpts, shared by every program run of a run. */
typedef struct AgentOutput
{
	RunLog		log;
	StreamState out;
	StreamState err;
} AgentOutput;

/* How the program ended. */
typedef struct AgentExit
{
	int			status;			/* wait status */
	bool		timed_out;
	bool		cancelled;
	uint64_t	lines_too_long;
} AgentExit;

extern void agent_output_open(AgentOutput *o, const RunSpec *spec);
/* A line of our own in the run log (on stderr), e.g. why a CLI runs again. */
extern void agent_output_note(AgentOutput *o, const char *text);
extern void agent_output_finish(AgentOutput *o, cJSON *result);

/*
 * Run the program to its end. NULL, or a failed result when it could not be
 * started (nothing then ran). sigfd delivers cancellation (SIGTERM, SIGINT)
 * and child exits. Sends the "spawned" frame.
 */
extern cJSON *agent_run(const AgentProgram *p, AgentOutput *o, int sigfd, AgentExit *x);

/* "SIGKILL" for 9 */
extern const char *agent_signal_name(int sig);

#endif
