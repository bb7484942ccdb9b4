/*-------------------------------------------------------------------------
 * agent.h
 *	  Running an agent program: the one way every adapter that runs a
 *	  program (process, claude_local, codex_local, cli) resolves and checks
 *	  its command, builds its clean environment, starts it (no shell, its
 *	  own process group), feeds its stdin, pumps its output into the run
 *	  log (and, line by line, to the adapter's parser), enforces the
 *	  timeout and cancellation (SIGTERM, grace, SIGKILL) and leaves no
 *	  process behind. Whatever isolation the runner gives an agent is given
 *	  here, so it holds for every such adapter alike: the program is
 *	  started through sandbox.c (as paperclip.agent_os_user in a pid
 *	  namespace of the run, unless isolation is off), its environment
 *	  follows agent_rules.h, its context reaches it in a file, its result
 *	  file is read without following links or blocking, its output is
 *	  redacted and capped (runlog.c).
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_RUNNER_AGENT_H
#define PAPERCLIP_RUNNER_AGENT_H

#include <limits.h>
#include <stdint.h>

#include "agent_rules.h"
#include "lines.h"
#include "runner.h"

/* Where a bare command name is looked up, and the agent's PATH. */
#define AGENT_CLEAN_PATH PC_AGENT_PATH

/*
 * The absolute path the command (absolute, or a bare name looked up in
 * AGENT_CLEAN_PATH) runs as, inside paperclip.allowed_commands when that is
 * set. NULL, or a failed result saying why (adapter_spawn_failed,
 * command_not_allowed, adapter_config_invalid). Whether it is an executable
 * file and cwd an existing directory is checked when it starts, as the OS
 * user that runs it (adapter_spawn_failed naming the path).
 */
extern cJSON *agent_resolve(const RunSpec *spec, const char *command, const char *cwd,
							char resolved[PATH_MAX]);

/*
 * A clean environment: PATH, HOME (the agent's home), LANG, the config's
 * env but the keys agent_rules.h refuses (stripped, and listed), then the
 * PAPERCLIP_* variables of the run: PAPERCLIP_CONTEXT_FILE always,
 * PAPERCLIP_CONTEXT while the context is at most PC_CONTEXT_ENV_MAX bytes.
 */
typedef struct AgentEnv
{
	char	  **v;				/* NULL-terminated "KEY=VALUE" strings */
	int			n;
	bool		failed;
	cJSON	   *stripped;		/* the config's env keys left out */
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
	/*
	 * Another program of this run may follow (a CLI run again without its
	 * session): keep the runner's user-switch capability (permitted only)
	 * after this one starts. By default it is dropped at once.
	 */
	bool		may_run_again;
	/* each complete stdout line, for the adapter's parser (see LineReader):
	 * JSON-looking lines whole up to max_line, others cut at plain_max
	 * (0: not handed over). NULL: nobody reads the lines. */
	LineFn		on_line;
	void	   *arg;
	size_t		max_line;
	size_t		plain_max;
	TextBuf    *stderr_copy;	/* or NULL: this run's stderr, up to its cap */
} AgentProgram;

/* The run log and excerpts, shared by every program run of a run. */
typedef struct AgentOutput
{
	const RunSpec *spec;		/* the run: where and as whom programs run */
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
	char	   *result_file;	/* PAPERCLIP_RESULT_FILE's content (malloc'd), or NULL */
	char		result_file_why[256];	/* or why it was ignored (a warning was sent) */
} AgentExit;

extern void agent_output_open(AgentOutput *o, const RunSpec *spec);
/* A line of our own in the run log (on stderr), e.g. why a CLI runs again. */
extern void agent_output_note(AgentOutput *o, const char *text);
extern void agent_output_finish(AgentOutput *o, cJSON *result);

/*
 * Run the program to its end. NULL, or a failed result when it could not be
 * started (nothing then ran: adapter_spawn_failed, or
 * agent_isolation_unavailable saying what to set up). sigfd delivers
 * cancellation (SIGTERM, SIGINT) and child exits. Sends the "spawned"
 * frame. The caller frees x->result_file.
 */
extern cJSON *agent_run(const AgentProgram *p, AgentOutput *o, int sigfd, AgentExit *x);

/* "SIGKILL" for 9 */
extern const char *agent_signal_name(int sig);

#endif
